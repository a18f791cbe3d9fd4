/**
 * htlcIncomingContest (contractcourt-spec.md 3.7): an incoming HTLC whose preimage we do not hold yet. It waits
 * for the preimage (the node's POST, another channel's on-chain or mempool spend revealing it: the runner routes
 * each by payment hash) and then becomes htlcSuccess, which claims it at once. At the HTLC's expiry without a
 * preimage the peer may time it out: reported as timeout and done (we never sweep it; nothing goes upstream).
 */
import { htlcInit, same } from './common.js';
import { recordOf, type HtlcContest } from './htlc-contest.js';
import { successFrom } from './htlc-success.js';
import { type InitRecord, type ReportRow, type ResolverKindDef, type StepResult } from './types.js';

export type HtlcIncomingContest = HtlcContest & { readonly kind: 'htlcIncomingContest' };

function toSuccess(r: HtlcIncomingContest, preimage: string): StepResult {
  return { next: { ...r, stage: 'done' }, successor: successFrom(recordOf(r), preimage), effects: [] };
}

function expired(r: HtlcIncomingContest, txid?: string, height?: number): StepResult {
  const report: ReportRow = {
    outpoint: r.output.outpoint,
    stage: 1,
    type: 'incomingHtlc',
    outcome: 'timeout',
    amountSat: r.output.amountSat,
    ...(txid === undefined ? {} : { txid }),
    ...(height === undefined ? {} : { height }),
  };
  return {
    next: { ...r, stage: 'done' },
    effects: [{ kind: 'Report', report }, { kind: 'Unwatch', outpoint: r.output.outpoint }, { kind: 'ResolverFinished' }],
    finished: true,
  };
}

export const htlcIncomingContest: ResolverKindDef<HtlcIncomingContest> = {
  kind: 'htlcIncomingContest',
  init: (rec: InitRecord): HtlcIncomingContest => htlcInit('htlcIncomingContest', 'contest', rec),
  step(r, e, env) {
    if (r.stage === 'done') return same(r);
    const expiry = r.output.htlc.cltvExpiry;
    switch (e.kind) {
      case 'Launch':
        if (e.preimage !== undefined && env.height < expiry) return toSuccess(r, e.preimage);
        if (env.height >= expiry) return expired(r);
        return same(r);
      case 'Preimage':
        if (e.paymentHash !== r.output.htlc.paymentHash || env.height >= expiry) return same(r);
        return toSuccess(r, e.preimage);
      case 'Block':
        return env.height >= expiry ? expired(r) : same(r);
      case 'Spend':
        // only the peer's timeout can spend it without our preimage
        return e.outpoint === r.output.outpoint ? expired(r, e.txid, e.height) : same(r);
      case 'SpendUndone':
      case 'MempoolSpend':
      case 'SweepResult':
        return same(r);
    }
  },
  wake: (r) => (r.stage === 'contest' ? r.output.htlc.cltvExpiry : undefined),
  waitsOn: (r) => (r.stage === 'contest' ? r.output.htlc.paymentHash : undefined),
  view(r, height) {
    const m = r.output.htlc.cltvExpiry;
    const amount = BigInt(r.output.amountSat);
    return {
      type: 'incomingHtlc',
      stage: r.stage,
      htlcStage: 1,
      amountSat: amount,
      limboSat: r.stage === 'done' ? 0n : amount,
      recoveredSat: 0n,
      maturityHeight: m,
      blocksTilMaturity: m - height,
      reason: 'waiting for the preimage',
    };
  },
};
