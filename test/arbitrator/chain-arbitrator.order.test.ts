/**
 * Per-channel order equals call order (issue 9 item 12): node calls fired back to back without awaiting reach the
 * ChannelArbitrator in the order they were made, also when the channel's runner has to be built and resumed
 * first (an idle channel has none). So every snapshot update is accepted and a force close right after them
 * broadcasts the newest commitment. The regtest twin (test/regtest/arbitrator.order.test.ts) lets the real node
 * judge the broadcast.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { ChannelSimulator } from '../../regtest/simulator.js';
import { openDatabase } from '../../src/store/db.js';
import { migrate } from '../../src/store/migrate.js';
import { aliceArbitrator } from '../helpers/arbitrator.js';
import { tempDir } from '../helpers/db.js';
import { NO_SPENDS } from '../helpers/fake-chain.js';
import { openChannel } from '../simulator/fixture.js';

const H = 400;


function court(path: string, sim: ChannelSimulator) {
  const db = openDatabase(path);
  migrate(db);
  const { arb, published } = aliceArbitrator(db, sim, { watches: NO_SPENDS, closeDepth: 3 });
  arb.start(H);
  return { db, arb, published };
}

/** Settles every promise; returns each one's state or error code, in call order. */
async function outcomes(calls: Array<Promise<{ state: string }>>): Promise<string[]> {
  const settled = await Promise.allSettled(calls);
  return settled.map((s) => (s.status === 'fulfilled' ? s.value.state : String((s.reason as { code?: string }).code ?? s.reason)));
}

describe('ChainArbitrator: per-channel order is call order', () => {
  const tmp = tempDir('chain-arbitrator-order');
  after(() => tmp.remove());

  for (const format of ['static_remotekey', 'anchors'] as const) {
    it(`three snapshot updates and a force close fired back to back (${format}): all accepted, newest commitment broadcast`, async () => {
      // fails on a1a5213: the first update waited for the runner's resume while the two later updates and the
      // force close queued ahead of it; it was then refused (COURT_E_CHANNEL_CLOSING).
      const sim = openChannel(format);
      sim.commit();
      const { db, arb, published } = court(join(tmp.dir, `three-${format}.sqlite`), sim);
      await arb.updateChannel(sim.snapshot('alice'));
      await arb.idle(); // the channel is idle: its runner is dropped, the next call has to build one
      assert.equal(arb.activeRunners, 0);
      const snaps = [1, 2, 3].map(() => (sim.commit(), sim.snapshot('alice')));
      const calls = [...snaps.map((s) => arb.updateChannel(s)), arb.forceClose(sim.chanPoint)];
      assert.deepEqual(await outcomes(calls), ['Default', 'Default', 'Default', 'BroadcastCommit']);
      await arb.idle();
      assert.deepEqual(published, [sim.commitment('alice', sim.latestNumber).txid], 'the newest commitment, once');
      await arb.stop();
      db.close();
    });

    it(`an update followed at once by a force close (${format}) broadcasts the updated commitment`, async () => {
      // fails on a1a5213: the force close overtook the update and broadcast the older commitment; the update was
      // then refused (COURT_E_CHANNEL_CLOSING).
      const sim = openChannel(format);
      sim.commit();
      const { db, arb, published } = court(join(tmp.dir, `one-${format}.sqlite`), sim);
      await arb.updateChannel(sim.snapshot('alice'));
      await arb.idle();
      const older = sim.commitment('alice', sim.latestNumber).txid;
      sim.commit();
      const calls = [arb.updateChannel(sim.snapshot('alice')), arb.forceClose(sim.chanPoint)];
      assert.deepEqual(await outcomes(calls), ['Default', 'BroadcastCommit']);
      await arb.idle();
      const newest = sim.commitment('alice', sim.latestNumber).txid;
      assert.notEqual(newest, older);
      assert.deepEqual(published, [newest]);
      await arb.stop();
      db.close();
    });
  }
});
