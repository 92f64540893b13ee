import { version } from "../package.json";

const HELP = `ggml-lens ${version}: profile llama.cpp / ggml inference with eBPF

Usage:
  ggml-lens --help        show this help
  ggml-lens --version     print the version
`;

function main(argv: string[]): number {
  const [command] = argv;
  if (command === undefined || command === "--help" || command === "-h") {
    process.stdout.write(HELP);
    return 0;
  }
  if (command === "--version") {
    process.stdout.write(`${version}\n`);
    return 0;
  }
  process.stderr.write(`ggml-lens: unknown command '${command}'; run 'ggml-lens --help'\n`);
  return 2;
}

process.exitCode = main(process.argv.slice(2));
