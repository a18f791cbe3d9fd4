/**
 * The suite-wide log scan. Tests hand the log lines they produced (`collectLogLine`) and the secrets they know
 * (`collectSecrets`: seeds, private keys, tokens, preimages not yet public) to this module; at process exit both
 * are appended to a file of the scan directory. test/regtest/zz-log-scan.test.ts, the last file of `npm test`,
 * reads every file, scans every line for every secret (hex, either case), prints
 * `log scan: lines=N secrets=M hits=0` and empties the directory for the next run.
 */
import { randomBytes } from 'node:crypto';
import { appendFileSync, mkdirSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

/** Where each test process leaves its lines and secrets (COURTD_LOG_SCAN_DIR overrides). */
export const LOG_SCAN_DIR = process.env['COURTD_LOG_SCAN_DIR'] ?? join(tmpdir(), `courtd-log-scan-${userInfo().uid}`);

const lines: string[] = [];
const secrets: Array<[string, string]> = [];
let hooked = false;

function flush(): void {
  if (lines.length === 0 && secrets.length === 0) return;
  mkdirSync(LOG_SCAN_DIR, { recursive: true });
  const file = join(LOG_SCAN_DIR, `${process.pid}-${randomBytes(4).toString('hex')}.jsonl`);
  const out = [...secrets.map(([label, value]) => JSON.stringify({ secret: label, value })), ...lines.map((line) => JSON.stringify({ line }))];
  appendFileSync(file, `${out.join('\n')}\n`);
  lines.length = 0;
  secrets.length = 0;
}

function hook(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', flush);
}

/** One log line a test produced (text as written: a JSON line, or a message with its fields). */
export function collectLogLine(line: string): void {
  hook();
  lines.push(line);
}

/** Secrets (label -> hex) no log line may contain. */
export function collectSecrets(entries: Iterable<readonly [string, string]>): void {
  hook();
  for (const [label, value] of entries) if (value.length >= 16) secrets.push([label, value.toLowerCase()]);
}

/** A log line of a structured logger call, as text (bigints as decimal). */
export function logLineText(level: string, obj: Record<string, unknown>, msg: string): string {
  try {
    return JSON.stringify({ level, msg, ...obj }, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v));
  } catch {
    return `${level} ${msg}`;
  }
}
