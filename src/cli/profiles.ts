// `mmuwasm profiles`: every fix as a row, every profile as a column, with what the fix changes.
import { FIXES } from '../kernel/fixes.ts';
import { PROFILES, PROFILE_NAMES } from '../kernel/profiles.ts';
import { UsageError, type ParsedArgs } from './args.ts';
import { checkOutput, writeOutput } from './files.ts';

export function renderProfiles(): string {
  const lines: string[] = [];
  const head = ['fix         ', ...PROFILE_NAMES.map((p) => p.padEnd(6)), 'release', 'title'];
  lines.push(head.join(' '));
  for (const f of FIXES) {
    const cols = PROFILE_NAMES.map((p) => (PROFILES[p].includes(f.id) ? '  ●   ' : '  ·   '));
    lines.push([f.id, ...cols, f.release.padEnd(7), f.title].join(' '));
  }
  lines.push('');
  lines.push('What each fix changes in the model:');
  for (const f of FIXES) {
    lines.push(`  ${f.id}  ${f.effect}`);
    lines.push(`                where: ${f.where}${f.needs ? `; needs ${f.needs.join(', ')}` : ''}`);
  }
  lines.push('');
  lines.push('Switch any fix over any profile: --fix ID=on|off (or "fixes" in the trace header).');
  return lines.join('\n') + '\n';
}

export function profilesJson(): unknown {
  return {
    profiles: Object.fromEntries(PROFILE_NAMES.map((p) => [p, [...PROFILES[p]]])),
    fixes: FIXES.map((f) => ({ ...f })),
  };
}

export async function runProfiles(p: ParsedArgs): Promise<number> {
  const json = p.get('--json');
  if (json === '') throw new UsageError('--json: needs a file name, or - for standard output');
  if (json === undefined) {
    process.stdout.write(renderProfiles());
    return 0;
  }
  checkOutput(json);
  writeOutput(json, JSON.stringify(profilesJson(), null, 2) + '\n');
  return 0;
}
