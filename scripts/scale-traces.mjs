#!/usr/bin/env node
// Writes the traces that measure how replay time grows with the size of the kernel's per-mm and
// per-file lists (README "Scale"): many VMAs in one address space, many address spaces, many forks
// of one, many secondary MMUs on one mm, millions of accesses that segfault. Each is generated, not
// stored: `node scripts/scale-traces.mjs DIR [KIND[=N]]...` (no KIND: all of them at their default
// sizes), then `/usr/bin/time -v npx mmuwasm replay DIR/FILE --quiet`.
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const hex = (v) => `0x${v.toString(16)}`;
const header = (cpus) => ({ format: 'mmuwasm-trace', version: 1, cpus, seed: 1 });

/**
 * N private anonymous VMAs of 64 KiB with a 64 KiB hole between each (so none merge), mapped in a
 * shuffled order (each insert lands anywhere in the tree), each touched once (a fault: find_vma),
 * then every other one unmapped and a quarter of the rest split by mprotect of their first page.
 */
function* vmas(n) {
  yield header(1);
  yield { op: 'mm', mm: 'A' };
  yield { op: 'switch', cpu: 0, mm: 'A' };
  const base = 0x10000000n;
  const at = (i) => base + BigInt(i) * 0x20000n;
  const order = shuffled(n);
  for (const i of order) yield { op: 'mmap', cpu: 0, va: hex(at(i)), len: '64K', prot: 'rw', flags: 'private' };
  for (const i of order) yield { op: 'access', cpu: 0, va: hex(at(i) + 0x1000n), rw: 'w' };
  for (let i = 0; i < n; i += 2) yield { op: 'munmap', cpu: 0, va: hex(at(i)), len: '64K' };
  for (let i = 1; i < n; i += 8) yield { op: 'mprotect', cpu: 0, va: hex(at(i)), len: '4K', prot: 'r' };
  yield { op: 'expect', violations: 0 };
}

/** N address spaces, each with one VMA and one page, run in turn by 2 CPUs, then half of them exit. */
function* mms(n) {
  yield header(2);
  for (let i = 0; i < n; i++) {
    const cpu = i % 2;
    yield { op: 'mm', mm: `P${i}` };
    yield { op: 'switch', cpu, mm: `P${i}` };
    yield { op: 'mmap', cpu, va: '0x400000', len: '8K', prot: 'rw', flags: 'private' };
    yield { op: 'access', cpu, va: '0x400000', rw: 'w' };
  }
  for (let i = 0; i < n; i += 2) {
    yield { op: 'switch', cpu: 0, mm: `P${i}` };
    yield { op: 'exit', cpu: 0 };
  }
  yield { op: 'expect', violations: 0 };
}

/**
 * One parent with an anonymous VMA and a shared hugetlbfs mapping forks N children (anon_vma and
 * i_mmap grow to N + 1); each child writes its anonymous page (a COW copy) and reads the file page;
 * then the parent migrates its anonymous page and the file page (an rmap walk over every child).
 */
function* forks(n) {
  yield header(2);
  yield { op: 'hugetlbfs', file: 'F', size: '1G', pagesize: '2M' };
  yield { op: 'mm', mm: 'P' };
  yield { op: 'switch', cpu: 0, mm: 'P' };
  yield { op: 'mmap', cpu: 0, va: '0x400000', len: '16K', prot: 'rw', flags: 'private' };
  yield { op: 'mmap', cpu: 0, va: '0x40000000', len: '2M', prot: 'rw', flags: 'shared', file: 'F', offset: 0 };
  yield { op: 'access', cpu: 0, va: '0x400000', rw: 'w' };
  yield { op: 'access', cpu: 0, va: '0x40000000', rw: 'w' };
  for (let i = 0; i < n; i++) {
    yield { op: 'switch', cpu: 0, mm: 'P' };
    yield { op: 'fork', cpu: 0, child: `C${i}` };
    yield { op: 'switch', cpu: 1, mm: `C${i}` };
    yield { op: 'access', cpu: 1, va: '0x401000', rw: 'w' };
    yield { op: 'access', cpu: 1, va: '0x40000000', rw: 'r' };
  }
  yield { op: 'switch', cpu: 0, mm: 'P' };
  yield { op: 'migrate', cpu: 0, va: '0x400000' };
  yield { op: 'migrate', cpu: 0, file: 'F', offset: 0 };
  yield { op: 'expect', violations: 0 };
}

/**
 * N secondary MMUs (iommu, kvm, odp in turn) on one mm, each touching one page of a 64-page
 * hugetlb mapping; then 64 munmap/mmap rounds of one page, each one notifier call to every device.
 */
function* devices(n) {
  yield header(1);
  yield { op: 'hugetlbfs', file: 'F', size: '128M', pagesize: '2M' };
  yield { op: 'mm', mm: 'A' };
  yield { op: 'switch', cpu: 0, mm: 'A' };
  yield { op: 'mmap', cpu: 0, va: '0x40000000', len: '128M', prot: 'rw', flags: 'shared', file: 'F', offset: 0 };
  const kinds = ['iommu', 'kvm', 'odp'];
  for (let i = 0; i < n; i++) {
    yield { op: 'attach', mm: 'A', device: `d${i}`, kind: kinds[i % 3] };
    yield { op: 'device_access', device: `d${i}`, va: hex(0x40000000n + BigInt(i % 64) * 0x200000n), rw: 'w' };
  }
  for (let p = 0; p < 64; p++) {
    const va = hex(0x40000000n + BigInt(p) * 0x200000n);
    yield { op: 'munmap', cpu: 0, va, len: '2M' };
    yield { op: 'mmap', cpu: 0, va, len: '2M', prot: 'rw', flags: 'shared', file: 'F', offset: hex(BigInt(p) * 0x200000n) };
  }
  yield { op: 'expect', violations: 0 };
}

/** N accesses that all segfault: a stream over a range where nothing is mapped, one event. */
function* segv(n) {
  yield header(1);
  yield { op: 'mm', mm: 'A' };
  yield { op: 'switch', cpu: 0, mm: 'A' };
  yield { op: 'mmap', cpu: 0, va: '0x400000', len: '64K', prot: 'r', flags: 'private' };
  yield { op: 'accesses', cpu: 0, va: '0x10000000', len: '1G', count: n, pattern: 'random', write: 0.5 };
  yield { op: 'accesses', cpu: 0, va: '0x400000', len: '64K', count: 1000, pattern: 'random', write: 1 };
}

/** A permutation of 0..n-1 (a fixed linear congruential shuffle: the same trace every time). */
function shuffled(n) {
  const a = Array.from({ length: n }, (_, i) => i);
  let s = 12345;
  for (let i = n - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) >>> 0;
    const j = s % (i + 1);
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

/** The generators by name, with the size the README's table measures: tests import them too. */
export const KINDS = { vmas: [vmas, 40000], mms: [mms, 100000], forks: [forks, 5000], devices: [devices, 10000], segv: [segv, 3000000] };

async function write(path, events) {
  const out = createWriteStream(path);
  for (const ev of events) {
    if (!out.write(JSON.stringify(ev) + '\n')) await new Promise((r) => out.once('drain', r));
  }
  await new Promise((r, j) => out.end((err) => (err ? j(err) : r())));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main(process.argv.slice(2));

async function main([dir, ...asked]) {
  if (!dir) {
    console.error(`usage: node scripts/scale-traces.mjs DIR [KIND[=N]]...   (KIND: ${Object.keys(KINDS).join(', ')})`);
    process.exit(2);
  }
  mkdirSync(dir, { recursive: true });
  for (const spec of asked.length ? asked : Object.keys(KINDS)) {
    const [kind, count] = spec.split('=');
    if (!KINDS[kind] || (count !== undefined && !/^[1-9][0-9]*$/.test(count))) {
      console.error(`scale-traces: '${spec}' is not KIND or KIND=N (KIND: ${Object.keys(KINDS).join(', ')})`);
      process.exit(2);
    }
    const [gen, dflt] = KINDS[kind];
    const n = count ? Number(count) : dflt;
    const path = join(dir, `scale-${kind}-${n}.jsonl`);
    await write(path, gen(n));
    console.log(path);
  }
}
