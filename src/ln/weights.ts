/**
 * Weights and fixed amounts of BOLT #3 ("Fees", "Appendix A: Expected Weights").
 *
 * Witness weights are the serialised witness size (item count, then length-prefixed items) with signatures
 * counted at their 73-byte maximum (72 DER + sighash byte); fee estimation uses these upper bounds, and
 * test/ln/weights.test.ts checks the formulas against Appendix A and test/ln/witness.exec.test.ts
 * checks that every real witness is at most this heavy (and at most 2 bytes lighter per signature).
 */
import type { Sat } from '../util/amount.js';

/** Which commitment format a channel uses. */
export type CommitmentFormat = 'static_remotekey' | 'anchors';

/** Commitment weight before HTLC outputs (724 / 1124). */
export function commitmentBaseWeight(format: CommitmentFormat): number {
  return format === 'anchors' ? 1124 : 724;
}
/** Weight each untrimmed HTLC output adds to a commitment. */
export const COMMITMENT_WEIGHT_PER_HTLC = 172;
/** HTLC-timeout transaction weight (663 / 666). */
export function htlcTimeoutWeight(format: CommitmentFormat): number {
  return format === 'anchors' ? 666 : 663;
}
/** HTLC-success transaction weight (703 / 706). */
export function htlcSuccessWeight(format: CommitmentFormat): number {
  return format === 'anchors' ? 706 : 703;
}
/** Value of each anchor output. */
export const ANCHOR_OUTPUT_SAT: Sat = 330n;
/** Blocks after which anyone may spend an anchor. */
export const ANCHOR_ANYONE_CSV = 16;
/** Largest HTLC count per direction (BOLT #2 max_accepted_htlcs). */
export const MAX_HTLCS_PER_DIRECTION = 483;
/** Maximum signature size in a witness: 72-byte DER plus the sighash byte. */
export const MAX_SIG_LEN = 73;

/** fee = floor(feerate_per_kw * weight / 1000). */
export function feeForWeight(feeratePerKw: number, weight: number): Sat {
  return (BigInt(feeratePerKw) * BigInt(weight)) / 1000n;
}

/** Commitment base fee for `untrimmedHtlcs` HTLC outputs. */
export function commitmentFee(format: CommitmentFormat, feeratePerKw: number, untrimmedHtlcs: number): Sat {
  return feeForWeight(feeratePerKw, commitmentBaseWeight(format) + COMMITMENT_WEIGHT_PER_HTLC * untrimmedHtlcs);
}

/** Fee of an HTLC-timeout transaction (zero on anchor channels: it is brought by the sweeper). */
export function htlcTimeoutFee(format: CommitmentFormat, feeratePerKw: number): Sat {
  return format === 'anchors' ? 0n : feeForWeight(feeratePerKw, htlcTimeoutWeight(format));
}

/** Fee of an HTLC-success transaction (zero on anchor channels). */
export function htlcSuccessFee(format: CommitmentFormat, feeratePerKw: number): Sat {
  return format === 'anchors' ? 0n : feeForWeight(feeratePerKw, htlcSuccessWeight(format));
}

function varintLen(n: number): number {
  return n < 0xfd ? 1 : n <= 0xffff ? 3 : 5;
}

/** Serialised size of a witness whose items have the given lengths. */
export function witnessSize(...itemLengths: number[]): number {
  let n = varintLen(itemLengths.length);
  for (const l of itemLengths) n += varintLen(l) + l;
  return n;
}

/** Expected (maximum) witness weight of every spend path courtd builds; `s` is the witness script length. */
export const WITNESS_WEIGHT = Object.freeze({
  /** Commitment input: 0 <sig1> <sig2> <2-of-2 script (71)>. Appendix A: 222. */
  funding: (): number => witnessSize(0, MAX_SIG_LEN, MAX_SIG_LEN, 71),
  /** to_local (or second-level output) after its CSV: <delayed_sig> <> <script>. */
  toLocalDelayed: (s: number): number => witnessSize(MAX_SIG_LEN, 0, s),
  /** to_local (or second-level output) by revocation: <revocation_sig> 1 <script>. */
  toLocalRevoked: (s: number): number => witnessSize(MAX_SIG_LEN, 1, s),
  /** to_remote P2WPKH (static_remotekey): <sig> <pubkey>. */
  toRemoteP2wpkh: (): number => witnessSize(MAX_SIG_LEN, 33),
  /** to_remote on anchor channels after 1 block: <sig> <script (37)>. */
  toRemoteAnchor: (): number => witnessSize(MAX_SIG_LEN, 37),
  /** Anchor by the funding key: <sig> <script (40)>. */
  anchorByKey: (): number => witnessSize(MAX_SIG_LEN, 40),
  /** Anchor by anyone after 16 blocks: <> <script (40)>. */
  anchorByAnyone: (): number => witnessSize(0, 40),
  /** Second-level HTLC-timeout input: 0 <remote_sig> <local_sig> <> <offered script>. Appendix A: 285/288. */
  htlcTimeoutSecondLevel: (s: number): number => witnessSize(0, MAX_SIG_LEN, MAX_SIG_LEN, 0, s),
  /** Second-level HTLC-success input: 0 <remote_sig> <local_sig> <preimage> <received script>. 324/327. */
  htlcSuccessSecondLevel: (s: number): number => witnessSize(0, MAX_SIG_LEN, MAX_SIG_LEN, 32, s),
  /** Direct timeout claim of our offered HTLC from the remote commitment: <sig> <> <received script>. */
  htlcTimeoutDirect: (s: number): number => witnessSize(MAX_SIG_LEN, 0, s),
  /** Direct preimage claim of their offered HTLC from the remote commitment: <sig> <preimage> <offered script>. */
  htlcSuccessDirect: (s: number): number => witnessSize(MAX_SIG_LEN, 32, s),
  /** Revocation spend of an HTLC output: <revocation_sig> <revocationpubkey> <script>. */
  htlcRevoked: (s: number): number => witnessSize(MAX_SIG_LEN, 33, s),
});
