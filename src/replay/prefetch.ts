// Reading ahead: the trace reader runs while the replay waits for its workers, so decoding the next
// events (and the binary form's access runs) overlaps the accesses of the current window. Items of
// at most `max` weight in all are held (at least one, whatever its weight); the order of items and of
// the reader's error is kept (the error comes after every item read before it, as it would without
// the read-ahead).
export async function* prefetch<T>(source: AsyncIterable<T>, max: number, weight: (item: T) => number = () => 1): AsyncGenerator<T> {
  const it = source[Symbol.asyncIterator]();
  const buffer: T[] = [];
  let held = 0;
  let done = false;
  let failure: { err: unknown } | undefined;
  let wake: (() => void) | undefined;
  let room: (() => void) | undefined;
  let stopped = false;
  const pump = (async () => {
    try {
      while (!stopped) {
        if (buffer.length && held >= max) {
          await new Promise<void>((r) => (room = r));
          continue;
        }
        const r = await it.next();
        if (r.done) break;
        buffer.push(r.value);
        held += weight(r.value);
        wake?.();
      }
    } catch (err) {
      failure = { err };
    } finally {
      done = true;
      wake?.();
    }
  })();
  try {
    for (;;) {
      if (buffer.length) {
        const item = buffer.shift()!;
        held -= weight(item);
        room?.();
        room = undefined;
        yield item;
        continue;
      }
      if (done) break;
      await new Promise<void>((r) => (wake = r));
      wake = undefined;
    }
    if (failure) throw failure.err;
  } finally {
    stopped = true;
    room?.();
    await pump;
    await it.return?.();
  }
}
