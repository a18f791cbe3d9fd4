/**
 * Per-channel order equals call order, judged by the real node (issue 9 item 12), for both channel formats: three
 * snapshot updates (three successive commitments from the simulator) fired back to back without awaiting, then a
 * force close at once. Every update must be accepted and the node's mempool must hold the newest commitment,
 * signed by courtd, and none of the older ones.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startChain, type RegtestChain } from '../../regtest/chain.js';
import { sha256 } from '../../src/util/bytes.js';
import { openOnChain, startCourt, tempDir, untilState, type Court } from './arbitrator.helpers.js';

describe('ChainArbitrator on regtest: calls fired back to back keep their order', () => {
  let node: RegtestChain;
  let court: Court | undefined;
  let tmp: ReturnType<typeof tempDir>;

  before(async () => {
    node = await startChain();
    tmp = tempDir('arbitrator-order');
  });
  after(async () => {
    await court?.stop();
    await node?.stop();
    tmp?.remove();
  });

  for (const format of ['static_remotekey', 'anchors'] as const) {
    it(`three updates then a force close, none awaited (${format}): all accepted, the newest commitment in the mempool`, async () => {
      // fails on a1a5213: the first update waited for the channel's runner to resume while the two later updates
      // and the force close queued ahead of it; the first update was then refused with COURT_E_CHANNEL_CLOSING.
      const sim = await openOnChain(node, format);
      const h = await node.height();
      sim.addHtlc('alice', 20_000_000n, h + 60, sha256(new TextEncoder().encode(`order ${format}`)));
      sim.commit();
      court ??= await startCourt(node, sim.parties.alice.seed, join(tmp.dir, 'briefcase.sqlite'));
      const cp = sim.chanPoint;
      await court.arb.updateChannel(sim.snapshot('alice'));
      await court.arb.idle(); // idle: the channel's runner is dropped, so the next call has to build it again
      const older = sim.commitment('alice', sim.latestNumber).txid;
      const snaps = [1, 2, 3].map(() => (sim.commit(), sim.snapshot('alice')));
      const calls = [...snaps.map((s) => court!.arb.updateChannel(s)), court.arb.forceClose(cp)];
      const settled = await Promise.allSettled(calls);
      const got = settled.map((s) => (s.status === 'fulfilled' ? s.value.state : String((s.reason as { code?: string }).code ?? s.reason)));
      assert.deepEqual(got, ['Default', 'Default', 'Default', 'BroadcastCommit'], 'every update accepted, then the force close');
      await untilState(court, cp, 'CommitmentBroadcasted');
      const newest = sim.commitment('alice', sim.latestNumber).txid;
      assert.ok(await node.inMempool(newest), 'the node holds the newest commitment, signed by courtd');
      assert.equal(await node.inMempool(older), false);
      for (const n of [sim.latestNumber - 2, sim.latestNumber - 1]) {
        assert.equal(await node.inMempool(sim.commitment('alice', n).txid), false, `commitment ${n} was not broadcast`);
      }
      await node.mine(1); // clear the mempool for the next test
      await untilState(court, cp, 'WaitingFullResolution');
    });

    it(`an update followed at once by a force close (${format}): the updated commitment is broadcast, not the older one`, async () => {
      // fails on a1a5213: the force close overtook the update, courtd broadcast the older commitment and the
      // update was refused with COURT_E_CHANNEL_CLOSING.
      const sim = await openOnChain(node, format);
      sim.commit();
      court ??= await startCourt(node, sim.parties.alice.seed, join(tmp.dir, 'briefcase.sqlite'));
      const cp = sim.chanPoint;
      await court.arb.updateChannel(sim.snapshot('alice'));
      await court.arb.idle();
      const older = sim.commitment('alice', sim.latestNumber).txid;
      sim.commit();
      const [update, close] = await Promise.allSettled([court.arb.updateChannel(sim.snapshot('alice')), court.arb.forceClose(cp)]);
      await untilState(court, cp, 'CommitmentBroadcasted');
      assert.equal(await node.inMempool(older), false, 'the older commitment was not broadcast');
      assert.ok(await node.inMempool(sim.commitment('alice', sim.latestNumber).txid), 'the updated commitment');
      assert.equal(update.status === 'fulfilled' ? update.value.state : String(update.reason), 'Default');
      assert.equal(close.status === 'fulfilled' ? close.value.state : String(close.reason), 'BroadcastCommit');
      await node.mine(1);
      await untilState(court, cp, 'WaitingFullResolution');
    });
  }
});
