/**
 * anchor (contractcourt-spec.md 3.3, pain points 2 and 4): our anchor output of a confirmed commitment.
 *
 * Before the commitment confirms, the arbitrator's CPFP offer (owner `cpfp:<chanPoint>`, made for every anchor
 * channel commitment we publish, with or without HTLCs: lnd #8837) is the sweeper's business; the sweeper starts
 * no child once the parent confirmed (lnd #9191). This resolver takes over once the commitment confirmed: it
 * offers the anchor again under the same owner (an upsert that drops the parent and the CPFP budget) only if the
 * anchor pays for itself at the current fee estimate (lnd #6652: never pay 3,700 sat to claim 330). Otherwise it
 * cancels any pending CPFP input and waits: anyone may spend an anchor 16 blocks after confirmation, so after that
 * an anchor not offered is reported abandoned. A spend by our sweep (the CPFP child included) is claimed, any
 * other spend unclaimed.
 */
import { ANCHOR_ANYONE_CSV, WITNESS_WEIGHT } from '../ln/weights.js';
import { feeAtRate } from '../sweep/fee.js';
import { INPUT_BASE_WEIGHT } from '../sweep/input.js';
import { finalAt, finish } from './common.js';
import { singleInit, singleStep, singleView, spendReport, watch, type SingleHooks, type SingleOutput } from './single.js';
import { type InitRecord, type OutputResolution, type ResolverEnv, type ResolverKindDef, type SweepOffer } from './types.js';

export interface Anchor extends SingleOutput {
  readonly kind: 'anchor';
  readonly output: OutputResolution;
  /** Offered to the sweeper (it paid for itself when last looked at). */
  readonly offered?: boolean;
}

/** Weight an anchor adds to a sweep of its own: the input, plus a share of version/locktime and one output. */
const OWN_WEIGHT = INPUT_BASE_WEIGHT + WITNESS_WEIGHT.anchorByKey() + 4 * (10 + 31) + 2;

/** True if sweeping the anchor alone at `feeRatePerKw` leaves more than half its value. */
export function paysForItself(valueSat: bigint, feeRatePerKw: bigint): boolean {
  const cost = feeAtRate(feeRatePerKw, OWN_WEIGHT);
  return cost * 2n < valueSat;
}

export function anchorOffer(r: Anchor): SweepOffer {
  const o = r.output;
  const value = BigInt(o.amountSat);
  return {
    outpoint: o.outpoint,
    valueSat: o.amountSat,
    scriptPubKey: o.scriptPubKey,
    witness: { kind: 'anchorByKey', key: o.key, script: o.witnessScript as string },
    budgetSat: (value / 2n).toString(),
    exclusiveGroup: `anchor:${r.chanPoint}`,
    pinnable: true,
    owner: `cpfp:${r.chanPoint}`,
  };
}

function anyoneAt(r: Anchor): number {
  return r.closeHeight + ANCHOR_ANYONE_CSV;
}

function waiting(r: Anchor, env: ResolverEnv) {
  if (paysForItself(BigInt(r.valueSat), env.feeRatePerKw)) return [{ kind: 'OfferSweep' as const, input: anchorOffer(r) }, watch(r)];
  return [{ kind: 'CancelSweep' as const, outpoint: r.outpoint }, watch(r)];
}

const hooks: SingleHooks<Anchor> = {
  waiting,
  report: spendReport('anchor'),
  blockWhileWaiting(r, env) {
    const pays = paysForItself(BigInt(r.valueSat), env.feeRatePerKw);
    if (!pays && env.height >= anyoneAt(r)) {
      const report = { outpoint: r.outpoint, stage: 1 as const, type: 'anchor' as const, outcome: 'abandoned' as const, amountSat: r.valueSat };
      return { next: { ...r, stage: 'done', note: 'never paid for itself; anyone may spend it now' }, effects: finish([report], [r.outpoint]), finished: true };
    }
    if (pays === (r.offered === true)) return undefined;
    const next: Anchor = { ...r, offered: pays, note: pays ? undefined : `not worth sweeping at ${env.feeRatePerKw} sat/kw` } as Anchor;
    return { next, effects: waiting(next, env) };
  },
};

export const anchor: ResolverKindDef<Anchor> = {
  kind: 'anchor',
  init: (rec: InitRecord): Anchor => singleInit('anchor', rec),
  step: (r, e, env) => {
    const res = singleStep(r, e, env, hooks);
    if (e.kind === 'Launch' && r.stage === 'waiting') return { ...res, next: { ...r, offered: paysForItself(BigInt(r.valueSat), env.feeRatePerKw) } };
    return res;
  },
  wake: (r) => (r.stage === 'confirming' && r.spend !== undefined ? finalAt(r.spend) : r.stage === 'waiting' && r.offered !== true ? anyoneAt(r) : undefined),
  view: (r, height) =>
    singleView(r, 'anchor', r.closeHeight, height, r.note ?? (r.stage === 'waiting' && r.offered !== true ? `not offered; anyone may take it from ${anyoneAt(r)}` : undefined)),
};
