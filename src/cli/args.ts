// The command line's shared pieces: a usage error (exit 2, printed with the command's usage), and
// the walk over argv in which an option takes the next word as its value.

export class UsageError extends Error {}

/** `--fix ID=on|off`: the fix id and whether it is on. */
export function parseFixArg(v: string): [id: string, on: boolean] {
  const m = /^([0-9a-f]{12})=(on|off)$/.exec(v);
  if (!m) throw new UsageError(`--fix takes ID=on or ID=off with a 12-hex-digit commit id (got '${v}')`);
  return [m[1], m[2] === 'on'];
}

/** Each word of argv; `value()` takes the next word as the option's value, or says it is missing. */
export function* options(argv: readonly string[]): Generator<{ arg: string; value: () => string }> {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    yield {
      arg,
      value: () => {
        const v = argv[++i];
        if (v === undefined) throw new UsageError(`${arg} needs a value`);
        // `--json --quiet` is a forgotten value, not a file named --quiet ('-' alone is standard output).
        if (v.length > 1 && v.startsWith('-')) throw new UsageError(`${arg} needs a value, not the option '${v}'`);
        return v;
      },
    };
  }
}
