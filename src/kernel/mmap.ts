// mm/mmap.c: mmap, munmap (do_munmap → unmap_region) and exit_mmap, with __split_vma. munmap and exit
// run as the trace's steps `zap`, `unlock`, `flush`, `free`.
import type { Kernel } from './kernel.ts';
import { VmArea, type HugetlbFile, type MmStruct, type Prot } from './mm_types.ts';
import type { Op, OpGen } from './ops.ts';
import { freePgtables, hugetlbZapBegin, unmapSingleVma } from './memory.ts';
import { tlbFinishMmuFlush, tlbFinishMmuFree, tlbGatherMmu } from './mmu_gather.ts';
import { switchMmIrqsOff, enterLazyTlb } from './tlbflush.ts';
import { freeTable, readEntry, ptePresent, PTE_PFN_MASK, _PAGE_PSE } from './pgtable.ts';
import { hugetlbSplit, hugetlbUnreservePages, hugetlbVmOpClose, hugetlbReservePages, pmdShared } from './hugetlb.ts';

const pmdIsShared = (k: Kernel, pa: bigint) => pmdShared(k, k.ptdescs.get(pa)!);

export class KernelRefusal extends Error {}

export interface MmapArgs {
  va: bigint;
  len: bigint;
  prot: Prot;
  shared: boolean;
  file?: HugetlbFile;
  offset: bigint;
  hugetlb?: '2M' | '1G';
}

/** do_mmap with MAP_FIXED_NOREPLACE semantics: a trace names the address; overlapping is refused. */
export function doMmap(k: Kernel, mm: MmStruct, a: MmapArgs): VmArea | undefined {
  let file = a.file;
  if (!file && a.hugetlb) {
    // MAP_HUGETLB: anonymous hugetlb memory is an unnamed hugetlbfs file.
    file = k.newHugetlbFile(`anon-hugetlb@${mm.name}:0x${a.va.toString(16)}`, a.len, a.hugetlb, true);
  }
  const align = file ? file.hpageBytes : 4096n;
  if (a.va % align !== 0n) throw new KernelRefusal(`address 0x${a.va.toString(16)} is not aligned to the ${file ? file.pagesize : '4K'} pages of the mapping`);
  if (a.len % align !== 0n) throw new KernelRefusal(`length 0x${a.len.toString(16)} is not a multiple of the ${file ? file.pagesize : '4K'} page size`);
  if (file && !file.anonymous && a.offset % file.hpageBytes !== 0n) throw new KernelRefusal(`offset 0x${a.offset.toString(16)} is not aligned to the file's ${file.pagesize} pages`);
  if (a.va + a.len > 1n << (k.levels === 5 ? 56n : 47n)) throw new KernelRefusal(`[0x${a.va.toString(16)}, +0x${a.len.toString(16)}) is beyond the user address space`);
  if (mm.hasVmaIn(a.va, a.va + a.len)) throw new KernelRefusal(`[0x${a.va.toString(16)}, 0x${(a.va + a.len).toString(16)}) overlaps an existing mapping of ${mm.name}`);
  if (file && !file.anonymous && a.offset + a.len > file.size) throw new KernelRefusal(`the mapping runs past the end of file ${file.name} (size 0x${file.size.toString(16)})`);
  const pgoff = file ? (file.anonymous ? 0n : a.offset >> 12n) : a.va >> 12n;
  const vma = new VmArea(mm, a.va, a.va + a.len, a.prot, a.shared, file, pgoff);
  if (file && !hugetlbReservePages(k, vma)) return undefined;
  mm.insertVma(vma);
  if (file) file.iMmap.push(vma);
  return vma;
}

/** __split_vma: vma keeps [start, addr), a new VMA after it in i_mmap gets [addr, end). */
export function splitVma(vma: VmArea, addr: bigint): VmArea {
  const nv = new VmArea(vma.mm, addr, vma.end, { ...vma.prot }, vma.shared, vma.file, vma.pgoff + ((addr - vma.start) >> 12n));
  nv.anonVma = vma.anonVma;
  if (nv.anonVma) nv.anonVma.vmas.push(nv);
  nv.resvMap = vma.resvMap;
  nv.hugepage = vma.hugepage;
  vma.end = addr;
  vma.mm.insertVma(nv);
  if (vma.file) {
    const i = vma.file.iMmap.indexOf(vma);
    vma.file.iMmap.splice(i + 1, 0, nv);
  }
  return nv;
}

/** The VMAs covering exactly [start, end), split at its ends (huge-page alignment checked). */
export function vmasExactly(mm: MmStruct, start: bigint, end: bigint): VmArea[] {
  for (const v of mm.vmasIn(start, end)) {
    const align = v.file ? v.file.hpageBytes : 4096n;
    if ((start > v.start && start % align !== 0n) || (end < v.end && end % align !== 0n)) {
      throw new KernelRefusal(`[0x${start.toString(16)}, 0x${end.toString(16)}) splits a ${v.file ? v.file.pagesize : '4K'} page of the mapping at 0x${v.start.toString(16)}`);
    }
  }
  for (const v of mm.vmasIn(start, end)) {
    if (start > v.start && start < v.end) splitVma(v, start);
  }
  for (const v of mm.vmasIn(start, end)) {
    if (end > v.start && end < v.end) splitVma(v, end);
  }
  return mm.vmasIn(start, end);
}

/** vmasExactly, running hugetlb_split (081056dc00a2) first for each hugetlb VMA about to be split. */
export function* vmasExactlySplitting(k: Kernel, op: Op, mm: MmStruct, start: bigint, end: bigint): OpGen<VmArea[]> {
  const aligned = mm.vmasIn(start, end).every((v) => {
    const align = v.file ? v.file.hpageBytes : 4096n;
    return !((start > v.start && start % align !== 0n) || (end < v.end && end % align !== 0n));
  });
  if (aligned) {
    for (const v of mm.vmasIn(start, end)) {
      // __split_vma at start first (the VMA then begins there), then at end (mm/vma.c, v6.18).
      if (v.isHugetlb && start > v.start && start < v.end) yield* hugetlbSplit(k, op, v, start);
      if (v.isHugetlb && end > v.start && end < v.end) yield* hugetlbSplit(k, op, v, end, start > v.start ? start : v.start);
    }
  }
  return vmasExactly(mm, start, end);
}

function detachVma(vma: VmArea): void {
  vma.mm.removeVma(vma);
  if (vma.file) vma.file.iMmap.splice(vma.file.iMmap.indexOf(vma), 1);
  if (vma.anonVma) vma.anonVma.vmas.splice(vma.anonVma.vmas.indexOf(vma), 1);
}

/** The zap, unlock, flush, free of unmap_region over [start, end) of the given VMAs. */
export function* unmapRegion(k: Kernel, op: Op, mm: MmStruct, vmas: VmArea[], start: bigint, end: bigint, fullmm: boolean): OpGen {
  yield { step: 'zap' };
  const release = yield* hugetlbZapBegin(k, op, vmas);
  const tlb = tlbGatherMmu(mm, start, end, fullmm);
  for (const v of vmas) {
    // d833352a4338: a VMA on its way out must not hand its PMD page to a new sharer.
    if (v.isHugetlb && k.fixes.has('d833352a4338')) v.mayShare = false;
    yield* unmapSingleVma(k, op, tlb, v, start, end);
  }
  for (const v of vmas) {
    hugetlbVmOpClose(k, v);
    detachVma(v);
    // Anonymous hugetlb memory is an unnamed file: with its last mapping the inode goes, and with it
    // the reservations its pages did not use (hugetlbfs_evict_inode → remove_inode_hugepages).
    if (v.file?.anonymous && v.file.iMmap.length === 0) hugetlbUnreservePages(k, v.file, 0, Number.MAX_SAFE_INTEGER);
  }
  freePgtables(k, tlb, mm, start, end);
  yield { step: 'unlock' };
  release();
  yield { step: 'flush' };
  tlbFinishMmuFlush(k, op, tlb);
  yield { step: 'free' };
  tlbFinishMmuFree(k, tlb, fullmm ? `exit of ${mm.name}` : `munmap in ${mm.name}`);
}

/** munmap (do_munmap) under mmap_lock for write. */
export function* sysMunmap(k: Kernel, op: Op, mm: MmStruct, start: bigint, len: bigint): OpGen {
  if (start % 4096n !== 0n) throw new KernelRefusal(`munmap address 0x${start.toString(16)} is not page aligned`);
  const end = start + ((len + 4095n) & ~4095n);
  yield* mm.mmapLock.downWrite(op);
  try {
    const vmas = yield* vmasExactlySplitting(k, op, mm, start, end);
    yield* unmapRegion(k, op, mm, vmas, start, end, false);
  } finally {
    mm.mmapLock.upWrite(op);
  }
  k.observer.opReturned(op, [mm], start, end);
}

/** exit_mmap: the whole address space, with a full-mm gather; then the CPUs let go of it. */
export function* exitMmap(k: Kernel, op: Op, mm: MmStruct): OpGen {
  const cpu = op.cpu;
  // A task of mm being switched in holds mm_users: the address space is torn down after that switch.
  for (let c = 0; c < k.cpus.length; c++) {
    const off = k.cpus[c].irqsOff;
    if (off?.next === mm && off.op) yield { wait: off.op, reason: `CPU ${c} is switching to ${mm.name} (the switch of line ${off.op.line})` };
  }
  enterLazyTlb(k, cpu);
  yield* mm.mmapLock.downWrite(op);
  const vmas = [...mm.vmas];
  yield* unmapRegion(k, op, mm, vmas, 0n, 1n << 57n, true);
  mm.mmapLock.upWrite(op);
  mm.exited = true;
  // The CPUs that still have it loaded (this one and lazy ones) switch to init_mm before mmdrop.
  for (let c = 0; c < k.cpus.length; c++) {
    if (k.cpus[c].loadedMm !== mm) continue;
    switchMmIrqsOff(k, c, k.initMm);
    k.cpus[c].isLazy = true;
  }
  freeRemainingTables(k, mm, mm.pgd, k.levels - 1);
  freeTable(k, mm.pgd, `exit of ${mm.name}`);
  k.mms.delete(mm.name);
  k.mmsByCtx.delete(mm.ctxId);
}

/** Tables still linked at teardown (shared PMD pages are left to their other users). */
function freeRemainingTables(k: Kernel, mm: MmStruct, table: bigint, level: number): void {
  if (level === 0) return;
  for (let i = 0n; i < 512n; i++) {
    const e = readEntry(k, table + i * 8n);
    if (!ptePresent(e) || (e & _PAGE_PSE) !== 0n) continue;
    const child = e & PTE_PFN_MASK;
    const d = k.ptdescs.get(child);
    if (!d || (d.level === 'pmd' && k.ptdescs.get(child) && pmdIsShared(k, child))) continue;
    freeRemainingTables(k, mm, child, level - 1);
    k.machine.writeEntry(table + i * 8n, 0n);
    freeTable(k, child, `exit of ${mm.name}`);
  }
}
