// The command line's grammar, shared by every command: a command is described once (its operands and
// options, in the table of src/cli/commands.ts), and that description drives the parsing of argv,
// the command's help text and the suggestions for a near miss. The conventions are the POSIX and GNU
// ones users expect: `--opt value` and `--opt=value`, `-h`/`--help` and `-V`/`--version` anywhere,
// `--` ends the options, and `-` alone is an operand (standard input or output).

/** A mistake on the command line: printed as one line, exit status 2. */
export class UsageError extends Error {}

export interface OptionSpec {
  /** The long name, with its dashes: `--kernel`. */
  name: string;
  /** A one-letter alias: `-o`. */
  short?: string;
  /** The value's placeholder in the help (`PROFILE`); absent for a flag. */
  value?: string;
  /** May be given more than once (each value is kept). */
  repeatable?: boolean;
  /** What it does; a line break continues the text on the next line of the help. */
  help: string;
}

export interface CommandSpec {
  name: string;
  /** The operands as the synopsis shows them: `TRACE|-`, `IN OUT`. */
  operands: string;
  /** How many operands it takes. */
  min: number;
  max: number;
  /** One line for `mmuwasm help`. */
  summary: string;
  /** What the command's own help says after the synopsis (a few lines). */
  about: string;
  options: readonly OptionSpec[];
  /** Runs the command (its module is loaded only then); returns the exit status. */
  run(args: ParsedArgs): Promise<number>;
}

/** The options every command has, whatever its table says. */
export const COMMON_OPTIONS: readonly OptionSpec[] = [
  { name: '--help', short: '-h', help: 'this help' },
  { name: '--version', short: '-V', help: "the package's version" },
];

export class ParsedArgs {
  constructor(
    readonly command: string,
    readonly operands: readonly string[],
    private readonly values: ReadonlyMap<string, readonly string[]>,
  ) {}
  /** Whether the option (long name) was given. */
  has(name: string): boolean {
    return this.values.has(name);
  }
  /** The option's value (the last one given), or undefined. */
  get(name: string): string | undefined {
    const v = this.values.get(name);
    return v?.[v.length - 1];
  }
  /** Every value given to a repeatable option, in order. */
  all(name: string): readonly string[] {
    return this.values.get(name) ?? [];
  }
}

/** What a command line asks for: the command's help, the version, or the command run with these arguments. */
export type Request = { kind: 'help' } | { kind: 'version' } | { kind: 'run'; args: ParsedArgs };

/**
 * Reads argv (the words after the command name) against the command's table. Throws UsageError for an
 * unknown option (with a suggestion when one is near), a missing or unexpected value, an option given
 * twice that is not repeatable, or the wrong number of operands.
 */
export function parseCommandLine(spec: CommandSpec, argv: readonly string[]): Request {
  const all = [...spec.options, ...COMMON_OPTIONS];
  const byName = new Map<string, OptionSpec>();
  for (const o of all) {
    byName.set(o.name, o);
    if (o.short) byName.set(o.short, o);
  }
  // Asking for help is never an error, whatever else the line holds (a mistake is what it is asked for).
  const end = argv.indexOf('--');
  if ((end < 0 ? argv : argv.slice(0, end)).some((w) => w === '-h' || w === '--help')) return { kind: 'help' };
  const values = new Map<string, string[]>();
  const operands: string[] = [];
  let version = false;
  let optionsEnded = false;
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i];
    if (optionsEnded || word === '-' || !word.startsWith('-')) {
      operands.push(word);
      continue;
    }
    if (word === '--') {
      optionsEnded = true;
      continue;
    }
    const eq = word.startsWith('--') ? word.indexOf('=') : -1;
    const written = eq > 0 ? word.slice(0, eq) : word;
    const opt = byName.get(written);
    if (!opt) throw new UsageError(`unknown option '${written}'${hint(written, all.flatMap((o) => (o.short ? [o.name, o.short] : [o.name])), spec.name)}`);
    let value = '';
    if (opt.value !== undefined) {
      if (eq > 0) value = word.slice(eq + 1);
      else if (i + 1 < argv.length) value = argv[++i];
      else throw new UsageError(`${opt.name} needs a value: ${opt.name} ${opt.value}`);
    } else if (eq > 0) {
      throw new UsageError(`${opt.name} takes no value (got '${word}')`);
    }
    if (opt.name === '--version') version = true;
    const seen = values.get(opt.name);
    if (seen && !opt.repeatable) throw new UsageError(`${opt.name} given twice`);
    if (seen) seen.push(value);
    else values.set(opt.name, [value]);
  }
  if (version) return { kind: 'version' };
  if (operands.length < spec.min) {
    const missing = spec.operands.split(' ').slice(operands.length).join(' ');
    throw new UsageError(`${spec.name} needs ${missing} (see 'mmuwasm ${spec.name} --help')`);
  }
  if (operands.length > spec.max) {
    throw new UsageError(spec.max === 0 ? `takes no operands (got '${operands[0]}')` : `unexpected argument '${operands[spec.max]}' (${spec.name} takes ${spec.operands})`);
  }
  return { kind: 'run', args: new ParsedArgs(spec.name, operands, values) };
}

/** A command's help: its synopsis, what it does, and every option with its value and meaning. */
export function commandHelp(spec: CommandSpec): string {
  const opts = [...spec.options, ...COMMON_OPTIONS];
  const left = (o: OptionSpec) => `${o.short ? `${o.short}, ` : '    '}${o.name}${o.value ? ` ${o.value}` : ''}`;
  const width = Math.max(...opts.map((o) => left(o).length)) + 2;
  const lines = [`usage: ${synopsis(spec)}`, '', ...spec.about.split('\n').map((l) => (l ? `  ${l}` : '')), '', 'options:'];
  for (const o of opts) {
    const text = (o.help + (o.repeatable ? ' (repeatable)' : '')).split('\n');
    text.forEach((t, i) => lines.push(`  ${(i === 0 ? left(o) : '').padEnd(width)}${t}`));
  }
  return lines.join('\n') + '\n';
}

/** `mmuwasm replay TRACE|- [options]`. */
export function synopsis(spec: CommandSpec): string {
  return `mmuwasm ${spec.name}${spec.operands ? ` ${spec.operands}` : ''}${spec.options.length ? ' [options]' : ''}`;
}

/** ` (did you mean 'X'?)` for the nearest candidate within reach, or a pointer to the help. */
export function hint(word: string, candidates: readonly string[], command?: string): string {
  const near = nearest(word, candidates);
  if (near) return ` (did you mean '${near}'?)`;
  return command ? ` (see 'mmuwasm ${command} --help')` : " (see 'mmuwasm help')";
}

/** The candidate closest to `word` by edit distance, if it is close enough to be a slip of the keys. */
export function nearest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(word, c);
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  // Two edits (a transposed pair counts as one) in a word of five letters or more, one in a shorter one.
  const core = word.replace(/^-+/, '').length;
  return bestDistance <= (core >= 5 ? 2 : 1) ? best : undefined;
}

/**
 * The optimal-string-alignment distance: insertions, deletions, substitutions and transpositions of
 * two neighbours each cost one, so `repaly` is one edit from `replay`.
 */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** `--fix ID=on|off`: the fix id and whether it is on (whether the fix exists is the caller's check). */
export function parseFixArg(v: string): [id: string, on: boolean] {
  const m = /^([0-9a-f]{12})=(on|off)$/.exec(v);
  if (!m) throw new UsageError(`--fix: takes ID=on or ID=off with a 12-hex-digit commit id (got '${v}')`);
  return [m[1], m[2] === 'on'];
}
