/**
 * Publishing our transactions: sendrawtransaction, bitcoind's refusals classified into a result union, and a
 * rebroadcast set so that a transaction that could not enter (or fell out of) the mempool is offered again on
 * every block until it confirms.
 *
 * Tracking rule: a published transaction stays tracked, and is rebroadcast after each connected block in publish
 * order (parents before children), until it is seen in a connected block, bitcoind says it is already confirmed,
 * bitcoind reports a script failure (it can never become valid), or the owner calls `forget` (a replacement
 * superseded it). Every other refusal is kept: a timelock matures, the mempool floor drops, a parent arrives.
 * A tracked transaction whose block is disconnected is tracked again.
 *
 * Conflicts: a connected block holding another transaction that spends an input of a tracked one (the
 * counterparty's commitment confirming while ours waits in the mempool, a replaced sweep) drops the tracked one
 * from the rebroadcast set: it can never confirm, so it is not offered again. The drop is logged (warn), recorded
 * in the store (status conflicted, with the conflicting txid and height) and reported to `onConflict`; if the
 * conflict's block is disconnected, the transaction is tracked again.
 *
 * Durability: the set is kept in a BroadcastStore (SQLite table broadcast_tx in the daemon; in memory by default
 * for unit tests). A transaction is stored before it is first sent, so after a restart `republish()` (called by
 * createChain's start) offers every stored transaction again at once, and every block after that.
 */
import type Database from 'better-sqlite3';
import { Transaction } from 'bitcoinjs-lib';
import { BROADCAST_STATUS } from '../store/codes.js';
import { CourtError } from '../util/errors.js';
import { errFields, silentLogger, type Logger } from '../util/logger.js';
import { BLOCK_LOG_RETAIN } from './block-log.js';
import { inputKey } from './outpoint.js';
import type {
  BlockHash,
  BroadcastConflict,
  Broadcaster,
  BroadcastStore,
  ChainEvent,
  PublishOutcome,
  PublishResult,
  StoredBroadcast,
  TxRelay,
  Txid,
} from './ports.js';

/** One classification rule: any of these RPC codes with a reason starting with any of these prefixes. */
interface Rule {
  readonly kind: Exclude<PublishOutcome, 'accepted' | 'rejected'>;
  readonly codes: readonly number[];
  readonly prefixes: readonly string[];
}

/**
 * Bitcoin Core's sendrawtransaction refusals (RPC codes -25 RPC_VERIFY_ERROR, -26 RPC_VERIFY_REJECTED,
 * -27 RPC_VERIFY_ALREADY_IN_CHAIN), matched on code and lower-cased reason prefix so that the detail Core
 * appends in parentheses, and small wording changes between versions, do not matter. First match wins.
 */
const RULES: readonly Rule[] = Object.freeze([
  {
    kind: 'already-in-mempool',
    codes: [-26, -27],
    prefixes: ['txn-already-in-mempool', 'txn-already-known', 'txn-same-nonwitness-data-in-mempool'],
  },
  {
    kind: 'already-confirmed',
    codes: [-27],
    prefixes: ['transaction outputs already in utxo set', 'transaction already in block chain'],
  },
  {
    kind: 'missing-inputs',
    codes: [-25, -26],
    prefixes: ['bad-txns-inputs-missingorspent', 'missing-inputs', 'missing inputs'],
  },
  {
    kind: 'insufficient-fee',
    codes: [-26],
    prefixes: ['min relay fee not met', 'mempool min fee not met', 'insufficient fee'],
  },
  { kind: 'non-bip68-final', codes: [-26], prefixes: ['non-bip68-final'] },
  { kind: 'non-final', codes: [-26], prefixes: ['non-final'] },
  {
    kind: 'script-failure',
    codes: [-25, -26],
    prefixes: ['mandatory-script-verify-flag-failed', 'non-mandatory-script-verify-flag', 'mempool-script-verify-flag-failed'],
  },
]);

/** Classifies one sendrawtransaction refusal by RPC code and reason. Pure. */
export function classifyBroadcastError(rpcCode: number, reason: string): Exclude<PublishOutcome, 'accepted'> {
  const r = reason.trim().toLowerCase();
  for (const rule of RULES) {
    if (rule.codes.includes(rpcCode) && rule.prefixes.some((p) => r.startsWith(p))) return rule.kind;
  }
  return 'rejected';
}

/** Outcomes after which rebroadcasting cannot help. */
const FINAL: ReadonlySet<PublishOutcome> = new Set(['already-confirmed', 'script-failure']);

interface Tracked {
  readonly txid: Txid;
  readonly hex: string;
  readonly label: string;
  readonly seq: number;
  /** Keys ("txid:vout") of the outpoints it spends. */
  readonly inputs: readonly string[];
}

function inputsOf(tx: Transaction): string[] {
  return tx.ins.map((_, i) => inputKey(tx, i));
}

function tracked(row: StoredBroadcast): Tracked {
  const tx = Transaction.fromHex(row.hex);
  return { txid: row.txid, hex: row.hex, label: row.label, seq: row.seq, inputs: inputsOf(tx) };
}

/** A BroadcastStore in memory (lost on restart): unit tests and throwaway chains. */
export class MemoryBroadcastStore implements BroadcastStore {
  readonly #rows = new Map<Txid, StoredBroadcast>();
  readonly #conflicts: BroadcastConflict[] = [];

  load(): StoredBroadcast[] {
    return [...this.#rows.values()].sort((a, b) => a.seq - b.seq);
  }

  conflicts(): BroadcastConflict[] {
    return this.#conflicts.slice();
  }

  track(tx: StoredBroadcast): void {
    this.#rows.set(tx.txid, { ...tx });
  }

  untrack(txid: Txid): void {
    this.#rows.delete(txid);
  }

  conflicted(c: BroadcastConflict): void {
    this.#rows.delete(c.txid);
    this.#conflicts.push({ ...c });
  }
}

/** The rebroadcast set in the briefcase (table broadcast_tx, migrations/0006); each call is one transaction. */
export class SqliteBroadcastStore implements BroadcastStore {
  readonly #load: Database.Statement<[number], StoredBroadcast>;
  readonly #conflicts: Database.Statement<[number], BroadcastConflict>;
  readonly #track: Database.Statement<[string, string, string, number, number]>;
  readonly #untrack: Database.Statement<[string]>;
  readonly #conflicted: Database.Statement<[number, string, number, string]>;

  constructor(db: Database.Database) {
    this.#load = db.prepare('SELECT txid, hex, label, seq FROM broadcast_tx WHERE status = ? ORDER BY seq');
    this.#conflicts = db.prepare(
      'SELECT txid, label, conflict_txid AS conflictTxid, conflict_height AS height FROM broadcast_tx WHERE status = ? ORDER BY updated_at, seq',
    );
    this.#track = db.prepare(
      `INSERT INTO broadcast_tx (txid, hex, label, seq, status) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (txid) DO UPDATE SET status = excluded.status, conflict_txid = NULL, conflict_height = NULL,
         updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')`,
    );
    this.#untrack = db.prepare('DELETE FROM broadcast_tx WHERE txid = ?');
    this.#conflicted = db.prepare(
      `UPDATE broadcast_tx SET status = ?, conflict_txid = ?, conflict_height = ?, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
       WHERE txid = ?`,
    );
  }

  load(): StoredBroadcast[] {
    return this.#load.all(BROADCAST_STATUS.Tracked);
  }

  conflicts(): BroadcastConflict[] {
    return this.#conflicts.all(BROADCAST_STATUS.Conflicted);
  }

  track(tx: StoredBroadcast): void {
    this.#track.run(tx.txid, tx.hex, tx.label, tx.seq, BROADCAST_STATUS.Tracked);
  }

  untrack(txid: Txid): void {
    this.#untrack.run(txid);
  }

  conflicted(c: BroadcastConflict): void {
    this.#conflicted.run(BROADCAST_STATUS.Conflicted, c.conflictTxid, c.height, c.txid);
  }
}

/** A tracked transaction as the owner sees it. */
export interface TrackedTx {
  readonly txid: Txid;
  readonly label: string;
}

/** Options of TxBroadcaster. */
export interface BroadcasterOptions {
  readonly relay: TxRelay;
  /** Where the rebroadcast set is kept (default: in memory). */
  readonly store?: BroadcastStore;
  /** Told about each tracked transaction dropped because a confirmed conflict spent its input. */
  readonly onConflict?: (c: BroadcastConflict) => void;
  readonly logger?: Logger;
}

/**
 * The Broadcaster. Subscribe `onChainEvent` to the BlockDispatcher (it never throws). `publish` rejects only on
 * a transport failure (COURT_E_CHAIN_UNREACHABLE/AUTH/BAD_REPLY/STOPPED); the transaction stays tracked then.
 */
export class TxBroadcaster implements Broadcaster {
  private readonly relay: TxRelay;
  private readonly logger: Logger;
  private readonly store: BroadcastStore;
  private readonly onConflict: ((c: BroadcastConflict) => void) | undefined;
  private readonly unconfirmed = new Map<Txid, Tracked>();
  /** Inputs of the unconfirmed transactions: outpoint key -> txid (conflict detection). */
  private readonly spending = new Map<string, Txid>();
  /** Tracked transactions seen in the last BLOCK_LOG_RETAIN connected blocks, by height. */
  private readonly confirmed = new Map<number, { hash: BlockHash; txs: Tracked[] }>();
  /** Tracked transactions dropped for a conflict in the last BLOCK_LOG_RETAIN connected blocks, by height. */
  private readonly conflictedAt = new Map<number, { hash: BlockHash; txs: Tracked[] }>();
  private readonly confirmedIn = new Map<Txid, { height: number; hash: BlockHash }>();
  private seq = 0;

  /** The dispatcher subscriber: confirmations, re-tracking on disconnect, and the per-block rebroadcast. */
  readonly onChainEvent = async (event: ChainEvent): Promise<void> => {
    if (event.type === 'BlockDisconnected') {
      this.disconnected(event.height, event.hash);
      return;
    }
    this.connected(event.height, event.hash, event.block);
    await this.rebroadcastAll();
  };

  constructor(opts: BroadcasterOptions) {
    this.relay = opts.relay;
    this.logger = opts.logger ?? silentLogger;
    this.store = opts.store ?? new MemoryBroadcastStore();
    this.onConflict = opts.onConflict;
    for (const row of this.store.load()) {
      this.add(tracked(row));
      this.seq = Math.max(this.seq, row.seq + 1);
    }
  }

  /** Offers every stored transaction again (after a restart); the first transport failure ends the round. */
  async republish(): Promise<void> {
    await this.rebroadcastAll();
  }

  /** Transactions dropped because a confirmed conflict spent their input, as recorded in the store. */
  conflicts(): BroadcastConflict[] {
    return this.store.conflicts();
  }

  private add(t: Tracked): void {
    this.unconfirmed.set(t.txid, t);
    for (const k of t.inputs) this.spending.set(k, t.txid);
  }

  /** Stops tracking `txid` in memory (the caller updates the store). */
  private drop(txid: Txid): Tracked | undefined {
    const t = this.unconfirmed.get(txid);
    if (t === undefined) return undefined;
    this.unconfirmed.delete(txid);
    for (const k of t.inputs) if (this.spending.get(k) === txid) this.spending.delete(k);
    return t;
  }

  /**
   * Publishes `tx` and tracks it until it confirms. Idempotent per txid: a second call sends again (cheap) and
   * keeps the first label. A transaction already seen in a connected block is answered locally as
   * 'already-confirmed' with rpcCode 0.
   */
  async publish(tx: Transaction, label: string): Promise<PublishResult> {
    const txid = tx.getId();
    const conf = this.confirmedIn.get(txid);
    if (conf) {
      return { kind: 'already-confirmed', txid, rpcCode: 0, reason: `confirmed in block ${conf.hash} at height ${conf.height}` };
    }
    let entry = this.unconfirmed.get(txid);
    if (!entry) {
      entry = { txid, hex: tx.toHex(), label, seq: this.seq++, inputs: inputsOf(tx) };
      this.store.track({ txid, hex: entry.hex, label, seq: entry.seq });
      this.add(entry);
    }
    return this.send(entry);
  }

  /** Stops tracking `txid` (e.g. a replacement superseded it). */
  forget(txid: Txid): void {
    if (this.drop(txid) !== undefined) this.store.untrack(txid);
  }

  /**
   * The owner learnt that `conflictTxid`, confirmed at `height`, spends an input of tracked `txid` (for instance a
   * close that confirmed before our commitment was published, so no block after tracking showed it): dropped and
   * recorded as a conflict, as the broadcaster's own detection does. Nothing happens if `txid` is not tracked.
   */
  conflictedBy(txid: Txid, conflictTxid: Txid, height: number): void {
    const v = this.drop(txid);
    if (v !== undefined) this.recordConflict(v, conflictTxid, height);
  }

  /** Records a dropped transaction as conflicted (store, log, onConflict). */
  private recordConflict(v: Tracked, conflictTxid: Txid, height: number): void {
    const c: BroadcastConflict = { txid: v.txid, label: v.label, conflictTxid, height };
    this.store.conflicted(c);
    this.logger.warn({ ...c }, 'broadcast transaction dropped: a confirmed transaction spent its input');
    this.onConflict?.(c);
  }

  /** The transactions being rebroadcast, in publish order. */
  tracked(): TrackedTx[] {
    return this.ordered().map(({ txid, label }) => ({ txid, label }));
  }

  private ordered(): Tracked[] {
    return [...this.unconfirmed.values()].sort((a, b) => a.seq - b.seq);
  }

  private async send(entry: Tracked): Promise<PublishResult> {
    const { txid } = entry;
    let result: PublishResult;
    try {
      await this.relay.sendRawTransaction(entry.hex);
      result = { kind: 'accepted', txid };
    } catch (err) {
      if (!(err instanceof CourtError) || (err.code !== 'COURT_E_CHAIN_RPC' && err.code !== 'COURT_E_CHAIN_NOT_FOUND')) {
        throw err;
      }
      const rpcCode = typeof err.details.rpcCode === 'number' ? err.details.rpcCode : 0;
      const reason = typeof err.details.rpcMessage === 'string' ? err.details.rpcMessage : err.message;
      result = { kind: classifyBroadcastError(rpcCode, reason), txid, rpcCode, reason };
    }
    if (FINAL.has(result.kind) && this.drop(txid) !== undefined) this.store.untrack(txid);
    this.logger.debug({ txid, label: entry.label, result: result.kind }, 'broadcast');
    return result;
  }

  private connected(height: number, hash: BlockHash, block: { readonly txs: readonly Transaction[]; readonly txids: readonly Txid[] }): void {
    const old = this.confirmed.get(height - BLOCK_LOG_RETAIN);
    if (old) {
      for (const t of old.txs) this.confirmedIn.delete(t.txid);
      this.confirmed.delete(height - BLOCK_LOG_RETAIN);
    }
    this.conflictedAt.delete(height - BLOCK_LOG_RETAIN);
    if (this.unconfirmed.size === 0) return;
    const txs: Tracked[] = [];
    const conflicts: Tracked[] = [];
    block.txids.forEach((txid, i) => {
      const t = this.drop(txid);
      if (t !== undefined) {
        this.store.untrack(txid);
        this.confirmedIn.set(txid, { height, hash });
        txs.push(t);
        this.logger.info({ txid, label: t.label, height }, 'broadcast transaction confirmed');
      }
      const tx = block.txs[i] as Transaction;
      for (let j = 0; j < tx.ins.length && this.spending.size > 0; j++) {
        const victim = this.spending.get(inputKey(tx, j));
        if (victim === undefined || victim === txid) continue;
        const v = this.drop(victim) as Tracked;
        this.recordConflict(v, txid, height);
        conflicts.push(v);
      }
    });
    if (txs.length > 0) this.confirmed.set(height, { hash, txs });
    if (conflicts.length > 0) this.conflictedAt.set(height, { hash, txs: conflicts });
  }

  private disconnected(height: number, hash: BlockHash): void {
    const back = this.conflictedAt.get(height);
    if (back?.hash === hash) {
      this.conflictedAt.delete(height);
      for (const t of back.txs) {
        this.store.track({ txid: t.txid, hex: t.hex, label: t.label, seq: t.seq });
        this.add(t);
        this.logger.info({ txid: t.txid, label: t.label, height }, 'broadcast transaction tracked again: its conflict was disconnected');
      }
    }
    const rec = this.confirmed.get(height);
    if (!rec || rec.hash !== hash) return;
    this.confirmed.delete(height);
    for (const t of rec.txs) {
      this.confirmedIn.delete(t.txid);
      this.store.track({ txid: t.txid, hex: t.hex, label: t.label, seq: t.seq });
      this.add(t);
      this.logger.info({ txid: t.txid, label: t.label, height }, 'broadcast transaction unconfirmed by a reorg');
    }
  }

  /** Offers every tracked transaction again; the first transport failure ends the round (next block retries). */
  private async rebroadcastAll(): Promise<void> {
    for (const entry of this.ordered()) {
      try {
        const r = await this.send(entry);
        if (r.kind !== 'accepted' && r.kind !== 'already-in-mempool') {
          this.logger.debug({ txid: r.txid, label: entry.label, result: r.kind, reason: r.reason }, 'rebroadcast refused');
        }
      } catch (err) {
        this.logger.warn({ err: errFields(err), tracked: this.unconfirmed.size }, 'rebroadcast round abandoned');
        return;
      }
    }
  }
}
