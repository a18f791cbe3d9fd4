/**
 * Hand-written shape guards for the parts of bitcoind's replies the chain layer relies on. A reply of the wrong
 * shape throws COURT_E_CHAIN_BAD_REPLY naming the method and field, instead of surfacing later as `undefined`.
 */
import { CourtError } from '../util/errors.js';

const HASH_RE = /^[0-9a-f]{64}$/;
const HEX_RE = /^(?:[0-9a-fA-F]{2})+$/;
const DECIMAL_RE = /^\d+(?:\.\d+)?$/;

function bad(method: string, what: string): CourtError {
  return new CourtError('COURT_E_CHAIN_BAD_REPLY', `${method}: ${what}`, { method });
}

/** A JSON object (not null, not an array). */
export function asObject(v: unknown, method: string, what = 'result'): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad(method, `${what} is not an object`);
  return v as Record<string, unknown>;
}

/** A 64-character lower-case hex hash (txid or block hash). */
export function asHash(v: unknown, method: string, what = 'result'): string {
  if (typeof v !== 'string' || !HASH_RE.test(v)) throw bad(method, `${what} is not a 64-hex hash`);
  return v;
}

/** A non-empty even-length hex string (raw transaction or block). */
export function asHex(v: unknown, method: string, what = 'result'): string {
  if (typeof v !== 'string' || !HEX_RE.test(v)) throw bad(method, `${what} is not hex`);
  return v;
}

/** A non-negative safe integer (heights, counts). */
export function asHeight(v: unknown, method: string, what = 'height'): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw bad(method, `${what} is not a height`);
  return v;
}

/** An array of hashes (getrawmempool). */
export function asHashArray(v: unknown, method: string, what = 'result'): string[] {
  if (!Array.isArray(v)) throw bad(method, `${what} is not an array`);
  return v.map((x, i) => asHash(x, method, `${what}[${i}]`));
}

/**
 * A non-negative BTC amount as an exact decimal string. bitcoin-core's JSON parser yields a JS number for
 * short literals (0.00001000 -> 1e-5) and a string for literals over 15 characters; a number is rendered with
 * 8 decimals, which recovers bitcoind's own text exactly because bitcoind never prints more than 8.
 */
export function asBtcDecimal(v: unknown, method: string, what = 'amount'): string {
  if (typeof v === 'string' && DECIMAL_RE.test(v)) return v;
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0 && v < 21e6) {
    const s = v.toFixed(8);
    if (Number(s) !== v) throw bad(method, `${what} has more than 8 decimals`);
    return s;
  }
  throw bad(method, `${what} is not a non-negative decimal`);
}
