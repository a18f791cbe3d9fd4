/**
 * htlcTimeout (contractcourt-spec.md 3.6): an outgoing HTLC whose CLTV has come (or comes next block). From their
 * commitment: swept directly with the timeout path once the CLTV allows (CSV 1 on anchor channels). From ours:
 * the pre-signed HTLC-timeout transaction (zero-fee pair offered to the sweeper on anchor channels, published with
 * its own fee on static_remotekey), then its CSV output. Deadline: the upstream (incoming) HTLC's expiry when the
 * HTLC was forwarded. The HTLC is failed upstream (htlcFailedOnChain, once) when the timeout spend is final; a
 * preimage claim by the peer instead settles it (htlcSettledOnChain) and the preimage is learned.
 * The stage machine is htlc-claim.ts.
 */
import { htlcInit } from './common.js';
import { claimStep, claimView, claimWake, type HtlcClaim } from './htlc-claim.js';
import type { InitRecord, ResolverKindDef } from './types.js';

export type HtlcTimeout = HtlcClaim & { readonly kind: 'htlcTimeout' };

export function timeoutFrom(rec: InitRecord): HtlcTimeout {
  return htlcInit('htlcTimeout', 'offered', rec);
}

export const htlcTimeout: ResolverKindDef<HtlcTimeout> = {
  kind: 'htlcTimeout',
  init: timeoutFrom,
  step: (r, e, env) => claimStep(r, e, env),
  wake: claimWake,
  view: claimView,
};
