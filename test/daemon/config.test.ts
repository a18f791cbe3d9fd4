/**
 * courtd's configuration, token files and datadir lock: courtd.conf and flags merged (flags win) and checked by
 * the schema, each refusal naming the bad key (and its file line), a secret value never echoed; network defaults;
 * token files created once with modes 0600/0640, refused when more open, rotated atomically; a second lock on a
 * datadir refused while its holder runs, a stale one taken over. The courtd binary exits 2 on a config error.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { configPaths, loadConfig, loggableConfig, parseConfFile } from '../../src/daemon/config.js';
import { acquireLock } from '../../src/daemon/lock.js';
import { loadOrCreateToken, readToken, rotateToken } from '../../src/daemon/tokens.js';
import { CourtError } from '../../src/util/errors.js';
import { tempDir } from '../helpers/db.js';

const refuses = (key: string, also?: RegExp) => (e: unknown) => {
  assert.ok(e instanceof CourtError, String(e));
  assert.equal(e.code, 'COURT_E_CONFIG_INVALID');
  assert.ok(e.message.includes(key), `"${e.message}" should name ${key}`);
  if (also !== undefined) assert.match(e.message, also);
  return true;
};

describe('courtd configuration', () => {
  const tmp = tempDir('config');
  after(() => tmp.remove());
  let n = 0;
  const datadir = (conf?: string): string => {
    const d = join(tmp.dir, `d${n++}`);
    mkdirSync(d, { recursive: true });
    if (conf !== undefined) writeFileSync(join(d, 'courtd.conf'), conf);
    return d;
  };

  it('merges defaults, courtd.conf and flags (flags win); regtest defaults; cookie auth by default', () => {
    const d = datadir('# comment\nnetwork=regtest\nbitcoind.rpcport = 18444\n\napi.listen=127.0.0.1:7000\n');
    const { config } = loadConfig(['--datadir', d, '--api.listen=127.0.0.1:7001'], { home: '/home/x' });
    assert.equal(config.network, 'regtest');
    assert.equal(config['bitcoind.rpcport'], 18444);
    assert.equal(config['bitcoind.rpchost'], '127.0.0.1');
    assert.equal(config['bitcoind.pollms'], 100);
    assert.equal(config['api.listen'], '127.0.0.1:7001', 'the flag wins');
    assert.equal(config['bitcoind.rpccookie'], '/home/x/.bitcoin/regtest/.cookie');
    assert.equal(config['metrics.listen'], undefined, 'metrics off by default');
    const main = loadConfig(['--datadir', datadir()], { home: '/h' }).config;
    assert.equal(main.network, 'mainnet');
    assert.equal(main['bitcoind.rpcport'], 8332);
    assert.equal(main['bitcoind.rpccookie'], '/h/.bitcoin/.cookie');
    const signet = loadConfig(['--datadir', datadir(), '--network', 'signet', '--bitcoind.rpcuser=u', '--bitcoind.rpcpassword=p'], { home: '/h' }).config;
    assert.equal(signet['bitcoind.rpcport'], 38332);
    assert.equal(signet['bitcoind.rpccookie'], undefined, 'user/password: no cookie');
    assert.deepEqual(configPaths(signet).adminToken, join(signet.datadir, 'signet', 'admin.token'));
  });

  it('refuses unknown keys, bad values and missing pieces, naming the key and the line', () => {
    assert.throws(() => loadConfig(['--datadir', datadir('network=regtest\nbitcoind.rpcprot=1\n')]), refuses('bitcoind.rpcprot', /line 2/));
    assert.throws(() => loadConfig(['--datadir', datadir('bitcoind.rpcport=abc\n')]), refuses('bitcoind.rpcport', /line 1/));
    assert.throws(() => loadConfig(['--datadir', datadir('bitcoind.rpcport=70000\n')]), refuses('bitcoind.rpcport'));
    assert.throws(() => loadConfig(['--datadir', datadir('api.listen=everywhere\n')]), refuses('api.listen'));
    assert.throws(() => loadConfig(['--datadir', datadir('network=litecoin\n')]), refuses('network'));
    assert.throws(() => loadConfig(['--datadir', datadir('log.level=loud\n')]), refuses('log.level'));
    assert.throws(() => loadConfig(['--datadir', datadir('just words\n')]), refuses('just words'));
    assert.throws(() => loadConfig(['--datadir', datadir('network=regtest\nnetwork=signet\n')]), refuses('network', /twice/));
    assert.throws(() => loadConfig(['--datadir', datadir('datadir=/x\n')]), refuses('datadir'));
    assert.throws(() => loadConfig(['--datadir', datadir(), '--bitcoind.rpcuser=u']), refuses('bitcoind.rpcuser'));
    assert.throws(() => loadConfig(['--datadir', datadir(), '--nope=1']), refuses('--nope'));
    assert.throws(() => loadConfig(['--datadir', datadir(), '--network']), refuses('--network', /needs a value/));
    assert.throws(() => loadConfig(['--network', 'regtest']), refuses('--datadir'));
    assert.throws(() => loadConfig(['--datadir', datadir(), 'stray']), refuses('stray'));
    // A secret's value is never echoed, neither in a refusal nor in the loggable config.
    const secret = 'hunter2-very-secret';
    try {
      loadConfig(['--datadir', datadir(`bitcoind.rpcuser=u\nbitcoind.rpcpassword=${secret}\nbitcoind.rpcport=x\n`)]);
      assert.fail('refused');
    } catch (e) {
      assert.doesNotMatch((e as Error).message, /hunter2/);
    }
    const ok = loadConfig(['--datadir', datadir(`bitcoind.rpcuser=u\nbitcoind.rpcpassword=${secret}\n`)]).config;
    assert.doesNotMatch(JSON.stringify(loggableConfig(ok)), /hunter2/);
    assert.equal(parseConfFile('; a comment\n  network = regtest  \n').get('network')?.value, 'regtest');
  });

  it('the courtd binary prints usage on --help and exits 2 on a config error naming the key', () => {
    const bin = new URL('../../bin/courtd.mjs', import.meta.url).pathname;
    const help = spawnSync(process.execPath, [bin, '--help'], { encoding: 'utf8' });
    assert.equal(help.status, 0);
    assert.match(help.stdout, /--bitcoind\.rpchost/);
    const bad = spawnSync(process.execPath, [bin, '--datadir', datadir('bitcoind.rpcport=0x10\n')], { encoding: 'utf8' });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /COURT_E_CONFIG_INVALID.*bitcoind\.rpcport/);
  });
});

describe('API token files', () => {
  const tmp = tempDir('tokens');
  after(() => tmp.remove());

  it('are created once with their modes, refused when more open or malformed, rotated in place', () => {
    const admin = join(tmp.dir, 'admin.token');
    const ro = join(tmp.dir, 'readonly.token');
    const a = loadOrCreateToken(admin, 'admin');
    const r = loadOrCreateToken(ro, 'readonly');
    assert.ok(a.created && r.created);
    assert.match(a.token, /^[0-9a-f]{64}$/);
    assert.notEqual(a.token, r.token);
    assert.equal(statSync(admin).mode & 0o777, 0o600);
    assert.equal(statSync(ro).mode & 0o777, 0o640);
    const again = loadOrCreateToken(admin, 'admin');
    assert.deepEqual(again, { token: a.token, created: false }, 'kept: created only if missing');
    const rotated = rotateToken(admin, 'admin');
    assert.notEqual(rotated, a.token);
    assert.equal(readFileSync(admin, 'utf8').trim(), rotated);
    assert.equal(statSync(admin).mode & 0o777, 0o600);
    chmodSync(admin, 0o644);
    assert.throws(() => readToken(admin, 'admin'), (e: CourtError) => e.code === 'COURT_E_TOKEN_FILE' && !e.message.includes(rotated));
    chmodSync(admin, 0o600);
    writeFileSync(admin, 'short\n');
    assert.throws(() => readToken(admin, 'admin'), (e: CourtError) => e.code === 'COURT_E_TOKEN_FILE');
  });
});

describe('datadir lock', () => {
  const tmp = tempDir('lock');
  after(() => tmp.remove());

  it('refuses a second holder while the first runs; takes over a lock whose process is gone', () => {
    const path = join(tmp.dir, 'courtd.lock');
    // Held by a running process other than us (the test runner's parent stands in for another courtd).
    writeFileSync(path, `${process.ppid}\n`);
    assert.throws(() => acquireLock(path), (e: CourtError) => e.code === 'COURT_E_DAEMON_LOCKED');
    // A pid that no longer runs: taken over.
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    writeFileSync(path, `${gone.stdout}\n`);
    const l = acquireLock(path);
    assert.equal(l.tookOver, true);
    assert.equal(readFileSync(path, 'utf8').trim(), String(process.pid));
    l.release();
    const l2 = acquireLock(path);
    assert.equal(l2.tookOver, false);
    l2.release();
  });
});
