/**
 * End to end through the daemon process, the HTTP API and the `court` CLI, spawned as a user would (no in-process
 * call into courtd): the simulator's node adapter feeds courtd over HTTP and reads its events over SSE; one scenario
 * per close kind on the embedded regtest node:
 *   - our force close, requested with `court closechannel --force --yes` (the node accepts the commitment courtd
 *     signed, and its txid is the one the plan named),
 *   - their force close (the peer's latest commitment),
 *   - a breach (a revoked commitment of the peer),
 *   - a cooperative close (handed over with POST coop-close), to FullyResolved.
 * Each CLI command is checked as a table and as `--json` against the API's answer.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { address as btcAddress, networks } from 'bitcoinjs-lib';
import { startChain, type RegtestChain } from '../../regtest/chain.js';
import { COURT, CourtdProcess } from '../../regtest/courtd-process.js';
import { NodeAdapter } from '../../regtest/node-adapter.js';
import type { ChannelSimulator } from '../../regtest/simulator.js';
import { closeTypeMatches } from '../../src/cli/args.js';
import { toHex } from '../../src/util/bytes.js';
import { shortOutpoint } from '../../src/cli/format.js';
import type { ChannelView, ClosedView, ForceCloseView, InfoView, SweepView } from '../../src/cli/views.js';
import { collectLogLine, collectSecrets } from '../helpers/log-scan.js';
import { coopCloseTx, openOnChain } from './arbitrator.helpers.js';

const json = <T>(text: string): T => JSON.parse(text) as T;

describe('courtd process + API + court CLI on regtest, one scenario per close kind', () => {
  let chain: RegtestChain;
  let court: CourtdProcess;
  let node: NodeAdapter;
  let seed: Uint8Array;
  /** Everything every `court` run printed (scanned for secrets at the end). */
  const courtOutputs: string[] = [];
  /** Tokens rotated away (still secrets). */
  const rotatedAway: string[] = [];

  /** A channel alice (courtd) funded, with one HTLC each way, registered over HTTP. */
  async function open(): Promise<ChannelSimulator> {
    const sim = await openOnChain(chain, 'anchors');
    const h = await chain.height();
    await node.register(sim, { fundingHeightHint: h - 1 });
    sim.addHtlc('alice', 50_000_000n, h + 60);
    sim.addHtlc('bob', 40_000_000n, h + 80);
    await node.commit(sim);
    return sim;
  }

  async function mineAndSync(n = 1): Promise<void> {
    await chain.mine(n);
    await court.caughtUp();
  }

  async function channel(cp: string): Promise<ChannelView> {
    return node.request<ChannelView>('GET', `/v1/channels/${encodeURIComponent(cp)}`);
  }

  /** Mines until the channel's close is confirmed and classified (close_type set). */
  async function untilClosed(cp: string, maxBlocks = 6): Promise<ChannelView> {
    for (let i = 0; i < maxBlocks; i++) {
      await mineAndSync();
      const v = await channel(cp);
      if (v.close_type !== undefined && v.close_type !== null) return v;
    }
    throw new Error(`${cp} not classified after ${maxBlocks} blocks: ${JSON.stringify(await channel(cp))}`);
  }

  /**
   * `court closedchannels <flag>` as lncli's: a close is listed there once fully resolved, and until then only in
   * pendingchannels. Returns the entry when listed.
   */
  async function closedEntry(cp: string, flag: string): Promise<ClosedView | undefined> {
    // The resolver runner may finish the channel between two reads: read until its state is the same on both sides.
    let resolved = false;
    let entry: ClosedView | undefined;
    let table = { code: -1, stdout: '', stderr: '' };
    let pending: ChannelView[] = [];
    for (let attempt = 0; attempt < 3; attempt++) {
      const before = (await channel(cp)).state;
      const r = await court.court(['closedchannels', flag, '--json']);
      assert.equal(r.code, 0, r.stderr);
      entry = json<{ channels: ClosedView[] }>(r.stdout).channels.find((c) => c.chan_point === cp);
      table = await court.court(['closedchannels', flag]);
      pending = json<{ channels: ChannelView[] }>((await court.court(['pendingchannels', '--json'])).stdout).channels;
      resolved = before === 'FullyResolved';
      if ((await channel(cp)).state === before) break;
    }
    assert.equal(table.code, 0);
    if (resolved) {
      assert.ok(entry !== undefined, `${cp} in closedchannels ${flag}: ${table.stdout}`);
      assert.ok(table.stdout.includes(shortOutpoint(cp)), table.stdout);
      assert.ok(!pending.some((c) => c.chan_point === cp), `${cp} no longer pending`);
    } else {
      assert.equal(entry, undefined, `${cp} is not in closedchannels before it is fully resolved`);
      assert.ok(pending.some((c) => c.chan_point === cp), `${cp} in pendingchannels until fully resolved`);
    }
    return entry;
  }

  before(async () => {
    chain = await startChain();
    const first = await openOnChain(chain, 'anchors');
    seed = first.parties.alice.seed;
    court = await CourtdProcess.start(chain, { seed, onCourt: (r) => courtOutputs.push(r.stdout, r.stderr) });
    node = new NodeAdapter({ baseUrl: court.baseUrl, token: court.token('admin') });
    node.follow();
    await node.register(first, { fundingHeightHint: (await chain.height()) - 1 });
  });

  after(async () => {
    node?.close();
    const code = await court?.stop({ remove: true });
    await chain?.stop();
    assert.equal(code ?? 0, 0, 'courtd stops cleanly on SIGTERM');
  });

  it('getinfo, wallet newaddress and balance: tables and --json agree with the API and the chain', async () => {
    await court.caughtUp();
    const info = await court.court(['getinfo', '--json']);
    assert.equal(info.code, 0, info.stderr);
    const i = json<InfoView>(info.stdout);
    assert.equal(i.network, 'regtest');
    assert.equal(i.block_height, await chain.height());
    const table = await court.court(['getinfo']);
    assert.match(table.stdout, new RegExp(`block_height\\s*│\\s*${i.block_height}`));
    // Colour: only when asked for (FORCE_COLOR) and never with NO_COLOR; never in --json.
    const ESC = '\u001b[';
    assert.ok(!table.stdout.includes(ESC), 'NO_COLOR: plain');
    assert.ok((await court.court(['getinfo'], { env: { NO_COLOR: '', FORCE_COLOR: '1' } })).stdout.includes(ESC), 'FORCE_COLOR: coloured');
    assert.ok(!(await court.court(['getinfo', '--json'], { env: { NO_COLOR: '', FORCE_COLOR: '1' } })).stdout.includes(ESC), '--json: never coloured');
    const sync = await court.court(['waitsync', '--timeout', '30']);
    assert.equal(sync.code, 0, sync.stderr);
    assert.match(sync.stdout, /^synced at \d+/);
    assert.equal(sync.stderr, '', 'no progress bar when stderr is not a terminal');

    const addr = await court.court(['wallet', 'newaddress', '--json']);
    assert.equal(addr.code, 0, addr.stderr);
    const { address } = json<{ address: string }>(addr.stdout);
    await chain.fund(btcAddress.toOutputScript(address, networks.regtest), 250_000n, { confirm: false });
    await mineAndSync();
    const bal = await court.court(['wallet', 'balance', '--json']);
    assert.equal(bal.code, 0, bal.stderr);
    assert.equal(json<{ confirmed_balance: string }>(bal.stdout).confirmed_balance, '250000');
    assert.match((await court.court(['wallet', 'balance'])).stdout, /confirmed_balance\s*│\s*250,000/);
    // A rescan of blocks the wallet already read changes nothing (the same confirmed balance), in chunks.
    const tip = await chain.height();
    const rescan = await court.court(['wallet', 'rescan', '--from_height', String(tip - 4), '--chunk', '2', '--json']);
    assert.equal(rescan.code, 0, rescan.stderr);
    assert.deepEqual(json<{ blocks: number; confirmed_balance: string }>(rescan.stdout), { blocks: 5, confirmed_balance: '250000', from_height: tip - 4, to_height: tip });
    const alerts = await court.court(['wallet', 'alerts', '--json']);
    assert.equal(alerts.code, 0, alerts.stderr);
    assert.deepEqual(json<{ alerts: unknown[] }>(alerts.stdout).alerts, []);
    assert.match((await court.court(['wallet', 'alerts'])).stdout, /no wallet alerts/);
  });

  it('our force close through `court closechannel --force --yes`: plan, broadcast, classified LOCAL', async (t) => {
    const sim = await open();
    const cp = sim.chanPoint;
    const dry = await court.court(['closechannel', '--force', '--dry_run', '--json', cp]);
    assert.equal(dry.code, 0, dry.stderr);
    const plan = json<ForceCloseView>(dry.stdout);
    const expectTxid = sim.signedCommitment('alice').getId();
    assert.equal(plan.closing_txid, expectTxid, 'the plan names the commitment courtd will broadcast');
    assert.equal(plan.plan.htlcs.length, 2);
    assert.equal(await chain.inMempool(expectTxid), false, 'a dry run broadcasts nothing');

    const r = await court.court(['closechannel', '--force', '--yes', cp]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Force-close plan/);
    assert.match(r.stdout, new RegExp(`closing_txid ${expectTxid}`));
    const again = await court.court(['closechannel', '--force', '--yes', cp]);
    assert.equal(again.code, 1, 'a second force close is refused by the daemon');
    assert.match(again.stderr, /COURT_E_CHANNEL_(CLOSING|UNKNOWN)/);

    // Fee bumping of the force close: every pending sweep of the channel (the anchor CPFP), or a coded refusal
    // when there is none; pendingsweeps agrees either way.
    const live = json<{ sweeps: SweepView[] }>((await court.court(['pendingsweeps', '--json'])).stdout).sweeps.filter(
      (w) => w.chan_point === cp && (w.state === 'pending' || w.state === 'published'),
    );
    const bump = await court.court(['wallet', 'bumpforceclosefee', '--chan_point', cp, '--budget', '20000', '--json']);
    t.diagnostic(`sweeps of the force close when bumped: ${live.map((w) => `${w.witness_type} ${w.state}`).join(', ') || 'none'}`);
    if (live.length > 0) {
      assert.equal(bump.code, 0, bump.stderr);
      assert.deepEqual(json<{ bumped: string[] }>(bump.stdout).bumped.sort(), live.map((w) => w.outpoint).sort());
      const one = await court.court(['wallet', 'bumpfee', live[0]?.outpoint as string, '--sat_per_vbyte', '5']);
      assert.equal(one.code, 0, one.stderr);
      assert.match(one.stdout, /bumped/);
    } else {
      assert.equal(bump.code, 1);
      assert.match(bump.stderr, /COURT_E_SWEEP_UNKNOWN_INPUT/);
    }

    const v = await untilClosed(cp);
    assert.ok(closeTypeMatches(v.close_type as string, 'LOCAL_FORCE_CLOSE'), String(v.close_type));
    assert.equal(v.closing_txid, expectTxid);
    assert.notEqual(await chain.confirmationHeight(expectTxid), undefined);
    await closedEntry(cp, '--local_force');
    await node.waitForEvent((e) => e.chan_point === cp);

    const pending = await court.court(['pendingchannels', '--json']);
    assert.equal(pending.code, 0);
    const mine = json<{ channels: ChannelView[] }>(pending.stdout).channels.find((c) => c.chan_point === cp);
    if (mine !== undefined) {
      assert.ok(BigInt(mine.limbo_balance) > 0n);
      const timeline = await court.court(['timeline', cp]);
      assert.equal(timeline.code, 0, timeline.stderr);
      assert.ok(timeline.stdout.includes(cp));
      for (const o of mine.outputs) assert.ok(timeline.stdout.includes(shortOutpoint(o.outpoint)), o.outpoint);
    }
    const hist = await court.court(['history', cp, '--json']);
    assert.equal(hist.code, 0);
    const events = json<{ transitions: { event: string; to: string }[] }>(hist.stdout).transitions;
    assert.ok(events.some((t) => t.event === 'ForceCloseRequested' && t.to === 'BroadcastCommit'), JSON.stringify(events));
    assert.match((await court.court(['history', cp])).stdout, /ForceCloseRequested/);
  });

  it('their force close: classified REMOTE, events on the stream', async () => {
    const sim = await open();
    const cp = sim.chanPoint;
    await chain.send(sim.signedCommitment('bob').toHex());
    const v = await untilClosed(cp);
    assert.ok(closeTypeMatches(v.close_type as string, 'REMOTE_FORCE_CLOSE'), String(v.close_type));
    await closedEntry(cp, '--remote_force');
    await node.waitForEvent((e) => e.chan_point === cp);
  });

  it('a breach: the revoked commitment is classified BREACH', async () => {
    const sim = await open();
    const cp = sim.chanPoint;
    sim.addHtlc('alice', 20_000_000n, (await chain.height()) + 70);
    await node.commit(sim);
    await chain.send(sim.signedCommitment('bob', 1).toHex());
    const v = await untilClosed(cp);
    assert.ok(closeTypeMatches(v.close_type as string, 'BREACH_CLOSE'), String(v.close_type));
    await closedEntry(cp, '--breach');
    await node.waitForEvent((e) => e.chan_point === cp && /breach/i.test(e.type));
  });

  it('the daemon restarts (SIGTERM, exit 0, same datadir): the node adapter resumes the event stream after the last id', async () => {
    const before = node.events.length;
    const connections = node.connections;
    assert.equal(await court.restart(), 0, 'SIGTERM stops courtd with exit 0');
    await court.caughtUp();
    const sim = await open();
    await chain.send(sim.signedCommitment('bob').toHex());
    await untilClosed(sim.chanPoint);
    await node.waitForEvent((e) => e.chan_point === sim.chanPoint);
    assert.ok(node.connections > connections, 'the stream was reopened');
    assert.ok(node.events.length > before);
    assert.deepEqual(node.violations, [], 'nothing repeated or out of order across the restart');
    const ids = node.events.map((e) => e.id);
    assert.deepEqual(ids, [...ids].sort((a, b) => a - b));
  });

  it('a cooperative close: handed over by the node, confirmed, fully resolved', async () => {
    const sim = await open();
    const cp = sim.chanPoint;
    const tx = coopCloseTx(sim);
    await node.coopClose(cp, tx.toHex());
    await chain.trySend(tx.toHex());
    const v = await untilClosed(cp);
    assert.ok(closeTypeMatches(v.close_type as string, 'COOPERATIVE_CLOSE'), String(v.close_type));
    for (let i = 0; i < 6 && (await channel(cp)).state !== 'FullyResolved'; i++) await mineAndSync();
    assert.equal((await channel(cp)).state, 'FullyResolved');
    const entry = await closedEntry(cp, '--cooperative');
    assert.equal(entry?.closing_txid, tx.getId());
    const pending = json<{ channels: ChannelView[] }>((await court.court(['pendingchannels', '--json'])).stdout);
    assert.ok(!pending.channels.some((c) => c.chan_point === cp), 'no longer pending');
  });

  it('pendingsweeps and events: table and --json', async () => {
    const sweeps = await court.court(['pendingsweeps', '--json']);
    assert.equal(sweeps.code, 0, sweeps.stderr);
    const list = json<{ sweeps: unknown[] }>(sweeps.stdout).sweeps;
    assert.ok(Array.isArray(list));
    assert.equal((await court.court(['pendingsweeps'])).code, 0);
    const usage = await court.court(['closechannel', '--force', 'not-a-chan-point']);
    assert.equal(usage.code, 2, 'a usage error exits 2 from the real process');
    assert.match(usage.stderr, /txid:vout/);
    const unknown = await court.court(['wallet', 'bumpfee', `${'77'.repeat(32)}:3`, '--budget', '1000']);
    assert.equal(unknown.code, 1, 'a bump of an input the sweeper does not hold is refused by the daemon');
    assert.match(unknown.stderr, /\[COURT_E_SWEEP_UNKNOWN_INPUT\]/);
    // The readonly token reads, and is refused on admin routes (exit 1: the daemon's 403).
    const ro = ['--tokenfile', court.tokenFile('readonly')];
    assert.equal((await court.court([...ro, 'getinfo'])).code, 0);
    const denied = await court.court([...ro, 'wallet', 'newaddress']);
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /\[COURT_E_[A-Z_]+\]/);
    const ev = await court.court(['events', '--json']);
    assert.equal(ev.code, 0, ev.stderr);
    const ids = ev.stdout
      .trim()
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => Number(json<{ id: number }>(l).id));
    assert.ok(ids.length > 0);
    // The adapter follows the same stream: once it has the last id court printed, both saw the same ids in order.
    await node.waitForEvent((e) => e.id === ids.at(-1));
    assert.deepEqual(
      ids,
      node.events.map((e) => e.id).slice(0, ids.length),
      'court events sees the stream the node adapter saw, in order',
    );
    const after = await court.court(['events', '--json', '--after', String(ids.at(-1))]);
    assert.equal(after.code, 0, after.stderr);
    const later = after.stdout
      .trim()
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => Number(json<{ id: number }>(l).id));
    assert.ok(
      later.every((id) => id > (ids.at(-1) as number)),
      `--after ${ids.at(-1)} resumes after that id: ${later.join(',')}`,
    );
  });

  it('every command answers as a table and as --json (exit 0, JSON that parses, the table names what the JSON holds)', async () => {
    const cp = (await node.request<{ channels: ChannelView[] }>('GET', '/v1/channels?all=true')).channels[0]?.chan_point as string;
    const cases: [string[], (j: any) => string][] = [
      [['getinfo'], (j) => String(j.block_height)],
      [['listchannels'], (j) => shortOutpoint(j.channels[0]?.chan_point ?? '-')],
      [['pendingchannels'], (j) => (j.channels.length === 0 ? 'no pending channels' : shortOutpoint(j.channels[0].chan_point))],
      [['closedchannels'], (j) => (j.channels.length === 0 ? 'no closed channels' : shortOutpoint(j.channels[0].chan_point))],
      [['pendingsweeps'], (j) => (j.sweeps.length === 0 ? 'no pending sweeps' : shortOutpoint(j.sweeps[0].outpoint))],
      [['history', cp], (j) => j.transitions[0].event],
      [['timeline', cp], (j) => j.chan_point],
      [['wallet', 'balance'], () => 'confirmed_balance'],
      [['wallet', 'alerts'], (j) => (j.alerts.length === 0 ? 'no wallet alerts' : j.alerts[0].kind)],
      [['wallet', 'newaddress'], (j) => j.address.slice(0, 6)],
    ];
    for (const [args, expect] of cases) {
      const j = await court.court([...args, '--json']);
      assert.equal(j.code, 0, `${args.join(' ')} --json: ${j.stderr}`);
      const parsed = JSON.parse(j.stdout) as unknown;
      const t = await court.court(args);
      assert.equal(t.code, 0, `${args.join(' ')}: ${t.stderr}`);
      assert.ok(t.stdout.includes(expect(parsed)), `${args.join(' ')}: the table shows ${expect(parsed)}:\n${t.stdout}`);
    }
  });

  it('rotatetoken: a new readonly token in its file, the old one refused (401), court reads the new one', async () => {
    const old = court.token('readonly');
    const r = await court.court(['rotatetoken', '--scope', 'readonly']);
    assert.equal(r.code, 0, r.stderr);
    const fresh = court.token('readonly');
    assert.notEqual(fresh, old);
    assert.ok(!r.stdout.includes(fresh) && !r.stdout.includes(old), 'no token printed');
    const res = await fetch(`${court.baseUrl}/v1/info`, { headers: { authorization: `Bearer ${old}` } });
    await res.text();
    assert.equal(res.status, 401);
    assert.equal((await court.court(['--tokenfile', court.tokenFile('readonly'), 'getinfo'])).code, 0);
    rotatedAway.push(old);
  });

  it('events --follow prints the backlog, keeps the stream open, and Ctrl-C (SIGINT) ends it with exit 0', async () => {
    const child = spawn(process.execPath, [COURT, '--datadir', court.datadir, '--network', 'regtest', '--rpcserver', `127.0.0.1:${court.apiPort}`, 'events', '--follow', '--json'], {
      env: { ...process.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const until = Date.now() + 30_000;
    while (!stdout.includes('\n') && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    assert.ok(stdout.includes('\n'), 'the backlog arrives');
    await new Promise((r) => setTimeout(r, 1_000));
    assert.equal(child.exitCode, null, 'still following after the backlog');
    child.kill('SIGINT');
    assert.equal(await exited, 0);
    courtOutputs.push(stdout);
  });

  it("no secret in the daemon's log lines or in court's output: tokens, the seed, the RPC password", async () => {
    const secrets = [court.token('admin'), court.token('readonly'), toHex(seed), chain.endpoint.password, ...rotatedAway];
    const outputs = [court.log, ...courtOutputs];
    // The suite-wide scan (zz-log-scan.test.ts) gets them too.
    for (const text of outputs) for (const line of text.split('\n')) if (line !== '') collectLogLine(line);
    collectSecrets([
      ['admin token', court.token('admin')],
      ['readonly token', court.token('readonly')],
      ['seed', toHex(seed)],
      ['rpc password', chain.endpoint.password],
      ...rotatedAway.map((t, i): [string, string] => [`rotated token ${i}`, t]),
    ]);
    for (const secret of secrets) for (const text of outputs) assert.ok(!text.includes(secret), 'a secret leaked');
    assert.ok(court.log.split('\n').length > 5, 'the daemon logged');
  });
});
