/**
 * The obscured commitment number ("state hint", BOLT #3 "Commitment Transaction"): the 48-bit commitment
 * number XOR the lower 48 bits of SHA256(opener payment_basepoint || accepter payment_basepoint), split into
 * the upper 24 bits (in the input's sequence, under 0x80) and the lower 24 bits (in the locktime, under 0x20).
 * Reading it back lets the close classifier tell which commitment number a transaction on chain carries.
 */
import type { Transaction } from 'bitcoinjs-lib';
import { sha256 } from '../util/bytes.js';
import { CourtError } from '../util/errors.js';
import { checkPubkey } from '../keys/secp.js';

/** Largest commitment number (2^48 - 1). */
export const MAX_COMMITMENT_NUMBER = 2 ** 48 - 1;
const TWO24 = 2 ** 24;

/** Throws COURT_E_COMMITMENT_NUMBER unless `n` is an integer in 0 .. 2^48-1. */
export function checkCommitmentNumber(n: number): number {
  if (!Number.isSafeInteger(n) || n < 0 || n > MAX_COMMITMENT_NUMBER) {
    throw new CourtError('COURT_E_COMMITMENT_NUMBER', 'commitment number outside 0 .. 2^48-1', { value: String(n) });
  }
  return n;
}

/** The 48-bit obscuring factor from the two payment basepoints (opener's first). */
export function obscuringFactor(openerPaymentBasepoint: Uint8Array, accepterPaymentBasepoint: Uint8Array): number {
  checkPubkey(openerPaymentBasepoint, 'payment basepoint');
  checkPubkey(accepterPaymentBasepoint, 'payment basepoint');
  const h = sha256(openerPaymentBasepoint, accepterPaymentBasepoint);
  let v = 0;
  for (let i = 26; i < 32; i++) v = v * 256 + (h[i] as number);
  return v;
}

/** 48-bit XOR on exact JS numbers (bitwise operators are 32-bit, so split into halves). */
function xor48(a: number, b: number): number {
  const hi = (Math.floor(a / TWO24) ^ Math.floor(b / TWO24)) >>> 0;
  const lo = ((a % TWO24) ^ (b % TWO24)) >>> 0;
  return hi * TWO24 + lo;
}

/** The commitment transaction's locktime and input sequence for commitment number `n`. */
export function encodeStateHint(n: number, factor: number): { locktime: number; sequence: number } {
  const obscured = xor48(checkCommitmentNumber(n), factor);
  return {
    locktime: 0x20 * TWO24 + (obscured % TWO24),
    sequence: 0x80 * TWO24 + Math.floor(obscured / TWO24),
  };
}

/** The obscured number a transaction carries, or undefined if its locktime/sequence are not a state hint. */
export function readObscuredNumber(tx: Transaction): number | undefined {
  const input = tx.ins[0];
  if (tx.ins.length !== 1 || input === undefined) return undefined;
  const lt = tx.locktime >>> 0;
  const sq = input.sequence >>> 0;
  if (Math.floor(lt / TWO24) !== 0x20 || Math.floor(sq / TWO24) !== 0x80) return undefined;
  return (sq % TWO24) * TWO24 + (lt % TWO24);
}

/** The commitment number of a commitment transaction given the channel's obscuring factor. */
export function commitmentNumberFromTx(tx: Transaction, factor: number): number | undefined {
  const o = readObscuredNumber(tx);
  return o === undefined ? undefined : xor48(o, factor);
}
