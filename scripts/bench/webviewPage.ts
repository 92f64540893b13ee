/**
 * The webview bundle outside VS Code, for the benchmark: a local HTTP server gives the panel's own
 * HTML (same CSP, dist/webview.js and dist/webview.css) plus a loader that fetches a host message as
 * binary and posts it to the page the way VS Code delivers host messages: a window "message" event,
 * the typed arrays' ArrayBuffer in the transfer list (VS Code's webview pre/index.html does the same).
 */
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import { newNonce, panelHtml } from "../../extension/views/panelHtml";
import type { HostMessage, PanelKind } from "../../webview/protocol";

const TYPED = { Float64Array, Float32Array, Int32Array, Uint32Array, Uint16Array, Uint8Array } as const;
type TypedName = keyof typeof TYPED;

/** A message as one buffer: u32 JSON length, the JSON (typed arrays as references), then the arrays' bytes, 8-aligned. */
export function encodeMessage(message: HostMessage): Buffer {
  const blobs: Buffer[] = [];
  let at = 0;
  const json = JSON.stringify(message, (_key, value: unknown) => {
    if (!ArrayBuffer.isView(value)) return value;
    const name = value.constructor.name as TypedName;
    if (!(name in TYPED)) throw new Error(`encodeMessage: unsupported ${name}`);
    const bytes = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    const padded = Buffer.alloc(Math.ceil(bytes.length / 8) * 8);
    bytes.copy(padded);
    blobs.push(padded);
    const ref = { $typed: name, at, length: (value as unknown as { length: number }).length };
    at += padded.length;
    return ref;
  });
  const text = Buffer.from(json);
  const head = Buffer.alloc(Math.ceil((4 + text.length) / 8) * 8);
  head.writeUInt32LE(text.length, 0);
  text.copy(head, 4);
  return Buffer.concat([head, ...blobs]);
}

/** Runs in the page: fetches /message.bin, decodes it, and exposes ggmlLensPost() to deliver it. */
const LOADER = `
window.ggmlLensLoaded = fetch("/message.bin").then((r) => r.arrayBuffer()).then((buffer) => {
  const view = new DataView(buffer);
  const length = view.getUint32(0, true);
  const json = new TextDecoder().decode(new Uint8Array(buffer, 4, length));
  const base = Math.ceil((4 + length) / 8) * 8;
  const message = JSON.parse(json, (key, value) => {
    if (!value || typeof value !== "object" || !value.$typed) return value;
    return new globalThis[value.$typed](buffer, base + value.at, value.length);
  });
  window.addEventListener("message", () => (window.ggmlLensDelivered = performance.now()));
  // As VS Code hands a host message to a webview: the typed arrays' buffer transferred, not copied.
  window.ggmlLensPost = () => window.postMessage(message, "*", [buffer]);
  return buffer.byteLength;
});
`;

export interface WebviewPage {
  url: string;
  close(): Promise<void>;
}

/** Serves the `kind` panel page with `message` ready to be posted; the bundle from `dist` (default: the repository's dist/). */
export async function serveWebviewPage(repo: string, kind: PanelKind, message: HostMessage, dist = path.join(repo, "dist")): Promise<WebviewPage> {
  const nonce = newNonce();
  const body = encodeMessage(message);
  const page = panelHtml(kind, "benchmark", { cspSource: "'self'", scriptUri: "/dist/webview.js", styleUri: "/dist/webview.css" }, nonce)
    // The loader fetches the message: the only request a panel page itself never makes.
    .replace("default-src 'none'", "default-src 'none'; connect-src 'self'")
    .replace("<script ", `<script nonce="${nonce}" src="/loader.js"></script>\n<script `);
  const files: Record<string, [string, () => Buffer | string]> = {
    "/": ["text/html", () => page],
    "/loader.js": ["text/javascript", () => LOADER],
    "/message.bin": ["application/octet-stream", () => body],
    "/dist/webview.js": ["text/javascript", () => fs.readFileSync(path.join(dist, "webview.js"))],
    "/dist/webview.css": ["text/css", () => fs.readFileSync(path.join(dist, "webview.css"))],
    "/favicon.ico": ["image/x-icon", () => ""],
  };
  const server = http.createServer((request, response) => {
    const file = files[new URL(request.url ?? "/", "http://x").pathname];
    if (!file) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { "content-type": file[0] }).end(file[1]());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
