/** DOM helpers that only ever set text (never HTML): every string may come from the profiled target. */

type Props = Record<string, string | number | boolean>;

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, props?: Props, children?: Node[]): HTMLElementTagNameMap[K];
export function el(tag: string, props?: Props, children?: Node[]): HTMLElement;
export function el(tag: string, props: Props = {}, children: Node[] = []): HTMLElement {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "innerHTML" || key === "outerHTML") throw new Error(`el(): ${key} is not allowed`);
    (element as unknown as Record<string, unknown>)[key] = value;
  }
  element.append(...children);
  return element;
}

/** A table with a header row; cells are text. */
export function tableOf(header: string[], rows: string[][]): HTMLTableElement {
  const head = el("tr", {}, header.map((h) => el("th", { textContent: h })));
  const body = rows.map((cells) => el("tr", {}, cells.map((c) => el("td", { textContent: c }))));
  return el("table", { className: "data-table" }, [el("thead", {}, [head]), el("tbody", {}, body)]);
}
