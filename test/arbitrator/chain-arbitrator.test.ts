/**
 * The ChainArbitrator and the chain layer's funding watches (one owner for spends and reorgs), over a fake chain
 * with the real dispatcher and ChainWatches: a reorg that removes a seen funding spend clears it, both when the
 * spend was seen in this process and after a restart (the watch's rescan from the height hint finds the spend
 * again, so its reorg is reported), and no other channel is touched; a channel registered after its funding
 * output was spent finds the spend through the rescan.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { SIM_COIN_TYPE } from '../../regtest/sim-keys.js';
import type { ChannelSimulator } from '../../regtest/simulator.js';
import type { Transaction } from 'bitcoinjs-lib';
import { ChainArbitrator, preimageSink } from '../../src/arbitrator/chain-arbitrator.js';
import { MemoryBlockLog } from '../../src/chain/block-log.js';
import { BlockDispatcher } from '../../src/chain/dispatcher.js';
import type { BlockRef, ChainEvent, OutputSource, PublishResult } from '../../src/chain/ports.js';
import { ChainWatches } from '../../src/chain/watches.js';
import { sha256, toHex } from '../../src/util/bytes.js';
import { CourtError } from '../../src/util/errors.js';
import { KeyRing } from '../../src/keys/keyring.js';
import { LocalSigner } from '../../src/keys/signer.js';
import { openDatabase, type Db } from '../../src/store/db.js';
import { migrate } from '../../src/store/migrate.js';
import { aliceArbitrator } from '../helpers/arbitrator.js';
import { tempDir } from '../helpers/db.js';
import { FakeChain, instantSleep, NO_SPENDS } from '../helpers/fake-chain.js';
import { openChannel } from '../simulator/fixture.js';
import { eventually, recordingLogger } from '../helpers/async.js';
import { parseSnapshot, snapshotJson } from '../../src/arbitrator/snapshot.js';
import { addRevocationSecret, storePreimage } from '../../src/arbitrator/store.js';
import { MAX_SHACHAIN_INDEX } from '../../src/ln/shachain.js';
import { ARBITRATOR_STATE, CLOSE_TYPE } from '../../src/store/codes.js';

interface Court {
  readonly arb: ChainArbitrator;
  readonly dispatcher: BlockDispatcher;
  readonly watches: ChainWatches;
  readonly log: MemoryBlockLog;
}

/** Dispatcher -> watches -> arbitrator over `chain`, resuming from `refs` (a restart) if given. */
function court(
  db: Db,
  chain: FakeChain,
  sim: ChannelSimulator,
  refs: readonly BlockRef[] = [],
  outputs?: OutputSource,
  registered?: string[],
): Court {
  const ring = KeyRing.fromSeed(sim.parties.alice.seed, SIM_COIN_TYPE);
  const log = new MemoryBlockLog(refs);
  const dispatcher = new BlockDispatcher({ source: chain, blockLog: log, startHeight: 0, sleep: instantSleep().sleep });
  const watches = new ChainWatches({ source: chain, utxo: chain, view: dispatcher });
  const arb = new ChainArbitrator({
    db,
    keyring: ring,
    signer: new LocalSigner(ring),
    watches: {
      watchSpend: (op, hint, on) => {
        registered?.push(`${op.txid}:${op.vout}@${hint}`);
        return watches.watchSpend(op, hint, on);
      },
    },
    broadcaster: { publish: async () => assert.fail('nothing is broadcast here') },
    closeDepth: { min: 3, max: 3 },
    ...(outputs === undefined ? {} : { outputs }),
  });
  dispatcher.subscribe(watches.onChainEvent);
  dispatcher.subscribe(arb.onChainEvent);
  return { arb, dispatcher, watches, log };
}

const H = 300;

const connected = (height: number, txs: Transaction[]): ChainEvent => {
  const hash = toHex(sha256(new TextEncoder().encode(`chain-arbitrator.test block ${height}`)));
  return { type: 'BlockConnected', height, hash, block: { hash, height, prevHash: '00'.repeat(32), txs, txids: txs.map((t) => t.getId()) } };
};


/** An arbitrator alone (no chain layer), driven by onChainEvent directly. */
function arbitrator(db: Db, sim: ChannelSimulator, publish?: (tx: Transaction) => Promise<PublishResult>, logger?: ReturnType<typeof recordingLogger>): ChainArbitrator {
  return aliceArbitrator(db, sim, {
    watches: NO_SPENDS,
    closeDepth: 3,
    publish: publish ?? (async () => assert.fail('nothing is broadcast here')),
    ...(logger === undefined ? {} : { logger }),
  }).arb;
}

async function stop(c: Court): Promise<void> {
  await c.arb.stop();
  await c.dispatcher.stop();
  await c.watches.stop();
}

const accept = async (tx: Transaction): Promise<PublishResult> => ({ kind: 'accepted', txid: tx.getId() });
const currentSeq = (db: Db, cp: string): number | undefined =>
  db.prepare<[string], { seq: number }>('SELECT seq FROM channel_snapshot_current WHERE chan_point = ?').get(cp)?.seq;

const spendOf = (arb: ChainArbitrator, cp: string) => arb.state(cp).then((s) => ('spend' in s ? s.spend : undefined));

describe('ChainArbitrator with the chain layer watches', () => {
  const tmp = tempDir('chain-arbitrator');
  after(() => tmp.remove());

  /** A fresh briefcase over a FakeChain of 3 blocks, with every channel's snapshot taken in and its watch ready. */
  const registeredCourt = async (file: string, ...sims: ChannelSimulator[]): Promise<{ db: Db; chain: FakeChain; c: Court }> => {
    const db = openDatabase(join(tmp.dir, file));
    migrate(db);
    const chain = new FakeChain();
    chain.mine(3);
    const c = court(db, chain, sims[0] as ChannelSimulator);
    c.arb.start(0);
    await c.dispatcher.poll();
    for (const sim of sims) await c.arb.updateChannel(sim.snapshot('alice'));
    await c.arb.watchesReady();
    return { db, chain, c };
  };

  /** The arbitrator takes the chain's new blocks, then a fresh one starts from the same briefcase and block log. */
  const restarted = async (db: Db, chain: FakeChain, c: Court, sim: ChannelSimulator, registered?: string[]): Promise<Court> => {
    await stop(c);
    const next = court(db, chain, sim, c.log.load(), undefined, registered);
    next.arb.start(chain.tip.height);
    await next.arb.watchesReady();
    return next;
  };

  it('clears a seen funding spend when its block is disconnected, before and after a restart', async () => {
    const db = openDatabase(join(tmp.dir, 'reorg.sqlite'));
    migrate(db);
    const chain = new FakeChain();
    chain.mine(5);
    const a = openChannel('anchors');
    const b = openChannel('static_remotekey');
    a.commit();
    b.commit();
    let c = court(db, chain, a);
    c.arb.start(0);
    await c.dispatcher.poll();
    await c.arb.updateChannel(a.snapshot('alice'));
    await c.arb.updateChannel(b.snapshot('alice'));
    await c.arb.watchesReady();
    const [spendBlock] = chain.mine(1, [a.signedCommitment('bob', a.currentNumber)]);
    await c.dispatcher.poll();
    assert.equal((await spendOf(c.arb, a.chanPoint))?.height, spendBlock?.height);
    chain.reorg(1, 2);
    await c.dispatcher.poll();
    assert.equal(await spendOf(c.arb, a.chanPoint), undefined, 'the spend left with its block');

    const [again] = chain.mine(1, [a.signedCommitment('bob', a.currentNumber)]);
    const [bBlock] = chain.mine(1, [b.signedCommitment('bob', b.currentNumber)]);
    await c.dispatcher.poll();
    assert.equal((await spendOf(c.arb, b.chanPoint))?.height, bBlock?.height);
    await stop(c);
    c = court(db, chain, a, c.log.load());
    c.arb.start(bBlock?.height ?? 0);
    await c.arb.watchesReady();
    chain.reorg(1, 1);
    await c.dispatcher.poll();
    assert.equal(await spendOf(c.arb, b.chanPoint), undefined, 'after a restart, the spend in the disconnected block is cleared');
    assert.equal((await spendOf(c.arb, a.chanPoint))?.height, again?.height, 'a spend below the disconnected block stays');
    await stop(c);
    db.close();
  });

  it('a restart keeps the snapshots of a closed channel (third review: start-up deleted them)', async () => {
    const a = openChannel('anchors');
    a.commit();
    const { db, chain, c } = await registeredCourt('keep.sqlite', a);
    chain.mine(1, [a.signedCommitment('alice', a.latestNumber)]); // our commitment, published by the node
    chain.mine(3);
    await c.dispatcher.poll();
    await c.arb.idle();
    assert.equal((await c.arb.state(a.chanPoint)).kind, 'WaitingFullResolution');
    const rows = (): number[] => db.prepare<[string], { seq: number }>('SELECT seq FROM channel_snapshot WHERE chan_point = ?').all(a.chanPoint).map((r) => r.seq);
    assert.deepEqual(rows(), [1]);
    const again = await restarted(db, chain, c, a);
    await again.arb.idle();
    assert.deepEqual(rows(), [1], 'the snapshot a reorg would reopen the channel with is still there');
    await stop(again);
    db.close();
  });

  it('a close deeper than the block log keeps is final at restart: no watch and no rescan from it (review: mass exits)', async () => {
    const a = openChannel('anchors');
    const b = openChannel('static_remotekey');
    a.commit();
    b.commit();
    const { db, chain, c } = await registeredCourt('deep.sqlite', a, b);
    chain.mine(1, [a.signedCommitment('bob', a.currentNumber)]);
    chain.mine(105);
    chain.mine(1, [b.signedCommitment('bob', b.currentNumber)]);
    chain.mine(3);
    await c.dispatcher.poll();
    await c.arb.idle();
    assert.equal((await c.arb.state(a.chanPoint)).kind, 'WaitingFullResolution');
    assert.equal((await c.arb.state(b.chanPoint)).kind, 'WaitingFullResolution');
    const registered: string[] = [];
    const again = await restarted(db, chain, c, a, registered);
    assert.deepEqual(registered.map((r) => r.split('@')[0]), [b.chanPoint], 'only the shallow close is watched');
    assert.equal((await again.arb.state(a.chanPoint)).kind, 'WaitingFullResolution', 'the deep close stays as it was');
    await stop(again);
    db.close();
  });

  it('an unresolved close is classified again at start: a secret stored just before a crash still makes it a breach (third review)', async () => {
    const a = openChannel('static_remotekey');
    a.commit();
    a.commit();
    const { db, chain, c } = await registeredCourt('unresolved-restart.sqlite', a); // the node never passed the secrets on
    chain.mine(1, [a.signedCommitment('bob', a.currentNumber - 1)]);
    chain.mine(3);
    await c.dispatcher.poll();
    await c.arb.idle();
    assert.equal((await c.arb.state(a.chanPoint)).kind, 'CloseUnresolved');
    await stop(c);
    // The secrets were stored, and the process died before the reclassification was delivered.
    for (let n = 0; n < a.currentNumber; n++) addRevocationSecret(db, a.chanPoint, (store) => store.insert(a.revealedSecret('bob', n), MAX_SHACHAIN_INDEX - n));
    const again = await restarted(db, chain, c, a);
    await eventually(() => {
      const row = db.prepare<[string], { close_type: number | null }>('SELECT close_type FROM arbitrator_state WHERE chan_point = ?').get(a.chanPoint);
      return row?.close_type === CLOSE_TYPE.Breach;
    }, 5_000, 'the close classified a breach after the restart');
    await stop(again);
    db.close();
  });

  it('a channel registered after its funding output was spent finds the spend (rescan from its height hint)', async () => {
    const db = openDatabase(join(tmp.dir, 'late.sqlite'));
    migrate(db);
    const chain = new FakeChain();
    chain.mine(3);
    const a = openChannel('static_remotekey');
    a.commit();
    const [spent] = chain.mine(1, [a.signedCommitment('bob', a.currentNumber)]);
    chain.mine(1);
    const c = court(db, chain, a);
    c.arb.start(0);
    await c.dispatcher.poll();
    await c.arb.updateChannel(a.snapshot('alice', { fundingHeightHint: 2 }));
    await c.arb.watchesReady();
    await c.arb.idle();
    assert.equal((await spendOf(c.arb, a.chanPoint))?.height, spent?.height);
    await stop(c);
    db.close();
  });
});

describe('ChainArbitrator: the funding height hint is bounded by the funding transaction (review)', () => {
  const tmp = tempDir('chain-arbitrator-hint');
  after(() => tmp.remove());

  it('a hint above the block of the funding transaction cannot hide a spend from the rescan', async () => {
    // Before: the watch rescanned from the node's hint (here the tip), and a close mined below it was never seen.
    const db = openDatabase(join(tmp.dir, 'hint.sqlite'));
    migrate(db);
    const chain = new FakeChain();
    chain.mine(3);
    const a = openChannel('static_remotekey');
    a.commit();
    const [spent] = chain.mine(1, [a.signedCommitment('bob', a.currentNumber)]);
    chain.mine(3);
    // The funding transaction's block as the node reports it (height 2), the output already spent.
    const outputs: OutputSource = {
      getOutput: async () => ({ valueSat: a.capacitySat, scriptPubKey: a.fundingScriptPubKey, spent: true, confirmedHeight: 2 }),
    };
    const c = court(db, chain, a, [], outputs);
    c.arb.start(0);
    await c.dispatcher.poll();
    await c.arb.updateChannel(a.snapshot('alice', { fundingHeightHint: 7 }));
    await c.arb.watchesReady();
    await c.arb.idle();
    const s = await c.arb.state(a.chanPoint);
    assert.equal(s.kind === 'WaitingFullResolution' ? s.close.height : s.kind, spent?.height, 'the close below the hint was found and resolved');
    await stop(c);
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

  it('a snapshot refused by a closing channel and left by a crash is removed at the next start (review)', async () => {
    // Before: start-up only looked at Default channels, so the refused row stayed the current snapshot for good.
    const db = openDatabase(join(tmp.dir, 'refused-crash.sqlite'));
    migrate(db);
    const a = openChannel('static_remotekey');
    a.commit();
    let arb = arbitrator(db, a, accept);
    arb.start(H);
    await arb.updateChannel(a.snapshot('alice'));
    await arb.forceClose(a.chanPoint);
    await arb.idle();
    await arb.stop();
    a.commit();
    db.prepare('INSERT INTO channel_snapshot (chan_point, seq, snapshot, received_height) VALUES (?, 2, ?, ?)').run(
      a.chanPoint,
      JSON.stringify(snapshotJson(parseSnapshot(a.snapshot('alice')))),
      H,
    );
    assert.equal(currentSeq(db, a.chanPoint), 2);
    arb = arbitrator(db, a, accept);
    arb.start(H);
    await eventually(() => currentSeq(db, a.chanPoint) === 1, 5_000, 'the refused snapshot removed');
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

  it('a preimage stored just before a crash, never routed, reaches its channel at the next start', async () => {
    // Before: only the node's repeated call would route it; an incoming HTLC past its cutoff stayed off chain.
    const db = openDatabase(join(tmp.dir, 'route-at-start.sqlite'));
    migrate(db);
    const a = openChannel('anchors');
    const p = pre('crash');
    a.addHtlc('bob', 20_000_000n, H + 17, p); // incoming for alice: cutoff H + 1
    a.commit();
    let arb = arbitrator(db, a, accept);
    arb.start(H);
    await arb.updateChannel(a.snapshot('alice'));
    await arb.stop();
    storePreimage(db, toHex(sha256(p)), toHex(p), 0, H); // stored; the process died before routing it
    arb = arbitrator(db, a, accept);
    arb.start(H + 1);
    await eventually(() => {
      const row = db.prepare<[string], { state: number }>('SELECT state FROM arbitrator_state WHERE chan_point = ?').get(a.chanPoint);
      return row?.state === ARBITRATOR_STATE.BroadcastCommit || row?.state === ARBITRATOR_STATE.CommitmentBroadcasted;
    }, 5_000, 'the channel on chain for the preimage it holds');
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
