/**
 * The funding output (BOLT #3 "Funding Transaction Output"): a P2WSH of the 2-of-2 of both funding pubkeys.
 * courtd never funds channels; it needs the output to recognise and spend it, and the simulator to open one.
 */
import type { Sat } from '../util/amount.js';
import { checkSat } from '../util/amount.js';
import { CourtError } from '../util/errors.js';
import { fundingScript, p2wsh } from './scripts.js';
import { checkPubkey } from '../keys/secp.js';

/** The funding output of a channel between the two funding pubkeys. */
export interface FundingOutput {
  readonly witnessScript: Uint8Array;
  readonly scriptPubKey: Uint8Array;
  readonly amountSat: Sat;
}

/** Builds the funding output; both keys must be valid compressed points, the amount in range and non-zero. */
export function fundingOutput(pubkeyA: Uint8Array, pubkeyB: Uint8Array, amountSat: Sat): FundingOutput {
  checkPubkey(pubkeyA, 'funding pubkey');
  checkPubkey(pubkeyB, 'funding pubkey');
  checkSat('funding amount', amountSat);
  if (amountSat === 0n) throw new CourtError('COURT_E_INVALID_AMOUNT', 'funding amount must be positive');
  const witnessScript = fundingScript(pubkeyA, pubkeyB);
  return { witnessScript, scriptPubKey: p2wsh(witnessScript), amountSat };
}
