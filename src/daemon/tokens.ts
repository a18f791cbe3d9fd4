/**
 * API token files, as lnd keeps its macaroons: `<datadir>/<network>/admin.token` (mode 0600) and `readonly.token`
 * (mode 0640, so a group such as a monitoring user may read it), each 32 random bytes as hex, created only when
 * missing (exclusive create). A file another user may write, or one that does not hold one 64-hex token, is
 * refused (COURT_E_TOKEN_FILE naming the path, never the content). Rotation writes a new token to a temporary
 * file and renames it over the old one (atomic: a reader sees the old token or the new one).
 */
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync, renameSync, statSync, writeSync } from 'node:fs';
import { CourtError } from '../util/errors.js';

export type TokenScope = 'admin' | 'readonly';

/** File mode of each scope's token. */
export const TOKEN_MODE: Readonly<Record<TokenScope, number>> = { admin: 0o600, readonly: 0o640 };

function writeNew(path: string, mode: number, flags: string): void {
  const fd = openSync(path, flags, mode);
  try {
    writeSync(fd, `${randomBytes(32).toString('hex')}\n`);
  } finally {
    closeSync(fd);
  }
}

/** Reads a token file, checking its mode and content. */
export function readToken(path: string, scope: TokenScope): string {
  const st = statSync(path);
  const allowed = TOKEN_MODE[scope];
  if ((st.mode & 0o777 & ~allowed) !== 0) {
    throw new CourtError('COURT_E_TOKEN_FILE', `token file ${path} has mode ${(st.mode & 0o777).toString(8)}, more open than ${allowed.toString(8)} (chmod it)`);
  }
  const text = readFileSync(path, 'utf8').trim();
  if (!/^[0-9a-f]{64}$/.test(text)) throw new CourtError('COURT_E_TOKEN_FILE', `token file ${path} must hold one token of 64 lower-case hex characters`);
  return text;
}

/** Reads the token at `path`, creating it first when it does not exist. */
export function loadOrCreateToken(path: string, scope: TokenScope): { token: string; created: boolean } {
  let created = false;
  try {
    writeNew(path, TOKEN_MODE[scope], 'wx');
    created = true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  return { token: readToken(path, scope), created };
}

/** Replaces the token at `path` with a new random one; returns it. */
export function rotateToken(path: string, scope: TokenScope): string {
  const tmp = `${path}.new`;
  writeNew(tmp, TOKEN_MODE[scope], 'w');
  renameSync(tmp, path);
  return readToken(path, scope);
}
