/**
 * `court` against a stand-in HTTP server that records what it is asked (the real daemon's tests are in
 * test/regtest/e2e-*.test.ts): the paths, methods, bodies and bearer token of every command, the daemon's errors
 * mapped to exit 1 with their code, `--json` printing the answer unchanged, the force-close flow (dry run first, then
 * the real call only when confirmed), and the server-sent-events parser on awkward chunking.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, afterEach, before, describe, it } from 'node:test';
import { SseParser } from '../../src/cli/client.js';
import { run, type CliIo } from '../../src/cli/program.js';
import { closeAllServers, startServer, type TestServer } from '../helpers/http-server.js';

const TOKEN = 'ab'.repeat(32);
const CP = `${'11'.repeat(32)}:1`;
const TX = 'c0'.repeat(32);

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly auth: string | undefined;
  readonly body: unknown;
}

const PLAN = {
  chan_point: CP,
  commitment_number: 4,
  closing_txid: TX,
  plan: {
    fee_sat: '1500',
    feerate_sat_per_vbyte: '5',
    commitment_type: 'anchors',
    outputs: [{ kind: 'to_local', amount_sat: '500000', maturity_height: 250, csv_delay: 144 }],
    htlcs: [{ htlc_id: 2, direction: 'outgoing', amount_sat: '25000', payment_hash: 'ee'.repeat(32), cltv_expiry: 140, deadline_height: 140, blocks_left: 30 }],
    fail_back_now: [],
  },
};

const ANSWERS: Record<string, unknown> = {
  'GET /v1/info': { version: '0.1.0', network: 'regtest', block_height: 110, block_hash: 'ff'.repeat(32), synced_to_chain: true, num_pending_channels: 1, num_closed_channels: 0 },
  'GET /v1/channels': {
    channels: [
      { chan_point: CP, state: 'WaitingFullResolution', close_type: 'LOCAL_FORCE_CLOSE', capacity_sat: '1000000', commitment_type: 'anchors', close_height: 100, limbo_balance: '500000', recovered_balance: '0', outputs: [] },
      { chan_point: `${'22'.repeat(32)}:0`, state: 'FullyResolved', capacity_sat: '1000000', commitment_type: 'anchors', limbo_balance: '0', recovered_balance: '1', outputs: [] },
      { chan_point: `${'44'.repeat(32)}:2`, state: 'Default', capacity_sat: '500000', commitment_type: 'anchors', limbo_balance: '0', recovered_balance: '0', outputs: [] },
    ],
  },
  'GET /v1/closed?close_type=BREACH_CLOSE': { channels: [] },
  'GET /v1/closed': {
    channels: [
      { chan_point: CP, close_type: 'BREACH_CLOSE', closing_txid: TX, close_height: 99, settled_balance: '0', resolutions: [] },
      { chan_point: `${'33'.repeat(32)}:0`, close_type: 'COOPERATIVE_CLOSE', closing_txid: TX, close_height: 98, settled_balance: '7', resolutions: [] },
    ],
  },
  'GET /v1/sweeps': { sweeps: [] },
  [`GET /v1/channels/${encodeURIComponent(CP)}/history`]: { transitions: [{ seq: 1, from: 'Default', event: 'ForceCloseRequested', to: 'BroadcastCommit', height: 100 }] },
  'GET /v1/wallet/balance': { confirmed_balance: '1', unconfirmed_balance: '0', locked_balance: '0', total_balance: '1', reserve_required: '0', reserve_shortfall: '0' },
  'POST /v1/wallet/address': { address: 'bcrt1qexample' },
  'POST /v1/sweeps/bump': { outpoint: `${TX}:0`, budget_sat: '9000' },
  [`POST /v1/channels/${encodeURIComponent(CP)}/bump`]: { chan_point: CP },
  [`POST /v1/channels/${encodeURIComponent(CP)}/force-close`]: PLAN,
  'POST /v1/tokens/rotate': { scope: 'readonly', path: '/d/regtest/readonly.token' },
  'POST /v1/wallet/rescan': { blocks: 0, confirmed_balance: '0' },
  'GET /v1/wallet/alerts?after=2': { alerts: [] },
};

let server: TestServer;
let seen: Seen[] = [];
let dir: string;

function handler(body: unknown, req: http.IncomingMessage, res: http.ServerResponse): void {
  const key = `${req.method} ${req.url}`;
  seen.push({ method: req.method as string, url: req.url as string, auth: req.headers.authorization, body });
  if (req.url?.startsWith('/v1/events')) {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    // Awkward chunking: an event split mid-line and a \r\n pair split across writes.
    res.write(': hello\n\nid: 5\ndata: {"id":5,"type":"channel_closing",');
    setTimeout(() => res.write('"chan_point":"x:0"}\r'), 20);
    setTimeout(() => res.write('\n\r\nid: 6\ndata: {"id":6,"type":"htlc_failed_on_chain"}\n\n'), 40);
    return;
  }
  if (req.url === `/v1/channels/${encodeURIComponent(`${'99'.repeat(32)}:0`)}/history`) {
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ code: 'COURT_E_CHANNEL_UNKNOWN', message: 'no such channel' }));
    return;
  }
  const answer = ANSWERS[key];
  if (answer === undefined) {
    res.writeHead(500);
    res.end('unexpected');
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify(answer));
}

function io(stdinTTY = false): CliIo & { stdin: PassThrough; out: () => string; err: () => string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const stdin = Object.assign(new PassThrough(), { isTTY: stdinTTY });
  let o = '';
  let e = '';
  stdout.on('data', (d: Buffer) => (o += d.toString()));
  stderr.on('data', (d: Buffer) => (e += d.toString()));
  return { stdout, stderr, stdin, env: { NO_COLOR: '1' }, out: () => o, err: () => e };
}

async function court(args: string[], x = io()): Promise<{ code: number; out: string; err: string }> {
  const code = await run(['--datadir', dir, '--network', 'regtest', '--rpcserver', server.url, ...args], x);
  return { code, out: x.out(), err: x.err() };
}

describe('court against a stand-in API', () => {
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'court-cli-'));
    const net = join(dir, 'regtest');
    mkdirSync(net);
    writeFileSync(join(net, 'admin.token'), `${TOKEN}\n`, { mode: 0o600 });
    server = await startServer(handler);
  });
  afterEach(() => {
    seen = [];
  });
  after(async () => {
    await closeAllServers();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads commands go to their path with the bearer token from <datadir>/<network>/admin.token', async () => {
    const cmds: [string[], string][] = [
      [['getinfo'], '/v1/info'],
      [['pendingchannels'], '/v1/channels'],
      [['closedchannels'], '/v1/closed'],
      [['pendingsweeps'], '/v1/sweeps'],
      [['history', CP], `/v1/channels/${encodeURIComponent(CP)}/history`],
      [['wallet', 'balance'], '/v1/wallet/balance'],
      [['wallet', 'alerts', '--after', '2'], '/v1/wallet/alerts?after=2'],
    ];
    for (const [args, path] of cmds) {
      const r = await court(args);
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.err}`);
      assert.equal(seen[0]?.url, path, args.join(' '));
      assert.equal(seen[0]?.auth, `Bearer ${TOKEN}`);
      seen = [];
    }
    assert.ok(!(await court(['getinfo'])).err.includes(TOKEN), 'the token is never printed');
  });

  it('--json prints the answer unchanged; pendingchannels shows closing channels only, listchannels open ones too', async () => {
    const info = await court(['getinfo', '--json']);
    assert.deepEqual(JSON.parse(info.out), ANSWERS['GET /v1/info']);
    const pending = JSON.parse((await court(['--json', 'pendingchannels'])).out) as { channels: { chan_point: string }[] };
    assert.deepEqual(
      pending.channels.map((c) => c.chan_point),
      [CP],
    );
    const all = JSON.parse((await court(['listchannels', '--json'])).out) as { channels: { chan_point: string }[] };
    assert.deepEqual(
      all.channels.map((c) => c.chan_point),
      [CP, `${'44'.repeat(32)}:2`],
    );
    assert.match((await court(['listchannels'])).out, /44444444…4444:2 │ Default/);
  });

  it('closedchannels with one type flag asks the daemon for it; with two filters the full list', async () => {
    assert.equal((await court(['closedchannels', '--breach'])).code, 0);
    assert.equal(seen[0]?.url, '/v1/closed?close_type=BREACH_CLOSE');
    seen = [];
    const two = JSON.parse((await court(['closedchannels', '--cooperative', '--remote_force', '--json'])).out) as { channels: { close_type: string }[] };
    assert.equal(seen[0]?.url, '/v1/closed');
    assert.deepEqual(
      two.channels.map((c) => c.close_type),
      ['COOPERATIVE_CLOSE'],
    );
  });

  it('wallet newaddress, bumpfee and bumpforceclosefee post their bodies', async () => {
    assert.equal((await court(['wallet', 'newaddress'])).out, 'bcrt1qexample\n');
    assert.equal((await court(['wallet', 'bumpfee', `${TX}:0`, '--budget', '9000', '--deadline_delta', '6'])).code, 0);
    assert.deepEqual(seen.at(-1)?.body, { outpoint: `${TX}:0`, budget_sat: '9000', deadline_delta: 6 });
    assert.equal((await court(['wallet', 'bumpforceclosefee', '--chan_point', CP, '--sat_per_vbyte', '12'])).code, 0);
    assert.equal(seen.at(-1)?.url, `/v1/channels/${encodeURIComponent(CP)}/bump`);
    assert.deepEqual(seen.at(-1)?.body, { sat_per_vbyte: 12 });
  });

  it('wallet rescan: one request per chunk from --from_height to the daemon\'s height, blocks summed', async () => {
    const r = await court(['wallet', 'rescan', '--from_height', '0', '--chunk', '50', '--json']);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(
      seen.filter((x) => x.url === '/v1/wallet/rescan').map((x) => x.body),
      [
        { from_height: 0, to_height: 49 },
        { from_height: 50, to_height: 99 },
        { from_height: 100, to_height: 110 },
      ],
    );
    assert.deepEqual(JSON.parse(r.out), { blocks: 0, confirmed_balance: '0', from_height: 0, to_height: 110 });
    assert.equal(r.err, '', 'no progress bar: stderr is not a terminal');
    assert.equal((await court(['wallet', 'rescan', '--from_height', '200', '--to_height', '100'])).code, 2);
  });

  it('rotate-token posts the scope; a scope outside admin|readonly is a usage error', async () => {
    const r = await court(['rotate-token', '--scope', 'readonly']);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(seen.at(-1)?.body, { scope: 'readonly' });
    assert.match(r.out, /rotated the readonly token: \/d\/regtest\/readonly.token/);
    assert.equal((await court(['rotatetoken', '--scope', 'root'])).code, 2);
  });

  it('closechannel --force: the plan from a dry run, then the real call only with --yes', async () => {
    const dry = await court(['closechannel', '--force', '--dry_run', CP]);
    assert.equal(dry.code, 0, dry.err);
    assert.match(dry.out, /Force-close plan/);
    assert.deepEqual(
      seen.filter((s) => s.method === 'POST').map((s) => s.body),
      [{ dry_run: true }],
    );
    seen = [];
    const refused = await court(['closechannel', '--force', CP]);
    assert.equal(refused.code, 2, 'no --yes and stdin is not a terminal');
    assert.deepEqual(
      seen.filter((s) => s.method === 'POST').map((s) => s.body),
      [{ dry_run: true }],
      'nothing broadcast',
    );
    seen = [];
    const declined = io(true);
    declined.stdin.end('n\n');
    assert.equal((await court(['closechannel', '--force', CP], declined)).code, 1);
    assert.equal(seen.filter((s) => s.method === 'POST').length, 1, 'declined: only the dry run');
    seen = [];
    const confirmed = io(true);
    confirmed.stdin.end('y\n');
    assert.equal((await court(['closechannel', '--force', CP], confirmed)).code, 0, confirmed.err());
    assert.match(confirmed.err(), /Broadcast commitment #4 of 1{64}:1\? \[y\/N\]/);
    assert.deepEqual(
      seen.filter((s) => s.method === 'POST').map((s) => s.body),
      [{ dry_run: true }, { dry_run: false }],
      'confirmed: the dry run, then the broadcast',
    );
    seen = [];
    const yes = await court(['closechannel', '--force', '--yes', '--chan_point', CP]);
    assert.equal(yes.code, 0, yes.err);
    assert.deepEqual(
      seen.filter((s) => s.method === 'POST').map((s) => s.body),
      [{ dry_run: true }, { dry_run: false }],
    );
    assert.match(yes.out, /force close requested: commitment #4, closing_txid c0c0/);
  });

  it("a daemon error exits 1 with the daemon's code", async () => {
    const r = await court(['history', `${'99'.repeat(32)}:0`]);
    assert.equal(r.code, 1);
    assert.match(r.err, /\[COURT_E_CHANNEL_UNKNOWN\] no such channel/);
  });

  it('events reads the stream until it goes quiet, one line per event (or JSON lines)', async () => {
    const r = await court(['events', '--after', '4']);
    assert.equal(r.code, 0, r.err);
    assert.equal(seen[0]?.url, '/v1/events?after=4');
    assert.deepEqual(r.out.trim().split('\n'), ['#5 channel_closing x:0', '#6 htlc_failed_on_chain']);
    const j = await court(['events', '--json']);
    assert.deepEqual(
      j.out
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { id: number }).id),
      [5, 6],
    );
  });
});

describe('SseParser', () => {
  it('splits events on blank lines whatever the chunking, keeps ids, skips comments, joins data lines', () => {
    const text = ': c\nid: 1\nevent: x\ndata: a\ndata: b\n\r\nid:2\ndata:{"k":1}\r\n\r\ndata: no id kept\n\n';
    const whole = new SseParser().push(text);
    assert.deepEqual(whole, [
      { id: '1', event: 'x', data: 'a\nb' },
      { id: '2', data: '{"k":1}' },
      { id: '2', data: 'no id kept' },
    ]);
    for (let cut = 1; cut < text.length; cut++) {
      const p = new SseParser();
      assert.deepEqual([...p.push(text.slice(0, cut)), ...p.push(text.slice(cut))], whole, `cut at ${cut}`);
    }
  });
});
