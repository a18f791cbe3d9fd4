/**
 * The sweeper's contract with its clients (the resolvers, the arbitrator's anchor CPFP, the operator) and with
 * courtd's fee wallet. Everything an input needs to be signed again after a restart is in its serialisable
 * `SweepInputSpec`: the sweeper persists the spec as JSON and never asks its owner for anything later.
 *
 * Conventions: amounts are bigint sat (decimal strings in JSON), fee rates bigint sat per kw (1000 weight
 * units), heights plain numbers, byte strings lower-case hex in JSON, outpoints "txid:vout".
 */
import type { Transaction } from 'bitcoinjs-lib';
import type { KeyLocator } from '../keys/keyring.js';

/** A key the signer can sign with, in serialisable form (hex tweaks; see keys/signer.ts KeyDescriptor). */
export interface KeySpec {
  readonly locator: KeyLocator;
  /** 32-byte hex: basepoint secret + tweak (BOLT #3 local/htlc/delayed keys). */
  readonly singleTweak?: string;
  /** 32-byte hex per-commitment secret: the revocation key (justice). */
  readonly doubleTweak?: string;
}

/**
 * How to build the witness of an input (ln/witness.ts has one builder per kind; ln/weights.ts WITNESS_WEIGHT the
 * expected weight of each). `script` is the hex witness script of the spent P2WSH output.
 */
export type WitnessSpec =
  | { readonly kind: 'toLocalDelayed'; readonly key: KeySpec; readonly script: string }
  | { readonly kind: 'toLocalRevoked'; readonly key: KeySpec; readonly script: string }
  | { readonly kind: 'toRemoteP2wpkh'; readonly key: KeySpec; readonly pubkey: string }
  | { readonly kind: 'toRemoteAnchor'; readonly key: KeySpec; readonly script: string }
  | { readonly kind: 'anchorByKey'; readonly key: KeySpec; readonly script: string }
  | { readonly kind: 'htlcTimeoutDirect'; readonly key: KeySpec; readonly script: string }
  | { readonly kind: 'htlcSuccessDirect'; readonly key: KeySpec; readonly script: string; readonly preimage: string }
  | { readonly kind: 'htlcRevoked'; readonly key: KeySpec; readonly script: string; readonly revocationPubkey: string }
  /**
   * The input of a zero-fee second-level HTLC transaction of our commitment (anchor channels): the remote's
   * SIGHASH_SINGLE|ANYONECANPAY signature commits to this input and to `pairedOutput` at the same index; we sign
   * SIGHASH_ALL. `preimage` present: HTLC-success, absent: HTLC-timeout.
   */
  | {
      readonly kind: 'htlcSecondLevel';
      readonly key: KeySpec;
      readonly script: string;
      readonly remoteSig: string;
      readonly preimage?: string;
    };

/** The output an input must be paired with, at the same index (second-level HTLC transactions). */
export interface PairedOutput {
  readonly valueSat: bigint;
  /** Hex scriptPubKey. */
  readonly script: string;
}

/** An unconfirmed parent the sweep must pay for (CPFP): its weight and the fee it already pays. */
export interface UnconfirmedParent {
  readonly txid: string;
  readonly weight: number;
  readonly feeSat: bigint;
}

/** What an owner offers to the sweeper. Offering the same outpoint again is an upsert (idempotent). */
export interface SweepInputSpec {
  /** "txid:vout" of the output to spend. */
  readonly outpoint: string;
  readonly valueSat: bigint;
  /** Hex scriptPubKey of the spent output. */
  readonly scriptPubKey: string;
  readonly witness: WitnessSpec;
  /** nSequence the input needs (CSV), default 0xfffffffd (RBF, no relative lock). */
  readonly sequence?: number;
  /** Absolute locktime the transaction needs (CLTV), default none; inputs with different locktimes never share a tx. */
  readonly locktime?: number;
  /** First height at which the input may be spent (CSV/CLTV maturity); the sweeper waits until then. */
  readonly matureHeight?: number;
  /** The most fee this input may make us pay, sat (its share of a batched sweep's fee never exceeds it). */
  readonly budgetSat: bigint;
  /** The height by which it must confirm; absent: no deadline (a far target, a small budget). */
  readonly deadlineHeight?: number;
  /** Inputs in one group are mutually exclusive (e.g. our anchor on several commitment versions): never in one tx. */
  readonly exclusiveGroup?: string;
  /** The counterparty can also spend it before our deadline: never batched with inputs only we can spend. */
  readonly pinnable: boolean;
  /**
   * Swept in a transaction of its own, never batched (justice split, pain point 10: an output the cheater pins no
   * longer holds the others back). Offering a published input again with a changed `alone` moves it out of its
   * set: the set is replaced at once without it, and the input is clustered again.
   */
  readonly alone?: boolean;
  readonly pairedOutput?: PairedOutput;
  readonly parent?: UnconfirmedParent;
  /** Who gets the result: a resolver ("resolver:<id>"), the arbitrator's CPFP ("cpfp:<chanPoint>"), ... */
  readonly owner: string;
  /**
   * The channel the input belongs to (status views, bump by channel). Pinnable inputs of several channels may share
   * a transaction until the sweeper splits their set by channel (a refusal, a spend by someone else, a version the
   * node no longer holds near the deadline): a pinnable input should carry it (without one it counts as one
   * unknown channel with every other such input).
   */
  readonly chanPoint?: string;
}

/** Persisted input states. */
export type SweepInputState = 'pending' | 'published' | 'swept' | 'spentByOther' | 'excluded' | 'failed';

/** What the sweeper reports to an input's owner. Delivered at least once (the owner acks; see Sweeper.ack). */
export type SweepResult =
  /** Our sweep confirmed and reached 6 confirmations. */
  | { readonly type: 'swept'; readonly outpoint: string; readonly owner: string; readonly txid: string; readonly height: number; readonly feeSat: bigint }
  /** Someone else's transaction spent the input (confirmed); `spendingTxHex` lets the owner read its witness. */
  | { readonly type: 'spentByOther'; readonly outpoint: string; readonly owner: string; readonly txid: string; readonly height: number; readonly spendingTxHex: string }
  /** The sweeper gave up (e.g. the output can never pay for itself). */
  | { readonly type: 'failed'; readonly outpoint: string; readonly owner: string; readonly reason: string };

/** An operator's bump (court wallet bumpfee). Every field optional; absent keeps the current value. */
export interface BumpRequest {
  readonly budgetSat?: bigint;
  /** Blocks from now. */
  readonly deadlineDelta?: number;
  /** Starting fee rate, sat per kw. */
  readonly startFeeRatePerKw?: bigint;
}

/** One pending input as the status views show it. */
export interface PendingSweepView {
  readonly outpoint: string;
  readonly chanPoint?: string;
  readonly owner: string;
  readonly witnessKind: WitnessSpec['kind'];
  readonly valueSat: bigint;
  readonly budgetSat: bigint;
  readonly deadlineHeight?: number;
  readonly state: SweepInputState;
  /** Fee rate of the last published sweep holding it, sat/kw. */
  readonly feeRatePerKw?: bigint;
  readonly sweepTxid?: string;
  readonly publishCount: number;
  /** Why it waits, for people: "immature until 812", "budget exhausted: 20000 of 20000 sat", ... */
  readonly reason?: string;
}

/**
 * The sweeper as its clients use it. Synchronous calls are one SQLite transaction each (the block handler of the
 * runner does the publishing); they throw CourtError COURT_E_* on refused input and change nothing then.
 */
export interface SweeperPort {
  offer(input: SweepInputSpec): void;
  /** Withdraws a pending input (its owner no longer needs it); a published one is excluded at the next rebuild. */
  cancel(outpoint: string): void;
  bump(outpoint: string, req: BumpRequest): void;
  pending(filter?: { readonly chanPoint?: string }): PendingSweepView[];
  /** Results not yet acknowledged, oldest first (an owner polls after a restart). */
  unacked(owner?: string): SweepResult[];
  ack(outpoint: string): void;
  /** Called with each new result, after it is durable. */
  onResult(listener: (r: SweepResult) => void): void;
}

/** A wallet UTXO (BIP84 P2WPKH) leased to a sweep; only the wallet can sign it (FeeWalletPort.signWalletInputs). */
export interface LeasedUtxo {
  readonly outpoint: string;
  readonly valueSat: bigint;
  /** Hex scriptPubKey (P2WPKH). */
  readonly scriptPubKey: string;
}

/** What the sweeper needs from courtd's wallet (src/wallet implements it). */
export interface FeeWalletPort {
  /**
   * Leases confirmed UTXOs worth at least `targetSat` for `leaseId` (a sweep); persisted. Returns undefined if the
   * wallet cannot cover it (the shortfall is reported by the caller). Leasing again for the same id replaces.
   */
  lease(leaseId: string, targetSat: bigint): LeasedUtxo[] | undefined;
  /** Releases every UTXO leased for `leaseId` (sweep replaced, failed, or lost its inputs to a conflict). */
  release(leaseId: string): void;
  /** A fresh address of the wallet (change and sweep outputs): hex scriptPubKey, recorded as ours at once. */
  nextChangeScript(): string;
  /**
   * Signs the wallet's inputs of a finished transaction (SIGHASH_ALL, so call it after every output is final) and
   * sets their witnesses. Throws COURT_E_WALLET_* if an input is not a UTXO of this wallet.
   */
  signWalletInputs(tx: Transaction, inputs: readonly { readonly index: number; readonly utxo: LeasedUtxo }[]): Promise<void>;
  /**
   * Optional: records a published sweep's outputs to the wallet as unconfirmed (recovered money and change visible
   * at once; a replacement drops the outputs of the version it replaced). Called after the node accepted it.
   */
  recordUnconfirmed?(tx: Transaction): void;
  /** Weight of one wallet input's witness (P2WPKH: 109 with a 73-byte signature) plus its 41-byte input * 4. */
  readonly inputWeight: number;
}
