/**
 * Entry of the webview bundle (dist/webview.js). The host's HTML names the panel in
 * <body data-panel="...">; the panel's view draws what the host sends (webview/protocol.ts).
 */
import "./style.css";
import { el } from "./dom";
import type { HostMessage, PanelKind, WebviewMessage } from "./protocol";
import { TimelineView } from "./timeline/view";
import { GraphView } from "./graph/view";
import { ExpertsView } from "./experts/view";
import { RooflineView } from "./roofline/view";
import { CountersView } from "./counters/view";
import { OffloadView } from "./offload/view";
import { hostChannel } from "./vscodeApi";

interface PanelView {
  receive(message: HostMessage): void;
}

function createView(kind: PanelKind, root: HTMLElement, post: (m: WebviewMessage) => void): PanelView {
  switch (kind) {
    case "timeline": {
      const view = new TimelineView(root, post);
      return {
        receive: (m) => {
          if (m.type === "timeline") view.show(m.data);
          else if (m.type === "filterOp") view.filterOp(m.op);
        },
      };
    }
    case "graph": {
      const view = new GraphView(root, post);
      return { receive: (m) => m.type === "graph" && view.show(m.data) };
    }
    case "experts": {
      const view = new ExpertsView(root);
      return { receive: (m) => m.type === "experts" && view.show(m.data) };
    }
    case "roofline": {
      const view = new RooflineView(root, post);
      return { receive: (m) => m.type === "roofline" && view.show(m.data) };
    }
    case "counters": {
      const view = new CountersView(root);
      return { receive: (m) => m.type === "counters" && view.show(m.data) };
    }
    case "offload": {
      const view = new OffloadView(root);
      return { receive: (m) => m.type === "offload" && view.show(m.data) };
    }
  }
}

function start(): void {
  const post = hostChannel();
  const kind = (document.body.dataset.panel ?? "timeline") as PanelKind;
  const content = el("div", { className: "panel-content" });
  const empty = el("div", { className: "empty", hidden: true });
  document.body.append(empty, content);
  const view = createView(kind, content, post);
  window.addEventListener("message", (event: MessageEvent<HostMessage>) => {
    const message = event.data;
    if (!message || typeof message !== "object" || typeof message.type !== "string") return;
    empty.hidden = message.type !== "empty";
    content.hidden = message.type === "empty";
    if (message.type === "empty") empty.textContent = message.message;
    else view.receive(message);
  });
  post({ type: "ready" });
}

start();
