// A migration holds a reference on its page from the moment it finds it, and the page lock from its
// unmap to its remap: a hole punch, an unmap or a new mapper of the same page racing it must never
// free the frame under it, map the frame being copied, or leave a frame nobody holds. After each race
// every allocated data frame is held by something (a page cache or a mapping) and the kernel's counts
// match the tables, under every profile.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { replayFile } from '../src/node/replay-file.ts';
import { PROFILE_NAMES } from '../src/kernel/profiles.ts';
import { checkInvariants } from '../src/kernel/invariants.ts';
import { HugetlbFile } from '../src/kernel/mm_types.ts';
import type { Kernel } from '../src/kernel/kernel.ts';

const dir = mkdtempSync(join(tmpdir(), 'mmuwasm-migrate-refs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const header = { format: 'mmuwasm-trace', version: 1, cpus: 4 };
const setup = [
  { op: 'hugetlbfs', file: 'F', size: '1G', pagesize: '2M' },
  { op: 'mm', mm: 'A' },
  { op: 'mm', mm: 'B' },
  { op: 'switch', cpu: 0, mm: 'A' },
  { op: 'switch', cpu: 1, mm: 'B' },
  { op: 'mmap', cpu: 0, va: '0x40000000', len: '1G', prot: 'rw', flags: 'shared', file: 'F', offset: 0 },
  { op: 'access', cpu: 0, va: '0x40000000', rw: 'w' },
];

function trace(name: string, events: object[]): string {
  const path = join(dir, `${name}.jsonl`);
  writeFileSync(path, [header, ...setup, ...events].map((l) => JSON.stringify(l)).join('\n') + '\n');
  return path;
}

/** Data frames nobody holds: not in a page cache, not mapped. */
function unheld(k: Kernel): string[] {
  const out: string[] = [];
  for (const [pa, page] of k.pages) {
    const cached = page.mapping instanceof HugetlbFile && page.mapping.pages.get(page.index) === page;
    if (!cached && page.mapcount === 0) out.push(`0x${pa.toString(16)} (refcount ${page.refcount})`);
    if (page.migrating || page.lockedBy) out.push(`0x${pa.toString(16)} is still isolated or locked`);
  }
  return out;
}

const RACES: Record<string, object[]> = {
  // The trace: the punch runs whole while the migration is parked before `unmap`.
  'punch while the migration is parked before unmap': [
    { op: 'migrate', cpu: 3, file: 'F', offset: '0x0', id: 'm', until: 'unmap' },
    { op: 'fallocate', cpu: 0, file: 'F', offset: 0, len: '2M', mode: 'punch_hole' },
    { op: 'resume', id: 'm' },
    { op: 'access', cpu: 0, va: '0x40000000', rw: 'w' },
  ],
  'punch while the migration is parked before remap': [
    { op: 'migrate', cpu: 3, file: 'F', offset: '0x0', id: 'm', until: 'remap' },
    { op: 'fallocate', cpu: 0, file: 'F', offset: 0, len: '2M', mode: 'punch_hole' },
    { op: 'resume', id: 'm' },
    { op: 'access', cpu: 0, va: '0x40000000', rw: 'w' },
  ],
  'truncate while the migration is parked before copy': [
    { op: 'migrate', cpu: 3, file: 'F', offset: '0x0', id: 'm', until: 'copy' },
    { op: 'truncate', cpu: 0, file: 'F', size: 0 },
    { op: 'resume', id: 'm' },
  ],
  'a new mapper faults while the page is being copied': [
    { op: 'migrate', cpu: 3, file: 'F', offset: '0x0', id: 'm', until: 'remap' },
    { op: 'mmap', cpu: 1, va: '0x80200000', len: '2M', prot: 'rw', flags: 'shared', file: 'F', offset: 0 },
    { op: 'access', cpu: 1, va: '0x80200000', rw: 'w' },
    { op: 'resume', id: 'm' },
    { op: 'access', cpu: 1, va: '0x80200000', rw: 'w' },
  ],
  'every mapping goes while the migration is parked before unmap': [
    { op: 'migrate', cpu: 3, file: 'F', offset: '0x0', id: 'm', until: 'unmap' },
    { op: 'munmap', cpu: 0, va: '0x40000000', len: '1G' },
    { op: 'resume', id: 'm' },
  ],
  'an anonymous page whose only mapping goes while it is isolated': [
    { op: 'mmap', cpu: 0, va: '0x100000000', len: '64K', prot: 'rw', flags: 'private' },
    { op: 'access', cpu: 0, va: '0x100000000', rw: 'w' },
    { op: 'migrate', cpu: 0, va: '0x100000000', id: 'm', until: 'unmap' },
    { op: 'madvise', cpu: 0, va: '0x100000000', len: '64K', advice: 'dontneed' },
    { op: 'resume', id: 'm' },
  ],
};

describe('a migration racing what drops its page', () => {
  describe.each(Object.keys(RACES))('%s', (name) => {
    const path = trace(name.replace(/\W+/g, '-'), RACES[name]);
    it.each(PROFILE_NAMES)('under %s: no violation, every frame held, counts match the tables', async (kernel) => {
      const problems: string[] = [];
      const { report, status, replay } = await replayFile(path, {
        kernel,
        onEvent: (r, line) => {
          for (const p of checkInvariants(r.kernel)) problems.push(`line ${line}: ${p}`);
        },
      });
      expect(report.error).toBeUndefined();
      expect(status).toBe(0);
      expect(report.violations).toEqual([]);
      expect(problems).toEqual([]);
      expect(unheld(replay!.kernel)).toEqual([]);
      // The allocator holds exactly the kernel's data frames.
      let bytes = 0n;
      for (const page of replay!.kernel.pages.values()) bytes += page.size === '4K' ? 4096n : page.size === '2M' ? 1n << 21n : 1n << 30n;
      expect(replay!.kernel.phys.bytesInUse).toBe(bytes);
    });
  });

  it('the punch waits for the page lock of a migration parked before remap, and the fault for the copy', async () => {
    const punch = await replayFile(trace('punch-waits', RACES['punch while the migration is parked before remap']), { kernel: 'v6.18' });
    expect(punch.report.waited.map((w) => [w.line, w.behind])).toEqual([[10, 9]]);
    expect(punch.report.waited[0].reason).toMatch(/locked by the migrate of line 9/);
    const fault = await replayFile(trace('fault-waits', RACES['a new mapper faults while the page is being copied']), { kernel: 'v6.18' });
    expect(fault.report.waited.map((w) => [w.line, w.behind])).toEqual([[11, 9]]);
  });
});
