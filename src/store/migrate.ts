/**
 * Schema migrations: numbered files `migrations/NNNN_name.sql`, applied in order, each inside its own
 * transaction together with its row in `schema_migrations(version, name, applied_at)`. Re-running applies
 * nothing new. A database whose schema is newer than this code (a downgrade) is refused rather than used, as is
 * one whose recorded migration names differ from the files (a landed migration was renamed or replaced).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CourtError } from '../util/errors.js';
import type { Db } from './db.js';

/** One migration file. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/** The repository's migrations folder. */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));

const FILE_RE = /^(\d{4})_([a-z0-9_]+)\.sql$/;

/** Reads and checks the migration files of `dir`: versions 1, 2, 3 ... without gaps or duplicates. */
export function loadMigrations(dir: string = MIGRATIONS_DIR): Migration[] {
  const out: Migration[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.sql')).sort()) {
    const m = FILE_RE.exec(file);
    if (!m) throw new CourtError('COURT_E_INVALID_ARGUMENT', `migration file ${file} is not named NNNN_name.sql`);
    out.push({ version: Number(m[1]), name: m[2] as string, sql: readFileSync(join(dir, file), 'utf8') });
  }
  out.forEach((m, i) => {
    if (m.version !== i + 1) {
      throw new CourtError('COURT_E_INVALID_ARGUMENT', `migration versions must run 1, 2, 3 ...: found ${m.version} at position ${i + 1}`);
    }
  });
  return out;
}

/** What migrate() did. */
export interface MigrateResult {
  /** Versions applied by this call, ascending. */
  readonly applied: number[];
  /** Schema version after the call. */
  readonly version: number;
}

/** The database's schema version (0 for a database never migrated). */
export function schemaVersion(db: Db): number {
  const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get();
  if (!exists) return 0;
  const row = db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null };
  return row.v ?? 0;
}

/** Brings `db` to the newest schema. Throws COURT_E_STORE_SCHEMA for a newer or inconsistent database. */
export function migrate(db: Db, migrations: readonly Migration[] = loadMigrations()): MigrateResult {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ) STRICT`);
  const codeVersion = migrations.length === 0 ? 0 : (migrations[migrations.length - 1] as Migration).version;
  const done = db.prepare('SELECT version, name FROM schema_migrations ORDER BY version').all() as {
    version: number;
    name: string;
  }[];
  const dbVersion = done.length === 0 ? 0 : (done[done.length - 1] as { version: number }).version;
  if (dbVersion > codeVersion) {
    throw new CourtError('COURT_E_STORE_SCHEMA', `database schema ${dbVersion} is newer than this courtd (${codeVersion})`, {
      dbVersion,
      codeVersion,
    });
  }
  const byVersion = new Map(migrations.map((m) => [m.version, m]));
  for (const row of done) {
    if (byVersion.get(row.version)?.name !== row.name) {
      throw new CourtError('COURT_E_STORE_SCHEMA', `migration ${row.version} was recorded as ${row.name}, which no file matches`, {
        version: row.version,
      });
    }
  }
  const record = db.prepare('INSERT INTO schema_migrations (version, name) VALUES (?, ?)');
  const applied: number[] = [];
  for (const m of migrations) {
    if (m.version <= dbVersion) continue;
    db.transaction(() => {
      db.exec(m.sql);
      record.run(m.version, m.name);
    }).immediate();
    applied.push(m.version);
  }
  return { applied, version: Math.max(dbVersion, codeVersion) };
}
