/**
 * The resolvers' briefcase over a real SQLite file: a step's value, successor swap, reports and node events in
 * one transaction; a node event key written twice yields one event; a superseded row is never written; reports
 * and totals read back.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { htlcOutgoingContest } from '../../src/resolvers/htlc-outgoing-contest.js';
import { channelResolvers, commitStep, reports, reportTotals, ResolverSuperseded, viewRows } from '../../src/resolvers/store.js';
import { RESOLVER_KIND } from '../../src/store/codes.js';
import { openDatabase, type Db } from '../../src/store/db.js';
import { migrate } from '../../src/store/migrate.js';
import { tempDir } from '../helpers/db.js';
import { CHAN, env, htlcRecord, PEER_TXID, PREIMAGE, spend } from './fixtures.js';

let db: Db;
let tmp: ReturnType<typeof tempDir>;

function insertRecord(kind: number, outpoint: string, state: object): number {
  return Number(db.prepare('INSERT INTO resolver (chan_point, outpoint, kind, version, state) VALUES (?, ?, ?, 1, ?)').run(CHAN, outpoint, kind, JSON.stringify(state)).lastInsertRowid);
}

describe('resolver store', () => {
  before(() => {
    tmp = tempDir('resolver-store');
    db = openDatabase(join(tmp.dir, 'b.sqlite'));
    migrate(db);
    db.prepare("INSERT INTO channel (chan_point, capacity_sat, commitment_type, initiator, funding_height_hint) VALUES (?, '1000000', 1, 0, 100)").run(CHAN);
  });
  after(() => {
    db.close();
    tmp.remove();
  });

  it('swaps a contest for its successor in one transaction and writes the node event once per key', () => {
    const rec = htlcRecord({ direction: 'outgoing', closeType: 'remote', format: 'anchors', cltvExpiry: 600 });
    const id = insertRecord(RESOLVER_KIND.HtlcOutgoingContest, rec.outpoint, { v: 1, closeType: 'remote', closeTxid: rec.closeTxid, closeHeight: rec.closeHeight, output: rec.output, deadline: null, stage: 'launched' });
    const r0 = htlcOutgoingContest.init(rec);
    const step = htlcOutgoingContest.step(r0, spend(rec.outpoint, PEER_TXID, 551, { ours: false, witness: [PREIMAGE] }), env(551));
    assert.ok(step.successor !== undefined);
    const ids = commitStep(db, { id, chanPoint: CHAN, value: step.next, resolved: false, successors: [{ value: step.successor, resolved: false }], effects: step.effects, height: 551 });
    assert.equal(ids.length, 1);
    assert.deepEqual(
      channelResolvers(db, CHAN).map((r) => [r.kind, r.resolved, r.replaced]),
      [[RESOLVER_KIND.HtlcTimeout, false, false]],
      'the replaced contest is not handed out again',
    );
    const contest = db.prepare('SELECT resolved FROM resolver WHERE id = ?').pluck().get(id);
    assert.equal(contest, 1, 'the contest row is resolved in the same transaction');
    assert.deepEqual(viewRows(db, CHAN).map((r) => r.id), ids, 'the view shows the successor only');
    // the same key again (the spend seen after the mempool): no second event
    commitStep(db, { id: ids[0] as number, chanPoint: CHAN, value: step.successor, resolved: false, successors: [], effects: step.effects, height: 552 });
    const events = db.prepare('SELECT kind, payload FROM node_event WHERE chan_point = ?').all(CHAN) as { kind: number; payload: string }[];
    assert.equal(events.length, 1);
    assert.equal(JSON.parse(events[0]?.payload as string).preimage, PREIMAGE);
    const pre = db.prepare('SELECT preimage, source FROM preimage').get() as { preimage: string; source: number };
    assert.deepEqual(pre, { preimage: PREIMAGE, source: 1 });
  });

  it('reports upsert per (channel, outpoint, stage) and sum into totals', () => {
    const id = insertRecord(RESOLVER_KIND.CommitSweep, `${'f'.repeat(64)}:0`, { v: 2 });
    const rep = (outcome: 'claimed' | 'firstStage', stage: 1 | 2, amountSat: string) => ({ kind: 'Report' as const, report: { outpoint: `${'f'.repeat(64)}:0`, stage, type: 'commit' as const, outcome, amountSat } });
    commitStep(db, { id, chanPoint: CHAN, value: { v: 2 } as never, resolved: false, successors: [], effects: [rep('firstStage', 1, '100')], height: 1 });
    commitStep(db, { id, chanPoint: CHAN, value: { v: 2 } as never, resolved: true, successors: [], effects: [rep('claimed', 1, '100')], height: 2 });
    const r = reports(db, CHAN).filter((x) => x.outpoint.startsWith('f'));
    assert.equal(r.length, 1);
    assert.equal(r[0]?.outcome, 'claimed');
    assert.equal(reportTotals(db, CHAN).claimedSat, '100');
  });

  it('a row a reorg superseded is never written', () => {
    const id = insertRecord(RESOLVER_KIND.CommitSweep, `${'9'.repeat(64)}:0`, { v: 2 });
    db.prepare('UPDATE resolver SET resolved = 1, superseded_height = 10 WHERE id = ?').run(id);
    assert.throws(() => commitStep(db, { id, chanPoint: CHAN, value: { v: 2, x: 1 } as never, resolved: false, successors: [], effects: [], height: 11 }), ResolverSuperseded);
    assert.equal(db.prepare('SELECT state FROM resolver WHERE id = ?').pluck().get(id), '{"v":2}');
  });
});
