/**
 * The seed file: 32 random bytes, hex, created with mode 0600 on first start (or imported), refused when
 * another user can read it or it does not hold exactly one 32-byte hex seed. Error messages name the path,
 * never the content.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { fromHex } from '../util/bytes.js';
import { CourtError } from '../util/errors.js';

/** Reads the seed at `path`, creating it (0600, exclusive create) when absent. */
export function loadOrCreateSeed(path: string): { seed: Uint8Array; created: boolean } {
  let created = false;
  try {
    const fd = openSync(path, 'wx', 0o600);
    try {
      writeSync(fd, randomBytes(32).toString('hex') + '\n');
    } finally {
      closeSync(fd);
    }
    created = true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  return { seed: readSeed(path), created };
}

/** Reads an existing seed file, checking its permissions and format. */
export function readSeed(path: string): Uint8Array {
  const st = statSync(path);
  if ((st.mode & 0o077) !== 0) {
    throw new CourtError('COURT_E_INVALID_SEED', `seed file ${path} is readable by group or others (chmod 600 it)`);
  }
  const text = readFileSync(path, 'utf8').trim();
  if (!/^[0-9a-fA-F]{64}$/.test(text)) {
    throw new CourtError('COURT_E_INVALID_SEED', `seed file ${path} must hold exactly 64 hex characters`);
  }
  return fromHex(text);
}
