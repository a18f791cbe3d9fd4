/**
 * The justice-split hook of the sweeper (SweepInputSpec.alone): an input marked alone is never batched; offering a
 * published input again with `alone` moves it out of its set, the set is replaced at once without it (a valid
 * BIP125 replacement that no longer spends it) and the input gets a transaction of its own.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Transaction } from 'bitcoinjs-lib';
import { clusterInputs } from '../../src/sweep/core.js';
import { CourtError } from '../../src/util/errors.js';
import { briefcase, testSweeper, toLocalInput } from './helpers.js';

const outpoints = (tx: Transaction): string[] => tx.ins.map((i) => `${Buffer.from(i.hash).reverse().toString('hex')}:${i.index}`).sort();

describe('sweeper: inputs swept alone (justice split)', () => {
  it('clusters an alone input by itself, the others together', () => {
    const specs = [0, 1, 2, 3].map((i) => toLocalInput(i, { pinnable: true, deadlineHeight: 1050, ...(i === 2 ? { alone: true } : {}) }));
    const clusters = clusterInputs(
      specs.map((spec) => ({ spec, offerHeight: 1000 })),
      { walletInputWeight: 272, changeScriptLen: 22 },
    );
    assert.deepEqual(clusters.map((c) => c.inputs.length).sort(), [1, 3]);
    assert.equal(clusters.find((c) => c.inputs.length === 1)?.inputs[0]?.spec.outpoint, specs[2]?.outpoint);
  });

  it('refuses a non-boolean alone with a code', () => {
    const { sweeper } = testSweeper(briefcase());
    assert.throws(
      () => sweeper.offer({ ...toLocalInput(1), alone: 'yes' as never }),
      (e: unknown) => e instanceof CourtError && e.code === 'COURT_E_SWEEP_INVALID_INPUT',
    );
  });

  it('a combined sweep the node holds is not split (a smaller one could not outbid it): the flag waits, bumping goes on', async () => {
    const db = briefcase();
    const { sweeper, broadcaster } = testSweeper(db);
    const specs = [0, 1, 2].map((i) => toLocalInput(i, { pinnable: true, deadlineHeight: 1050, budgetSat: 20_000n }));
    for (const s of specs) sweeper.offer(s);
    await sweeper.kick();
    assert.equal(broadcaster.published.length, 1);
    sweeper.offer(specs[1] as (typeof specs)[number]);
    await sweeper.kick();
    assert.equal(broadcaster.published.length, 1, 'an unchanged offer does not re-plan');
    for (const s of specs) sweeper.offer({ ...s, alone: true });
    await sweeper.kick();
    for (const tx of broadcaster.published) assert.equal(tx.ins.length, 3, 'still one combined transaction');
    assert.equal(new Set(sweeper.pending().map((v) => v.sweepTxid)).size, 1);
  });

  it('a combined sweep the node refuses (one input pinned): inputs offered alone leave it and go out on their own', async () => {
    const db = briefcase();
    const { sweeper, broadcaster } = testSweeper(db);
    const specs = [0, 1, 2].map((i) => toLocalInput(i, { pinnable: true, deadlineHeight: 1050, budgetSat: 20_000n }));
    const pinned = specs[1]?.outpoint as string;
    // The node refuses any transaction spending the pinned input (a conflicting transaction it will not replace).
    broadcaster.answer = (tx) =>
      outpoints(tx).includes(pinned)
        ? { kind: 'insufficient-fee', txid: tx.getId(), rpcCode: -26, reason: 'insufficient fee, rejecting replacement' }
        : { kind: 'accepted', txid: tx.getId() };
    for (const s of specs) sweeper.offer(s);
    await sweeper.kick();
    assert.equal(broadcaster.published.length, 1);
    assert.match(sweeper.pending()[0]?.reason ?? '', /node refused the sweep/);
    for (const s of specs) sweeper.offer({ ...s, alone: true });
    await sweeper.kick();
    const views = new Map(sweeper.pending().map((v) => [v.outpoint, v]));
    const accepted = broadcaster.published.filter((t) => !outpoints(t).includes(pinned));
    for (const s of specs.filter((x) => x.outpoint !== pinned)) {
      const tx = accepted.find((t) => outpoints(t).includes(s.outpoint));
      assert.ok(tx !== undefined, `${s.outpoint} went out`);
      assert.deepEqual(outpoints(tx), [s.outpoint], 'on its own');
      assert.equal(views.get(s.outpoint)?.sweepTxid, tx.getId());
    }
    // The pinned one keeps trying on its own.
    const last = broadcaster.published[broadcaster.published.length - 1] as Transaction;
    assert.ok(broadcaster.published.some((t) => outpoints(t).length === 1 && outpoints(t)[0] === pinned) || outpoints(last).includes(pinned));
  });

  it('leaves a set whose transaction has confirmed alone (nothing to split)', async () => {
    const db = briefcase();
    const { sweeper, broadcaster, watches } = testSweeper(db);
    const specs = [0, 1].map((i) => toLocalInput(i, { pinnable: true, deadlineHeight: 1050, budgetSat: 20_000n }));
    for (const s of specs) sweeper.offer(s);
    await sweeper.kick();
    const tx = broadcaster.published[0] as Transaction;
    for (const s of specs) await watches.spend(s.outpoint, tx, 1001);
    for (const s of specs) sweeper.offer({ ...s, alone: true });
    await sweeper.kick();
    assert.equal(broadcaster.published.length, 1);
    assert.ok(sweeper.pending().every((v) => v.sweepTxid === tx.getId()));
  });
});
