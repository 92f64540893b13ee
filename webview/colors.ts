/** Colours: the theme's --vscode-* variables, and one stable colour per op. */

const PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];

/** Colour of the op at index i of a label list: a fixed palette, then golden-angle hues. */
export function categoryColor(i: number): string {
  if (i < PALETTE.length) return PALETTE[i];
  return `hsl(${Math.round((i * 137.508) % 360)}, 55%, 55%)`;
}

const cache = new Map<string, string>();
let watching = false;

/**
 * A theme colour by its --vscode-* variable name (without the dashes), or `fallback`. Read once and
 * kept until VS Code changes the theme (it rewrites the body's class and style then).
 */
export function themeColor(name: string, fallback: string): string {
  if (!watching) {
    new MutationObserver(() => cache.clear()).observe(document.body, { attributes: true, attributeFilter: ["class", "style"] });
    watching = true;
  }
  let value = cache.get(name);
  if (value === undefined) {
    value = getComputedStyle(document.body).getPropertyValue(`--vscode-${name}`).trim() || fallback;
    cache.set(name, value);
  }
  return value;
}

const rgbCache = new Map<string, [number, number, number]>();

/** A CSS colour as [r, g, b] 0..255, as the canvas parses it. */
export function rgbOf(color: string): [number, number, number] {
  let rgb = rgbCache.get(color);
  if (!rgb) {
    const ctx = document.createElement("canvas").getContext("2d")!;
    ctx.fillStyle = color;
    ctx.fillRect(0, 0, 1, 1);
    const [r, g, b] = ctx.getImageData(0, 0, 1, 1).data;
    rgb = [r, g, b];
    rgbCache.set(color, rgb);
  }
  return rgb;
}
