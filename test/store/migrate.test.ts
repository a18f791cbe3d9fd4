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
