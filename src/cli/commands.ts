// The table of commands: each one's operands, options and help, defined once. It drives the parsing
// of argv (src/cli/args.ts), `mmuwasm help`, `mmuwasm COMMAND --help` and the suggestions for a near
// miss. A command's module is loaded only when it runs, so `--version` and `help` stay fast.
//
// Adding a command is adding one entry: its name, operands (synopsis and how many), a summary line,
// a few lines about it, its options, and `run`, which imports its module and hands it the parsed
// arguments (`args.operands`, `args.get('--opt')`, `args.all('--repeatable')`, `args.has('--flag')`).
// The module interprets the values (throwing UsageError for a bad one) and returns the exit status.
import { parseCommandLine, UsageError, type CommandSpec, type OptionSpec, type ParsedArgs } from './args.ts';

const KERNEL: OptionSpec = { name: '--kernel', value: 'PROFILE', help: 'the kernel profile: v4.4, v4.19, v5.16, v6.1 or v6.18\n(default: the trace header\'s, else v6.18)' };
const FIX: OptionSpec = { name: '--fix', value: 'ID=on|off', repeatable: true, help: "switch one fix (a 12-hex-digit upstream commit id) over the profile;\n'mmuwasm profiles' lists them" };
const jsonOption = (what: string): OptionSpec => ({ name: '--json', value: 'FILE|-', help: `write ${what} as JSON to FILE, or to standard output with -\n(then only JSON goes to standard output: the summary goes to standard error)` });
const FORMS = '.jsonl, .jsonl.gz, .mmtrace or .mmtrace.gz';

export const COMMANDS: readonly CommandSpec[] = [
  {
    name: 'start',
    operands: '',
    min: 0,
    max: 0,
    summary: 'the main job (npm start): the founding bug under v4.4 and v4.19, then a generated workload',
    about: 'Replays the founding case (scenarios/b1-shared-pmd-migration.jsonl) under v4.4 and v4.19 side by\nside, then generates a database-style workload and replays it with its statistics.\nExit 0 when every expectation held.',
    options: [],
    run: async () => (await import('./start.ts')).runMainJob(),
  },
  {
    name: 'replay',
    operands: 'TRACE|-',
    min: 1,
    max: 1,
    summary: 'replay a trace and report every stale translation',
    about: `TRACE is a trace in JSON Lines or the binary form, plain or gzip (${FORMS}),\nknown by its bytes; - reads it from standard input.\nExit status: 0 every expectation held (a trace without expectations: no violation), 1 an\nexpectation failed (or a violation was found), 2 bad input or usage (the message names the file\nand line; the JSON report still holds what was replayed before it, "complete": false), 3 a bug in\nmmuwasm (the line and the command that reproduces it), 130 / 143 stopped by SIGINT (Ctrl-C) /\nSIGTERM within a second, the partial report written ("complete": false).`,
    options: [
      KERNEL,
      FIX,
      { name: '--workers', value: 'N', help: 'worker threads for the CPUs\' accesses, 1 to 256 (default: one per core);\nthe report is the same for any N' },
      { name: '--cost', value: 'KEY=CYCLES,...', help: 'the cost model: walk, level, invlpg, flush, invpcid, ipi-send, ipi-receive\n(cycles each; the report estimates the cost per CPU)' },
      { name: '--tlb', value: 'retentive|capacity', help: 'retentive (the default: nothing evicted, the oracle sees every stale entry)\nor capacity (the real geometry, for hit rates and walk counts)' },
      { name: '--fidelity', value: 'strict|report', help: 'for a recorded trace: report (the default) compares the model\'s flushes with the\nobserved ones; strict also exits 1 on any mismatch' },
      jsonOption('the report'),
      { name: '--timeline', help: "put the replay's timeline in the JSON report (what --html draws)" },
      { name: '--html', value: 'FILE', help: 'write a self-contained HTML report: the violations, a timeline of every CPU\nand device, the cached translations at each violation, the statistics' },
      { name: '--quiet', short: '-q', help: 'no summary: only the JSON report and errors' },
    ],
    run: async (args) => (await import('./replay.ts')).runReplay(args),
  },
  {
    name: 'scenarios',
    operands: '[DIR]',
    min: 0,
    max: 1,
    summary: 'replay every trace of the scenario library under every profile: a verdict table',
    about: "DIR holds the traces (default: the package's scenarios/); each is replayed under each profile\nasked for. Exit 0 when every trace passes under every profile, 1 otherwise.",
    options: [
      { name: '--kernel', value: 'P[,P...]', help: 'the profiles, comma-separated (default: all five)' },
      FIX,
      jsonOption('the verdicts'),
      { name: '--html', value: 'FILE|DIR', help: "the table as HTML, each cell linked to its replay's HTML report:\nFILE.html one file; DIR an index.html and a page per cell" },
    ],
    run: async (args) => (await import('./scenarios.ts')).runScenariosCommand(args),
  },
  {
    name: 'explore',
    operands: 'TRACE | merge REPORT...',
    min: 1,
    max: Infinity,
    summary: "search the schedules of a trace's concurrent blocks for violations",
    about: 'Runs every schedule of each {"op":"concurrent"} ... {"op":"join"} block with at most K preemptions\n(a syscall paused after one of its steps while other threads run); above --schedules it samples\nthem with PCT from --seed instead. Each finding comes with its smallest schedule as a plain trace\nthat replay reproduces. \'explore merge A.json B.json ...\' joins the reports of --shard runs into\nthe report one run gives. Exit 1 when anything is found, 0 when nothing, 2 bad input or usage.',
    options: [
      { name: '--kernel', value: 'P[,P...]', help: "the profiles, comma-separated (default: the trace header's, else v6.18)" },
      FIX,
      { name: '--preemptions', value: 'K', help: 'pauses per schedule at most, 0 to 16 (default 2)' },
      { name: '--schedules', value: 'N', help: 'schedules at most before sampling instead (default 100000)' },
      { name: '--seed', value: 'S', help: 'the sampler\'s seed (default 0)' },
      { name: '--workers', value: 'N', help: 'worker threads, 1 to 256 (default: one per core); the report is the same for any N' },
      { name: '--shard', value: 'I/N', help: 'explore only the I-th of N disjoint parts (0 <= I < N)' },
      { name: '--out', value: 'DIR', help: "write each finding's smallest schedule as a trace into DIR" },
      jsonOption('the report'),
      { name: '--quiet', short: '-q', help: 'no summary: only the JSON report and errors' },
    ],
    run: async (args) => (await import('./explore.ts')).runExplore(args),
  },
  {
    name: 'bisect',
    operands: 'TRACE',
    min: 1,
    max: 1,
    summary: 'the fix between two profiles whose addition changes the verdict',
    about: 'Orders the fixes between the --good and the --bad profile by release and finds the one whose\naddition changes the verdict: of a replay, or of an exploration for a trace with concurrent blocks.',
    options: [
      { name: '--good', value: 'PROFILE', help: 'a profile whose verdict is the good one' },
      { name: '--bad', value: 'PROFILE', help: 'a profile whose verdict is the bad one' },
      { name: '--preemptions', value: 'K', help: 'for a block trace: pauses per schedule at most (default 2)' },
      { name: '--schedules', value: 'N', help: 'for a block trace: schedules at most before sampling' },
      { name: '--seed', value: 'S', help: "for a block trace: the sampler's seed" },
      { name: '--workers', value: 'N', help: 'worker threads (default 1)' },
      jsonOption('the result'),
    ],
    run: async (args) => (await import('./bisect.ts')).runBisect(args),
  },
  {
    name: 'serve',
    operands: '[DIR]',
    min: 0,
    max: 1,
    summary: 'a local page where traces replay in the browser, two profiles side by side',
    about: "Serves, on 127.0.0.1 only, a page where a trace is dropped or picked from DIR (default: the\npackage's scenarios/), profiles and fixes are chosen, and the replay runs in the browser (the\npackage's browser entry, Web Workers: the page is cross-origin isolated), drawn as replay --html\ndraws it; 'v4.4 | v4.19' compares two profiles side by side. Prints the URL; Ctrl-C stops it.",
    options: [
      { name: '--port', value: 'P', help: 'the port, 0 to 65535 (default 8080; 0: any free one, the URL says which)' },
    ],
    run: async (args) => (await import('./serve.ts')).runServe(args),
  },
  {
    name: 'profiles',
    operands: '',
    min: 0,
    max: 0,
    summary: 'the kernel profiles and the fixes each one carries',
    about: 'Every fix as a row, every profile as a column, with the release that brought the fix, its title\nand what it changes in the model.',
    options: [jsonOption('the profiles and fixes')],
    run: async (args) => (await import('./profiles.ts')).runProfiles(args),
  },
  {
    name: 'convert',
    operands: 'IN OUT',
    min: 2,
    max: 2,
    summary: 'a trace from JSON Lines to the binary form or back, without loss',
    about: `IN and OUT: ${FORMS}; IN's form is read from its bytes, OUT's from its name.`,
    options: [
      { name: '--expand', help: 'write each "accesses" stream as the accesses it generates (later lines move)' },
      { name: '--strip-comments', help: 'leave comments and blank lines out (later lines move)' },
    ],
    run: async (args) => (await import('./convert.ts')).runConvert(args),
  },
  {
    name: 'generate',
    operands: 'KIND',
    min: 1,
    max: 1,
    summary: 'write a workload trace, deterministic from --seed',
    about: 'KIND: database, kvm, migration-storm, random-anon. The same seed writes the same bytes.',
    options: [
      { name: '--output', short: '-o', value: 'FILE', help: `the trace (required): ${FORMS} (binary: access records)` },
      { name: '--seed', value: 'S', help: 'the seed, 0 to 2^32-1 (default 1)' },
      { name: '--accesses', value: 'N', help: 'CPU accesses in all (default 1M; k, M, G are powers of 1000: 20M, 1G, or 1e9)' },
      { name: '--cpus', value: 'C', help: 'CPUs (default: database 4, kvm 2, migration-storm 4, random-anon 4)' },
      { name: '--processes', value: 'P', help: 'processes (database 4, kvm 1 VM, migration-storm 3, random-anon 2)' },
      { name: '--size', value: 'SIZE', help: 'database / migration-storm: the hugetlbfs segment (2G, 1G); kvm: guest memory (4G);\nrandom-anon: each process\'s address space in 1 MiB regions (32M)' },
      { name: '--burst', value: 'B', help: 'accesses of one CPU in a row between kernel events (default: about 16 rounds)' },
      { name: '--ops', value: 'K', help: 'kernel operations per round (migrations; random-anon: mmap/munmap/mprotect/madvise)' },
      { name: '--device-accesses', value: 'D', help: "kvm: the guest's accesses through the kvm secondary MMU (default N/16)" },
      { name: '--backing', value: 'hugetlb|anon', help: 'kvm: guest memory from hugetlbfs (2 MiB pages, the default) or anonymous 4 KiB pages' },
      { name: '--streams', help: 'each burst as one "accesses" stream event instead of explicit accesses' },
    ],
    run: async (args) => (await import('./generate.ts')).runGenerate(args),
  },
  {
    name: 'import',
    operands: 'lackey FILE|-',
    min: 2,
    max: 2,
    summary: "turn a valgrind lackey log of a real program into a trace",
    about: 'FILE is the log of valgrind --tool=lackey --trace-mem=yes (- reads standard input; a name\nending in .gz is read through gunzip).',
    options: [
      { name: '--output', short: '-o', value: 'OUT|-', help: `the trace: ${FORMS}, or - for JSON Lines on standard output (the default)` },
      { name: '--hugetlb', help: 'map the touched memory as a hugetlbfs segment of 2M pages (default: private anonymous)' },
      { name: '--kernel', value: 'PROFILE', help: "the profile written into the trace's header" },
      { name: '--limit', value: 'N', help: 'import only the first N records' },
    ],
    run: async (args) => (await import('./import.ts')).runImport(args),
  },
  {
    name: 'record',
    operands: '-- PROGRAM [ARGS...]',
    min: 1,
    max: Infinity,
    summary: "record a real program's memory management on this machine's Linux as a trace",
    about: 'Runs PROGRAM under a tracefs instance of its own (root only) and writes what its processes did to\nmemory as a trace: forks and exits, context switches, the memory syscalls, first touches, and every\ntlb_flush the kernel traced as "observed" on its event. Huge pages, tracefs and mounts are restored\nafterwards, also on failure or a signal. Replay the trace to compare the model\'s flushes (fidelity).',
    options: [
      { name: '--output', short: '-o', value: 'OUT.jsonl|-', help: 'the trace (default record.jsonl); - for standard output' },
      { name: '--hugepages', value: 'N', help: 'huge pages to reserve for the run (the old count is restored)' },
      { name: '--buffer-kb', value: 'K', help: 'the tracefs buffer per CPU in KiB (64 or more)' },
      { name: '--raw', value: 'FILE', help: 'also keep the raw tracefs records in FILE' },
    ],
    run: async (args) => (await import('./record.ts')).runRecord(args),
  },
  {
    name: 'demo',
    operands: '',
    min: 0,
    max: 0,
    summary: 'a short demonstration of the emulated hardware alone',
    about: 'Two address spaces with 4K, 2M and 1G pages on a 2-CPU machine: accesses, a remapped page that\nstays stale until INVLPG, a PCID switch that keeps entries, and the counters.',
    options: [],
    run: async () => (await import('./demo.ts')).runDemo(),
  },
];

export const commandByName = (name: string): CommandSpec | undefined => COMMANDS.find((c) => c.name === name);

/** The arguments of one command's line, read by its table (a request for help or the version is a UsageError here). */
export function argsOf(name: string, argv: readonly string[]): ParsedArgs {
  const r = parseCommandLine(commandByName(name)!, argv);
  if (r.kind !== 'run') throw new UsageError(`${name}: --help and --version are answered by the command line`);
  return r.args;
}
