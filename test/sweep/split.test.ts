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

  it('moves a published input offered again with alone out of its set: the set is replaced without it, it is swept on its own', async () => {
    const db = briefcase();
    const { sweeper, broadcaster } = testSweeper(db);
    const specs = [0, 1, 2].map((i) => toLocalInput(i, { pinnable: true, deadlineHeight: 1050, budgetSat: 20_000n }));
    for (const s of specs) sweeper.offer(s);
    await sweeper.kick();
    assert.equal(broadcaster.published.length, 1);
    const combined = broadcaster.published[0] as Transaction;
    assert.equal(combined.ins.length, 3);

    // Offering the same spec again changes nothing; with alone, input 1 leaves the set.
    sweeper.offer(specs[1] as (typeof specs)[number]);
    await sweeper.kick();
    assert.equal(broadcaster.published.length, 1, 'an unchanged offer does not re-plan');
    for (const s of specs) sweeper.offer({ ...s, alone: true });
    await sweeper.kick();
    const after = broadcaster.published.slice(1);
    // Every input ends in a transaction of its own; the first replacement keeps two inputs out of the combined set.
    const latest = new Map<string, Transaction>();
    for (const tx of after) for (const op of outpoints(tx)) latest.set(op, tx);
    for (const s of specs) assert.equal(outpoints(latest.get(s.outpoint) as Transaction).length, 1, `${s.outpoint} alone`);
    const txids = new Set([...latest.values()].map((t) => t.getId()));
    assert.equal(txids.size, 3);
    const views = sweeper.pending();
    assert.ok(views.every((v) => v.state === 'published'));
    assert.equal(new Set(views.map((v) => v.sweepTxid)).size, 3);
    // The combined set's replacement (it keeps input 2) pays more than the combined version (BIP125 rule 3).
    const fee = (tx: Transaction): bigint => 100_000n * BigInt(tx.ins.length) - tx.outs.reduce((a, o) => a + o.value, 0n);
    const replacement = after.find((t) => outpoints(t).includes(specs[2]?.outpoint as string)) as Transaction;
    assert.ok(fee(replacement) > fee(combined), `replacement fee ${fee(replacement)} > combined ${fee(combined)}`);
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
