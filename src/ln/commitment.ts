/**
 * BOLT #3 commitment transactions ("Commitment Transaction Construction") for option_static_remotekey and
 * option_anchors (zero-fee HTLC) channels.
 *
 * Everything is from the point of view of the commitment's holder: "local" is the party that would broadcast
 * it, "remote" its counterparty. To build the counterparty's commitment, swap the roles in the spec.
 *
 * Pure: no I/O, no clock. Bad input throws CourtError before any transaction is built.
 */
import { Transaction } from 'bitcoinjs-lib';
import { checkMsat, checkSat, type MSat, type Sat } from '../util/amount.js';
import { compare, fromHex, reversed } from '../util/bytes.js';
import { CourtError } from '../util/errors.js';
import {
  anchorScript,
  checkCltvExpiry,
  checkCsvDelay,
  fundingScript,
  htlcScriptKeys,
  offeredHtlcScript,
  p2wpkh,
  p2wsh,
  receivedHtlcScript,
  toLocalScript,
  toRemoteAnchorScript,
} from './scripts.js';
import { checkPubkey } from '../keys/secp.js';
import { encodeStateHint } from './statehint.js';
import {
  ANCHOR_OUTPUT_SAT,
  commitmentBaseWeight,
  COMMITMENT_WEIGHT_PER_HTLC,
  commitmentFee,
  htlcSuccessFee,
  htlcTimeoutFee,
  MAX_HTLCS_PER_DIRECTION,
  type CommitmentFormat,
} from './weights.js';

export type { CommitmentFormat } from './weights.js';

/** The keys of one commitment, already derived for its per-commitment point (see keys/derive.ts). */
export interface CommitmentKeys {
  readonly localFundingPubkey: Uint8Array;
  readonly remoteFundingPubkey: Uint8Array;
  /** revocationpubkey: from the remote's revocation basepoint and the holder's per-commitment point. */
  readonly revocationPubkey: Uint8Array;
  /** local_delayedpubkey. */
  readonly localDelayedPubkey: Uint8Array;
  /** local_htlcpubkey. */
  readonly localHtlcPubkey: Uint8Array;
  /** remote_htlcpubkey. */
  readonly remoteHtlcPubkey: Uint8Array;
  /** The to_remote key: the remote's payment_basepoint (static, never tweaked). */
  readonly remotePaymentPubkey: Uint8Array;
}

/** An HTLC on a commitment. `direction` is from the holder's view: offered by the holder, or received. */
export interface CommitmentHtlc {
  readonly direction: 'offered' | 'received';
  readonly amountMsat: MSat;
  readonly paymentHash: Uint8Array;
  readonly cltvExpiry: number;
}

/** Everything that determines one commitment transaction. */
export interface CommitmentSpec {
  readonly format: CommitmentFormat;
  /** Funding txid in display (RPC) byte order. */
  readonly fundingTxid: string;
  readonly fundingVout: number;
  readonly fundingSat: Sat;
  readonly commitmentNumber: number;
  /** From obscuringFactor(opener payment basepoint, accepter payment basepoint). */
  readonly obscuringFactor: number;
  /** Whether the holder opened (funded) the channel and so pays the fee and the anchors. */
  readonly holderIsFunder: boolean;
  /** Holder's balance, not counting HTLCs, before fee and anchors. */
  readonly toLocalMsat: MSat;
  /** Counterparty's balance, not counting HTLCs, before fee and anchors. */
  readonly toRemoteMsat: MSat;
  readonly feeratePerKw: number;
  /** The holder's dust limit. */
  readonly dustLimitSat: Sat;
  /** The CSV on the holder's to_local and second-level outputs (the to_self_delay the remote imposed). */
  readonly toSelfDelay: number;
  readonly keys: CommitmentKeys;
  readonly htlcs: readonly CommitmentHtlc[];
  /**
   * What to do when the funder's balance cannot pay fee + anchors. 'reject' (default) refuses with
   * COURT_E_FUNDER_CANNOT_PAY (BOLT #2 forbids such an update_fee); 'allow' builds the commitment exactly as
   * BOLT #3 describes, taking the funder output down to zero (its vector "fee greater than funder amount").
   */
  readonly funderShortfall?: 'reject' | 'allow';
}

/** What an output of a commitment pays to. */
export type CommitmentOutputKind =
  | 'to_local'
  | 'to_remote'
  | 'local_anchor'
  | 'remote_anchor'
  | 'offered_htlc'
  | 'received_htlc';

/** One output of a built commitment, in transaction order. */
export interface CommitmentOutput {
  readonly kind: CommitmentOutputKind;
  readonly index: number;
  readonly amountSat: Sat;
  readonly scriptPubKey: Uint8Array;
  /** The P2WSH witness script (absent for the P2WPKH to_remote of static_remotekey channels). */
  readonly witnessScript: Uint8Array | undefined;
  /** For HTLC outputs: the position of the HTLC in spec.htlcs. */
  readonly htlcIndex: number | undefined;
  /** For HTLC outputs: the CLTV expiry (the BIP69 tie-break). */
  readonly cltvExpiry: number | undefined;
}

/** A built, unsigned commitment transaction and what each output is. */
export interface Commitment {
  readonly spec: CommitmentSpec;
  readonly tx: Transaction;
  readonly outputs: readonly CommitmentOutput[];
  /** Positions in spec.htlcs of the HTLCs trimmed to fees. */
  readonly trimmedHtlcs: readonly number[];
  /** The calculated base fee. */
  readonly baseFeeSat: Sat;
  /** Funding amount minus all outputs (base fee plus trimmed amounts; plus anchors' shortfall if any). */
  readonly feeSat: Sat;
  /** BOLT #3 expected weight (the fee basis: every output counted as present, witness included). */
  readonly weight: number;
  readonly fundingScript: Uint8Array;
}

function checkKeys(keys: CommitmentKeys): void {
  const names: Array<keyof CommitmentKeys> = [
    'localFundingPubkey',
    'remoteFundingPubkey',
    'revocationPubkey',
    'localDelayedPubkey',
    'localHtlcPubkey',
    'remoteHtlcPubkey',
    'remotePaymentPubkey',
  ];
  for (const name of names) checkPubkey(keys[name], name);
}

/** BOLT #2's lowest dust_limit_satoshis: below it outputs would be non-standard (or zero-valued). */
export const MIN_DUST_LIMIT_SAT: Sat = 354n;

function checkSpec(spec: CommitmentSpec): void {
  if (typeof spec !== 'object' || spec === null) throw new CourtError('COURT_E_INVALID_ARGUMENT', 'commitment spec must be an object');
  if (typeof spec.keys !== 'object' || spec.keys === null) throw new CourtError('COURT_E_INVALID_ARGUMENT', 'keys must be an object');
  if (!Array.isArray(spec.htlcs)) throw new CourtError('COURT_E_INVALID_ARGUMENT', 'htlcs must be an array');
  if (typeof spec.holderIsFunder !== 'boolean') throw new CourtError('COURT_E_INVALID_ARGUMENT', 'holderIsFunder must be a boolean');
  if (spec.funderShortfall !== undefined && spec.funderShortfall !== 'reject' && spec.funderShortfall !== 'allow') {
    throw new CourtError('COURT_E_INVALID_ARGUMENT', "funderShortfall must be 'reject' or 'allow'");
  }
  if (spec.format !== 'static_remotekey' && spec.format !== 'anchors') {
    throw new CourtError('COURT_E_INVALID_ARGUMENT', 'unknown commitment format');
  }
  if (!/^[0-9a-f]{64}$/i.test(spec.fundingTxid)) {
    throw new CourtError('COURT_E_INVALID_ARGUMENT', 'funding txid must be 64 hex characters');
  }
  if (!Number.isInteger(spec.fundingVout) || spec.fundingVout < 0 || spec.fundingVout > 0xffffffff) {
    throw new CourtError('COURT_E_INVALID_ARGUMENT', 'funding output index out of range');
  }
  if (!Number.isSafeInteger(spec.obscuringFactor) || spec.obscuringFactor < 0 || spec.obscuringFactor >= 2 ** 48) {
    throw new CourtError('COURT_E_INVALID_ARGUMENT', 'obscuring factor must be a 48-bit integer');
  }
  if (!Number.isSafeInteger(spec.feeratePerKw) || spec.feeratePerKw < 0 || spec.feeratePerKw > 0xffffffff) {
    throw new CourtError('COURT_E_INVALID_FEERATE', 'feerate_per_kw must be an integer in 0..2^32-1', {
      feeratePerKw: String(spec.feeratePerKw),
    });
  }
  checkSat('fundingSat', spec.fundingSat);
  checkSat('dustLimitSat', spec.dustLimitSat);
  if (spec.dustLimitSat < MIN_DUST_LIMIT_SAT) {
    throw new CourtError('COURT_E_INVALID_AMOUNT', 'dust limit below the BOLT #2 minimum of 354 sat', { dustLimitSat: spec.dustLimitSat });
  }
  checkMsat('toLocalMsat', spec.toLocalMsat);
  checkMsat('toRemoteMsat', spec.toRemoteMsat);
  checkCsvDelay(spec.toSelfDelay);
  let offered = 0;
  let received = 0;
  let total = spec.toLocalMsat + spec.toRemoteMsat;
  spec.htlcs.forEach((h, i) => {
    checkMsat(`htlcs[${i}].amountMsat`, h.amountMsat);
    checkCltvExpiry(h.cltvExpiry);
    if (!(h.paymentHash instanceof Uint8Array) || h.paymentHash.length !== 32) {
      throw new CourtError('COURT_E_INVALID_ARGUMENT', `htlcs[${i}].paymentHash must be 32 bytes`);
    }
    if (h.direction === 'offered') offered++;
    else if (h.direction === 'received') received++;
    else throw new CourtError('COURT_E_INVALID_ARGUMENT', `htlcs[${i}].direction must be offered or received`);
    total += h.amountMsat;
  });
  if (offered > MAX_HTLCS_PER_DIRECTION || received > MAX_HTLCS_PER_DIRECTION) {
    throw new CourtError('COURT_E_TOO_MANY_HTLCS', 'more than 483 HTLCs in one direction', { offered, received });
  }
  if (total !== spec.fundingSat * 1000n) {
    throw new CourtError('COURT_E_INVALID_AMOUNT', 'balances plus HTLCs must equal the funding amount', {
      totalMsat: total,
      fundingMsat: spec.fundingSat * 1000n,
    });
  }
}

/** Whether an HTLC is trimmed: its amount is below the dust limit plus the fee of its second-level tx. */
export function isHtlcTrimmed(
  format: CommitmentFormat,
  feeratePerKw: number,
  dustLimitSat: Sat,
  direction: 'offered' | 'received',
  amountMsat: MSat,
): boolean {
  const fee = direction === 'offered' ? htlcTimeoutFee(format, feeratePerKw) : htlcSuccessFee(format, feeratePerKw);
  return amountMsat / 1000n < dustLimitSat + fee;
}

interface PendingOutput {
  kind: CommitmentOutputKind;
  amountSat: Sat;
  scriptPubKey: Uint8Array;
  witnessScript: Uint8Array | undefined;
  htlcIndex: number | undefined;
  cltvExpiry: number | undefined;
}

function bip69(a: PendingOutput, b: PendingOutput): number {
  if (a.amountSat !== b.amountSat) return a.amountSat < b.amountSat ? -1 : 1;
  const c = compare(a.scriptPubKey, b.scriptPubKey);
  if (c !== 0) return c;
  return (a.cltvExpiry ?? 0) - (b.cltvExpiry ?? 0);
}

/** Builds the unsigned commitment transaction described by `spec`. */
export function buildCommitment(spec: CommitmentSpec): Commitment {
  checkSpec(spec);
  checkKeys(spec.keys);
  const { format, feeratePerKw, dustLimitSat, keys } = spec;
  const anchors = format === 'anchors';

  const untrimmed: number[] = [];
  const trimmed: number[] = [];
  spec.htlcs.forEach((h, i) => {
    (isHtlcTrimmed(format, feeratePerKw, dustLimitSat, h.direction, h.amountMsat) ? trimmed : untrimmed).push(i);
  });

  const baseFee = commitmentFee(format, feeratePerKw, untrimmed.length);
  const funderCost = baseFee + (anchors ? 2n * ANCHOR_OUTPUT_SAT : 0n);
  let toLocal = spec.toLocalMsat / 1000n;
  let toRemote = spec.toRemoteMsat / 1000n;
  const funderSat = spec.holderIsFunder ? toLocal : toRemote;
  // Even when told to build a shortfall commitment, the anchors must be paid for: they are outputs, and
  // without the funder's 660 sat they would spend more than the funding output holds.
  const mustReject = (spec.funderShortfall ?? 'reject') === 'reject' || (anchors && funderSat < 2n * ANCHOR_OUTPUT_SAT);
  if (funderSat < funderCost && mustReject) {
    throw new CourtError('COURT_E_FUNDER_CANNOT_PAY', 'funder balance cannot pay the commitment fee and anchors', {
      funderSat,
      feeSat: baseFee,
      feeratePerKw,
    });
  }
  const funderLeft = funderSat > funderCost ? funderSat - funderCost : 0n;
  if (spec.holderIsFunder) toLocal = funderLeft;
  else toRemote = funderLeft;

  const outs: PendingOutput[] = [];
  const hk = htlcScriptKeys(keys.revocationPubkey, keys.localHtlcPubkey, keys.remoteHtlcPubkey);
  for (const i of untrimmed) {
    const h = spec.htlcs[i] as CommitmentHtlc;
    const ws =
      h.direction === 'offered'
        ? offeredHtlcScript(hk, h.paymentHash, anchors)
        : receivedHtlcScript(hk, h.paymentHash, h.cltvExpiry, anchors);
    outs.push({
      kind: h.direction === 'offered' ? 'offered_htlc' : 'received_htlc',
      amountSat: h.amountMsat / 1000n,
      scriptPubKey: p2wsh(ws),
      witnessScript: ws,
      htlcIndex: i,
      cltvExpiry: h.cltvExpiry,
    });
  }
  const hasLocal = toLocal >= dustLimitSat;
  const hasRemote = toRemote >= dustLimitSat;
  if (hasLocal) {
    const ws = toLocalScript(keys.revocationPubkey, spec.toSelfDelay, keys.localDelayedPubkey);
    outs.push({ kind: 'to_local', amountSat: toLocal, scriptPubKey: p2wsh(ws), witnessScript: ws, htlcIndex: undefined, cltvExpiry: undefined });
  }
  if (hasRemote) {
    if (anchors) {
      const ws = toRemoteAnchorScript(keys.remotePaymentPubkey);
      outs.push({ kind: 'to_remote', amountSat: toRemote, scriptPubKey: p2wsh(ws), witnessScript: ws, htlcIndex: undefined, cltvExpiry: undefined });
    } else {
      outs.push({ kind: 'to_remote', amountSat: toRemote, scriptPubKey: p2wpkh(keys.remotePaymentPubkey), witnessScript: undefined, htlcIndex: undefined, cltvExpiry: undefined });
    }
  }
  if (anchors) {
    if (hasLocal || untrimmed.length > 0) {
      const ws = anchorScript(keys.localFundingPubkey);
      outs.push({ kind: 'local_anchor', amountSat: ANCHOR_OUTPUT_SAT, scriptPubKey: p2wsh(ws), witnessScript: ws, htlcIndex: undefined, cltvExpiry: undefined });
    }
    if (hasRemote || untrimmed.length > 0) {
      const ws = anchorScript(keys.remoteFundingPubkey);
      outs.push({ kind: 'remote_anchor', amountSat: ANCHOR_OUTPUT_SAT, scriptPubKey: p2wsh(ws), witnessScript: ws, htlcIndex: undefined, cltvExpiry: undefined });
    }
  }
  if (outs.length === 0) {
    throw new CourtError('COURT_E_INVALID_AMOUNT', 'every output of this commitment is below the dust limit', {
      fundingSat: spec.fundingSat,
      dustLimitSat,
    });
  }
  outs.sort(bip69);

  const tx = new Transaction();
  tx.version = 2;
  const hint = encodeStateHint(spec.commitmentNumber, spec.obscuringFactor);
  tx.locktime = hint.locktime;
  tx.addInput(reversed(fromHex(spec.fundingTxid)), spec.fundingVout, hint.sequence);
  let outSum = 0n;
  const outputs: CommitmentOutput[] = outs.map((o, index) => {
    tx.addOutput(o.scriptPubKey, o.amountSat);
    outSum += o.amountSat;
    return { ...o, index };
  });
  if (outSum > spec.fundingSat) {
    // Unreachable given the checks above; a transaction creating value must never leave this function.
    throw new Error('commitment outputs exceed the funding amount');
  }
  const fScript = fundingScript(keys.localFundingPubkey, keys.remoteFundingPubkey);
  return {
    spec,
    tx,
    outputs,
    trimmedHtlcs: trimmed,
    baseFeeSat: baseFee,
    feeSat: spec.fundingSat - outSum,
    weight: commitmentBaseWeight(format) + COMMITMENT_WEIGHT_PER_HTLC * untrimmed.length,
    fundingScript: fScript,
  };
}
