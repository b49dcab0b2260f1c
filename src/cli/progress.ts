// A progress line on the terminal (stderr) for long replays: events, accesses, rate and, where the
// trace's size is known, how far through the file and an estimate of the time left.
import { statSync } from 'node:fs';

export class Progress {
  private readonly started = Date.now();
  private last = 0;
  private readonly bytes: number;
  private shown = false;
  constructor(path: string) {
    let size = 0;
    try {
      size = statSync(path).size;
    } catch {
      // the reader reports an unreadable file itself
    }
    this.bytes = size;
  }

  /** Called per event; redraws at most five times a second, and only after the first second. */
  tick(line: number, accesses: number, bytesRead?: number): void {
    const now = Date.now();
    if (now - this.started < 1000 || now - this.last < 200) return;
    this.last = now;
    const secs = (now - this.started) / 1000;
    const rate = accesses / secs;
    let tail = '';
    if (bytesRead !== undefined && this.bytes > 0) {
      const frac = Math.min(1, bytesRead / this.bytes);
      const width = 24;
      const filled = Math.round(frac * width);
      const eta = frac > 0 ? secs / frac - secs : 0;
      tail = ` [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(frac * 100).toFixed(0)}% ETA ${eta.toFixed(0)}s`;
    }
    process.stderr.write(`\r  line ${line}, ${accesses} accesses, ${formatRate(rate)} accesses/s${tail}\x1b[K`);
    this.shown = true;
  }

  done(): void {
    if (this.shown) process.stderr.write('\r\x1b[K');
  }
}

export function formatRate(r: number): string {
  if (r >= 1e6) return `${(r / 1e6).toFixed(1)} M`;
  if (r >= 1e3) return `${(r / 1e3).toFixed(1)} k`;
  return r.toFixed(0);
}
