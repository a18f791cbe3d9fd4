/**
 * The datadir lock: `<datadir>/<network>/courtd.lock`, created exclusively with this process's pid. A second
 * courtd on the same datadir finds it and refuses to start (COURT_E_DAEMON_LOCKED). A lock left by a process
 * that no longer exists (a crash, kill -9) is taken over: `process.kill(pid, 0)` tells whether it runs.
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { CourtError } from '../util/errors.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the lock at `path`; returns its release. */
export function acquireLock(path: string): { release(): void; tookOver: boolean } {
  let tookOver = false;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      try {
        writeSync(fd, `${process.pid}\n`);
      } finally {
        closeSync(fd);
      }
      let released = false;
      return {
        tookOver,
        release() {
          if (released) return;
          released = true;
          try {
            if (readFileSync(path, 'utf8').trim() === String(process.pid)) unlinkSync(path);
          } catch {
            // already gone
          }
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const pid = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
      if (Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        throw new CourtError('COURT_E_DAEMON_LOCKED', `another courtd (pid ${pid}) holds ${path}`, { pid });
      }
      unlinkSync(path);
      tookOver = true;
    }
  }
  throw new CourtError('COURT_E_DAEMON_LOCKED', `could not take ${path}`);
}
