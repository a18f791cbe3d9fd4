/**
 * A min-heap of (height, channel) wake-ups with lazy deletion: the ChainArbitrator pops the channels due at a
 * block's height without looking at any other channel, so an idle block costs O(due · log n), not O(channels).
 * A channel's current wake height lives with the caller; an entry whose height no longer matches it is stale
 * and skipped when popped.
 */

interface Item {
  readonly height: number;
  readonly id: string;
}

/** Min-heap by height. */
export class WakeQueue {
  readonly #heap: Item[] = [];

  get size(): number {
    return this.#heap.length;
  }

  push(height: number, id: string): void {
    const h = this.#heap;
    h.push({ height, id });
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if ((h[p] as Item).height <= height) break;
      h[i] = h[p] as Item;
      i = p;
    }
    h[i] = { height, id };
  }

  /** Removes and returns every entry with height <= `height`, lowest first (stale ones included: the caller checks). */
  popDue(height: number): Item[] {
    const out: Item[] = [];
    while (this.#heap.length > 0 && (this.#heap[0] as Item).height <= height) out.push(this.#pop());
    return out;
  }

  #pop(): Item {
    const h = this.#heap;
    const top = h[0] as Item;
    const last = h.pop() as Item;
    if (h.length === 0) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= h.length) break;
      const r = l + 1;
      const c = r < h.length && (h[r] as Item).height < (h[l] as Item).height ? r : l;
      if ((h[c] as Item).height >= last.height) break;
      h[i] = h[c] as Item;
      i = c;
    }
    h[i] = last;
    return top;
  }
}
