/**
 * Shared shape of the contest resolvers (htlcOutgoingContest, htlcIncomingContest): an HTLC output watched until
 * it can be acted on. They carry the same data as the resolver that follows them, so the swap needs nothing else.
 */
import type { HtlcResolution, ResolverBase } from './types.js';

export interface HtlcContest extends ResolverBase {
  readonly kind: 'htlcOutgoingContest' | 'htlcIncomingContest';
  readonly stage: 'contest' | 'done';
  readonly output: HtlcResolution;
  readonly deadline: number | null;
}

/** The arbitrator's record of the contest as the successor's InitRecord. */
export function recordOf(r: HtlcContest) {
  return {
    chanPoint: r.chanPoint,
    outpoint: r.outpoint,
    format: r.format,
    closeType: r.closeType,
    closeTxid: r.closeTxid,
    closeHeight: r.closeHeight,
    output: r.output,
    deadline: r.deadline,
  };
}
