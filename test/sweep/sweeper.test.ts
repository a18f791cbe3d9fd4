/** The Sweeper's persisted API and runner over test ports: offers, views, publishing, restart, results. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Transaction } from 'bitcoinjs-lib';
import { CourtError } from '../../src/util/errors.js';
import { tempDir } from '../helpers/db.js';
import { anchorInput, briefcase, ManualWatches, RecordingBroadcaster, TestFees, testSweeper, toLocalInput } from './helpers.js';

function fee(tx: Transaction, values: Map<string, bigint>): bigint {
  let inSum = 0n;
  for (const i of tx.ins) {
    const op = `${Buffer.from(i.hash).reverse().toString('hex')}:${i.index}`;
    inSum += values.get(op) as bigint;
  }
  return inSum - tx.outs.reduce((s, o) => s + o.value, 0n);
}

describe('Sweeper API', () => {
  it('keeps an offer pending with its parameters, and refuses a bad one with a code, changing nothing', () => {
    const db = briefcase();
    const { sweeper } = testSweeper(db);
    sweeper.offer(toLocalInput(1, { deadlineHeight: 1100, chanPoint: `${'cd'.repeat(32)}:0` }));
    const bad = { ...toLocalInput(2), valueSat: -1n };
    assert.throws(() => sweeper.offer(bad), (e: unknown) => e instanceof CourtError && e.code === 'COURT_E_INVALID_AMOUNT');
    assert.throws(
      () => sweeper.offer({ ...toLocalInput(3), witness: { kind: 'nope' } as never }),
      (e: unknown) => e instanceof CourtError && e.code === 'COURT_E_SWEEP_INVALID_INPUT',
    );
    assert.throws(() => sweeper.offer({ ...toLocalInput(1), owner: 'someone-else' }), (e: unknown) => e instanceof CourtError && e.code === 'COURT_E_SWEEP_OWNER_CONFLICT');
    const views = sweeper.pending();
    assert.equal(views.length, 1);
    assert.equal(views[0]?.state, 'pending');
    assert.equal(views[0]?.deadlineHeight, 1100);
    assert.equal(views[0]?.budgetSat, 10_000n);
    assert.equal(sweeper.pending({ chanPoint: `${'cd'.repeat(32)}:0` }).length, 1);
    assert.equal(sweeper.pending({ chanPoint: `${'ef'.repeat(32)}:0` }).length, 0);
    assert.throws(() => sweeper.bump('00:1', { budgetSat: 1n }), (e: unknown) => e instanceof CourtError && e.code === 'COURT_E_SWEEP_UNKNOWN_INPUT');
  });

  it('says why an input waits: immature, uneconomical, budget below the floor', async () => {
    const db = briefcase();
    const { sweeper } = testSweeper(db);
    sweeper.offer(toLocalInput(1, { matureHeight: 1010 }));
    sweeper.offer(toLocalInput(2, { valueSat: 50n, budgetSat: 50n }));
    sweeper.offer(toLocalInput(3, { budgetSat: 10n }));
    await sweeper.kick();
    const by = new Map(sweeper.pending().map((v) => [v.outpoint, v.reason]));
    assert.equal(by.get(toLocalInput(1).outpoint), 'immature until 1010');
    assert.match(by.get(toLocalInput(2).outpoint) as string, /^uneconomical: value 50 sat/);
    assert.match(by.get(toLocalInput(3).outpoint) as string, /^budget too small: 10 sat/);
  });

  it('publishes 20 inputs with one deadline in one transaction whose fee is inputs - outputs and within the budgets', async () => {
    const db = briefcase();
    const { sweeper, broadcaster } = testSweeper(db);
    const values = new Map<string, bigint>();
    for (let i = 0; i < 20; i++) {
      const s = toLocalInput(i, { deadlineHeight: 1050 });
      values.set(s.outpoint, s.valueSat);
      sweeper.offer(s);
    }
    await sweeper.kick();
    assert.equal(broadcaster.published.length, 1);
    const tx = broadcaster.published[0] as Transaction;
    assert.equal(tx.ins.length, 20);
    const views = sweeper.pending();
    assert.ok(views.every((v) => v.state === 'published' && v.sweepTxid === tx.getId() && v.publishCount === 1));
    const f = fee(tx, values);
    assert.ok(f > 0n && f <= 20n * 10_000n);
    // rate recorded = fee / weight (sat/kw), at least the estimate
    assert.ok((f * 1000n) / BigInt(tx.weight()) >= 1000n);
  });

  it('persists across a restart: the live version is published again, nothing is re-clustered or double counted', async () => {
    const { dir, remove } = tempDir('sweep');
    try {
      const path = join(dir, 'court.db');
      let db = briefcase(path);
      const first = testSweeper(db);
      for (let i = 0; i < 3; i++) first.sweeper.offer(toLocalInput(i, { deadlineHeight: 1050 }));
      await first.sweeper.kick();
      const txid = first.broadcaster.published[0]?.getId();
      db.close();
      db = briefcase(path);
      const b2 = new RecordingBroadcaster();
      const second = testSweeper(db, { broadcaster: b2, watches: new ManualWatches() });
      await second.sweeper.start();
      assert.deepEqual(b2.published.map((t) => t.getId()), [txid]);
      assert.equal(second.watches.watched.size, 3);
      await second.sweeper.kick();
      assert.equal(b2.published.length, 1, 'no second set for the same inputs');
      db.close();
    } finally {
      remove();
    }
  });

  it('bumps: a replacement each block along the fee function, BIP125-valid, never above the budget cap', async () => {
    const db = briefcase();
    const fees = new TestFees();
    fees.estimate = 1000n;
    const { sweeper, broadcaster } = testSweeper(db, { fees, height: 1000 });
    const values = new Map<string, bigint>();
    for (let i = 0; i < 4; i++) {
      const s = toLocalInput(i, { deadlineHeight: 1010, budgetSat: 5_000n });
      values.set(s.outpoint, s.valueSat);
      sweeper.offer(s);
    }
    const block = (h: number) => sweeper.onChainEvent({ type: 'BlockConnected', height: h, hash: 'ab'.repeat(32), block: { hash: 'ab'.repeat(32), height: h, prevHash: '', txs: [], txids: [] } });
    await sweeper.kick();
    for (let h = 1001; h <= 1012; h++) await block(h);
    const txs = broadcaster.published;
    assert.ok(txs.length >= 9, `one version per block up to the deadline, got ${txs.length}`);
    for (let i = 1; i < txs.length; i++) {
      const a = txs[i - 1] as Transaction;
      const b = txs[i] as Transaction;
      const fa = fee(a, values);
      const fb = fee(b, values);
      assert.ok(fb >= fa + BigInt(Math.ceil(b.virtualSize())), `rule 4 at version ${i}`);
      assert.ok(fb * BigInt(a.weight()) > fa * BigInt(b.weight()), 'higher rate');
    }
    const last = txs[txs.length - 1] as Transaction;
    assert.ok(fee(last, values) <= 20_000n);
    assert.ok(fee(last, values) >= 19_000n, `cap reached at the deadline: ${fee(last, values)}`);
    assert.match(sweeper.pending()[0]?.reason ?? '', /^budget exhausted: fee \d+ of 20000 sat/);
  });

  it('an input spent by another: siblings re-swept at once, the owner told at 6 confirmations with the spending tx, acked once', async () => {
    const db = briefcase();
    const { sweeper, broadcaster, watches } = testSweeper(db, { height: 1000 });
    const got: string[] = [];
    sweeper.onResult((r) => got.push(`${r.type}:${r.outpoint}`));
    const specs = [0, 1, 2].map((i) => toLocalInput(i, { deadlineHeight: 1050 }));
    for (const s of specs) sweeper.offer(s);
    await sweeper.kick();
    const first = broadcaster.published[0] as Transaction;
    // the counterparty's transaction spends input 1
    const theirs = new Transaction();
    const [t1, v1] = (specs[1] as { outpoint: string }).outpoint.split(':') as [string, string];
    theirs.addInput(Buffer.from(t1, 'hex').reverse(), Number(v1));
    theirs.addOutput(Buffer.from('0014' + '22'.repeat(20), 'hex'), 1000n);
    theirs.setWitness(0, [Buffer.from('aa'.repeat(32), 'hex')]);
    await watches.spend(specs[1]?.outpoint as string, theirs, 1001);
    const block = (h: number) => sweeper.onChainEvent({ type: 'BlockConnected', height: h, hash: 'ab'.repeat(32), block: { hash: 'ab'.repeat(32), height: h, prevHash: '', txs: [], txids: [] } });
    await block(1001);
    assert.ok(broadcaster.forgotten.includes(first.getId()), 'the dead version is no longer rebroadcast');
    const second = broadcaster.published[1] as Transaction;
    assert.equal(second.ins.length, 2, 'the two siblings are swept again without the spent input');
    const view = new Map(sweeper.pending().map((v) => [v.outpoint, v]));
    assert.equal(view.get(specs[1]?.outpoint as string), undefined, 'spentByOther is not pending');
    for (let h = 1002; h <= 1005; h++) await block(h);
    assert.deepEqual(got, []);
    await block(1006);
    assert.deepEqual(got, [`spentByOther:${specs[1]?.outpoint}`]);
    const [r] = sweeper.unacked('resolver:1');
    assert.equal(r?.type, 'spentByOther');
    assert.equal(r?.type === 'spentByOther' ? r.spendingTxHex : '', theirs.toHex());
    sweeper.ack(specs[1]?.outpoint as string);
    assert.deepEqual(sweeper.unacked(), []);
  });

  it('our sweep confirmed is final at 6 confirmations; disconnected before that it is published again and final later', async () => {
    const db = briefcase();
    const { sweeper, broadcaster, watches } = testSweeper(db, { height: 1000 });
    const specs = [0, 1].map((i) => toLocalInput(i, { deadlineHeight: 1050 }));
    for (const s of specs) sweeper.offer(s);
    await sweeper.kick();
    const ours = broadcaster.published[0] as Transaction;
    const block = (h: number) => sweeper.onChainEvent({ type: 'BlockConnected', height: h, hash: 'ab'.repeat(32), block: { hash: 'ab'.repeat(32), height: h, prevHash: '', txs: [], txids: [] } });
    for (const s of specs) await watches.spend(s.outpoint, ours, 1001);
    for (let h = 1001; h <= 1004; h++) await block(h);
    // reorg at depth 4: the confirmation is undone
    const before = broadcaster.published.length;
    for (let h = 1004; h >= 1001; h--) await sweeper.onChainEvent({ type: 'BlockDisconnected', height: h, hash: 'ab'.repeat(32) });
    for (const s of specs) await watches.undo(s.outpoint, ours.getId(), 1001);
    await block(1001);
    assert.ok(broadcaster.published.slice(before).some((t) => t.getId() === ours.getId()), 'published again');
    assert.deepEqual(sweeper.unacked(), []);
    for (const s of specs) await watches.spend(s.outpoint, ours, 1002);
    for (let h = 1002; h <= 1006; h++) await block(h);
    assert.deepEqual(sweeper.unacked(), [], 'not final at 5 confirmations');
    await block(1007);
    const results = sweeper.unacked();
    assert.equal(results.length, 2);
    assert.ok(results.every((r) => r.type === 'swept' && r.txid === ours.getId() && r.height === 1002));
    const fees = results.map((r) => (r.type === 'swept' ? r.feeSat : 0n));
    assert.ok(fees.every((f) => f > 0n && f <= 10_000n));
    assert.equal(sweeper.pending().length, 0);
  });

  it('a budget spike of the estimate (x100) never makes an input pay more than its budget', async () => {
    const db = briefcase();
    const fees = new TestFees();
    fees.estimate = 100_000n;
    const { sweeper, broadcaster } = testSweeper(db, { fees });
    const values = new Map<string, bigint>();
    const specs = [0, 1, 2].map((i) => toLocalInput(i, { deadlineHeight: 1003, budgetSat: BigInt(2000 + i * 1000) }));
    for (const s of specs) {
      values.set(s.outpoint, s.valueSat);
      sweeper.offer(s);
    }
    await sweeper.kick();
    const tx = broadcaster.published[0] as Transaction;
    assert.ok(fee(tx, values) <= 9000n, `fee ${fee(tx, values)} within the 9000 sat of budgets`);
  });

  it('cancel withdraws a pending input; a published one is left out of the next version', async () => {
    const db = briefcase();
    const { sweeper, broadcaster } = testSweeper(db);
    const specs = [0, 1, 2].map((i) => toLocalInput(i, { deadlineHeight: 1050, budgetSat: 20_000n }));
    for (const s of specs) sweeper.offer(s);
    await sweeper.kick();
    sweeper.cancel(specs[0]?.outpoint as string);
    await sweeper.kick();
    const last = broadcaster.published[broadcaster.published.length - 1] as Transaction;
    assert.equal(last.ins.length, 2);
    assert.equal(sweeper.pending().length, 2);
  });

  it('CPFP: the anchor child lifts parent + child to the target rate with a wallet coin, its fee within the anchor budget', async () => {
    const db = briefcase();
    const fees = new TestFees();
    fees.estimate = 5000n;
    const { sweeper, broadcaster, wallet } = testSweeper(db, { fees });
    const coin = wallet.addCoin('ee'.repeat(32), 0, 100_000n);
    const parent = { txid: 'dd'.repeat(32), weight: 1124, feeSat: 285n };
    const spec = anchorInput(1, parent, { deadlineHeight: 1002 });
    sweeper.offer(spec);
    await sweeper.kick();
    const child = broadcaster.published[0] as Transaction;
    assert.equal(child.ins.length, 2);
    const f = fee(child, new Map([[spec.outpoint, 330n], [coin.outpoint, coin.valueSat]]));
    assert.ok(f <= 20_000n);
    assert.ok((parent.feeSat + f) * 1000n >= 5000n * BigInt(parent.weight + child.weight()), 'package at the target rate');
    assert.ok((parent.feeSat + f) * 1000n < 5100n * BigInt(parent.weight + child.weight()), 'and not much above it');
    // a spike: the child never pays more than the anchor budget
    const db2 = briefcase();
    const spike = new TestFees();
    spike.estimate = 500_000n;
    const t2 = testSweeper(db2, { fees: spike });
    const coin2 = t2.wallet.addCoin('ef'.repeat(32), 0, 1_000_000n);
    t2.sweeper.offer(spec);
    await t2.sweeper.kick();
    const child2 = t2.broadcaster.published[0] as Transaction;
    assert.ok(fee(child2, new Map([[spec.outpoint, 330n], [coin2.outpoint, coin2.valueSat]])) <= 20_000n);
  });

  it('CPFP is not started once the parent confirmed without our child (lnd #9191)', async () => {
    const db = briefcase();
    const { sweeper, broadcaster, watches } = testSweeper(db);
    const parentTx = new Transaction();
    parentTx.addInput(Buffer.alloc(32, 9), 0);
    parentTx.addOutput(Buffer.from('0014' + '33'.repeat(20), 'hex'), 1000n);
    const parent = { txid: parentTx.getId(), weight: 1124, feeSat: 285n };
    const spec = anchorInput(2, parent);
    sweeper.offer(spec);
    await watches.confirm(parentTx, 1000);
    await sweeper.kick();
    assert.equal(broadcaster.published.length, 0);
    const [r] = sweeper.unacked();
    assert.equal(r?.type, 'failed');
    assert.match(r?.type === 'failed' ? r.reason : '', /confirmed at 1000 without our child: no CPFP needed/);
  });

  it('a wallet that cannot pay leaves the set waiting with the shortfall in its reason, and no lease behind', async () => {
    const db = briefcase();
    const { sweeper, broadcaster, wallet } = testSweeper(db);
    sweeper.offer(anchorInput(3, { txid: 'de'.repeat(32), weight: 1124, feeSat: 285n }));
    await sweeper.kick();
    assert.equal(broadcaster.published.length, 0);
    assert.match(sweeper.pending()[0]?.reason ?? '', /^wallet short: needs \d+ sat/);
    assert.equal(wallet.leases.size, 0);
  });
});
