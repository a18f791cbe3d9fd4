/**
 * commitSweep (contractcourt-spec.md 3.4): our main output of a confirmed commitment. On our commitment the
 * to_local output after its CSV (our to_self_delay, counted from the close height); on theirs our to_remote
 * (P2WPKH on static_remotekey channels, P2WSH with CSV 1 on anchor channels), on every close kind that pays us
 * (remote, remote pending, breach, a newer state than courtd knows). Offered to the sweeper with no deadline
 * (a far one) and a budget that is a share of its value; done once the sweep has 6 confirmations.
 */
import { farDeadline, finalAt, share } from './common.js';
import { singleInit, singleStep, singleView, spendReport, watch, type SingleHooks, type SingleOutput } from './single.js';
import { type Budgets, type InitRecord, type OutputResolution, type ResolverKindDef, type SweepOffer } from './types.js';

export interface CommitSweep extends SingleOutput {
  readonly kind: 'commitSweep';
  readonly output: OutputResolution;
}

/** First height at which the output may be spent (CSV counted from the close). */
export function maturity(r: CommitSweep): number {
  return r.closeHeight + r.output.csvDelay;
}

/** The sweep input of the output. */
export function commitOffer(r: CommitSweep, budgets: Budgets): SweepOffer {
  const o = r.output;
  const local = r.closeType === 'local';
  const witness: SweepOffer['witness'] = local
    ? { kind: 'toLocalDelayed', key: o.key, script: o.witnessScript as string }
    : o.witnessScript !== undefined
      ? { kind: 'toRemoteAnchor', key: o.key, script: o.witnessScript }
      : { kind: 'toRemoteP2wpkh', key: o.key };
  return {
    outpoint: o.outpoint,
    valueSat: o.amountSat,
    scriptPubKey: o.scriptPubKey,
    witness,
    ...(o.csvDelay > 0 ? { sequence: o.csvDelay } : {}),
    matureHeight: maturity(r),
    budgetSat: share(o.amountSat, budgets.noDeadlineBps),
    deadlineHeight: farDeadline(maturity(r), budgets),
    pinnable: false,
  };
}

const hooks: SingleHooks<CommitSweep> = {
  waiting: (r, env) => [{ kind: 'OfferSweep', input: commitOffer(r, env.budgets) }, watch(r)],
  report: spendReport('commit'),
};

export const commitSweep: ResolverKindDef<CommitSweep> = {
  kind: 'commitSweep',
  init: (rec: InitRecord): CommitSweep => singleInit('commitSweep', rec),
  step: (r, e, env) => singleStep(r, e, env, hooks),
  wake: (r) => (r.stage === 'confirming' && r.spend !== undefined ? finalAt(r.spend) : undefined),
  view: (r, height) => singleView(r, 'commit', maturity(r), height, r.note),
};
