/**
 * The force-close plan (`POST /v1/channels/{chanPoint}/force-close`, `court closechannel --force`): what
 * publishing our latest commitment now would mean, computed from the checked snapshot in force and the facts the
 * arbitrator decides on. Pure: the same inputs give the same plan.
 *
 *  - fee: the commitment's own fee and rate (an anchor channel's CPFP child comes on top, paid by the wallet);
 *  - outputs: each output of our commitment, with the height our claim could confirm at if the commitment
 *    confirmed in the next block (to_local and second-level HTLC outputs wait for our to_self_delay);
 *  - htlcs: each HTLC with its deadline (for a forwarded outgoing HTLC, the upstream expiry that really matters)
 *    and the blocks left until it;
 *  - fail_back_now: the outgoing HTLCs the arbitrator fails back upstream at once (dust on every commitment).
 */
import { preBroadcastFailBacks, type ChainDeltas } from '../arbitrator/actions.js';
import { commitSetFacts, type CheckedSnapshot } from '../arbitrator/snapshot.js';
import { toHex } from '../util/bytes.js';
import type { ForceClosePlanT } from './schemas.js';

/** What the plan needs besides the checked snapshot. */
export interface PlanInput {
  readonly checked: CheckedSnapshot;
  /** The height the next block would have minus one (the arbitrator's height). */
  readonly height: number;
  /** Payment hashes (hex) whose preimage courtd holds. */
  readonly preimages: ReadonlySet<string>;
  readonly deltas: ChainDeltas;
}

/** The plan of publishing `checked`'s local commitment at `height`. */
export function forceClosePlan(p: PlanInput): ForceClosePlanT {
  const c = p.checked.local;
  const s = p.checked.snapshot;
  const confirm = p.height + 1;
  const delay = s.local.toSelfDelay;
  const vbytes = Math.ceil(c.weight / 4);
  const outputs = c.outputs.map((o) => {
    const kind = o.kind;
    const base = { kind, amount_sat: o.amountSat.toString() };
    if (kind === 'to_local') return { ...base, maturity_height: confirm + delay, csv_delay: delay };
    if (kind === 'to_remote' && p.checked.format === 'anchors') return { ...base, csv_delay: 1 };
    if (kind === 'offered_htlc' && o.cltvExpiry !== undefined) return { ...base, maturity_height: Math.max(o.cltvExpiry, confirm) + delay, csv_delay: delay };
    if (kind === 'received_htlc') return { ...base, csv_delay: delay };
    return base;
  });
  const snapHtlcs = s.localCommitment.htlcs;
  const planHtlcs = snapHtlcs.map((h) => {
    const deadline = h.direction === 'outgoing' ? (h.upstream?.cltvExpiry ?? h.cltvExpiry) : h.cltvExpiry;
    return {
      htlc_id: h.htlcId,
      direction: h.direction,
      amount_sat: (h.amountMsat / 1000n).toString(),
      payment_hash: toHex(h.paymentHash),
      cltv_expiry: h.cltvExpiry,
      deadline_height: deadline,
      blocks_left: deadline - p.height,
    };
  });
  const failBack = preBroadcastFailBacks(commitSetFacts(p.checked), p.height, p.preimages, p.deltas).map((h) => ({
    htlc_id: h.htlcId,
    amount_sat: (BigInt(h.amountMsat) / 1000n).toString(),
    reason: 'dust',
  }));
  return {
    fee_sat: c.feeSat.toString(),
    feerate_sat_per_vbyte: Math.round((Number(c.feeSat) / vbytes) * 100) / 100,
    commitment_type: p.checked.format,
    outputs,
    htlcs: planHtlcs,
    fail_back_now: failBack,
  };
}
