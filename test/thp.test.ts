// Transparent huge pages of private anonymous memory: what each release's zap_huge_pmd flushes, the
// blocks khugepaged skips, and the THP paths the model refuses instead of running them wrong.
import { describe, expect, it } from 'vitest';
import { replaySource } from '../src/replay/replay-trace.ts';
import { PROFILE_NAMES } from '../src/kernel/profiles.ts';

const HEADER = { format: 'mmuwasm-trace', version: 1, cpus: 2 };
const START = [
  { op: 'mm', mm: 'P' },
  { op: 'switch', cpu: 0, mm: 'P' },
  { op: 'mmap', cpu: 0, va: '0x40000000', len: '4M', prot: 'rw', flags: 'private' },
];
const replay = (events: object[], kernel = 'v6.18') =>
  replaySource(new TextEncoder().encode([HEADER, ...START, ...events].map((e) => JSON.stringify(e)).join('\n') + '\n'), { name: 'thp.jsonl', kernel });

describe('zap_huge_pmd flushes a THP as each release records it', () => {
  // [INVLPGs, flushing CR3 writes after the switch]: v4.4 widens the gather by one 4 KiB page (one
  // INVLPG at the base), v4.19 by 2 MiB with a 4 KiB stride (512 pages: a full flush), v4.20 on by
  // 2 MiB with a 2 MiB stride (one INVLPG).
  const want: Record<string, [number, number]> = { 'v4.4': [1, 0], 'v4.19': [0, 1], 'v5.16': [1, 0], 'v6.1': [1, 0], 'v6.18': [1, 0] };
  it.each(PROFILE_NAMES)('under %s', async (kernel) => {
    const { report, status } = await replay([
      { op: 'madvise', cpu: 0, va: '0x40000000', len: '4M', advice: 'hugepage' },
      { op: 'access', cpu: 0, va: '0x40234000', rw: 'w' },
      { op: 'munmap', cpu: 0, va: '0x40200000', len: '2M' },
      { op: 'expect', violations: 0 },
    ], kernel);
    expect(report.error).toBeUndefined();
    expect(status).toBe(0);
    const flush = report.stats.flush as { flushes: number; invlpg: number; fullFlushes: number };
    // The switch's CR3 load is the first full flush.
    expect([flush.flushes, flush.invlpg, flush.fullFlushes - 1]).toEqual([1, ...want[kernel]]);
    expect((report.stats.vm as { faults: number }).faults).toBe(1);
  });
});

describe('khugepaged', () => {
  it('skips a block whose PTEs are all read-only, and collapses it once one is writable', async () => {
    const { report, status } = await replay([
      { op: 'access', cpu: 0, va: '0x40000000', rw: 'r' },
      { op: 'mprotect', cpu: 0, va: '0x40000000', len: '4M', prot: 'r' },
      { op: 'madvise', cpu: 0, va: '0x40000000', len: '4M', advice: 'hugepage' },
      { op: 'khugepaged', cpu: 0, va: '0x40000000' },
      { op: 'mprotect', cpu: 0, va: '0x40000000', len: '4M', prot: 'rw' },
      { op: 'access', cpu: 0, va: '0x40001000', rw: 'w' },
      { op: 'khugepaged', cpu: 0, va: '0x40000000' },
      { op: 'khugepaged', cpu: 0, va: '0x40000000' },
      { op: 'expect', violations: 0 },
    ]);
    expect(report.error).toBeUndefined();
    expect(status).toBe(0);
    expect(report.notes.map((n) => n.text)).toEqual([
      "khugepaged: P's block [0x40000000, 0x40200000) is not collapsed: no PTE is writable (SCAN_PAGE_RO)",
      "khugepaged: P's block [0x40000000, 0x40200000) is not collapsed: a huge PMD maps it already (SCAN_PMD_MAPPED)",
    ]);
  });
});

describe('THP paths the model does not have are refused with the line', () => {
  const thp = [
    { op: 'madvise', cpu: 0, va: '0x40000000', len: '4M', advice: 'hugepage' },
    { op: 'access', cpu: 0, va: '0x40000000', rw: 'w' },
  ];
  it.each([
    [{ op: 'fork', cpu: 0, child: 'C' }, 'copy_huge_pmd is not modelled'],
    [{ op: 'munmap', cpu: 0, va: '0x40100000', len: '4K' }, 'splitting it (__split_huge_pmd) is not modelled'],
    [{ op: 'mprotect', cpu: 0, va: '0x40000000', len: '2M', prot: 'r' }, '(change_huge_pmd) is not modelled'],
    [{ op: 'madvise', cpu: 0, va: '0x40000000', len: '2M', advice: 'free' }, '(madvise_free_huge_pmd) is not modelled'],
    [{ op: 'reclaim', cpu: 0, va: '0x40000000' }, 'reclaim of the transparent huge page at 0x40000000 is not modelled'],
  ])('%j', async (ev, message) => {
    const { report, status } = await replay([...thp, ev]);
    expect(status).toBe(2);
    expect([report.error?.file, report.error?.line]).toEqual(['thp.jsonl', 7]);
    expect(report.error?.message).toContain(message);
  });
});
