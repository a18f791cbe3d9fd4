/** The channel snapshot's types: the parsed form (bytes and bigints), its JSON form, and a checked snapshot. */
import type { Commitment, CommitmentFormat } from '../../ln/commitment.js';
import type { HtlcTx } from '../../ln/htlc.js';
import type { MSat, Sat } from '../../util/amount.js';

/** A key named by its lnd key family and index (src/keys/keyring.ts KeyLocator). */
export interface SnapshotKeyLocator {
  readonly family: number;
  readonly index: number;
}

/** Our five channel base keys, by locator. */
export interface SnapshotKeyLocators {
  readonly funding: SnapshotKeyLocator;
  readonly revocationBase: SnapshotKeyLocator;
  readonly htlcBase: SnapshotKeyLocator;
  readonly paymentBase: SnapshotKeyLocator;
  readonly delayBase: SnapshotKeyLocator;
}

/** For a forwarded outgoing HTLC: the incoming HTLC it came from. */
export interface SnapshotUpstream {
  /** "txid:vout" of the upstream channel (txid lower-case, display order). */
  readonly chanPoint: string;
  readonly htlcId: number;
  /** The incoming HTLC's CLTV expiry: the deadline that really matters for this outgoing one. */
  readonly cltvExpiry: number;
}

/** An HTLC on one commitment, from our view. */
export interface SnapshotHtlc {
  /** BOLT #2 id in the offering peer's namespace. */
  readonly htlcId: number;
  /** outgoing: we offered it; incoming: they did. */
  readonly direction: 'incoming' | 'outgoing';
  readonly amountMsat: MSat;
  /** 32 bytes. */
  readonly paymentHash: Uint8Array;
  readonly cltvExpiry: number;
  readonly upstream?: SnapshotUpstream;
}

/** One commitment, from our view (balances before fee and anchors). */
export interface SnapshotCommitment {
  readonly number: number;
  /** The holder's per-commitment point for this number (ours on our commitment, theirs on theirs). */
  readonly perCommitmentPoint: Uint8Array;
  readonly feeratePerKw: number;
  /** Our balance, HTLCs not counted. */
  readonly toLocalMsat: MSat;
  /** Their balance, HTLCs not counted. */
  readonly toRemoteMsat: MSat;
  readonly htlcs: readonly SnapshotHtlc[];
}

/** Our latest commitment with what the remote signed for it. */
export interface SnapshotLocalCommitment extends SnapshotCommitment {
  /** 64-byte compact signature by remote.fundingPubkey, SIGHASH_ALL. */
  readonly remoteSignature: Uint8Array;
  /** 64-byte compact signatures, one per untrimmed HTLC, in commitment output order. */
  readonly remoteHtlcSignatures: readonly Uint8Array[];
}

/** A parsed (not yet checked) channel snapshot. */
export interface ChannelSnapshot {
  /** "txid:vout" of the funding output, txid lower-case in display order. */
  readonly chanPoint: string;
  readonly shortChannelId?: string;
  readonly capacitySat: Sat;
  readonly commitmentType: CommitmentFormat;
  /** Who opened (funded) the channel. */
  readonly initiator: 'local' | 'remote';
  readonly fundingHeightHint: number;
  readonly local: {
    readonly keyLocators: SnapshotKeyLocators;
    readonly dustLimitSat: Sat;
    /** The CSV the peer imposes on our to_local. */
    readonly toSelfDelay: number;
    /** Where our node closes the channel to (BOLT #2 shutdown / upfront_shutdown_script), if it is known. */
    readonly shutdownScript?: Uint8Array;
  };
  readonly remote: {
    readonly fundingPubkey: Uint8Array;
    readonly revocationBasepoint: Uint8Array;
    readonly paymentBasepoint: Uint8Array;
    readonly delayedPaymentBasepoint: Uint8Array;
    readonly htlcBasepoint: Uint8Array;
    readonly dustLimitSat: Sat;
    /** The CSV we impose on their to_local. */
    readonly toSelfDelay: number;
  };
  readonly localCommitment: SnapshotLocalCommitment;
  readonly remoteCommitments: {
    /** Their oldest unrevoked commitment. */
    readonly current: SnapshotCommitment;
    /** Their next commitment: signed by us, the one before not yet revoked. */
    readonly pending?: SnapshotCommitment;
  };
}

/** JSON form of an HTLC (amounts as decimal strings, bytes as hex). */
export interface SnapshotHtlcJson {
  readonly htlcId: number;
  readonly direction: 'incoming' | 'outgoing';
  readonly amountMsat: string;
  readonly paymentHash: string;
  readonly cltvExpiry: number;
  readonly upstream?: SnapshotUpstream;
}

/** JSON form of a commitment. */
export interface SnapshotCommitmentJson {
  readonly number: number;
  readonly perCommitmentPoint: string;
  readonly feeratePerKw: number;
  readonly toLocalMsat: string;
  readonly toRemoteMsat: string;
  readonly htlcs: readonly SnapshotHtlcJson[];
}

/** The canonical JSON form of a snapshot (what the node sends, plus `v`; what the briefcase stores). */
export interface ChannelSnapshotJson {
  readonly v: 1;
  readonly chanPoint: string;
  readonly shortChannelId?: string;
  readonly capacitySat: string;
  readonly commitmentType: CommitmentFormat;
  readonly initiator: 'local' | 'remote';
  readonly fundingHeightHint: number;
  readonly local: { readonly keyLocators: SnapshotKeyLocators; readonly dustLimitSat: string; readonly toSelfDelay: number; readonly shutdownScript?: string };
  readonly remote: {
    readonly fundingPubkey: string;
    readonly revocationBasepoint: string;
    readonly paymentBasepoint: string;
    readonly delayedPaymentBasepoint: string;
    readonly htlcBasepoint: string;
    readonly dustLimitSat: string;
    readonly toSelfDelay: number;
  };
  readonly localCommitment: SnapshotCommitmentJson & { readonly remoteSignature: string; readonly remoteHtlcSignatures: readonly string[] };
  readonly remoteCommitments: { readonly current: SnapshotCommitmentJson; readonly pending?: SnapshotCommitmentJson };
}

/** Our channel base public keys (33-byte compressed), read from the keyring at the snapshot's locators. */
export interface OurBasepoints {
  readonly funding: Uint8Array;
  readonly revocationBase: Uint8Array;
  readonly htlcBase: Uint8Array;
  readonly paymentBase: Uint8Array;
  readonly delayBase: Uint8Array;
}

/** A second-level transaction of our commitment with the remote's signature for it. */
export interface SignedHtlcTx {
  readonly htlcTx: HtlcTx;
  /** 64-byte compact; sighash type `htlcTx.remoteSighashType`. */
  readonly remoteSignature: Uint8Array;
}

/** A snapshot whose signatures verified, with every commitment built. */
export interface CheckedSnapshot {
  readonly snapshot: ChannelSnapshot;
  /** Display order, lower-case. */
  readonly fundingTxid: string;
  readonly fundingVout: number;
  readonly capacitySat: Sat;
  readonly format: CommitmentFormat;
  readonly obscuringFactor: number;
  readonly ours: OurBasepoints;
  /** Our latest commitment (unsigned; the remote's signature is `snapshot.localCommitment.remoteSignature`). */
  readonly local: Commitment;
  /** Its second-level transactions, in output order, each with the remote's verified signature. */
  readonly localHtlcTxs: readonly SignedHtlcTx[];
  /** Their current commitment. */
  readonly remoteCurrent: Commitment;
  /** Their pending commitment, if any. */
  readonly remotePending?: Commitment;
}
