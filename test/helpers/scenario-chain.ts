/**
 * A scripted node chain for tests that drive the chain layer's watches directly: the blocks above `base` that a
 * test adds or reorganises away (empty blocks at and below `base`), readable as a ChainSource, a UtxoSource and a
 * view, as the funding watches' rescan reads them. The crash suite and the fault-injection tests use it.
 */
import type { BlockRef, ChainBlock, ChainSource, Outpoint, UtxoSource } from '../../src/chain/ports.js';
import { reversed, sha256, toHex } from '../../src/util/bytes.js';
import { CourtError } from '../../src/util/errors.js';

export class ScenarioChain implements ChainSource, UtxoSource {
  readonly best: ChainBlock[] = [];
  readonly #base: number;
  readonly #empty = new Map<string, ChainBlock>();

  constructor(base: number) {
    this.#base = base;
  }

  add(b: ChainBlock): void {
    if (this.best.some((x) => x.hash === b.hash)) return;
    this.best.push(b);
  }

  remove(height: number, hash: string): void {
    const top = this.best.at(-1);
    if (top?.height === height && top.hash === hash) this.best.pop();
  }

  #at(height: number): ChainBlock {
    const b = this.best.find((x) => x.height === height);
    if (b !== undefined) return b;
    if (height > this.#base) throw new CourtError('COURT_E_CHAIN_NOT_FOUND', `no block ${height}`);
    const hash = toHex(sha256(new TextEncoder().encode(`scenario empty block ${height}`)));
    const empty: ChainBlock = { hash, height, prevHash: '00'.repeat(32), txs: [], txids: [] };
    this.#empty.set(hash, empty);
    return empty;
  }

  readonly view = {
    tip: (): BlockRef => {
      const b = this.#at(this.best.at(-1)?.height ?? this.#base);
      return { height: b.height, hash: b.hash };
    },
    hashAt: (height: number): string | undefined => (height <= this.view.tip().height ? this.#at(height).hash : undefined),
  };

  async getTip(): Promise<BlockRef> {
    return this.view.tip();
  }

  async getBlockHash(height: number): Promise<string> {
    return this.#at(height).hash;
  }

  async getBlock(hash: string): Promise<ChainBlock> {
    const b = this.best.find((x) => x.hash === hash) ?? this.#empty.get(hash);
    if (b === undefined) throw new CourtError('COURT_E_CHAIN_NOT_FOUND', `no block ${hash}`);
    return b;
  }

  async getRawTransaction(): Promise<undefined> {
    return undefined;
  }

  async isUnspent(op: Outpoint): Promise<boolean> {
    return !this.best.some((b) => b.txs.some((tx) => tx.ins.some((i) => toHex(reversed(i.hash)) === op.txid && i.index === op.vout)));
  }
}
