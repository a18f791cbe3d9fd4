/**
 * Mempool spend watches: report an unconfirmed transaction that spends a watched outpoint, with the spending
 * transaction, so a resolver can take an HTLC preimage from its witness before it confirms (and fail or settle
 * upstream sooner). Confirmed spends are the business of ChainWatches; this never reports undo events.
 *
 * Polling: every `pollMs`, getrawmempool; only txids not seen at the previous poll are fetched (in JSON-RPC batches
 * of 500 when the source offers getMempoolTransactions: not one request per transaction), and the inputs
 * of every mempool transaction are indexed (outpoint key -> spending txid), so a watch registered after its
 * spender arrived is answered from the index at the next poll. Transactions that left the mempool are dropped
 * from the index. While no watch exists nothing is fetched and the index is emptied, so an idle courtd does not
 * mirror a mainnet mempool.
 *
 * Delivery: callbacks, awaited one at a time, once per (watch, spending txid): a replacement (RBF) spender is
 * reported too. A throwing handler is logged and not retried. Node errors back off and never escape the loop.
 */
import type { Transaction } from 'bitcoinjs-lib';
import { errFields, silentLogger, type Logger } from '../util/logger.js';
import { checkOutpoint, inputKey, outpointKey } from './outpoint.js';
import type { MempoolSource, MempoolSpend, Outpoint, Txid } from './ports.js';
import { SerialQueue } from './serial-queue.js';
import { PollLoop, realSleep, type Backoff, type Sleep } from './timing.js';

/** Mempool transactions fetched per request when the source batches. */
const BATCH = 500;

/** Options of MempoolWatcher. */
export interface MempoolWatcherOptions {
  readonly source: MempoolSource;
  /** Poll interval in ms (default 1000). */
  readonly pollMs?: number;
  /** Back-off after a failed poll (default 500 ms doubling to 30 s). */
  readonly backoff?: Backoff;
  readonly sleep?: Sleep;
  readonly logger?: Logger;
}

/** A registered mempool watch. */
export interface MempoolWatchHandle {
  readonly id: number;
  /** Stops the watch; no event is delivered after this returns. Idempotent. */
  cancel(): void;
}

interface MempoolWatch {
  readonly id: number;
  readonly outpoint: Outpoint;
  readonly key: string;
  readonly onEvent: (e: MempoolSpend) => void | Promise<void>;
  readonly reported: Set<Txid>;
  cancelled: boolean;
}

/** Watches the mempool for spends of outpoints. See the module comment. */
export class MempoolWatcher {
  private readonly source: MempoolSource;
  private readonly pollMs: number;
  private readonly backoff: Backoff;
  private readonly sleep: Sleep;
  private readonly logger: Logger;
  private readonly queue = new SerialQueue();
  private readonly loop: PollLoop;

  private readonly watches = new Map<string, Set<MempoolWatch>>();
  /** Watches registered since the last poll: checked against the whole index once. */
  private fresh: MempoolWatch[] = [];
  /** Mempool txids seen at the last poll, with the outpoint keys each spends. */
  private readonly known = new Map<Txid, string[]>();
  /** Outpoint key -> the mempool transaction spending it. */
  private readonly spentBy = new Map<string, Txid>();
  private nextId = 1;

  constructor(opts: MempoolWatcherOptions) {
    this.source = opts.source;
    this.pollMs = opts.pollMs ?? 1000;
    this.backoff = opts.backoff ?? { baseDelayMs: 500, maxDelayMs: 30_000 };
    this.sleep = opts.sleep ?? realSleep;
    this.logger = opts.logger ?? silentLogger;
    this.loop = new PollLoop({
      tick: () => this.poll(),
      pollMs: this.pollMs,
      backoff: this.backoff,
      sleep: this.sleep,
      onFailure: (err, failures, retryInMs) =>
        this.logger.warn({ err: errFields(err), failures, retryInMs }, 'mempool watcher: poll failed'),
    });
  }

  /** Reports every mempool transaction (seen from the next poll on) that spends `outpoint`. */
  watchSpend(outpoint: Outpoint, onEvent: (e: MempoolSpend) => void | Promise<void>): MempoolWatchHandle {
    checkOutpoint(outpoint);
    const w: MempoolWatch = {
      id: this.nextId++,
      outpoint: { txid: outpoint.txid, vout: outpoint.vout },
      key: outpointKey(outpoint),
      onEvent,
      reported: new Set(),
      cancelled: false,
    };
    const set = this.watches.get(w.key);
    if (set) set.add(w);
    else this.watches.set(w.key, new Set([w]));
    this.fresh.push(w);
    return {
      id: w.id,
      cancel: () => {
        w.cancelled = true;
        const s = this.watches.get(w.key);
        s?.delete(w);
        if (s?.size === 0) this.watches.delete(w.key);
      },
    };
  }

  /** One poll: index new mempool transactions and report matches. Rejects with the node's CourtError. */
  poll(): Promise<void> {
    return this.queue.run(() => this.pollOnce());
  }

  /** Starts polling every `pollMs`. Idempotent. */
  start(): void {
    this.loop.start();
  }

  /** Stops polling; resolves once the loop has exited. Leaves no timer. Idempotent. */
  stop(): Promise<void> {
    return this.loop.stop();
  }

  private async pollOnce(): Promise<void> {
    if (this.watches.size === 0) {
      this.known.clear();
      this.spentBy.clear();
      this.fresh = [];
      return;
    }
    const ids = await this.source.getRawMempool();
    const now = new Set(ids);
    for (const [txid, keys] of this.known) {
      if (now.has(txid)) continue;
      this.known.delete(txid);
      for (const k of keys) if (this.spentBy.get(k) === txid) this.spentBy.delete(k);
    }
    const fresh = ids.filter((txid) => !this.known.has(txid));
    const fetched = await this.fetch(fresh);
    for (const [k, txid] of fresh.entries()) {
      if (this.loop.signal.aborted) break;
      const tx = fetched[k];
      if (tx === undefined) continue; // left the mempool since the listing
      const keys = tx.ins.map((_, j) => inputKey(tx, j));
      this.known.set(txid, keys);
      for (let j = 0; j < keys.length; j++) {
        const key = keys[j] as string;
        this.spentBy.set(key, txid);
        for (const w of this.watches.get(key) ?? []) await this.report(w, tx, txid, j);
      }
    }
    // A fresh watch leaves the queue only once handled, so a node error here retries it at the next poll.
    while (this.fresh.length > 0) {
      await this.checkFresh(this.fresh[0] as MempoolWatch);
      this.fresh.shift();
    }
  }

  /**
   * The transactions `txids`: in batches of BATCH (one request each) when the source can, else one by one. Nothing
   * is fetched while no watch exists (pollOnce returns earlier).
   */
  private async fetch(txids: readonly Txid[]): Promise<Array<Transaction | undefined>> {
    const many = this.source.getMempoolTransactions?.bind(this.source);
    const out: Array<Transaction | undefined> = [];
    if (many === undefined) {
      for (const txid of txids) out.push(this.loop.signal.aborted ? undefined : await this.source.getMempoolTransaction(txid));
      return out;
    }
    for (let i = 0; i < txids.length; i += BATCH) out.push(...(await many(txids.slice(i, i + BATCH))));
    return out;
  }

  /** Reports a spender that was already in the mempool when `w` was registered. */
  private async checkFresh(w: MempoolWatch): Promise<void> {
    const txid = this.spentBy.get(w.key);
    if (txid === undefined || w.cancelled || w.reported.has(txid)) return;
    const tx = await this.source.getMempoolTransaction(txid);
    if (tx === undefined) return;
    const j = (this.known.get(txid) ?? []).indexOf(w.key);
    if (j >= 0) await this.report(w, tx, txid, j);
  }

  private async report(w: MempoolWatch, tx: Transaction, txid: Txid, inputIndex: number): Promise<void> {
    if (w.cancelled || w.reported.has(txid)) return;
    w.reported.add(txid);
    try {
      await w.onEvent({ type: 'mempool-spend', outpoint: w.outpoint, spendingTx: tx, spenderTxid: txid, inputIndex });
    } catch (err) {
      this.logger.error({ err: errFields(err), watch: w.id }, 'mempool watch handler threw; event dropped');
    }
  }
}
