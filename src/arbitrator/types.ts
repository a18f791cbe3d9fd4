/**
 * The plain, JSON-ready facts the ChannelArbitrator decides on. They are computed outside the machine (from a
 * checked snapshot, the preimage table and a classified close: src/arbitrator/snapshot.ts and resolutions.ts) and
 * travel inside events, so a transition is pure and the transition log records exactly what each decision saw.
 *
 * Conventions: amounts are decimal strings (msat or sat as named), hashes and scripts lower-case hex, outpoints
 * "txid:vout" with the txid in display order, heights plain integers. Every field is JSON; nothing here is secret
 * except where a comment says so.
 */

/** An HTLC as one commitment carries it, from our view (ARCHITECTURE.md "Channel snapshot"). */
export interface HtlcFact {
  readonly htlcId: number;
  readonly direction: 'incoming' | 'outgoing';
  readonly amountMsat: string;
  readonly paymentHash: string;
  readonly cltvExpiry: number;
  /** Trimmed on this commitment: no output of its own. */
  readonly dust: boolean;
  /** For a forwarded outgoing HTLC, the CLTV expiry of the incoming HTLC it came from (the deadline that matters). */
  readonly upstreamExpiry?: number;
}

/** The HTLC sets of the commitments that may confirm (lnd's CommitSet). */
export interface CommitSetFacts {
  /** Our latest commitment. */
  readonly local: readonly HtlcFact[];
  /** Their current (oldest unrevoked) commitment. */
  readonly remote: readonly HtlcFact[];
  /** Their next commitment, signed by us, not yet revoked-for. */
  readonly remotePending?: readonly HtlcFact[];
}

/** How a close was classified (src/watcher/classify.ts), as the arbitrator names it. */
/** `accepted`: a spend courtd could not classify, accepted as final by an operator (nothing more to claim). */
export type CloseType = 'coop' | 'local' | 'remote' | 'remotePending' | 'breach' | 'future' | 'accepted';

/** The key that signs a spend: a keyring locator, optionally tweaked (src/keys/signer.ts KeyDescriptor). */
export interface KeyFact {
  readonly family: number;
  readonly index: number;
  /** Single tweak: the per-commitment point whose SHA256(point || basepoint) tweaks the basepoint secret. */
  readonly tweakPoint?: string;
  /**
   * Revocation (justice) spends: the commitment number whose per-commitment secret, read from the channel's
   * revocation store at signing time, makes the revocation private key. The secret itself is never stored here.
   */
  readonly revokedNumber?: number;
}

/** A second-level HTLC transaction of our commitment, with the remote's signature (we add ours when we spend). */
export interface SecondLevelFact {
  readonly kind: 'timeout' | 'success';
  /** Unsigned transaction hex (no witness). */
  readonly txHex: string;
  /** The remote's signature: 64-byte compact hex; its sighash type below. */
  readonly remoteSignature: string;
  readonly remoteSighashType: number;
  /** Witness script of its CSV output and that output's value. */
  readonly outputScript: string;
  readonly outputSat: string;
  /** The CSV on that output (our to_self_delay). */
  readonly csvDelay: number;
  /** The key that spends that output after the CSV (our delay base, tweaked with our per-commitment point). */
  readonly key: KeyFact;
}

/** One output of the closing transaction that we can claim (or must watch), with what a resolver needs to spend it. */
export interface OutputResolution {
  readonly outpoint: string;
  readonly amountSat: string;
  readonly scriptPubKey: string;
  /** P2WSH witness script; absent for P2WPKH outputs. */
  readonly witnessScript?: string;
  readonly key: KeyFact;
  /** Relative delay before we may spend (0 for none). */
  readonly csvDelay: number;
}

/** A non-dust HTLC output of the closing commitment and how we would claim it. */
export interface HtlcResolution extends OutputResolution {
  readonly htlc: HtlcFact;
  /** Our commitment only: the pre-signed second-level transaction. Absent on theirs (direct spends). */
  readonly secondLevel?: SecondLevelFact;
}

/** Everything a justice transaction needs, output by output (the secret is read from the revocation store). */
export interface BreachResolution {
  readonly commitmentNumber: number;
  readonly perCommitmentPoint: string;
  /** to_local (theirs, revocable), and every HTLC output, each spendable with the revocation key. */
  readonly outputs: readonly (OutputResolution & { readonly kind: 'to_local' | 'offered_htlc' | 'received_htlc'; readonly htlc?: HtlcFact })[];
  /** Witness script of their second-level outputs (to follow an HTLC the cheater takes to the second stage). */
  readonly secondLevelScript: string;
  readonly theirToSelfDelay: number;
}

/** What a confirmed close leaves for us (lnd's ContractResolutions, plus the commit set it was decided on). */
export interface CloseResolutions {
  readonly closeType: CloseType;
  readonly txid: string;
  /** The commitment number (absent for coop). */
  readonly commitmentNumber?: number;
  /** Our main output: to_local (CSV to_self_delay) on ours, to_remote on theirs; absent if trimmed or none. */
  readonly commitOutput?: OutputResolution;
  /** Our anchor on this commitment (anchor channels). */
  readonly anchor?: OutputResolution;
  /** Non-dust HTLC outputs of the confirmed commitment. */
  readonly htlcs: readonly HtlcResolution[];
  readonly breach?: BreachResolution;
}
