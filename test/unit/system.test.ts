// The system check on machines described by a SystemView: a complete one, then each piece missing
// in turn, with the fix the report gives; and one real run of `ggml-lens check` on this machine.
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { test } from "node:test";
import { checkSystem, kernelVersion, liveSystemView, systemReady, systemReport, type SystemCheck, type SystemView } from "../../extension/profile/system";

const SCRIPT_DIR = "/opt/ggml-lens/dist";
const PROBE = path.join(SCRIPT_DIR, "ggml-lens-probe");

/** A machine with everything profiling needs; `change` takes pieces away. */
function machine(change: Partial<SystemView> & { files?: Record<string, string | null> } = {}): SystemView {
  const files: Record<string, string | null> = {
    "/sys/kernel/btf/vmlinux": "",
    "/sys/bus/event_source/devices/uprobe/type": "7\n",
    "/proc/mounts": "sysfs /sys sysfs rw 0 0\nbpf /sys/fs/bpf bpf rw,relatime 0 0\n",
    "/proc/kallsyms": "ffffffff81000000 T _stext\n",
    [PROBE]: "",
    "/usr/bin/sudo": "",
    ...change.files,
  };
  const present = (file: string): boolean => typeof files[file] === "string";
  return {
    platform: "linux",
    kernelRelease: "6.8.0-45-generic",
    uid: 1000,
    env: { PATH: "/usr/local/bin:/usr/bin:/bin" },
    exists: present,
    isExecutable: present,
    readText: (file) => files[file] ?? undefined,
    list: (dir) => (dir === "/sys/bus/event_source/devices" ? ["breakpoint", "cpu", "software", "tracepoint", "uprobe"] : []),
    sudoWithoutPassword: () => false,
    ...change,
  };
}

function check(view: SystemView, name: string): SystemCheck {
  const found = checkSystem(view, SCRIPT_DIR).find((c) => c.name === name);
  assert.ok(found, `no check named ${name}`);
  return found;
}

test("a machine with everything: every check ok but the prompt-less sudo, ready", () => {
  const checks = checkSystem(machine(), SCRIPT_DIR);
  assert.deepEqual(
    checks.map((c) => [c.name, c.status]),
    [
      ["kernel", "ok"],
      ["BTF", "ok"],
      ["uprobes", "ok"],
      ["uprobe_multi", "ok"],
      ["bpffs", "ok"],
      ["privilege", "ok"],
      ["probe helper", "ok"],
      ["PMU counters", "ok"],
    ],
  );
  assert.ok(systemReady(checks));
  assert.match(check(machine(), "privilege").found, /\/usr\/bin\/sudo \(asks for your password/);
  assert.equal(check(machine(), "probe helper").found, PROBE);
  assert.equal(systemReport(checks).at(-1), "ready to profile");
});

test("no BTF: missing, with the kernel option to boot", () => {
  const btf = check(machine({ files: { "/sys/kernel/btf/vmlinux": null } }), "BTF");
  assert.equal(btf.status, "missing");
  assert.match(btf.fix ?? "", /CONFIG_DEBUG_INFO_BTF=y/);
  assert.ok(!systemReady(checkSystem(machine({ files: { "/sys/kernel/btf/vmlinux": null } }), SCRIPT_DIR)));
});

test("no uprobe PMU: missing, quoting the kernel config where it says why", () => {
  const release = "6.8.0-45-generic";
  const files = { "/sys/bus/event_source/devices/uprobe/type": null, [`/boot/config-${release}`]: "CONFIG_UPROBES=y\n# CONFIG_UPROBE_EVENTS is not set\n" };
  const uprobes = check(machine({ files }), "uprobes");
  assert.equal(uprobes.status, "missing");
  assert.match(uprobes.found, /config-6\.8\.0-45-generic: # CONFIG_UPROBE_EVENTS is not set/);
  assert.match(uprobes.fix ?? "", /CONFIG_UPROBE_EVENTS=y/);
  const noConfig = check(machine({ files: { "/sys/bus/event_source/devices/uprobe/type": null } }), "uprobes");
  assert.equal(noConfig.found, "no uprobe PMU in /sys/bus/event_source/devices");
});

test("kernel older than 6.6: uprobe_multi missing unless the kernel has it backported", () => {
  const old = check(machine({ kernelRelease: "6.1.0-26-amd64" }), "uprobe_multi");
  assert.equal(old.status, "missing");
  assert.match(old.found, /6\.1\.0-26-amd64 < 6\.6/);
  assert.match(old.fix ?? "", /bookworm-backports/);
  const backport = machine({ kernelRelease: "5.14.0-427.el9.x86_64", files: { "/proc/kallsyms": "ffffffff8123 T bpf_uprobe_multi_link_attach\n" } });
  assert.equal(check(backport, "uprobe_multi").status, "ok");
  assert.equal(check(machine({ kernelRelease: "6.6.1" }), "uprobe_multi").status, "ok");
  assert.equal(check(machine({ kernelRelease: "7.0.0" }), "uprobe_multi").status, "ok");
  assert.deepEqual(kernelVersion("6.18.44-fc-v782"), [6, 18]);
  assert.equal(kernelVersion("unknown"), undefined);
});

test("bpffs not mounted: limited, the helper mounts it", () => {
  const bpffs = check(machine({ files: { "/proc/mounts": "sysfs /sys sysfs rw 0 0\nnone /sys/fs/bpfx bpf rw 0 0\n" } }), "bpffs");
  assert.equal(bpffs.status, "limited");
  assert.match(bpffs.fix ?? "", /mount -t bpf bpf \/sys\/fs\/bpf/);
});

test("privilege: root, sudo without a password, pkexec only, none at all", () => {
  assert.equal(check(machine({ uid: 0, files: { "/usr/bin/sudo": null } }), "privilege").found, "root");
  assert.match(check(machine({ sudoWithoutPassword: () => true }), "privilege").found, /without a password/);
  const pkexec = check(machine({ files: { "/usr/bin/sudo": null, "/usr/bin/pkexec": "" } }), "privilege");
  assert.equal(pkexec.status, "ok");
  assert.match(pkexec.fix ?? "", /ggmlLens\.elevation to pkexec/);
  const none = machine({ files: { "/usr/bin/sudo": null } });
  const privilege = check(none, "privilege");
  assert.equal(privilege.status, "missing");
  assert.match(privilege.fix ?? "", /install sudo/);
  assert.match(systemReport(checkSystem(none, SCRIPT_DIR)).at(-1) ?? "", /^cannot profile yet: missing privilege$/);
});

test("probe helper: next to the script, in the source tree, from GGML_LENS_PROBE, or missing", () => {
  const tree = path.join(SCRIPT_DIR, "..", "bpf", "build", "ggml-lens-probe");
  assert.equal(check(machine({ files: { [PROBE]: null, [tree]: "" } }), "probe helper").found, tree);
  const override = check(machine({ env: { PATH: "/usr/bin", GGML_LENS_PROBE: "/elsewhere/probe" }, files: { "/elsewhere/probe": "" } }), "probe helper");
  assert.equal(override.found, "/elsewhere/probe");
  const missing = check(machine({ files: { [PROBE]: null } }), "probe helper");
  assert.equal(missing.status, "missing");
  assert.match(missing.found, /looked for \/opt\/ggml-lens\/dist\/ggml-lens-probe and/);
  assert.match(missing.fix ?? "", /make -C bpf/);
});

test("no hardware PMU: limited, profiling still works", () => {
  const view = machine({ list: () => ["breakpoint", "software", "tracepoint", "uprobe"] });
  const pmu = check(view, "PMU counters");
  assert.equal(pmu.status, "limited");
  assert.match(pmu.fix ?? "", /virtual PMU/);
  assert.ok(systemReady(checkSystem(view, SCRIPT_DIR)));
  assert.match(check(machine({ list: () => ["cpu_core", "cpu_atom", "uprobe"] }), "PMU counters").found, /cpu_core, cpu_atom/);
  assert.match(check(machine({ list: () => ["armv8_pmuv3_0"] }), "PMU counters").found, /armv8_pmuv3_0/);
});

test("not Linux: one missing check", () => {
  const checks = checkSystem(machine({ platform: "darwin" }), SCRIPT_DIR);
  assert.deepEqual(
    checks.map((c) => [c.name, c.status]),
    [["platform", "missing"]],
  );
});

test("this machine: the live view agrees with what it reads, and ggml-lens check prints it", () => {
  const view = liveSystemView();
  const cliDir = path.join(__dirname, "..", "..", "extension");
  const checks = checkSystem(view, cliDir);
  assert.equal(check(view, "BTF").status === "ok", view.exists("/sys/kernel/btf/vmlinux"));
  assert.equal(check(view, "privilege").found === "root", process.getuid?.() === 0);
  const run = spawnSync(process.execPath, ["--import", "tsx", path.join(cliDir, "cli.ts"), "check", "--json"], { encoding: "utf8" });
  const printed = JSON.parse(run.stdout) as { ready: boolean; checks: SystemCheck[] };
  assert.deepEqual(printed.checks, checks);
  assert.equal(run.status, printed.ready ? 0 : 1);
  const text = spawnSync(process.execPath, ["--import", "tsx", path.join(cliDir, "cli.ts"), "check"], { encoding: "utf8" }).stdout;
  for (const c of checks) assert.ok(text.includes(c.found), `the text report lacks "${c.found}"`);
});
