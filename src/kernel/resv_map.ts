// struct resv_map: the huge-page indices a hugetlbfs file (shared mappings) or a private mapping has
// reserved, kept as the kernel keeps them — a sorted list of disjoint regions [from, to) (file_region,
// mm/hugetlb.c region_add / region_chg / region_del) — not as a set of indices: a mapping of 1 GiB
// of 2 MiB pages is one region, not 512 entries to build, look up and collect (which was a twentieth
// of every explored schedule of the founding block).

export class ResvMap {
  /** from0, to0, from1, to1, …: sorted, disjoint, not adjacent (adjacent regions are merged). */
  private readonly r: number[] = [];

  /** The first region whose end is above i (its index in pairs), or the number of regions. */
  private find(i: number): number {
    let lo = 0;
    let hi = this.r.length >> 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.r[2 * mid + 1] <= i) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  has(i: number): boolean {
    const k = this.find(i);
    return k < this.r.length >> 1 && this.r[2 * k] <= i;
  }

  /** region_chg: how many indices of [from, to) are not reserved yet. */
  missing(from: number, to: number): number {
    let n = Math.max(0, to - from);
    for (let k = this.find(from); k < this.r.length >> 1 && this.r[2 * k] < to; k++) {
      n -= Math.min(to, this.r[2 * k + 1]) - Math.max(from, this.r[2 * k]);
    }
    return n;
  }

  /** region_add: [from, to) is reserved (merged with the regions it overlaps or touches). */
  add(from: number, to: number): void {
    if (from >= to) return;
    const k = this.find(from - 1); // a region ending at `from` touches it
    let end = k;
    let lo = from;
    let hi = to;
    while (end < this.r.length >> 1 && this.r[2 * end] <= to) {
      lo = Math.min(lo, this.r[2 * end]);
      hi = Math.max(hi, this.r[2 * end + 1]);
      end++;
    }
    this.r.splice(2 * k, 2 * (end - k), lo, hi);
  }

  /** region_del of one index; whether it was reserved. */
  delete(i: number): boolean {
    const k = this.find(i);
    if (k >= this.r.length >> 1 || this.r[2 * k] > i) return false;
    const from = this.r[2 * k];
    const to = this.r[2 * k + 1];
    const parts: number[] = [];
    if (from < i) parts.push(from, i);
    if (i + 1 < to) parts.push(i + 1, to);
    this.r.splice(2 * k, 2, ...parts);
    return true;
  }

  /** region_del of [from, to): the indices that were reserved there, in order. */
  deleteRange(from: number, to: number): number[] {
    const gone: number[] = [];
    if (from >= to) return gone;
    const k = this.find(from);
    let end = k;
    const keep: number[] = [];
    while (end < this.r.length >> 1 && this.r[2 * end] < to) {
      const a = this.r[2 * end];
      const b = this.r[2 * end + 1];
      for (let i = Math.max(from, a); i < Math.min(to, b); i++) gone.push(i);
      if (a < from) keep.push(a, from);
      if (to < b) keep.push(to, b);
      end++;
    }
    this.r.splice(2 * k, 2 * (end - k), ...keep);
    return gone;
  }
}
