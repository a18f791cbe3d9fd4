/**
 * `court`'s argument parsing: pure checks (outpoints, amounts, blocks, fee rates, networks, the API address, close
 * type filters, token paths, colour), and the program's exit codes for usage errors, which are decided before any
 * request (no daemon runs in this file: a request would fail with exit code 1, not 2).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { InvalidArgumentError } from '@commander-js/extra-typings';
import {
  closeTypeFilter,
  closeTypeMatches,
  parseBlocks,
  parseDeadlineDelta,
  parseEventId,
  parseNetwork,
  parseOutpoint,
  parseRpcServer,
  parseSatPerVbyte,
  parseSats,
  tokenPaths,
  useColor,
} from '../../src/cli/args.js';
import { bumpBody, rescanChunks, run, type CliIo } from '../../src/cli/program.js';
import { closedPort } from '../helpers/http-server.js';

const TXID = 'ab'.repeat(32);

const bad = (f: () => unknown): void => assert.throws(f, InvalidArgumentError);

describe('court argument parsers', () => {
  it('parseOutpoint takes txid:vout, lower-cases it, and refuses anything else', () => {
    assert.equal(parseOutpoint(`${TXID.toUpperCase()}:0`), `${TXID}:0`);
    assert.equal(parseOutpoint(` ${TXID}:4294967295 `), `${TXID}:4294967295`);
    bad(() => parseOutpoint(`${TXID}:4294967296`));
    bad(() => parseOutpoint(`${TXID}:01`));
    bad(() => parseOutpoint(`${TXID}:-1`));
    bad(() => parseOutpoint(`${TXID.slice(2)}:0`));
    bad(() => parseOutpoint(TXID));
    bad(() => parseOutpoint(`${'zz'.repeat(32)}:0`));
  });

  it('parseSats keeps a decimal string up to 21M BTC', () => {
    assert.equal(parseSats('0'), '0');
    assert.equal(parseSats('2100000000000000'), '2100000000000000');
    bad(() => parseSats('2100000000000001'));
    bad(() => parseSats('1.5'));
    bad(() => parseSats('-1'));
    bad(() => parseSats('1e3'));
    bad(() => parseSats('007'));
  });

  it('parseBlocks, parseSatPerVbyte and parseEventId bound their values', () => {
    assert.equal(parseBlocks('1'), 1);
    assert.equal(parseBlocks('100000'), 100_000);
    bad(() => parseBlocks('0'));
    bad(() => parseBlocks('100001'));
    bad(() => parseBlocks('2.5'));
    assert.equal(parseSatPerVbyte('1'), 1);
    assert.equal(parseSatPerVbyte('1000'), 1000);
    bad(() => parseSatPerVbyte('0'));
    bad(() => parseSatPerVbyte('1.5'));
    bad(() => parseSatPerVbyte('1001'));
    assert.equal(parseDeadlineDelta('10000'), 10_000);
    bad(() => parseDeadlineDelta('10001'));
    assert.equal(parseEventId('0'), 0);
    bad(() => parseEventId('-3'));
  });

  it('parseNetwork takes the four networks, any case', () => {
    assert.equal(parseNetwork('REGTEST'), 'regtest');
    bad(() => parseNetwork('simnet'));
  });

  it('parseRpcServer turns host:port, :port, a port or a URL into a base URL', () => {
    assert.equal(parseRpcServer('127.0.0.1:9736'), 'http://127.0.0.1:9736');
    assert.equal(parseRpcServer(':9000'), 'http://127.0.0.1:9000');
    assert.equal(parseRpcServer('9000'), 'http://127.0.0.1:9000');
    assert.equal(parseRpcServer('https://court.example:443/'), 'https://court.example');
    assert.equal(parseRpcServer('[::1]:8181'), 'http://[::1]:8181');
    bad(() => parseRpcServer('ftp://x:1'));
    bad(() => parseRpcServer('http://u:p@x:1'));
    bad(() => parseRpcServer('http://x:1/?a=b'));
    bad(() => parseRpcServer('::::'));
  });

  it('closeTypeFilter maps lncli flags to lncli close types; closeTypeMatches also takes courtd short names', () => {
    assert.deepEqual(closeTypeFilter({}), []);
    assert.deepEqual(closeTypeFilter({ breach: true, cooperative: true }), ['COOPERATIVE_CLOSE', 'BREACH_CLOSE']);
    assert.ok(closeTypeMatches('BREACH_CLOSE', 'BREACH_CLOSE'));
    assert.ok(closeTypeMatches('breach', 'BREACH_CLOSE'));
    assert.ok(closeTypeMatches('remotePending', 'REMOTE_FORCE_CLOSE'));
    assert.ok(closeTypeMatches('coop', 'COOPERATIVE_CLOSE'));
    assert.ok(!closeTypeMatches('LOCAL_FORCE_CLOSE', 'REMOTE_FORCE_CLOSE'));
    assert.ok(!closeTypeMatches('local', 'BREACH_CLOSE'));
  });

  it('tokenPaths: --tokenfile alone, else admin then readonly under <datadir>/<network>', () => {
    assert.deepEqual(tokenPaths({ tokenfile: '/t' }).tokenFiles, ['/t']);
    const p = tokenPaths({ datadir: '/d', network: 'regtest' });
    assert.deepEqual(p.tokenFiles, [join('/d', 'regtest', 'admin.token'), join('/d', 'regtest', 'readonly.token')]);
    assert.equal(tokenPaths({}, { COURTD_DATADIR: '/e' }).datadir, '/e');
    assert.equal(tokenPaths({}).network, 'mainnet');
  });

  it('useColor: NO_COLOR wins, FORCE_COLOR forces, otherwise only on a terminal', () => {
    assert.equal(useColor({}, true), true);
    assert.equal(useColor({}, false), false);
    assert.equal(useColor({ NO_COLOR: '1' }, true), false);
    assert.equal(useColor({ NO_COLOR: '' }, true), true);
    assert.equal(useColor({ NO_COLOR: '1', FORCE_COLOR: '1' }, true), false);
    assert.equal(useColor({ FORCE_COLOR: '1' }, false), true);
    assert.equal(useColor({ TERM: 'dumb' }, true), false);
  });

  it('rescanChunks covers from..to exactly, in order, chunk blocks at a time', () => {
    assert.deepEqual(rescanChunks(100, 100, 500), [[100, 100]]);
    assert.deepEqual(rescanChunks(0, 1199, 500), [
      [0, 499],
      [500, 999],
      [1000, 1199],
    ]);
    assert.deepEqual(rescanChunks(10, 9, 5), []);
    for (const [from, to, chunk] of [[7, 1000, 33], [0, 0, 1], [5, 64, 60]] as const) {
      const heights = rescanChunks(from, to, chunk).flatMap(([a, b]) => Array.from({ length: b - a + 1 }, (_, i) => a + i));
      assert.deepEqual(heights, Array.from({ length: to - from + 1 }, (_, i) => from + i));
    }
  });

  it('bumpBody sends only the flags given, and needs one', () => {
    assert.deepEqual(bumpBody({ budget: '5000' }), { budget_sat: '5000' });
    assert.deepEqual(bumpBody({ deadline_delta: 6, sat_per_vbyte: 25 }), { deadline_delta: 6, sat_per_vbyte: 25 });
    assert.throws(() => bumpBody({}), /at least one/);
  });
});

function io(env: NodeJS.ProcessEnv = {}): CliIo & { out: () => string; err: () => string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let o = '';
  let e = '';
  stdout.on('data', (d: Buffer) => (o += d.toString()));
  stderr.on('data', (d: Buffer) => (e += d.toString()));
  return { stdout, stderr, stdin: new PassThrough(), env, out: () => o, err: () => e };
}

describe('court exit codes without a daemon', () => {
  // An address nothing listens on: a request that got through parsing fails with 1 (connection refused), not 2.
  let base: string[] = [];
  let dir = '';
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'court-args-'));
    writeFileSync(join(dir, 'token'), `${'ab'.repeat(32)}\n`);
    writeFileSync(join(dir, 'garbage'), 'not\na token\n');
    base = ['--rpcserver', `127.0.0.1:${await closedPort()}`, '--tokenfile', join(dir, 'token')];
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const cases: [string, string[], number][] = [
    ['--help', ['--help'], 0],
    ['--version', ['--version'], 0],
    ['help closechannel', ['help', 'closechannel'], 0],
    ['no command', [], 2],
    ['wallet without its subcommand', ['wallet'], 2],
    ['an unknown command', ['frobnicate'], 2],
    ['an unknown flag', ['getinfo', '--frob'], 2],
    ['a bad channel point', ['history', 'nope'], 2],
    ['closechannel without --force', ['closechannel', `${TXID}:0`], 2],
    ['closechannel without a channel point', ['closechannel', '--force'], 2],
    ['bumpfee without a flag', ['wallet', 'bumpfee', `${TXID}:1`], 2],
    ['bumpfee with a bad budget', ['wallet', 'bumpfee', `${TXID}:1`, '--budget', '1.5'], 2],
    ['bumpforceclosefee without --chan_point', ['wallet', 'bumpforceclosefee', '--budget', '100'], 2],
    ['rescan without --from_height', ['wallet', 'rescan'], 2],
    ['rescan with a bad height', ['wallet', 'rescan', '--from_height', '-1'], 2],
    ['a bad network', ['--network', 'simnet', 'getinfo'], 2],
    ['no token file', ['--datadir', '/nonexistent-courtd', 'getinfo'], 2],
    ['a token file without a token', ['getinfo', '--tokenfile', 'GARBAGE'], 2],
    ['a daemon that cannot be reached', ['getinfo'], 1],
  ];
  for (const [name, argv, code] of cases) {
    it(`${name}: exit ${code}`, async () => {
      const x = io({ NO_COLOR: '1' });
      const args = name === 'no token file' ? argv : [...base, ...argv.map((a) => (a === 'GARBAGE' ? join(dir, 'garbage') : a))];
      assert.equal(await run(args, x), code, x.err());
      if (code === 2) assert.notEqual(x.err(), '', 'a usage error says why on stderr');
    });
  }

  it('--json errors are one JSON line on stderr with code and message', async () => {
    const x = io();
    assert.equal(await run([...base, '--json', 'getinfo'], x), 1);
    const e = JSON.parse(x.err()) as { code: string; message: string };
    assert.equal(e.code, 'COURT_E_CLI_UNREACHABLE');
    assert.match(e.message, /cannot reach courtd at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
  });
});
