// The kernel model function by function: the tables, share counts, flushes and notifier calls after
// each operation, under the profiles where they differ, and the ground-truth invariants after each.
import { describe, expect, it } from 'vitest';
import { Machine } from '../src/mmu/machine.ts';
import { Kernel } from '../src/kernel/kernel.ts';
import { resolveFixes, PROFILE_NAMES, ProfileError } from '../src/kernel/profiles.ts';
import { Op, runToEnd } from '../src/kernel/ops.ts';
import { doMmap, sysMunmap } from '../src/kernel/mmap.ts';
import { handleMmFault } from '../src/kernel/fault.ts';
import { migratePage } from '../src/kernel/migrate.ts';
import { adjustRangeIfPmdSharingPossible } from '../src/kernel/hugetlb.ts';
import { checkInvariants } from '../src/kernel/invariants.ts';
import { flushTlbMmRange, switchMm } from '../src/kernel/tlbflush.ts';
import { swpEntryToPte, pteToSwpEntry, walkTo, hugePteOffset, SWP_MIGRATION_WRITE } from '../src/kernel/pgtable.ts';
import { tlbGatherMmu, tlbFinishMmuFlush, tlbFinishMmuFree } from '../src/kernel/mmu_gather.ts';
import type { MmuNotifier } from '../src/kernel/mmu_notifier.ts';
import { VmArea } from '../src/kernel/mm_types.ts';

const G = 1n << 30n;
const M2 = 1n << 21n;
const RW = { r: true, w: true, x: false };

async function boot(profile: string, overrides: Record<string, boolean> = {}, ncpus = 2) {
  const machine = await Machine.create({ ncpus, mode: 'retentive' });
  return new Kernel(machine, resolveFixes(profile, overrides));
}

let line = 0;
const op = (cpu: number, name = 'test') => new Op(`t${++line}`, name, cpu, line);

/** Two address spaces mapping the same 1 GiB of a 2 MiB hugetlbfs file at 1 GiB, each faulted in. */
function sharedSegment(k: Kernel) {
  const file = k.newHugetlbFile('F', G, '2M');
  k.files.set('F', file);
  const A = k.mmAlloc('A');
  const B = k.mmAlloc('B');
  k.switchTo(0, A);
  k.switchTo(1, B);
  doMmap(k, A, { va: G, len: G, prot: RW, shared: true, file, offset: 0n });
  doMmap(k, B, { va: G, len: G, prot: RW, shared: true, file, offset: 0n });
  expect(runToEnd(handleMmFault(k, op(0), A, G, 'w'))).toBe('done');
  expect(runToEnd(handleMmFault(k, op(1), B, G, 'w'))).toBe('done');
  return { file, A, B };
}

const pud = (k: Kernel, mm: ReturnType<Kernel['mmAlloc']>, va: bigint) => k.machine.readEntry(walkTo(k, mm, va, 'pud')!);

describe('profiles', () => {
  it('refuse a fix without the fixes it needs, and unknown ids', () => {
    expect(() => resolveFixes('v4.4', { '10af6235e0d3': true })).toThrow(/needs fix b0579ade7cd8/);
    expect(() => resolveFixes('v4.4', { '0123456789ab': true })).toThrow(ProfileError);
    expect(() => resolveFixes('v9.9')).toThrow(/unknown kernel profile 'v9.9'/);
    expect(resolveFixes('v4.4', { '017b1660df89': true }).has('017b1660df89')).toBe(true);
  });
  it('grow by release: every fix of a profile is in the next, except those a release replaced', () => {
    const v51 = resolveFixes('v5.16'), v61 = resolveFixes('v6.1');
    expect(v51.has('c0d0381ade79')).toBe(true);
    expect(v61.has('c0d0381ade79')).toBe(false);
    expect(v61.has('40549ba8f8e0')).toBe(true);
    expect(PROFILE_NAMES).toEqual(['v4.4', 'v4.19', 'v5.16', 'v6.1', 'v6.18']);
  });
});

describe('huge_pmd_share', () => {
  it.each([
    ['v4.4', 2, 0],
    ['v5.16', 2, 0],
    ['v6.18', 1, 1],
  ])('%s: the second mapping links the first one’s PMD page; page_count %i, pt_share_count %i', async (profile, refcount, share) => {
    const k = await boot(profile);
    const { A, B } = sharedSegment(k);
    expect(pud(k, B, G)).toBe(pud(k, A, G));
    const pmd = pud(k, A, G) & 0x000f_ffff_ffff_f000n;
    expect(k.ptdescs.get(pmd)).toMatchObject({ refcount, ptShareCount: share });
    expect(k.hugetlbStats.pmdShares).toBe(1);
    expect(checkInvariants(k)).toEqual([]);
  });
  it('does not share a range that does not cover the whole PUD', async () => {
    const k = await boot('v6.18');
    const file = k.newHugetlbFile('F', G, '2M');
    const A = k.mmAlloc('A');
    const B = k.mmAlloc('B');
    doMmap(k, A, { va: G, len: G, prot: RW, shared: true, file, offset: 0n });
    doMmap(k, B, { va: G, len: G - M2, prot: RW, shared: true, file, offset: 0n });
    runToEnd(handleMmFault(k, op(0), A, G, 'w'));
    runToEnd(handleMmFault(k, op(1), B, G, 'w'));
    expect(pud(k, B, G)).not.toBe(pud(k, A, G));
    expect(k.hugetlbStats.pmdShares).toBe(0);
    expect(checkInvariants(k)).toEqual([]);
  });
});

describe('migration of a page in a shared PMD page (try_to_unmap_one)', () => {
  it('v4.4: the rmap walk ends after A; A stays linked to the shared PMD page; only A is flushed; invalidate_page', async () => {
    const k = await boot('v4.4');
    const { A, B, file } = sharedSegment(k);
    const calls: string[] = [];
    const spy: MmuNotifier = { name: 'spy', invalidatePage: (mm, a) => calls.push(`page ${mm.name} 0x${a.toString(16)}`), invalidateRangeStart: (mm, s, e) => calls.push(`start ${mm.name} 0x${s.toString(16)}-0x${e.toString(16)}`) };
    k.notifiers.register(A, spy);
    k.notifiers.register(B, spy);
    const page = file.pages.get(0)!;
    runToEnd(migratePage(k, op(0), page, 'migrate'));
    expect(pud(k, A, G)).toBe(pud(k, B, G));
    expect(k.flushStats.flushes).toBe(1);
    expect(k.flushStats.ipisSent).toBe(0); // CPU 1 runs B: never asked
    expect(calls).toEqual([`page A 0x40000000`]);
    expect(checkInvariants(k)).toEqual([]);
  });
  it('v4.19: A unshares and gets a full flush of its PUD range; B is unmapped; range notifiers', async () => {
    const k = await boot('v4.19');
    const { A, B, file } = sharedSegment(k);
    const calls: string[] = [];
    const spy: MmuNotifier = {
      name: 'spy',
      invalidateRangeStart: (mm, s, e) => calls.push(`start ${mm.name} 0x${s.toString(16)}-0x${e.toString(16)}`),
      invalidateSecondaryTlbs: (mm, s, e) => calls.push(`range ${mm.name} 0x${s.toString(16)}-0x${e.toString(16)}`),
    };
    k.notifiers.register(A, spy);
    k.notifiers.register(B, spy);
    runToEnd(migratePage(k, op(0), file.pages.get(0)!, 'migrate'));
    expect(pud(k, A, G)).toBe(0n);
    const pmd = pud(k, B, G) & 0x000f_ffff_ffff_f000n;
    expect(k.ptdescs.get(pmd)).toMatchObject({ refcount: 1 });
    expect(k.hugetlbStats.pmdUnshares).toBe(1);
    // A: one PUD-wide flush; B: the page's own flush, an IPI to CPU 1.
    expect(k.flushStats.flushes).toBe(2);
    expect(k.flushStats.ipisSent).toBe(1);
    expect(calls.slice(0, 2)).toEqual(['start A 0x40000000-0x80000000', 'range A 0x40000000-0x80000000']);
    // B's mapping could share too: its range is widened to the PUD as well.
    expect(calls).toContain('start B 0x40000000-0x80000000');
    expect(checkInvariants(k)).toEqual([]);
  });
  it('v6.18: the share count goes from pt_share_count 1 to 0', async () => {
    const k = await boot('v6.18');
    const { B, file } = sharedSegment(k);
    runToEnd(migratePage(k, op(0), file.pages.get(0)!, 'migrate'));
    const pmd = pud(k, B, G) & 0x000f_ffff_ffff_f000n;
    expect(k.ptdescs.get(pmd)).toMatchObject({ refcount: 1, ptShareCount: 0 });
    expect(k.flushStats.syncIpis).toBe(1); // 1013af4f585f
    expect(checkInvariants(k)).toEqual([]);
  });
});

describe('adjust_range_if_pmd_sharing_possible', () => {
  const vma = (k: Kernel) => new VmArea(k.initMm, 0n, 2n * G, RW, true, k.newHugetlbFile('F', 2n * G, '2M'), 0n);
  it('017b1660df89 alone: (1G-2M, 1G+2M) in (0, 2G) becomes (0, 1G+2M)', async () => {
    const k = await boot('v4.19');
    expect(adjustRangeIfPmdSharingPossible(k, vma(k), G - M2, G + M2)).toEqual([0n, G + M2]);
  });
  it('with 75802ca66354: (0, 2G)', async () => {
    const k = await boot('v5.16');
    expect(adjustRangeIfPmdSharingPossible(k, vma(k), G - M2, G + M2)).toEqual([0n, 2n * G]);
  });
});

describe('flush_tlb_mm_range', () => {
  async function flushOf(profile: string, start: bigint, end: bigint, stride: bigint, hugetlb: boolean) {
    const k = await boot(profile);
    const A = k.mmAlloc('A');
    k.switchTo(0, A);
    const before = { ...k.flushStats };
    flushTlbMmRange(k, 0, A, start, end, stride, false, hugetlb);
    return { invlpg: k.flushStats.invlpg - before.invlpg, full: k.flushStats.fullFlushes - before.fullFlushes };
  }
  it('v4.19: any hugetlb range is a full flush', async () => {
    expect(await flushOf('v4.19', G, G + M2, 21n, true)).toEqual({ invlpg: 0, full: 1 });
  });
  it('a31acd3ee8f7: one 2 MiB page is one INVLPG; a 1 GiB range in 2 MiB strides (512 > 33) is full', async () => {
    expect(await flushOf('v5.16', G, G + M2, 21n, true)).toEqual({ invlpg: 1, full: 0 });
    expect(await flushOf('v5.16', G, 2n * G, 21n, true)).toEqual({ invlpg: 0, full: 1 });
  });
  it('the ceiling: 33 pages are INVLPGs, 34 a full flush', async () => {
    expect(await flushOf('v4.4', G, G + 33n * 4096n, 12n, false)).toEqual({ invlpg: 33, full: 0 });
    expect(await flushOf('v4.4', G, G + 34n * 4096n, 12n, false)).toEqual({ invlpg: 0, full: 1 });
  });
  it('016c4d92cd16: a lazy CPU gets an IPI only when tables are freed', async () => {
    for (const [profile, freed, ipis] of [['v4.19', false, 1], ['v5.16', false, 0], ['v5.16', true, 1]] as const) {
      const k = await boot(profile);
      const A = k.mmAlloc('A');
      k.switchTo(0, A);
      k.switchTo(1, A);
      k.cpus[1].isLazy = true;
      flushTlbMmRange(k, 0, A, G, G + 4096n, 12n, freed);
      expect(k.flushStats.ipisSent, `${profile} freed=${freed}`).toBe(ipis);
    }
  });
});

describe('switch_mm', () => {
  it('v4.4 flushes on every switch; with PCIDs a switch back to an up-to-date ASID does not', async () => {
    for (const [profile, noflush] of [['v4.4', 0], ['v4.19', 1]] as const) {
      const k = await boot(profile);
      const A = k.mmAlloc('A');
      const B = k.mmAlloc('B');
      k.switchTo(0, A);
      k.switchTo(0, B);
      const before = k.flushStats.cr3NoFlush;
      k.switchTo(0, A);
      expect(k.flushStats.cr3NoFlush - before, profile).toBe(noflush);
    }
  });

  /**
   * CPU 1 ran A, ran B, and is switched back to A; the switch stops at `step`; CPU 0 flushes one page
   * of A then. What CPU 1 is told, what its IPI handler does, and when.
   */
  async function flushDuringSwitch(profile: string, overrides: Record<string, boolean>, step: 'cr3' | 'loaded') {
    const k = await boot(profile, overrides);
    const A = k.mmAlloc('A');
    const B = k.mmAlloc('B');
    k.switchTo(0, A);
    k.switchTo(1, A);
    k.switchTo(1, B);
    const gen = switchMm(k, undefined, 1, A);
    let r = gen.next();
    while (!r.done && !('step' in r.value && r.value.step === step)) r = gen.next();
    const during = { loaded: k.cpus[1].loadedMm.name, inMask: A.cpumask.has(1), irqsOff: k.cpus[1].irqsOff !== undefined };
    flushTlbMmRange(k, 0, A, G, G + 4096n, 12n, false);
    const invlpgBefore = k.perCpu[1].invlpg;
    const afterFlush = { ipis: k.perCpu[1].ipisReceived, invlpg: k.perCpu[1].invlpg };
    while (!gen.next().done);
    const slot = k.cpus[1].ctxs[k.cpus[1].loadedAsid];
    return {
      during, afterFlush,
      handledAtEnd: k.perCpu[1].invlpg - invlpgBefore,
      loaded: k.cpus[1].loadedMm.name, irqsOff: k.cpus[1].irqsOff !== undefined, caughtUp: slot.tlbGen === A.tlbGen,
    };
  }

  it('6db2526c1d69 without fea4e317f9e7: a CPU whose loaded_mm is LOADED_MM_SWITCHING gets no IPI and ends the switch behind', async () => {
    for (const step of ['cr3', 'loaded'] as const) {
      expect(await flushDuringSwitch('v6.18', { fea4e317f9e7: false }, step), step).toEqual({
        during: { loaded: 'LOADED_MM_SWITCHING', inMask: true, irqsOff: true },
        afterFlush: { ipis: 0, invlpg: 0 }, handledAtEnd: 0, loaded: 'A', irqsOff: false, caughtUp: false,
      });
    }
  });

  it('fea4e317f9e7: the switching CPU gets the IPI, and its handler runs when the switch ends, with A loaded', async () => {
    for (const step of ['cr3', 'loaded'] as const) {
      expect(await flushDuringSwitch('v6.18', {}, step), step).toEqual({
        during: { loaded: 'LOADED_MM_SWITCHING', inMask: true, irqsOff: true },
        afterFlush: { ipis: 1, invlpg: 0 }, handledAtEnd: 1, loaded: 'A', irqsOff: false, caughtUp: true,
      });
    }
  });

  it('before 6db2526c1d69 every CPU of the mask that is not lazy gets the IPI (tlb_is_not_lazy, and smp_call_function_many before it)', async () => {
    for (const profile of ['v4.19', 'v5.16', 'v6.1']) {
      const r = await flushDuringSwitch(profile, {}, 'loaded');
      expect([r.during.loaded, r.afterFlush.ipis, r.handledAtEnd, r.caughtUp], profile).toEqual(['LOADED_MM_SWITCHING', 1, 1, true]);
    }
  });
});

describe('swap and migration entries', () => {
  it('are encoded as x86-64 Linux encodes them since the L1TF mitigation', async () => {
    const k = await boot('v4.19');
    const e = swpEntryToPte(k, SWP_MIGRATION_WRITE, 0x12345n);
    expect(e >> 59n).toBe(31n);
    expect(e & 0x1ffn).toBe(0n); // P, PSE and the protnone bit clear
    expect((~e >> 9n) & 0x0003_ffff_ffff_ffffn).toBe(0x12345n); // the offset, inverted, from bit 9
    expect(pteToSwpEntry(k, e)).toEqual({ type: 31, offset: 0x12345n });
    expect(pteToSwpEntry(k, swpEntryToPte(k, 0, 77n))).toEqual({ type: 0, offset: 77n });
  });
});

describe('mmu_gather', () => {
  it('99baac21e458: a gather nested in another flushes its whole range even when it cleared nothing', async () => {
    for (const [profile, flushes] of [['v4.4', 0], ['v4.19', 1]] as const) {
      const k = await boot(profile);
      const A = k.mmAlloc('A');
      k.switchTo(0, A);
      const outer = tlbGatherMmu(A, G, G + 4096n);
      const inner = tlbGatherMmu(A, G, G + 4096n);
      tlbFinishMmuFlush(k, op(0, 'madvise'), inner);
      tlbFinishMmuFree(k, inner, 'test');
      expect(k.flushStats.flushes, profile).toBe(flushes);
      tlbFinishMmuFree(k, outer, 'test');
    }
  });
});

describe('munmap of a shared hugetlb range (__unmap_hugepage_range)', () => {
  it.each([
    // v4.19: only the freed PUD table's one page is flushed (one INVLPG at 1 GiB).
    ['v4.19', { flushes: 1, invlpg: 1, fullFlushes: 0 }],
    // a4a118f2eead: the unshared PUD range too, in 2 MiB strides: more than 33, a full flush.
    ['v5.16', { flushes: 2, invlpg: 1, fullFlushes: 1 }],
  ] as const)('%s: what is flushed after the zap unshared the PMD page', async (profile, want) => {
    const k = await boot(profile);
    const { A, B } = sharedSegment(k);
    const before = { ...k.flushStats };
    runToEnd(sysMunmap(k, op(0), A, G, G));
    expect(walkTo(k, A, G, 'pud')).toBeUndefined(); // free_pgtables took A's PUD table too
    expect(hugePteOffset(k, B, G, '2M')).toBeDefined();
    expect({ flushes: k.flushStats.flushes - before.flushes, invlpg: k.flushStats.invlpg - before.invlpg, fullFlushes: k.flushStats.fullFlushes - before.fullFlushes }).toEqual(want);
    expect(checkInvariants(k)).toEqual([]);
  });
});
