/**
 * Never lose a wake-up or a result (issue 9 item 10): a SQLite error injected (by a trigger on transition_log) at
 * the worst commit of each path, on a real briefcase, for both channel formats. The ChainArbitrator must still
 * bring the channel to the state a fault-free run reaches, on the next block and without a restart:
 *   - a wake-up (an HTLC's cutoff) whose delivery fails is armed again;
 *   - a funding spend whose delivery fails is delivered again with the next block (the funding watch's handler
 *     throws, and ChainWatches keeps the event for the next block);
 *   - ResolveClose's result (CloseConfirmed) whose commit fails leaves the effect pending, and it runs again;
 *   - ContractClosed's pulse (Persisted) whose commit fails is taken again on the next block.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { Transaction } from 'bitcoinjs-lib';
import type { ChannelSimulator } from '../../regtest/simulator.js';
import { wakeHeight } from '../../src/arbitrator/channel/transition.js';
import type { ChainBlock } from '../../src/chain/ports.js';
import { ChainWatches } from '../../src/chain/watches.js';
import { ARBITRATOR_EVENT } from '../../src/store/codes.js';
import { openDatabase, type Db } from '../../src/store/db.js';
import { migrate } from '../../src/store/migrate.js';
import { sha256, toHex } from '../../src/util/bytes.js';
import { aliceArbitrator } from '../helpers/arbitrator.js';
import { tempDir } from '../helpers/db.js';
import { ScenarioChain } from '../helpers/scenario-chain.js';
import { openChannel } from '../simulator/fixture.js';

const H = 600;
const hashOf = (height: number): string => toHex(sha256(new TextEncoder().encode(`fault block ${height}`)));
const block = (height: number, txs: Transaction[] = []): ChainBlock => ({ hash: hashOf(height), height, prevHash: hashOf(height - 1), txs, txids: txs.map((t) => t.getId()) });

/**
 * A briefcase whose transition_log inserts fail (SQLITE_CONSTRAINT from RAISE(ABORT)) for the armed event kinds:
 * `arm(kind, n)` makes the next n commits of that event kind fail, in any channel.
 */
function faultyDb(path: string): { db: Db; arm: (eventKind: number, times: number) => void; fired: () => number } {
  const db = openDatabase(path);
  migrate(db);
  const armed = new Map<number, number>();
  let fired = 0;
  db.function('court_test_fault', (kind: unknown) => {
    const left = armed.get(Number(kind)) ?? 0;
    if (left <= 0) return 0;
    armed.set(Number(kind), left - 1);
    fired++;
    return 1;
  });
  db.exec(
    `CREATE TEMP TRIGGER court_test_fault BEFORE INSERT ON main.transition_log
     WHEN court_test_fault(NEW.event_kind) BEGIN SELECT RAISE(ABORT, 'injected fault'); END`,
  );
  return { db, arm: (kind, times) => armed.set(kind, times), fired: () => fired };
}

/** The arbitrator with real funding watches over a scripted chain; `mine` delivers a block as the dispatcher does. */
function court(db: Db, sim: ChannelSimulator) {
  const chain = new ScenarioChain(H);
  const watches = new ChainWatches({ source: chain, utxo: chain, view: chain.view });
  const registered: string[] = [];
  const counted: Pick<ChainWatches, 'watchSpend'> = {
    watchSpend: (op, hint, on) => {
      registered.push(`${op.txid}:${op.vout}`);
      return watches.watchSpend(op, hint, on);
    },
  };
  const { arb, published } = aliceArbitrator(db, sim, { watches: counted, closeDepth: 1 });
  arb.start(H);
  const mine = async (b: ChainBlock): Promise<void> => {
    chain.add(b);
    await watches.onChainEvent({ type: 'BlockConnected', height: b.height, hash: b.hash, block: b });
    await arb.onChainEvent({ type: 'BlockConnected', height: b.height, hash: b.hash, block: b });
  };
  const stop = async (): Promise<void> => {
    await arb.stop();
    await watches.stop();
  };
  return { arb, published, mine, stop, registered };
}

const snapshot = (sim: ChannelSimulator) => sim.snapshot('alice', { fundingHeightHint: H - 5 });

/** The stored state kind (read from the briefcase: asking the ChainArbitrator would build a runner, whose resume is a restart). */
const kindOf = (db: Db, cp: string): string =>
  (JSON.parse(db.prepare<[string], { detail: string }>('SELECT detail FROM arbitrator_state WHERE chan_point = ?').get(cp)?.detail ?? '{}') as { kind?: string }).kind ?? 'none';

const pendingRows = (db: Db, cp: string): number =>
  (db.prepare<[string], { n: number }>('SELECT COUNT(*) AS n FROM outbox WHERE machine_id = ? AND status = 0').get(cp) as { n: number }).n;

/** A committed channel with an outgoing HTLC (expiring at H + 20) and an incoming one. */
function channel(format: 'static_remotekey' | 'anchors'): ChannelSimulator {
  const sim = openChannel(format);
  sim.addHtlc('alice', 50_000_000n, H + 20, sha256(new TextEncoder().encode('fault out')));
  sim.addHtlc('bob', 40_000_000n, H + 30, sha256(new TextEncoder().encode('fault in')));
  sim.commit();
  return sim;
}

describe('ChainArbitrator fault injection: no lost wake-up or result', () => {
  const tmp = tempDir('chain-arbitrator-faults');
  after(() => tmp.remove());
  let n = 0;

  for (const format of ['static_remotekey', 'anchors'] as const) {
    it(`a wake-up whose delivery fails is armed again: the next block takes the channel on chain (${format})`, async () => {
      // fails on a1a5213: the due wake-up was popped and its failed delivery forgotten; the channel stayed in
      // Default past its HTLC's cutoff (no broadcast) until a restart.
      const sim = channel(format);
      const f = faultyDb(join(tmp.dir, `wake-${n++}.sqlite`));
      const { arb, published, mine, stop } = court(f.db, sim);
      await arb.updateChannel(snapshot(sim));
      await arb.watchesReady();
      const wake = wakeHeight(await arb.state(sim.chanPoint));
      assert.equal(wake, H + 20);
      f.arm(ARBITRATOR_EVENT.BlockConnected, 1);
      await mine(block(H + 20));
      assert.equal(f.fired(), 1);
      assert.equal(kindOf(f.db, sim.chanPoint), 'Default', 'the commit failed: nothing changed');
      await mine(block(H + 21));
      await arb.idle();
      assert.equal(kindOf(f.db, sim.chanPoint), 'CommitmentBroadcasted');
      assert.deepEqual(published, [sim.commitment('alice', sim.latestNumber).txid]);
      await stop();
      f.db.close();
    });

    it(`a funding spend whose delivery fails is delivered again with the next block (${format})`, async () => {
      // fails on a1a5213: the spend was seen in one block only; its failed delivery lost it and the channel
      // never learnt that it had closed.
      const sim = channel(format);
      const f = faultyDb(join(tmp.dir, `spend-${n++}.sqlite`));
      const { arb, mine, stop } = court(f.db, sim);
      await arb.updateChannel(snapshot(sim));
      await arb.watchesReady();
      const theirs = sim.signedCommitment('bob', sim.currentNumber);
      f.arm(ARBITRATOR_EVENT.BlockConnected, 1);
      await mine(block(H + 1, [theirs]));
      assert.equal(f.fired(), 1);
      await mine(block(H + 2));
      await arb.idle();
      assert.equal(kindOf(f.db, sim.chanPoint), 'WaitingFullResolution');
      const s = await arb.state(sim.chanPoint);
      assert.equal(s.kind === 'WaitingFullResolution' ? s.close.height : 0, H + 1, 'the close is dated by its own block');
      assert.equal(pendingRows(f.db, sim.chanPoint), 0);
      await stop();
      f.db.close();
    });

    it(`ResolveClose whose result fails to commit stays pending and runs again on the next block (${format})`, async () => {
      // fails on a1a5213: ResolveClose was marked done although its CloseConfirmed never committed; the channel
      // stayed in Default with a spend "resolving" forever (no wake-up, nothing pending).
      const sim = channel(format);
      const f = faultyDb(join(tmp.dir, `result-${n++}.sqlite`));
      const { arb, mine, stop } = court(f.db, sim);
      await arb.updateChannel(snapshot(sim));
      await arb.watchesReady();
      // Three times: the first run, the retry the watch's delivery makes once the channel is marked pending, and the
      // retry of the block itself (the pending channel gets every block).
      f.arm(ARBITRATOR_EVENT.CloseConfirmed, 3);
      await mine(block(H + 1, [sim.signedCommitment('bob', sim.currentNumber)]));
      await arb.idle();
      assert.equal(kindOf(f.db, sim.chanPoint), 'Default');
      assert.equal(pendingRows(f.db, sim.chanPoint), 1, 'ResolveClose is still pending');
      await mine(block(H + 2));
      await arb.idle();
      assert.equal(kindOf(f.db, sim.chanPoint), 'WaitingFullResolution');
      assert.equal(pendingRows(f.db, sim.chanPoint), 0);
      assert.equal(f.fired(), 3);
      await stop();
      f.db.close();
    });

    it(`a pulse whose commit fails is taken again on the next block, not only at restart (${format})`, async () => {
      // fails on a1a5213: ContractClosed's Persisted step failed (after the result, after the event) and nothing
      // took it again: a ContractClosed channel gets no blocks, so it stayed there until a restart.
      const sim = channel(format);
      const f = faultyDb(join(tmp.dir, `pulse-${n++}.sqlite`));
      const { arb, mine, stop } = court(f.db, sim);
      await arb.updateChannel(snapshot(sim));
      await arb.watchesReady();
      // Four times: after the result, after the event, and in the retries the watch's delivery and the block make.
      f.arm(ARBITRATOR_EVENT.Persisted, 4);
      await mine(block(H + 1, [sim.signedCommitment('bob', sim.currentNumber)]));
      await arb.idle();
      assert.equal(kindOf(f.db, sim.chanPoint), 'ContractClosed');
      await mine(block(H + 2));
      await arb.idle();
      assert.equal(kindOf(f.db, sim.chanPoint), 'WaitingFullResolution');
      assert.equal(pendingRows(f.db, sim.chanPoint), 0);
      assert.equal(f.fired(), 4);
      await stop();
      f.db.close();
    });

    it(`a preimage whose delivery fails is refused to the caller and delivered again with the next block (${format}) (review)`, async () => {
      // Before: addPreimage logged the failure and answered as if routed; nothing retried it and the incoming HTLC
      // never went on chain before its cutoff.
      const sim = openChannel(format);
      const p = sha256(new TextEncoder().encode(`fault preimage ${format}`));
      sim.addHtlc('bob', 30_000_000n, H + 30, p); // with its preimage: cutoff H + 14
      sim.commit();
      const f = faultyDb(join(tmp.dir, `preimage-${n++}.sqlite`));
      const { arb, published, mine, stop } = court(f.db, sim);
      await arb.updateChannel(snapshot(sim));
      await arb.watchesReady();
      await mine(block(H + 14));
      f.arm(ARBITRATOR_EVENT.PreimageLearned, 1);
      await assert.rejects(arb.addPreimage(p, 'node'), (e: unknown) => (e as { code?: string }).code === 'COURT_E_DELIVERY_FAILED');
      assert.equal(kindOf(f.db, sim.chanPoint), 'Default');
      await mine(block(H + 15));
      await arb.idle();
      assert.equal(kindOf(f.db, sim.chanPoint), 'CommitmentBroadcasted', 'the retried preimage took the channel on chain');
      assert.deepEqual(published, [sim.commitment('alice', sim.latestNumber).txid]);
      await stop();
      f.db.close();
    });

    it(`a first snapshot whose delivery fails is removed; the next one is checked and watched as a first one (${format}) (review)`, async () => {
      // Before: the channel row outlived the dropped snapshot, so the next snapshot skipped the funding check and
      // never got its funding watch.
      const sim = channel(format);
      const f = faultyDb(join(tmp.dir, `first-${n++}.sqlite`));
      const { arb, stop, registered } = court(f.db, sim);
      f.arm(ARBITRATOR_EVENT.ChannelUpdated, 1);
      await assert.rejects(arb.updateChannel(snapshot(sim)));
      assert.deepEqual(registered, [], 'no watch for a channel whose snapshot was not taken in');
      await arb.updateChannel(snapshot(sim));
      assert.deepEqual(registered, [sim.chanPoint]);
      await stop();
      f.db.close();
    });

    it(`a late revocation whose delivery fails is delivered again with the next block: still a breach (${format}) (review)`, async () => {
      const sim = channel(format);
      const f = faultyDb(join(tmp.dir, `revocation-${n++}.sqlite`));
      const { arb, mine, stop } = court(f.db, sim);
      await arb.updateChannel(snapshot(sim));
      arb.addRevocation(sim.chanPoint, sim.revealedSecret('bob', 0), 0);
      await arb.watchesReady();
      const n0 = sim.currentNumber;
      await mine(block(H + 1, [sim.signedCommitment('bob', n0)]));
      await arb.idle();
      assert.equal(kindOf(f.db, sim.chanPoint), 'WaitingFullResolution');
      sim.commit();
      f.arm(ARBITRATOR_EVENT.RevocationAdded, 1);
      arb.addRevocation(sim.chanPoint, sim.revealedSecret('bob', n0), n0);
      await arb.idle();
      assert.equal(f.fired(), 1);
      await mine(block(H + 2));
      await arb.idle();
      const s = await arb.state(sim.chanPoint);
      assert.equal(s.kind === 'WaitingFullResolution' || s.kind === 'ContractClosed' ? s.close.type : s.kind, 'breach');
      await stop();
      f.db.close();
    });
  }
});
