/**
 * Issue 9 items 4, 5 and 6 on the real regtest node, both channel formats (alice is courtd's node):
 *   - item 4: a preimage learned while the channel is quiet (past the incoming HTLC's cutoff) takes the channel on
 *     chain at once through ChainArbitrator.addPreimage, without another block;
 *   - item 5: a snapshot that arrives past an HTLC's cutoff broadcasts in the same step; a snapshot the arbitrator
 *     refuses (a force close was queued before it) is not left as the current snapshot, and our commitment comes
 *     from the snapshot in force;
 *   - item 6: an HTLC dust on our commitment but an output on theirs is not failed back before our broadcast (it is
 *     failed at our confirmed close), and a dust HTLC whose preimage we hold is reported settled, never failed;
 *     on a breach, an outgoing HTLC whose preimage we hold is reported settled, never failed.
 * Every transaction is judged by the validating node.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startChain, type RegtestChain } from '../../regtest/chain.js';
import type { ChannelSimulator } from '../../regtest/simulator.js';
import { NODE_EVENT_KIND } from '../../src/store/codes.js';
import { sha256, toHex } from '../../src/util/bytes.js';
import { CourtError } from '../../src/util/errors.js';
import { eventually } from '../helpers/async.js';
import { openOnChain, startCourt, tempDir, untilState, type Court, nodeEvents } from './arbitrator.helpers.js';

const preimage = (label: string): Uint8Array => sha256(new TextEncoder().encode(`arbitrator.live-facts.test ${label}`));

const currentSeq = (court: Court, cp: string): number | undefined =>
  court.db.prepare<[string], { seq: number }>('SELECT seq FROM channel_snapshot_current WHERE chan_point = ?').get(cp)?.seq;
const stateOf = (court: Court, cp: string): string | undefined => {
  const row = court.db.prepare<[string], { detail: string }>('SELECT detail FROM arbitrator_state WHERE chan_point = ?').get(cp);
  return row === undefined ? undefined : (JSON.parse(row.detail) as { kind: string }).kind;
};
/** A preimage the node gave courtd earlier (the preimage table, as a POST stores it). */
const storePreimage = (court: Court, p: Uint8Array): void => {
  court.db.prepare('INSERT INTO preimage (payment_hash, preimage, source) VALUES (?, ?, 0)').run(toHex(sha256(p)), toHex(p));
};

for (const format of ['static_remotekey', 'anchors'] as const) {
  describe(`issue 9 live facts on regtest (${format})`, () => {
    let node: RegtestChain;
    let court: Court | undefined;
    let tmp: ReturnType<typeof tempDir>;

    before(async () => {
      node = await startChain();
      tmp = tempDir('live-facts');
    });
    after(async () => {
      await court?.stop();
      await node?.stop();
      tmp?.remove();
    });

    const courtFor = async (sim: ChannelSimulator): Promise<Court> => (court ??= await startCourt(node, sim.parties.alice.seed, join(tmp.dir, 'briefcase.sqlite')));
    /** Mines until the node and courtd are at `height`. */
    const mineTo = async (c: Court, height: number): Promise<void> => {
      const h = await node.height();
      if (height > h) await node.mine(height - h);
      await eventually(() => c.arb.height >= height, 20_000, `courtd at height ${height}`);
    };

    it('item 4: a preimage learned while the channel is quiet, past the incoming cutoff, takes it on chain at once', async () => {
      // fails on a1a5213: there is no addPreimage; with the preimage row stored as the node's POST would, the channel
      // stayed in Default past the cutoff (at the cutoff and 2 blocks later): the rule never saw the preimage.
      const sim = await openOnChain(node, format);
      const c = await courtFor(sim);
      const h = await node.height();
      const p = preimage(`incoming ${format}`);
      sim.addHtlc('bob', 40_000_000n, h + 20, p); // incoming for alice; with its preimage: on chain at h + 4
      sim.commit();
      assert.equal((await c.arb.updateChannel(sim.snapshot('alice'))).state, 'Default');
      await mineTo(c, h + 4);
      await c.arb.idle();
      assert.equal(stateOf(c, sim.chanPoint), 'Default', 'without the preimage an incoming HTLC never forces a close');
      const reply = await c.arb.addPreimage(p, 'node');
      assert.deepEqual(reply.channels, [sim.chanPoint]);
      assert.equal(reply.paymentHash, toHex(sha256(p)));
      // No block in between: the preimage itself applied the go-to-chain rule.
      assert.ok(['BroadcastCommit', 'CommitmentBroadcasted'].includes(stateOf(c, sim.chanPoint) ?? ''), stateOf(c, sim.chanPoint));
      await untilState(c, sim.chanPoint, 'CommitmentBroadcasted');
      assert.ok(await node.inMempool(sim.commitment('alice', sim.latestNumber).txid), 'the node accepted our commitment');
      assert.equal(await node.height(), h + 4);
    });

    it('item 5: a snapshot that arrives past an HTLC cutoff broadcasts in the same step', async () => {
      // fails on a1a5213: updateChannel answered Default; the commitment waited for the next block.
      const sim = await openOnChain(node, format);
      const c = await courtFor(sim);
      sim.commit();
      await c.arb.updateChannel(sim.snapshot('alice'));
      const h = await node.height();
      sim.addHtlc('alice', 30_000_000n, h + 2, preimage(`late ${format}`));
      sim.commit();
      await mineTo(c, h + 3); // courtd does not know the HTLC yet: nothing to wake for
      const reply = await c.arb.updateChannel(sim.snapshot('alice'));
      assert.equal(reply.state, 'BroadcastCommit', 'the snapshot past the cutoff went on chain in its own step');
      await untilState(c, sim.chanPoint, 'CommitmentBroadcasted');
      assert.ok(await node.inMempool(sim.commitment('alice', sim.latestNumber).txid));
      assert.equal(await node.height(), h + 3, 'no block was needed');
    });

    it('item 5: a snapshot the arbitrator refuses is not left as the current one; our commitment is from the one in force', async () => {
      // fails on a1a5213: the refused snapshot stayed as channel_snapshot_current (seq 2).
      const sim = await openOnChain(node, format);
      const c = await courtFor(sim);
      sim.commit();
      await c.arb.updateChannel(sim.snapshot('alice'));
      const inForce = sim.commitment('alice', sim.latestNumber).txid;
      sim.addHtlc('alice', 30_000_000n, (await node.height()) + 100, preimage(`refused ${format}`));
      sim.commit();
      await c.arb.idle();
      // A force close and, before it is processed, an update: the update is stored, then refused in call order
      // (the channel is closing).
      const force = c.arb.forceClose(sim.chanPoint);
      const update = c.arb.updateChannel(sim.snapshot('alice'));
      await assert.rejects(update, (e: unknown) => e instanceof CourtError && e.code === 'COURT_E_CHANNEL_CLOSING');
      await force;
      assert.equal(currentSeq(c, sim.chanPoint), 1, 'the refused snapshot is not the current one');
      await untilState(c, sim.chanPoint, 'CommitmentBroadcasted');
      assert.ok(await node.inMempool(inForce), 'the commitment of the snapshot in force was broadcast');
    });

    it('item 6: dust on ours but an output on theirs waits for the close; a dust HTLC with its preimage is settled, never failed', async () => {
      // fails on a1a5213: both dust HTLCs (ids 0 and 1) were failed back before the broadcast, 1 although its
      // preimage was held and 0 although their commitment carries it as an output.
      const sim = await openOnChain(node, format, { dustLimitSat: { alice: 3_000n, bob: 546n } });
      const c = await courtFor(sim);
      const h = await node.height();
      const paid = preimage(`dust paid ${format}`);
      sim.addHtlc('alice', 2_500_000n, h + 200, preimage(`dust ours ${format}`)); // id 0: dust on ours only
      sim.addHtlc('alice', 400_000n, h + 200, paid); // id 1: dust everywhere, preimage held
      sim.addHtlc('alice', 50_000_000n, h + 200, preimage(`big ${format}`)); // id 2
      sim.commit();
      const ours = sim.commitment('alice', sim.latestNumber).commitment;
      const theirs = sim.commitment('bob', sim.currentNumber).commitment;
      const hasOutput = (cm: typeof ours, amountSat: bigint): boolean => cm.outputs.some((o) => (o.kind === 'offered_htlc' || o.kind === 'received_htlc') && o.amountSat === amountSat);
      assert.ok(!hasOutput(ours, 2_500n) && hasOutput(theirs, 2_500n), 'HTLC 0 is dust on ours only');
      storePreimage(c, paid);
      await c.arb.updateChannel(sim.snapshot('alice'));
      await c.arb.forceClose(sim.chanPoint);
      await untilState(c, sim.chanPoint, 'CommitmentBroadcasted');
      const htlcEvents = (): Array<{ kind: number; payload: Record<string, unknown> }> =>
        nodeEvents(c, sim.chanPoint).filter((e) => e.kind === NODE_EVENT_KIND.HtlcFailedOnChain || e.kind === NODE_EVENT_KIND.HtlcSettledOnChain);
      assert.deepEqual(htlcEvents(), [], 'nothing failed back before the broadcast');
      await node.mine(1);
      await untilState(c, sim.chanPoint, 'WaitingFullResolution');
      const ev = htlcEvents().map((e) => `${e.kind === NODE_EVENT_KIND.HtlcFailedOnChain ? 'failed' : 'settled'} ${String(e.payload.htlcId)} ${String(e.payload.reason)}`);
      assert.deepEqual(ev.sort(), ['failed 0 dust', 'settled 1 dust']);
    });

    it('item 6: a breach reports an outgoing HTLC whose preimage we hold settled, and fails back the other', async () => {
      // fails on a1a5213: htlcFailedOnChain (breach) for both outgoing HTLCs, 0 although its preimage was held.
      const sim = await openOnChain(node, format);
      const c = await courtFor(sim);
      const h = await node.height();
      const paid = preimage(`breach paid ${format}`);
      sim.addHtlc('alice', 20_000_000n, h + 200, paid); // id 0
      sim.addHtlc('alice', 30_000_000n, h + 200, preimage(`breach other ${format}`)); // id 1
      sim.commit();
      const revoked = sim.currentNumber;
      sim.commit();
      sim.commit();
      storePreimage(c, paid);
      await c.arb.updateChannel(sim.snapshot('alice'));
      for (let n = 0; n < sim.currentNumber; n++) c.arb.addRevocation(sim.chanPoint, sim.revealedSecret('bob', n), n);
      await node.send(sim.signedCommitment('bob', revoked).toHex());
      await node.mine(1);
      await untilState(c, sim.chanPoint, 'WaitingFullResolution');
      const ev = nodeEvents(c, sim.chanPoint)
        .filter((e) => e.kind === NODE_EVENT_KIND.HtlcFailedOnChain || e.kind === NODE_EVENT_KIND.HtlcSettledOnChain)
        .map((e) => `${e.kind === NODE_EVENT_KIND.HtlcFailedOnChain ? 'failed' : 'settled'} ${String(e.payload.htlcId)} ${String(e.payload.reason)}`);
      assert.deepEqual(ev.sort(), ['failed 1 breach', 'settled 0 breach']);
    });
  });
}
