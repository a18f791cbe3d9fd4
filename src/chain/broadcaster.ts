/**
 * Publishing our transactions: sendrawtransaction, bitcoind's refusals classified into a result union, and a
 * rebroadcast set so that a transaction that could not enter (or fell out of) the mempool is offered again on
 * every block until it confirms.
 *
 * Tracking rule: a published transaction stays tracked, and is rebroadcast after each connected block in publish
 * order (parents before children), until it is seen in a connected block, bitcoind says it is already confirmed,
 * bitcoind reports a script failure (it can never become valid), or the owner calls `forget` (a replacement
 * superseded it). Every other refusal is kept: a timelock matures, the mempool floor drops, a parent arrives.
 * A tracked transaction whose block is disconnected is tracked again. The set lives in memory: after a restart
 * the owners' outbox replay publishes again (publish is idempotent per txid).
 */
import type { Transaction } from 'bitcoinjs-lib';
import { CourtError } from '../util/errors.js';
import { errFields, silentLogger, type Logger } from '../util/logger.js';
import { BLOCK_LOG_RETAIN } from './block-log.js';
import type { BlockHash, Broadcaster, ChainEvent, PublishOutcome, PublishResult, TxRelay, Txid } from './ports.js';

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
}

/** A tracked transaction as the owner sees it. */
export interface TrackedTx {
  readonly txid: Txid;
  readonly label: string;
}

/** Options of TxBroadcaster. */
export interface BroadcasterOptions {
  readonly relay: TxRelay;
  readonly logger?: Logger;
}

/**
 * The Broadcaster. Subscribe `onChainEvent` to the BlockDispatcher (it never throws). `publish` rejects only on
 * a transport failure (COURT_E_CHAIN_UNREACHABLE/AUTH/BAD_REPLY/STOPPED); the transaction stays tracked then.
 */
export class TxBroadcaster implements Broadcaster {
  private readonly relay: TxRelay;
  private readonly logger: Logger;
  private readonly unconfirmed = new Map<Txid, Tracked>();
  /** Tracked transactions seen in the last BLOCK_LOG_RETAIN connected blocks, by height. */
  private readonly confirmed = new Map<number, { hash: BlockHash; txs: Tracked[] }>();
  private readonly confirmedIn = new Map<Txid, { height: number; hash: BlockHash }>();
  private seq = 0;

  /** The dispatcher subscriber: confirmations, re-tracking on disconnect, and the per-block rebroadcast. */
  readonly onChainEvent = async (event: ChainEvent): Promise<void> => {
    if (event.type === 'BlockDisconnected') {
      this.disconnected(event.height, event.hash);
      return;
    }
    this.connected(event.height, event.hash, event.block.txids);
    await this.rebroadcastAll();
  };

  constructor(opts: BroadcasterOptions) {
    this.relay = opts.relay;
    this.logger = opts.logger ?? silentLogger;
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
      entry = { txid, hex: tx.toHex(), label, seq: this.seq++ };
      this.unconfirmed.set(txid, entry);
    }
    return this.send(entry);
  }

  /** Stops tracking `txid` (e.g. a replacement superseded it). */
  forget(txid: Txid): void {
    this.unconfirmed.delete(txid);
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
    if (FINAL.has(result.kind)) this.unconfirmed.delete(txid);
    this.logger.debug({ txid, label: entry.label, result: result.kind }, 'broadcast');
    return result;
  }

  private connected(height: number, hash: BlockHash, txids: readonly Txid[]): void {
    const old = this.confirmed.get(height - BLOCK_LOG_RETAIN);
    if (old) {
      for (const t of old.txs) this.confirmedIn.delete(t.txid);
      this.confirmed.delete(height - BLOCK_LOG_RETAIN);
    }
    if (this.unconfirmed.size === 0) return;
    const txs: Tracked[] = [];
    for (const txid of txids) {
      const t = this.unconfirmed.get(txid);
      if (!t) continue;
      this.unconfirmed.delete(txid);
      this.confirmedIn.set(txid, { height, hash });
      txs.push(t);
      this.logger.info({ txid, label: t.label, height }, 'broadcast transaction confirmed');
    }
    if (txs.length > 0) this.confirmed.set(height, { hash, txs });
  }

  private disconnected(height: number, hash: BlockHash): void {
    const rec = this.confirmed.get(height);
    if (!rec || rec.hash !== hash) return;
    this.confirmed.delete(height);
    for (const t of rec.txs) {
      this.confirmedIn.delete(t.txid);
      this.unconfirmed.set(t.txid, t);
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
