/**
 * courtd's revocation log (src/arbitrator/revocation-log.ts, migrations/0011): every remote commitment's HTLC set is
 * written with the snapshot that gave it (one transaction: a refused update writes neither), kept when that
 * commitment is revoked and when later snapshots no longer carry its HTLCs, back-filled from snapshots stored
 * before the migration, and read by the breach resolution so every HTLC output of a revoked commitment gets its
 * witness script (unmatchedBreachOutputs is empty), including a revocation that arrives after the close.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { Transaction } from 'bitcoinjs-lib';
import { SIM_COIN_TYPE } from '../../regtest/sim-keys.js';
import type { ChannelSimulator } from '../../regtest/simulator.js';
import { ChainArbitrator } from '../../src/arbitrator/chain-arbitrator.js';
import { closeResolutions, unmatchedBreachOutputs } from '../../src/arbitrator/resolutions.js';
import { loggedCommitment } from '../../src/arbitrator/revocation-log.js';
import { checkSnapshot, classifierView, ourBasepointsFrom, parseSnapshot, snapshotJson } from '../../src/arbitrator/snapshot.js';
import { resolverRows, storeSnapshot } from '../../src/arbitrator/store.js';
import type { BreachResolution } from '../../src/arbitrator/types.js';
import { MemoryBlockLog } from '../../src/chain/block-log.js';
import { BlockDispatcher } from '../../src/chain/dispatcher.js';
import { ChainWatches } from '../../src/chain/watches.js';
import { KeyRing } from '../../src/keys/keyring.js';
import { LocalSigner } from '../../src/keys/signer.js';
import type { CommitmentFormat } from '../../src/ln/commitment.js';
import { CLOSE_TYPE, RESOLVER_KIND } from '../../src/store/codes.js';
import { openDatabase, type Db } from '../../src/store/db.js';
import { loadMigrations, migrate } from '../../src/store/migrate.js';
import { toHex } from '../../src/util/bytes.js';
import { CourtError } from '../../src/util/errors.js';
import { classifyClose } from '../../src/watcher/classify.js';
import { eventually } from '../helpers/async.js';
import { tempDir } from '../helpers/db.js';
import { FakeChain, instantSleep } from '../helpers/fake-chain.js';
import { openChannel } from '../simulator/fixture.js';

const tmp = tempDir('revocation-log');
after(() => tmp.remove());

const OUT = { amountMsat: 50_000_000n, cltv: 500_100 }; // alice -> bob, stays
const IN = { amountMsat: 30_000_000n, cltv: 500_200 }; // bob -> alice, stays
const GONE_OUT = { amountMsat: 25_000_000n, cltv: 500_400 }; // alice -> bob, failed after commitment 1
const GONE_IN = { amountMsat: 35_000_000n, cltv: 500_500 }; // bob -> alice, settled after commitment 1

interface Court {
  readonly db: Db;
  readonly chain: FakeChain;
  readonly arb: ChainArbitrator;
  readonly dispatcher: BlockDispatcher;
  readonly watches: ChainWatches;
}

function court(file: string, sim: ChannelSimulator): Court {
  const db = openDatabase(join(tmp.dir, file));
  migrate(db);
  const chain = new FakeChain();
  chain.mine(3);
  const ring = KeyRing.fromSeed(sim.parties.alice.seed, SIM_COIN_TYPE);
  const dispatcher = new BlockDispatcher({ source: chain, blockLog: new MemoryBlockLog([]), startHeight: 0, sleep: instantSleep().sleep });
  const watches = new ChainWatches({ source: chain, utxo: chain, view: dispatcher });
  const arb = new ChainArbitrator({
    db,
    keyring: ring,
    signer: new LocalSigner(ring),
    watches,
    broadcaster: { publish: async (tx: Transaction) => ({ kind: 'accepted', txid: tx.getId() }) },
    closeDepth: { min: 1, max: 1 },
  });
  dispatcher.subscribe(watches.onChainEvent);
  dispatcher.subscribe(arb.onChainEvent);
  return { db, chain, arb, dispatcher, watches };
}

async function stop(c: Court): Promise<void> {
  await c.arb.stop();
  await c.dispatcher.stop();
  await c.watches.stop();
  c.db.close();
}

/**
 * Commitment n (revoked later) carries OUT, IN, GONE_OUT and GONE_IN; the next ones only OUT and IN. alice's
 * courtd receives a snapshot after each step, so GONE_* are only in the earlier snapshots.
 */
async function history(c: Court, sim: ChannelSimulator): Promise<number> {
  c.arb.start(0);
  await c.dispatcher.poll();
  sim.addHtlc('alice', OUT.amountMsat, OUT.cltv);
  sim.addHtlc('bob', IN.amountMsat, IN.cltv);
  const goneOut = sim.addHtlc('alice', GONE_OUT.amountMsat, GONE_OUT.cltv);
  const goneIn = sim.addHtlc('bob', GONE_IN.amountMsat, GONE_IN.cltv);
  sim.commit();
  await c.arb.updateChannel(sim.snapshot('alice'));
  await c.arb.watchesReady();
  const n = sim.currentNumber;
  sim.failHtlc(goneOut);
  const preimage = sim.preimage('alice', sim.htlc(goneIn).paymentHash) as Uint8Array;
  sim.settleHtlc(goneIn, preimage);
  sim.commit();
  await c.arb.updateChannel(sim.snapshot('alice'));
  sim.commit();
  await c.arb.updateChannel(sim.snapshot('alice'));
  return n;
}

/** The revoked commitment's HTLC outputs, by amount in sat (each amount is distinct here). */
function htlcAmounts(sim: ChannelSimulator, n: number): string[] {
  return sim
    .commitment('bob', n)
    .commitment.outputs.filter((o) => o.kind === 'offered_htlc' || o.kind === 'received_htlc')
    .map((o) => o.amountSat.toString())
    .sort();
}

type BreachRecordOutput = BreachResolution['outputs'][number] & Omit<BreachResolution, 'outputs'>;

/** The channel's breach resolver rows (one per output of the revoked commitment, D20b), as one resolution. */
function breachRecord(c: Court, cp: string): BreachResolution {
  const outs = resolverRows(c.db, cp)
    .filter((r) => r.kind === RESOLVER_KIND.Breach)
    .map((r) => (r.state as unknown as { output: BreachRecordOutput }).output);
  assert.ok(outs.length > 0, 'breach resolver rows');
  const { commitmentNumber, perCommitmentPoint, secondLevelScript, theirToSelfDelay } = outs[0] as BreachRecordOutput;
  const outputs = outs.map(({ commitmentNumber: _n, perCommitmentPoint: _p, secondLevelScript: _s, theirToSelfDelay: _d, ...o }) => o);
  return { commitmentNumber, perCommitmentPoint, outputs, secondLevelScript, theirToSelfDelay };
}

for (const format of ['static_remotekey', 'anchors'] as CommitmentFormat[]) {
  describe(`revocation log (${format})`, () => {
    it('keeps a revoked commitment HTLC set that only earlier snapshots carried; the breach matches every HTLC output', async () => {
      const sim = openChannel(format);
      const c = court(`log-${format}.sqlite`, sim);
      const n = await history(c, sim);
      // The current snapshot no longer knows GONE_*; the log still holds commitment n with all four.
      const logged = loggedCommitment(c.db, sim.chanPoint, n);
      assert.ok(logged !== undefined);
      assert.equal(logged.perCommitmentPoint, toHex(sim.parties.bob.perCommitmentPoint(n)));
      assert.deepEqual(
        logged.htlcs.map((h) => h.amountMsat).sort(),
        [OUT, IN, GONE_OUT, GONE_IN].map((h) => h.amountMsat).sort(),
      );
      // Revocations arrive (the node forwards every secret), then bob publishes commitment n.
      for (let k = 0; k < sim.currentNumber; k++) c.arb.addRevocation(sim.chanPoint, sim.revealedSecret('bob', k), k);
      const tx = sim.signedCommitment('bob', n);
      c.chain.mine(1, [tx]);
      await c.dispatcher.poll();
      await c.arb.idle();
      const breach = breachRecord(c, sim.chanPoint);
      assert.equal(breach.commitmentNumber, n);
      const htlcOuts = breach.outputs.filter((o) => o.kind !== 'to_local');
      assert.deepEqual(htlcOuts.map((o) => o.amountSat).sort(), htlcAmounts(sim, n), 'every HTLC output of the revoked commitment');
      assert.equal(htlcOuts.length, 4);

      // Without the log (the snapshot in force alone) two outputs would stay unmatched; with it none.
      const s = parseSnapshot(sim.snapshot('alice'));
      const ring = KeyRing.fromSeed(sim.parties.alice.seed, SIM_COIN_TYPE);
      const checked = checkSnapshot(s, ourBasepointsFrom(s, (l) => ring.publicKey(l)));
      const cls = classifyClose(classifierView(checked, sim.receivedSecrets('alice')), tx);
      assert.equal(unmatchedBreachOutputs(checked, cls, tx).length, 2);
      assert.deepEqual(unmatchedBreachOutputs(checked, cls, tx, { revokedHtlcs: logged.htlcs }), []);
      assert.deepEqual(closeResolutions(checked, cls, tx, { revokedHtlcs: logged.htlcs }).breach, breach);
      await stop(c);
    });

    it('a revocation arriving after the close (classified unresolved first) still gets the whole HTLC set from the log', async () => {
      const sim = openChannel(format);
      const c = court(`late-${format}.sqlite`, sim);
      const n = await history(c, sim);
      c.chain.mine(1, [sim.signedCommitment('bob', n)]);
      await c.dispatcher.poll();
      await c.arb.idle();
      assert.equal((await c.arb.state(sim.chanPoint)).kind, 'CloseUnresolved');
      for (let k = 0; k < sim.currentNumber; k++) c.arb.addRevocation(sim.chanPoint, sim.revealedSecret('bob', k), k);
      await eventually(() => c.db.prepare<[string], { t: number | null }>('SELECT close_type AS t FROM arbitrator_state WHERE chan_point = ?').get(sim.chanPoint)?.t === CLOSE_TYPE.Breach, 5_000, 'breach');
      await c.arb.idle();
      const breach = breachRecord(c, sim.chanPoint);
      assert.deepEqual(
        breach.outputs.filter((o) => o.kind !== 'to_local').map((o) => o.amountSat).sort(),
        htlcAmounts(sim, n),
      );
      await stop(c);
    });
  });
}

describe('revocation log storage', () => {
  it('is written in the snapshot transaction: a refused update leaves neither the snapshot nor log rows', () => {
    const sim = openChannel('anchors');
    const db = openDatabase(join(tmp.dir, 'tx.sqlite'));
    migrate(db);
    sim.addHtlc('alice', OUT.amountMsat, OUT.cltv);
    sim.commit();
    const first = parseSnapshot(sim.snapshot('alice'));
    storeSnapshot(db, first, snapshotJson(first), 1, () => undefined);
    const n = first.remoteCommitments.current.number;
    assert.equal(loggedCommitment(db, sim.chanPoint, n)?.htlcs.length, 1);
    sim.addHtlc('bob', IN.amountMsat, IN.cltv);
    sim.signCommitments(); // a pending commitment of theirs: n + 1
    const second = parseSnapshot(sim.snapshot('alice'));
    const pendingNumber = second.remoteCommitments.pending?.number ?? second.remoteCommitments.current.number;
    assert.throws(
      () =>
        storeSnapshot(db, second, snapshotJson(second), 2, () => {
          throw new CourtError('COURT_E_SNAPSHOT_CONFLICT', 'refused');
        }),
      (e: unknown) => e instanceof CourtError && e.code === 'COURT_E_SNAPSHOT_CONFLICT',
    );
    assert.equal(loggedCommitment(db, sim.chanPoint, pendingNumber === n ? n + 1 : pendingNumber), undefined);
    storeSnapshot(db, second, snapshotJson(second), 2, () => undefined);
    const logged = loggedCommitment(db, sim.chanPoint, second.remoteCommitments.current.number);
    assert.ok(logged !== undefined);
    const pending = second.remoteCommitments.pending;
    if (pending !== undefined) assert.equal(loggedCommitment(db, sim.chanPoint, pending.number)?.htlcs.length, pending.htlcs.length);
    // Storing the same commitments again adds nothing (a union, no duplicates).
    storeSnapshot(db, second, snapshotJson(second), 3, () => undefined);
    assert.equal(loggedCommitment(db, sim.chanPoint, second.remoteCommitments.current.number)?.htlcs.length, logged.htlcs.length);
    db.close();
  });

  it('migration 0011 back-fills the log from snapshots stored before it', () => {
    const sim = openChannel('static_remotekey');
    const db = openDatabase(join(tmp.dir, 'backfill.sqlite'));
    const all = loadMigrations();
    const mine = all.findIndex((m) => m.name === 'revocation_log');
    migrate(db, all.slice(0, mine));
    sim.addHtlc('alice', OUT.amountMsat, OUT.cltv);
    const gone = sim.addHtlc('bob', GONE_IN.amountMsat, GONE_IN.cltv);
    sim.commit();
    const first = parseSnapshot(sim.snapshot('alice'));
    const n = first.remoteCommitments.current.number;
    db.prepare("INSERT INTO channel (chan_point, capacity_sat, commitment_type, initiator, funding_height_hint) VALUES (?, '1000000', 0, 0, 1)").run(sim.chanPoint);
    db.prepare('INSERT INTO channel_snapshot (chan_point, seq, snapshot) VALUES (?, 1, ?)').run(sim.chanPoint, JSON.stringify(snapshotJson(first)));
    sim.failHtlc(gone);
    sim.commit();
    const second = parseSnapshot(sim.snapshot('alice'));
    db.prepare('INSERT INTO channel_snapshot (chan_point, seq, snapshot) VALUES (?, 2, ?)').run(sim.chanPoint, JSON.stringify(snapshotJson(second)));
    migrate(db);
    const logged = loggedCommitment(db, sim.chanPoint, n);
    assert.deepEqual(logged?.htlcs.map((h) => h.amountMsat).sort(), [OUT.amountMsat, GONE_IN.amountMsat].sort());
    assert.equal(loggedCommitment(db, sim.chanPoint, second.remoteCommitments.current.number)?.htlcs.length, 1);
    db.close();
  });
});
