/**
 * What profiling needs from this machine, checked piece by piece with the fix for each missing one:
 * `ggml-lens check` and "GGML Lens: Check system" print the same report. The checks read the system
 * through a SystemView, so that tests can hand them any machine.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { gunzipSync } from "node:zlib";
import { isExecutable } from "./executable";

/** ok: present. missing: profiling cannot work without it. limited: profiling works, with less. */
export type CheckStatus = "ok" | "missing" | "limited";

export interface SystemCheck {
  /** What was checked: "kernel", "BTF", "uprobes", ... */
  name: string;
  status: CheckStatus;
  /** What was found, in a few words. */
  found: string;
  /** How to get the missing piece (absent when ok). */
  fix?: string;
}

/** The parts of the system the checks read. */
export interface SystemView {
  platform: string;
  /** `uname -r` */
  kernelRelease: string;
  uid: number;
  env: Record<string, string | undefined>;
  exists(file: string): boolean;
  isExecutable(file: string): boolean;
  /** A file's text, undefined when it cannot be read. */
  readText(file: string): string | undefined;
  /** A directory's entries, empty when it cannot be read. */
  list(dir: string): string[];
  /** Whether `sudo -n true` succeeds: sudo without a password prompt. */
  sudoWithoutPassword(): boolean;
}

/** The first kernel with uprobe_multi links, which the op probes use. */
const UPROBE_MULTI_KERNEL: [number, number] = [6, 6];
const BTF = "/sys/kernel/btf/vmlinux";
/** The perf PMU that libbpf creates uprobes through (CONFIG_UPROBE_EVENTS). */
const UPROBE_PMU = "/sys/bus/event_source/devices/uprobe/type";
const EVENT_SOURCES = "/sys/bus/event_source/devices";
const BPFFS = "/sys/fs/bpf";
/** Names of hardware PMUs under /sys/bus/event_source/devices: x86 (hybrid too) and Arm. */
const HARDWARE_PMU = /^(cpu|cpu_core|cpu_atom)$|^armv\d|pmuv3/;
export const PROBE_BINARY = "ggml-lens-probe";

/**
 * The probe helper as record finds it: GGML_LENS_PROBE, next to the script in `scriptDir` (the
 * installed extension's or npm package's dist/), else bpf/build/ of the source tree above it.
 */
export function locateProbe(view: SystemView, scriptDir: string): { path?: string; looked: string[] } {
  const override = view.env.GGML_LENS_PROBE;
  const looked = override ? [override] : [path.join(scriptDir, PROBE_BINARY), path.join(scriptDir, "..", "bpf", "build", PROBE_BINARY)];
  return { path: looked.find((file) => view.isExecutable(file)), looked };
}

/** Every check, in the order of the report. `scriptDir` is where the probe helper is looked for. */
export function checkSystem(view: SystemView, scriptDir: string): SystemCheck[] {
  if (view.platform !== "linux") {
    return [{ name: "platform", status: "missing", found: view.platform, fix: "profiling needs Linux (eBPF uprobes); saved profiles still open here" }];
  }
  return [
    checkKernel(view),
    checkBtf(view),
    checkUprobes(view),
    checkUprobeMulti(view),
    checkBpffs(view),
    checkPrivilege(view),
    checkProbe(view, scriptDir),
    checkPmu(view),
  ];
}

/** Whether every piece profiling cannot do without is there. */
export function systemReady(checks: SystemCheck[]): boolean {
  return checks.every((check) => check.status !== "missing");
}

/** The report as text lines: one per check, its fix indented below. */
export function systemReport(checks: SystemCheck[]): string[] {
  const width = Math.max(...checks.map((check) => check.name.length));
  const lines = checks.flatMap((check) => {
    const line = `${check.status.padEnd(7)} ${check.name.padEnd(width)}  ${check.found}`;
    return check.fix ? [line, `${" ".repeat(width + 10)}fix: ${check.fix}`] : [line];
  });
  const missing = checks.filter((check) => check.status === "missing").map((check) => check.name);
  lines.push("", missing.length === 0 ? "ready to profile" : `cannot profile yet: missing ${missing.join(", ")}`);
  return lines;
}

/** [major, minor] of a kernel release such as "6.18.44-fc-v782"; undefined when it has none. */
export function kernelVersion(release: string): [number, number] | undefined {
  const match = /^(\d+)\.(\d+)/.exec(release);
  return match ? [Number(match[1]), Number(match[2])] : undefined;
}

function atLeast(version: [number, number], wanted: [number, number]): boolean {
  return version[0] > wanted[0] || (version[0] === wanted[0] && version[1] >= wanted[1]);
}

function checkKernel(view: SystemView): SystemCheck {
  const version = kernelVersion(view.kernelRelease);
  if (version) return { name: "kernel", status: "ok", found: `Linux ${view.kernelRelease}` };
  return { name: "kernel", status: "limited", found: `Linux ${view.kernelRelease} (no version number in it)`, fix: "the checks below tell what this kernel has" };
}

function checkBtf(view: SystemView): SystemCheck {
  if (view.exists(BTF)) return { name: "BTF", status: "ok", found: BTF };
  return {
    name: "BTF",
    status: "missing",
    found: `no ${BTF}`,
    fix: "boot a kernel built with CONFIG_DEBUG_INFO_BTF=y (the stock kernels of Debian 11+, Ubuntu 20.10+ and Fedora are)",
  };
}

function checkUprobes(view: SystemView): SystemCheck {
  if (view.exists(UPROBE_PMU)) return { name: "uprobes", status: "ok", found: "uprobe perf PMU (/sys/bus/event_source/devices/uprobe)" };
  const config = kernelConfig(view);
  const said = config ? ` (${config.file}: ${configValue(config.text, "CONFIG_UPROBE_EVENTS") ?? "no CONFIG_UPROBE_EVENTS"})` : "";
  return {
    name: "uprobes",
    status: "missing",
    found: `no uprobe PMU in /sys/bus/event_source/devices${said}`,
    fix: "boot a kernel built with CONFIG_UPROBES=y and CONFIG_UPROBE_EVENTS=y (the stock Debian, Ubuntu and Fedora kernels are)",
  };
}

function checkUprobeMulti(view: SystemView): SystemCheck {
  const version = kernelVersion(view.kernelRelease);
  const wanted = UPROBE_MULTI_KERNEL.join(".");
  if (version && atLeast(version, UPROBE_MULTI_KERNEL)) return { name: "uprobe_multi", status: "ok", found: `kernel ${version.join(".")} >= ${wanted}` };
  // Distribution kernels older than 6.6 may carry it backported: the kernel's symbols say.
  if (view.readText("/proc/kallsyms")?.includes(" bpf_uprobe_multi_link_attach")) {
    return { name: "uprobe_multi", status: "ok", found: "bpf_uprobe_multi_link_attach in /proc/kallsyms (backported)" };
  }
  return {
    name: "uprobe_multi",
    status: "missing",
    found: `kernel ${view.kernelRelease} < ${wanted}, without uprobe_multi links`,
    fix: `boot a kernel ${wanted} or newer (Debian 12: linux-image-amd64 from bookworm-backports; Ubuntu 24.04 HWE; Fedora 39+)`,
  };
}

function checkBpffs(view: SystemView): SystemCheck {
  const mounted = (view.readText("/proc/mounts") ?? "").split("\n").some((line) => line.split(" ")[1] === BPFFS && line.split(" ")[2] === "bpf");
  if (mounted) return { name: "bpffs", status: "ok", found: `mounted on ${BPFFS}` };
  return {
    name: "bpffs",
    status: "limited",
    found: `not mounted on ${BPFFS}: the helper mounts it when it starts; without it the run's maps are not pinned`,
    fix: `sudo mount -t bpf bpf ${BPFFS} (or add it to /etc/fstab)`,
  };
}

function checkPrivilege(view: SystemView): SystemCheck {
  if (view.uid === 0) return { name: "privilege", status: "ok", found: "root" };
  const sudo = onPath(view, "sudo");
  if (sudo && view.sudoWithoutPassword()) return { name: "privilege", status: "ok", found: `${sudo} without a password` };
  if (sudo) return { name: "privilege", status: "ok", found: `${sudo} (asks for your password when a run starts)` };
  const pkexec = onPath(view, "pkexec");
  if (pkexec) {
    return {
      name: "privilege",
      status: "ok",
      found: `${pkexec}, no sudo`,
      fix: "set ggmlLens.elevation to pkexec (ggml-lens record --elevation pkexec)",
    };
  }
  return {
    name: "privilege",
    status: "missing",
    found: "not root, and neither sudo nor pkexec is installed: the helper needs CAP_SYS_ADMIN for eBPF and uprobes",
    fix: "install sudo and add yourself to the sudo (Debian, Ubuntu) or wheel (Fedora) group, or profile as root",
  };
}

function checkProbe(view: SystemView, scriptDir: string): SystemCheck {
  const probe = locateProbe(view, scriptDir);
  if (probe.path) return { name: "probe helper", status: "ok", found: probe.path };
  return {
    name: "probe helper",
    status: "missing",
    found: `no executable ${PROBE_BINARY} (looked for ${probe.looked.join(" and ")})`,
    fix: "reinstall the GGML Lens extension or npm package; from a source tree: make -C bpf; or set GGML_LENS_PROBE",
  };
}

function checkPmu(view: SystemView): SystemCheck {
  const pmus = view.list(EVENT_SOURCES).filter((name) => HARDWARE_PMU.test(name));
  if (pmus.length > 0) return { name: "PMU counters", status: "ok", found: `hardware PMU ${pmus.join(", ")} (profiles note it; hardware counters are not read yet)` };
  return {
    name: "PMU counters",
    status: "limited",
    found: "no hardware PMU (usual in virtual machines): profiles carry software counters only",
    fix: "nothing needed to profile; in a VM, expose the virtual PMU (KVM: -cpu host; VMware: virtualize CPU performance counters)",
  };
}

function onPath(view: SystemView, name: string): string | undefined {
  const dirs = (view.env.PATH ?? "").split(path.delimiter).filter(Boolean);
  return dirs.map((dir) => path.join(dir, name)).find((file) => view.isExecutable(file));
}

/** The kernel's build configuration: /boot/config-RELEASE (Debian, Ubuntu, Fedora) or /proc/config.gz. */
function kernelConfig(view: SystemView): { file: string; text: string } | undefined {
  for (const file of [`/boot/config-${view.kernelRelease}`, "/proc/config.gz"]) {
    const text = view.readText(file);
    if (text !== undefined) return { file, text };
  }
  return undefined;
}

function configValue(config: string, name: string): string | undefined {
  return config.split("\n").find((line) => line.startsWith(`${name}=`) || line === `# ${name} is not set`);
}

/** This machine. */
export function liveSystemView(): SystemView {
  return {
    platform: process.platform,
    kernelRelease: os.release(),
    uid: process.getuid?.() ?? -1,
    env: process.env,
    exists: (file) => existsSync(file),
    isExecutable,
    readText,
    list: (dir) => {
      try {
        return readdirSync(dir);
      } catch {
        return [];
      }
    },
    sudoWithoutPassword: () => spawnSync("sudo", ["-n", "true"], { stdio: "ignore", timeout: 5_000 }).status === 0,
  };
}

function readText(file: string): string | undefined {
  try {
    const bytes = readFileSync(file);
    return (file.endsWith(".gz") ? gunzipSync(bytes) : bytes).toString("utf8");
  } catch {
    return undefined;
  }
}
