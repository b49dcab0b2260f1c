// The built-in demonstration of the hardware (`npm start` until the replay command takes its place):
// two address spaces with 4 KiB, 2 MiB and 1 GiB pages on a 2-CPU machine with the real TLB
// geometry, a stream of accesses per CPU, a remapped page that stays stale until INVLPG (and what
// the oracle says when its old frame is freed first), a PCID switch that keeps entries, and the
// counters.
import { Machine } from '../mmu/machine.ts';
import { PageTables } from '../mmu/builder.ts';
import { PhysicalMemory } from '../mmu/physmem.ts';
import { KIND, type AccessResult, type Counters } from '../mmu/model.ts';

const hex = (v: bigint) => `0x${v.toString(16)}`;
const CR4_PCIDE = 1n << 17n;
const CR4_PGE = 1n << 7n;

function show(r: AccessResult): string {
  if (r.status === 'ok') return `→ pa ${hex(r.pa)}`;
  if (r.status === 'page-fault') return `→ #PF error code ${r.errorCode} (${pfBits(r.errorCode)}) at ${hex(r.cr2)}`;
  return '→ #GP(0)';
}
function pfBits(code: number): string {
  const names = ['P', 'W', 'U', 'RSVD', 'I/D', 'PK'];
  return names.filter((_, i) => code & (1 << i)).join('|') || 'not present';
}

/** xorshift32: the demo's accesses are the same on every run. */
function* random(seed: number): Generator<number> {
  let x = seed >>> 0 || 1;
  for (;;) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    yield x;
  }
}

export async function runDemo(out: (line: string) => void = console.log): Promise<number> {
  const machine = await Machine.create({ ncpus: 2, mode: 'capacity' });
  const tables = new PageTables(machine);
  const frames = new PhysicalMemory(machine);
  out('mmuwasm — the hardware: 2 CPUs, Skylake TLB geometry (capacity mode), 4-level paging, PCIDs\n');

  // Process A: 256 KiB of 4 KiB pages and 16 MiB of 2 MiB pages. Process B: one 1 GiB page, and the
  // same 2 MiB frames as A (shared memory) at another address.
  const rootA = tables.newRoot();
  const rootB = tables.newRoot();
  const heap = 0x7f00_0000_0000n;
  const huge = 0x4000_0000n;
  const shared = 0x1_0000_0000n;
  const small: bigint[] = [];
  for (let i = 0n; i < 64n; i++) {
    const f = frames.alloc('4K');
    small.push(f);
    tables.map(rootA, heap + i * 4096n, f, '4K', { executable: false });
  }
  for (let i = 0n; i < 8n; i++) {
    const f = frames.alloc('2M');
    tables.map(rootA, huge + i * (1n << 21n), f, '2M');
    tables.map(rootB, shared + i * (1n << 21n), f, '2M', { writable: false });
  }
  tables.map(rootB, 0x8000_0000n, frames.alloc('1G'), '1G');
  out(`page tables: ${tables.tablesInUse} tables in the pool; A maps 64 × 4K + 8 × 2M, B maps 8 × 2M (shared with A, read-only) + 1 × 1G`);

  for (const cpu of [0, 1]) {
    machine.writeCr4(cpu, CR4_PGE | CR4_PCIDE);
  }
  machine.writeCr3(0, rootA | 1n); // A runs with PCID 1 on CPU 0
  machine.writeCr3(1, rootB | 2n); // B runs with PCID 2 on CPU 1

  out('\nsingle accesses:');
  const probes: [number, bigint, number, string][] = [
    [0, heap + 0x1234n, KIND.write, 'A writes its heap (4K)'],
    [0, heap + 0x1234n, KIND.fetch, 'A executes from its heap (XD)'],
    [0, huge + 0x20_0042n, KIND.read, 'A reads a 2M page'],
    [1, shared + 0x20_0042n, KIND.read, 'B reads the same frame'],
    [1, shared + 0x20_0042n, KIND.write, 'B writes it (read-only for B)'],
    [1, 0x8123_4567n, KIND.write, 'B writes its 1G page'],
    [1, 0x7fff_0000_0000n, KIND.read, 'B reads where nothing is mapped'],
    [0, 0x8000_0000_0000n, KIND.read, 'A reads a non-canonical address'],
  ];
  for (const [cpu, va, kind, what] of probes) {
    out(`  cpu${cpu} ${what.padEnd(34)} ${hex(va).padStart(16)} ${show(machine.access(cpu, va, kind))}`);
  }

  // A stream of accesses per CPU, run in batches: one call into WebAssembly per batch.
  const N = 200_000;
  const rng = random(2026);
  for (const cpu of [0, 1]) {
    const area = machine.batchArea(cpu);
    let left = N;
    while (left > 0) {
      const n = Math.min(area.capacity, left);
      for (let i = 0; i < n; i++) {
        const r = rng.next().value as number;
        let va: bigint;
        if (cpu === 0) va = r & 1 ? heap + BigInt(r % (64 * 4096)) : huge + BigInt(r % (16 << 20));
        else va = r & 1 ? shared + BigInt(r % (16 << 20)) : 0x8000_0000n + BigInt(r % (1 << 30));
        area.records[4 * i] = Number(va & 0xffffffffn);
        area.records[4 * i + 1] = Number(va >> 32n);
        area.records[4 * i + 2] = cpu === 0 && r % 4 === 0 ? KIND.write : KIND.read;
      }
      const stop = machine.runBatch(cpu, 0, n);
      if (stop.status !== 'ok') throw new Error(`the demo's stream faulted: ${stop.status} at ${hex(stop.cr2)}`);
      left -= n;
    }
  }
  out(`\n${N} random accesses per CPU (A: heap and 2M pages, 25% writes; B: shared 2M pages and the 1G page)`);

  // Remap one of A's pages without invalidating: CPU 0 keeps using its cached translation.
  const va = heap + 5n * 4096n;
  const oldFrame = small[5];
  const newFrame = frames.alloc('4K');
  machine.access(0, va, KIND.read);
  tables.unmap(rootA, va, '4K');
  tables.map(rootA, va, newFrame, '4K', { executable: false });
  out('\nA\'s page at ' + hex(va) + ` moves from frame ${hex(oldFrame)} to ${hex(newFrame)} without a flush:`);
  out(`  cpu0 reads it            ${show(machine.access(0, va, KIND.read))}   (the TLB still holds the old translation)`);
  frames.free(oldFrame);
  out(`  the old frame is freed; cpu0 reads again ${show(machine.access(0, va, KIND.read))}`);
  for (const e of machine.drainEvents(0)) {
    out(`  oracle: ${e.kind} — cpu0 used a translation of ${hex(e.va)} to frame ${hex(e.pa)}, freed since it was cached (generation ${e.stamp} → ${machine.readGeneration(e.slot)})`);
  }
  machine.invlpg(0, va);
  out(`  after INVLPG on cpu0    ${show(machine.access(0, va, KIND.read))}`);

  // PCIDs: CPU 0 switches to B and back without flushing; A's entries survive under PCID 1.
  const before = machine.tlbEntries(0).filter((e) => e.pcid === 1).length;
  machine.writeCr3(0, rootB | 2n | (1n << 63n));
  machine.access(0, 0x8000_0000n, KIND.read);
  machine.writeCr3(0, rootA | 1n | (1n << 63n));
  const after = machine.tlbEntries(0).filter((e) => e.pcid === 1).length;
  out(`\ncpu0 switches to B and back with the no-flush bit: ${before} TLB entries of PCID 1 before, ${after} after`);
  machine.writeCr3(0, rootA | 1n);
  out(`cpu0 reloads CR3 without the no-flush bit: ${machine.tlbEntries(0).filter((e) => e.pcid === 1).length} entries of PCID 1 remain`);

  out('\ncounters:');
  const rows: [string, (c: Counters) => bigint][] = [
    ['accesses', (c) => c.accesses],
    ['L1 dTLB hits 4K / 2M / 1G', (c) => c.dtlb4kHits + c.dtlb2mHits + c.dtlb1gHits],
    ['STLB hits', (c) => c.stlb4kHits + c.stlb2mHits + c.stlb1gHits],
    ['TLB misses (walks)', (c) => c.tlbMisses],
    ['entries read by walks', (c) => c.walkLoads],
    ['PSC hits (PML4E / PDPTE / PDE)', (c) => c.pscPml4Hits + c.pscPdpteHits + c.pscPdeHits],
    ['A bits set / D bits set', (c) => c.aSets + c.dSets],
    ['dirty re-walks', (c) => c.dirtyRewalks],
    ['page faults / #GP', (c) => c.pageFaults + c.gpFaults],
    ['INVLPG', (c) => c.invlpg],
    ['CR3 loads flushing / not flushing', (c) => c.cr3Flush + c.cr3NoFlush],
  ];
  const c0 = machine.counters(0);
  const c1 = machine.counters(1);
  const detail = (c: Counters, name: string): string => {
    if (name.startsWith('L1')) return `${c.dtlb4kHits} / ${c.dtlb2mHits} / ${c.dtlb1gHits}`;
    if (name.startsWith('PSC')) return `${c.pscPml4Hits} / ${c.pscPdpteHits} / ${c.pscPdeHits}`;
    if (name.startsWith('A bits')) return `${c.aSets} / ${c.dSets}`;
    if (name.startsWith('page faults')) return `${c.pageFaults} / ${c.gpFaults}`;
    if (name.startsWith('CR3')) return `${c.cr3Flush} / ${c.cr3NoFlush}`;
    return '';
  };
  out(`  ${''.padEnd(34)} ${'cpu0'.padStart(22)} ${'cpu1'.padStart(22)}`);
  for (const [name, f] of rows) {
    const a = detail(c0, name) || String(f(c0));
    const b = detail(c1, name) || String(f(c1));
    out(`  ${name.padEnd(34)} ${a.padStart(22)} ${b.padStart(22)}`);
  }
  const hitRate = (c: Counters) => (100 * Number(c.accesses - c.tlbMisses)) / Number(c.accesses);
  out(`  ${'TLB hit rate'.padEnd(34)} ${(hitRate(c0).toFixed(2) + '%').padStart(22)} ${(hitRate(c1).toFixed(2) + '%').padStart(22)}`);
  return 0;
}
