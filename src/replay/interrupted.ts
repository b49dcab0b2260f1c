// The end of a replay that a signal (or any abort) stopped: like a bad line, it leaves the partial
// report, marked incomplete; unlike one, it says which signal, and the command exits with its status.
export class Interrupted extends Error {
  constructor(readonly file: string, readonly line: number, readonly signalName: string) {
    super(`interrupted by ${signalName}${signalName === 'SIGINT' ? ' (Ctrl-C)' : ''}: the report holds what was replayed before`);
    this.name = 'Interrupted';
  }
}

/** The signal's name an abort carries as its reason (src/cli/signals.ts), or "an abort". */
export function abortName(signal: AbortSignal | undefined): string {
  const r = signal?.reason;
  return typeof r === 'string' ? r : 'an abort';
}
