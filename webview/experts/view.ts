import type { ExpertsData, WebviewMessage } from "../protocol";
import { el } from "../dom";

export class ExpertsView {
  constructor(
    private readonly root: HTMLElement,
    _post?: (message: WebviewMessage) => void,
  ) {}

  show(data: ExpertsData): void {
    this.root.replaceChildren(el("div", { textContent: data.title }));
  }
}
