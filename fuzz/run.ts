// `npm run fuzz [-- --minutes M] [--seed S] [--cases N] [--out DIR] [--case I]`: mutates the scenario
// library and generated workloads into traces and checks the contract on each, until stopped (Ctrl-C),
// for M minutes, or for N cases. Three kinds of case, all deterministic from the seed and the case's
// number:
// - in process (most): the replay of the trace must end in a report or a located error (cases.ts); a
//   case that runs past HANG_MS or past MEMORY_MB is a failure too (they run on a thread the runner ends);
// - on the command line (every CLI_EVERY-th): the trace as JSON Lines, gzip, binary or corrupted binary,
//   replayed by bin/mmuwasm.mjs with 1 and with 2 workers: the exit status must be 0, 1 or 2, stderr
//   must hold no stack trace, and both reports must be the same;
// - a signal (every SIGNAL_EVERY-th): SIGINT or SIGTERM during a long replay; it must stop within
//   STOP_MS, exit 128+n with "complete": false (or have finished before, with 0 or 1).
// Each failure is a folder under --out (default fuzz-failures/): the minimized trace, the original,
// the command that shows it, and the seed and case number that make it again.
import '../src/platform/node.ts';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { gzipSync } from 'node:zlib';
import { makeCase, Rng, scenarioSeeds, checkInProcess, type Verdict } from './cases.ts';
import { convertTrace } from '../src/node/convert.ts';
import { generateTrace } from '../src/cli/generate.ts';
import { WORKLOAD_DEFAULTS, type WorkloadKind } from '../src/workloads/workloads.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(ROOT, 'bin', 'mmuwasm.mjs');
/** A case (or a replay on the command line) that runs longer is a hang. */
const HANG_MS = 60_000;
/** The heap of the in-process thread and of each command. */
const MEMORY_MB = 1024;
/** A signalled replay must have stopped this long after the signal (the machine is shared: generous). */
const STOP_MS = 5_000;
const CLI_EVERY = 40;
const SIGNAL_EVERY = 400;
const BATCH = 20;

interface Args { minutes?: number; seed: number; cases?: number; out: string; only?: number }

function parseArgs(argv: string[]): Args {
  const a: Args = { seed: Date.now() % 2 ** 31, out: join(ROOT, 'fuzz-failures') };
  for (let i = 0; i < argv.length; i++) {
    const v = () => {
      const x = argv[++i];
      if (x === undefined || !/^[0-9.]+$/.test(x) && argv[i - 1] !== '--out') throw new Error(`${argv[i - 1]} needs a value`);
      return x;
    };
    switch (argv[i]) {
      case '--minutes': a.minutes = Number(v()); break;
      case '--seed': a.seed = Number(v()); break;
      case '--cases': a.cases = Number(v()); break;
      case '--case': a.only = Number(v()); break;
      case '--out': a.out = v(); break;
      default: throw new Error(`unknown option '${argv[i]}' (--minutes M, --seed S, --cases N, --case I, --out DIR)`);
    }
  }
  return a;
}

/** Small generated workloads join the scenarios as seed traces (their lines are what mutations change). */
function generatedSeeds(dir: string): { name: string; lines: string[] }[] {
  const out: { name: string; lines: string[] }[] = [];
  const kinds: [WorkloadKind, boolean][] = [['database', false], ['database', true], ['kvm', false], ['migration-storm', false], ['random-anon', false], ['kvm', true]];
  for (const [kind, streams] of kinds) {
    const file = join(dir, `${kind}${streams ? '-streams' : ''}.jsonl`);
    const size = kind === 'random-anon' ? 4n << 20n : kind === 'kvm' ? 1n << 30n : 64n << 20n;
    generateTrace({ kind, out: file, options: { ...WORKLOAD_DEFAULTS[kind], accesses: 3000, size, streams, seed: 1 } });
    out.push({ name: `generate ${kind}${streams ? ' --streams' : ''} --accesses 3000 --size ${size >> 20n}M`, lines: readFileSync(file, 'utf8').split('\n') });
  }
  return out;
}

interface Run { status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; ms: number; timedOut: boolean; stoppedMs?: number }

/** CPU time a child has used (Linux /proc; elsewhere, enough to count as started). */
function cpuMs(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of the line (11 and 12 after the command's name), in ticks of 10 ms.
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return Infinity;
  }
}

/** CPU time after which a child has surely installed its signal handlers (Node's start-up takes ~50 ms). */
const STARTED_CPU_MS = 300;

function runCli(args: string[], opts: { killAfter?: { ms: number; signal: NodeJS.Signals } } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, [`--max-old-space-size=${MEMORY_MB}`, BIN, ...args], { env: { ...process.env, NO_COLOR: '1' } });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let signalledAt: number | undefined;
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const hang = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, HANG_MS);
    let killer: NodeJS.Timeout | undefined;
    if (opts.killAfter) {
      // Until Node runs the first line of bin/mmuwasm.mjs a signal has its default action. On a loaded
      // machine that can take seconds of wall time, never STARTED_CPU_MS of the child's own CPU time.
      const send = () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        if (cpuMs(child.pid) < STARTED_CPU_MS) {
          killer = setTimeout(send, 20);
          return;
        }
        signalledAt = Date.now();
        child.kill(opts.killAfter!.signal);
      };
      killer = setTimeout(send, opts.killAfter.ms);
    }
    child.on('close', (status, signal) => {
      clearTimeout(hang);
      if (killer) clearTimeout(killer);
      resolve({ status, signal, stdout, stderr, ms: Date.now() - t0, timedOut, stoppedMs: signalledAt === undefined ? undefined : Date.now() - signalledAt });
    });
  });
}

const STACK = /\n\s+at .+(:\d+:\d+\)?|\(native\))$/m;

function cliVerdict(r: Run): Verdict {
  if (r.timedOut) return { failure: 'hang', detail: `no end after ${HANG_MS / 1000} s` };
  if (STACK.test(r.stderr)) return { failure: 'stack-trace', detail: r.stderr.slice(0, 2000) };
  if (r.status === null || ![0, 1, 2].includes(r.status)) return { failure: `exit-${r.status ?? r.signal}`, detail: r.stderr.slice(0, 2000) };
  return { status: r.status };
}

/** Without the schedule (how many phases ran on workers): the report itself must not depend on workers. */
const reportOf = (stdout: string): string => stdout;

/** The trace of a command-line case in one of the forms replay reads. */
async function writeForm(dir: string, lines: string[], rng: Rng): Promise<{ file: string; form: string }> {
  const text = lines.join('\n') + '\n';
  const form = rng.pick(['jsonl', 'jsonl.gz', 'mmtrace', 'mmtrace.gz', 'mmtrace-corrupt', 'jsonl.gz-corrupt']);
  const plain = join(dir, 'case.jsonl');
  writeFileSync(plain, text);
  if (form === 'jsonl') return { file: plain, form };
  if (form.startsWith('jsonl.gz')) {
    const gz = gzipSync(text);
    if (form.endsWith('corrupt')) for (let k = 0; k < 1 + rng.int(3); k++) gz[10 + rng.int(Math.max(1, gz.length - 10))] ^= 1 << rng.int(8);
    const file = join(dir, 'case.jsonl.gz');
    writeFileSync(file, gz);
    return { file, form };
  }
  const file = join(dir, form === 'mmtrace.gz' ? 'case.mmtrace.gz' : 'case.mmtrace');
  try {
    await convertTrace(plain, file);
  } catch {
    return { file: plain, form: 'jsonl (not convertible)' };
  }
  if (form.endsWith('corrupt')) {
    const b = readFileSync(file);
    for (let k = 0; k < 1 + rng.int(3); k++) b[rng.int(b.length)] ^= 1 << rng.int(8);
    if (rng.next() < 0.3) writeFileSync(file, b.subarray(0, rng.int(b.length)));
    else writeFileSync(file, b);
  }
  return { file, form };
}

class Failures {
  count = 0;
  private readonly seen = new Set<string>();
  constructor(private readonly dir: string, private readonly seed: number) {}
  record(kind: string, index: number, f: { failure: string; detail?: string; lines: string[]; minimized?: string[]; from: string; command: string; file?: Buffer; fileName?: string }): void {
    this.count++;
    const dir = join(this.dir, `${f.failure.replace(/[^\w.-]+/g, '_')}-seed${this.seed}-case${index}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'trace.jsonl'), (f.minimized ?? f.lines).join('\n') + '\n');
    writeFileSync(join(dir, 'original.jsonl'), f.lines.join('\n') + '\n');
    if (f.file && f.fileName) writeFileSync(join(dir, f.fileName), f.file);
    writeFileSync(join(dir, 'command.txt'), `${f.command}\n# again: npm run fuzz -- --seed ${this.seed} --case ${index}\n`);
    writeFileSync(join(dir, 'failure.json'), JSON.stringify({ failure: f.failure, kind, seed: this.seed, case: index, from: f.from, detail: f.detail }, null, 2) + '\n');
    const first = !this.seen.has(f.failure);
    this.seen.add(f.failure);
    console.log(`fuzz: FAILURE ${f.failure} (${kind}, case ${index}, from ${f.from})${first ? '' : ' [seen before]'} → ${dir}`);
  }
}

async function main(): Promise<number> {
  const a = parseArgs(process.argv.slice(2));
  const tmp = mkdtempSync(join(tmpdir(), 'mmuwasm-fuzz-'));
  const seeds = [...scenarioSeeds(ROOT), ...generatedSeeds(tmp)];
  const failures = new Failures(a.out, a.seed);
  const t0 = Date.now();
  const deadline = a.minutes !== undefined ? t0 + a.minutes * 60_000 : Infinity;
  let stopping = false;
  const onSig = () => {
    if (stopping) process.exit(130);
    stopping = true;
  };
  process.on('SIGINT', onSig);
  process.on('SIGTERM', onSig);
  const counts = { inProcess: 0, cli: 0, signal: 0 };
  const more = (i: number) => !stopping && Date.now() < deadline && (a.cases === undefined || i < a.cases);
  console.log(`fuzz: seed ${a.seed}, ${seeds.length} seed traces, ${a.minutes !== undefined ? `${a.minutes} min` : a.cases !== undefined ? `${a.cases} cases` : 'until stopped (Ctrl-C)'}; failures → ${a.out}`);

  // A long replay for the signal cases: a stream trace (small file, long replay).
  const long = join(tmp, 'long.jsonl');
  generateTrace({ kind: 'database', out: long, options: { ...WORKLOAD_DEFAULTS.database, accesses: 200_000_000, streams: true, size: 256n << 20n, seed: 3 } });

  const cliCase = async (i: number) => {
    const c = makeCase(seeds, a.seed, i);
    const rng = new Rng(a.seed ^ (i * 2654435761));
    const dir = mkdtempSync(join(tmp, 'cli-'));
    const { file, form } = await writeForm(dir, c.lines, rng);
    let r1 = await runCli(['replay', file, '--workers', '1', '--json', '-', '--quiet']);
    // On a shared machine a slow start can look like a hang: a hang counts when it happens twice.
    if (r1.timedOut) r1 = await runCli(['replay', file, '--workers', '1', '--json', '-', '--quiet']);
    let v = cliVerdict(r1);
    let r2: Run | undefined;
    if (!v.failure) {
      r2 = await runCli(['replay', file, '--workers', '2', '--json', '-', '--quiet']);
      if (r2.timedOut) r2 = await runCli(['replay', file, '--workers', '2', '--json', '-', '--quiet']);
      v = cliVerdict(r2);
      if (!v.failure && (r1.status !== r2.status || reportOf(r1.stdout) !== reportOf(r2.stdout))) v = { failure: 'workers-differ', detail: `status ${r1.status} vs ${r2.status}` };
    }
    counts.cli++;
    if (v.failure) {
      failures.record('command line', i, {
        failure: v.failure, detail: v.detail, lines: c.lines, from: `${c.from} as ${form}`,
        command: `node bin/mmuwasm.mjs replay ${file.endsWith('.jsonl') ? 'trace.jsonl' : file.split('/').pop()} --workers ${r2 ? 2 : 1} --json - --quiet`,
        file: file.endsWith('.jsonl') ? undefined : readFileSync(file), fileName: file.split('/').pop(),
      });
    }
    rmSync(dir, { recursive: true, force: true });
  };

  const signalCase = async (i: number) => {
    const rng = new Rng(a.seed ^ (i * 40503));
    const signal: NodeJS.Signals = rng.pick(['SIGINT', 'SIGTERM']);
    // Not before 1.5 s, and not before the child has started (runCli).
    const ms = 1500 + rng.int(3000);
    const r = await runCli(['replay', long, '--workers', String(1 + rng.int(2)), '--json', '-', '--quiet'], { killAfter: { ms, signal } });
    counts.signal++;
    let failure: string | undefined;
    let detail = `${signal} after ${ms} ms; exit ${r.status ?? r.signal}, stopped ${r.stoppedMs} ms after it`;
    let complete: boolean | undefined;
    try {
      complete = JSON.parse(r.stdout).complete;
    } catch {
      complete = undefined;
    }
    const want = signal === 'SIGINT' ? 130 : 143;
    if (r.timedOut) failure = 'signal-ignored';
    else if (STACK.test(r.stderr)) failure = 'stack-trace';
    else if (r.stoppedMs !== undefined && r.stoppedMs > STOP_MS) failure = 'slow-stop';
    else if (r.status === want && complete !== false) failure = complete ? 'complete-after-signal' : 'no-report-after-signal';
    else if (r.status !== want && !(r.status !== null && [0, 1].includes(r.status) && complete === true)) failure = `signal-exit-${r.status ?? r.signal}`;
    if (failure) {
      detail += `\n${r.stderr.slice(0, 2000)}`;
      failures.record('signal', i, { failure, detail, lines: readFileSync(long, 'utf8').split('\n'), from: 'generate database --streams --accesses 200M', command: `node bin/mmuwasm.mjs replay trace.jsonl --json - --quiet  # then kill -${signal.slice(3)} after ${ms} ms` });
    }
  };

  if (a.only !== undefined) {
    const i = a.only;
    const c = makeCase(seeds, a.seed, i);
    const v = await checkInProcess(c.lines);
    console.log(`case ${i} (from ${c.from}): ${v.failure ?? `status ${v.status}`}\n${c.lines.join('\n')}`);
    if (i % CLI_EVERY === 0) await cliCase(i);
    if (i % SIGNAL_EVERY === 0) await signalCase(i);
    rmSync(tmp, { recursive: true, force: true });
    return failures.count ? 1 : 0;
  }

  // The in-process thread, restarted after a hang or a crash.
  let next = 0;
  let current = -1;
  let lastMessage = Date.now();
  let worker: Worker | undefined;
  let batchDone: (() => void) | undefined;
  const startWorker = () => {
    worker = new Worker(new URL('./inproc-worker.mjs', import.meta.url), { workerData: { seeds, seed: a.seed }, resourceLimits: { maxOldGenerationSizeMb: MEMORY_MB } });
    worker.on('message', (m) => {
      lastMessage = Date.now();
      if (m.type === 'start') current = m.index;
      else if (m.type === 'done') counts.inProcess++;
      else if (m.type === 'failure') {
        failures.record('in process', m.index, { failure: m.failure, detail: m.detail, lines: m.lines, minimized: m.minimized, from: m.from, command: 'node bin/mmuwasm.mjs replay trace.jsonl --workers 1 --json -' });
      } else if (m.type === 'batch') batchDone?.();
    });
    worker.on('error', (err) => {
      const c = makeCase(seeds, a.seed, current);
      failures.record('in process', current, { failure: /memory|heap/i.test(String(err)) ? 'memory' : 'thread-crash', detail: String((err as Error).stack ?? err), lines: c.lines, from: c.from, command: 'node bin/mmuwasm.mjs replay trace.jsonl --json -' });
      worker = undefined;
      batchDone?.();
    });
  };
  let progressAt = Date.now();
  while (more(next)) {
    if (!worker) startWorker();
    const from = next;
    const count = a.cases !== undefined ? Math.min(BATCH, a.cases - from) : BATCH;
    next += count;
    current = from;
    lastMessage = Date.now();
    await new Promise<void>((resolve) => {
      batchDone = resolve;
      worker!.postMessage({ from, count });
      const watch = setInterval(() => {
        if (Date.now() - lastMessage > HANG_MS) {
          clearInterval(watch);
          const c = makeCase(seeds, a.seed, current);
          failures.record('in process', current, { failure: 'hang', detail: `no end after ${HANG_MS / 1000} s`, lines: c.lines, from: c.from, command: 'node bin/mmuwasm.mjs replay trace.jsonl --json -' });
          void worker?.terminate();
          worker = undefined;
          next = current + 1;
          resolve();
        }
      }, 1000);
      const done = batchDone;
      batchDone = () => {
        clearInterval(watch);
        done();
      };
    });
    for (let i = from; i < from + count && !stopping; i++) {
      if (i % CLI_EVERY === 0) await cliCase(i);
      if (i % SIGNAL_EVERY === 0) await signalCase(i);
    }
    if (Date.now() - progressAt > 30_000) {
      progressAt = Date.now();
      console.log(`fuzz: ${counts.inProcess + counts.cli + counts.signal} cases (${counts.inProcess} in process, ${counts.cli} command line, ${counts.signal} signals), ${failures.count} failures, ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    }
  }
  await worker?.terminate();
  rmSync(tmp, { recursive: true, force: true });
  console.log(`fuzz: seed ${a.seed}: ${counts.inProcess + counts.cli + counts.signal} cases (${counts.inProcess} in process, ${counts.cli} on the command line with 1 and 2 workers, ${counts.signal} signals) in ${((Date.now() - t0) / 1000).toFixed(0)} s; ${failures.count} failures${failures.count ? ` → ${a.out}` : ''}`);
  return failures.count ? 1 : 0;
}

process.exitCode = await main();
