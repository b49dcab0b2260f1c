// The command line. Every command returns its exit status: 0 success, 1 a finding (a failed
// expectation or a violation), 2 bad input or usage.
import { readFileSync } from 'node:fs';
import { MmuError } from './mmu/errors.ts';

const USAGE = `usage: mmuwasm <command> [options]

commands:
  demo                       a short demonstration of the emulated hardware (npm start)
  bench [--json FILE|-] [--quick] [--filter NAME]
                             benchmarks: TLB hits and page walks per second, WebAssembly against
                             the TypeScript reference model and a native C walker
  help                       this text
  --version                  the version
`;

export async function main(argv: string[]): Promise<number> {
  const [command = 'help', ...rest] = argv;
  try {
    switch (command) {
      case 'demo': {
        if (rest.length) return usage(`demo takes no options (got ${rest.join(' ')})`);
        const { runDemo } = await import('./demo.ts');
        return await runDemo();
      }
      case 'bench': {
        const { runBench } = await import('../bench/index.ts');
        return await runBench(rest);
      }
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(USAGE);
        return 0;
      case '--version': {
        const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
        console.log(pkg.version);
        return 0;
      }
      default:
        return usage(`unknown command '${command}'`);
    }
  } catch (err) {
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
