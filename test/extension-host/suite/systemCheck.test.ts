// "GGML Lens: Check system" in the extension host (see ../extension-host.test.ts): what it reports,
// compared with this machine as the test reads it itself, and the report in the GGML Lens output.
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as vscode from "vscode";
import type { SystemCheck } from "../../../extension/profile/system";
import { EXTENSION_ID, waitFor } from "./common";

const CHECK_SYSTEM = "ggmlLens.checkSystem";
const EVENT_SOURCES = "/sys/bus/event_source/devices";
const REPORT_HEADING = "System check, ";

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** The text of the output channel holding the system check's report once it holds every piece of `expected`. */
async function reportText(expected: string[]): Promise<string> {
  const holdsReport = (d: vscode.TextDocument): boolean => d.uri.scheme === "output" && [REPORT_HEADING, ...expected].every((text) => d.getText().includes(text));
  const document = await waitFor("the report in the GGML Lens output", () => vscode.workspace.textDocuments.find(holdsReport));
  return document.getText();
}

suite("Check system", function () {
  this.timeout(60_000);

  test("reports kernel, BTF, uprobes, bpffs, privilege, probe helper and PMU as this machine has them, in the GGML Lens output", async () => {
    const checks = await vscode.commands.executeCommand<SystemCheck[] | undefined>(CHECK_SYSTEM);
    assert.ok(checks, "the command returned the checks");
    assert.deepEqual(
      checks.map((check) => check.name),
      ["kernel", "BTF", "uprobes", "uprobe_multi", "bpffs", "privilege", "probe helper", "PMU counters"],
    );
    const check = (name: string): SystemCheck => checks.find((c) => c.name === name)!;
    assert.deepEqual([check("kernel").status, check("kernel").found], ["ok", `Linux ${os.release()}`]);
    assert.equal(check("BTF").status, fs.existsSync("/sys/kernel/btf/vmlinux") ? "ok" : "missing");
    assert.equal(check("uprobes").status, fs.existsSync(path.join(EVENT_SOURCES, "uprobe")) ? "ok" : "missing");
    const bpffs = fs.readFileSync("/proc/mounts", "utf8").split("\n").some((line) => line.split(" ")[1] === "/sys/fs/bpf" && line.split(" ")[2] === "bpf");
    assert.equal(check("bpffs").status === "ok", bpffs, `bpffs ${bpffs ? "is" : "is not"} mounted: ${check("bpffs").found}`);
    if (process.getuid?.() === 0) assert.deepEqual([check("privilege").status, check("privilege").found], ["ok", "root"]);
    const extension = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(extension);
    const helpers = [path.join(extension.extensionPath, "dist", "ggml-lens-probe"), path.join(extension.extensionPath, "bpf", "build", "ggml-lens-probe")];
    assert.equal(check("probe helper").found, helpers.find(isExecutable), "the helper the extension runs");
    const pmu = fs.readdirSync(EVENT_SOURCES).some((name) => ["cpu", "cpu_core", "cpu_atom"].includes(name) || name.startsWith("armv"));
    assert.equal(check("PMU counters").status, pmu ? "ok" : "limited");
    for (const c of checks) if (c.status !== "ok") assert.ok(c.fix, `${c.name} (${c.status}) says how to get it`);
    const text = await reportText(checks.map((c) => c.found));
    for (const c of checks) {
      const line = text.split("\n").find((l) => l.includes(` ${c.name} `) && l.includes(c.found));
      assert.ok(line?.trimStart().startsWith(c.status), `the output has "${c.status} ${c.name} ... ${c.found}": ${text}`);
      if (c.fix) assert.ok(text.includes(`fix: ${c.fix}`), `the output has the fix for ${c.name}`);
    }
    assert.match(text, checks.every((c) => c.status !== "missing") ? /ready to profile/ : /cannot profile yet: missing /);
  });
});
