/**
 * The check a channel's first snapshot gets against the chain (issue 9 item 7): its funding output, or the
 * transaction that created it if it is already spent, must exist with exactly the snapshot's capacity and the
 * P2WSH of the 2-of-2 of the two funding keys. Without it, a snapshot claiming more than the output holds would
 * be accepted and our force close would fail on the node. The chain is reached through OutputSource (the bitcoind
 * adapter implements it), so unit tests with a fake chain can stand in.
 */
import type { OutputSource } from '../chain/ports.js';
import { fundingScript, p2wsh } from '../ln/scripts.js';
import { toHex } from '../util/bytes.js';
import { CourtError } from '../util/errors.js';
import type { CheckedSnapshot } from './snapshot.js';

/**
 * Refuses (COURT_E_FUNDING_UNKNOWN, COURT_E_FUNDING_MISMATCH) a checked snapshot whose funding output the node
 * does not know, or that holds another amount or script. Resolves to whether the output is already spent and the
 * height of the block holding the funding transaction (when the node says).
 */
export async function checkFundingOutput(outputs: OutputSource, c: CheckedSnapshot): Promise<{ readonly spent: boolean; readonly confirmedHeight?: number }> {
  const cp = c.snapshot.chanPoint;
  const out = await outputs.getOutput({ txid: c.fundingTxid, vout: c.fundingVout });
  if (out === undefined) {
    throw new CourtError('COURT_E_FUNDING_UNKNOWN', `the node knows no funding output ${cp}`, { chanPoint: cp });
  }
  if (out.valueSat !== c.capacitySat) {
    throw new CourtError('COURT_E_FUNDING_MISMATCH', `funding output ${cp} holds ${out.valueSat} sat, the snapshot claims ${c.capacitySat}`, {
      chanPoint: cp,
      outputSat: out.valueSat,
      capacitySat: c.capacitySat,
    });
  }
  const want = p2wsh(fundingScript(c.ours.funding, c.snapshot.remote.fundingPubkey));
  if (toHex(out.scriptPubKey) !== toHex(want)) {
    throw new CourtError('COURT_E_FUNDING_MISMATCH', `funding output ${cp} does not pay the 2-of-2 of the two funding keys`, { chanPoint: cp });
  }
  return out.confirmedHeight === undefined ? { spent: out.spent } : { spent: out.spent, confirmedHeight: out.confirmedHeight };
}
