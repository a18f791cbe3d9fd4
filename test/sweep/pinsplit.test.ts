/**
 * Pinnable inputs of several channels batched, and split by channel when it matters (issue 10, D19 "pinsplit"):
 * a refusal of a set holding several channels' pinnable inputs, a spend of one of its inputs by someone else, or
 * the node no longer holding its version near the deadline splits it by channel (persisted per input), and the
 * other channels' inputs go out without the pinned one, in the same block.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Transaction } from 'bitcoinjs-lib';
import type { ChainEvent, PublishResult } from '../../src/chain/ports.js';
import { openDatabase, type Db } from '../../src/store/db.js';
import { migrate } from '../../src/store/migrate.js';
import type { SweepInputSpec } from '../../src/sweep/types.js';
import { tempDir } from '../helpers/db.js';
import { briefcase, ManualWatches, RecordingBroadcaster, TestFees, TestWallet, testSweeper, toLocalInput } from './helpers.js';

const blk = (h: number): ChainEvent => {
  const hash = h.toString(16).padStart(64, '0');
  return { type: 'BlockConnected', height: h, hash, block: { hash, height: h, prevHash: '', txs: [], txids: [] } };
};
const chan = (n: number): string => `${n.toString(16).padStart(2, '0').repeat(32)}:0`;
const outpoints = (tx: Transaction): string[] => tx.ins.map((i) => `${Buffer.from(i.hash).reverse().toString('hex')}:${i.index}`).sort();

/** Two pinnable inputs in each of channels 1, 2, 3 (inputs 1-2, 3-4, 5-6), one deadline. */
function threeChannels(over: Partial<SweepInputSpec> = {}): SweepInputSpec[] {
  return [1, 2, 3, 4, 5, 6].map((i) => toLocalInput(i, { pinnable: true, chanPoint: chan(Math.ceil(i / 2)), deadlineHeight: 1040, budgetSat: 20_000n, ...over }));
}

/** The node refuses every transaction spending `pinned` (a conflicting transaction of hers it will not replace). */
function pinOn(b: RecordingBroadcaster, pinned: string): void {
  b.answer = (tx): PublishResult =>
    outpoints(tx).includes(pinned)
      ? { kind: 'insufficient-fee', txid: tx.getId(), rpcCode: -26, reason: 'insufficient fee, rejecting replacement' }
      : { kind: 'accepted', txid: tx.getId() };
}

/** The channels of a transaction's inputs. */
function channelsOf(tx: Transaction, specs: readonly SweepInputSpec[]): string[] {
  const chanOf = new Map(specs.map((s) => [s.outpoint, s.chanPoint as string]));
  return [...new Set(outpoints(tx).map((op) => chanOf.get(op) as string))].sort();
}

/** The channels of each live transaction's inputs (sorted). */
function liveChannels(db: Db, specs: readonly SweepInputSpec[]): string[][] {
  const chanOf = new Map(specs.map((s) => [s.outpoint, s.chanPoint as string]));
  const rows = db.prepare('SELECT inputs FROM sweep_tx WHERE status = 0 ORDER BY txid').all() as { inputs: string }[];
  return rows.map((r) => [...new Set((JSON.parse(r.inputs) as string[]).map((op) => chanOf.get(op) as string))].sort()).sort();
}

describe('pinsplit: pinnable inputs of several channels', () => {
  it('are batched across channels (same locktime and deadline window)', async () => {
    const { sweeper, broadcaster } = testSweeper(briefcase());
    const specs = threeChannels();
    for (const s of specs) sweeper.offer(s);
    await sweeper.kick();
    assert.equal(broadcaster.published.length, 1);
    assert.deepEqual(outpoints(broadcaster.published[0] as Transaction), specs.map((s) => s.outpoint).sort());
  });

  it('a refused first version is split by channel in the same block: the other channels go out without the pinned one', async () => {
    const db = briefcase();
    const { sweeper, broadcaster } = testSweeper(db);
    const specs = threeChannels();
    const pinned = specs[2] as SweepInputSpec; // channel 2
    pinOn(broadcaster, pinned.outpoint);
    for (const s of specs) sweeper.offer(s);
    await sweeper.kick();
    const [combined, ...rest] = broadcaster.published;
    assert.equal(combined?.ins.length, 6, 'first the batch of the three channels');
    // then, in the same step, one set per channel
    assert.deepEqual(rest.map((t) => outpoints(t)).sort(), [
      [specs[0]?.outpoint, specs[1]?.outpoint].sort(),
      [specs[2]?.outpoint, specs[3]?.outpoint].sort(),
      [specs[4]?.outpoint, specs[5]?.outpoint].sort(),
    ].sort() as string[][]);
    const views = new Map(sweeper.pending().map((v) => [v.outpoint, v]));
    for (const s of specs) {
      const v = views.get(s.outpoint);
      if (s.chanPoint === pinned.chanPoint) {
        assert.match(v?.reason ?? '', /node refused the sweep/, 'the pinned channel alone, refused');
        assert.deepEqual(outpoints(rest.find((t) => t.getId() === v?.sweepTxid) as Transaction), [specs[2]?.outpoint, specs[3]?.outpoint].sort());
      } else {
        const tx = rest.find((t) => t.getId() === v?.sweepTxid);
        assert.ok(tx !== undefined && !outpoints(tx).includes(pinned.outpoint), `${s.outpoint} out without the pinned input`);
      }
    }
    assert.deepEqual(liveChannels(db, specs), [[chan(1)], [chan(2)], [chan(3)]]);
    // the pinned channel keeps trying on its own, never mixed again
    const n = broadcaster.published.length;
    await sweeper.onChainEvent(blk(1001));
    assert.ok(broadcaster.published.length > n);
    for (const t of broadcaster.published.slice(n)) assert.equal(channelsOf(t, specs).length, 1, 'one channel per transaction');
  });

  it('a replacement refused (the node held our version, then a pin) splits by channel', async () => {
    const db = briefcase();
    const { sweeper, broadcaster } = testSweeper(db);
    const specs = threeChannels();
    for (const s of specs) sweeper.offer(s);
    await sweeper.kick();
    assert.equal(broadcaster.published.length, 1);
    pinOn(broadcaster, (specs[0] as SweepInputSpec).outpoint);
    for (let h = 1001; h < 1010 && liveChannels(db, specs).length < 2; h++) await sweeper.onChainEvent(blk(h));
    assert.deepEqual(liveChannels(db, specs), [[chan(1)], [chan(2)], [chan(3)]], 'each channel on its own');
    const v = sweeper.pending().find((x) => x.outpoint === specs[0]?.outpoint);
    assert.match(v?.reason ?? '', /refused/, 'channel 1 refused');
    for (const x of sweeper.pending().filter((p) => p.chanPoint !== chan(1))) assert.equal(x.reason, undefined, `${x.outpoint} accepted`);
  });

  it('a replacement refused while the node still holds our previous version is not split (a fee refusal, no pin)', async () => {
    const db = briefcase();
    const { sweeper, broadcaster } = testSweeper(db);
    const specs = threeChannels();
    for (const s of specs) sweeper.offer(s);
    await sweeper.kick();
    const first = (broadcaster.published[0] as Transaction).getId();
    broadcaster.answer = (tx): PublishResult =>
      tx.getId() === first
        ? { kind: 'already-in-mempool', txid: first, rpcCode: -27, reason: 'txn-already-in-mempool' }
        : { kind: 'insufficient-fee', txid: tx.getId(), rpcCode: -26, reason: 'mempool min fee not met' };
    for (let h = 1001; h < 1006; h++) await sweeper.onChainEvent(blk(h));
    assert.ok(broadcaster.published.some((t) => t.getId() !== first), 'replacements were tried');
    assert.deepEqual(liveChannels(db, specs), [[chan(1), chan(2), chan(3)]], 'still one batch');
    assert.match(sweeper.pending()[0]?.reason ?? '', /replacement refused/);
  });

  it('an input spent by someone else splits the rest by channel', async () => {
    const db = briefcase();
    const { sweeper, broadcaster, watches } = testSweeper(db);
    const specs = threeChannels();
    for (const s of specs) sweeper.offer(s);
    await sweeper.kick();
    const theirs = new Transaction();
    theirs.addInput(Buffer.alloc(32, 9), 0);
    theirs.addOutput(Buffer.from('0014' + '11'.repeat(20), 'hex'), 1000n);
    await watches.spend((specs[0] as SweepInputSpec).outpoint, theirs, 1001);
    await sweeper.onChainEvent(blk(1001));
    assert.deepEqual(liveChannels(db, specs), [[chan(1)], [chan(2)], [chan(3)]]);
    assert.equal(broadcaster.published.length, 4);
  });

  it('the split survives a restart (and the owners offering their inputs again)', async () => {
    const tmp = tempDir('pinsplit');
    try {
      const path = join(tmp.dir, 'court.db');
      const db = openDatabase(path);
      migrate(db);
      const wallet = new TestWallet();
      const watches = new ManualWatches();
      const fees = new TestFees();
      const { sweeper, broadcaster } = testSweeper(db, { wallet, watches, fees });
      const specs = threeChannels();
      pinOn(broadcaster, (specs[0] as SweepInputSpec).outpoint);
      for (const s of specs) sweeper.offer(s);
      await sweeper.kick();
      assert.deepEqual(liveChannels(db, specs), [[chan(1)], [chan(2)], [chan(3)]]);
      db.close();

      // restart: a new sweeper over the same file; the owners offer their inputs again
      const db2 = openDatabase(path);
      const watches2 = new ManualWatches();
      const b2 = new RecordingBroadcaster();
      const { sweeper: s2 } = testSweeper(db2, { wallet, watches: watches2, fees, broadcaster: b2, height: 1001 });
      await s2.start();
      for (const s of specs) s2.offer(s);
      await s2.onChainEvent(blk(1002));
      // each channel keeps its own set (channel 1, no longer refused, goes out on its own)
      assert.ok(b2.published.some((t) => outpoints(t).join() === [specs[0]?.outpoint, specs[1]?.outpoint].sort().join()));
      assert.deepEqual(liveChannels(db2, specs), [[chan(1)], [chan(2)], [chan(3)]]);
      // someone else takes one input of channel 2 and one of channel 3: their siblings are clustered again, each
      // with its own channel only (unsplit they would share one transaction)
      const theirs = (k: number): Transaction => {
        const t = new Transaction();
        t.addInput(Buffer.alloc(32, k), 0);
        t.addOutput(Buffer.from('0014' + '11'.repeat(20), 'hex'), 1000n);
        return t;
      };
      await watches2.spend((specs[2] as SweepInputSpec).outpoint, theirs(1), 1003);
      await watches2.spend((specs[4] as SweepInputSpec).outpoint, theirs(2), 1003);
      const n = b2.published.length;
      await s2.onChainEvent(blk(1003));
      const fresh = b2.published.slice(n);
      for (const t of fresh) assert.equal(channelsOf(t, specs).length, 1, 'one channel per transaction');
      const t3 = fresh.find((t) => outpoints(t).includes(specs[3]?.outpoint as string));
      const t5 = fresh.find((t) => outpoints(t).includes(specs[5]?.outpoint as string));
      assert.ok(t3 !== undefined && t5 !== undefined && t3 !== t5, 'the siblings clustered again, apart');
      assert.deepEqual(outpoints(t3), [specs[3]?.outpoint]);
      db2.close();
    } finally {
      tmp.remove();
    }
  });

  it('near the deadline: a version the node still holds is kept; one it no longer takes is split by channel', async () => {
    const db = briefcase();
    // an estimate above every cap: the set is at its cap at once, so only the near-deadline check wakes it
    const fees = new TestFees();
    fees.estimate = 200_000n;
    const { sweeper, broadcaster } = testSweeper(db, { fees, height: 1000 });
    const specs = threeChannels({ deadlineHeight: 1020, budgetSat: 2_000n });
    for (const s of specs) sweeper.offer(s);
    await sweeper.kick();
    assert.equal(broadcaster.published.length, 1);
    const set = (): { next_height: number | null } => db.prepare('SELECT next_height FROM sweep_set WHERE closed = 0').get() as { next_height: number | null };
    assert.equal(set().next_height, 1017, 'at its cap, looked at again 3 blocks before the deadline');
    for (let h = 1001; h <= 1017; h++) await sweeper.onChainEvent(blk(h));
    assert.equal(broadcaster.published.length, 2, 'asked the node once at 1017');
    assert.equal(broadcaster.published[1]?.getId(), broadcaster.published[0]?.getId(), 'with the same version');
    assert.deepEqual(liveChannels(db, specs), [[chan(1), chan(2), chan(3)]], 'held by the node: kept');
    assert.equal(set().next_height, 1018, 'and every block from then on');
    // the counterparty replaces our version with hers and pins it: the node no longer takes ours
    pinOn(broadcaster, (specs[5] as SweepInputSpec).outpoint);
    await sweeper.onChainEvent(blk(1018));
    assert.deepEqual(liveChannels(db, specs), [[chan(1)], [chan(2)], [chan(3)]], 'split by channel');
    for (const x of sweeper.pending()) {
      if (x.chanPoint === chan(3)) assert.match(x.reason ?? '', /refused/, 'channel 3 refused on its own');
      else assert.doesNotMatch(x.reason ?? '', /refused/, `${x.outpoint} accepted without channel 3`);
    }
  });
});
