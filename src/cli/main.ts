// The command line. Every command returns its exit status: 0 success, 1 a finding (a failed
// expectation or a violation), 2 bad input or usage, 3 a bug in mmuwasm (an internal invariant broke).
import { MmuError, ModelBugError } from '../mmu/errors.ts';

const USAGE = `usage: mmuwasm <command> [options]

commands:
  start                      the main job (npm start): the founding bug under v4.4 and v4.19 side
                             by side, then a generated database workload with its statistics
  replay TRACE [--kernel PROFILE] [--fix ID=on|off]... [--workers N] [--cost K=C,...] [--tlb retentive|capacity]
                             [--json FILE|-] [--timeline] [--html FILE] [--quiet]
                             replay a trace (JSON Lines, .jsonl.gz or binary .mmtrace) and
                             report every stale translation; exit 0 clean, 1 a finding, 2 bad input,
                             3 a bug in mmuwasm (the line and how to reproduce it); --html writes a
                             self-contained page with the timeline of every CPU and device,
                             --timeline puts that timeline in the JSON report
  scenarios [DIR] [--kernel P[,P...]] [--fix ID=on|off]... [--json FILE|-] [--html FILE|DIR]
                             replay the scenario library under every profile: a verdict table;
                             --html writes it as a page whose cells link to each HTML report
                             (FILE.html: one file; DIR: an index.html and a page per cell)
  explore TRACE [--kernel P[,P...]] [--fix ID=on|off]... [--preemptions K] [--schedules N] [--seed S]
          [--workers N] [--shard I/N] [--out DIR] [--json FILE|-] [--quiet]
                             search the schedules of a trace's concurrent blocks for violations;
                             each finding comes with the smallest schedule as a replayable trace;
                             'explore merge A.json B.json ...' joins the reports of shards
  bisect TRACE --good PROFILE --bad PROFILE [--preemptions K] [--schedules N] [--seed S] [--workers N] [--json FILE|-]
                             the fix between two profiles whose addition changes the verdict
  profiles [--json]          the kernel profiles and the fixes each one carries
  convert IN OUT [--expand] [--strip-comments]
                             a trace from JSON Lines (.jsonl, .jsonl.gz) to binary (.mmtrace,
                             .mmtrace.gz) or back, without loss (docs/trace-binary.md)
  generate KIND [options] -o FILE
                             write a workload (database, kvm, migration-storm, random-anon),
                             deterministic from --seed; 'generate --help' lists the options
  demo                       a short demonstration of the emulated hardware alone
  import lackey FILE|- [-o OUT] [--hugetlb] [--kernel PROFILE] [--limit N]
                             turn a valgrind lackey log (--tool=lackey --trace-mem=yes) of a real
                             program into a replayable trace (docs/import-lackey.md)
  help                       this text
  --version                  the version
`;

export async function main(argv: string[]): Promise<number> {
  const [command = 'help', ...rest] = argv;
  try {
    switch (command) {
      case 'start': {
        if (rest.length) return usage(`start takes no options (got ${rest.join(' ')})`);
        const { runMainJob } = await import('./start.ts');
        return await runMainJob();
      }
      case 'replay': {
        const { runReplay } = await import('./replay.ts');
        return await runReplay(rest);
      }
      case 'scenarios': {
        const { runScenariosCommand } = await import('./scenarios.ts');
        return await runScenariosCommand(rest);
      }
      case 'explore': {
        const { runExplore } = await import('./explore.ts');
        return await runExplore(rest);
      }
      case 'bisect': {
        const { runBisect } = await import('./bisect.ts');
        return await runBisect(rest);
      }
      case 'convert': {
        const { runConvert } = await import('./convert.ts');
        return await runConvert(rest);
      }
      case 'generate': {
        const { runGenerate } = await import('./generate.ts');
        return await runGenerate(rest);
      }
      case 'profiles': {
        const { renderProfiles, profilesJson } = await import('./profiles.ts');
        if (rest.length && !(rest.length === 1 && rest[0] === '--json')) return usage(`profiles takes only --json (got ${rest.join(' ')})`);
        process.stdout.write(rest[0] === '--json' ? JSON.stringify(profilesJson(), null, 2) + '\n' : renderProfiles());
        return 0;
      }
      case 'demo': {
        if (rest.length) return usage(`demo takes no options (got ${rest.join(' ')})`);
        const { runDemo } = await import('./demo.ts');
        return await runDemo();
      }
      case 'import': {
        const { runImport } = await import('./import.ts');
        return await runImport(rest);
      }
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(USAGE);
        return 0;
      case '--version': {
        const { packageVersion } = await import('./package-root.ts');
        console.log(packageVersion());
        return 0;
      }
      default:
        return usage(`unknown command '${command}'`);
    }
  } catch (err) {
    if (err instanceof ModelBugError) {
      const at = err.trace ? ` at ${err.trace.file}:${err.trace.line}` : '';
      console.error(`mmuwasm: internal error${at} (a bug in mmuwasm, not in the input): ${err.message}`);
      return 3;
    }
    if (err instanceof MmuError) {
      console.error(`mmuwasm: ${err.message}`);
      return 2;
    }
    throw err;
  }
}

function usage(message: string): number {
  console.error(`mmuwasm: ${message}\n\n${USAGE}`);
  return 2;
}
