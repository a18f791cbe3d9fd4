/**
 * courtd as a process without a node: it waits for bitcoind (logging that it retries) and a SIGTERM during that
 * wait stops it with exit 0, releasing its lock; the seed and the token files it created have their modes.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { spawn } from 'node:child_process';
import { tempDir } from '../helpers/db.js';

/** A port nothing listens on (bound, then closed). */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('courtd process without a node', () => {
  const tmp = tempDir('courtd-nonode');
  after(() => tmp.remove());

  for (const signal of ['SIGTERM', 'SIGINT'] as const) it(`waits for bitcoind, and ${signal} stops it cleanly (exit 0, lock released)`, { timeout: 60_000 }, async () => {
    const datadir = join(tmp.dir, signal);
    mkdirSync(datadir);
    writeFileSync(join(datadir, 'courtd.conf'), `network=regtest\nbitcoind.rpcport=${await deadPort()}\nbitcoind.rpcuser=u\nbitcoind.rpcpassword=p\nbitcoind.timeoutms=500\napi.listen=127.0.0.1:0\n`);
    const bin = new URL('../../bin/courtd.mjs', import.meta.url).pathname;
    const child = spawn(process.execPath, [bin, '--datadir', datadir], { stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: string[] = [];
    child.stdout.on('data', (c: Buffer) => lines.push(...c.toString('utf8').split('\n').filter((l) => l !== '')));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const deadline = Date.now() + 30_000;
    while (!lines.some((l) => l.includes('bitcoind does not answer yet'))) {
      assert.ok(Date.now() < deadline, `courtd logs its wait for bitcoind (got: ${lines.join(' | ')})`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const net = join(datadir, 'regtest');
    assert.equal(statSync(join(net, 'seed')).mode & 0o777, 0o600);
    assert.equal(statSync(join(net, 'admin.token')).mode & 0o777, 0o600);
    assert.equal(statSync(join(net, 'readonly.token')).mode & 0o777, 0o640);
    assert.ok(existsSync(join(net, 'courtd.lock')));
    child.kill(signal);
    assert.equal(await exited, 0);
    assert.equal(existsSync(join(net, 'courtd.lock')), false, 'lock released');
    for (const l of lines) assert.doesNotThrow(() => JSON.parse(l), 'every stdout line is JSON');
  });
});
