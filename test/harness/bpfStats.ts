import fs from "node:fs";

const BPF_STATS = "/proc/sys/kernel/bpf_stats_enabled";

/**
 * Runs f with kernel.bpf_stats_enabled on (or off), then puts the setting back, also when f's
 * promise settles: with it on the kernel keeps each BPF program's run count and time.
 */
export function withBpfStats<T>(on: boolean, f: () => T): T {
  const before = fs.readFileSync(BPF_STATS, "utf8").trim();
  const restore = (): void => fs.writeFileSync(BPF_STATS, before);
  fs.writeFileSync(BPF_STATS, on ? "1" : "0");
  let result: T;
  try {
    result = f();
  } catch (e) {
    restore();
    throw e;
  }
  if (result instanceof Promise) return result.finally(restore) as T;
  restore();
  return result;
}
