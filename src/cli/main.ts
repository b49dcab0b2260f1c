// The command line. Every command returns its exit status: 0 success, 1 a finding (a failed
// expectation or a violation), 2 bad input or usage, 3 a bug in mmuwasm (an internal invariant broke).
// A mistake on the command line or in the file system is one line on standard error naming what is wrong (exit 2), never a stack trace.
import '../platform/node.ts';
import { MmuError, ModelBugError } from '../mmu/errors.ts';
import { commandHelp, hint, parseCommandLine, UsageError } from './args.ts';
import { COMMANDS, commandByName } from './commands.ts';
import { FileError, isSystemError, reasonOf } from './files.ts';
import { packageVersion } from './package-root.ts';

export function overview(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 2;
  const lines = [
    'usage: mmuwasm COMMAND [options]',
    '',
    'An x86-64 MMU emulated in WebAssembly under a model of Linux memory management: it replays traces',
    'of kernel events and memory accesses and reports every use of a translation that a correct kernel',
    'would have invalidated, naming the missing flush.',
    '',
    'commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    `  ${'help'.padEnd(width)}this text; 'mmuwasm help COMMAND' or 'mmuwasm COMMAND --help': a command's options`,
    '',
    'options: -h, --help (this text); -V, --version (the version)',
  ];
  return lines.join('\n') + '\n';
}

export async function main(argv: readonly string[]): Promise<number> {
  const [first, ...rest] = argv;
  // Which command the line is for, so that its errors carry its name.
  let who = 'mmuwasm';
  guardStandardOutput(() => who);
  try {
    if (first === undefined || first === 'help' || first === '--help' || first === '-h') {
      const topic = first === 'help' ? rest[0] : undefined;
      if (first === 'help' && rest.length > 1) throw new UsageError(`help takes one command (got ${rest.join(' ')})`);
      if (topic === undefined) {
        process.stdout.write(overview());
        return 0;
      }
      const spec = commandByName(topic);
      if (!spec) throw new UsageError(`unknown command '${topic}'${hint(topic, COMMANDS.map((c) => c.name))}`);
      process.stdout.write(commandHelp(spec));
      return 0;
    }
    if (first === '--version' || first === '-V') {
      if (rest.length) throw new UsageError(`${first} takes nothing after it (got ${rest.join(' ')})`);
      process.stdout.write(`${packageVersion()}\n`);
      return 0;
    }
    if (first.startsWith('-')) throw new UsageError(`unknown option '${first}'${hint(first, ['--help', '-h', '--version', '-V'])}`);
    const spec = commandByName(first);
    if (!spec && first === 'bench') throw new UsageError("unknown command 'bench' (the benchmarks run from a clone of the repository: npm run bench)");
    if (!spec) throw new UsageError(`unknown command '${first}'${hint(first, [...COMMANDS.map((c) => c.name), 'help'])}`);
    who = `mmuwasm ${spec.name}`;
    const request = parseCommandLine(spec, rest);
    if (request.kind === 'help') {
      process.stdout.write(commandHelp(spec));
      return 0;
    }
    if (request.kind === 'version') {
      process.stdout.write(`${packageVersion()}\n`);
      return 0;
    }
    return await spec.run(request.args);
  } catch (err) {
    if (err instanceof ModelBugError) {
      const at = err.trace ? ` at ${err.trace.file}:${err.trace.line}` : '';
      process.stderr.write(`${who}: internal error${at} (a bug in mmuwasm, not in the input): ${err.message}\n`);
      return 3;
    }
    const line = oneLine(err);
    if (line === undefined) throw err;
    process.stderr.write(`${who}: ${line}\n`);
    return 2;
  }
}

/** The one line an error of the command line, the file system or the machine's configuration gets; undefined for a bug. */
function oneLine(err: unknown): string | undefined {
  if (err instanceof UsageError || err instanceof FileError || err instanceof MmuError) return err.message;
  if (isSystemError(err)) return err.path ? `${err.path}: ${reasonOf(err)}` : reasonOf(err);
  return undefined;
}

let guarded = false;
/**
 * A failing standard output (a full disk behind `> /dev/full`) is one line and exit 2; a reader that
 * went away (`| head`) ends the command quietly, as it would a C program's.
 */
function guardStandardOutput(who: () => string): void {
  if (guarded) return;
  guarded = true;
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    process.stderr.write(`${who()}: standard output: ${reasonOf(err)}\n`);
    process.exit(2);
  });
}
