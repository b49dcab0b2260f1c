// The address space's VMAs, sorted by address, with lookup, insert and removal in O(log n): the role
// of mm->mm_mt (the maple tree, v6.1 on; an rb-tree, mm->mm_rb, before). The kernel's structure is a
// B-tree of ranges; the model only needs its complexity, so this is an AVL tree keyed by vm_start.
// VMAs never overlap, so ordered by start they are ordered by end too: find_vma is "the first VMA
// whose end is above addr", a descent that keeps the best candidate, and a range walk is a descent to
// its first VMA and an in-order walk from there.
//
// `visits` counts the nodes every operation looks at, for tests that check the cost is logarithmic
// without timing anything.

export interface Range {
  start: bigint;
  end: bigint;
}

interface Node<T extends Range> {
  item: T;
  left: Node<T> | undefined;
  right: Node<T> | undefined;
  height: number;
}

const height = <T extends Range>(n: Node<T> | undefined): number => (n ? n.height : 0);

function update<T extends Range>(n: Node<T>): void {
  const l = height(n.left);
  const r = height(n.right);
  n.height = (l > r ? l : r) + 1;
}

function rotateRight<T extends Range>(n: Node<T>): Node<T> {
  const l = n.left!;
  n.left = l.right;
  l.right = n;
  update(n);
  update(l);
  return l;
}

function rotateLeft<T extends Range>(n: Node<T>): Node<T> {
  const r = n.right!;
  n.right = r.left;
  r.left = n;
  update(n);
  update(r);
  return r;
}

function rebalance<T extends Range>(n: Node<T>): Node<T> {
  update(n);
  const balance = height(n.left) - height(n.right);
  if (balance > 1) {
    if (height(n.left!.left) < height(n.left!.right)) n.left = rotateLeft(n.left!);
    return rotateRight(n);
  }
  if (balance < -1) {
    if (height(n.right!.right) < height(n.right!.left)) n.right = rotateRight(n.right!);
    return rotateLeft(n);
  }
  return n;
}

export class VmaTree<T extends Range> {
  private root: Node<T> | undefined;
  private count = 0;
  /** Nodes looked at by every operation since the tree was made (or the counter was reset). */
  visits = 0;

  get size(): number {
    return this.count;
  }

  /** The height of the tree: at most about 1.44 log2(size + 2) for an AVL tree. */
  get height(): number {
    return height(this.root);
  }

  /** Adds `item`; it must not overlap an item already in the tree (the caller checks, as mmap does). */
  insert(item: T): void {
    const go = (n: Node<T> | undefined): Node<T> => {
      if (!n) return { item, left: undefined, right: undefined, height: 1 };
      this.visits++;
      if (item.start < n.item.start) n.left = go(n.left);
      else n.right = go(n.right);
      return rebalance(n);
    };
    this.root = go(this.root);
    this.count++;
  }

  /** Removes `item` (found by its start; the same object must be there). False when it is not. */
  remove(item: T): boolean {
    let removed = false;
    const takeMin = (n: Node<T>): [Node<T> | undefined, Node<T>] => {
      this.visits++;
      if (!n.left) return [n.right, n];
      const [rest, min] = takeMin(n.left);
      n.left = rest;
      return [rebalance(n), min];
    };
    const go = (n: Node<T> | undefined): Node<T> | undefined => {
      if (!n) return undefined;
      this.visits++;
      if (item.start < n.item.start) n.left = go(n.left);
      else if (item.start > n.item.start) n.right = go(n.right);
      else if (n.item === item) {
        removed = true;
        if (!n.left || !n.right) return n.left ?? n.right;
        const [rest, min] = takeMin(n.right);
        min.right = rest;
        min.left = n.left;
        return rebalance(min);
      } else return n;
      return rebalance(n);
    };
    this.root = go(this.root);
    if (removed) this.count--;
    return removed;
  }

  /** find_vma: the first item whose end is above addr (it contains addr, or lies above it). */
  findAbove(addr: bigint): T | undefined {
    let best: T | undefined;
    for (let n = this.root; n; ) {
      this.visits++;
      if (n.item.end > addr) {
        best = n.item;
        n = n.left;
      } else n = n.right;
    }
    return best;
  }

  /** The item that contains addr (vma_lookup). */
  find(addr: bigint): T | undefined {
    const v = this.findAbove(addr);
    return v && v.start <= addr ? v : undefined;
  }

  /** The items that overlap [start, end), in address order (for_each_vma_range). */
  *range(start: bigint, end: bigint): Generator<T> {
    // The path to the first item whose end is above start, then an in-order walk with a stack.
    const stack: Node<T>[] = [];
    for (let n = this.root; n; ) {
      this.visits++;
      if (n.item.end > start) {
        stack.push(n);
        n = n.left;
      } else n = n.right;
    }
    while (stack.length) {
      const n = stack.pop()!;
      if (n.item.start >= end) return;
      yield n.item;
      for (let c = n.right; c; c = c.left) {
        this.visits++;
        stack.push(c);
      }
    }
  }

  /** Whether some item overlaps [start, end). */
  overlaps(start: bigint, end: bigint): boolean {
    const v = this.findAbove(start);
    return v !== undefined && v.start < end;
  }

  /** Every item in address order. */
  *[Symbol.iterator](): Generator<T> {
    const stack: Node<T>[] = [];
    for (let n = this.root; n; n = n.left) stack.push(n);
    while (stack.length) {
      const n = stack.pop()!;
      yield n.item;
      for (let c = n.right; c; c = c.left) stack.push(c);
    }
  }

  /** What an AVL tree of ranges must be: ordered, non-overlapping, balanced, heights right, counted. */
  checkInvariants(): string[] {
    const problems: string[] = [];
    let seen = 0;
    let prev: T | undefined;
    const walk = (n: Node<T> | undefined): number => {
      if (!n) return 0;
      const l = walk(n.left);
      seen++;
      if (n.item.start >= n.item.end) problems.push(`[0x${n.item.start.toString(16)}, 0x${n.item.end.toString(16)}) is empty`);
      if (prev && prev.end > n.item.start) problems.push(`[0x${prev.start.toString(16)}, 0x${prev.end.toString(16)}) overlaps or follows [0x${n.item.start.toString(16)}, ...)`);
      prev = n.item;
      const r = walk(n.right);
      if (Math.abs(l - r) > 1) problems.push(`node at 0x${n.item.start.toString(16)} is out of balance (${l} vs ${r})`);
      if (n.height !== (l > r ? l : r) + 1) problems.push(`node at 0x${n.item.start.toString(16)} has height ${n.height}, not ${(l > r ? l : r) + 1}`);
      return (l > r ? l : r) + 1;
    };
    walk(this.root);
    if (seen !== this.count) problems.push(`${seen} nodes but a count of ${this.count}`);
    return problems;
  }
}
