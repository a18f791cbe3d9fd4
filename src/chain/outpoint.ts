/**
 * Outpoint keys for the in-memory watch indexes. A key uses the txid in internal byte order, because that is
 * how a transaction input stores it: matching a block's inputs then costs one hex encoding per input and no
 * byte reversal.
 */
import type { Transaction } from 'bitcoinjs-lib';
import { reversed, toHex } from '../util/bytes.js';
import { CourtError } from '../util/errors.js';
import type { Outpoint, Txid } from './ports.js';

const TXID_RE = /^[0-9a-f]{64}$/;

/** Throws COURT_E_INVALID_ARGUMENT unless `txid` is 64 lower-case hex characters. */
export function checkTxid(txid: unknown, what = 'txid'): Txid {
  if (typeof txid !== 'string' || !TXID_RE.test(txid)) {
    throw new CourtError('COURT_E_INVALID_ARGUMENT', `${what} must be 64 lower-case hex characters`);
  }
  return txid;
}

/** Throws COURT_E_INVALID_ARGUMENT unless `op` is a well-formed outpoint. */
export function checkOutpoint(op: Outpoint): Outpoint {
  checkTxid(op.txid, 'outpoint txid');
  if (!Number.isInteger(op.vout) || op.vout < 0 || op.vout > 0xffffffff) {
    throw new CourtError('COURT_E_INVALID_ARGUMENT', 'outpoint vout must be a uint32');
  }
  return op;
}

/** Index key of an outpoint given with a display-order txid (Buffer's native hex: 10,000 watches register at start). */
export function outpointKey(op: Outpoint): string {
  return `${Buffer.from(op.txid, 'hex').reverse().toString('hex')}:${op.vout}`;
}

/** Index key of the outpoint that input `index` of `tx` spends. */
export function inputKey(tx: Transaction, index: number): string {
  const input = tx.ins[index];
  if (input === undefined) throw new RangeError(`input ${index} out of range`);
  return `${toHex(input.hash)}:${input.index}`;
}

/** Display-order txid of the outpoint that an input spends. */
export function inputOutpoint(tx: Transaction, index: number): Outpoint {
  const input = tx.ins[index];
  if (input === undefined) throw new RangeError(`input ${index} out of range`);
  return { txid: toHex(reversed(input.hash)), vout: input.index };
}
