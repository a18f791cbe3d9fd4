/**
 * Findings of the attacker review of the resolvers (2026-12-03), each shown failing before its fix:
 *  1. an outgoing contest whose peer preimage claim is already 6 deep when first seen swaps in a successor that is
 *     born finished: it must be stored resolved, so a restart reports it to the arbitrator again;
 *  2. the node is never told to fail an HTLC it was told is settled (a mempool preimage, then our timeout), nor
 *     one whose preimage courtd holds.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Transaction } from 'bitcoinjs-lib';
import type { SpendEvent } from '../../src/chain/ports.js';
import { KeyRing } from '../../src/keys/keyring.js';
import { LocalSigner } from '../../src/keys/signer.js';
import { htlcTimeout, type HtlcTimeout } from '../../src/resolvers/htlc-timeout.js';
import { ResolverRunner } from '../../src/resolvers/runner.js';
import { commitStep } from '../../src/resolvers/store.js';
import type { ResolverEffect } from '../../src/resolvers/types.js';
import { RESOLVER_KIND } from '../../src/store/codes.js';
import { openDatabase, type Db } from '../../src/store/db.js';
import { migrate } from '../../src/store/migrate.js';
import type { SweeperPort } from '../../src/sweep/types.js';
import { sha256, toHex } from '../../src/util/bytes.js';
import { tempDir } from '../helpers/db.js';
import { CHAN, CLOSE_HEIGHT, env, htlcRecord, PREIMAGE, spend } from './fixtures.js';

type SpendHandler = (e: SpendEvent) => Promise<void> | void;

const ring = KeyRing.fromSeed(sha256(new TextEncoder().encode('resolver review fixes')), 1);

function runner(db: Db, finished: string[], handlers: Map<string, SpendHandler>, height: number): ResolverRunner {
  const sweeper: SweeperPort = { offer: () => undefined, cancel: () => undefined, bump: () => undefined, pending: () => [], unacked: () => [], ack: () => undefined, onResult: () => undefined };
  const r = new ResolverRunner({
    db,
    sweeper,
    keyring: ring,
    signer: new LocalSigner(ring),
    broadcaster: { publish: async (tx) => ({ kind: 'accepted', txid: tx.getId() }) },
    watches: {
      watchSpend: (op, _h, cb) => {
        handlers.set(`${op.txid}:${op.vout}`, cb);
        return { id: 1, ready: Promise.resolve(), cancel: () => undefined };
      },
    },
    fees: { feeRatePerKw: async () => 253n },
    height,
  });
  r.attach({ resolverFinished: async (_c: string, op: string) => void finished.push(op), addPreimage: async () => ({ paymentHash: '', channels: [] }) } as never);
  return r;
}

describe('resolver review fixes', () => {
  let db: Db;
  let tmp: ReturnType<typeof tempDir>;
  before(() => {
    tmp = tempDir('resolver-review');
    db = openDatabase(join(tmp.dir, 'b.sqlite'));
    migrate(db);
    db.prepare("INSERT INTO channel (chan_point, capacity_sat, commitment_type, initiator, funding_height_hint) VALUES (?, '1000000', 0, 0, 100)").run(CHAN);
  });
  after(() => {
    db.close();
    tmp.remove();
  });

  it('1: a contest whose peer claim is already final when seen finishes, stored resolved, and a restart reports it again', async () => {
    const rec = htlcRecord({ direction: 'outgoing', closeType: 'remote', format: 'static_remotekey', cltvExpiry: CLOSE_HEIGHT + 100 });
    db.prepare('INSERT INTO resolver (chan_point, outpoint, kind, version, state) VALUES (?, ?, ?, 1, ?)').run(
      CHAN,
      rec.outpoint,
      RESOLVER_KIND.HtlcOutgoingContest,
      JSON.stringify({ v: 1, closeType: rec.closeType, closeTxid: rec.closeTxid, closeHeight: rec.closeHeight, output: rec.output, deadline: rec.deadline, stage: 'launched' }),
    );
    const handlers = new Map<string, SpendHandler>();
    const height = CLOSE_HEIGHT + 20;
    const r1 = runner(db, [], handlers, height);
    r1.launch(CHAN);
    await r1.idle();
    const tx = new Transaction();
    tx.addInput(Buffer.alloc(32), 0);
    tx.addOutput(Buffer.alloc(22), 1n);
    tx.setWitness(0, [Buffer.alloc(72), Buffer.from(PREIMAGE, 'hex'), Buffer.alloc(10)]);
    const [txid, vout] = rec.outpoint.split(':') as [string, string];
    const ev: SpendEvent = { type: 'spend', outpoint: { txid, vout: Number(vout) }, spendingTx: tx, spenderTxid: 'e'.repeat(64), inputIndex: 0, height: CLOSE_HEIGHT + 2, blockHash: '0'.repeat(64) };
    await (handlers.get(rec.outpoint) as SpendHandler)(ev);
    await r1.idle();
    await r1.stop();
    const rows = db.prepare("SELECT kind, resolved, json_extract(state, '$.stage') AS stage FROM resolver WHERE outpoint = ? ORDER BY id").all(rec.outpoint) as { kind: number; resolved: number; stage: string }[];
    assert.deepEqual(rows.at(-1), { kind: RESOLVER_KIND.HtlcTimeout, resolved: 1, stage: 'done' }, 'the successor born finished is stored resolved');
    // a crash right after that commit: the restart tells the arbitrator again
    const finished: string[] = [];
    const r2 = runner(db, finished, new Map(), height + 1);
    r2.launch(CHAN);
    await r2.idle();
    await r2.stop();
    assert.deepEqual(finished, [rec.outpoint]);
  });

  it('2: a timeout made final after the peer showed the preimage (mempool) sends no htlcFailedOnChain; nor when courtd holds the preimage', () => {
    const cases: Array<{ label: string; mempool: boolean; nodePreimage: boolean }> = [
      { label: 'mempool preimage', mempool: true, nodePreimage: false },
      { label: 'preimage from the node', mempool: false, nodePreimage: true },
    ];
    for (const [i, c] of cases.entries()) {
      const cdb = openDatabase(join(tmp.dir, `case${i}.sqlite`));
      migrate(cdb);
      cdb.prepare("INSERT INTO channel (chan_point, capacity_sat, commitment_type, initiator, funding_height_hint) VALUES (?, '1000000', 1, 0, 100)").run(CHAN);
      const rec = htlcRecord({ direction: 'outgoing', closeType: 'remote', format: 'anchors', cltvExpiry: CLOSE_HEIGHT + 10, deadline: CLOSE_HEIGHT + 50 });
      const id = Number(cdb.prepare('INSERT INTO resolver (chan_point, outpoint, kind, version, state) VALUES (?, ?, ?, 1, ?)').run(CHAN, rec.outpoint, RESOLVER_KIND.HtlcTimeout, '{"v":1}').lastInsertRowid);
      let r: HtlcTimeout = htlcTimeout.init(rec);
      const h = CLOSE_HEIGHT + 11;
      const write = (s: { next: unknown; effects: readonly ResolverEffect[] }, at: number): void => {
        r = s.next as HtlcTimeout;
        commitStep(cdb, { id, chanPoint: CHAN, value: r, resolved: false, successors: [], effects: s.effects, height: at });
      };
      if (c.nodePreimage) {
        cdb.prepare('INSERT INTO preimage (payment_hash, preimage, source, learned_height) VALUES (?, ?, 0, ?)').run(toHex(sha256(Buffer.from(PREIMAGE, 'hex'))), PREIMAGE, h);
      }
      write(htlcTimeout.step(r, { kind: 'Launch', height: h }, env(h)), h);
      if (c.mempool) write(htlcTimeout.step(r, { kind: 'MempoolSpend', outpoint: rec.outpoint, txid: 'e'.repeat(64), witness: ['00'.repeat(72), PREIMAGE, '00'] }, env(h)), h);
      write(htlcTimeout.step(r, spend(rec.outpoint, 'd'.repeat(64), h + 1, { ours: true }), env(h + 1)), h + 1);
      const final = htlcTimeout.step(r, { kind: 'Block', height: h + 6 }, env(h + 6));
      assert.ok(final.effects.some((e) => e.kind === 'NotifyNode' && e.event === 'htlcFailedOnChain'), `${c.label}: the step asks to fail it upstream`);
      write(final, h + 6);
      const keys = (cdb.prepare('SELECT key FROM resolver_node_key ORDER BY key').all() as { key: string }[]).map((k) => k.key.split(':')[0]);
      cdb.close();
      assert.deepEqual(keys, c.mempool ? ['settled'] : [], `${c.label}: never failed upstream`);
    }
  });
});
