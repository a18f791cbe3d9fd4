/**
 * Small transaction helpers of the channel simulator: P2WPKH wallet inputs (funding UTXOs and fee inputs), fees
 * by virtual size, and the funding transaction.
 */
import { Transaction } from 'bitcoinjs-lib';
import { secp } from '../src/keys/secp.js';
import { p2wpkhScriptCode, segwitV0Sighash, SIGHASH_ALL } from '../src/keys/sighash.js';
import { encodeSig } from '../src/keys/signature.js';
import { fundingOutput } from '../src/ln/funding.js';
import { p2wpkh } from '../src/ln/scripts.js';
import { checkSat, type Sat } from '../src/util/amount.js';
import { fromHex, hash160, reversed } from '../src/util/bytes.js';
import { CourtError } from '../src/util/errors.js';

/** A P2WPKH output we hold the key of (a regtest `fund()` result plus the private key). */
export interface Utxo {
  /** Display (RPC) byte order. */
  readonly txid: string;
  readonly vout: number;
  readonly amountSat: Sat;
  readonly privkey: Uint8Array;
}

/** An output a transaction input spends: what a script interpreter (or testmempoolaccept) needs. */
export interface Prevout {
  readonly txid: string;
  readonly vout: number;
  readonly scriptPubKey: Uint8Array;
  readonly value: Sat;
}

/** nSequence of inputs without a relative timelock: signals RBF, leaves nLockTime enforced. */
export const RBF_SEQUENCE = 0xfffffffd;
/** Core's dust thresholds at the default 3 sat/vB dust relay fee. */
export const DUST_P2WPKH_SAT: Sat = 294n;
export const DUST_P2WSH_SAT: Sat = 330n;

/** A txid in display order -> the hash bitcoinjs inputs take. */
export function txHash(txid: string): Uint8Array {
  if (!/^[0-9a-fA-F]{64}$/.test(txid)) throw new CourtError('COURT_E_INVALID_ARGUMENT', 'txid must be 64 hex characters');
  return reversed(fromHex(txid));
}

function checkUtxo(u: Utxo, what: string): void {
  if (typeof u !== 'object' || u === null) throw new CourtError('COURT_E_INVALID_ARGUMENT', `${what} must be an object`);
  txHash(u.txid);
  if (!Number.isInteger(u.vout) || u.vout < 0 || u.vout > 0xffffffff) {
    throw new CourtError('COURT_E_INVALID_ARGUMENT', `${what}.vout out of range`);
  }
  checkSat(`${what}.amountSat`, u.amountSat);
  if (!(u.privkey instanceof Uint8Array) || u.privkey.length !== 32) {
    throw new CourtError('COURT_E_INVALID_ARGUMENT', `${what}.privkey must be 32 bytes`);
  }
}

/** The P2WPKH output a UTXO is. */
export function utxoPrevout(u: Utxo): Prevout {
  return { txid: u.txid, vout: u.vout, scriptPubKey: p2wpkh(secp().pointFromScalar(u.privkey)), value: u.amountSat };
}

/** Adds a UTXO as an input (nSequence RBF_SEQUENCE unless given); returns its index. */
export function addUtxoInput(tx: Transaction, u: Utxo, sequence = RBF_SEQUENCE, what = 'utxo'): number {
  checkUtxo(u, what);
  return tx.addInput(txHash(u.txid), u.vout, sequence);
}

/** Signs input `index` (spending P2WPKH `u`) with SIGHASH_ALL and sets its witness. Sign after the last edit. */
export function signUtxoInput(tx: Transaction, index: number, u: Utxo): void {
  const pubkey = secp().pointFromScalar(u.privkey);
  const digest = segwitV0Sighash(tx, index, p2wpkhScriptCode(hash160(pubkey)), u.amountSat, SIGHASH_ALL);
  tx.setWitness(index, [encodeSig(secp().sign(digest, u.privkey), SIGHASH_ALL), pubkey]);
}

/** ceil(vsize * satPerVb) as sat. */
export function feeForVsize(vsize: number, satPerVb: number): Sat {
  if (!Number.isFinite(satPerVb) || satPerVb < 0) throw new CourtError('COURT_E_INVALID_FEERATE', 'sat/vB must be a non-negative number');
  return BigInt(Math.ceil(vsize * satPerVb));
}

/** Sum of the output values of `tx`. */
export function outputSum(tx: Transaction): Sat {
  return tx.outs.reduce((s, o) => s + o.value, 0n);
}

/** The funding transaction and where the channel output is. */
export interface FundingTx {
  readonly tx: Transaction;
  readonly vout: number;
  readonly witnessScript: Uint8Array;
  readonly scriptPubKey: Uint8Array;
  readonly feeSat: Sat;
}

/**
 * Funding transaction: one P2WPKH input, output 0 the 2-of-2 P2WSH of `capacitySat`, output 1 the change (left
 * out, to the fee, when below the P2WPKH dust threshold). The fee is computed for a 73-byte signature (the
 * largest), so the signed transaction pays at least `satPerVb`.
 */
export function buildFundingTx(args: {
  utxo: Utxo;
  fundingPubkeys: readonly [Uint8Array, Uint8Array];
  capacitySat: Sat;
  satPerVb: number;
  changeScript?: Uint8Array;
}): FundingTx {
  const { utxo, capacitySat, satPerVb } = args;
  const out = fundingOutput(args.fundingPubkeys[0], args.fundingPubkeys[1], capacitySat);
  const changeScript = args.changeScript ?? p2wpkh(secp().pointFromScalar(utxo.privkey));
  const draft = (withChange: boolean, change: Sat): Transaction => {
    const tx = new Transaction();
    tx.version = 2;
    addUtxoInput(tx, utxo, RBF_SEQUENCE, 'funding utxo');
    tx.addOutput(out.scriptPubKey, capacitySat);
    if (withChange) tx.addOutput(changeScript, change);
    tx.setWitness(0, [new Uint8Array(73), new Uint8Array(33)]);
    return tx;
  };
  let tx = draft(true, 0n);
  let fee = feeForVsize(tx.virtualSize(), satPerVb);
  let change = utxo.amountSat - capacitySat - fee;
  if (change < DUST_P2WPKH_SAT) {
    tx = draft(false, 0n);
    fee = utxo.amountSat - capacitySat;
    if (fee < feeForVsize(tx.virtualSize(), satPerVb)) {
      throw new CourtError('COURT_E_INVALID_AMOUNT', 'funding utxo cannot pay the capacity and the fee', {
        utxoSat: utxo.amountSat,
        capacitySat,
      });
    }
    change = 0n;
  } else {
    tx = draft(true, change);
  }
  signUtxoInput(tx, 0, utxo);
  return { tx, vout: 0, witnessScript: out.witnessScript, scriptPubKey: out.scriptPubKey, feeSat: fee };
}
