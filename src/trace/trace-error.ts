// A bad trace: the file, the line and the field, and what is wrong with them.
export class TraceError extends Error {
  readonly reason: string;
  constructor(readonly file: string, readonly line: number, readonly field: string | undefined, reason: string) {
    super(`${file}:${line}: ${field ? `field "${field}": ` : ''}${reason}`);
    this.reason = reason;
    this.name = 'TraceError';
  }
}
