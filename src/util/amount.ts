/**
 * Money. Amounts are `bigint` satoshis (`Sat`) or millisatoshis (`MSat`), never floats. Every amount that
 * crosses a module boundary is range-checked here: 0 <= amount <= 21M BTC.
 */
import { CourtError } from './errors.js';

/** Satoshis. */
export type Sat = bigint;
/** Millisatoshis. */
export type MSat = bigint;

/** 21 million bitcoin in satoshis. */
export const MAX_MONEY_SAT: Sat = 21_000_000n * 100_000_000n;
/** 21 million bitcoin in millisatoshis. */
export const MAX_MONEY_MSAT: MSat = MAX_MONEY_SAT * 1000n;

/** Throws COURT_E_INVALID_AMOUNT unless `v` is a bigint in 0 ..= 21M BTC (in sat). */
export function checkSat(name: string, v: unknown): Sat {
  if (typeof v !== 'bigint') throw new CourtError('COURT_E_INVALID_AMOUNT', `${name} must be a bigint number of sat`);
  if (v < 0n || v > MAX_MONEY_SAT) {
    throw new CourtError('COURT_E_INVALID_AMOUNT', `${name} out of range 0..21M BTC`, { name, sat: v });
  }
  return v;
}

/** Throws COURT_E_INVALID_AMOUNT unless `v` is a bigint in 0 ..= 21M BTC (in msat). */
export function checkMsat(name: string, v: unknown): MSat {
  if (typeof v !== 'bigint') throw new CourtError('COURT_E_INVALID_AMOUNT', `${name} must be a bigint number of msat`);
  if (v < 0n || v > MAX_MONEY_MSAT) {
    throw new CourtError('COURT_E_INVALID_AMOUNT', `${name} out of range 0..21M BTC`, { name, msat: v });
  }
  return v;
}

/** msat -> sat, rounding down (BOLT #3: the millisatoshi part of an HTLC is ignored on chain). */
export function msatToSat(v: MSat): Sat {
  return v / 1000n;
}
