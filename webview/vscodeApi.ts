/** The webview side of the host <-> webview channel. */
import type { WebviewMessage } from "./protocol";

interface VsCodeApi {
  postMessage(message: WebviewMessage): void;
}

declare function acquireVsCodeApi(): VsCodeApi;

/** Posts to the extension host; outside VS Code (the benchmark page) to the parent window. */
export function hostChannel(): (message: WebviewMessage) => void {
  if (typeof acquireVsCodeApi === "function") {
    const api = acquireVsCodeApi();
    return (message) => api.postMessage(message);
  }
  return (message) => window.parent.postMessage(message, "*");
}
