/**
 * The ResolverRunner over a real SQLite file with stand-in ports: launching the arbitrator's records, a failing
 * effect retried with back-off and its reason shown while the channel's other resolvers go on (lnd #10668), spends
 * and their undo from the watches, finishing to the arbitrator, preimages routed by payment hash.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Transaction } from 'bitcoinjs-lib';
import type { SpendEvent } from '../../src/chain/ports.js';
import { KeyRing } from '../../src/keys/keyring.js';
import { LocalSigner } from '../../src/keys/signer.js';
import { ResolverRunner } from '../../src/resolvers/runner.js';
import { htlcTimeout } from '../../src/resolvers/htlc-timeout.js';
import { reports } from '../../src/resolvers/store.js';
import { RESOLVER_KIND } from '../../src/store/codes.js';
import { openDatabase, type Db } from '../../src/store/db.js';
import { migrate } from '../../src/store/migrate.js';
import type { SweepInputSpec, SweeperPort } from '../../src/sweep/types.js';
import { fromHex, sha256 } from '../../src/util/bytes.js';
import { CourtError } from '../../src/util/errors.js';
import { eventually } from '../helpers/async.js';
import { tempDir } from '../helpers/db.js';
import { CHAN, CLOSE_HEIGHT, commitRecord, htlcRecord, PAYMENT_HASH, PREIMAGE } from './fixtures.js';

const ring = KeyRing.fromSeed(sha256(new TextEncoder().encode('runner test')), 1);

let db: Db;
let tmp: ReturnType<typeof tempDir>;

function insert(kind: number, rec: ReturnType<typeof commitRecord>): void {
  db.prepare('INSERT INTO resolver (chan_point, outpoint, kind, version, state) VALUES (?, ?, ?, 1, ?)').run(
    CHAN,
    rec.outpoint,
    kind,
    JSON.stringify({ v: 1, closeType: rec.closeType, closeTxid: rec.closeTxid, closeHeight: rec.closeHeight, output: rec.output, deadline: rec.deadline, stage: 'launched' }),
  );
}

describe('ResolverRunner', () => {
  before(() => {
    tmp = tempDir('resolver-runner');
    db = openDatabase(join(tmp.dir, 'b.sqlite'));
    migrate(db);
    db.prepare("INSERT INTO channel (chan_point, capacity_sat, commitment_type, initiator, funding_height_hint) VALUES (?, '1000000', 0, 0, 100)").run(CHAN);
  });
  after(() => {
    db.close();
    tmp.remove();
  });

  it('retries a failing offer with back-off, shows why, and never stalls the channel; spends, undo, finish and preimage routing', async () => {
    const commit = commitRecord('remote', 'static_remotekey', 0);
    const incoming = htlcRecord({ direction: 'incoming', closeType: 'remote', format: 'static_remotekey', cltvExpiry: CLOSE_HEIGHT + 100 });
    insert(RESOLVER_KIND.CommitSweep, commit);
    insert(RESOLVER_KIND.HtlcIncomingContest, incoming);
    let failures = 3;
    const offers: SweepInputSpec[] = [];
    const sweeper: SweeperPort = {
      offer: (s) => {
        if (s.outpoint === commit.outpoint && failures-- > 0) throw new CourtError('COURT_E_SWEEP_INVALID_INPUT', 'sweeper says no');
        offers.push(s);
      },
      cancel: () => undefined,
      bump: () => undefined,
      pending: () => [],
      unacked: () => [],
      ack: () => undefined,
      onResult: () => undefined,
    };
    const handlers = new Map<string, (e: SpendEvent) => void | Promise<void>>();
    const finished: string[] = [];
    const runner = new ResolverRunner({
      db,
      sweeper,
      keyring: ring,
      signer: new LocalSigner(ring),
      broadcaster: { publish: async (tx) => ({ kind: 'accepted', txid: tx.getId() }) },
      watches: {
        watchSpend: (op, _hint, cb) => {
          handlers.set(`${op.txid}:${op.vout}`, cb);
          return { id: 1, ready: Promise.resolve(), cancel: () => handlers.delete(`${op.txid}:${op.vout}`) };
        },
      },
      fees: { feeRatePerKw: async () => 253n },
      height: CLOSE_HEIGHT,
      retry: { baseMs: 5, maxMs: 40 },
    });
    runner.attach({ resolverFinished: async (_cp, op) => void finished.push(op), addPreimage: async () => ({ paymentHash: PAYMENT_HASH, channels: [] }) });
    runner.launch(CHAN);
    await runner.idle();
    const first = runner.view(CHAN).find((v) => v.outpoint === commit.outpoint);
    assert.match(first?.reason ?? '', /effect failed 1x, retrying: .*sweeper says no/);
    // the other resolver of the channel went on meanwhile: it takes a preimage and becomes htlcSuccess
    runner.preimageLearned(fromHex(PREIMAGE));
    await runner.idle();
    assert.ok(offers.some((o) => o.outpoint === incoming.outpoint && o.witness.kind === 'htlcSuccessDirect'), 'the incoming HTLC is claimed while the other offer fails');
    // back-off retries until the sweeper takes it; the reason goes away
    await eventually(() => offers.some((o) => o.outpoint === commit.outpoint), 2_000, 'the offer retried until taken');
    await runner.idle();
    assert.equal(runner.view(CHAN).find((v) => v.outpoint === commit.outpoint)?.reason, undefined);
    assert.equal(failures, -1, 'three failures, then success');
    // a spend, undone by a reorg (offered again), then confirmed for good
    const spendTx = new Transaction();
    spendTx.addInput(Buffer.alloc(32), 0);
    spendTx.addOutput(Buffer.alloc(22), 1n);
    const [txid, vout] = commit.outpoint.split(':') as [string, string];
    const ev = (height: number): SpendEvent => ({ type: 'spend', outpoint: { txid, vout: Number(vout) }, spendingTx: spendTx, spenderTxid: 'f'.repeat(64), inputIndex: 0, height, blockHash: '0'.repeat(64) });
    await handlers.get(commit.outpoint)?.(ev(CLOSE_HEIGHT + 1));
    const before = offers.filter((o) => o.outpoint === commit.outpoint).length;
    await handlers.get(commit.outpoint)?.({ type: 'spend-undone', outpoint: { txid, vout: Number(vout) }, spenderTxid: 'f'.repeat(64), height: CLOSE_HEIGHT + 1, blockHash: '0'.repeat(64) });
    assert.equal(offers.filter((o) => o.outpoint === commit.outpoint).length, before + 1, 're-offered after the undo');
    await handlers.get(commit.outpoint)?.(ev(CLOSE_HEIGHT + 2));
    for (let h = CLOSE_HEIGHT + 2; h <= CLOSE_HEIGHT + 7; h++) await runner.onBlockConnected(h);
    await runner.idle();
    assert.deepEqual(finished, [commit.outpoint], 'finished at 6 confirmations of the second spend');
    assert.equal(reports(db, CHAN).find((r) => r.outpoint === commit.outpoint)?.height, CLOSE_HEIGHT + 2);
    await runner.stop();
  });

  it('reads a v 2 value (the HTLC output under `res`) and upgrades it', async () => {
    const rec = htlcRecord({ direction: 'outgoing', closeType: 'remote', format: 'static_remotekey', cltvExpiry: CLOSE_HEIGHT + 3 });
    const v3 = htlcTimeout.init({ ...rec, outpoint: `${'7'.repeat(64)}:1`, output: { ...(rec.output as object), outpoint: `${'7'.repeat(64)}:1` } });
    const { output, ...rest } = v3;
    const v2 = { ...rest, v: 2, res: output };
    const id = Number(db.prepare('INSERT INTO resolver (chan_point, outpoint, kind, version, state) VALUES (?, ?, ?, 1, ?)').run(CHAN, v3.outpoint, RESOLVER_KIND.HtlcTimeout, JSON.stringify(v2)).lastInsertRowid);
    const offers: SweepInputSpec[] = [];
    const runner = new ResolverRunner({
      db,
      sweeper: { offer: (x) => void offers.push(x), cancel: () => undefined, bump: () => undefined, pending: () => [], unacked: () => [], ack: () => undefined, onResult: () => undefined },
      keyring: ring,
      signer: new LocalSigner(ring),
      broadcaster: { publish: async (tx) => ({ kind: 'accepted', txid: tx.getId() }) },
      watches: { watchSpend: () => ({ id: 1, ready: Promise.resolve(), cancel: () => undefined }) },
      fees: { feeRatePerKw: async () => 253n },
      height: CLOSE_HEIGHT + 2,
    });
    runner.attach({ resolverFinished: async () => undefined, addPreimage: async () => ({ paymentHash: PAYMENT_HASH, channels: [] }) });
    runner.launch(CHAN);
    await runner.idle();
    const o = offers.find((x) => x.outpoint === v3.outpoint);
    assert.equal(o?.witness.kind, 'htlcTimeoutDirect');
    assert.equal(o?.locktime, CLOSE_HEIGHT + 3);
    const stored = JSON.parse(db.prepare('SELECT state FROM resolver WHERE id = ?').pluck().get(id) as string);
    assert.equal(stored.v, 3);
    assert.equal(stored.res, undefined);
    assert.equal(stored.output.outpoint, v3.outpoint);
    await runner.stop();
  });
});
