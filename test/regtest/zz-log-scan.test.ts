/**
 * The suite-wide log scan (last file of `npm test`): every log line the tests of this run handed to
 * test/helpers/log-scan.ts (recording loggers, the API's pino output, every courtd process's stdout and stderr)
 * is searched for every secret they registered (seeds, tokens, preimages not yet public) plus the simulator's
 * deterministic peer seeds and private base keys. Prints `log scan: lines=N secrets=M hits=0`; empties the scan
 * directory afterwards so the next run starts clean.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PartyKeys } from '../../regtest/sim-keys.js';
import { toHex } from '../../src/util/bytes.js';
import { LOG_SCAN_DIR } from '../helpers/log-scan.js';

describe('log scan over the whole run', () => {
  it('no log line carries a secret', () => {
    const lines: string[] = [];
    const secrets = new Map<string, string>();
    for (const name of ['alice', 'bob'] as const) {
      const p = new PartyKeys(name, name);
      secrets.set(`${name} seed`, toHex(p.seed));
      for (const k of ['fundingSecret', 'revocationBaseSecret', 'htlcBaseSecret', 'paymentBaseSecret', 'delayBaseSecret'] as const) secrets.set(`${name} ${k}`, toHex(p[k]));
    }
    const files = existsSync(LOG_SCAN_DIR) ? readdirSync(LOG_SCAN_DIR).filter((f) => f.endsWith('.jsonl')) : [];
    for (const f of files) {
      for (const raw of readFileSync(join(LOG_SCAN_DIR, f), 'utf8').split('\n')) {
        if (raw === '') continue;
        const e = JSON.parse(raw) as { line?: string; secret?: string; value?: string };
        if (e.line !== undefined) lines.push(e.line.toLowerCase());
        else if (e.secret !== undefined && e.value !== undefined) secrets.set(`${e.secret} (${f})`, e.value.toLowerCase());
      }
    }
    const values = new Map<string, string>();
    for (const [label, v] of secrets) if (!values.has(v)) values.set(v, label);
    const hits: string[] = [];
    for (const [i, l] of lines.entries()) for (const [v, label] of values) if (l.includes(v)) hits.push(`line ${i}: ${label}`);
    process.stdout.write(`log scan: lines=${lines.length} secrets=${values.size} hits=${hits.length}\n`);
    rmSync(LOG_SCAN_DIR, { recursive: true, force: true });
    assert.deepEqual(hits.slice(0, 20), []);
  });
});
