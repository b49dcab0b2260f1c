// False alarms are hunted, not waited for: fast-check writes random clean workloads — two processes
// sharing a hugetlbfs segment (and its PMD page) and each with private anonymous memory, secondary MMUs
// of every kind attached, and kernel operations parked between their steps while CPUs, devices and
// other operations run — and replays them under v6.18, the profile that carries every fix of the model.
// A correct kernel has no stale translation to report: any violation is a false alarm of the model
// (or a kernel bug, which the failure's trace must then show; see scenarios/finding-*.jsonl for the
// ones known: the generator leaves out exit, which reaches them).
//
// A failure prints fast-check's seed and path and the shrunk trace, one JSON line per event, ready to
// save as a .jsonl and replay with `mmuwasm replay`.
//   MMUWASM_FC_RUNS=n   runs (default RUNS)
//   MMUWASM_FC_SEED=s   the seed of a reported failure;  MMUWASM_FC_PATH=p  with it, its path
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseTrace, Replay } from '../src/index.ts';

const RUNS = 24;
const envInt = (name: string) => (process.env[name] ? Number(process.env[name]) : undefined);
const params: fc.Parameters<unknown> = {
  numRuns: envInt('MMUWASM_FC_RUNS') ?? RUNS,
  ...(envInt('MMUWASM_FC_SEED') !== undefined ? { seed: envInt('MMUWASM_FC_SEED') } : {}),
  ...(process.env.MMUWASM_FC_PATH ? { path: process.env.MMUWASM_FC_PATH } : {}),
};

type Ev = Record<string, unknown>;
const hex = (n: bigint) => `0x${n.toString(16)}`;

const ANON: Record<string, bigint> = { P: 0x10000000n, Q: 0x20000000n };
const ANON_PAGES = 64n;
const SEG = 0x40000000n; // both map F here: one PMD page, shared
const CPU_OF: Record<string, number> = { P: 0, Q: 2 }; // CPU 1 runs a second thread of P
const DEVICES = [
  { device: 'p-iommu', kind: 'iommu', mm: 'P' }, { device: 'p-kvm', kind: 'kvm', mm: 'P' }, { device: 'p-odp', kind: 'odp', mm: 'P' },
  { device: 'q-iommu', kind: 'iommu', mm: 'Q' }, { device: 'q-kvm', kind: 'kvm', mm: 'Q' },
];

const mmArb = fc.constantFrom('P', 'Q');
const anonRange = fc.tuple(fc.bigInt({ min: 0n, max: ANON_PAGES - 1n }), fc.bigInt({ min: 1n, max: 16n }))
  .map(([first, n]) => ({ off: first * 4096n, len: (first + n > ANON_PAGES ? ANON_PAGES - first : n) * 4096n }));
const hugePage = fc.bigInt({ min: 0n, max: 15n }); // the first 32 MiB of the segment
const addrIn = fc.oneof(
  fc.record({ mm: mmArb, page: fc.bigInt({ min: 0n, max: ANON_PAGES - 1n }) }).map(({ mm, page }) => ({ mm, va: ANON[mm] + page * 4096n })),
  fc.record({ mm: mmArb, page: hugePage, off: fc.bigInt({ min: 0n, max: 511n }) }).map(({ mm, page, off }) => ({ mm, va: SEG + page * (1n << 21n) + off * 4096n })),
);

/** One step of the workload; `park` parks a kernel operation before the named step, resumed later. */
const stepArb: fc.Arbitrary<Ev & { park?: string }> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ mm: mmArb, huge: fc.boolean(), write: fc.constantFrom(0, 0.5, 1), cpu1: fc.boolean() })
    .map(({ mm, huge, write, cpu1 }) => ({
      op: 'accesses', cpu: mm === 'P' && cpu1 ? 1 : CPU_OF[mm], va: hex(huge ? SEG : ANON[mm]), len: huge ? '32M' : hex(ANON_PAGES * 4096n),
      count: 24, pattern: 'random', write,
    })) },
  { weight: 4, arbitrary: fc.record({ d: fc.constantFrom(...DEVICES), a: addrIn, w: fc.boolean() })
    .filter(({ d, a }) => d.mm === a.mm)
    .map(({ d, a, w }) => ({ op: 'device_access', device: d.device, va: hex(a.va), rw: w ? 'w' : 'r' })) },
  { weight: 3, arbitrary: fc.record({ mm: mmArb, r: anonRange, w: fc.boolean(), park: fc.constantFrom(undefined, 'flush', 'unlock') })
    .map(({ mm, r, w, park }) => ({ op: 'mprotect', cpu: CPU_OF[mm], va: hex(ANON[mm] + r.off), len: hex(r.len), prot: w ? 'rw' : 'r', park })) },
  { weight: 2, arbitrary: fc.record({ mm: mmArb, r: anonRange, park: fc.constantFrom(undefined, 'unlock', 'flush', 'free') })
    .map(({ mm, r, park }) => ({ op: 'madvise', cpu: CPU_OF[mm], va: hex(ANON[mm] + r.off), len: hex(r.len), advice: 'dontneed', park })) },
  { weight: 2, arbitrary: fc.record({ page: hugePage, park: fc.constantFrom(undefined, 'copy', 'remap', 'free') })
    .map(({ page, park }) => ({ op: 'migrate', cpu: 1, file: 'F', offset: hex(page << 21n), park })) },
  { weight: 1, arbitrary: fc.record({ page: hugePage, park: fc.constantFrom(undefined, 'unlock', 'flush') })
    .map(({ page, park }) => ({ op: 'fallocate', cpu: 2, file: 'F', offset: hex(page << 21n), len: '2M', mode: 'punch_hole', park })) },
  { weight: 1, arbitrary: fc.record({ mm: mmArb, w: fc.boolean() })
    .map(({ mm, w }) => ({ op: 'mprotect', cpu: CPU_OF[mm], va: hex(SEG), len: '1G', prot: w ? 'rw' : 'r' })) },
  // A GUP-fast walk of P by CPU 1, parked inside the PMD page it read, and a scanner's speculative
  // reference on a PMD page held across whatever runs next.
  { weight: 2, arbitrary: fc.record({ a: addrIn, w: fc.boolean(), park: fc.constantFrom(undefined, 'pmd') })
    .filter(({ a }) => a.mm === 'P')
    .map(({ a, w, park }) => ({ op: 'gup_fast', cpu: 1, va: hex(a.va), rw: w ? 'w' : 'r', park })) },
  { weight: 1, arbitrary: fc.record({ a: addrIn, park: fc.constantFrom(undefined, 'put') })
    .map(({ a, park }) => ({ op: 'speculative_ref', cpu: 1, mm: a.mm, va: hex(a.va), park })) },
  { weight: 1, arbitrary: fc.constant({ op: 'idle', cpu: 1 }) },
  { weight: 1, arbitrary: fc.constant({ op: 'switch', cpu: 1, mm: 'P' }) },
);

const workloadArb = fc.record({
  devices: fc.subarray(DEVICES, { minLength: 1 }),
  steps: fc.array(stepArb, { minLength: 4, maxLength: 22 }),
  resumeAfter: fc.array(fc.nat(4), { minLength: 22, maxLength: 22 }),
  seed: fc.nat(1000),
});

/** The trace: set-up, the steps with each parked operation resumed a few steps later, the rest resumed at the end. */
function traceOf(w: { devices: typeof DEVICES; steps: (Ev & { park?: string })[]; resumeAfter: number[]; seed: number }): Ev[] {
  const out: Ev[] = [
    { format: 'mmuwasm-trace', version: 1, cpus: 3, seed: w.seed },
    { op: 'hugetlbfs', file: 'F', size: '1G', pagesize: '2M' },
    { op: 'mm', mm: 'P' }, { op: 'mm', mm: 'Q' },
    { op: 'switch', cpu: 0, mm: 'P' }, { op: 'switch', cpu: 1, mm: 'P' }, { op: 'switch', cpu: 2, mm: 'Q' },
  ];
  for (const mm of ['P', 'Q']) {
    out.push({ op: 'mmap', cpu: CPU_OF[mm], va: hex(ANON[mm]), len: hex(ANON_PAGES * 4096n), prot: 'rw', flags: 'private' });
    out.push({ op: 'mmap', cpu: CPU_OF[mm], va: hex(SEG), len: '1G', prot: 'rw', flags: 'shared', file: 'F', offset: 0 });
    out.push({ op: 'accesses', cpu: CPU_OF[mm], va: hex(SEG), len: '32M', count: 16, pattern: 'stride', stride: '2M', write: 1 });
  }
  for (const d of w.devices) out.push({ op: 'attach', ...d });
  const pending: { id: string; at: number; op: string }[] = [];
  let idle = false;
  w.steps.forEach((s, i) => {
    for (const p of pending.filter((x) => x.at <= i)) {
      out.push({ op: 'resume', id: p.id });
      pending.splice(pending.indexOf(p), 1);
    }
    const { park, ...ev } = s;
    if (ev.op === 'device_access' && !w.devices.some((d) => d.device === ev.device)) return;
    // A migration and a hole punch of the file, one parked while the other runs: the model frees the
    // page under the migration (issue 15 item 4, being fixed on its own branch); left out until then.
    const other = ev.op === 'migrate' ? 'fallocate' : ev.op === 'fallocate' ? 'migrate' : undefined;
    if (other && pending.some((p) => p.op === other)) return;
    // A lazy CPU 1 runs nothing until it switches back; the steps meant for it go to CPU 0.
    if (ev.op === 'idle') {
      if (idle) return;
      idle = true;
    } else if (ev.op === 'switch') {
      if (!idle) return;
      idle = false;
    } else if (ev.cpu === 1 && idle && ev.op === 'accesses') ev.cpu = 0;
    // GUP-fast walks the address space its CPU runs: not from a lazy CPU.
    if (ev.op === 'gup_fast' && idle) return;
    // A CPU inside a parked GUP-fast section runs nothing else: its walk ends first.
    for (const p of pending.filter((x) => x.op === 'gup_fast' && (ev.cpu === 1 || ev.op === 'idle' || ev.op === 'switch'))) {
      out.push({ op: 'resume', id: p.id });
      pending.splice(pending.indexOf(p), 1);
    }
    if (park) {
      // One operation parked at a time: a second one could be queued behind the first (a lock it
      // holds) and not yet parked when its resume comes, which is not a valid trace.
      for (const p of pending.splice(0)) out.push({ op: 'resume', id: p.id });
      const id = `op${i}`;
      out.push({ ...ev, id, until: park });
      pending.push({ id, at: i + 1 + w.resumeAfter[i], op: String(ev.op) });
    } else out.push(ev);
  });
  for (const p of pending) out.push({ op: 'resume', id: p.id });
  out.push({ op: 'expect', violations: 0 });
  return out;
}

async function replay(lines: string[]) {
  let replay: Replay | undefined;
  let last = 0;
  try {
    for (const item of parseTrace(lines, 'generated.jsonl')) {
      last = item.line;
      if (item.kind === 'header') replay = await Replay.create(item.header, { kernel: 'v6.18' }, 'generated.jsonl');
      else await replay!.run(item.line, item.event);
    }
    await replay!.finish(last);
    return replay!.result();
  } finally {
    await replay?.close();
  }
}

describe('random clean workloads with devices attached and operations in flight', () => {
  it('report no violation under v6.18, which carries every fix', async () => {
    await fc.assert(
      fc.asyncProperty(workloadArb, async (w) => {
        const lines = traceOf(w).map((e) => JSON.stringify(e));
        const report = await replay(lines);
        if (report.violations.length) {
          throw new Error(`${report.violations.length} violations, the first: ${report.violations[0].kind} at line ${report.violations[0].line}: ${report.violations[0].detail}\n${lines.join('\n')}`);
        }
        expect(report.complete).toBe(true);
      }),
      params,
    );
  }, 120_000);
});
