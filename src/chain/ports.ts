/**
 * The chain layer's ports (style principle 4: small interfaces owned by their consumers).
 *
 * Lower ports (what the chain layer needs from a node; the bitcoind adapter in bitcoind.ts implements them all,
 * the fake chain in test/helpers implements them for unit tests): ChainSource, MempoolSource, UtxoSource,
 * TxRelay, FeeRateSource. Upper ports (what the arbitrator, resolvers and sweeper consume): the block events
 * (ChainEvent / BlockSubscriber), SpendNotifier, Broadcaster, FeeEstimator. BlockLog is the dispatcher's
 * persistence port (SQLite and in-memory implementations in block-log.ts).
 *
 * Conventions: txids and block hashes are lower-case display-order hex (as bitcoind prints them); heights are
 * plain numbers; transactions are bitcoinjs-lib `Transaction` objects; fee rates are bigint sat per kw.
 */
import type { Transaction } from 'bitcoinjs-lib';

/** A transaction id in display (RPC) byte order, 64 lower-case hex characters. */
export type Txid = string;
/** A block hash in display (RPC) byte order, 64 lower-case hex characters. */
export type BlockHash = string;

/** A block by height and hash: the unit the dispatcher persists and compares to detect forks. */
export interface BlockRef {
  readonly height: number;
  readonly hash: BlockHash;
}

/** A transaction output reference. */
export interface Outpoint {
  readonly txid: Txid;
  readonly vout: number;
}

/** A parsed block. `txids[i]` is the id of `txs[i]`, computed once when the block is parsed. */
export interface ChainBlock {
  readonly hash: BlockHash;
  readonly height: number;
  /** Hash of the parent block (all zeros for the genesis block). */
  readonly prevHash: BlockHash;
  readonly txs: readonly Transaction[];
  readonly txids: readonly Txid[];
}

/** A transaction the node knows, with where it confirmed if it did. */
export interface TxLookup {
  readonly tx: Transaction;
  /** Present when the transaction is in a block of the node's best chain. */
  readonly confirmation?: BlockRef;
}

/** Read access to the node's best chain. Every method may throw a CourtError COURT_E_CHAIN_*. */
export interface ChainSource {
  /** The node's best block. */
  getTip(): Promise<BlockRef>;
  /** Hash of the best-chain block at `height`; COURT_E_CHAIN_NOT_FOUND above the tip. */
  getBlockHash(height: number): Promise<BlockHash>;
  /** The full block (best chain or stale, as long as the node still has it); COURT_E_CHAIN_NOT_FOUND if unknown. */
  getBlock(hash: BlockHash): Promise<ChainBlock>;
  /** A transaction by id, or undefined if the node does not know it (without -txindex only mempool ones). */
  getRawTransaction(txid: Txid): Promise<TxLookup | undefined>;
}

/** Read access to the node's mempool. */
export interface MempoolSource {
  /** Ids of every transaction in the mempool now. */
  getRawMempool(): Promise<Txid[]>;
  /** One mempool transaction, or undefined if it left the mempool meanwhile. */
  getMempoolTransaction(txid: Txid): Promise<Transaction | undefined>;
  /** Optional: many at once, in one request (undefined for those that left the mempool). */
  getMempoolTransactions?(txids: readonly Txid[]): Promise<Array<Transaction | undefined>>;
}

/** UTXO-set lookups, used to skip a historical rescan for an outpoint that is still unspent. */
export interface UtxoSource {
  /** True if `outpoint` is in the node's UTXO set at its tip (mempool ignored). */
  isUnspent(outpoint: Outpoint): Promise<boolean>;
}

/** An output as the node knows it. */
export interface OutputInfo {
  readonly valueSat: bigint;
  readonly scriptPubKey: Uint8Array;
  /** False while in the UTXO set (or created by a mempool transaction); true once spent. */
  readonly spent: boolean;
  /** Height of the block holding the transaction that created the output (absent while unconfirmed or unknown). */
  readonly confirmedHeight?: number;
}

/**
 * One output looked up at the node: gettxout (mempool included) for an unspent one, else the transaction that
 * created it (getrawtransaction: bitcoind needs -txindex for a confirmed one; the embedded node always has it).
 */
export interface OutputSource {
  /** The output, or undefined when the node knows no such transaction (or it has no output `vout`). */
  getOutput(outpoint: Outpoint): Promise<OutputInfo | undefined>;
}

/** Raw transaction relay. Rejections throw a CourtError COURT_E_CHAIN_RPC with details {rpcCode, rpcMessage}. */
export interface TxRelay {
  /** Submits a transaction (hex) to the node's mempool; resolves to its txid. */
  sendRawTransaction(hex: string): Promise<Txid>;
}

/** The node's fee data, as bitcoind reports it: decimal strings in BTC per kvB (never floats). */
export interface FeeRateSource {
  /** estimatesmartfee's feerate for `confTarget`, or undefined when the node has no estimate (always on regtest). */
  estimateSmartFee(confTarget: number): Promise<string | undefined>;
  /** getmempoolinfo.mempoolminfee. */
  mempoolMinFee(): Promise<string>;
  /** getnetworkinfo.relayfee. */
  relayFee(): Promise<string>;
}

/** A block joined our best chain. Delivered strictly in height order. */
export interface BlockConnected {
  readonly type: 'BlockConnected';
  readonly height: number;
  readonly hash: BlockHash;
  readonly block: ChainBlock;
}

/** A block left our best chain (a reorg). Delivered newest first, before the new branch's BlockConnected. */
export interface BlockDisconnected {
  readonly type: 'BlockDisconnected';
  readonly height: number;
  readonly hash: BlockHash;
}

/** What the block dispatcher delivers. */
export type ChainEvent = BlockConnected | BlockDisconnected;

/**
 * A consumer of block events. The dispatcher awaits it before delivering anything else to anyone; if it throws,
 * the dispatcher backs off and delivers the same event to it again (so a handler must be idempotent).
 */
export type BlockSubscriber = (event: ChainEvent) => void | Promise<void>;

/**
 * The dispatcher's memory of the blocks it delivered: the last N connected refs, oldest first. Synchronous
 * because the SQLite implementation is (better-sqlite3); each call is one durable transaction.
 */
export interface BlockLog {
  /** Every retained ref, ascending by height. */
  load(): BlockRef[];
  /** Records a newly connected tip (height = previous tip + 1) and forgets refs older than the retention. */
  append(ref: BlockRef): void;
  /** Forgets the current tip after it was disconnected. */
  remove(ref: BlockRef): void;
}

/** One transaction in the broadcaster's rebroadcast set as persisted. */
export interface StoredBroadcast {
  readonly txid: Txid;
  readonly hex: string;
  readonly label: string;
  /** Publish order (parents before children). */
  readonly seq: number;
}

/** A tracked transaction dropped because a confirmed transaction spent one of its inputs. */
export interface BroadcastConflict {
  readonly txid: Txid;
  readonly label: string;
  /** The confirmed transaction that spent the input. */
  readonly conflictTxid: Txid;
  readonly height: number;
}

/**
 * The broadcaster's persistence port: the rebroadcast set survives a restart (SQLite in broadcaster.ts, table
 * broadcast_tx of migrations/0006). Synchronous, one durable transaction per call, like BlockLog.
 */
export interface BroadcastStore {
  /** Every transaction still to rebroadcast, in publish order. */
  load(): StoredBroadcast[];
  /** Conflicts recorded so far (newest last). */
  conflicts(): BroadcastConflict[];
  /** Records `tx` as to be rebroadcast (an upsert: a conflicted row is tracked again). */
  track(tx: StoredBroadcast): void;
  /** Forgets `txid` (confirmed, refused for good, or superseded by its owner). */
  untrack(txid: Txid): void;
  /** Marks `txid` as dropped because a confirmed conflict spent its input. */
  conflicted(c: BroadcastConflict): void;
}

/** A confirmed spend of a watched outpoint. */
export interface SpendConfirmed {
  readonly type: 'spend';
  readonly outpoint: Outpoint;
  readonly spendingTx: Transaction;
  readonly spenderTxid: Txid;
  readonly inputIndex: number;
  readonly height: number;
  readonly blockHash: BlockHash;
}

/** A previously reported spend was disconnected; the watch is live again. */
export interface SpendUndone {
  readonly type: 'spend-undone';
  readonly outpoint: Outpoint;
  readonly spenderTxid: Txid;
  readonly height: number;
  readonly blockHash: BlockHash;
}

/** A watched transaction reached its confirmation depth. `height`/`blockHash` are where it was mined. */
export interface TxConfirmed {
  readonly type: 'confirmed';
  readonly txid: Txid;
  readonly tx: Transaction;
  readonly height: number;
  readonly blockHash: BlockHash;
  /** Position of the transaction in its block. */
  readonly txIndex: number;
  readonly numConfs: number;
}

/** A previously reported confirmation was disconnected; the watch waits for depth again. */
export interface TxConfUndone {
  readonly type: 'conf-undone';
  readonly txid: Txid;
  readonly height: number;
  readonly blockHash: BlockHash;
}

/** A mempool transaction spends a watched outpoint (it may still be replaced or never confirm). */
export interface MempoolSpend {
  readonly type: 'mempool-spend';
  readonly outpoint: Outpoint;
  readonly spendingTx: Transaction;
  readonly spenderTxid: Txid;
  readonly inputIndex: number;
}

/** Events of a spend watch. */
export type SpendEvent = SpendConfirmed | SpendUndone;
/** Events of a confirmation watch. */
export type ConfEvent = TxConfirmed | TxConfUndone;

/** A registered watch. `ready` settles once its historical rescan is done and it matches new blocks live. */
export interface WatchHandle {
  readonly id: number;
  /** Resolves when the watch is live; rejects with COURT_E_CHAIN_STOPPED if cancelled or stopped first. */
  readonly ready: Promise<void>;
  /** Stops the watch; no event is delivered after this returns. Idempotent. */
  cancel(): void;
}

/** Spend and confirmation notifications (lnd's chainntnfs contract, spec section 2.2). */
export interface SpendNotifier {
  watchSpend(outpoint: Outpoint, heightHint: number, onEvent: (e: SpendEvent) => void | Promise<void>): WatchHandle;
  watchConf(
    txid: Txid,
    numConfs: number,
    heightHint: number,
    onEvent: (e: ConfEvent) => void | Promise<void>,
  ): WatchHandle;
}

/** How bitcoind answered a broadcast, classified (broadcaster.ts has the table). */
export type PublishOutcome =
  | 'accepted'
  | 'already-in-mempool'
  | 'already-confirmed'
  | 'missing-inputs'
  | 'insufficient-fee'
  | 'non-final'
  | 'non-bip68-final'
  | 'script-failure'
  | 'rejected';

/** Result of one publish: the outcome plus, for any refusal, bitcoind's RPC code and reason. */
export type PublishResult =
  | { readonly kind: 'accepted'; readonly txid: Txid }
  | {
      readonly kind: Exclude<PublishOutcome, 'accepted'>;
      readonly txid: Txid;
      readonly rpcCode: number;
      readonly reason: string;
    };

/** Publishing our transactions. */
export interface Broadcaster {
  /** Publishes `tx` and keeps rebroadcasting it each block until it confirms. Idempotent per txid. */
  publish(tx: Transaction, label: string): Promise<PublishResult>;
}

/** Fee rates for our transactions, in sat per 1000 weight units (BOLT's feerate_per_kw), as bigint. */
export interface FeeEstimator {
  /** The rate to confirm within `confTarget` blocks, never below the node's relay floors. */
  feeRatePerKw(confTarget: number): Promise<bigint>;
}
