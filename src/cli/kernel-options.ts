// `--kernel` and `--fix` as the commands read them: checked against the registry of profiles and
// fixes before anything runs, so a bad one is a command-line error (exit 2, naming the option), not
// an error against the trace's header line.
import { PROFILE_NAMES, ProfileError, resolveFixes } from '../kernel/profiles.ts';
import { fixById } from '../kernel/fixes.ts';
import { parseFixArg, UsageError, type ParsedArgs } from './args.ts';

/** A profile name, or UsageError `--kernel: unknown profile 'v9' (profiles: …)`. */
export function checkProfile(name: string, option = '--kernel'): string {
  if (!PROFILE_NAMES.includes(name)) throw new UsageError(`${option}: unknown profile '${name}' (profiles: ${PROFILE_NAMES.join(', ')})`);
  return name;
}

/** The `--fix` values: each a known fix; with `kernel`, also a combination that profile can have. */
export function fixesOf(args: ParsedArgs, kernels: readonly string[] = []): Record<string, boolean> {
  const fixes: Record<string, boolean> = {};
  for (const v of args.all('--fix')) {
    const [id, on] = parseFixArg(v);
    if (!fixById(id)) throw new UsageError(`--fix: unknown fix ${id} (run 'mmuwasm profiles' for the list)`);
    fixes[id] = on;
  }
  for (const k of kernels) {
    try {
      resolveFixes(k, fixes);
    } catch (err) {
      if (err instanceof ProfileError) throw new UsageError(`--fix: ${err.message} (profile ${k})`);
      throw err;
    }
  }
  return fixes;
}
