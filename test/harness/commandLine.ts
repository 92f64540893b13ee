// The llama-completion command line the VS Code tests profile: a few tokens on the tiny model.

function shellQuote(word: string): string {
  return /^[\w./=:-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

export function tinyCompletionCommand(llamaCompletion: string, model: string, extraArgs: string[] = []): string {
  const args = ["-m", model, "-p", "Hello", "-n", "4", "-no-cnv", "-t", "2", ...extraArgs];
  return [llamaCompletion, ...args].map(shellQuote).join(" ");
}
