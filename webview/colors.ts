/** Colours: the theme's --vscode-* variables, and one stable colour per op. */

const PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];

/** Colour of the op at index i of a label list: a fixed palette, then golden-angle hues. */
export function categoryColor(i: number): string {
  if (i < PALETTE.length) return PALETTE[i];
  return `hsl(${Math.round((i * 137.508) % 360)}, 55%, 55%)`;
}

/** A theme colour by its --vscode-* variable name (without the dashes), or `fallback`. */
export function themeColor(name: string, fallback: string): string {
  const value = getComputedStyle(document.body).getPropertyValue(`--vscode-${name}`).trim();
  return value || fallback;
}
