/** The HTML of a webview panel: a strict CSP (scripts only by nonce, nothing inline), no inline script. */
import { randomBytes } from "node:crypto";
import type { PanelKind } from "../../webview/protocol";

export interface PanelResources {
  /** webview.cspSource */
  cspSource: string;
  scriptUri: string;
  styleUri: string;
}

export function newNonce(): string {
  return randomBytes(18).toString("base64url");
}

function attribute(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

export function contentSecurityPolicy(cspSource: string, nonce: string): string {
  return [
    "default-src 'none'",
    `img-src ${cspSource} data:`,
    `style-src ${cspSource}`,
    `font-src ${cspSource}`,
    `script-src 'nonce-${nonce}'`,
  ].join("; ");
}

export function panelHtml(kind: PanelKind, title: string, resources: PanelResources, nonce = newNonce()): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${attribute(contentSecurityPolicy(resources.cspSource, nonce))}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${attribute(resources.styleUri)}">
<title>${attribute(title)}</title>
</head>
<body data-panel="${kind}">
<script nonce="${nonce}" src="${attribute(resources.scriptUri)}"></script>
</body>
</html>
`;
}
