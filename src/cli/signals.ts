// SIGINT and SIGTERM for every command, in one place. The first one aborts `interruption().signal`:
// a replay stops at its next batch or line and writes its partial report ("complete": false); a
// command that writes a file removes its temporary output. The exit status is then 128 + the signal's
// number (130 for SIGINT, 143 for SIGTERM), what a shell reports for a process the signal ended, so a
// script's loop stops too. A second signal, or a command that has not stopped within STOP_WITHIN,
// ends the process at once (the cleanups still run: no temporary file stays).
//
// bin/mmuwasm.mjs records a signal that arrives while the program starts (before this module is
// loaded) under SIGNALS_KEY; installSignals() takes it over, so no signal is ever lost or fatal.
import { constants } from 'node:os';

/** Where bin/mmuwasm.mjs leaves the signals of start-up ({ received: string[], early?: listener }). */
export const SIGNALS_KEY = Symbol.for('mmuwasm.signals');

/** How long a command may take to stop after a signal before it is ended without its report. */
export const STOP_WITHIN = 3000;

type Handled = 'SIGINT' | 'SIGTERM';
const HANDLED: readonly Handled[] = ['SIGINT', 'SIGTERM'];

interface State {
  received: string[];
  early?: (signal: NodeJS.Signals) => void;
  installed?: boolean;
}

const controller = new AbortController();
const cleanups = new Set<() => void>();

function state(): State {
  const g = globalThis as unknown as Record<symbol, State | undefined>;
  return (g[SIGNALS_KEY] ??= { received: [] });
}

/** The exit status of a command a signal stopped: 128 + its number. */
export function signalStatus(signal: string): number {
  return 128 + (constants.signals[signal as Handled] ?? 0);
}

function runCleanups(): void {
  for (const c of [...cleanups]) {
    try {
      c();
    } catch {
      // a cleanup that fails must not keep the others from running
    }
  }
  cleanups.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  const s = state();
  s.received.push(signal);
  if (s.received.length > 1) {
    runCleanups();
    process.exit(signalStatus(s.received[0]));
  }
  controller.abort(signal);
  // The command stops by itself; should it not, it is ended (unref: a command that has finished exits).
  setTimeout(() => {
    process.stderr.write(`mmuwasm: stopped by ${signal} (it did not stop within ${STOP_WITHIN / 1000} s)\n`);
    runCleanups();
    process.exit(signalStatus(signal));
  }, STOP_WITHIN).unref();
}

/** Installs the handlers (once), taking over what start-up recorded. */
export function installSignals(): void {
  const s = state();
  if (s.installed) return;
  s.installed = true;
  for (const sig of HANDLED) {
    if (s.early) process.off(sig, s.early);
    process.on(sig, onSignal);
  }
  const early = s.received.splice(0);
  for (const sig of early) onSignal(sig as NodeJS.Signals);
}

export interface Interruption {
  /** Aborted by the first SIGINT or SIGTERM; its reason is the signal's name. */
  readonly signal: AbortSignal;
  /** The signal that stopped the command, if one did. */
  readonly received: string | undefined;
}

/** The process's interruption (installs the handlers). */
export function interruption(): Interruption {
  installSignals();
  return {
    signal: controller.signal,
    get received() {
      return controller.signal.aborted ? String(controller.signal.reason) : undefined;
    },
  };
}

/** Runs `cleanup` if the process is ended by a signal before the returned function is called. */
export function onForcedExit(cleanup: () => void): () => void {
  cleanups.add(cleanup);
  return () => cleanups.delete(cleanup);
}

/** The sentence of an interrupted command. */
export function interruptedBy(signal: string): string {
  return `interrupted by ${signal}${signal === 'SIGINT' ? ' (Ctrl-C)' : ''}`;
}

/**
 * For a command that does not stop by itself (a short one, or `start`): the signals get their default
 * action again, and one that came during start-up ends the process now.
 */
export function releaseSignals(): void {
  const s = state();
  if (s.installed) return;
  for (const sig of HANDLED) if (s.early) process.off(sig, s.early);
  if (s.received.length) process.exit(signalStatus(s.received[0]));
}
