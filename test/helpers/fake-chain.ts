/**
 * FakeChain: a deterministic in-memory node implementing every lower chain port (ChainSource, MempoolSource,
 * UtxoSource, TxRelay, FeeRateSource) for unit tests. It mines blocks (with a coinbase each, so every block hash
 * differs), reorganises the tip, builds transactions that spend chosen outpoints, keeps a mempool, counts calls,
 * and can be taken "down" (every call throws COURT_E_CHAIN_UNREACHABLE). Stale blocks stay fetchable by hash,
 * as bitcoind keeps them. Hashes are sha256d of the block's contents: no proof of work, no randomness.
 */
import { Transaction } from 'bitcoinjs-lib';
import { CourtError } from '../../src/util/errors.js';
import { reversed, sha256d, toHex, fromHex } from '../../src/util/bytes.js';
import type {
  BlockRef,
  ChainBlock,
  ChainSource,
  FeeRateSource,
  MempoolSource,
  Outpoint,
  SpendNotifier,
  Txid,
  TxLookup,
  TxRelay,
  UtxoSource,
} from '../../src/chain/ports.js';

const OP_TRUE = Uint8Array.of(0x51);
const ZERO32 = new Uint8Array(32);

/** A JSON-RPC style refusal the fake relay can be told to answer. */
export interface RelayRefusal {
  readonly code: number;
  readonly message: string;
}

export class FakeChain implements ChainSource, MempoolSource, UtxoSource, TxRelay, FeeRateSource {
  /** Best chain; index = height. */
  readonly best: ChainBlock[] = [];
  /** Every block ever mined, including stale ones. */
  readonly byHash = new Map<string, ChainBlock>();
  readonly mempool = new Map<Txid, Transaction>();
  /** When true every port call throws COURT_E_CHAIN_UNREACHABLE. */
  down = false;
  /** Number of calls per port method. */
  readonly calls = new Map<string, number>();
  /** Number of getBlock calls per block hash. */
  readonly blockFetches = new Map<string, number>();
  /** Raw transactions received by sendRawTransaction, in order (txids). */
  readonly sent: Txid[] = [];
  /** Decides how sendRawTransaction answers; default: accept into the mempool. */
  relayRule: (tx: Transaction) => RelayRefusal | undefined = () => undefined;
  /** estimatesmartfee answers (BTC/kvB) by target; a missing target means "no estimate". */
  readonly estimates = new Map<number, string>();
  mempoolMinFeeBtc = '0.00001000';
  relayFeeBtc = '0.00001000';
  private salt = 0;

  constructor() {
    this.mineOn(undefined, []);
  }

  // ---- driving the chain ----

  get tip(): ChainBlock {
    return this.best[this.best.length - 1] as ChainBlock;
  }

  get height(): number {
    return this.best.length - 1;
  }

  /** Mines `n` blocks; `txs` go in the first one (and leave the mempool). Returns the new blocks. */
  mine(n = 1, txs: readonly Transaction[] = []): ChainBlock[] {
    const out: ChainBlock[] = [];
    for (let i = 0; i < n; i++) out.push(this.mineOn(this.tip, i === 0 ? txs : []));
    return out;
  }

  /** Mines every mempool transaction into one new block. */
  mineMempool(): ChainBlock {
    return this.mine(1, [...this.mempool.values()])[0] as ChainBlock;
  }

  /**
   * Replaces the newest `depth` blocks with `length` new ones (default depth + 1, so the new branch wins).
   * `txsByBlock[i]` go into the i-th new block. Transactions of orphaned blocks are dropped (not re-added to
   * the mempool), so a test decides what the new branch contains.
   */
  reorg(depth: number, length = depth + 1, txsByBlock: readonly (readonly Transaction[])[] = []): ChainBlock[] {
    if (depth >= this.best.length) throw new Error('cannot reorg the genesis block');
    this.best.length = this.best.length - depth;
    const out: ChainBlock[] = [];
    for (let i = 0; i < length; i++) out.push(this.mineOn(this.tip, txsByBlock[i] ?? []));
    return out;
  }

  /** A transaction with `outputs` outputs (1000 sat each) that spends nothing real: a funding tx stand-in. */
  makeTx(outputs = 1): Transaction {
    const tx = new Transaction();
    const fakePrev = sha256d(Uint8Array.of(0xf0, ...new TextEncoder().encode(`fund-${this.salt++}`)));
    tx.addInput(fakePrev, 0);
    for (let i = 0; i < outputs; i++) tx.addOutput(OP_TRUE, 1000n);
    return tx;
  }

  /** A transaction spending `outpoints` (in order) with `witness` on each input, paying to OP_TRUE. */
  spend(outpoints: Outpoint | readonly Outpoint[], witness: Uint8Array[] = [Uint8Array.of(this.salt++ & 0xff)]): Transaction {
    const tx = new Transaction();
    for (const op of Array.isArray(outpoints) ? outpoints : [outpoints]) {
      const i = tx.addInput(reversed(fromHex(op.txid)), op.vout);
      tx.setWitness(i, witness);
    }
    tx.addOutput(OP_TRUE, 500n);
    tx.locktime = this.salt++; // distinct txids for otherwise identical spends
    return tx;
  }

  // ---- ports ----

  async getTip(): Promise<BlockRef> {
    this.enter('getTip');
    return { height: this.height, hash: this.tip.hash };
  }

  async getBlockHash(height: number): Promise<string> {
    this.enter('getBlockHash');
    const b = this.best[height];
    if (!b) throw new CourtError('COURT_E_CHAIN_NOT_FOUND', 'Block height out of range', { rpcCode: -8 });
    return b.hash;
  }

  async getBlock(hash: string): Promise<ChainBlock> {
    this.enter('getBlock');
    this.blockFetches.set(hash, (this.blockFetches.get(hash) ?? 0) + 1);
    const b = this.byHash.get(hash);
    if (!b) throw new CourtError('COURT_E_CHAIN_NOT_FOUND', 'Block not found', { rpcCode: -5 });
    return b;
  }

  async getRawTransaction(txid: Txid): Promise<TxLookup | undefined> {
    this.enter('getRawTransaction');
    const m = this.mempool.get(txid);
    if (m) return { tx: m };
    for (const b of this.best) {
      const i = b.txids.indexOf(txid);
      if (i >= 0) return { tx: b.txs[i] as Transaction, confirmation: { height: b.height, hash: b.hash } };
    }
    return undefined;
  }

  async getRawMempool(): Promise<Txid[]> {
    this.enter('getRawMempool');
    return [...this.mempool.keys()];
  }

  async getMempoolTransaction(txid: Txid): Promise<Transaction | undefined> {
    this.enter('getMempoolTransaction');
    return this.mempool.get(txid);
  }

  async isUnspent(outpoint: Outpoint): Promise<boolean> {
    this.enter('isUnspent');
    let created = false;
    for (const b of this.best) {
      for (let i = 0; i < b.txs.length; i++) {
        const tx = b.txs[i] as Transaction;
        if (b.txids[i] === outpoint.txid && outpoint.vout < tx.outs.length) created = true;
        for (const input of tx.ins) {
          if (toHex(reversed(input.hash)) === outpoint.txid && input.index === outpoint.vout) return false;
        }
      }
    }
    return created;
  }

  async sendRawTransaction(hex: string): Promise<Txid> {
    this.enter('sendRawTransaction');
    const tx = Transaction.fromHex(hex);
    const txid = tx.getId();
    this.sent.push(txid);
    const refusal = this.relayRule(tx);
    if (refusal) {
      throw new CourtError('COURT_E_CHAIN_RPC', `sendrawtransaction: ${refusal.message}`, {
        method: 'sendrawtransaction',
        rpcCode: refusal.code,
        rpcMessage: refusal.message,
      });
    }
    this.mempool.set(txid, tx);
    return txid;
  }

  async estimateSmartFee(confTarget: number): Promise<string | undefined> {
    this.enter('estimateSmartFee');
    return this.estimates.get(confTarget);
  }

  async mempoolMinFee(): Promise<string> {
    this.enter('mempoolMinFee');
    return this.mempoolMinFeeBtc;
  }

  async relayFee(): Promise<string> {
    this.enter('relayFee');
    return this.relayFeeBtc;
  }

  /** How many times `method` was called. */
  count(method: string): number {
    return this.calls.get(method) ?? 0;
  }

  // ---- internals ----

  private enter(method: string): void {
    this.calls.set(method, (this.calls.get(method) ?? 0) + 1);
    if (this.down) throw new CourtError('COURT_E_CHAIN_UNREACHABLE', `${method}: connect ECONNREFUSED`, { method });
  }

  private mineOn(parent: ChainBlock | undefined, txs: readonly Transaction[]): ChainBlock {
    const height = parent ? parent.height + 1 : 0;
    const coinbase = new Transaction();
    coinbase.addInput(ZERO32, 0xffffffff, 0xffffffff, new TextEncoder().encode(`h${height}s${this.salt++}`));
    coinbase.addOutput(OP_TRUE, 5_000_000_000n);
    const all = [coinbase, ...txs];
    const txids = all.map((t) => t.getId());
    const prevHash = parent ? parent.hash : '0'.repeat(64);
    const hash = toHex(sha256d(new TextEncoder().encode(`${prevHash}|${height}|${txids.join(',')}`)));
    const block: ChainBlock = { hash, height, prevHash, txs: all, txids };
    this.best.push(block);
    this.byHash.set(hash, block);
    for (const id of txids) this.mempool.delete(id);
    return block;
  }
}

/** Outpoint `vout` of `tx`. */
export function outpointOf(tx: Transaction, vout = 0): Outpoint {
  return { txid: tx.getId(), vout };
}

/** A Sleep that never waits and records every requested delay. */
export function instantSleep(): { sleep: (ms: number, signal: AbortSignal) => Promise<void>; delays: number[] } {
  const delays: number[] = [];
  return {
    delays,
    sleep: async (ms) => {
      delays.push(ms);
      await new Promise((r) => setImmediate(r));
    },
  };
}

/** Spend watches that never report (tests of snapshots, preimages and call order, where no funding output is spent). */
export const NO_SPENDS: Pick<SpendNotifier, 'watchSpend'> = { watchSpend: () => ({ id: 0, ready: Promise.resolve(), cancel: () => undefined }) };
