/** Where profiling can happen. Pure: the platform is a parameter, so tests can pretend to be elsewhere. */

/**
 * Why this host cannot record a profile, or undefined when it can. Recording needs Linux (eBPF
 * uprobes); opening saved profiles works everywhere.
 */
export function cannotProfileReason(platform: NodeJS.Platform = process.platform): string | undefined {
  if (platform === "linux") return undefined;
  return (
    `profiling needs Linux (eBPF uprobes), and this is ${platform}: open the llama.cpp workspace on a Linux host ` +
    "(e.g. with Remote-SSH, where GGML Lens runs next to the workspace) to profile; saved .ggmlprof profiles still open here"
  );
}
