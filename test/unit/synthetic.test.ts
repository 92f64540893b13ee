import { test } from "node:test";
import assert from "node:assert/strict";
import { buildProfile } from "../../extension/profile/model";
import { decodeStream } from "../../extension/profile/stream";
import { eventsForSpans, LLAMA_1B_SHAPE, syntheticStream } from "../../scripts/bench/synthetic";

test("the benchmark's synthetic stream decodes to the tokens, graphs and spans it claims", () => {
  const s = syntheticStream(50_000);
  const stream = decodeStream(s.bytes);
  assert.deepEqual([stream.errors, stream.truncated], [[], false]);
  assert.equal(stream.count, s.events);
  assert.ok(s.events >= 50_000 && s.events < 50_000 + 2000);
  const p = buildProfile(stream);
  assert.equal(p.spans.count, s.spans);
  assert.equal(p.spans.count / s.tokens / LLAMA_1B_SHAPE.threads, 277, "spans per thread per token, as in the real recording");
  assert.deepEqual(p.pairing.ops, { paired: s.spans, unterminated: 0, unmatchedEnds: 0, openAtEnd: 0, cutByWindow: 0 });
  assert.equal(p.tokens.decode.calls, s.tokens);
  assert.equal(p.graphs.length, s.tokens);
  assert.equal(p.structures.get("5eed000000000001")?.length, LLAMA_1B_SHAPE.nodes);
  assert.equal(p.ops.find((o) => o.op === "RMS_NORM+MUL")?.calls, 35 * s.tokens * LLAMA_1B_SHAPE.threads);
  assert.equal(p.lostEvents, 0);
  for (let i = 1; i < p.calls.length; i++) assert.ok(p.calls[i].startNs > p.calls[i - 1].endNs, "tokens follow each other in time");
});

test("eventsForSpans sizes a synthetic stream to a number of spans (whole tokens)", () => {
  const s = syntheticStream(eventsForSpans(10_000));
  const spansPerToken = 277 * LLAMA_1B_SHAPE.threads;
  assert.ok(s.spans >= 10_000 && s.spans < 10_000 + spansPerToken, `${s.spans} spans`);
  assert.equal(buildProfile(decodeStream(s.bytes)).spans.count, s.spans);
});
