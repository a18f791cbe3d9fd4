/**
 * SqliteJournal and the briefcase's own guards on the transition log and outbox: atomic commits, next-seq
 * checks, the gapless and append-only triggers, versioned payloads, pending order, done/failed marks.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { TransitionRecord } from '../../src/fsm/index.js';
import { openJournal, type SqliteJournal } from '../../src/store/journal.js';
import { CourtError } from '../../src/util/errors.js';
import { tempDir } from '../helpers/db.js';

const tmp = tempDir('journal');
after(tmp.remove);
let files = 0;
const fresh = (): SqliteJournal => openJournal(join(tmp.dir, `j-${files++}.db`));

const record = (seq: number, over: Partial<TransitionRecord> = {}): TransitionRecord => ({
  machineId: 'm',
  machineKind: 'test',
  seq,
  height: 10 + seq,
  fromCode: seq - 1,
  toCode: seq,
  eventCode: 3,
  event: { v: 1, n: seq },
  state: { v: 1, at: seq },
  effects: [
    { code: 7, payload: { v: 1, first: seq } },
    { code: 8, payload: { v: 1, second: seq } },
  ],
  ...over,
});

const count = (j: SqliteJournal, table: string): number => (j.db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
const isCode = (code: string) => (e: unknown) => e instanceof CourtError && e.code === code;

describe('SqliteJournal', () => {
  it('commits state, log and outbox rows together and loads them back', () => {
    const j = fresh();
    assert.equal(j.load('m'), undefined);
    const entries = j.commit(record(1));
    assert.deepEqual(
      entries.map((e) => [e.seq, e.idx, e.code]),
      [
        [1, 0, 7],
        [1, 1, 8],
      ],
    );
    j.commit(record(2, { effects: [] }));
    assert.deepEqual(j.load('m'), { seq: 2, state: { v: 1, at: 2 } });
    assert.deepEqual(j.history('m'), [
      { seq: 1, fromState: 0, eventKind: 3, toState: 1, height: 11, event: { v: 1, n: 1 } },
      { seq: 2, fromState: 1, eventKind: 3, toState: 2, height: 12, event: { v: 1, n: 2 } },
    ]);
    const row = j.db.prepare("SELECT machine, state_code, updated_height FROM machine_state WHERE machine_id = 'm'").get();
    assert.deepEqual(row, { machine: 'test', state_code: 2, updated_height: 12 });
    j.close();
  });

  it('refuses a seq that is not the next one, writing nothing', () => {
    const j = fresh();
    assert.throws(() => j.commit(record(2)), isCode('COURT_E_FSM_SEQ'));
    j.commit(record(1));
    assert.throws(() => j.commit(record(1)), isCode('COURT_E_FSM_SEQ'));
    assert.throws(() => j.commit(record(3)), isCode('COURT_E_FSM_SEQ'));
    assert.deepEqual([count(j, 'machine_state'), count(j, 'transition_log'), count(j, 'outbox')], [1, 1, 2]);
    j.close();
  });

  it('rolls back the whole commit when an outbox payload has no version', () => {
    const j = fresh();
    const broken = record(1, { effects: [{ code: 1, payload: { v: 1 } }, { code: 2, payload: { nov: 1 } as never }] });
    assert.throws(() => j.commit(broken), /CHECK constraint failed/);
    assert.deepEqual([count(j, 'machine_state'), count(j, 'transition_log'), count(j, 'outbox')], [0, 0, 0]);
    j.close();
  });

  it('lists pending rows in id order and marks them done or failed', () => {
    const j = fresh();
    j.commit(record(1));
    j.commit(record(2));
    assert.deepEqual(
      j.pending('m').map((e) => e.id),
      [1, 2, 3, 4],
    );
    j.markFailed(2, 'E: no');
    j.markDone(1);
    j.markDone(1);
    j.markDone(3);
    j.markFailed(3, 'ignored once done');
    assert.deepEqual(
      j.pending('m').map((e) => e.id),
      [2, 4],
    );
    const rows = j.db.prepare('SELECT id, status, attempts, last_error, done_at IS NOT NULL AS done FROM outbox ORDER BY id').all();
    assert.deepEqual(rows, [
      { id: 1, status: 1, attempts: 0, last_error: null, done: 1 },
      { id: 2, status: 0, attempts: 1, last_error: 'E: no', done: 0 },
      { id: 3, status: 1, attempts: 0, last_error: null, done: 1 },
      { id: 4, status: 0, attempts: 0, last_error: null, done: 0 },
    ]);
    j.close();
  });

  it('detects a state row that disagrees with the log', () => {
    const j = fresh();
    j.commit(record(1));
    j.db.prepare("UPDATE machine_state SET seq = 0 WHERE machine_id = 'm'").run();
    assert.throws(() => j.load('m'), isCode('COURT_E_FSM_CORRUPT'));
    j.db.prepare("DELETE FROM machine_state WHERE machine_id = 'm'").run();
    assert.throws(() => j.load('m'), isCode('COURT_E_FSM_CORRUPT'));
    j.close();
  });
});

describe('briefcase guards on the transition log and outbox', () => {
  const insertLog = (j: SqliteJournal, seq: number) =>
    j.db
      .prepare("INSERT INTO transition_log (machine_id, seq, from_state, event_kind, to_state, height, payload) VALUES ('x', ?, 0, 0, 0, 1, '{\"v\":1}')")
      .run(seq);

  it('keeps each machine’s seq gapless', () => {
    const j = fresh();
    assert.throws(() => insertLog(j, 2), /seq must follow/);
    insertLog(j, 1);
    assert.throws(() => insertLog(j, 3), /seq must follow/);
    insertLog(j, 2);
    j.close();
  });

  it('makes the transition log append-only', () => {
    const j = fresh();
    insertLog(j, 1);
    assert.throws(() => j.db.prepare('UPDATE transition_log SET height = 2').run(), /append-only/);
    assert.throws(() => j.db.prepare('DELETE FROM transition_log').run(), /append-only/);
    j.close();
  });

  it('accepts outbox rows only for a logged transition', () => {
    const j = fresh();
    assert.throws(
      () => j.db.prepare("INSERT INTO outbox (machine_id, seq, idx, kind, payload, created_height) VALUES ('x', 1, 0, 0, '{\"v\":1}', 1)").run(),
      /FOREIGN KEY constraint failed/,
    );
    j.close();
  });
});
