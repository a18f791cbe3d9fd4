/**
 * Types of the channel simulator (regtest/simulator.ts), kept apart so the simulator file stays readable.
 */
import type { Transaction } from 'bitcoinjs-lib';
import type { Commitment, CommitmentFormat } from '../src/ln/commitment.js';
import type { HtlcTx } from '../src/ln/htlc.js';
import type { MSat, Sat } from '../src/util/amount.js';
import type { PartyName } from './sim-keys.js';
import type { Prevout, Utxo } from './sim-tx.js';

/** An HTLC of the channel. */
export interface SimHtlc {
  /** The simulator's handle (unique in the channel): what addHtlc returns and settle/fail take. */
  readonly ref: number;
  /** BOLT #2 `id`: counts from 0 per offering peer (what the snapshot calls htlcId). */
  readonly htlcId: number;
  readonly offerer: PartyName;
  readonly amountMsat: MSat;
  readonly paymentHash: Uint8Array;
  readonly cltvExpiry: number;
}

/** The channel state behind commitment number `number` of both peers. */
export interface ChannelState {
  readonly number: number;
  readonly feeratePerKw: number;
  /** Each peer's balance, HTLCs not counted, before commitment fee and anchors. */
  readonly balanceMsat: Readonly<Record<PartyName, MSat>>;
  /** HTLCs on the commitment, in the order of the commitment spec's htlcs. */
  readonly htlcs: readonly SimHtlc[];
}

/** One peer's commitment number `number`, built (unsigned) by src/ln. */
export interface SimCommitment {
  readonly holder: PartyName;
  readonly counterparty: PartyName;
  readonly number: number;
  readonly state: ChannelState;
  readonly perCommitmentPoint: Uint8Array;
  readonly commitment: Commitment;
  /** Display order. */
  readonly txid: string;
  /** Unsigned second-level transactions, in commitment output order (the order of HTLC signatures). */
  readonly htlcTxs: readonly HtlcTx[];
  /** Whether the holder has revealed this commitment's per-commitment secret. */
  readonly revoked: boolean;
}

/** Private keys that can sign for the outputs of one commitment. */
export interface CommitmentPrivkeys {
  readonly holderFunding: Uint8Array;
  readonly counterpartyFunding: Uint8Array;
  readonly holderDelayed: Uint8Array;
  readonly holderHtlc: Uint8Array;
  readonly counterpartyHtlc: Uint8Array;
  /** The counterparty's payment basepoint secret (to_remote is untweaked on these formats). */
  readonly counterpartyPayment: Uint8Array;
}

/** The signatures a holder receives from its counterparty for one commitment: 64-byte compact (r || s). */
export interface RemoteSignatures {
  readonly commitment: Uint8Array;
  /** One per untrimmed HTLC, in commitment output order; sighash type per `htlcSighashType`. */
  readonly htlcs: readonly Uint8Array[];
  /** SIGHASH_ALL (static_remotekey) or SIGHASH_SINGLE|ANYONECANPAY (anchors). */
  readonly htlcSighashType: number;
}

/** Opening parameters. */
export interface OpenParams {
  readonly format: CommitmentFormat;
  readonly funder: PartyName;
  readonly capacitySat: Sat;
  /** Given to the non-funder at opening. Default 0. */
  readonly pushMsat?: MSat;
  /** CSV on each peer's own to_local and second-level outputs (the to_self_delay the other peer imposed). */
  readonly toSelfDelay: Readonly<Record<PartyName, number>>;
  /** Each peer's dust limit (on its own commitment). Default 546 sat both. */
  readonly dustLimitSat?: Readonly<Record<PartyName, Sat>>;
  /** Commitment feerate at opening. */
  readonly feeratePerKw: number;
  /** The funder's P2WPKH UTXO; fee at `satPerVb` (default 2); change to `changeScript` (default: the UTXO's key). */
  readonly funding: { readonly utxo: Utxo; readonly satPerVb?: number; readonly changeScript?: Uint8Array };
  /** Seed labels of the peers' keyrings. Default 'alice' and 'bob'. */
  readonly seeds?: Partial<Readonly<Record<PartyName, string>>>;
  /** Key index of this channel in every key family. Default 0. */
  readonly channelIndex?: number;
}

/** Faults the second-level signer can inject (see also spends.ts). */
export type HtlcTxFault = 'wrong_key' | 'wrong_remote_key' | 'wrong_preimage';

/** Options for a signed second-level HTLC transaction. */
export interface HtlcTxOptions {
  /** HTLC-success only; default: the holder's known preimage. */
  readonly preimage?: Uint8Array;
  /** Anchors only: a P2WPKH input to pay the fee, appended after the HTLC input. */
  readonly feeInput?: Utxo;
  /** With feeInput: the change output (appended after the second-level output) and the fee the transaction pays. */
  readonly change?: { readonly scriptPubKey: Uint8Array; readonly feeSat: Sat };
  readonly fault?: HtlcTxFault;
  /** Script-level negative tests: the holder changes these; the remote signature stays the one it gave. */
  readonly override?: { readonly sequence?: number; readonly locktime?: number };
}

/** A signed transaction and the outputs its inputs spend, in input order. */
export interface SignedTx {
  readonly tx: Transaction;
  readonly prevouts: readonly Prevout[];
  readonly feeSat: Sat;
}
