/**
 * Opening the briefcase database (better-sqlite3). WAL lets readers (the API, the CLI) run beside the single
 * writer; synchronous=FULL makes each committed transaction survive a power cut, which the "one event, one
 * transaction" rule relies on; foreign keys are enforced. Schema changes are migrate.ts's job.
 */
import Database from 'better-sqlite3';

/** An open briefcase connection. */
export type Db = Database.Database;

/** Opens (creating if needed) the database at `path` with courtd's pragmas. `':memory:'` works for tests. */
export function openDatabase(path: string): Db {
  const db = new Database(path);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}
