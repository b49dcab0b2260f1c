// Ground truth the kernel model must keep, checked by walking the real tables: every PUD entry that
// links a PMD page is counted in that page's share count, no table reachable from a live address
// space has been freed, every page's map count is the number of entries that map it, and every PMD
// page holds one deposited PTE table per transparent huge PMD it has (pgtable_trans_huge_deposit).
import type { Kernel } from './kernel.ts';
import { pmdShared } from './hugetlb.ts';
import { PTE_PFN_MASK, _PAGE_PRESENT, _PAGE_PSE } from './pgtable.ts';

export function checkInvariants(k: Kernel): string[] {
  const problems: string[] = [];
  const links = new Map<bigint, Set<string>>(); // PMD page → the mms whose PUD links it
  const leafEntries = new Map<bigint, Set<bigint>>(); // page → entry addresses that map it
  const hex = (v: bigint) => `0x${v.toString(16)}`;
  for (const mm of k.mms.values()) {
    if (mm.exited) continue;
    const visit = (table: bigint, level: number, base: bigint): void => {
      if (!k.ptdescs.has(table)) {
        problems.push(`${mm.name}: a table at ${hex(table)} is linked but was freed`);
        return;
      }
      let thps = 0;
      for (let i = 0n; i < 512n; i++) {
        const ea = table + i * 8n;
        const e = k.machine.readEntry(ea);
        if ((e & _PAGE_PRESENT) === 0n) continue;
        const shift = 12n + 9n * BigInt(level);
        const va = base + (i << shift);
        if (level === 0 || (level <= 2 && (e & _PAGE_PSE) !== 0n)) {
          const pa = e & PTE_PFN_MASK & ~((1n << shift) - 1n);
          if (!k.pages.has(pa)) {
            problems.push(`${mm.name}: ${hex(va)} maps ${hex(pa)}, which is not an allocated page`);
            continue;
          }
          if (level === 1 && k.pages.get(pa)!.isAnon) thps++;
          let set = leafEntries.get(pa);
          if (!set) leafEntries.set(pa, (set = new Set()));
          set.add(ea);
          continue;
        }
        const child = e & PTE_PFN_MASK;
        if (level === 2) {
          let s = links.get(child);
          if (!s) links.set(child, (s = new Set()));
          s.add(mm.name);
          // A shared PMD page is visited once per sharer: its entries are counted once (a Set).
        }
        visit(child, level - 1, va);
      }
      const deposited = k.ptdescs.get(table)?.pmdHugePte.length ?? 0;
      if (level === 1 && deposited !== thps) problems.push(`${mm.name}: PMD page ${hex(table)} maps ${thps} transparent huge page(s) but holds ${deposited} deposited PTE table(s)`);
    };
    visit(mm.pgd, k.levels - 1, 0n);
  }
  for (const [pa, sharers] of links) {
    const d = k.ptdescs.get(pa);
    if (!d) continue;
    const counted = (k.fixes.has('59d9094df3d7') ? d.ptShareCount + 1 : d.refcount - d.speculativeRefs) - d.unsharesInFlight;
    if (counted !== sharers.size) {
      problems.push(`PMD page ${hex(pa)} is linked by ${sharers.size} address space(s) (${[...sharers].join(', ')}) but its share count says ${counted}`);
    }
    if (sharers.size > 1 && !pmdShared(k, d)) problems.push(`PMD page ${hex(pa)} is linked by several address spaces but not counted as shared`);
  }
  for (const [pa, page] of k.pages) {
    const n = leafEntries.get(pa)?.size ?? 0;
    if (n !== page.mapcount) problems.push(`page ${hex(pa)} has map count ${page.mapcount} but ${n} entries map it`);
  }
  return problems;
}
