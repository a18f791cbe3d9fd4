/**
 * htlcSuccess (contractcourt-spec.md 3.8): an incoming HTLC whose preimage we hold. From their commitment: swept
 * directly with the preimage (CSV 1 on anchor channels), deadline the HTLC's own expiry (after it the peer can
 * time it out). From ours: the pre-signed HTLC-success transaction (zero-fee pair with the preimage on anchor
 * channels, its own fee on static_remotekey), then its CSV output. A spend without our preimage is the peer's
 * timeout. The stage machine is htlc-claim.ts; created by htlcIncomingContest with the preimage.
 */
import { htlcInit } from './common.js';
import { claimStep, claimView, claimWake, type HtlcClaim } from './htlc-claim.js';
import type { InitRecord, ResolverKindDef } from './types.js';

export type HtlcSuccess = HtlcClaim & { readonly kind: 'htlcSuccess'; readonly preimage: string };

export function successFrom(rec: InitRecord, preimage: string): HtlcSuccess {
  return { ...htlcInit('htlcSuccess', 'offered', rec), preimage };
}

export const htlcSuccess: ResolverKindDef<HtlcSuccess> = {
  kind: 'htlcSuccess',
  init(rec) {
    // The arbitrator never writes a success record without a contest before it; a preimage is required.
    const pre = (rec.output as { preimage?: unknown }).preimage;
    if (typeof pre !== 'string') throw new Error('htlcSuccess record without a preimage');
    return successFrom(rec, pre);
  },
  step: (r, e, env) => claimStep(r, e, env),
  wake: claimWake,
  view: claimView,
};
