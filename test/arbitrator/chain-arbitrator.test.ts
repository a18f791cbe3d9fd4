/**
 * ChainArbitrator routing of reorgs: a disconnected block reaches the channels whose seen funding spend it
 * removes, both when the spend was seen in this process and after a restart (the index is read from the
 * briefcase at the first reorg), and no other channel.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { Transaction } from 'bitcoinjs-lib';
import { SIM_COIN_TYPE } from '../../regtest/sim-keys.js';
import type { ChannelSimulator } from '../../regtest/simulator.js';
import { ChainArbitrator } from '../../src/arbitrator/chain-arbitrator.js';
import type { ChainEvent, PublishResult } from '../../src/chain/ports.js';
import { CourtError } from '../../src/util/errors.js';
import { KeyRing } from '../../src/keys/keyring.js';
import { LocalSigner } from '../../src/keys/signer.js';
import { openDatabase, type Db } from '../../src/store/db.js';
import { migrate } from '../../src/store/migrate.js';
import { sha256, toHex } from '../../src/util/bytes.js';
import { tempDir } from '../helpers/db.js';
import { openChannel } from '../simulator/fixture.js';
import { eventually } from '../helpers/async.js';
import { parseSnapshot, snapshotJson } from '../../src/arbitrator/snapshot.js';

const H = 300;
const hashOf = (height: number): string => toHex(sha256(new TextEncoder().encode(`reorg block ${height}`)));
const connected = (height: number, txs: Transaction[]): ChainEvent => ({
  type: 'BlockConnected',
  height,
  hash: hashOf(height),
  block: { hash: hashOf(height), height, prevHash: '00'.repeat(32), txs, txids: txs.map((t) => t.getId()) },
});

function arbitrator(db: Db, sim: ChannelSimulator, publish?: (tx: Transaction) => Promise<PublishResult>): ChainArbitrator {
  const ring = KeyRing.fromSeed(sim.parties.alice.seed, SIM_COIN_TYPE);
  return new ChainArbitrator({
    db,
    keyring: ring,
    signer: new LocalSigner(ring),
    broadcaster: { publish: publish ?? (async () => assert.fail('nothing is broadcast here')) },
    closeDepth: { min: 3, max: 3 },
  });
}

const accept = async (tx: Transaction): Promise<PublishResult> => ({ kind: 'accepted', txid: tx.getId() });
const currentSeq = (db: Db, cp: string): number | undefined =>
  db.prepare<[string], { seq: number }>('SELECT seq FROM channel_snapshot_current WHERE chan_point = ?').get(cp)?.seq;

const spendOf = (arb: ChainArbitrator, cp: string) => arb.state(cp).then((s) => ('spend' in s ? s.spend : undefined));

describe('ChainArbitrator reorg routing', () => {
  const tmp = tempDir('chain-arbitrator');
  after(() => tmp.remove());

  it('clears a seen funding spend when its block is disconnected, before and after a restart', async () => {
    const db = openDatabase(join(tmp.dir, 'reorg.sqlite'));
    migrate(db);
    const a = openChannel('anchors');
    const b = openChannel('static_remotekey');
    a.commit();
    b.commit();
    let arb = arbitrator(db, a);
    arb.start(H);
    await arb.updateChannel(a.snapshot('alice'));
    await arb.updateChannel(b.snapshot('alice'));
    await arb.onChainEvent(connected(H + 1, [a.signedCommitment('bob', a.currentNumber)]));
    assert.equal((await spendOf(arb, a.chanPoint))?.height, H + 1);
    await arb.onChainEvent({ type: 'BlockDisconnected', height: H + 1, hash: hashOf(H + 1) });
    assert.equal(await spendOf(arb, a.chanPoint), undefined, 'the spend left with its block');

    await arb.onChainEvent(connected(H + 1, [a.signedCommitment('bob', a.currentNumber)]));
    await arb.onChainEvent(connected(H + 2, [b.signedCommitment('bob', b.currentNumber)]));
    await arb.stop();
    arb = arbitrator(db, a);
    arb.start(H + 2);
    await arb.onChainEvent({ type: 'BlockDisconnected', height: H + 2, hash: hashOf(H + 2) });
    assert.equal(await spendOf(arb, b.chanPoint), undefined, 'after a restart, the spend at the disconnected height is cleared');
    assert.equal((await spendOf(arb, a.chanPoint))?.height, H + 1, 'a spend below the disconnected block stays');
    await arb.stop();
    db.close();
  });
});

describe('ChainArbitrator snapshots (issue 9 item 5)', () => {
  const tmp = tempDir('chain-arbitrator-snapshots');
  after(() => tmp.remove());

  it('a snapshot the arbitrator refuses does not stay as the current snapshot; our commitment is built from the one in force', async () => {
    // fails on a1a5213: the refused snapshot 2 stayed in channel_snapshot as the current one (seq 2).
    const db = openDatabase(join(tmp.dir, 'refused.sqlite'));
    migrate(db);
    const a = openChannel('anchors');
    a.commit();
    const published: string[] = [];
    const arb = arbitrator(db, a, async (tx) => {
      published.push(tx.getId());
      return accept(tx);
    });
    arb.start(H);
    await arb.updateChannel(a.snapshot('alice'));
    const first = a.commitment('alice', a.latestNumber).txid;
    a.commit();
    // The channel is idle (no runner): the snapshot's delivery waits for the runner to load, and the force close
    // requested meanwhile is queued first. The snapshot is then refused: the channel is closing.
    const update = arb.updateChannel(a.snapshot('alice'));
    const force = arb.forceClose(a.chanPoint);
    await assert.rejects(update, (e: unknown) => e instanceof CourtError && e.code === 'COURT_E_CHANNEL_CLOSING');
    assert.equal((await force).state, 'BroadcastCommit');
    await arb.idle();
    assert.equal(currentSeq(db, a.chanPoint), 1, 'the refused snapshot is not the current one');
    assert.deepEqual(published, [first], 'our commitment of the snapshot in force was broadcast');
    await arb.stop();
    db.close();
  });

  it('a snapshot stored but not delivered (a crash in between) is delivered at the next start', async () => {
    const db = openDatabase(join(tmp.dir, 'stale.sqlite'));
    migrate(db);
    const a = openChannel('static_remotekey');
    a.commit();
    let arb = arbitrator(db, a);
    arb.start(H);
    await arb.updateChannel(a.snapshot('alice'));
    await arb.stop();
    // What updateChannel's first transaction leaves when the process dies before the delivery.
    a.commit();
    db.prepare('INSERT INTO channel_snapshot (chan_point, seq, snapshot, received_height) VALUES (?, 2, ?, ?)').run(
      a.chanPoint,
      JSON.stringify(snapshotJson(parseSnapshot(a.snapshot('alice')))),
      H,
    );
    arb = arbitrator(db, a);
    arb.start(H);
    const seqOf = (): number | undefined =>
      db.prepare<[string], { snapshot_seq: number }>('SELECT snapshot_seq FROM arbitrator_state WHERE chan_point = ?').get(a.chanPoint)?.snapshot_seq;
    await eventually(() => seqOf() === 2, 5_000, 'the stored snapshot 2 taken in after the restart');
    assert.equal(currentSeq(db, a.chanPoint), 2);
    await arb.stop();
    db.close();
  });
});
