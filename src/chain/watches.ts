/**
 * Spend and confirmation watches over the dispatcher's block stream (spec section 2.2, lnd's chainntnfs).
 *
 * Registration: a watch names an outpoint (spend) or a txid and depth (confirmation) plus a height hint. It first
 * gets a one-time historical rescan of blocks hint..tip (watches registered together share one pass over the
 * blocks; a spend watch whose outpoint is still unspent skips the pass via UtxoSource), then it joins the live
 * in-memory indexes (Map by outpoint key, Map by txid), so matching a connected block costs O(inputs + txs in the
 * block) whatever the number of watches. Depth is tracked in a Map keyed by the height at which it is reached.
 *
 * Reorgs: every match is recorded against its block; a BlockDisconnected undoes that block's matches, newest
 * first, reporting `spend-undone` / `conf-undone` for what had been reported, and the watch is live again.
 *
 * Delivery: callbacks, chosen over async iterators so that delivery stays inside the dispatcher's ordered,
 * awaited block delivery (block N+1 waits until every event of block N was handled). Events come in chain order:
 * by block; within a block, spends by transaction and input index, then the confirmations whose depth that
 * block completes (a 1-confirmation watch included in it among them). Rescan
 * events come before any live event of the same watch. A handler should hand the event to its owner's mailbox.
 * If it throws, the error is logged and the event is kept: it is delivered again when the next block event
 * arrives (before anything else of that block), and every later event of that watch waits behind it, so a watch's
 * events still arrive in order and none is lost once its outpoint is marked spent. One faulty consumer does not
 * stall the chain: other watches and the dispatcher go on. A kept spend or confirmation whose block is
 * disconnected before it was delivered is dropped together with its undo (the consumer never saw either).
 *
 * Registration never fails because of the node: a rescan that fails is retried with back-off in the background
 * (and before the next block is matched); `ready` resolves once the watch is live.
 */
import type { Transaction } from 'bitcoinjs-lib';
import { CourtError } from '../util/errors.js';
import { errFields, silentLogger, type Logger } from '../util/logger.js';
import { BLOCK_LOG_RETAIN } from './block-log.js';
import { checkOutpoint, checkTxid, inputKey, outpointKey } from './outpoint.js';
import type {
  BlockConnected,
  BlockDisconnected,
  BlockHash,
  BlockRef,
  ChainBlock,
  ChainEvent,
  ChainSource,
  ConfEvent,
  Outpoint,
  SpendEvent,
  SpendNotifier,
  Txid,
  UtxoSource,
  WatchHandle,
} from './ports.js';
import { SerialQueue } from './serial-queue.js';
import { backoffDelay, realSleep, type Backoff, type Sleep } from './timing.js';

/** The dispatcher's view of the chain, used until this component has seen its first block event. */
export interface ChainView {
  tip(): BlockRef | undefined;
  hashAt(height: number): BlockHash | undefined;
}

/** Options of ChainWatches. */
export interface WatchesOptions {
  readonly source: ChainSource;
  /** Lets a spend rescan be skipped for an outpoint that is still unspent. */
  readonly utxo?: UtxoSource;
  /** Usually the BlockDispatcher. */
  readonly view?: ChainView;
  /** Back-off between failed rescans (default 500 ms doubling to 30 s). */
  readonly backoff?: Backoff;
  readonly sleep?: Sleep;
  readonly logger?: Logger;
}

interface Deferred {
  readonly promise: Promise<void>;
  resolve(): void;
  reject(e: Error): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined); // a caller that ignores `ready` must not cause an unhandled rejection
  return { promise, resolve, reject };
}

interface WatchBase {
  readonly id: number;
  readonly hint: number;
  readonly ready: Deferred;
  /** Next height the historical rescan must look at (pending watches only). */
  scanFrom: number;
  live: boolean;
  cancelled: boolean;
  /** Events whose handler threw, oldest first: delivered again before any newer event of this watch. */
  owed: (SpendEvent | ConfEvent)[];
}

interface SpendWatch extends WatchBase {
  readonly kind: 'spend';
  readonly outpoint: Outpoint;
  readonly key: string;
  readonly onEvent: (e: SpendEvent) => void | Promise<void>;
  spent: { height: number; hash: BlockHash; txid: Txid } | undefined;
}

interface ConfWatch extends WatchBase {
  readonly kind: 'conf';
  readonly txid: Txid;
  readonly numConfs: number;
  readonly onEvent: (e: ConfEvent) => void | Promise<void>;
  included: { height: number; hash: BlockHash; tx: Transaction; txIndex: number } | undefined;
  reported: boolean;
}

type Watch = SpendWatch | ConfWatch;

/** What one processed block did: its hash and the watches it matched, in match order. */
interface BlockRecord {
  readonly hash: BlockHash;
  readonly matched: Watch[];
}

function addTo<K, V>(map: Map<K, Set<V>>, key: K, value: V): void {
  const set = map.get(key);
  if (set) set.add(value);
  else map.set(key, new Set([value]));
}

function removeFrom<K, V>(map: Map<K, Set<V>>, key: K, value: V): void {
  const set = map.get(key);
  if (!set) return;
  set.delete(value);
  if (set.size === 0) map.delete(key);
}

const depthHeight = (w: ConfWatch): number => (w.included as { height: number }).height + w.numConfs - 1;

/** Spend and confirmation watches; subscribe `onChainEvent` to the BlockDispatcher. See the module comment. */
export class ChainWatches implements SpendNotifier {
  private readonly source: ChainSource;
  private readonly utxo: UtxoSource | undefined;
  private readonly view: ChainView | undefined;
  private readonly backoff: Backoff;
  private readonly sleep: Sleep;
  private readonly logger: Logger;
  private readonly queue = new SerialQueue();
  private readonly abort = new AbortController();

  private readonly spendIndex = new Map<string, Set<SpendWatch>>();
  private readonly confIndex = new Map<Txid, Set<ConfWatch>>();
  /** Live confirmation watches waiting for depth, by the height at which the depth is reached. */
  private readonly maturing = new Map<number, Set<ConfWatch>>();
  /** The last BLOCK_LOG_RETAIN processed blocks, by height. */
  private readonly blocks = new Map<number, BlockRecord>();
  private readonly pending = new Set<Watch>();
  /** Watches holding events whose handler threw (see `owed`). */
  private readonly owing = new Set<Watch>();
  private ownTip: number | undefined;
  private nextId = 1;
  private retrying = false;

  /** The subscriber to register with the BlockDispatcher (before any consumer that relies on watch events). */
  readonly onChainEvent = (event: ChainEvent): Promise<void> =>
    this.queue.run(() => (event.type === 'BlockConnected' ? this.connected(event) : this.disconnected(event)));

  constructor(opts: WatchesOptions) {
    this.source = opts.source;
    this.utxo = opts.utxo;
    this.view = opts.view;
    this.backoff = opts.backoff ?? { baseDelayMs: 500, maxDelayMs: 30_000 };
    this.sleep = opts.sleep ?? realSleep;
    this.logger = opts.logger ?? silentLogger;
  }

  /**
   * Watches `outpoint` for a confirmed spend at or above `heightHint`. Reports `spend` (with the spending
   * transaction) and, if that block is disconnected, `spend-undone`.
   */
  watchSpend(outpoint: Outpoint, heightHint: number, onEvent: (e: SpendEvent) => void | Promise<void>): WatchHandle {
    checkOutpoint(outpoint);
    const w: SpendWatch = {
      kind: 'spend',
      ...this.base(heightHint),
      outpoint: { txid: outpoint.txid, vout: outpoint.vout },
      key: outpointKey(outpoint),
      onEvent,
      spent: undefined,
    };
    return this.register(w);
  }

  /**
   * Watches `txid` until it has `numConfs` confirmations (1 = in a block), looking from `heightHint`. Reports
   * `confirmed` when the depth is reached and `conf-undone` if the block that contains it is disconnected.
   */
  watchConf(
    txid: Txid,
    numConfs: number,
    heightHint: number,
    onEvent: (e: ConfEvent) => void | Promise<void>,
  ): WatchHandle {
    checkTxid(txid);
    if (!Number.isInteger(numConfs) || numConfs < 1 || numConfs > 1000) {
      throw new CourtError('COURT_E_INVALID_ARGUMENT', 'numConfs must be an integer in 1..1000');
    }
    const w: ConfWatch = {
      kind: 'conf',
      ...this.base(heightHint),
      txid,
      numConfs,
      onEvent,
      included: undefined,
      reported: false,
    };
    return this.register(w);
  }

  /** Number of active watches (for metrics and tests). */
  get size(): number {
    let n = this.pending.size;
    for (const s of this.spendIndex.values()) n += s.size;
    for (const s of this.confIndex.values()) n += s.size;
    return n;
  }

  /** Stops background rescans; pending `ready` promises reject with COURT_E_CHAIN_STOPPED. Resolves when idle. */
  async stop(): Promise<void> {
    this.abort.abort();
    for (const w of this.pending) w.ready.reject(new CourtError('COURT_E_CHAIN_STOPPED', 'watches stopped'));
    await this.queue.run(async () => undefined);
  }

  private base(heightHint: number): WatchBase {
    if (!Number.isInteger(heightHint) || heightHint < 0) {
      throw new CourtError('COURT_E_INVALID_ARGUMENT', 'heightHint must be a non-negative integer');
    }
    return { id: this.nextId++, hint: heightHint, ready: deferred(), scanFrom: heightHint, live: false, cancelled: false, owed: [] };
  }

  private register(w: Watch): WatchHandle {
    if (this.abort.signal.aborted) throw new CourtError('COURT_E_CHAIN_STOPPED', 'watches stopped');
    this.pending.add(w);
    this.kick();
    return { id: w.id, ready: w.ready.promise, cancel: () => this.cancel(w) };
  }

  private cancel(w: Watch): void {
    if (w.cancelled) return;
    w.cancelled = true;
    this.pending.delete(w);
    if (w.kind === 'spend') removeFrom(this.spendIndex, w.key, w);
    else {
      removeFrom(this.confIndex, w.txid, w);
      if (w.included) removeFrom(this.maturing, depthHeight(w), w);
    }
    if (!w.live) w.ready.reject(new CourtError('COURT_E_CHAIN_STOPPED', 'watch cancelled before it was live'));
  }

  private tipHeight(): number | undefined {
    return this.ownTip ?? this.view?.tip()?.height;
  }

  /** Starts (once) the background loop that rescans pending watches, with back-off on node errors. */
  private kick(): void {
    if (this.retrying) return;
    this.retrying = true;
    void this.retryPending();
  }

  private async retryPending(): Promise<void> {
    let attempt = 0;
    for (;;) {
      // Checked synchronously before clearing the flag, so a registration cannot slip between them.
      if (this.abort.signal.aborted || this.pending.size === 0 || this.tipHeight() === undefined) {
        this.retrying = false;
        return;
      }
      try {
        await this.queue.run(() => this.drainPending(this.tipHeight()));
        attempt = 0;
      } catch (err) {
        if (this.abort.signal.aborted) continue;
        attempt++;
        const wait = backoffDelay(attempt, this.backoff);
        this.logger.warn({ err: errFields(err), pending: this.pending.size, retryInMs: wait }, 'watch rescan failed');
        await this.sleep(wait, this.abort.signal);
      }
    }
  }

  /** Historical rescan of every pending watch up to `toHeight`, one shared pass; then they go live. */
  private async drainPending(toHeight: number | undefined): Promise<void> {
    if (toHeight === undefined || this.pending.size === 0) return;
    const watches = [...this.pending];
    if (this.utxo) await this.skipUnspent(watches, toHeight);
    const spends = new Map<string, Set<SpendWatch>>();
    const confs = new Map<Txid, Set<ConfWatch>>();
    const depth = new Map<number, Set<ConfWatch>>();
    let from = Infinity;
    for (const w of watches) {
      if (w.scanFrom > toHeight) continue;
      from = Math.min(from, w.scanFrom);
      if (w.kind === 'spend') addTo(spends, w.key, w);
      else {
        addTo(confs, w.txid, w);
        if (w.included && !w.reported) addTo(depth, depthHeight(w), w);
      }
    }
    for (let h = from; h <= toHeight; h++) {
      if (this.abort.signal.aborted) throw new CourtError('COURT_E_CHAIN_STOPPED', 'watches stopped during a rescan');
      const block = await this.source.getBlock(await this.hashAt(h));
      const matched = await this.match(block, spends, confs, depth, (w) => w.scanFrom <= h);
      if (matched.length > 0 && h > toHeight - BLOCK_LOG_RETAIN) {
        // hashAt() took the hash from this record if there is one, so it describes the same block.
        const rec = this.blocks.get(h);
        if (rec) rec.matched.push(...matched);
        else this.blocks.set(h, { hash: block.hash, matched });
      }
      for (const w of watches) if (w.scanFrom <= h) w.scanFrom = h + 1;
    }
    for (const w of watches) {
      if (w.cancelled || !this.pending.has(w)) continue;
      this.pending.delete(w);
      w.live = true;
      if (w.kind === 'spend') addTo(this.spendIndex, w.key, w);
      else {
        addTo(this.confIndex, w.txid, w);
        if (w.included && !w.reported) addTo(this.maturing, depthHeight(w), w);
      }
      w.ready.resolve();
    }
  }

  /** Marks spend watches whose outpoint is unspent at the node's tip as scanned (no spend can be in the past). */
  private async skipUnspent(watches: Watch[], toHeight: number): Promise<void> {
    for (const w of watches) {
      if (w.kind !== 'spend' || w.spent || w.scanFrom > toHeight) continue;
      if (await (this.utxo as UtxoSource).isUnspent(w.outpoint)) w.scanFrom = toHeight + 1;
    }
  }

  private async hashAt(height: number): Promise<BlockHash> {
    return this.blocks.get(height)?.hash ?? this.view?.hashAt(height) ?? (await this.source.getBlockHash(height));
  }

  private async connected(ev: BlockConnected): Promise<void> {
    await this.redeliverOwed();
    if (this.blocks.get(ev.height)?.hash === ev.hash) return; // redelivery after a restart or retry
    // Pending rescans first, up to the block below this one; a node error here makes the dispatcher redeliver.
    await this.drainPending(ev.height - 1);
    const matched = await this.match(ev.block, this.spendIndex, this.confIndex, this.maturing, () => true);
    this.blocks.set(ev.height, { hash: ev.hash, matched });
    this.blocks.delete(ev.height - BLOCK_LOG_RETAIN);
    this.ownTip = ev.height;
  }

  private async disconnected(ev: BlockDisconnected): Promise<void> {
    await this.redeliverOwed();
    const rec = this.blocks.get(ev.height);
    if (rec && rec.hash === ev.hash) {
      for (let i = rec.matched.length - 1; i >= 0; i--) await this.undo(rec.matched[i] as Watch, ev);
      this.blocks.delete(ev.height);
    }
    for (const w of this.pending) if (w.scanFrom > ev.height) w.scanFrom = ev.height;
    this.ownTip = ev.height - 1;
  }

  private async undo(w: Watch, ev: BlockDisconnected): Promise<void> {
    if (w.kind === 'spend') {
      if (w.spent?.hash !== ev.hash) return;
      const { txid } = w.spent;
      w.spent = undefined;
      if (this.forgetOwed(w, 'spend', ev.hash)) return;
      await this.emit(w, { type: 'spend-undone', outpoint: w.outpoint, spenderTxid: txid, height: ev.height, blockHash: ev.hash });
      return;
    }
    if (w.included?.hash !== ev.hash) return;
    removeFrom(this.maturing, depthHeight(w), w);
    w.included = undefined;
    if (!w.reported) return;
    w.reported = false;
    if (this.forgetOwed(w, 'confirmed', ev.hash)) return;
    await this.emit(w, { type: 'conf-undone', txid: w.txid, height: ev.height, blockHash: ev.hash });
  }

  /**
   * Matches one block against the given indexes and emits the events in chain order. `eligible` filters
   * watches (a rescan skips heights a watch already covered). Returns the watches matched in this block.
   */
  private async match(
    block: ChainBlock,
    spends: Map<string, Set<SpendWatch>>,
    confs: Map<Txid, Set<ConfWatch>>,
    depth: Map<number, Set<ConfWatch>>,
    eligible: (w: Watch) => boolean,
  ): Promise<Watch[]> {
    const matched: Watch[] = [];
    const { height, hash } = block;
    for (let i = 0; i < block.txs.length; i++) {
      const tx = block.txs[i] as Transaction;
      const txid = block.txids[i] as Txid;
      const cw = confs.size > 0 ? confs.get(txid) : undefined;
      if (cw) {
        for (const w of cw) {
          if (w.included || !eligible(w)) continue;
          w.included = { height, hash, tx, txIndex: i };
          matched.push(w);
          addTo(depth, depthHeight(w), w);
        }
      }
      if (spends.size === 0) continue;
      for (let j = 0; j < tx.ins.length; j++) {
        const sw = spends.get(inputKey(tx, j));
        if (!sw) continue;
        for (const w of sw) {
          if (w.spent || !eligible(w)) continue;
          w.spent = { height, hash, txid };
          matched.push(w);
          await this.emit(w, {
            type: 'spend',
            outpoint: w.outpoint,
            spendingTx: tx,
            spenderTxid: txid,
            inputIndex: j,
            height,
            blockHash: hash,
          });
        }
      }
    }
    const due = depth.get(height);
    depth.delete(height);
    for (const w of due ?? []) await this.reportConf(w);
    return matched;
  }

  private async reportConf(w: ConfWatch): Promise<void> {
    if (w.cancelled || !w.included || w.reported) return;
    w.reported = true;
    const { tx, height, hash, txIndex } = w.included;
    await this.emit(w, { type: 'confirmed', txid: w.txid, tx, height, blockHash: hash, txIndex, numConfs: w.numConfs });
  }

  /** Delivers `e`, or keeps it (behind the watch's older kept events) if the handler throws or others wait. */
  private async emit(w: Watch, e: SpendEvent | ConfEvent): Promise<void> {
    if (w.cancelled) return;
    if (w.owed.length > 0) {
      w.owed.push(e);
      return;
    }
    if (!(await this.deliver(w, e))) {
      w.owed.push(e);
      this.owing.add(w);
    }
  }

  /** Runs the handler; false if it threw (logged). */
  private async deliver(w: Watch, e: SpendEvent | ConfEvent): Promise<boolean> {
    try {
      await (w.onEvent as (e: SpendEvent | ConfEvent) => void | Promise<void>)(e);
      return true;
    } catch (err) {
      this.logger.error({ err: errFields(err), watch: w.id, event: e.type, height: e.height }, 'watch handler threw; the event is kept for the next block');
      return false;
    }
  }

  /** Delivers kept events again, oldest first per watch; a watch whose handler throws again keeps the rest. */
  private async redeliverOwed(): Promise<void> {
    for (const w of [...this.owing]) {
      while (!w.cancelled && w.owed.length > 0) {
        if (!(await this.deliver(w, w.owed[0] as SpendEvent | ConfEvent))) break;
        w.owed.shift();
      }
      if (w.cancelled) w.owed = [];
      if (w.owed.length === 0) this.owing.delete(w);
    }
  }

  /**
   * Drops a kept (never delivered) event of `type` from the block `hash`, and any kept event after it (they
   * follow from it); true if there was one, so its undo must not be reported either.
   */
  private forgetOwed(w: Watch, type: 'spend' | 'confirmed', hash: BlockHash): boolean {
    const i = w.owed.findIndex((e) => e.type === type && e.blockHash === hash);
    if (i < 0) return false;
    w.owed.splice(i);
    if (w.owed.length === 0) this.owing.delete(w);
    return true;
  }
}
