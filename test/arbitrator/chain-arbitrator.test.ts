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
import { ChainArbitrator, preimageSink } from '../../src/arbitrator/chain-arbitrator.js';
import type { ChainEvent, PublishResult } from '../../src/chain/ports.js';
import { CourtError } from '../../src/util/errors.js';
import { KeyRing } from '../../src/keys/keyring.js';
import { LocalSigner } from '../../src/keys/signer.js';
import { openDatabase, type Db } from '../../src/store/db.js';
import { migrate } from '../../src/store/migrate.js';
import { sha256, toHex } from '../../src/util/bytes.js';
import { tempDir } from '../helpers/db.js';
import { openChannel } from '../simulator/fixture.js';
import { eventually, recordingLogger } from '../helpers/async.js';
import { parseSnapshot, snapshotJson } from '../../src/arbitrator/snapshot.js';

const H = 300;
const hashOf = (height: number): string => toHex(sha256(new TextEncoder().encode(`reorg block ${height}`)));
const connected = (height: number, txs: Transaction[]): ChainEvent => ({
  type: 'BlockConnected',
  height,
  hash: hashOf(height),
  block: { hash: hashOf(height), height, prevHash: '00'.repeat(32), txs, txids: txs.map((t) => t.getId()) },
});

function arbitrator(db: Db, sim: ChannelSimulator, publish?: (tx: Transaction) => Promise<PublishResult>, logger?: ReturnType<typeof recordingLogger>): ChainArbitrator {
  const ring = KeyRing.fromSeed(sim.parties.alice.seed, SIM_COIN_TYPE);
  return new ChainArbitrator({
    db,
    keyring: ring,
    signer: new LocalSigner(ring),
    broadcaster: { publish: publish ?? (async () => assert.fail('nothing is broadcast here')) },
    closeDepth: { min: 3, max: 3 },
    ...(logger === undefined ? {} : { logger }),
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
    // A force close and then, before it is processed, an update: the update passes the in-memory open check and is
    // stored, then the machine (in call order: the force close first) refuses it, because the channel is closing.
    const force = arb.forceClose(a.chanPoint);
    const update = arb.updateChannel(a.snapshot('alice'));
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

describe('ChainArbitrator.addPreimage (issue 9 item 4)', () => {
  const tmp = tempDir('chain-arbitrator-preimages');
  after(() => tmp.remove());
  const pre = (label: string): Uint8Array => sha256(new TextEncoder().encode(`chain-arbitrator.test ${label}`));

  it('stores the preimage and routes it by payment hash to the channel carrying it, which applies the rule at once', async () => {
    const db = openDatabase(join(tmp.dir, 'route.sqlite'));
    migrate(db);
    const a = openChannel('anchors');
    const b = openChannel('static_remotekey');
    const p = pre('incoming');
    a.addHtlc('bob', 20_000_000n, H + 17, p); // incoming for alice: cutoff H + 1
    a.commit();
    b.addHtlc('bob', 20_000_000n, H + 300, pre('other'));
    b.commit();
    const log = recordingLogger();
    const published: string[] = [];
    const arb = arbitrator(db, a, async (tx) => {
      published.push(tx.getId());
      return accept(tx);
    }, log);
    arb.start(H);
    await arb.updateChannel(a.snapshot('alice'));
    await arb.updateChannel(b.snapshot('alice'));

    const r1 = await arb.addPreimage(p, 'node');
    assert.deepEqual(r1, { paymentHash: toHex(sha256(p)), channels: [a.chanPoint] }, 'routed to a only');
    let s = await arb.state(a.chanPoint);
    assert.equal(s.kind, 'Default', 'one block before the cutoff: nothing');
    assert.deepEqual(s.kind === 'Default' && s.facts?.preimages, [toHex(sha256(p))]);
    const wake = db.prepare<[string], { wake_height: number }>('SELECT wake_height FROM arbitrator_state WHERE chan_point = ?').get(a.chanPoint);
    assert.equal(wake?.wake_height, H + 1, 'the wake height is the incoming cutoff now');
    await arb.onChainEvent(connected(H + 1, []));
    await arb.idle();
    s = await arb.state(a.chanPoint);
    assert.ok(s.kind === 'BroadcastCommit' || s.kind === 'CommitmentBroadcasted', s.kind);
    assert.deepEqual(published, [a.commitment('alice', a.latestNumber).txid]);
    assert.equal((await arb.state(b.chanPoint)).kind, 'Default');

    // Idempotent (routed again, changes nothing), a stray preimage is stored, a wrong length is refused.
    assert.deepEqual((await arb.addPreimage(p, 'chain')).channels, [a.chanPoint]);
    const stray = pre('stray');
    assert.deepEqual((await preimageSink(arb)(stray, 'chain')).channels, []);
    const rows = db.prepare<[], { payment_hash: string; source: number }>('SELECT payment_hash, source FROM preimage ORDER BY payment_hash').all();
    assert.deepEqual(rows, [{ payment_hash: toHex(sha256(p)), source: 0 }, { payment_hash: toHex(sha256(stray)), source: 1 }].sort((x, y) => x.payment_hash.localeCompare(y.payment_hash)));
    await assert.rejects(arb.addPreimage(new Uint8Array(31), 'node'), (e: unknown) => e instanceof CourtError && e.code === 'COURT_E_INVALID_ARGUMENT');
    assert.equal(db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM preimage').get()?.n, 2, 'a refused preimage stores nothing');
    const text = JSON.stringify(log.lines);
    assert.ok(!text.includes(toHex(p)) && !text.includes(toHex(stray)), 'no preimage in the logs');
    await arb.stop();
    db.close();
  });

  it('the index follows the current snapshot: a hash dropped by a newer snapshot no longer routes; a refused snapshot restores the rows', async () => {
    const db = openDatabase(join(tmp.dir, 'index.sqlite'));
    migrate(db);
    const a = openChannel('anchors');
    const p1 = pre('first');
    const ref = a.addHtlc('alice', 20_000_000n, H + 300, p1);
    a.commit();
    const arb = arbitrator(db, a, accept);
    arb.start(H);
    await arb.updateChannel(a.snapshot('alice'));
    const hashes = (): string[] =>
      db.prepare<[string], { payment_hash: string }>('SELECT payment_hash FROM htlc_payment_hash WHERE chan_point = ?').all(a.chanPoint).map((r) => r.payment_hash);
    assert.deepEqual(hashes(), [toHex(sha256(p1))]);
    a.failHtlc(ref);
    a.commit();
    const p2 = pre('second');
    a.addHtlc('alice', 10_000_000n, H + 300, p2);
    a.commit();
    await arb.updateChannel(a.snapshot('alice'));
    assert.deepEqual(hashes(), [toHex(sha256(p2))]);
    assert.deepEqual((await arb.addPreimage(p1, 'node')).channels, []);
    // Refused (a force close called just before it, as in the snapshot test): the rows of snapshot 2 come back.
    a.addHtlc('alice', 10_000_000n, H + 300, pre('third'));
    a.commit();
    const force = arb.forceClose(a.chanPoint);
    const update = arb.updateChannel(a.snapshot('alice'));
    await assert.rejects(update);
    await force;
    assert.deepEqual(hashes(), [toHex(sha256(p2))]);
    await arb.stop();
    db.close();
  });
});
