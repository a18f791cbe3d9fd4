/**
 * Issue 9 ("Arbitrator hardening") items 7, 8 and 9 on the real embedded node, alice being courtd's node:
 *
 *  7. seeing the chain completely: a channel registered after bob's commitment spent its funding output, and a
 *     close mined while courtd was stopped, are found and classified; a first snapshot claiming more capacity than
 *     the funding output holds is refused with a code and nothing is stored;
 *  8. our commitment survives a restart: republished from the persistent rebroadcast set after courtd and the
 *     node (whose mempool is lost) restart; a conflict confirming drops it from the rebroadcast set, reported;
 *  9. a reorg after ContractClosed replacing the close: the channel goes back to watching its funding output, the
 *     old close's resolver rows are superseded, the node is told, and the new close is classified and resolved.
 *
 * Each case says how it failed on a1a5213 (the code before this work), where it was run against that code.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Transaction } from 'bitcoinjs-lib';
import { startChain, type RegtestChain } from '../../regtest/chain.js';
import { walletKey } from '../../regtest/sim-keys.js';
import { ChannelSimulator } from '../../regtest/simulator.js';
import { ARBITRATOR_STATE, NODE_EVENT_KIND, RESOLVER_KIND } from '../../src/store/codes.js';
import { CourtError } from '../../src/util/errors.js';
import { eventually } from '../helpers/async.js';
import { CAPACITY_SAT, openOnChain, startCourt, tempDir, untilState, type Court, nodeEvents } from './arbitrator.helpers.js';

const BURN = walletKey('arbitrator-hardening burn');

const detailOf = (court: Court, cp: string): { kind: string; close?: { type: string; txid: string } } =>
  JSON.parse(court.db.prepare<[string], { detail: string }>('SELECT detail FROM arbitrator_state WHERE chan_point = ?').get(cp)?.detail ?? '{"kind":"none"}');
const liveResolvers = (court: Court, cp: string): Array<{ kind: number; outpoint: string }> =>
  court.db.prepare<[string], { kind: number; outpoint: string }>('SELECT kind, outpoint FROM resolver WHERE chan_point = ? AND resolved = 0 ORDER BY id').all(cp);

/** Waits until the channel is closed by `txid` (WaitingFullResolution) with close type `type`; the error names the last state. */
async function untilClosedBy(court: Court, cp: string, type: string, txid: string, ms = 20_000): Promise<void> {
  let last = '';
  try {
    await eventually(() => {
      const d = detailOf(court, cp);
      last = `${d.kind} ${d.close?.type ?? '-'} ${d.close?.txid.slice(0, 8) ?? '-'}`;
      return d.kind === 'WaitingFullResolution' && d.close?.type === type && d.close.txid === txid;
    }, ms);
  } catch {
    throw new Error(`${cp} not closed by ${type} ${txid.slice(0, 8)} in time (last: ${last})`);
  }
}

/** Polls an asynchronous condition every 50 ms until it holds; fails after `ms`. */
async function untilAsync(cond: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = performance.now() + ms;
  while (!(await cond())) {
    if (performance.now() > deadline) throw new Error(`${what} not reached in time`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Replaces the node's tip block with one holding exactly `txs` (invalidateblock, then generateblock). */
async function replaceTip(node: RegtestChain, txs: readonly Transaction[]): Promise<void> {
  await node.call('invalidateblock', await node.tipHash());
  await node.call('generateblock', node.addressOf(BURN.scriptPubKey), txs.map((t) => t.toHex()));
}

for (const format of ['static_remotekey', 'anchors'] as const) {
  describe(`arbitrator hardening on regtest (${format})`, () => {
    let node: RegtestChain;
    let tmp: ReturnType<typeof tempDir>;
    let n = 0;
    const dbPath = (): string => join(tmp.dir, `briefcase-${n++}.sqlite`);
    const courts: Court[] = [];
    const court = async (sim: ChannelSimulator, path: string): Promise<Court> => {
      const c = await startCourt(node, sim.parties.alice.seed, path);
      courts.push(c);
      return c;
    };
    const stopCourt = async (c: Court): Promise<void> => {
      courts.splice(courts.indexOf(c), 1);
      await c.stop();
    };

    before(async () => {
      node = await startChain({ persistent: true });
      tmp = tempDir('arbitrator-hardening');
    });
    after(async () => {
      for (const c of courts) await c.stop();
      await node?.stop();
      tmp?.remove();
    });

    // fails on a1a5213: "not closed by remote ... in time (last: Default - -)": the ChainArbitrator only matched
    // the inputs of blocks connected after registration, so the earlier spend was never seen.
    it('7: a channel registered after bob’s commitment spent its funding output is found and classified', async () => {
      const sim = await openOnChain(node, format);
      const fundingHeight = await node.height();
      sim.commit();
      const theirs = sim.signedCommitment('bob', sim.currentNumber);
      await node.send(theirs.toHex());
      await node.mine(2);
      const c = await court(sim, dbPath());
      const reply = await c.arb.updateChannel(sim.snapshot('alice', { fundingHeightHint: fundingHeight }));
      assert.equal(reply.state, 'Default');
      await untilClosedBy(c, sim.chanPoint, 'remote', theirs.getId());
      assert.ok(liveResolvers(c, sim.chanPoint).every((r) => r.outpoint.startsWith(theirs.getId())));
      await stopCourt(c);
    });

    // fails on a1a5213: "not closed by remote ... in time (last: Default - -)": courtd restarted at the node's tip
    // (in-memory block log, no funding watch), so the close mined while it was down was never seen.
    it('7: a close mined while courtd was stopped is found at restart', async () => {
      const sim = await openOnChain(node, format);
      const fundingHeight = await node.height();
      sim.commit();
      const path = dbPath();
      let c = await court(sim, path);
      await c.arb.updateChannel(sim.snapshot('alice', { fundingHeightHint: fundingHeight }));
      await node.mine(1);
      await eventually(() => c.chain.dispatcher.tip()?.height === fundingHeight + 1, 10_000, 'courtd saw the block');
      await stopCourt(c);
      const theirs = sim.signedCommitment('bob', sim.currentNumber);
      await node.send(theirs.toHex());
      await node.mine(3);
      c = await court(sim, path);
      await untilClosedBy(c, sim.chanPoint, 'remote', theirs.getId());
      await stopCourt(c);
    });

    // fails on a1a5213: "Missing expected rejection.": the snapshot was accepted and stored; a force close would
    // then have been refused by the node, the commitment spending more than the output holds.
    it('7: a first snapshot claiming more capacity than the funding output holds is refused with a code, nothing stored', async () => {
      const sim = ChannelSimulator.open({
        format,
        funder: 'alice',
        capacitySat: CAPACITY_SAT,
        pushMsat: 300_000_000n,
        toSelfDelay: { alice: 10, bob: 12 },
        dustLimitSat: { alice: 546n, bob: 546n },
        feeratePerKw: 2_500,
        channelIndex: 7,
        // A funding transaction never published: the real funding output below holds less than the capacity.
        funding: { utxo: { txid: 'ab'.repeat(32), vout: 0, amountSat: 2n * CAPACITY_SAT, privkey: walletKey('unused').privkey } },
      });
      const real = await node.fund(sim.fundingScriptPubKey, CAPACITY_SAT - 100_000n);
      // The node's snapshot names the real outpoint, and the peer signed commitments spending it at the claimed capacity.
      Object.defineProperty(sim, 'fundingTxid', { value: real.txid });
      Object.defineProperty(sim, 'fundingVout', { value: real.vout });
      sim.commit();
      const c = await court(sim, dbPath());
      const before = c.arb.size;
      await assert.rejects(c.arb.updateChannel(sim.snapshot('alice')), (e: unknown) => e instanceof CourtError && e.code === 'COURT_E_FUNDING_MISMATCH');
      assert.equal(c.arb.size, before, 'no channel was added');
      assert.deepEqual(c.db.prepare('SELECT COUNT(*) AS n FROM channel WHERE chan_point = ?').get(sim.chanPoint), { n: 0 });
      assert.deepEqual(c.db.prepare('SELECT COUNT(*) AS n FROM channel_snapshot WHERE chan_point = ?').get(sim.chanPoint), { n: 0 });
      await stopCourt(c);
    });

    // fails on a1a5213: "our commitment republished after the restart not reached in time": the BroadcastTx
    // outbox row was done and the broadcaster's set was in memory, so nothing published it again.
    it('8: a restart in CommitmentBroadcasted republishes our commitment (the node lost its mempool too)', async () => {
      const sim = await openOnChain(node, format);
      sim.commit();
      const path = dbPath();
      let c = await court(sim, path);
      await c.arb.updateChannel(sim.snapshot('alice', { fundingHeightHint: await node.height() }));
      await c.arb.forceClose(sim.chanPoint);
      await untilState(c, sim.chanPoint, 'CommitmentBroadcasted');
      const ours = sim.commitment('alice', sim.latestNumber).txid;
      assert.ok(await node.inMempool(ours));
      await stopCourt(c);
      await node.kill();
      await node.restart();
      assert.equal(await node.inMempool(ours), false, 'the restarted node forgot its mempool');
      c = await court(sim, path);
      await untilAsync(() => node.inMempool(ours), 10_000, 'our commitment republished after the restart');
      await node.mine(1);
      await untilClosedBy(c, sim.chanPoint, 'local', ours);
      assert.deepEqual(c.chain.broadcaster.tracked().filter((t) => t.txid === ours), []);
      await stopCourt(c);
    });

    // fails on a1a5213: "dropped not reached in time": our commitment stayed in the broadcaster's rebroadcast set
    // after bob's commitment confirmed, to be sent again on every block forever.
    it('8: a conflict confirming drops our commitment from the rebroadcast set, reported', async () => {
      const sim = await openOnChain(node, format);
      sim.commit();
      const c = await court(sim, dbPath());
      await c.arb.updateChannel(sim.snapshot('alice', { fundingHeightHint: await node.height() }));
      await c.arb.forceClose(sim.chanPoint);
      await untilState(c, sim.chanPoint, 'CommitmentBroadcasted');
      const ours = sim.commitment('alice', sim.latestNumber).txid;
      assert.ok(c.chain.broadcaster.tracked().some((t) => t.txid === ours));
      const theirs = sim.signedCommitment('bob', sim.currentNumber);
      await node.call('generateblock', node.addressOf(BURN.scriptPubKey), [theirs.toHex()]);
      await untilClosedBy(c, sim.chanPoint, 'remote', theirs.getId());
      await node.mine(2);
      await eventually(() => c.chain.broadcaster.tracked().every((t) => t.txid !== ours), 10_000, 'dropped');
      assert.deepEqual(c.chain.broadcaster.tracked().filter((t) => t.txid === ours), [], 'not rebroadcast any more');
      const conflict = c.chain.broadcaster.conflicts().find((x) => x.txid === ours);
      assert.equal(conflict?.conflictTxid, theirs.getId(), 'the conflict is recorded with the transaction that confirmed');
      assert.equal(await node.inMempool(ours), false);
      await stopCourt(c);
    });

    // fails on a1a5213: "not closed by breach ... in time (last: WaitingFullResolution remote ...)":
    // ContractClosed/WaitingFullResolution ignored BlockDisconnected (and disconnects reached open channels only),
    // so the channel kept the close the reorg removed and the breach went unanswered.
    it('9: a reorg replacing their current commitment with a revoked one after the close: rolled back, the breach resolved', async () => {
      const sim = await openOnChain(node, format);
      const fundingHeight = await node.height();
      const h = fundingHeight;
      sim.addHtlc('alice', 50_000_000n, h + 60);
      sim.commit();
      const revoked = sim.currentNumber;
      sim.commit();
      sim.commit();
      const c = await court(sim, dbPath());
      const cp = sim.chanPoint;
      await c.arb.updateChannel(sim.snapshot('alice', { fundingHeightHint: fundingHeight }));
      for (let i = 0; i < sim.currentNumber; i++) c.arb.addRevocation(cp, sim.revealedSecret('bob', i), i);
      const current = sim.signedCommitment('bob', sim.currentNumber);
      await node.send(current.toHex());
      await node.mine(1, node.addressOf(BURN.scriptPubKey));
      await untilClosedBy(c, cp, 'remote', current.getId());
      const firstResolvers = liveResolvers(c, cp);
      assert.ok(firstResolvers.length > 0);

      const cheat = sim.signedCommitment('bob', revoked);
      await replaceTip(node, [cheat]);
      await untilClosedBy(c, cp, 'breach', cheat.getId());
      const live = liveResolvers(c, cp);
      assert.ok(live.some((r) => r.kind === RESOLVER_KIND.Breach), 'the justice resolver of the new close');
      assert.ok(live.every((r) => r.outpoint.startsWith(cheat.getId())), 'no live resolver of the removed close');
      const superseded = c.db.prepare<[string], { outpoint: string }>('SELECT outpoint FROM resolver WHERE chan_point = ? AND superseded_height IS NOT NULL').all(cp);
      assert.deepEqual(superseded.map((r) => r.outpoint).sort(), firstResolvers.map((r) => r.outpoint).sort(), 'the removed close’s resolvers are superseded');
      const ev = nodeEvents(c, cp);
      assert.ok(ev.some((e) => e.kind === NODE_EVENT_KIND.ChannelClosing && e.payload.stage === 'closeDisconnected' && e.payload.txid === current.getId()), 'the node is told');
      assert.ok(ev.some((e) => e.kind === NODE_EVENT_KIND.BreachDetected));
      const states = c.db.prepare<[string], { to_state: number }>('SELECT to_state FROM transition_log WHERE machine_id = ? ORDER BY seq').all(cp).map((r) => r.to_state);
      assert.ok(states.includes(ARBITRATOR_STATE.Default, states.indexOf(ARBITRATOR_STATE.WaitingFullResolution)), 'back to Default in between');
      await stopCourt(c);
    });

    // fails on a1a5213: "not closed by remote ... in time (last: WaitingFullResolution local ...)": the channel kept
    // our removed commitment as its close.
    it('9: a reorg replacing our confirmed commitment with bob’s after the close: back to broadcasting, then the remote close resolved', async () => {
      const sim = await openOnChain(node, format);
      sim.commit();
      const c = await court(sim, dbPath());
      const cp = sim.chanPoint;
      await c.arb.updateChannel(sim.snapshot('alice', { fundingHeightHint: await node.height() }));
      await c.arb.forceClose(cp);
      await untilState(c, cp, 'CommitmentBroadcasted');
      const ours = sim.commitment('alice', sim.latestNumber).txid;
      await node.mine(1, node.addressOf(BURN.scriptPubKey));
      await untilClosedBy(c, cp, 'local', ours);
      const theirs = sim.signedCommitment('bob', sim.currentNumber);
      await replaceTip(node, [theirs]);
      await untilClosedBy(c, cp, 'remote', theirs.getId());
      assert.ok(liveResolvers(c, cp).every((r) => r.outpoint.startsWith(theirs.getId())));
      const states = c.db.prepare<[string], { to_state: number }>('SELECT to_state FROM transition_log WHERE machine_id = ? ORDER BY seq').all(cp).map((r) => r.to_state);
      assert.ok(states.includes(ARBITRATOR_STATE.BroadcastCommit, states.indexOf(ARBITRATOR_STATE.WaitingFullResolution)), 'back to BroadcastCommit in between');
      await stopCourt(c);
    });
  });
}
