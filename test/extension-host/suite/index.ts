// Entry point VS Code's extension host loads as `extensionTestsPath`: runs every bundled
// `*.test.js` next to it with mocha and rejects when a test fails or when no test ran at all.
import * as fs from "node:fs";
import * as path from "node:path";
import Mocha from "mocha";

export function run(): Promise<void> {
  const mocha = new Mocha({ ui: "tdd", color: false, timeout: 30_000 });
  const files = fs.readdirSync(__dirname).filter((name) => name.endsWith(".test.js"));
  files.forEach((name) => mocha.addFile(path.join(__dirname, name)));
  return new Promise((resolve, reject) => {
    const runner = mocha.run((failures) => {
      if (failures > 0) reject(new Error(`${failures} of ${runner.total} extension host tests failed`));
      else if (runner.total === 0) reject(new Error(`no extension host tests found in ${__dirname}`));
      else resolve();
    });
  });
}
