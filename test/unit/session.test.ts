import { test } from "node:test";
import assert from "node:assert/strict";
import { CommandLineError, joinCommandLine, splitCommandLine } from "../../extension/session/commandLine";
import { figuresText, ProgressReader } from "../../extension/session/progress";

test("command lines split into words as a shell would, and join back", () => {
  const words = splitCommandLine(`build/bin/llama-completion -m "my model.gguf" -p 'it''s "x"' -n 4 a\\ b`);
  assert.deepEqual(words, ["build/bin/llama-completion", "-m", "my model.gguf", "-p", `its "x"`, "-n", "4", "a b"]);
  assert.deepEqual(splitCommandLine(joinCommandLine(words)), words);
  assert.deepEqual(splitCommandLine(`a "b \\" c"`), ["a", `b " c`]);
  assert.deepEqual(splitCommandLine("  "), []);
});

test("shell syntax and open quotes are refused with what is wrong", () => {
  assert.throws(() => splitCommandLine("llama-completion | tee x"), (e: Error) => e instanceof CommandLineError && /'\|' is shell syntax/.test(e.message));
  assert.throws(() => splitCommandLine("a > out"), /shell syntax/);
  assert.throws(() => splitCommandLine("a $(b)"), /shell syntax/);
  assert.throws(() => splitCommandLine(`a "b`), /unterminated " quote/);
  assert.throws(() => splitCommandLine("a 'b"), /unterminated ' quote/);
});

test("progress lines give the live figures, split across chunks, rate from two lines", () => {
  const reader = new ProgressReader();
  assert.equal(reader.push("hello\r\nggml-lens-probe: progress decodes=10 ops=2", 1000), false);
  assert.equal(reader.push("00 lost=0 windows=0\r\n", 1000), true);
  assert.deepEqual(reader.figures, { decodes: 10, ops: 200, lost: 0, tokensPerSecond: undefined });
  reader.push("ggml-lens-probe: progress decodes=60 ops=12345 lost=7 windows=1\n", 2000);
  assert.deepEqual(reader.figures, { decodes: 60, ops: 12345, lost: 7, tokensPerSecond: 50 });
  assert.equal(figuresText(reader.figures), "50 tok/s · 12,345 ops · 7 lost");
});
