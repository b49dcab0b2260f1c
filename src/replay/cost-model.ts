// The cost model: what the translation work of a replay would cost a real CPU, in core cycles, from
// the hardware's per-CPU counters (walks, entries read, INVLPG, flushing CR3 writes, INVPCID) and the
// kernel model's IPIs (sent by the CPU that flushes, received by each target). It prices the
// events the emulator counts, nothing else: a TLB hit is free, the refills after a flush are the
// walks they cause, the kernel's own code paths are not modelled. Defaults and their sources:
// docs/cost-model.md. Per-CPU and total estimates go into the report's stats, so two runs (profiles,
// fixes, geometries) can be compared by cost.
import type { Counters } from '../mmu/model.ts';
import type { PerCpuStats } from '../kernel/kernel.ts';

export interface CostModel {
  /** Cycles per page walk (its fixed part: the page-miss handler's start and the TLB fill). */
  walk: number;
  /** Cycles per paging-structure entry a walk reads (a load that hits the data caches). */
  level: number;
  /** Cycles per INVLPG executed. */
  invlpg: number;
  /** Cycles per MOV to CR3 that flushes (a full flush of the PCID). */
  flush: number;
  /** Cycles per INVPCID executed (any type). */
  invpcid: number;
  /** Cycles the flushing CPU spends per IPI it sends (writing the ICR, waiting for the target's acknowledgement). */
  ipiSend: number;
  /** Cycles a CPU spends per flush IPI it receives (interrupt entry and exit, the handler). */
  ipiReceive: number;
}

export const COST_KEYS = ['walk', 'level', 'invlpg', 'flush', 'invpcid', 'ipiSend', 'ipiReceive'] as const;
export type CostKey = (typeof COST_KEYS)[number];

/** Defaults for a recent Intel core (Skylake and later), no page-table isolation: docs/cost-model.md. */
export const DEFAULT_COSTS: Readonly<CostModel> = {
  walk: 10,
  level: 8,
  invlpg: 150,
  flush: 250,
  invpcid: 200,
  ipiSend: 2000,
  ipiReceive: 1200,
};

/** The command line's names: `--cost walk=30,ipi-send=3000` (camelCase is accepted too). */
const ALIASES: Record<string, CostKey> = {
  walk: 'walk', level: 'level', invlpg: 'invlpg', flush: 'flush', cr3: 'flush', invpcid: 'invpcid',
  'ipi-send': 'ipiSend', ipisend: 'ipiSend', 'ipi-sent': 'ipiSend', 'ipi-receive': 'ipiReceive', ipireceive: 'ipiReceive', 'ipi-received': 'ipiReceive',
};

export class CostModelError extends Error {}

/** Parses `key=cycles,key=cycles` over `base`; an unknown key or a bad number is an error. */
export function parseCostModel(text: string, base: Readonly<CostModel> = DEFAULT_COSTS): CostModel {
  const out: CostModel = { ...base };
  for (const part of text.split(',')) {
    const item = part.trim();
    if (!item) continue;
    const m = /^([A-Za-z0-9-]+)=(.+)$/.exec(item);
    if (!m) throw new CostModelError(`--cost takes KEY=CYCLES items separated by commas (got '${item}')`);
    const key = ALIASES[m[1].toLowerCase()];
    if (!key) throw new CostModelError(`unknown cost '${m[1]}' (known: walk, level, invlpg, flush, invpcid, ipi-send, ipi-receive)`);
    const v = Number(m[2]);
    if (!Number.isFinite(v) || v < 0) throw new CostModelError(`the cost of ${m[1]} must be a number of cycles ≥ 0 (got '${m[2]}')`);
    out[key] = v;
  }
  return out;
}

/** What one CPU did that the model prices. */
export interface CostCounts {
  walks: number;
  walkLoads: number;
  invlpg: number;
  flushes: number;
  invpcid: number;
  ipisSent: number;
  ipisReceived: number;
}

export type CostBreakdown = Record<CostKey, number>;

export interface CpuCost extends CostCounts {
  cpu: number;
  /** Estimated cycles, in all and by kind. */
  cycles: number;
  byKind: CostBreakdown;
}

export interface CostReport {
  model: CostModel;
  /** Estimated cycles over all CPUs, in all and by kind. */
  cycles: number;
  byKind: CostBreakdown;
  perCpu: CpuCost[];
}

export function costCounts(hw: Counters, kernel: PerCpuStats): CostCounts {
  return {
    walks: Number(hw.walks),
    walkLoads: Number(hw.walkLoads),
    invlpg: Number(hw.invlpg),
    flushes: Number(hw.cr3Flush),
    invpcid: Number(hw.invpcid0 + hw.invpcid1 + hw.invpcid2 + hw.invpcid3),
    ipisSent: kernel.ipisSent,
    ipisReceived: kernel.ipisReceived,
  };
}

export function cpuCost(model: CostModel, cpu: number, c: CostCounts): CpuCost {
  const byKind: CostBreakdown = {
    walk: c.walks * model.walk,
    level: c.walkLoads * model.level,
    invlpg: c.invlpg * model.invlpg,
    flush: c.flushes * model.flush,
    invpcid: c.invpcid * model.invpcid,
    ipiSend: c.ipisSent * model.ipiSend,
    ipiReceive: c.ipisReceived * model.ipiReceive,
  };
  return { cpu, ...c, cycles: COST_KEYS.reduce((s, k) => s + byKind[k], 0), byKind };
}

export function costReport(model: CostModel, perCpu: CpuCost[]): CostReport {
  const byKind = Object.fromEntries(COST_KEYS.map((k) => [k, perCpu.reduce((s, c) => s + c.byKind[k], 0)])) as CostBreakdown;
  return { model: { ...model }, cycles: perCpu.reduce((s, c) => s + c.cycles, 0), byKind, perCpu };
}

/** "1.23 G" for the summary. */
export function formatCycles(c: number): string {
  if (c >= 1e9) return `${(c / 1e9).toFixed(2)} G`;
  if (c >= 1e6) return `${(c / 1e6).toFixed(2)} M`;
  if (c >= 1e3) return `${(c / 1e3).toFixed(1)} k`;
  return `${c}`;
}

/** The summary's line: the total and the shares, largest first (stats.cycles of a report). */
export function costLine(c: { total: number; byKind: CostBreakdown }): string {
  const parts = COST_KEYS.filter((k) => c.byKind[k] > 0)
    .sort((a, b) => c.byKind[b] - c.byKind[a])
    .map((k) => `${LABEL[k]} ${c.total ? Math.round((100 * c.byKind[k]) / c.total) : 0}%`);
  return `cost: ${formatCycles(c.total)} cycles estimated${parts.length ? ` (${parts.join(', ')})` : ''}`;
}

const LABEL: Record<CostKey, string> = {
  walk: 'walks', level: 'walk loads', invlpg: 'INVLPG', flush: 'CR3 flushes', invpcid: 'INVPCID', ipiSend: 'IPIs sent', ipiReceive: 'IPIs received',
};
