// The oracle's hooks in the hardware. Every physical frame has a generation slot; a cached
// translation remembers the generation of the frame (or table) it points to, and a use compares it:
// one load and one compare on the hit path. What a mismatch means is the host's business; the
// hardware only reports it, with the batch index of the access, into the CPU's event ring.
import * as L from './layout';
import { genBase, genSlots, zone4k, eventOff, eventCap, eventRoom } from './machine';

/** Slots are per 4 KiB below zone4k and per 2 MiB above (docs/hardware.md, "Oracle stamps"). */
@inline export function slotOf(pa: u64): u32 {
  const s: u64 = pa < zone4k ? pa >> 12 : (zone4k >> 12) + ((pa - zone4k) >> 21);
  // A frame beyond simulated memory shares the last slot rather than reading out of bounds.
  return s < <u64>genSlots ? <u32>s : genSlots - 1;
}

@inline export function generation(slot: u32): u32 {
  return atomic.load<u32>(genBase + (<usize>slot << 2));
}

/**
 * Appends an event; returns true when the ring is now full (the batch must stop after this access).
 * The access that fills the ring may add more events: they go to the room after it (memory.ts).
 */
export function recordEvent(cb: usize, kind: u32, index: u32, va: u64, pa: u64, slot: u32, stamp: u32): bool {
  const n = load<u32>(cb + L.CPU_EVENT_COUNT);
  if (n >= eventRoom) return true;
  const p = cb + eventOff + <usize>n * L.EVENT_BYTES;
  store<u32>(p, kind, L.EV_KIND);
  store<u32>(p, index, L.EV_INDEX);
  store<u64>(p, va, L.EV_VA);
  store<u64>(p, pa, L.EV_PA);
  store<u32>(p, slot, L.EV_SLOT);
  store<u32>(p, stamp, L.EV_STAMP);
  store<u32>(cb + L.CPU_EVENT_COUNT, n + 1);
  return n + 1 >= eventCap;
}
