/**
 * Second-level HTLC transactions (BOLT #3 "HTLC-Timeout and HTLC-Success Transactions"): the holder's way to
 * take an HTLC output of its own commitment into a CSV-delayed output it alone can later sweep.
 *
 * static_remotekey: fee from the commitment feerate (663 / 703 weight), input sequence 0, both signatures
 * SIGHASH_ALL. anchors: zero fee (the sweeper adds an input), sequence 1, the remote signs
 * SIGHASH_SINGLE|SIGHASH_ANYONECANPAY so fee inputs and change can be attached.
 */
import { Transaction } from 'bitcoinjs-lib';
import type { Sat } from '../util/amount.js';
import { CourtError } from '../util/errors.js';
import type { Commitment, CommitmentOutput } from './commitment.js';
import { p2wsh, toLocalScript } from './scripts.js';
import { SIGHASH_ALL, SIGHASH_SINGLE_ANYONECANPAY, segwitV0Sighash } from '../keys/sighash.js';
import { htlcSuccessFee, htlcTimeoutFee } from './weights.js';

/** A second-level HTLC transaction for one HTLC output of a commitment. */
export interface HtlcTx {
  readonly kind: 'timeout' | 'success';
  /** The commitment output it spends. */
  readonly output: CommitmentOutput;
  /** Unsigned transaction. */
  readonly tx: Transaction;
  /** Witness script of the spent commitment output (what both signatures commit to). */
  readonly inputScript: Uint8Array;
  readonly inputSat: Sat;
  /** Witness script of the second-level output (to_local form). */
  readonly outputScript: Uint8Array;
  readonly outputSat: Sat;
  /** Sighash type the remote's signature must use. */
  readonly remoteSighashType: number;
}

/** The second-level output script of a commitment (the same for every HTLC on it). */
export function secondLevelScript(c: Commitment): Uint8Array {
  return toLocalScript(c.spec.keys.revocationPubkey, c.spec.toSelfDelay, c.spec.keys.localDelayedPubkey);
}

function buildOne(c: Commitment, out: CommitmentOutput, txHash: Uint8Array, outScript: Uint8Array, outSpk: Uint8Array): HtlcTx {
  const { format, feeratePerKw } = c.spec;
  const anchors = format === 'anchors';
  const isTimeout = out.kind === 'offered_htlc';
  if ((!isTimeout && out.kind !== 'received_htlc') || out.witnessScript === undefined || out.cltvExpiry === undefined) {
    throw new CourtError('COURT_E_INVALID_ARGUMENT', 'second-level transactions exist only for HTLC outputs');
  }
  const fee = isTimeout ? htlcTimeoutFee(format, feeratePerKw) : htlcSuccessFee(format, feeratePerKw);
  const tx = new Transaction();
  tx.version = 2;
  tx.locktime = isTimeout ? out.cltvExpiry : 0;
  tx.addInput(txHash, out.index, anchors ? 1 : 0);
  tx.addOutput(outSpk, out.amountSat - fee);
  return {
    kind: isTimeout ? 'timeout' : 'success',
    output: out,
    tx,
    inputScript: out.witnessScript,
    inputSat: out.amountSat,
    outputScript: outScript,
    outputSat: out.amountSat - fee,
    remoteSighashType: anchors ? SIGHASH_SINGLE_ANYONECANPAY : SIGHASH_ALL,
  };
}

/** Every second-level transaction of a commitment, in commitment output order (the order of htlc_signatures). */
export function buildHtlcTxs(c: Commitment): HtlcTx[] {
  const txHash = c.tx.getHash();
  const outScript = secondLevelScript(c);
  const outSpk = p2wsh(outScript);
  const res: HtlcTx[] = [];
  for (const o of c.outputs) {
    if (o.kind === 'offered_htlc' || o.kind === 'received_htlc') res.push(buildOne(c, o, txHash, outScript, outSpk));
  }
  return res;
}

/** The second-level transaction for one HTLC output of a commitment. */
export function buildHtlcTx(c: Commitment, out: CommitmentOutput): HtlcTx {
  if (c.outputs[out.index] !== out) {
    throw new CourtError('COURT_E_INVALID_ARGUMENT', 'the output does not belong to this commitment', { index: out.index });
  }
  const outScript = secondLevelScript(c);
  return buildOne(c, out, c.tx.getHash(), outScript, p2wsh(outScript));
}

/** The digest a party signs for a second-level transaction (the remote with its sighash type, we with ALL). */
export function htlcTxSighash(h: HtlcTx, sighashType: number): Uint8Array {
  return segwitV0Sighash(h.tx, 0, h.inputScript, h.inputSat, sighashType);
}

/** The digest both parties sign for a commitment transaction (SIGHASH_ALL over the funding output). */
export function commitmentSighash(c: Commitment): Uint8Array {
  return segwitV0Sighash(c.tx, 0, c.fundingScript, c.spec.fundingSat, SIGHASH_ALL);
}
