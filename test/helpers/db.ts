/** Database helpers for tests: temporary directories and consistent copies of a live briefcase. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Db } from '../../src/store/db.js';

/** A fresh temporary directory and a function removing it. */
export function tempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `courtd-${prefix}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Writes a consistent copy of `db` (committed data, WAL included) to `path`: the database a process would find
 * if it died right now. Call it outside a transaction, e.g. from a runner's onCommit hook.
 */
export function copyDatabase(db: Db, path: string): void {
  db.prepare('VACUUM INTO ?').run(path);
}
