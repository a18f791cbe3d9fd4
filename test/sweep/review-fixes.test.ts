/**
 * The findings of the attacker review of the sweeper (issue 10), one describe per finding: each test failed before
 * its fix (see the commit that adds it) and pins the behaviour the fix gives.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Transaction } from 'bitcoinjs-lib';
import { TxBroadcaster } from '../../src/chain/broadcaster.js';
import type { ChainEvent, PublishResult } from '../../src/chain/ports.js';
import type { Db } from '../../src/store/db.js';
import { clusterInputs, FLOOR_RETRY_BLOCKS, type CoreInput } from '../../src/sweep/core.js';
import { minReplacementFee, vsizeOf } from '../../src/sweep/fee.js';
import { Sweeper } from '../../src/sweep/sweeper.js';
import type { SweepInputSpec } from '../../src/sweep/types.js';
import { CourtError } from '../../src/util/errors.js';
import { anchorInput, briefcase, ManualWatches, RecordingBroadcaster, SIGNER, TestFees, TestWallet, testSweeper, toLocalInput } from './helpers.js';

const blk = (h: number, txs: Transaction[] = [], hash = h.toString(16).padStart(64, '0')): ChainEvent => ({
  type: 'BlockConnected',
  height: h,
  hash,
  block: { hash, height: h, prevHash: '', txs, txids: txs.map((t) => t.getId()) },
});

interface SetRowLite {
  id: number;
  deadline: number;
  end_feerate: number;
  next_height: number | null;
  reason: string | null;
  closed: number;
  lease_held: number;
}
const lastSet = (db: Db): SetRowLite => db.prepare('SELECT * FROM sweep_set ORDER BY id DESC LIMIT 1').get() as SetRowLite;

/** Fee of a CPFP child spending the anchor (330 sat) and wallet coins of known values. */
function childFee(tx: Transaction, walletSat: bigint): bigint {
  return 330n + walletSat - tx.outs.reduce((s, o) => s + o.value, 0n);
}

describe('review 1: CPFP replacements are planned in package rates', () => {
  const parent = { txid: 'dd'.repeat(32), weight: 1124, feeSat: 285n };

  it('bumps the child as soon as the node would take a replacement, and ends at its budget with the reason said', async () => {
    const db = briefcase();
    const fees = new TestFees();
    fees.estimate = 1000n;
    const { sweeper, broadcaster, wallet } = testSweeper(db, { fees, height: 1000 });
    const coin = wallet.addCoin('ee'.repeat(32), 0, 1_000_000n);
    const spec = anchorInput(1, parent, { deadlineHeight: 1300, budgetSat: 20_000n });
    sweeper.offer(spec);
    await sweeper.kick();
    for (let h = 1001; h <= 1305; h++) await sweeper.onChainEvent(blk(h));
    const txs = broadcaster.published;
    const feesPaid = txs.map((t) => childFee(t, coin.valueSat));
    // The fee function climbs (cap - start) * package weight / 299 blocks ~ 61 sat a block; BIP125 needs
    // incremental * child vsize (~ 175 sat): a replacement every third block, never a step of two increments.
    for (let i = 1; i < txs.length; i++) {
      const step = minReplacementFee(0n, (txs[i] as Transaction).weight());
      assert.ok((feesPaid[i] as bigint) - (feesPaid[i - 1] as bigint) < 2n * step, `version ${i} waited too long: ${feesPaid[i - 1]} -> ${feesPaid[i]}`);
    }
    const last = feesPaid.at(-1) as bigint;
    assert.ok(last <= 20_000n, `child fee ${last} above its budget`);
    assert.ok(last > 20_000n - minReplacementFee(0n, (txs.at(-1) as Transaction).weight()), `child fee ${last} stops short of its 20,000 sat budget`);
    const set = lastSet(db);
    assert.equal(set.next_height, null);
    assert.match(set.reason ?? '', /^budget exhausted/);
  });

  it('an operator raising a CPFP budget mid-way gets further replacements up to the new budget', async () => {
    const db = briefcase();
    const fees = new TestFees();
    fees.estimate = 1000n;
    const { sweeper, broadcaster, wallet } = testSweeper(db, { fees, height: 1000 });
    const coin = wallet.addCoin('ee'.repeat(32), 0, 1_000_000n);
    const spec = anchorInput(1, parent, { deadlineHeight: 1300, budgetSat: 20_000n });
    sweeper.offer(spec);
    await sweeper.kick();
    for (let h = 1001; h <= 1250; h++) await sweeper.onChainEvent(blk(h));
    const before = broadcaster.published.length;
    const feeBefore = childFee(broadcaster.published.at(-1) as Transaction, coin.valueSat);
    sweeper.bump(spec.outpoint, { budgetSat: 40_000n });
    await sweeper.kick();
    for (let h = 1251; h <= 1300; h++) await sweeper.onChainEvent(blk(h));
    assert.ok(broadcaster.published.length > before + 10, `only ${broadcaster.published.length - before} replacements after the budget was raised`);
    const last = childFee(broadcaster.published.at(-1) as Transaction, coin.valueSat);
    assert.ok(last > feeBefore && last <= 40_000n, `fee ${feeBefore} -> ${last}`);
    assert.ok(last > 40_000n - 2n * BigInt(vsizeOf((broadcaster.published.at(-1) as Transaction).weight())), `fee ${last} stops short of the raised budget`);
  });
});

describe('review 2: a CPFP child is withdrawn once its parent confirmed alone (lnd #9191)', () => {
  it('forgets a child the node refused (parent not in its mempool) so it is never broadcast after the parent confirmed', async () => {
    const db = briefcase();
    let parentConfirmed = false;
    const sent: string[] = [];
    const relay = {
      async sendRawTransaction(hex: string): Promise<string> {
        const tx = Transaction.fromHex(hex);
        if (!parentConfirmed) throw new CourtError('COURT_E_CHAIN_RPC', 'rpc', { rpcCode: -25, rpcMessage: 'bad-txns-inputs-missingorspent' });
        sent.push(tx.getId());
        return tx.getId();
      },
    };
    const bc = new TxBroadcaster({ relay });
    const fees = new TestFees();
    fees.estimate = 10_000n;
    const watches = new ManualWatches();
    const wallet = new TestWallet();
    const sweeper = new Sweeper({ db, signer: SIGNER, wallet, broadcaster: bc, watches, fees, height: 1000 });
    const results: string[] = [];
    sweeper.onResult((r) => results.push(r.type));
    wallet.addCoin('ee'.repeat(32), 0, 100_000n);
    const parentTx = new Transaction();
    parentTx.addInput(Buffer.alloc(32, 9), 0);
    parentTx.addOutput(Buffer.from('0014' + '33'.repeat(20), 'hex'), 1000n);
    const spec = anchorInput(1, { txid: parentTx.getId(), weight: 1124, feeSat: 285n }, { deadlineHeight: 1020, budgetSat: 50_000n });
    sweeper.offer(spec);
    await sweeper.kick();
    assert.equal(bc.tracked().length, 1, 'the refused child stays tracked while the parent is unconfirmed');
    assert.equal(wallet.leases.size, 1);
    // Block 1001 confirms the parent by itself (the mempool floor fell, or a miner took it).
    parentConfirmed = true;
    await watches.confirm(parentTx, 1001);
    await bc.onChainEvent(blk(1001, [parentTx]));
    await sweeper.onChainEvent(blk(1001, [parentTx]));
    for (let h = 1002; h <= 1005; h++) {
      await bc.onChainEvent(blk(h));
      await sweeper.onChainEvent(blk(h));
    }
    assert.deepEqual(sent, [], 'the child was broadcast after its parent confirmed without it');
    assert.equal(bc.tracked().length, 0);
    assert.equal(wallet.leases.size, 0, 'the wallet coin of the withdrawn child is released');
    const txs = db.prepare('SELECT status FROM sweep_tx').all() as { status: number }[];
    assert.ok(txs.length > 0 && txs.every((t) => t.status !== 0), 'no live child version is left');
    assert.equal(sweeper.pending().length, 0);
    assert.deepEqual(results, ['failed']);
  });
});

describe('review 2b: a child withdrawn while the node answers its publish is forgotten after the publish', () => {
  class GateBroadcaster extends RecordingBroadcaster {
    open: () => void = () => undefined;
    reached: () => void = () => undefined;
    readonly reachedP = new Promise<void>((r) => (this.reached = r));
    readonly tracked = new Set<string>();
    override async publish(tx: Transaction): Promise<PublishResult> {
      const gate = new Promise<void>((r) => (this.open = r));
      this.reached();
      await gate;
      this.tracked.add(tx.getId());
      return super.publish(tx);
    }
    override forget(txid: string): void {
      this.tracked.delete(txid);
      super.forget(txid);
    }
  }

  it('the parent confirms during the publish await: the child ends forgotten, not tracked', async () => {
    const db = briefcase();
    const broadcaster = new GateBroadcaster();
    const fees = new TestFees();
    fees.estimate = 5_000n;
    const { sweeper, wallet, watches } = testSweeper(db, { fees, broadcaster, height: 1000 });
    wallet.addCoin('ee'.repeat(32), 0, 100_000n);
    const parentTx = new Transaction();
    parentTx.addInput(Buffer.alloc(32, 9), 0);
    parentTx.addOutput(Buffer.from('0014' + '33'.repeat(20), 'hex'), 1000n);
    const spec = anchorInput(1, { txid: parentTx.getId(), weight: 1124, feeSat: 285n }, { deadlineHeight: 1020 });
    sweeper.offer(spec);
    const k = sweeper.kick();
    await broadcaster.reachedP;
    await watches.confirm(parentTx, 1001);
    broadcaster.open();
    await k;
    assert.equal(broadcaster.tracked.size, 0, 'the withdrawn child is still tracked by the broadcaster');
    assert.equal(wallet.leases.size, 0);
  });
});

describe('review 3: a bump of one member keeps the set deadline at the earliest member deadline', () => {
  it('a budget-only bump and a deadline bump of the later member leave the set at the earlier deadline', async () => {
    const db = briefcase();
    const { sweeper } = testSweeper(db, { height: 1000 });
    const a = toLocalInput(1, { deadlineHeight: 1010 });
    const b = toLocalInput(2, { deadlineHeight: 1016 });
    sweeper.offer(a);
    sweeper.offer(b);
    await sweeper.kick();
    assert.equal(lastSet(db).deadline, 1010, 'cluster deadline = earliest');
    sweeper.bump(b.outpoint, { budgetSat: 12_000n });
    assert.equal(lastSet(db).deadline, 1010, 'after a budget-only bump of the later member');
    sweeper.bump(b.outpoint, { deadlineDelta: 500 });
    assert.equal(lastSet(db).deadline, 1010, 'after a deadline bump of the later member');
    sweeper.offer({ ...b, budgetSat: 13_000n });
    assert.equal(lastSet(db).deadline, 1010, 'after a re-offer of the later member');
    sweeper.bump(a.outpoint, { deadlineDelta: 3 });
    assert.equal(lastSet(db).deadline, 1003, 'an earlier deadline of one member is the set deadline');
  });
});

describe('review 4: an input parked at a spiked relay floor is judged again', () => {
  const spiked = async (): Promise<{ db: Db; fees: TestFees } & ReturnType<typeof testSweeper>> => {
    const db = briefcase();
    const fees = new TestFees();
    fees.floor = 20_000n; // 80 sat/vB mempool min fee during congestion
    const parts = testSweeper(db, { fees, height: 1000 });
    parts.sweeper.offer(toLocalInput(1, { valueSat: 100_000n, budgetSat: 5_000n, deadlineHeight: 1100 }));
    parts.sweeper.offer(toLocalInput(2, { valueSat: 5_000n, budgetSat: 5_000n, deadlineHeight: 1100 }));
    await parts.sweeper.kick();
    return { db, ...parts, fees };
  };

  it('retries by itself within a few blocks once the floor fell', async () => {
    const { sweeper, broadcaster, fees } = await spiked();
    const reasons = sweeper.pending().map((v) => v.reason ?? '');
    assert.ok(reasons.some((r) => r.startsWith('budget too small')) && reasons.some((r) => r.startsWith('uneconomical')), reasons.join('; '));
    fees.floor = 253n;
    for (let h = 1001; h <= 1000 + FLOOR_RETRY_BLOCKS; h++) await sweeper.onChainEvent(blk(h));
    assert.equal(broadcaster.published.length, 1, 'both inputs swept once the floor fell');
    assert.equal((broadcaster.published[0] as Transaction).ins.length, 2);
  });

  it('an identical re-offer wakes a parked input at once', async () => {
    const { sweeper, broadcaster, fees } = await spiked();
    fees.floor = 253n;
    sweeper.offer(toLocalInput(1, { valueSat: 100_000n, budgetSat: 5_000n, deadlineHeight: 1100 }));
    await sweeper.kick();
    assert.equal(broadcaster.published.length, 1);
    sweeper.offer(toLocalInput(1, { valueSat: 100_000n, budgetSat: 5_000n, deadlineHeight: 1100 }));
    await sweeper.kick();
    assert.equal(broadcaster.published.length, 1, 'a re-offer of a published input changes nothing');
  });
});

describe('review 5: a sweep that must pay for itself is published without wallet money', () => {
  it('a budget equal to the value at a fee spike, empty wallet: published at once, its output just above dust', async () => {
    const db = briefcase();
    const fees = new TestFees();
    fees.estimate = 100_000n;
    const { sweeper, broadcaster } = testSweeper(db, { fees, height: 1000 });
    sweeper.offer(toLocalInput(1, { valueSat: 20_000n, budgetSat: 20_000n, deadlineHeight: 1100 }));
    await sweeper.kick();
    assert.equal(broadcaster.published.length, 1, `never published: ${sweeper.pending()[0]?.reason}`);
    const tx = broadcaster.published[0] as Transaction;
    assert.equal(tx.ins.length, 1, 'no wallet coin');
    const out = tx.outs[0]?.value as bigint;
    assert.ok(out >= 294n, `output ${out} is dust`);
    assert.ok(20_000n - out <= 20_000n);
  });

  it('a wallet-funded set that could not be published starts again from the estimate of now, not the spike', async () => {
    const db = briefcase();
    const fees = new TestFees();
    fees.estimate = 100_000n;
    const { sweeper, broadcaster, wallet } = testSweeper(db, { fees, height: 1000 });
    const parent = { txid: 'dd'.repeat(32), weight: 1124, feeSat: 285n };
    sweeper.offer(anchorInput(1, parent, { deadlineHeight: 1300, budgetSat: 200_000n }));
    await sweeper.kick();
    assert.equal(broadcaster.published.length, 0);
    assert.match(sweeper.pending()[0]?.reason ?? '', /wallet short/);
    fees.estimate = 1000n;
    const coin = wallet.addCoin('ee'.repeat(32), 0, 1_000_000n);
    await sweeper.onChainEvent(blk(1001));
    assert.equal(broadcaster.published.length, 1);
    const child = broadcaster.published[0] as Transaction;
    const pkgRate = ((childFee(child, coin.valueSat) + parent.feeSat) * 1000n) / BigInt(parent.weight + child.weight());
    assert.ok(pkgRate < 2_000n, `package rate ${pkgRate} sat/kw: the fee function stayed at the spike`);
  });
});

describe('review 6: a confirmed version of a closed set is followed to finality', () => {
  it('a reorg that mines the original version of a set dissolved after a conflicting spend: both owners told swept', async () => {
    const db = briefcase();
    const { sweeper, broadcaster, watches } = testSweeper(db, { height: 1000 });
    const got: string[] = [];
    sweeper.onResult((r) => got.push(`${r.type}:${r.outpoint}`));
    const x = toLocalInput(0, { deadlineHeight: 1050 });
    const y = toLocalInput(1, { deadlineHeight: 1050 });
    sweeper.offer(x);
    sweeper.offer(y);
    await sweeper.kick();
    const v0 = broadcaster.published[0] as Transaction;
    assert.equal(v0.ins.length, 2);
    const H = (h: number, fork: number): string => (h * 2 + fork).toString(16).padStart(64, '0');
    // Branch A: block 1001 holds the counterparty's spend of y; x is swept again alone.
    const theirs = new Transaction();
    const [ty, vy] = y.outpoint.split(':') as [string, string];
    theirs.addInput(Buffer.from(ty, 'hex').reverse(), Number(vy));
    theirs.addOutput(Buffer.from('0014' + '22'.repeat(20), 'hex'), 1000n);
    await watches.spend(y.outpoint, theirs, 1001, H(1001, 0));
    await sweeper.onChainEvent(blk(1001, [], H(1001, 0)));
    const v1 = broadcaster.published.at(-1) as Transaction;
    assert.equal(v1.ins.length, 1, 'x swept again alone after y was spent by the counterparty');
    // Branch B wins: 1001' holds our v0 (dead in the briefcase).
    await watches.undo(y.outpoint, theirs.getId(), 1001, H(1001, 0));
    await sweeper.onChainEvent({ type: 'BlockDisconnected', height: 1001, hash: H(1001, 0) });
    await watches.spend(x.outpoint, v0, 1001, H(1001, 1));
    await watches.spend(y.outpoint, v0, 1001, H(1001, 1));
    for (let h = 1001; h <= 1010; h++) await sweeper.onChainEvent(blk(h, [], H(h, 1)));
    assert.deepEqual(got.sort(), [`swept:${x.outpoint}`, `swept:${y.outpoint}`].sort());
    const open = db.prepare('SELECT COUNT(*) AS n FROM sweep_set WHERE closed = 0').get() as { n: number };
    assert.equal(open.n, 0, 'no set left open');
    const live = db.prepare('SELECT COUNT(*) AS n FROM sweep_tx WHERE status = 0').get() as { n: number };
    assert.equal(live.n, 0, 'no version left live (the one of x alone conflicts with the confirmed one)');
    assert.ok(broadcaster.forgotten.includes(v1.getId()), 'the conflicting version is forgotten by the broadcaster');
    assert.equal(sweeper.pending().length, 0);
  });
});

describe('review 7: a published input re-offered with a new shape is clustered again', () => {
  it('a new locktime, pinnable or value takes the input out of its set, which is replaced at once without it', async () => {
    const db = briefcase();
    const { sweeper, broadcaster } = testSweeper(db, { height: 1000 });
    const [a, b, c] = [0, 1, 2].map((i) => toLocalInput(i, { deadlineHeight: 1050 })) as [SweepInputSpec, SweepInputSpec, SweepInputSpec];
    sweeper.offer(a);
    sweeper.offer(b);
    sweeper.offer(c);
    await sweeper.kick();
    assert.equal((broadcaster.published[0] as Transaction).ins.length, 3);
    sweeper.offer({ ...a, locktime: 990, budgetSat: 11_000n }); // now needs nLockTime >= 990
    sweeper.offer({ ...b, pinnable: true }); // now the counterparty can race it
    sweeper.offer({ ...c, valueSat: 90_000n }); // the signature commits to the amount
    await sweeper.kick();
    const live = db.prepare('SELECT hex FROM sweep_tx WHERE status = 0').all() as { hex: string }[];
    const txs = live.map((r) => Transaction.fromHex(r.hex));
    assert.equal(txs.length, 3, 'three sweeps: the locktime one, the pinnable one, and the rest');
    const holding = (op: string): Transaction => {
      const [txid, vout] = op.split(':') as [string, string];
      return txs.find((t) => t.ins.some((i) => Buffer.from(i.hash).reverse().toString('hex') === txid && i.index === Number(vout))) as Transaction;
    };
    assert.equal(holding(a.outpoint).locktime, 990);
    assert.equal(holding(b.outpoint).ins.length, 1, 'the pinnable input is alone');
    const tc = holding(c.outpoint);
    assert.equal(tc.ins.length, 1);
    const feeC = 90_000n - (tc.outs[0]?.value as bigint);
    assert.ok(feeC > 0n && feeC <= 10_000n, `c's sweep pays ${feeC} from its new value`);
    assert.equal(new Set(sweeper.pending().map((v) => v.sweepTxid)).size, 3);
  });
});

describe('review 7b: an anchor offered again without its parent drops its CPFP child', () => {
  it('the set of the child is dissolved (child forgotten, its lease released) and the anchor clustered anew', async () => {
    const db = briefcase();
    const fees = new TestFees();
    fees.estimate = 5_000n;
    const { sweeper, broadcaster, wallet } = testSweeper(db, { fees, height: 1000 });
    wallet.addCoin('ee'.repeat(32), 0, 100_000n);
    const parent = { txid: 'dd'.repeat(32), weight: 1124, feeSat: 285n };
    const spec = anchorInput(1, parent, { deadlineHeight: 1020 });
    sweeper.offer(spec);
    await sweeper.kick();
    const child = broadcaster.published[0] as Transaction;
    assert.equal(wallet.leases.size, 1);
    // The commitment confirmed: the anchor resolver offers the anchor again, without parent, with a small budget.
    const { parent: _p, ...own } = spec;
    sweeper.offer({ ...own, budgetSat: 330n, deadlineHeight: undefined });
    await sweeper.kick();
    assert.ok(broadcaster.forgotten.includes(child.getId()), 'the CPFP child is forgotten');
    assert.equal(wallet.leases.has('sweep-set:1'), false, "the child's wallet coin is released");
    const first = db.prepare('SELECT closed, lease_held FROM sweep_set WHERE id = 1').get();
    assert.deepEqual(first, { closed: 1, lease_held: 0 });
    const status = db.prepare('SELECT status FROM sweep_tx WHERE txid = ?').get(child.getId()) as { status: number };
    assert.notEqual(status.status, 0, 'the child is no longer live');
    // The anchor is swept on its own terms now (no parent in the package).
    const view = sweeper.pending()[0];
    assert.ok(view?.sweepTxid === undefined || view.sweepTxid !== child.getId());
  });
});

describe('review 8: a spend delivered while a set is being built leaves no lease behind', () => {
  /** A fee source whose second floor query (the new set's step) waits until the test opens it. */
  class GateFees extends TestFees {
    calls = 0;
    open: () => void = () => undefined;
    reached: () => void = () => undefined;
    readonly reachedP = new Promise<void>((r) => (this.reached = r));
    override async floorPerKw(): Promise<bigint> {
      this.calls++;
      if (this.calls === 2) {
        const gate = new Promise<void>((r) => (this.open = r));
        this.reached();
        await gate;
      }
      return this.floor;
    }
  }

  it('the counterparty spends a CPFP anchor while kick() awaits the floor: the set closes without a lease', async () => {
    const db = briefcase();
    const fees = new GateFees();
    fees.estimate = 5000n;
    const { sweeper, wallet, watches, broadcaster } = testSweeper(db, { fees, height: 1000 });
    wallet.addCoin('ee'.repeat(32), 0, 100_000n);
    const parentTx = new Transaction();
    parentTx.addInput(Buffer.alloc(32, 9), 0);
    parentTx.addOutput(Buffer.from('0014' + '33'.repeat(20), 'hex'), 1000n);
    const spec = anchorInput(1, { txid: parentTx.getId(), weight: 1124, feeSat: 285n }, { deadlineHeight: 1020 });
    sweeper.offer(spec);
    const k = sweeper.kick();
    await fees.reachedP;
    const theirs = new Transaction();
    theirs.addInput(Buffer.from(parentTx.getId(), 'hex').reverse(), 1);
    theirs.addOutput(Buffer.from('0014' + '22'.repeat(20), 'hex'), 100n);
    await watches.spend(spec.outpoint, theirs, 1001);
    fees.open();
    await k;
    assert.equal(wallet.leases.size, 0, 'a lease was taken for a closed set');
    const sets = db.prepare('SELECT closed, lease_held FROM sweep_set').all() as { closed: number; lease_held: number }[];
    assert.deepEqual(sets, [{ closed: 1, lease_held: 0 }]);
    assert.equal(broadcaster.published.length, 0);
  });
});

describe('review 8b: a spend or a cancel delivered while a new set awaits its rate is not overwritten', () => {
  class GateEstimate extends TestFees {
    open: () => void = () => undefined;
    reached: () => void = () => undefined;
    readonly reachedP = new Promise<void>((r) => (this.reached = r));
    private first = true;
    override async feeRatePerKw(): Promise<bigint> {
      if (this.first) {
        this.first = false;
        const gate = new Promise<void>((r) => (this.open = r));
        this.reached();
        await gate;
      }
      return this.estimate;
    }
  }

  it('the spent input stays spent by the other (told at depth), the cancelled one excluded; the rest is swept', async () => {
    const db = briefcase();
    const fees = new GateEstimate();
    const { sweeper, watches, broadcaster } = testSweeper(db, { fees, height: 1000 });
    const results: string[] = [];
    sweeper.onResult((r) => results.push(`${r.type}:${r.outpoint}`));
    const [x, y, z] = [0, 1, 2].map((i) => toLocalInput(i, { deadlineHeight: 1050 })) as [SweepInputSpec, SweepInputSpec, SweepInputSpec];
    for (const s of [x, y, z]) sweeper.offer(s);
    const k = sweeper.kick();
    await fees.reachedP;
    const theirs = new Transaction();
    const [tx0, v0] = x.outpoint.split(':') as [string, string];
    theirs.addInput(Buffer.from(tx0, 'hex').reverse(), Number(v0));
    theirs.addOutput(Buffer.from('0014' + '22'.repeat(20), 'hex'), 1000n);
    await watches.spend(x.outpoint, theirs, 1001);
    sweeper.cancel(y.outpoint);
    fees.open();
    await k;
    const states = new Map((db.prepare('SELECT outpoint, state FROM sweep_input').all() as { outpoint: string; state: number }[]).map((r) => [r.outpoint, r.state]));
    assert.equal(states.get(x.outpoint), 3, 'x stays spentByOther');
    assert.equal(states.get(y.outpoint), 4, 'y stays excluded');
    assert.deepEqual(broadcaster.published.map((t) => t.ins.length), [1], 'only z is swept');
    for (let h = 1001; h <= 1007; h++) await sweeper.onChainEvent(blk(h));
    assert.ok(results.includes(`spentByOther:${x.outpoint}`), 'the owner of x is told at the final depth');
  });

  it('a spend delivered while the block step awaits the floor is not overwritten by the screen (told at the final depth)', async () => {
    const db = briefcase();
    const fees = new TestFees();
    let open: () => void = () => undefined;
    let reached: () => void = () => undefined;
    const reachedP = new Promise<void>((r) => (reached = r));
    let first = true;
    fees.floorPerKw = async (): Promise<bigint> => {
      if (first) {
        first = false;
        const gate = new Promise<void>((r) => (open = r));
        reached();
        await gate;
      }
      return 253n;
    };
    const { sweeper, watches } = testSweeper(db, { fees, height: 1000 });
    const results: string[] = [];
    sweeper.onResult((r) => results.push(`${r.type}:${r.outpoint}`));
    const x = toLocalInput(0, { matureHeight: 1100 });
    sweeper.offer(x);
    const k = sweeper.kick();
    await reachedP;
    const theirs = new Transaction();
    const [tx0, v0] = x.outpoint.split(':') as [string, string];
    theirs.addInput(Buffer.from(tx0, 'hex').reverse(), Number(v0));
    theirs.addOutput(Buffer.from('0014' + '22'.repeat(20), 'hex'), 1000n);
    await watches.spend(x.outpoint, theirs, 1001);
    open();
    await k;
    for (let h = 1001; h <= 1006; h++) await sweeper.onChainEvent(blk(h));
    assert.deepEqual(results, [`spentByOther:${x.outpoint}`]);
  });
});

describe('review 8c: a set steps from its row as it is when its turn comes', () => {
  it('a bump delivered while an earlier set of the block is awaited takes effect in that block', async () => {
    const db = briefcase();
    const fees = new TestFees();
    const { sweeper, broadcaster } = testSweeper(db, { fees, height: 1000 });
    const a = toLocalInput(1, { pinnable: true, deadlineHeight: 1003 });
    const b = toLocalInput(2, { budgetSat: 50_000n, deadlineHeight: 1003 });
    sweeper.offer(a);
    sweeper.offer(b);
    await sweeper.kick();
    assert.equal(broadcaster.published.length, 2);
    let open: () => void = () => undefined;
    let reached: () => void = () => undefined;
    const reachedP = new Promise<void>((r) => (reached = r));
    let gated = true;
    fees.floorPerKw = async (): Promise<bigint> => {
      if (gated) {
        gated = false;
        const gate = new Promise<void>((r) => (open = r));
        reached();
        await gate;
      }
      return 253n;
    };
    const block = sweeper.onChainEvent(blk(1001)); // set 1 (a, pinnable) steps first and awaits the floor
    await reachedP;
    sweeper.bump(b.outpoint, { startFeeRatePerKw: 90_000n });
    open();
    await block;
    const rate = db.prepare('SELECT feerate FROM sweep_tx WHERE set_id = 2 AND status = 0').get() as { feerate: number };
    assert.ok(rate.feerate >= 90_000, `b's sweep at ${rate.feerate} sat/kw after a bump to start at 90,000`);
  });
});

describe('review 10: fee shares follow the effective budgets and add up to the fee', () => {
  it('an input worth 1,000 sat with a huge budget is never reported paying more than its value; shares sum to the fee', async () => {
    const db = briefcase();
    const fees = new TestFees();
    fees.estimate = 200_000n;
    const { sweeper, broadcaster, watches } = testSweeper(db, { fees, height: 1000 });
    const a = toLocalInput(1, { valueSat: 1_000n, budgetSat: 1_000_000n, deadlineHeight: 1002 });
    const b = toLocalInput(2, { valueSat: 1_000_000n, budgetSat: 10_000n, deadlineHeight: 1002 });
    const c = toLocalInput(3, { valueSat: 50_000n, budgetSat: 3_333n, deadlineHeight: 1002 });
    for (const s of [a, b, c]) sweeper.offer(s);
    await sweeper.kick();
    const tx = broadcaster.published[0] as Transaction;
    assert.equal(tx.ins.length, 3);
    const fee = 1_051_000n - tx.outs.reduce((s, o) => s + o.value, 0n);
    for (const s of [a, b, c]) await watches.spend(s.outpoint, tx, 1001);
    for (let h = 1001; h <= 1006; h++) await sweeper.onChainEvent(blk(h));
    const share = new Map(sweeper.unacked().map((r) => [r.outpoint, r.type === 'swept' ? r.feeSat : -1n]));
    assert.ok((share.get(a.outpoint) as bigint) <= a.valueSat, `A (value 1000) reported paying ${share.get(a.outpoint)}`);
    assert.ok((share.get(b.outpoint) as bigint) <= b.budgetSat && (share.get(c.outpoint) as bigint) <= c.budgetSat);
    assert.equal([...share.values()].reduce((s, x) => s + x, 0n), fee, 'the shares add up to the fee');
  });
});

describe('review 11: pinnable inputs split by channel never share a transaction with another channel (pinsplit: batched until split)', () => {
  const chan = (n: number): string => `${n.toString(16).padStart(2, '0').repeat(32)}:0`;
  const ci = (spec: SweepInputSpec, channelSplit = false): CoreInput => ({ spec, offerHeight: 1000, ...(channelSplit ? { channelSplit } : {}) });
  const OPTS = { walletInputWeight: 272, changeScriptLen: 22 };

  it('clusters split pinnable inputs per channel, unsplit pinnable ones of all channels together, unpinnable ones apart', () => {
    const inputs = [
      ci(toLocalInput(1, { pinnable: true, chanPoint: chan(1), deadlineHeight: 1100 }), true),
      ci(toLocalInput(2, { pinnable: true, chanPoint: chan(1), deadlineHeight: 1100 }), true),
      ci(toLocalInput(3, { pinnable: true, chanPoint: chan(2), deadlineHeight: 1100 }), true),
      ci(toLocalInput(4, { pinnable: false, chanPoint: chan(1), deadlineHeight: 1100 })),
      ci(toLocalInput(5, { pinnable: false, chanPoint: chan(2), deadlineHeight: 1100 })),
      ci(toLocalInput(6, { pinnable: true, chanPoint: chan(3), deadlineHeight: 1100 })),
      ci(toLocalInput(7, { pinnable: true, chanPoint: chan(4), deadlineHeight: 1100 })),
    ];
    const cs = clusterInputs(inputs, OPTS).map((c) => c.inputs.map((i) => Number(i.spec.owner.split(':')[1])).sort());
    assert.deepEqual(cs.sort(), [[1, 2], [3], [4, 5], [6, 7]]);
  });

  it('the sweeper publishes one transaction for unsplit pinnable inputs of two channels', async () => {
    const db = briefcase();
    const { sweeper, broadcaster } = testSweeper(db, { height: 1000 });
    sweeper.offer(toLocalInput(1, { pinnable: true, chanPoint: chan(1), deadlineHeight: 1100 }));
    sweeper.offer(toLocalInput(2, { pinnable: true, chanPoint: chan(2), deadlineHeight: 1100 }));
    await sweeper.kick();
    assert.deepEqual(broadcaster.published.map((t) => t.ins.length), [2]);
  });
});

describe('review 12: a failing relay floor query does not throw out of the block handler', () => {
  class FlakyFees extends TestFees {
    failing = false;
    override async floorPerKw(): Promise<bigint> {
      if (this.failing) throw new CourtError('COURT_E_CHAIN_UNREACHABLE', 'node unreachable');
      return this.floor;
    }
  }

  it('uses the last known floor (the relay default before any) and goes on sweeping', async () => {
    const db = briefcase();
    const fees = new FlakyFees();
    fees.failing = true;
    const { sweeper, broadcaster } = testSweeper(db, { fees, height: 1000 });
    sweeper.offer(toLocalInput(1, { deadlineHeight: 1100 }));
    await sweeper.onChainEvent(blk(1001));
    assert.equal(broadcaster.published.length, 1, 'swept with the relay default floor');
    fees.failing = false;
    fees.floor = 1_000n;
    sweeper.offer(toLocalInput(2, { deadlineHeight: 1100, pinnable: true }));
    await sweeper.onChainEvent(blk(1002));
    fees.failing = true;
    sweeper.offer(toLocalInput(3, { valueSat: 200n, budgetSat: 200n, deadlineHeight: 1100, pinnable: true, chanPoint: `${'ab'.repeat(32)}:1` }));
    await sweeper.onChainEvent(blk(1003));
    const v = sweeper.pending().find((p) => p.outpoint === toLocalInput(3).outpoint);
    assert.match(v?.reason ?? '', /relay floor 1000 sat\/kw/, 'judged at the last floor the source gave');
  });
});
