/**
 * The ResolverRunner decides its first launch on the node's fee estimate, not on its 253 sat/kw placeholder: a
 * launch at start-up comes before any block (found by the breach crash suite: after a restart an anchor was offered
 * at the relay floor, could never be swept, and its channel never reached FullyResolved).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { KeyRing } from '../../src/keys/keyring.js';
import { LocalSigner } from '../../src/keys/signer.js';
import { ResolverRunner } from '../../src/resolvers/runner.js';
import { RESOLVER_KIND } from '../../src/store/codes.js';
import { openDatabase, type Db } from '../../src/store/db.js';
import { migrate } from '../../src/store/migrate.js';
import type { SweeperPort } from '../../src/sweep/types.js';
import { sha256 } from '../../src/util/bytes.js';
import { tempDir } from '../helpers/db.js';
import { anchorRecord, CHAN, CLOSE_HEIGHT } from './fixtures.js';

const ring = KeyRing.fromSeed(sha256(new TextEncoder().encode('runner launch test')), 1);
let db: Db;
let tmp: ReturnType<typeof tempDir>;

describe('ResolverRunner: the first launch', () => {
  before(() => {
    tmp = tempDir('runner-launch');
    db = openDatabase(join(tmp.dir, 'b.sqlite'));
    migrate(db);
    db.prepare("INSERT INTO channel (chan_point, capacity_sat, commitment_type, initiator, funding_height_hint) VALUES (?, '1000000', 1, 0, 100)").run(CHAN);
    const rec = anchorRecord();
    db.prepare('INSERT INTO resolver (chan_point, outpoint, kind, version, state) VALUES (?, ?, ?, 1, ?)').run(
      CHAN,
      rec.outpoint,
      RESOLVER_KIND.Anchor,
      JSON.stringify({ v: 1, closeType: rec.closeType, closeTxid: rec.closeTxid, closeHeight: rec.closeHeight, output: rec.output, deadline: rec.deadline, stage: 'launched' }),
    );
  });
  after(() => {
    db.close();
    tmp.remove();
  });

  it('an anchor that does not pay for itself at the node estimate is not offered at a launch before any block', async () => {
    const offered: string[] = [];
    const cancelled: string[] = [];
    const sweeper: SweeperPort = {
      offer: (s) => void offered.push(s.outpoint),
      cancel: (op) => void cancelled.push(op),
      bump: () => undefined,
      pending: () => [],
      unacked: () => [],
      ack: () => undefined,
      onResult: () => undefined,
    };
    let asked = 0;
    const runner = new ResolverRunner({
      db,
      sweeper,
      keyring: ring,
      signer: new LocalSigner(ring),
      broadcaster: { publish: async (tx) => ({ kind: 'accepted', txid: tx.getId() }) },
      watches: { watchSpend: () => ({ id: 1, ready: Promise.resolve(), cancel: () => undefined }) },
      // 20 sat/vB: sweeping 330 sat alone costs far more than half of it
      fees: {
        feeRatePerKw: async () => {
          asked++;
          return 5_000n;
        },
      },
      height: CLOSE_HEIGHT + 1,
      retry: { baseMs: 5, maxMs: 40 },
    });
    runner.attach({ resolverFinished: async () => undefined, addPreimage: async () => ({ paymentHash: '00'.repeat(32), channels: [] }) });
    runner.launch(CHAN);
    await runner.idle();
    assert.ok(asked >= 1, 'the estimate was asked before the launch');
    assert.deepEqual(offered, [], 'not offered');
    assert.deepEqual(cancelled, [anchorRecord().outpoint], 'any CPFP offer of it withdrawn');
    await runner.stop();
  });
});
