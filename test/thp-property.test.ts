// False alarms hunted in the THP paths: fast-check writes random clean workloads over 8 MiB of private
// anonymous memory — 4 KiB faults, THP faults in MADV_HUGEPAGE blocks, khugepaged collapses, zaps of
// whole blocks by MADV_DONTNEED and munmap parked between their steps, devices of every kind attached —
// and replays them under every profile (CPU 1 stays on P) and under v6.18 with CPU 1 going idle and
// coming back (a lazy CPU is B13's window before 3ef938c35035, so only the profile with the fix can
// have one and stay clean). Any violation is a false alarm of the model.
//
// A failure prints the trace, one JSON line per event, ready to replay with `mmuwasm replay`.
//   MMUWASM_FC_RUNS=n   runs (default RUNS);  MMUWASM_FC_SEED=s  the seed of a reported failure
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseTrace, Replay } from '../src/index.ts';
import { PROFILE_NAMES } from '../src/kernel/profiles.ts';

const RUNS = 16;
const envInt = (name: string) => (process.env[name] ? Number(process.env[name]) : undefined);
const params: fc.Parameters<unknown> = {
  numRuns: envInt('MMUWASM_FC_RUNS') ?? RUNS,
  ...(envInt('MMUWASM_FC_SEED') !== undefined ? { seed: envInt('MMUWASM_FC_SEED') } : {}),
};

type Ev = Record<string, unknown>;
const hex = (n: bigint) => `0x${n.toString(16)}`;
const BASE = 0x40000000n;
const BLOCK = 1n << 21n;
const BLOCKS = 4n;
const DEVICES = [
  { device: 'iommu0', kind: 'iommu', mm: 'P' }, { device: 'kvm0', kind: 'kvm', mm: 'P' }, { device: 'odp0', kind: 'odp', mm: 'P' },
];

const blockArb = fc.bigInt({ min: 0n, max: BLOCKS - 1n });
const stepArb: fc.Arbitrary<Ev & { park?: string; block?: bigint }> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ write: fc.constantFrom(0, 0.5, 1), cpu: fc.constantFrom(0, 1), seed: fc.nat(1000) })
    .map(({ write, cpu, seed }) => ({ op: 'accesses', cpu, va: hex(BASE), len: hex(BLOCKS * BLOCK), count: 24, pattern: 'random', write, seed })) },
  { weight: 4, arbitrary: fc.record({ d: fc.constantFrom(...DEVICES), page: fc.bigInt({ min: 0n, max: BLOCKS * 512n - 1n }), w: fc.boolean() })
    .map(({ d, page, w }) => ({ op: 'device_access', device: d.device, va: hex(BASE + page * 4096n), rw: w ? 'w' : 'r' })) },
  { weight: 3, arbitrary: blockArb.map((block) => ({ op: 'khugepaged', cpu: 2, mm: 'P', va: hex(BASE + block * BLOCK + 0x5000n), block })) },
  { weight: 2, arbitrary: blockArb.map((block) => ({ op: 'madvise', cpu: 0, va: hex(BASE + block * BLOCK), len: '2M', advice: 'hugepage', block })) },
  { weight: 2, arbitrary: fc.record({ block: blockArb, park: fc.constantFrom(undefined, 'unlock', 'flush', 'free') })
    .map(({ block, park }) => ({ op: 'madvise', cpu: 0, va: hex(BASE + block * BLOCK), len: '2M', advice: 'dontneed', park, block })) },
  { weight: 1, arbitrary: fc.record({ block: blockArb, park: fc.constantFrom(undefined, 'unlock', 'flush', 'free') })
    .map(({ block, park }) => ({ op: 'munmap', cpu: 0, va: hex(BASE + block * BLOCK), len: '2M', park, block })) },
  { weight: 1, arbitrary: fc.constant({ op: 'idle', cpu: 1 }) },
  { weight: 1, arbitrary: fc.constant({ op: 'switch', cpu: 1, mm: 'P' }) },
);

const workloadArb = fc.record({
  devices: fc.subarray(DEVICES, { minLength: 1 }),
  steps: fc.array(stepArb, { minLength: 4, maxLength: 24 }),
  resumeAfter: fc.array(fc.nat(4), { minLength: 24, maxLength: 24 }),
});

/** The trace; `lazy`: CPU 1 may go idle. A block once unmapped gets no further syscall (the call would be refused). */
function traceOf(w: { devices: typeof DEVICES; steps: (Ev & { park?: string; block?: bigint })[]; resumeAfter: number[] }, lazy: boolean): Ev[] {
  const out: Ev[] = [
    { format: 'mmuwasm-trace', version: 1, cpus: 3 },
    { op: 'mm', mm: 'P' }, { op: 'switch', cpu: 0, mm: 'P' }, { op: 'switch', cpu: 1, mm: 'P' },
    { op: 'mmap', cpu: 0, va: hex(BASE), len: hex(BLOCKS * BLOCK), prot: 'rw', flags: 'private' },
    { op: 'accesses', cpu: 0, va: hex(BASE), len: '2M', count: 8, pattern: 'random', write: 1 },
    { op: 'madvise', cpu: 0, va: hex(BASE), len: '4M', advice: 'hugepage' },
  ];
  for (const d of w.devices) out.push({ op: 'attach', ...d });
  const pending: { id: string; at: number }[] = [];
  const unmapped = new Set<bigint>();
  let idle = false;
  w.steps.forEach((s, i) => {
    for (const p of pending.filter((x) => x.at <= i)) {
      out.push({ op: 'resume', id: p.id });
      pending.splice(pending.indexOf(p), 1);
    }
    const { park, block, ...ev } = s;
    if (ev.op === 'device_access' && !w.devices.some((d) => d.device === ev.device)) return;
    if (block !== undefined && ev.op !== 'khugepaged' && unmapped.has(block)) return;
    if (ev.op === 'munmap') unmapped.add(block!);
    if (ev.op === 'idle') {
      if (!lazy || idle) return;
      idle = true;
    } else if (ev.op === 'switch') {
      if (!idle) return;
      idle = false;
    } else if (ev.cpu === 1 && idle) ev.cpu = 0;
    if (park) {
      for (const p of pending.splice(0)) out.push({ op: 'resume', id: p.id });
      const id = `op${i}`;
      out.push({ ...ev, id, until: park });
      pending.push({ id, at: i + 1 + w.resumeAfter[i] });
    } else out.push(ev);
  });
  for (const p of pending) out.push({ op: 'resume', id: p.id });
  out.push({ op: 'expect', violations: 0 });
  return out;
}

async function replay(lines: string[], kernel: string) {
  let replay: Replay | undefined;
  let last = 0;
  try {
    for (const item of parseTrace(lines, 'generated.jsonl')) {
      last = item.line;
      if (item.kind === 'header') replay = await Replay.create(item.header, { kernel }, 'generated.jsonl');
      else await replay!.run(item.line, item.event);
    }
    await replay!.finish(last);
    return replay!.result();
  } finally {
    await replay?.close();
  }
}

/**
 * No false alarm: every violation must name a fix the profile lacks — a generated workload may meet a
 * real bug of an old release (two MADV_DONTNEEDs of one range in flight are B10 before 99baac21e458),
 * and that is the model being right.
 */
async function clean(lines: string[], kernel: string): Promise<void> {
  const report = await replay(lines, kernel);
  if (report.error) throw new Error(`${kernel}: line ${report.error.line}: ${report.error.message}\n${lines.join('\n')}`);
  const falseAlarms = report.violations.filter((v) => !(v.fix !== undefined && report.fixes[v.fix] === false));
  if (falseAlarms.length) {
    const v = falseAlarms[0];
    throw new Error(`${kernel}: ${falseAlarms.length} violations naming no missing fix, the first: ${v.kind} at line ${v.line}: ${v.detail}\n${lines.join('\n')}`);
  }
  expect(report.complete).toBe(true);
}

describe('random clean THP workloads with devices attached and zaps in flight', () => {
  it('report no violation under any profile, but those of fixes the profile lacks, while no CPU is lazy', async () => {
    await fc.assert(fc.asyncProperty(workloadArb, async (w) => {
      const lines = traceOf(w, false).map((e) => JSON.stringify(e));
      for (const kernel of PROFILE_NAMES) await clean(lines, kernel);
    }), params);
  }, 180_000);

  it('report no violation under v6.18 with CPU 1 going idle', async () => {
    await fc.assert(fc.asyncProperty(workloadArb, async (w) => {
      await clean(traceOf(w, true).map((e) => JSON.stringify(e)), 'v6.18');
    }), params);
  }, 120_000);
});
