/**
 * The ChainArbitrator against the real regtest node with simulator channels (alice is courtd's node): our force
 * close (our signed commitment accepted by the node, confirmed, ContractClosed then WaitingFullResolution with
 * the right resolver rows), their force close (current and pending), a breach from a revoked state, a
 * cooperative close to FullyResolved, and a close from a state newer than courtd knows. Every transaction here
 * is judged by the validating node, including the commitment courtd signs.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startChain, type RegtestChain } from '../../regtest/chain.js';
import type { ChannelSimulator } from '../../regtest/simulator.js';
import { resolverRows } from '../../src/arbitrator/store.js';
import { ARBITRATOR_STATE, NODE_EVENT_KIND, RESOLVER_KIND } from '../../src/store/codes.js';
import { sha256 } from '../../src/util/bytes.js';
import { CourtError } from '../../src/util/errors.js';
import { coopCloseTx, openOnChain, startCourt, tempDir, untilState, type Court, nodeEvents } from './arbitrator.helpers.js';

const preimage = (label: string): Uint8Array => sha256(new TextEncoder().encode(`arbitrator.test ${label}`));

/** HTLCs both ways, one of them dust, committed. */
async function withHtlcs(node: RegtestChain, sim: ChannelSimulator): Promise<void> {
  const h = await node.height();
  sim.addHtlc('alice', 50_000_000n, h + 60, preimage('out'));
  sim.addHtlc('alice', 400_000n, h + 70, preimage('out dust'));
  sim.addHtlc('bob', 40_000_000n, h + 80, preimage('in'));
  sim.commit();
}

const kindsOf = (court: Court, cp: string): number[] => resolverRows(court.db, cp).map((r) => r.kind).sort();
const path = (court: Court, cp: string): number[] =>
  court.db.prepare<[string], { to_state: number }>('SELECT to_state FROM transition_log WHERE machine_id = ? ORDER BY seq').all(cp).map((r) => r.to_state);

for (const format of ['static_remotekey', 'anchors'] as const) {
  describe(`ChainArbitrator on regtest (${format})`, () => {
    let node: RegtestChain;
    let court: Court;
    let tmp: ReturnType<typeof tempDir>;
    let sim: ChannelSimulator;
    const anchors = format === 'anchors' ? [RESOLVER_KIND.Anchor] : [];

    before(async () => {
      node = await startChain();
      tmp = tempDir('arbitrator');
    });
    after(async () => {
      await court?.stop();
      await node?.stop();
      tmp?.remove();
    });

    const open = async (): Promise<string> => {
      sim = await openOnChain(node, format);
      await withHtlcs(node, sim);
      court ??= await startCourt(node, sim.parties.alice.seed, join(tmp.dir, 'briefcase.sqlite'));
      const reply = await court.arb.updateChannel(sim.snapshot('alice'));
      assert.equal(reply.state, 'Default');
      return sim.chanPoint;
    };

    it('our force close: dust failed back first, our commitment accepted by the node, confirmed, resolvers recorded', async () => {
      // A different seed's courtd could not sign: the snapshot names alice's keys (checked below via the node).
      const cp = await open();
      const reply = await court.arb.forceClose(cp);
      assert.equal(reply.state, 'BroadcastCommit');
      await untilState(court, cp, 'CommitmentBroadcasted');
      const ours = sim.commitment('alice', sim.latestNumber).txid;
      assert.ok(await node.inMempool(ours), 'the node accepted the commitment courtd signed');
      await assert.rejects(court.arb.forceClose(cp), (e: unknown) => e instanceof CourtError && e.code === 'COURT_E_CHANNEL_CLOSING');
      await node.mine(1);
      await untilState(court, cp, 'WaitingFullResolution');
      // BroadcastCommit, CommitmentBroadcasted, (the spend recorded), ContractClosed, WaitingFullResolution.
      const states = path(court, cp);
      assert.deepEqual(states.slice(states.indexOf(ARBITRATOR_STATE.BroadcastCommit)), [
        ARBITRATOR_STATE.BroadcastCommit,
        ARBITRATOR_STATE.CommitmentBroadcasted,
        ARBITRATOR_STATE.CommitmentBroadcasted,
        ARBITRATOR_STATE.ContractClosed,
        ARBITRATOR_STATE.WaitingFullResolution,
      ]);
      // to_local sweep, our anchor, the outgoing HTLC (contest: not expired) and the incoming one (contest).
      assert.deepEqual(kindsOf(court, cp), [RESOLVER_KIND.HtlcOutgoingContest, RESOLVER_KIND.HtlcIncomingContest, RESOLVER_KIND.CommitSweep, ...anchors].sort());
      const sweep = resolverRows(court.db, cp).find((r) => r.kind === RESOLVER_KIND.CommitSweep);
      const toLocal = sim.commitment('alice', sim.latestNumber).commitment.outputs.find((o) => o.kind === 'to_local');
      assert.equal(sweep?.outpoint, `${ours}:${toLocal?.index}`);
      const ev = nodeEvents(court, cp);
      const failed = ev.filter((e) => e.kind === NODE_EVENT_KIND.HtlcFailedOnChain);
      assert.equal(failed.length, 1, 'the dust outgoing HTLC was failed back');
      assert.equal(failed[0]?.payload.reason, 'dust');
      assert.ok(ev.findIndex((e) => e.kind === NODE_EVENT_KIND.HtlcFailedOnChain) < ev.findIndex((e) => e.kind === NODE_EVENT_KIND.ChannelClosing));
    });

    it('their force close of the current commitment: remote resolutions, direct HTLC claims', async () => {
      const cp = await open();
      const theirs = sim.signedCommitment('bob', sim.currentNumber);
      await node.send(theirs.toHex());
      await node.mine(1);
      await untilState(court, cp, 'WaitingFullResolution');
      const rows = resolverRows(court.db, cp);
      assert.ok(rows.every((r) => r.outpoint.startsWith(theirs.getId())));
      assert.deepEqual(kindsOf(court, cp), [RESOLVER_KIND.HtlcOutgoingContest, RESOLVER_KIND.HtlcIncomingContest, RESOLVER_KIND.CommitSweep, ...anchors].sort());
      assert.equal(JSON.parse(court.db.prepare<[string], { detail: string }>('SELECT detail FROM arbitrator_state WHERE chan_point = ?').get(cp)?.detail ?? '{}').close.type, 'remote');
    });

    it('their force close of their pending commitment: the outgoing HTLC only on it gets its resolver', async () => {
      sim = await openOnChain(node, format);
      court ??= await startCourt(node, sim.parties.alice.seed, join(tmp.dir, 'briefcase.sqlite'));
      const cp = sim.chanPoint;
      sim.commit();
      sim.addHtlc('alice', 30_000_000n, (await node.height()) + 50, preimage('pending out'));
      sim.signCommitments(); // bob holds the new commitment; his previous one is not yet revoked
      await court.arb.updateChannel(sim.snapshot('alice'));
      await node.send(sim.signedCommitment('bob', sim.latestNumber).toHex());
      await node.mine(1);
      await untilState(court, cp, 'WaitingFullResolution');
      const detail = JSON.parse(court.db.prepare<[string], { detail: string }>('SELECT detail FROM arbitrator_state WHERE chan_point = ?').get(cp)?.detail ?? '{}');
      assert.equal(detail.close.type, 'remotePending');
      assert.ok(kindsOf(court, cp).includes(RESOLVER_KIND.HtlcOutgoingContest));
    });

    it('a breach: their revoked commitment confirmed, found through the revocation store, justice resolver recorded', async () => {
      const cp = await open();
      const revoked = sim.currentNumber;
      sim.commit();
      sim.commit();
      // The node sends the snapshot naming their newer commitments before the secrets revoking the older ones.
      await court.arb.updateChannel(sim.snapshot('alice'));
      for (let n = 0; n < sim.currentNumber; n++) court.arb.addRevocation(cp, sim.revealedSecret('bob', n), n);
      await node.send(sim.signedCommitment('bob', revoked).toHex());
      await node.mine(1);
      await untilState(court, cp, 'WaitingFullResolution');
      assert.ok(kindsOf(court, cp).includes(RESOLVER_KIND.Breach));
      const ev = nodeEvents(court, cp);
      assert.ok(ev.some((e) => e.kind === NODE_EVENT_KIND.BreachDetected));
      assert.ok(
        ev.some((e) => e.kind === NODE_EVENT_KIND.HtlcFailedOnChain && e.payload.reason === 'breach'),
        'outgoing HTLCs of their sets are failed back on a breach',
      );
    });

    it('a cooperative close goes straight to FullyResolved and the channel is retired', async () => {
      sim = await openOnChain(node, format);
      court ??= await startCourt(node, sim.parties.alice.seed, join(tmp.dir, 'briefcase.sqlite'));
      const cp = sim.chanPoint;
      sim.commit();
      await court.arb.updateChannel(sim.snapshot('alice'));
      const before = court.arb.size;
      await node.send(coopCloseTx(sim).toHex());
      await node.mine(1);
      await untilState(court, cp, 'FullyResolved');
      assert.deepEqual(kindsOf(court, cp), []);
      assert.ok(nodeEvents(court, cp).some((e) => e.kind === NODE_EVENT_KIND.ChannelResolved));
      await court.arb.idle();
      assert.equal(court.arb.size, before - 1, 'a FullyResolved channel is retired');
    });

    it('a close from a state newer than courtd knows: only our to_remote is claimed', async () => {
      sim = await openOnChain(node, format);
      court ??= await startCourt(node, sim.parties.alice.seed, join(tmp.dir, 'briefcase.sqlite'));
      const cp = sim.chanPoint;
      sim.commit();
      await court.arb.updateChannel(sim.snapshot('alice'));
      sim.commit();
      sim.commit(); // courtd never hears of these
      await node.send(sim.signedCommitment('bob', sim.latestNumber).toHex());
      await node.mine(1);
      await untilState(court, cp, 'WaitingFullResolution');
      assert.deepEqual(kindsOf(court, cp), [RESOLVER_KIND.CommitSweep]);
      const detail = JSON.parse(court.db.prepare<[string], { detail: string }>('SELECT detail FROM arbitrator_state WHERE chan_point = ?').get(cp)?.detail ?? '{}');
      assert.equal(detail.close.type, 'future');
    });
  });
}
