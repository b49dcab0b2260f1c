// A header whose machine cannot be built: which field is at fault, the limit, and a value that
// would fit. The machine is one shared WebAssembly memory of at most 4 GiB (src/mmu/memory.ts) that
// holds every CPU's TLB and paging-structure cache arrays; the header's `cpus` and `tlb` size them.
import { computeLayout, MAX_WASM_PAGES, WASM_PAGE } from '../mmu/memory.ts';
import type { MachineConfig } from '../mmu/model.ts';
import type { ReplayHeader } from '../trace/events.ts';
import type { ReplayOptions } from './engine.ts';

/** The machine a replay builds for this header (Replay.create uses the same). */
export function machineOf(header: ReplayHeader, opts: Pick<ReplayOptions, 'tlbMode'>, ncpus = header.cpus): MachineConfig {
  return {
    ncpus, mode: opts.tlbMode ?? 'retentive', geometry: header.tlb, physmem: header.physmem ?? 64n << 30n,
    maxphyaddr: 46, eventCapacity: 4096,
  };
}

const fits = (header: ReplayHeader, opts: Pick<ReplayOptions, 'tlbMode'>, ncpus: number): boolean => {
  try {
    computeLayout(machineOf(header, opts, ncpus));
    return true;
  } catch {
    return false;
  }
};

/** Why the header's machine could not be built (`err`), as a field of the header and a sentence. */
export function machineConfig(header: ReplayHeader, opts: Pick<ReplayOptions, 'tlbMode'>, err: Error): { field: string | undefined; message: string } {
  const geometry = /^geometry of (\w+)/.exec(err.message);
  if (geometry) return { field: `tlb.${geometry[1]}`, message: err.message };
  if (err instanceof RangeError) {
    return { field: 'cpus', message: `this machine cannot allocate the memory its ${header.cpus} CPUs' TLB arrays need (${err.message}): fewer CPUs or smaller "tlb" arrays` };
  }
  if (/^physmem/.test(err.message)) return { field: 'physmem', message: `the machine cannot be built: ${err.message}; "8G" is the least that fits` };
  const limit = `${(MAX_WASM_PAGES * WASM_PAGE) / 2 ** 30} GiB`;
  if (header.cpus > 1 && fits(header, opts, 1)) {
    let lo = 1;
    let hi = header.cpus;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (fits(header, opts, mid)) lo = mid;
      else hi = mid;
    }
    const tlb = header.tlb ? ' (or smaller "tlb" arrays)' : '';
    return {
      field: 'cpus',
      message: `${header.cpus} CPUs with this TLB geometry need more than the ${limit} of one WebAssembly memory (every CPU's TLB and paging-structure caches live in it): at most ${lo} CPUs fit${tlb}`,
    };
  }
  if (header.tlb) {
    return { field: 'tlb', message: `one CPU's TLB and paging-structure cache arrays alone do not fit in the ${limit} of one WebAssembly memory: make the arrays smaller (${err.message})` };
  }
  return { field: header.physmem !== undefined ? 'physmem' : undefined, message: `the machine cannot be built: ${err.message}` };
}
