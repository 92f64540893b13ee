/**
 * Running processes that have a ggml library mapped (libggml*.so, libllama*.so): what "Attach to
 * process" offers. Read from /proc; no `vscode` import. The /proc and passwd paths are parameters so
 * that tests can also read a made-up tree.
 */
import { readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";

export interface GgmlProcess {
  pid: number;
  /** The command line, words joined by spaces (the executable's path when it has none). */
  command: string;
  /** Owner (real uid) by name, else the uid as a number. */
  user: string;
  uid: number;
  /** File names of the ggml libraries mapped, sorted. */
  libraries: string[];
}

export interface ProcessScan {
  processes: GgmlProcess[];
  /** Processes whose memory map this user may not read (other users' processes when not root). */
  unreadable: number;
}

export interface ScanOptions {
  procRoot?: string;
  passwd?: string;
}

const GGML_LIBRARY = /^lib(ggml|llama)[^/]*\.so(\.[0-9.]+)?$/;

/** The ggml libraries among the mapped files of a /proc/PID/maps text. */
export function ggmlLibraries(maps: string): string[] {
  const names = new Set<string>();
  for (const line of maps.split("\n")) {
    const file = line.split(/\s+/).slice(5).join(" ");
    if (!file.startsWith("/")) continue;
    const name = path.basename(file.replace(/ \(deleted\)$/, ""));
    if (GGML_LIBRARY.test(name)) names.add(name);
  }
  return [...names].sort();
}

/** user names by uid from a passwd file; empty when it cannot be read. */
function userNames(passwd: string): Map<number, string> {
  const names = new Map<number, string>();
  try {
    for (const line of readFileSync(passwd, "utf8").split("\n")) {
      const [name, , uid] = line.split(":");
      if (name && uid !== undefined && /^\d+$/.test(uid)) names.set(Number(uid), name);
    }
  } catch {
    // no passwd: users are shown by uid
  }
  return names;
}

function isPermissionError(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === "EACCES" || code === "EPERM";
}

function readProcess(dir: string, pid: number, names: Map<number, string>): GgmlProcess | undefined {
  const libraries = ggmlLibraries(readFileSync(path.join(dir, "maps"), "utf8"));
  if (libraries.length === 0) return undefined;
  const words = readFileSync(path.join(dir, "cmdline"), "utf8").split("\0").filter((word) => word.length > 0);
  const uidLine = /^Uid:\s+(\d+)/m.exec(readFileSync(path.join(dir, "status"), "utf8"));
  const uid = uidLine ? Number(uidLine[1]) : -1;
  return { pid, command: words.join(" ") || `[pid ${pid}]`, user: names.get(uid) ?? String(uid), uid, libraries };
}

/** The processes that map a ggml library, by pid; processes that end while being read are left out. */
export function findGgmlProcesses(options: ScanOptions = {}): ProcessScan {
  const procRoot = options.procRoot ?? "/proc";
  const names = userNames(options.passwd ?? "/etc/passwd");
  const scan: ProcessScan = { processes: [], unreadable: 0 };
  const pids = readdirSync(procRoot)
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((pid) => pid !== process.pid)
    .sort((a, b) => a - b);
  for (const pid of pids) {
    try {
      const found = readProcess(path.join(procRoot, String(pid)), pid, names);
      if (found) scan.processes.push(found);
    } catch (error) {
      if (isPermissionError(error)) scan.unreadable++;
      // else it ended meanwhile
    }
  }
  return scan;
}
