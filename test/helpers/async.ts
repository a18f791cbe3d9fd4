/** Small async helpers for chain tests: wait for a condition, record log lines. */
import type { Logger } from '../../src/util/logger.js';
import { collectLogLine, logLineText } from './log-scan.js';

/** Yields to the event loop until `cond()` holds; fails after `maxTurns` turns (no wall-clock waiting). */
export async function until(cond: () => boolean, maxTurns = 10_000): Promise<void> {
  for (let i = 0; i < maxTurns; i++) {
    if (cond()) return;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error('condition not reached');
}

export interface LogLine {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly obj: Record<string, unknown>;
  readonly msg: string;
}

/** A Logger that keeps every line in `lines`. */
export function recordingLogger(): Logger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at = (level: LogLine['level']) => (obj: Record<string, unknown>, msg: string) => {
    lines.push({ level, obj, msg });
    collectLogLine(logLineText(level, obj, msg)); // the suite-wide log scan (test/helpers/log-scan.ts)
  };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** Waits (in real time, checking every 5 ms) until `cond()` holds; fails after `timeoutMs`. For real I/O. */
export async function eventually(cond: () => boolean, timeoutMs = 3000, what: string | (() => string) = 'condition'): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`${typeof what === 'function' ? what() : what} not reached in time`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
