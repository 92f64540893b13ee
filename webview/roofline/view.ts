import type { RooflineData, WebviewMessage } from "../protocol";
import { el } from "../dom";

export class RooflineView {
  constructor(
    private readonly root: HTMLElement,
    _post?: (message: WebviewMessage) => void,
  ) {}

  show(data: RooflineData): void {
    this.root.replaceChildren(el("div", { textContent: data.title }));
  }
}
