/**
 * Command lines of runs: split into the words the probe helper launches (it starts one program, not
 * a shell), and joined back for display. Pure, shared with tests.
 */

/** The command line cannot be run as one program. */
export class CommandLineError extends Error {
  override name = "CommandLineError";
}

const SHELL_OPERATORS = new Set(["|", "&", ";", "<", ">", "(", ")", "`"]);

/**
 * Splits a command line like a POSIX shell splits words: blanks separate, single quotes keep
 * everything, double quotes keep all but `\"` and `\\`, a backslash quotes the next character.
 * Shell operators (pipes, redirections, `;`, `&`, `$(...)`) are refused: GGML Lens runs one program.
 */
export function splitCommandLine(text: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (/\s/.test(c)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) throw new CommandLineError("unterminated ' quote in the command line");
      word = (word ?? "") + text.slice(i + 1, end);
      i = end;
    } else if (c === '"') {
      [word, i] = doubleQuoted(text, i, word ?? "");
    } else if (c === "\\") {
      word = (word ?? "") + (text[i + 1] ?? "");
      i++;
    } else if (SHELL_OPERATORS.has(c) || (c === "$" && text[i + 1] === "(")) {
      throw new CommandLineError(`'${c}' is shell syntax: give one program and its arguments (no pipes, redirections or substitutions)`);
    } else {
      word = (word ?? "") + c;
    }
  }
  if (word !== undefined) words.push(word);
  return words;
}

function doubleQuoted(text: string, open: number, word: string): [string, number] {
  for (let i = open + 1; i < text.length; i++) {
    if (text[i] === '"') return [word, i];
    if (text[i] === "\\" && (text[i + 1] === '"' || text[i + 1] === "\\")) word += text[++i];
    else word += text[i];
  }
  throw new CommandLineError('unterminated " quote in the command line');
}

/** A word as a shell would need it: quoted only when it has to be. */
export function quoteWord(word: string): string {
  return /^[\w./=:@%+,-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

export function joinCommandLine(words: readonly string[]): string {
  return words.map(quoteWord).join(" ");
}
