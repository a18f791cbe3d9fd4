/**
 * Core's invalidateblock / reconsiderblock on bcoin.
 *
 * Stock bcoin's invalidateblock resets the chain database to the parent, deleting the blocks above it and
 * wiping the whole mempool; reconsiderblock only clears a flag. Here the disconnected blocks are kept in memory
 * (so getblock/getblockheader still answer for them, with confirmations -1), their transactions and the
 * previous mempool go back into the mempool, and reconsiderblock reconnects them (a reorg if their branch has
 * more work than whatever was mined meanwhile, as in Core).
 */
import { mempoolInOrder, readdAll, type BcoinLib } from './policy.js';

/** A block taken off the chain by invalidateblock: its chain entry (for headers) and full block. */
export interface KeptBlock {
  readonly entry: any;
  readonly block: any;
}

export class KeptBlocks {
  /** By bcoin's internal (little-endian hex) hash. */
  private readonly kept = new Map<string, KeptBlock>();

  constructor(
    private readonly lib: BcoinLib,
    private readonly node: any,
  ) {}

  get(hash: string): KeptBlock | undefined {
    return this.kept.get(hash);
  }

  /** invalidateblock: disconnect `hash` and its descendants on the main chain, keeping them. */
  async invalidate(hash: string): Promise<void> {
    const chain = this.node.chain;
    const mp = this.node.mempool;
    if (this.kept.has(hash)) return; // already invalidated: Core answers null
    let entry = await chain.getEntry(hash);
    if (!entry) throw new Error('Block not found');
    if (entry.height === 0) throw new Error('Cannot invalidate the genesis block');
    if (!(await chain.isMainChain(entry))) {
      chain.setInvalid(hash);
      return;
    }
    const taken: KeptBlock[] = [];
    while (entry) {
      taken.push({ entry, block: await chain.getBlock(entry.hash) });
      entry = await chain.getNext(entry);
    }
    const previousMempool = mempoolInOrder(mp);
    await chain.invalidate(hash);
    for (const k of taken) this.kept.set(k.entry.hash, k);
    const unlock = await mp.locker.lock();
    try {
      const blockTxs = taken.flatMap((k) => k.block.txs.slice(1));
      await readdAll(this.lib, mp, [...blockTxs, ...previousMempool]);
    } finally {
      unlock();
    }
  }

  /**
   * reconsiderblock: clear the invalid mark of `hash`, of its kept ancestors (as Core does) and of its kept
   * descendants, and connect that whole kept branch again. A block leaves the kept set only once connected.
   */
  async reconsider(hash: string): Promise<void> {
    const chain = this.node.chain;
    let k = this.kept.get(hash);
    if (!k) {
      if (!(await chain.getEntry(hash))) throw new Error('Block not found');
      chain.removeInvalid(hash);
      return;
    }
    for (let parent = this.kept.get(k.block.prevBlock); parent; parent = this.kept.get(parent.block.prevBlock)) k = parent;
    const branch: KeptBlock[] = [];
    for (let b: KeptBlock | undefined = k; b; ) {
      branch.push(b);
      const prev: string = b.entry.hash;
      b = [...this.kept.values()].find((c) => c.block.prevBlock === prev);
    }
    for (const b of branch) chain.removeInvalid(b.entry.hash);
    for (const b of branch) {
      await chain.add(b.block);
      this.kept.delete(b.entry.hash);
    }
  }
}
