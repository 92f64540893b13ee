import type { GraphData, WebviewMessage } from "../protocol";
import { el } from "../dom";

export class GraphView {
  constructor(
    private readonly root: HTMLElement,
    _post?: (message: WebviewMessage) => void,
  ) {}

  show(data: GraphData): void {
    this.root.replaceChildren(el("div", { textContent: data.title }));
  }
}
