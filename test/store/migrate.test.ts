/** Migrations runner and database pragmas. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openDatabase } from '../../src/store/db.js';
import { loadMigrations, migrate, schemaVersion, type Migration } from '../../src/store/migrate.js';
import { CourtError } from '../../src/util/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'courtd-migrate-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const tables = (db: ReturnType<typeof openDatabase>) =>
  (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map((r) => r.name);

describe('openDatabase', () => {
  it('opens with WAL, synchronous=FULL and foreign keys on', () => {
    const db = openDatabase(join(dir, 'pragmas.db'));
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    assert.equal(db.pragma('synchronous', { simple: true }), 2);
    assert.equal(db.pragma('foreign_keys', { simple: true }), 1);
    db.close();
  });
});

describe('migrate', () => {
  it('brings an empty database to the newest schema and records each migration', () => {
    const db = openDatabase(':memory:');
    assert.equal(schemaVersion(db), 0);
    const files = loadMigrations();
    assert.ok(files.length >= 1);
    assert.deepEqual(files[0]?.name, 'chain');
    const r = migrate(db);
    assert.deepEqual(r.applied, files.map((m) => m.version));
    assert.equal(r.version, files.length);
    assert.equal(schemaVersion(db), files.length);
    assert.ok(tables(db).includes('chain_block_log'));
    const rows = db.prepare('SELECT version, name, applied_at FROM schema_migrations').all() as any[];
    assert.equal(rows.length, files.length);
    assert.match(rows[0].applied_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('is idempotent: a second run applies nothing and keeps the data', () => {
    const path = join(dir, 'rerun.db');
    const db = openDatabase(path);
    migrate(db);
    db.prepare('INSERT INTO chain_block_log (height, hash) VALUES (1, ?)').run('ab'.repeat(32));
    db.close();
    const again = openDatabase(path);
    const r = migrate(again);
    assert.deepEqual(r.applied, []);
    assert.equal((again.prepare('SELECT COUNT(*) AS n FROM chain_block_log').get() as { n: number }).n, 1);
    again.close();
  });

  it('refuses a database newer than the code', () => {
    const db = openDatabase(':memory:');
    migrate(db);
    db.prepare("INSERT INTO schema_migrations (version, name) VALUES (999, 'from_the_future')").run();
    assert.throws(
      () => migrate(db),
      (e: unknown) => e instanceof CourtError && e.code === 'COURT_E_STORE_SCHEMA' && e.details.dbVersion === 999 && /newer than this courtd/.test(e.message),
    );
  });

  it('refuses a database whose recorded migration no file matches', () => {
    const db = openDatabase(':memory:');
    migrate(db, [{ version: 1, name: 'old_name', sql: 'CREATE TABLE a (x INTEGER)' }]);
    assert.throws(
      () => migrate(db, [{ version: 1, name: 'new_name', sql: 'CREATE TABLE a (x INTEGER)' }]),
      (e: unknown) => e instanceof CourtError && e.code === 'COURT_E_STORE_SCHEMA',
    );
  });

  it('applies each migration in its own transaction: a failing one leaves nothing behind', () => {
    const db = openDatabase(':memory:');
    const ms: Migration[] = [
      { version: 1, name: 'one', sql: 'CREATE TABLE one (x INTEGER);' },
      { version: 2, name: 'two', sql: 'CREATE TABLE two (x INTEGER); INSERT INTO nowhere VALUES (1);' },
    ];
    assert.throws(() => migrate(db, ms), /no such table: nowhere/);
    assert.equal(schemaVersion(db), 1);
    assert.ok(tables(db).includes('one'));
    assert.ok(!tables(db).includes('two'));
  });

  it('loads NNNN_name.sql files in order and refuses gaps or bad names', () => {
    const good = mkdtempSync(join(dir, 'good-'));
    writeFileSync(join(good, '0002_second.sql'), 'SELECT 2;');
    writeFileSync(join(good, '0001_first.sql'), 'SELECT 1;');
    writeFileSync(join(good, 'README.md'), 'ignored');
    assert.deepEqual(loadMigrations(good).map((m) => `${m.version}:${m.name}`), ['1:first', '2:second']);
    const gap = mkdtempSync(join(dir, 'gap-'));
    writeFileSync(join(gap, '0001_first.sql'), 'SELECT 1;');
    writeFileSync(join(gap, '0003_third.sql'), 'SELECT 3;');
    assert.throws(() => loadMigrations(gap), CourtError);
    const badName = mkdtempSync(join(dir, 'bad-'));
    writeFileSync(join(badName, '1_first.sql'), 'SELECT 1;');
    assert.throws(() => loadMigrations(badName), CourtError);
  });
});

/** Every table of the newest schema with its columns, in order. Changing a landed table needs a new migration. */
const SCHEMA: Record<string, string[]> = {
  chain_block_log: ['height', 'hash'],
  channel: ['chan_point', 'short_channel_id', 'capacity_sat', 'commitment_type', 'initiator', 'funding_height_hint', 'created_height', 'created_at'],
  channel_snapshot: ['chan_point', 'seq', 'snapshot', 'received_height', 'created_at', 'answers_close'],
  arbitrator_state: ['chan_point', 'state', 'close_type', 'close_height', 'seq', 'updated_height', 'reason', 'detail', 'updated_at', 'wake_height', 'snapshot_seq'],
  machine_state: ['machine_id', 'machine', 'state_code', 'state', 'seq', 'updated_height', 'updated_at'],
  transition_log: ['machine_id', 'seq', 'from_state', 'event_kind', 'to_state', 'height', 'payload', 'created_at'],
  outbox: ['id', 'machine_id', 'seq', 'idx', 'kind', 'payload', 'status', 'attempts', 'last_error', 'created_height', 'created_at', 'done_at'],
  resolver: ['id', 'chan_point', 'outpoint', 'kind', 'version', 'state', 'resolved', 'replaces_id', 'created_at', 'updated_at', 'superseded_height'],
  resolution_report: ['id', 'chan_point', 'resolver_id', 'outpoint', 'stage', 'report_type', 'outcome', 'amount_sat', 'spend_txid', 'height', 'created_at', 'fee_sat'],
  preimage: ['payment_hash', 'preimage', 'source', 'learned_height', 'learned_at'],
  revocation_store: ['chan_point', 'shachain', 'updated_at'],
  watch: ['id', 'machine_id', 'kind', 'target', 'height_hint', 'num_confs', 'created_at'],
  node_event: ['id', 'chan_point', 'kind', 'payload', 'created_height', 'outbox_id', 'created_at'],
  broadcast_tx: ['txid', 'hex', 'label', 'seq', 'status', 'conflict_txid', 'conflict_height', 'created_at', 'updated_at'],
};

/** The schema as SQLite stores it (everything but the migrations bookkeeping), for comparing databases. */
const schemaSql = (db: ReturnType<typeof openDatabase>) =>
  (db.prepare("SELECT type, name, sql FROM sqlite_master WHERE name NOT IN ('schema_migrations') ORDER BY type, name").all() as object[]);

describe('migrate: briefcase schema (0002)', () => {
  it('brings an empty database to 0002 with every briefcase table', () => {
    const db = openDatabase(':memory:');
    const r = migrate(db);
    assert.ok(r.version >= 2);
    assert.deepEqual(
      loadMigrations().slice(0, 2).map((m) => `${m.version}:${m.name}`),
      ['1:chain', '2:briefcase'],
    );
    for (const table of Object.keys(SCHEMA)) assert.ok(tables(db).includes(table), table);
    db.close();
  });

  it('upgrades from each earlier schema to the same schema a fresh database gets, keeping the data', () => {
    const all = loadMigrations();
    const fresh = openDatabase(':memory:');
    migrate(fresh, all);
    const want = schemaSql(fresh);
    fresh.close();
    for (let k = 1; k < all.length; k++) {
      const path = join(dir, `upgrade-from-${k}.db`);
      const db = openDatabase(path);
      assert.deepEqual(migrate(db, all.slice(0, k)).version, k);
      db.prepare('INSERT INTO chain_block_log (height, hash) VALUES (7, ?)').run('cd'.repeat(32));
      db.close();
      const reopened = openDatabase(path);
      const r = migrate(reopened, all);
      assert.deepEqual(r.applied, all.slice(k).map((m) => m.version), `from ${k}`);
      assert.deepEqual(schemaSql(reopened), want, `from ${k}`);
      assert.deepEqual(reopened.prepare('SELECT height, hash FROM chain_block_log').all(), [{ height: 7, hash: 'cd'.repeat(32) }]);
      reopened.close();
    }
  });

  it('has every table with its columns, STRICT, with the indexes, triggers and view', () => {
    const db = openDatabase(':memory:');
    migrate(db);
    const list = db.pragma('table_list') as { name: string; type: string; strict: number }[];
    for (const [table, columns] of Object.entries(SCHEMA)) {
      const info = db.pragma(`table_info(${table})`) as { name: string }[];
      assert.deepEqual(info.map((c) => c.name), columns, table);
      assert.equal(list.find((t) => t.name === table)?.strict, 1, `${table} is STRICT`);
    }
    const named = (type: string) => (db.prepare('SELECT name FROM sqlite_master WHERE type = ? ORDER BY name').all(type) as { name: string }[]).map((r) => r.name);
    assert.ok(named('index').includes('outbox_pending'));
    assert.ok(named('index').includes('resolver_unresolved'));
    assert.deepEqual(named('trigger'), ['transition_log_gapless', 'transition_log_no_delete', 'transition_log_no_update']);
    assert.deepEqual(named('view'), ['channel_snapshot_current']);
    const plan = db.prepare('EXPLAIN QUERY PLAN SELECT id FROM outbox WHERE machine_id = ? AND status = 0 ORDER BY id').all('m') as { detail: string }[];
    assert.ok(plan.some((p) => /outbox_pending/.test(p.detail)), 'pending rows come from the partial index');
    assert.deepEqual(db.pragma('foreign_key_check'), []);
    db.close();
  });

  it('stores amounts as canonical decimal strings and payloads as versioned JSON', () => {
    const db = openDatabase(':memory:');
    migrate(db);
    const chan = (i: number) => `${'ef'.repeat(32)}:${i}`;
    const insert = (i: number, capacity: unknown) =>
      db.prepare('INSERT INTO channel (chan_point, capacity_sat, commitment_type, initiator, funding_height_hint) VALUES (?, ?, 0, 0, 1)').run(chan(i), capacity);
    insert(0, '0');
    insert(1, '2100000000000000');
    for (const [i, bad] of ['01', '-1', '1.5', '', '12345678901234567', '1e6'].entries()) {
      assert.throws(() => insert(10 + i, bad), /CHECK constraint failed/, `capacity ${JSON.stringify(bad)}`);
    }
    assert.throws(() => insert(20, 1.5), /CHECK constraint failed|cannot store REAL/);
    const snap = (seq: number, json: string) => db.prepare('INSERT INTO channel_snapshot (chan_point, seq, snapshot) VALUES (?, ?, ?)').run(chan(0), seq, json);
    snap(1, '{"v":1,"a":1}');
    snap(2, '{"v":1,"a":2}');
    for (const bad of ['{"a":1}', '{"v":"1"}', 'not json', '[1]']) assert.throws(() => snap(3, bad), /CHECK constraint failed/, bad);
    assert.deepEqual(db.prepare('SELECT seq FROM channel_snapshot_current').all(), [{ seq: 2 }]);
    assert.throws(
      () => db.prepare("INSERT INTO arbitrator_state (chan_point, state, seq, detail) VALUES (?, 0, 0, '{\"v\":1}')").run(`${'00'.repeat(32)}:0`),
      /FOREIGN KEY constraint failed/,
    );
    db.close();
  });

  it('keeps one unresolved resolver per outpoint and one node event per outbox row', () => {
    const db = openDatabase(':memory:');
    migrate(db);
    const chan = `${'aa'.repeat(32)}:0`;
    db.prepare("INSERT INTO channel (chan_point, capacity_sat, commitment_type, initiator, funding_height_hint) VALUES (?, '100000', 1, 1, 5)").run(chan);
    const resolver = db.prepare("INSERT INTO resolver (chan_point, outpoint, kind, version, state, replaces_id) VALUES (?, 'op:1', ?, 1, '{\"v\":1}', ?)");
    const contest = Number(resolver.run(chan, 2, null).lastInsertRowid);
    assert.throws(() => resolver.run(chan, 0, contest), /UNIQUE constraint failed/, 'the contest resolver is still unresolved');
    db.transaction(() => {
      db.prepare('UPDATE resolver SET resolved = 1 WHERE id = ?').run(contest);
      resolver.run(chan, 0, contest);
    })();
    assert.deepEqual(db.prepare('SELECT kind, resolved, replaces_id FROM resolver ORDER BY id').all(), [
      { kind: 2, resolved: 1, replaces_id: null },
      { kind: 0, resolved: 0, replaces_id: contest },
    ]);
    db.prepare("INSERT INTO transition_log (machine_id, seq, from_state, event_kind, to_state, height, payload) VALUES (?, 1, 0, 0, 0, 9, '{\"v\":1}')").run(chan);
    const outboxId = Number(db.prepare("INSERT INTO outbox (machine_id, seq, idx, kind, payload, created_height) VALUES (?, 1, 0, 4, '{\"v\":1}', 9)").run(chan).lastInsertRowid);
    const event = db.prepare("INSERT INTO node_event (chan_point, kind, payload, created_height, outbox_id) VALUES (?, 5, '{\"v\":1}', 9, ?)");
    event.run(chan, outboxId);
    assert.throws(() => event.run(chan, outboxId), /UNIQUE constraint failed/);
    db.close();
  });
});
