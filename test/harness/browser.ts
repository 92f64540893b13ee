// Drives the VS Code web workbench with the system Chromium through playwright-core.
import * as fs from "node:fs";
import * as path from "node:path";
import { chromium, type FrameLocator, type Locator, type Page } from "playwright-core";
import { onProcessExit, tempDir } from "./cleanup";
import { childWithArgument, killTreeNow } from "./processTree";

export interface Browser {
  page: Page;
  /** Closes Chromium (all its processes) and removes its profile. */
  close(): Promise<void>;
}

const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--headless",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Launches `executable` (fixtures' `chromium`) with a fresh profile; its HOME is that profile too. */
export async function launchBrowser(executable: string): Promise<Browser> {
  const profile = tempDir("ggml-lens-chromium-");
  const home = path.join(profile.path, "home"); // Chromium creates ~/.pki and ~/.config otherwise
  const userData = path.join(profile.path, "user-data");
  fs.mkdirSync(home);
  try {
    const context = await chromium.launchPersistentContext(userData, {
      executablePath: executable,
      headless: true,
      args: CHROMIUM_ARGS,
      env: { ...process.env, HOME: home, XDG_CONFIG_HOME: path.join(home, ".config") },
      viewport: { width: 1400, height: 900 },
    });
    // Playwright kills Chromium at exit too, but only after the profile would have been removed.
    const forget = onProcessExit(() => killTreeNow(childWithArgument(process.pid, userData) ?? 0));
    const page = context.pages()[0] ?? (await context.newPage());
    const close = async (): Promise<void> => {
      await context.close();
      forget();
      profile.remove();
    };
    return { page, close };
  } catch (error) {
    profile.remove();
    throw error;
  }
}

/** Opens `url` and waits until the workbench is laid out. */
export async function openWorkbench(page: Page, url: URL): Promise<void> {
  await page.goto(url.href);
  await page.locator(".monaco-workbench").waitFor({ timeout: 60_000 });
}

const PALETTE = ".quick-input-widget";

/**
 * Runs the command titled `title` (e.g. "GGML Lens: Profile this run") from the command palette:
 * F1, type, Enter once the palette lists exactly that title. Retries until `timeoutMs` because the
 * palette can open before the extension's commands are known, or not open at all while a webview
 * holds the focus.
 */
export async function runPaletteCommand(page: Page, title: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await tryPaletteCommand(page, title)) return;
    if (Date.now() > deadline) throw new Error(`command palette never listed "${title}"`);
    await page.waitForTimeout(500);
  }
}

async function tryPaletteCommand(page: Page, title: string): Promise<boolean> {
  await page.keyboard.press("F1");
  const palette = page.locator(PALETTE);
  const opened = await palette.waitFor({ state: "visible", timeout: 5_000 }).then(
    () => true,
    () => false,
  );
  if (!opened) {
    // F1 went to an element that keeps it (a webview's frame had the focus): give the focus back to
    // the workbench and try again
    await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    return false;
  }
  await page.keyboard.type(title);
  const entry = palette.locator(".monaco-list-row", { hasText: title }).first();
  const listed = await entry.waitFor({ state: "visible", timeout: 2_000 }).then(
    () => true,
    () => false,
  );
  if (listed && (await isFocused(entry))) {
    await page.keyboard.press("Enter");
    return true;
  }
  await page.keyboard.press("Escape");
  return false;
}

async function isFocused(row: Locator): Promise<boolean> {
  return (await row.getAttribute("class"))?.split(" ").includes("focused") ?? false;
}

/** Waits for the input box titled `title` (a showInputBox), types `text` into it and accepts it. */
export async function answerInputBox(page: Page, title: string, text: string): Promise<void> {
  await page.locator(`${PALETTE} .quick-input-title`, { hasText: title }).waitFor({ timeout: 15_000 });
  await page.locator(`${PALETTE} .quick-input-box input`).fill(text);
  await page.keyboard.press("Enter");
}

/** Waits for the quick pick titled `title` and accepts its item labelled `label`. */
export async function pickQuickItem(page: Page, title: string, label: string, timeoutMs = 45_000): Promise<void> {
  await page.locator(`${PALETTE} .quick-input-title`, { hasText: title }).waitFor({ timeout: timeoutMs });
  await page.locator(`${PALETTE} .quick-input-box input`).fill(label);
  await page.locator(`${PALETTE} .monaco-list-row`, { hasText: label }).first().waitFor({ timeout: 5_000 });
  await page.keyboard.press("Enter");
}

/** Opens `fileName` with Quick Open and moves the cursor to `line` (1-based) with Go to Line. */
export async function openFileAtLine(page: Page, fileName: string, line: number): Promise<void> {
  await page.keyboard.press("Control+P");
  await page.locator(`${PALETTE} .quick-input-box input`).fill(fileName);
  await page.locator(`${PALETTE} .monaco-list-row`, { hasText: fileName }).first().waitFor({ timeout: 10_000 });
  await page.keyboard.press("Enter");
  await page.locator(".monaco-editor .view-lines").first().waitFor({ timeout: 10_000 });
  await page.keyboard.press("Control+G");
  await page.locator(`${PALETTE} .quick-input-box input`).fill(`:${line}`);
  await page.keyboard.press("Enter");
}

/** The CodeLens texts the editor shows now (lenses still being resolved are empty: left out). */
export async function visibleCodeLenses(page: Page): Promise<string[]> {
  const texts = await page.locator(".monaco-editor .codelens-decoration").allInnerTexts();
  return texts.map((text) => text.trim()).filter((text) => text !== "");
}

/** The non-blank lines that a terminal of the workbench has shown since recording started. */
export interface TerminalRecording {
  /** Resolves with the first line matching `pattern`; rejects after `timeoutMs` listing what was seen. */
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<string>;
}

/** The keyboard input of the terminal named `name` (xterm's textarea, labelled "Terminal N, NAME"). */
export function terminalInput(page: Page, name: string): Locator {
  return page.locator(`.terminal textarea.xterm-helper-textarea[aria-label*="${name}"]`);
}

/**
 * Records what the terminal named `name` renders. VS Code disposes of an extension's terminal as
 * soon as its process exits, so the last lines of a run are on screen for a moment only: the
 * recording keeps them. Needs the DOM renderer ("terminal.integrated.gpuAcceleration": "off").
 */
export async function recordTerminal(page: Page, name: string): Promise<TerminalRecording> {
  const lines: string[] = [];
  await page.exposeFunction("ggmlLensTerminalLine", (line: string) => lines.push(line));
  // Runs in the page. No named function inside: tsx (esbuild keepNames) would wrap it in a
  // __name() call that does not exist there.
  await page.evaluate((label) => {
    const report = (window as unknown as { ggmlLensTerminalLine(line: string): void }).ggmlLensTerminalLine;
    const seen = new Set<string>();
    new MutationObserver(() => {
      for (const terminal of document.querySelectorAll(".terminal.xterm")) {
        if (!terminal.querySelector("textarea")?.getAttribute("aria-label")?.includes(label)) continue;
        for (const row of terminal.querySelectorAll(".xterm-rows > div")) {
          const line = row.textContent?.trim() ?? "";
          if (line && !seen.has(line)) report(line);
          seen.add(line);
        }
      }
    }).observe(document.body, { subtree: true, childList: true, characterData: true });
  }, name);
  const waitForLine = async (pattern: RegExp, timeoutMs: number): Promise<string> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const line = lines.find((candidate) => pattern.test(candidate));
      if (line !== undefined) return line;
      if (Date.now() > deadline) throw new Error(`terminal "${name}" showed no line matching ${pattern}; it showed:\n${lines.join("\n")}`);
      await page.waitForTimeout(100);
    }
  };
  return { waitForLine };
}

/** The content document of the active webview (panel or view). */
export function webviewFrame(page: Page): FrameLocator {
  return page.frameLocator("iframe.webview.ready").frameLocator("#active-frame");
}
