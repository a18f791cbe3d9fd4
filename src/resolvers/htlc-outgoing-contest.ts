/**
 * htlcOutgoingContest (contractcourt-spec.md 3.5): an outgoing HTLC before its CLTV. It watches the HTLC output
 * (blocks and mempool): a preimage claim by the peer is learned at once (from the mempool before it confirms),
 * told to the node once and routed to every resolver waiting on it; the spend is then followed to finality by the
 * htlcTimeout successor (stage firstConfirming, the peer's). At height cltvExpiry - 1 it becomes htlcTimeout,
 * which offers its spend for the first valid block.
 */
import { htlcInit, findPreimage, same } from './common.js';
import { recordOf, type HtlcContest } from './htlc-contest.js';
import { claimStep, preimageEffects } from './htlc-claim.js';
import { timeoutFrom } from './htlc-timeout.js';
import { type InitRecord, type ResolverEffect, type ResolverKindDef, type StepResult } from './types.js';

export type HtlcOutgoingContest = HtlcContest & { readonly kind: 'htlcOutgoingContest' };

const due = (r: HtlcOutgoingContest): number => r.output.htlc.cltvExpiry - 1;

function toTimeout(r: HtlcOutgoingContest, effects: ResolverEffect[] = []): StepResult {
  return { next: { ...r, stage: 'done' }, successor: timeoutFrom(recordOf(r)), effects };
}

export const htlcOutgoingContest: ResolverKindDef<HtlcOutgoingContest> = {
  kind: 'htlcOutgoingContest',
  init: (rec: InitRecord): HtlcOutgoingContest => htlcInit('htlcOutgoingContest', 'contest', rec),
  step(r, e, env) {
    if (r.stage === 'done') return same(r);
    switch (e.kind) {
      case 'Launch':
        if (env.height >= due(r)) return toTimeout(r);
        return { next: r, effects: [{ kind: 'WatchSpend', outpoint: r.output.outpoint, heightHint: r.closeHeight, mempool: true }] };
      case 'Block':
        return env.height >= due(r) ? toTimeout(r) : same(r);
      case 'MempoolSpend': {
        if (e.outpoint !== r.output.outpoint) return same(r);
        const pre = findPreimage(e.witness, r.output.htlc.paymentHash);
        return pre === undefined ? same(r) : { next: r, effects: preimageEffects(r, pre, 'mempool', e.txid) };
      }
      case 'Spend': {
        if (e.outpoint !== r.output.outpoint) return same(r);
        // The peer's spend (only they can spend it before the CLTV): followed by the timeout successor.
        const t = timeoutFrom(recordOf(r));
        const followed = claimStep(t, e, env);
        if (followed.successor !== undefined) return same(r);
        return { next: { ...r, stage: 'done' }, successor: followed.next, effects: [...followed.effects] };
      }
      case 'SpendUndone':
      case 'Preimage':
      case 'SweepResult':
        return same(r);
    }
  },
  wake: (r) => (r.stage === 'contest' ? due(r) : undefined),
  view(r, height) {
    const m = r.output.htlc.cltvExpiry;
    const amount = BigInt(r.output.amountSat);
    return { type: 'outgoingHtlc', stage: r.stage, htlcStage: 1, amountSat: amount, limboSat: r.stage === 'done' ? 0n : amount, recoveredSat: 0n, maturityHeight: m, blocksTilMaturity: m - height };
  },
};

