/**
 * Two broad checks over every resolver kind (style.md principle 12):
 *  - unknown-event sweep: in every stage a kind can be in, events about other outpoints, other payment hashes and
 *    other transactions change nothing and emit nothing;
 *  - property (fast-check): over a random chain history of one output (spends mined, reorganised away at any
 *    depth, mined again, empty blocks), a single-output resolver and an HTLC claim finish only once the spend in
 *    force has 6 confirmations, and report exactly that spend.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { commitSweep } from '../../src/resolvers/commit-sweep.js';
import { htlcIncomingContest } from '../../src/resolvers/htlc-incoming-contest.js';
import { htlcOutgoingContest } from '../../src/resolvers/htlc-outgoing-contest.js';
import { htlcSuccess } from '../../src/resolvers/htlc-success.js';
import { htlcTimeout } from '../../src/resolvers/htlc-timeout.js';
import { anchor } from '../../src/resolvers/anchor.js';
import type { ResolverBase, ResolverEvent, ResolverKindDef, StepResult } from '../../src/resolvers/types.js';
import { anchorRecord, CLOSE_HEIGHT, commitRecord, env, htlcRecord, PREIMAGE, SECOND_TXID, spend, SWEEP_TXID } from './fixtures.js';

const OTHER_OP = `${'9'.repeat(64)}:7`;
const foreign: ResolverEvent[] = [
  spend(OTHER_OP, SWEEP_TXID, CLOSE_HEIGHT + 3),
  { kind: 'SpendUndone', outpoint: OTHER_OP, txid: SWEEP_TXID, height: CLOSE_HEIGHT + 3 },
  { kind: 'MempoolSpend', outpoint: OTHER_OP, txid: SWEEP_TXID, witness: [PREIMAGE] },
  { kind: 'Preimage', paymentHash: '00'.repeat(32), preimage: '11'.repeat(32) },
  { kind: 'SweepResult', outpoint: OTHER_OP, result: 'spentByOther', txid: SWEEP_TXID },
];

type AnyDef = ResolverKindDef<ResolverBase>;
const def = (d: unknown): AnyDef => d as AnyDef;

/** Values of each kind in the stages it can be in (reached through its own steps). */
function stages(): Array<[string, AnyDef, ResolverBase]> {
  const out: Array<[string, AnyDef, ResolverBase]> = [];
  const cs = commitSweep.init(commitRecord('local', 'anchors', 144));
  out.push(['commitSweep waiting', def(commitSweep), cs]);
  out.push(['commitSweep confirming', def(commitSweep), commitSweep.step(cs, spend(cs.outpoint, SWEEP_TXID, 700), env(700)).next]);
  const an = anchor.init(anchorRecord());
  out.push(['anchor waiting', def(anchor), an]);
  const oc = htlcOutgoingContest.init(htlcRecord({ direction: 'outgoing', closeType: 'remote', format: 'anchors', cltvExpiry: 600 }));
  out.push(['htlcOutgoingContest contest', def(htlcOutgoingContest), oc]);
  const ic = htlcIncomingContest.init(htlcRecord({ direction: 'incoming', closeType: 'remote', format: 'anchors', cltvExpiry: 700 }));
  out.push(['htlcIncomingContest contest', def(htlcIncomingContest), ic]);
  const local = htlcRecord({ direction: 'outgoing', closeType: 'local', format: 'anchors', cltvExpiry: 600 });
  const t = htlcTimeout.init(local);
  out.push(['htlcTimeout offered', def(htlcTimeout), t]);
  const t2 = htlcTimeout.step(t, spend(local.outpoint, SECOND_TXID, 601, { outputs: [{ valueSat: '50000', script: 'ff' }] }), env(601)).next;
  out.push(['htlcTimeout secondLevel', def(htlcTimeout), t2]);
  out.push(['htlcTimeout secondConfirming', def(htlcTimeout), htlcTimeout.step(t2 as never, spend(`${SECOND_TXID}:0`, SWEEP_TXID, 745), env(745)).next]);
  const sr = htlcRecord({ direction: 'incoming', closeType: 'remote', format: 'static_remotekey', cltvExpiry: 700 });
  out.push(['htlcSuccess offered', def(htlcSuccess), htlcSuccess.init({ ...sr, output: { ...sr.output, preimage: PREIMAGE } })]);
  return out;
}

describe('resolver unknown-event sweep', () => {
  for (const [name, d, r] of stages()) {
    it(`${name}: events about other outpoints, hashes and transactions change nothing`, () => {
      for (const e of foreign) {
        const res = d.step(r, e, env(CLOSE_HEIGHT + 2));
        assert.deepEqual(res.next, r, `${e.kind} changed the value`);
        assert.deepEqual(res.effects, [], `${e.kind} emitted effects`);
        assert.equal(res.successor, undefined);
      }
    });
  }
});

/** A random chain history for one watched output: mine (maybe with a spend of it), or reorg the top blocks away. */
type Op = { readonly kind: 'mine'; readonly spend: boolean } | { readonly kind: 'reorg'; readonly depth: number };
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.boolean().map((s) => ({ kind: 'mine' as const, spend: s })) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 7 }).map((depth) => ({ kind: 'reorg' as const, depth })) },
);

/**
 * Drives `d` through the history as the runner would (a spend watch: Spend when the block holding the first spend
 * is connected, SpendUndone when it is disconnected; a Block at every height). Returns the finishing report's
 * txid and height, and the spend in force (txid, height) when it finished.
 */
function drive(d: AnyDef, r0: ResolverBase, outpoint: string, ops: readonly Op[], spendWitness: string[] = []) {
  let r = r0;
  let finished: StepResult | undefined;
  let finishedAt = -1;
  // the chain: per height above the close, the txid spending the output in that block (or none)
  const chain: Array<string | undefined> = [];
  let counter = 0;
  const tip = () => CLOSE_HEIGHT + chain.length;
  const inForce = (): { txid: string; height: number } | undefined => {
    const i = chain.findIndex((t) => t !== undefined);
    return i < 0 ? undefined : { txid: chain[i] as string, height: CLOSE_HEIGHT + 1 + i };
  };
  const apply = (e: ResolverEvent) => {
    if (finished !== undefined) return;
    const res = d.step(r, e, env(tip()));
    r = res.next;
    if (res.finished === true) {
      finished = res;
      finishedAt = tip();
    }
  };
  for (const op of ops) {
    if (finished !== undefined) break;
    if (op.kind === 'mine') {
      const spendsNow = op.spend && inForce() === undefined;
      const txid = spendsNow ? `${(counter++ % 10).toString().repeat(64)}` : undefined;
      chain.push(txid);
      if (txid !== undefined) apply(spend(outpoint, txid, tip(), { witness: spendWitness }));
      apply({ kind: 'Block', height: tip() });
    } else {
      for (let k = 0; k < op.depth && chain.length > 0; k++) {
        const h = tip();
        const gone = chain.pop();
        if (gone !== undefined) apply({ kind: 'SpendUndone', outpoint, txid: gone, height: h });
      }
    }
  }
  return { finished, finishedAt, inForce: inForce(), r };
}

describe('resolver finality over random reorgs (property)', () => {
  it('commitSweep finishes only at 6 confirmations of the spend in force, and reports that spend', () => {
    let done = 0;
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 60 }), (ops) => {
        const r0 = commitSweep.init(commitRecord('remote', 'static_remotekey', 0));
        const { finished, finishedAt, inForce } = drive(def(commitSweep), r0, r0.outpoint, ops);
        if (finished === undefined) return;
        done++;
        assert.ok(inForce !== undefined, 'finished with no spend in force');
        assert.ok(finishedAt >= inForce.height + 5, `finished at ${finishedAt}, spend at ${inForce.height}`);
        const report = finished.effects.find((e) => e.kind === 'Report');
        assert.ok(report?.kind === 'Report' && report.report.txid === inForce.txid && report.report.height === inForce.height);
      }),
      { numRuns: 300 },
    );
    assert.ok(done > 30, `the histories let it finish often enough (${done} of 300)`);
  });

  it('htlcTimeout (their commitment) finishes only at 6 confirmations of its spend in force; fails upstream only then', () => {
    let done = 0;
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 60 }), (ops) => {
        const rec = htlcRecord({ direction: 'outgoing', closeType: 'remote', format: 'anchors', cltvExpiry: CLOSE_HEIGHT + 1 });
        const r0 = htlcTimeout.init(rec);
        const { finished, finishedAt, inForce } = drive(def(htlcTimeout), r0, rec.outpoint, ops);
        if (finished === undefined) return;
        done++;
        assert.ok(inForce !== undefined);
        assert.ok(finishedAt >= inForce.height + 5);
        const failed = finished.effects.filter((e) => e.kind === 'NotifyNode' && e.event === 'htlcFailedOnChain');
        assert.equal(failed.length, 1);
      }),
      { numRuns: 300 },
    );
    assert.ok(done > 30, `the histories let it finish often enough (${done} of 300)`);
  });
});
