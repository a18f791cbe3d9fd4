/**
 * The HTTP API's contract, through fastify.inject over real parts (SQLite briefcase file, alice's ChainArbitrator,
 * the fee wallet, a Sweeper): every route refuses a missing or wrong token (401) and the readonly token on admin
 * routes (403); schema violations are 400 with their code and field; an unknown channel is 404; a snapshot is
 * durable when PUT answers; the force-close plan and reply name our commitment; reads show the channel, history,
 * sweeps and balance; events stream over SSE and resume by id; no response carries a stack; the committed
 * docs/openapi.json is the generated one; no log line carries a secret.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { ChannelSimulator } from '../../regtest/simulator.js';
import { address as btcAddress, networks, Transaction } from 'bitcoinjs-lib';
import { Metrics } from '../../src/api/metrics.js';
import { getChannel } from '../../src/api/views.js';
import { openApiDocument } from '../../src/api/openapi-gen.js';
import { sha256, toHex } from '../../src/util/bytes.js';
import { toLocalInput } from '../sweep/helpers.js';
import { tempDir } from '../helpers/db.js';
import { collectSecrets } from '../helpers/log-scan.js';
import { openChannel } from '../simulator/fixture.js';
import { apiRig, bearer, H, routes, scanLogs, type ApiRig } from './helpers.js';

const UNKNOWN = `${'55'.repeat(32)}:1`;
const pre = (label: string): Uint8Array => sha256(new TextEncoder().encode(`api.test ${label}`));

describe('HTTP API', () => {
  const tmp = tempDir('api');
  let rig: ApiRig;
  let sim: ChannelSimulator;
  let other: ChannelSimulator;
  const preimage = pre('incoming');
  after(async () => {
    await rig.close();
    tmp.remove();
  });
  before(async () => {
    sim = openChannel('anchors');
    sim.addHtlc('bob', 20_000_000n, H + 200, preimage); // incoming for alice
    sim.addHtlc('alice', 30_000_000n, H + 150, pre('outgoing')); // outgoing
    sim.addHtlc('alice', 400_000n, H + 120, pre('dust')); // outgoing, dust on every commitment
    sim.commit();
    other = openChannel('static_remotekey');
    rig = await apiRig(tmp.dir, 'api.sqlite', sim);
  });

  const inject = (method: string, url: string, token: string | undefined, body?: unknown) =>
    rig.app.inject({ method: method as 'GET', url, ...(token === undefined ? {} : { headers: bearer(token) }), ...(body === undefined ? {} : { payload: body as object }) });

  it('refuses a missing or wrong token (401) and the readonly token on admin routes (403); healthz needs none', async () => {
    for (const r of routes(sim.chanPoint)) {
      if (r.url.startsWith('/v1/events?')) continue; // SSE: checked below without a stream
      const none = await inject(r.method, r.url, undefined, r.body);
      assert.equal(none.statusCode, 401, `${r.method} ${r.url} without a token`);
      assert.equal(none.json().code, 'COURT_E_API_UNAUTHORIZED');
      const wrong = await inject(r.method, r.url, 'ab'.repeat(32), r.body);
      assert.equal(wrong.statusCode, 401, `${r.method} ${r.url} with a wrong token`);
      if (r.scope === 'admin') {
        const ro = await inject(r.method, r.url, rig.readonly, r.body);
        assert.equal(ro.statusCode, 403, `${r.method} ${r.url} with the readonly token`);
        assert.equal(ro.json().code, 'COURT_E_API_FORBIDDEN');
      }
    }
    const ev = await inject('GET', '/v1/events', undefined);
    assert.equal(ev.statusCode, 401);
    const h = await inject('GET', '/healthz', undefined);
    assert.equal(h.statusCode, 200);
    assert.deepEqual(h.json(), { synced: true, block_height: H });
    const malformed = await rig.app.inject({ method: 'GET', url: '/v1/info', headers: { authorization: `Basic ${rig.admin}` } });
    assert.equal(malformed.statusCode, 401);
  });

  it('every route: an unknown field, a body of the wrong type, a missing field and a bad channel point are 400 with their code and field', async () => {
    const required: Record<string, string> = { revocations: 'number', preimages: 'preimages', 'coop-close': 'tx_hex', 'sweeps/bump': 'outpoint', ack: 'id', rotate: 'scope' };
    for (const r0 of routes(sim.chanPoint)) {
      const r = r0.method === 'PUT' ? { ...r0, body: sim.snapshot('alice') } : r0;
      const code = r.method === 'PUT' ? 'COURT_E_SNAPSHOT_INVALID' : 'COURT_E_API_INVALID_REQUEST';
      if (r.body !== undefined) {
        const extra = await inject(r.method, r.url, rig.admin, { ...(r.body as object), zzz: 1 });
        assert.equal(extra.statusCode, 400, `${r.url} extra field`);
        assert.equal(extra.json().code, code);
        assert.equal(extra.json().field, 'zzz', `${r.url}: ${extra.body}`);
        const arr = await inject(r.method, r.url, rig.admin, [1, 2]);
        assert.equal(arr.statusCode, 400, `${r.url} array body`);
        assert.equal(arr.json().code, code);
        const key = Object.entries(required).find(([k]) => r.url.includes(k))?.[1];
        if (key !== undefined) {
          const { [key]: _gone, ...rest } = r.body as Record<string, unknown>;
          const missing = await inject(r.method, r.url, rig.admin, rest);
          assert.equal(missing.statusCode, 400, `${r.url} missing ${key}`);
          assert.equal(missing.json().field, key);
          assert.match(missing.json().message, /is missing/);
        }
      }
      if (r.url.includes(encodeURIComponent(sim.chanPoint))) {
        const bad = await inject(r.method, r.url.replace(encodeURIComponent(sim.chanPoint), 'zz%3A1'), rig.admin, r.body);
        assert.equal(bad.statusCode, 400, `${r.url} bad channel point`);
        assert.equal(bad.json().code, code);
        assert.equal(bad.json().field, 'params.chanPoint');
      }
    }
  });

  it('PUT /v1/channels/{chanPoint}: a checked snapshot is durable when the call answers; bad ones are refused with their code and field', async () => {
    const url = `/v1/channels/${encodeURIComponent(sim.chanPoint)}`;
    const snap = sim.snapshot('alice') as unknown as Record<string, unknown>;
    const unknown = await inject('PUT', url, rig.admin, { ...snap, extra: 1 });
    assert.equal(unknown.statusCode, 400);
    assert.equal(unknown.json().code, 'COURT_E_SNAPSHOT_INVALID');
    assert.equal(unknown.json().field, 'extra');
    const typed = await inject('PUT', url, rig.admin, { ...snap, fundingHeightHint: '7' });
    assert.equal(typed.statusCode, 400, 'no type coercion: a string is not an integer');
    assert.equal(typed.json().field, 'fundingHeightHint');
    const lc = snap['localCommitment'] as Record<string, unknown>;
    const badSig = await inject('PUT', url, rig.admin, { ...snap, localCommitment: { ...lc, remoteSignature: '11'.repeat(64) } });
    assert.equal(badSig.statusCode, 422);
    assert.equal(badSig.json().code, 'COURT_E_SNAPSHOT_SIGNATURE');
    const otherPath = await inject('PUT', `/v1/channels/${encodeURIComponent(other.chanPoint)}`, rig.admin, snap);
    assert.equal(otherPath.statusCode, 400);
    assert.equal(otherPath.json().field, 'chanPoint');
    const badPath = await inject('PUT', '/v1/channels/nope', rig.admin, snap);
    assert.equal(badPath.statusCode, 400);
    assert.equal(badPath.json().code, 'COURT_E_SNAPSHOT_INVALID');
    assert.equal(rig.db.prepare('SELECT COUNT(*) AS n FROM channel_snapshot').get()?.['n' as never], 0, 'nothing stored by refusals');

    const ok = await inject('PUT', url, rig.admin, snap);
    assert.equal(ok.statusCode, 200, ok.body);
    assert.deepEqual(ok.json(), { chan_point: sim.chanPoint, state: 'Default' });
    const row = rig.db.prepare<[string], { n: number }>('SELECT COUNT(*) AS n FROM channel_snapshot WHERE chan_point = ?').get(sim.chanPoint);
    assert.equal(row?.n, 1, 'stored before the answer');
    const ok2 = await inject('PUT', `/v1/channels/${encodeURIComponent(other.chanPoint)}`, rig.admin, other.snapshot('alice'));
    assert.equal(ok2.statusCode, 200, 'a second channel (same test seed)');
  });

  it('reads: info, channels, one channel, history, closed, sweeps, wallet balance; unknown channel 404', async () => {
    const info = (await inject('GET', '/v1/info', rig.readonly)).json();
    assert.equal(info.network, 'regtest');
    assert.equal(info.block_height, H);
    assert.equal(info.num_active_channels, 2);
    assert.equal(info.num_pending_channels, 0);
    const list = (await inject('GET', '/v1/channels', rig.readonly)).json();
    assert.equal(list.channels.length, 2);
    const ch = list.channels.find((c: { chan_point: string }) => c.chan_point === sim.chanPoint);
    assert.equal(ch.chan_point, sim.chanPoint);
    assert.equal(ch.state, 'Default');
    assert.equal(ch.capacity_sat, '1000000');
    assert.equal(ch.commitment_type, 'anchors');
    assert.equal(ch.limbo_balance, '0');
    const one = await inject('GET', `/v1/channels/${encodeURIComponent(sim.chanPoint)}`, rig.readonly);
    assert.deepEqual(one.json(), ch);
    const missing = await inject('GET', `/v1/channels/${encodeURIComponent(UNKNOWN)}`, rig.readonly);
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.json().code, 'COURT_E_CHANNEL_UNKNOWN');
    const hist = (await inject('GET', `/v1/channels/${encodeURIComponent(sim.chanPoint)}/history`, rig.readonly)).json();
    assert.deepEqual(hist.transitions[0], { seq: 1, from: 'Default', event: 'ChannelUpdated', to: 'Default', height: H });
    assert.equal((await inject('GET', `/v1/channels/${encodeURIComponent(UNKNOWN)}/history`, rig.readonly)).statusCode, 404);
    assert.deepEqual((await inject('GET', '/v1/closed', rig.readonly)).json(), { channels: [] });
    const badType = await inject('GET', '/v1/closed?close_type=SIDEWAYS', rig.readonly);
    assert.equal(badType.statusCode, 400);
    assert.equal(badType.json().code, 'COURT_E_API_INVALID_REQUEST');
    assert.equal(badType.json().field, 'querystring.close_type');
    const bal = (await inject('GET', '/v1/wallet/balance', rig.readonly)).json();
    assert.deepEqual(bal, { confirmed_balance: '0', unconfirmed_balance: '0', locked_balance: '0', total_balance: '0', reserve_required: '10000', reserve_shortfall: '10000' });
    const addr = (await inject('POST', '/v1/wallet/address', rig.admin)).json();
    assert.match(addr.address, /^bcrt1q/);
    // Funds sent before courtd saw any block: found by a rescan of those blocks.
    const pay = new Transaction();
    pay.version = 2;
    pay.addInput(Buffer.alloc(32, 7), 0);
    pay.addOutput(btcAddress.toOutputScript(addr.address, networks.regtest), 50_000n);
    // (the first transaction of a block is its coinbase: a stand-in goes first)
    const coinbase = (n: number): Transaction => {
      const cb = new Transaction();
      cb.addInput(Buffer.alloc(32), 0xffffffff, 0xffffffff, Buffer.from([n]));
      cb.addOutput(Buffer.from('0014' + '22'.repeat(20), 'hex'), 1n);
      return cb;
    };
    const [blk] = rig.fakeChain.mine(1, [coinbase(1), pay]);
    const rescan = await inject('POST', '/v1/wallet/rescan', rig.admin, { from_height: 0, to_height: blk?.height });
    assert.equal(rescan.statusCode, 200, rescan.body);
    assert.deepEqual(rescan.json(), { blocks: (blk?.height ?? 0) + 1, confirmed_balance: '50000' });
    assert.deepEqual((await inject('GET', '/v1/wallet/alerts?after=0', rig.readonly)).json(), { alerts: [] }, 'no spend it did not sign');
    // A spend of that coin the wallet never signed (its seed used elsewhere): an alert.
    const thief = new Transaction();
    thief.version = 2;
    thief.addInput(Buffer.from(pay.getId(), 'hex').reverse(), 0);
    thief.addOutput(Buffer.from('0014' + '11'.repeat(20), 'hex'), 49_000n);
    const [blk2] = rig.fakeChain.mine(1, [coinbase(2), thief]);
    assert.equal((await inject('POST', '/v1/wallet/rescan', rig.admin, { from_height: 0, to_height: blk2?.height })).statusCode, 400, 'not above the last block delivered');
    if (blk2 !== undefined) rig.wallet.onChainEvent({ type: 'BlockConnected', height: blk2.height, hash: blk2.hash, block: blk2 }); // as the dispatcher delivers it
    const alerts = (await inject('GET', '/v1/wallet/alerts', rig.readonly)).json().alerts;
    assert.equal(alerts.length, 1);
    assert.deepEqual({ kind: alerts[0].kind, outpoint: alerts[0].outpoint, txid: alerts[0].txid }, { kind: 'spentByOther', outpoint: `${pay.getId()}:0`, txid: thief.getId() });
    assert.deepEqual((await inject('GET', `/v1/wallet/alerts?after=${alerts[0].id}`, rig.readonly)).json(), { alerts: [] });
    const upside = await inject('POST', '/v1/wallet/rescan', rig.admin, { from_height: 5, to_height: 2 });
    assert.equal(upside.statusCode, 400);
    assert.equal(upside.json().code, 'COURT_E_WALLET_INVALID_ARGUMENT');
  });

  it('sweeps: listed with budget and deadline; bump by outpoint and by channel; unknown outpoint 404', async () => {
    const input = toLocalInput(7, { chanPoint: sim.chanPoint, deadlineHeight: H + 50 });
    rig.sweeper.offer(input);
    const list = (await inject('GET', '/v1/sweeps', rig.readonly)).json();
    assert.equal(list.sweeps.length, 1);
    assert.equal(list.sweeps[0].outpoint, input.outpoint);
    assert.equal(list.sweeps[0].budget_sat, '10000');
    assert.equal(list.sweeps[0].deadline_height, H + 50);
    assert.equal(list.sweeps[0].chan_point, sim.chanPoint);
    const b = await inject('POST', '/v1/sweeps/bump', rig.admin, { outpoint: input.outpoint, budget_sat: '20000', sat_per_vbyte: 5 });
    assert.equal(b.statusCode, 200, b.body);
    assert.equal((await inject('GET', '/v1/sweeps', rig.readonly)).json().sweeps[0].budget_sat, '20000');
    const c = await inject('POST', `/v1/channels/${encodeURIComponent(sim.chanPoint)}/bump`, rig.admin, { deadline_delta: 10 });
    assert.deepEqual(c.json(), { bumped: [input.outpoint] });
    const unknown = await inject('POST', '/v1/sweeps/bump', rig.admin, { outpoint: `${'44'.repeat(32)}:1` });
    assert.equal(unknown.statusCode, 404);
    assert.equal(unknown.json().code, 'COURT_E_SWEEP_UNKNOWN_INPUT');
    const badAmount = await inject('POST', '/v1/sweeps/bump', rig.admin, { outpoint: input.outpoint, budget_sat: 20000 });
    assert.equal(badAmount.statusCode, 400, 'amounts are decimal strings');
    assert.equal(badAmount.json().field, 'budget_sat');
    rig.sweeper.cancel(input.outpoint);
  });

  it('revocations and preimages: coded refusals; a preimage is routed to the channel carrying its hash', async () => {
    const url = `/v1/channels/${encodeURIComponent(sim.chanPoint)}/revocations`;
    const far = await inject('POST', url, rig.admin, { number: 50, secret: '11'.repeat(32) });
    assert.equal(far.statusCode, 422);
    assert.equal(far.json().code, 'COURT_E_REVOCATION_UNKNOWN');
    const unknown = await inject('POST', `/v1/channels/${encodeURIComponent(UNKNOWN)}/revocations`, rig.admin, { number: 0, secret: '11'.repeat(32) });
    assert.equal(unknown.statusCode, 404);
    const short = await inject('POST', url, rig.admin, { number: 0, secret: '11'.repeat(31) });
    assert.equal(short.statusCode, 400);
    assert.equal(short.json().field, 'secret');
    assert.doesNotMatch(short.body, /1111111111111111/, 'the secret is not echoed');
    const p = await inject('POST', '/v1/preimages', rig.admin, { preimages: [toHex(preimage)] });
    assert.equal(p.statusCode, 200, p.body);
    assert.deepEqual(p.json(), { routed: [{ payment_hash: toHex(sha256(preimage)), channels: [sim.chanPoint] }] });
    const empty = await inject('POST', '/v1/preimages', rig.admin, { preimages: [] });
    assert.equal(empty.statusCode, 400);
  });

  it('force-close: the dry run shows the plan and changes nothing; the real one names the commitment it publishes', async () => {
    const url = `/v1/channels/${encodeURIComponent(sim.chanPoint)}/force-close`;
    const dry = await inject('POST', url, rig.admin, { dry_run: true });
    assert.equal(dry.statusCode, 200, dry.body);
    const d = dry.json();
    assert.equal(d.dry_run, true);
    assert.equal(d.state, 'Default');
    assert.equal(d.commitment_number, sim.latestNumber);
    assert.equal(d.closing_txid, sim.commitment('alice').txid);
    assert.equal(d.plan.commitment_type, 'anchors');
    assert.ok(BigInt(d.plan.fee_sat) > 0n);
    const kinds = d.plan.outputs.map((o: { kind: string }) => o.kind).sort();
    assert.deepEqual(kinds, ['local_anchor', 'offered_htlc', 'received_htlc', 'remote_anchor', 'to_local', 'to_remote']);
    const toLocal = d.plan.outputs.find((o: { kind: string }) => o.kind === 'to_local');
    assert.equal(toLocal.maturity_height, H + 1 + 144);
    assert.equal(toLocal.csv_delay, 144);
    assert.equal(d.plan.htlcs.length, 3);
    const incoming = d.plan.htlcs.find((h: { direction: string }) => h.direction === 'incoming');
    assert.equal(incoming.deadline_height, H + 200);
    assert.equal(incoming.blocks_left, 200);
    assert.deepEqual(d.plan.fail_back_now, [{ htlc_id: d.plan.htlcs.find((h: { amount_sat: string }) => h.amount_sat === '400').htlc_id, amount_sat: '400', reason: 'dust' }]);
    assert.equal(rig.published.length, 0, 'a dry run publishes nothing');
    assert.equal((await inject('GET', `/v1/channels/${encodeURIComponent(sim.chanPoint)}`, rig.readonly)).json().state, 'Default');

    const real = await inject('POST', url, rig.admin, {});
    assert.equal(real.statusCode, 200, real.body);
    const r = real.json();
    assert.equal(r.dry_run, false);
    assert.equal(r.closing_txid, sim.commitment('alice').txid);
    assert.equal(r.commitment_number, sim.latestNumber);
    await rig.arb.idle();
    assert.deepEqual(rig.published, [sim.commitment('alice').txid], 'our commitment was published');
    const again = await inject('POST', url, rig.admin, {});
    assert.equal(again.statusCode, 409, 'no longer open: refused');
    assert.equal(again.json().code, 'COURT_E_CHANNEL_CLOSING');
    const info = (await inject('GET', '/v1/info', rig.readonly)).json();
    assert.equal(info.num_pending_channels, 1);
    const view = (await inject('GET', `/v1/channels/${encodeURIComponent(sim.chanPoint)}`, rig.readonly)).json();
    assert.equal(view.state, 'CommitmentBroadcasted');
    assert.equal(view.closing_txid, sim.commitment('alice').txid, 'the commitment we published');
    assert.equal(view.limbo_balance, String(sim.state(sim.latestNumber).balanceMsat.alice / 1000n), 'our balance is in limbo until the close confirms');
    const unknown = await inject('POST', `/v1/channels/${encodeURIComponent(UNKNOWN)}/force-close`, rig.admin, {});
    assert.equal(unknown.statusCode, 404);
  });

  it('coop-close: a transaction that does not decode or spend the funding output is refused', async () => {
    const url = `/v1/channels/${encodeURIComponent(sim.chanPoint)}/coop-close`;
    const bad = await inject('POST', url, rig.admin, { tx_hex: '00' });
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json().code, 'COURT_E_COOP_CLOSE_INVALID');
    const wrong = await inject('POST', url, rig.admin, { tx_hex: sim.fundingTx.toHex() });
    assert.equal(wrong.statusCode, 400, 'does not spend the funding output');
    assert.equal(wrong.json().code, 'COURT_E_COOP_CLOSE_INVALID');
    const spends = sim.commitment('bob').commitment.tx;
    const ok = await inject('POST', url, rig.admin, { tx_hex: spends.toHex() });
    assert.deepEqual(ok.json(), { chan_point: sim.chanPoint, txid: spends.getId(), accepted: true }, 'handed to the broadcaster');
    const unknown = await inject('POST', `/v1/channels/${encodeURIComponent(UNKNOWN)}/coop-close`, rig.admin, { tx_hex: '00' });
    assert.equal(unknown.statusCode, 404);
  });

  it('errors: unknown route 404, wrong media type 415, bad JSON 400, too large 413; never a stack', async () => {
    const nf = await inject('GET', '/v1/nope', rig.admin);
    assert.equal(nf.statusCode, 404);
    assert.equal(nf.json().code, 'COURT_E_API_NOT_FOUND');
    const media = await rig.app.inject({ method: 'POST', url: '/v1/preimages', headers: { ...bearer(rig.admin), 'content-type': 'application/xml' }, payload: '<x/>' });
    assert.equal(media.statusCode, 415);
    assert.equal(media.json().code, 'COURT_E_API_UNSUPPORTED_MEDIA');
    const json = await rig.app.inject({ method: 'POST', url: '/v1/preimages', headers: { ...bearer(rig.admin), 'content-type': 'application/json' }, payload: '{"preimages": [' });
    assert.equal(json.statusCode, 400);
    assert.match(json.json().code, /^COURT_E_/);
    const big = await rig.app.inject({ method: 'POST', url: '/v1/preimages', headers: { ...bearer(rig.admin), 'content-type': 'application/json' }, payload: `{"preimages":["${'a'.repeat(2 << 20)}"]}` });
    assert.equal(big.statusCode, 413);
    for (const r of [nf, media, json, big]) assert.doesNotMatch(r.body, /\bat .*\.(ts|js):\d+/, 'no stack');
  });

  it('events: SSE from the node_event table, resumed after Last-Event-ID with nothing lost or repeated; ack', async () => {
    const n = rig.db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM node_event').get()?.n ?? 0;
    assert.ok(n >= 1, 'the force close wrote node events');
    await rig.app.listen({ host: '127.0.0.1', port: 0 });
    const port = (rig.app.server.address() as AddressInfo).port;
    const read = (headers: Record<string, string>, path: string, want: number): Promise<Array<{ id: number; type: string }>> =>
      new Promise((resolve, reject) => {
        const got: Array<{ id: number; type: string }> = [];
        const req = request({ host: '127.0.0.1', port, path, headers: { ...bearer(rig.readonly), ...headers } }, (res) => {
          assert.equal(res.headers['content-type'], 'text/event-stream; charset=utf-8');
          let buf = '';
          res.on('data', (c: Buffer) => {
            buf += c.toString('utf8');
            let i: number;
            while ((i = buf.indexOf('\n\n')) >= 0) {
              const msg = buf.slice(0, i);
              buf = buf.slice(i + 2);
              const id = /^id: (\d+)$/m.exec(msg);
              const data = /^data: (.*)$/m.exec(msg);
              if (id !== null && data !== null) {
                const e = JSON.parse(data[1] as string) as { id: number; type: string };
                assert.equal(e.id, Number(id[1]));
                got.push(e);
              }
              if (got.length >= want) {
                req.destroy();
                resolve(got);
              }
            }
          });
        });
        req.on('error', (e) => (got.length >= want ? undefined : reject(e)));
        req.end();
      });
    const all = await read({}, '/v1/events?after=0', n);
    assert.deepEqual(
      all.map((e) => e.id),
      [...all.map((e) => e.id)].sort((a, b) => a - b),
    );
    assert.ok(all.some((e) => e.type === 'channelClosing'));
    const first = all[0] as { id: number };
    const rest = await read({ 'last-event-id': String(first.id) }, '/v1/events?after=0', n - 1);
    assert.deepEqual(
      rest.map((e) => e.id),
      all.slice(1).map((e) => e.id),
      'Last-Event-ID wins over after=, resumes after it',
    );
    const ack = await inject('POST', '/v1/events/ack', rig.admin, { id: first.id });
    assert.deepEqual(ack.json(), { acked: first.id, pruned: 0 }, 'the channel is not resolved: nothing pruned');
    const beyond = await inject('POST', '/v1/events/ack', rig.admin, { id: 1_000_000 });
    assert.equal(beyond.statusCode, 400);
    assert.equal(beyond.json().code, 'COURT_E_EVENT_UNKNOWN');
    const fromAck = await read({}, '/v1/events', n - 1);
    assert.equal(fromAck[0]?.id, all[1]?.id, 'without after or Last-Event-ID: after the acknowledged id');
    const bad = await inject('GET', '/v1/events?after=-1', rig.readonly);
    assert.equal(bad.statusCode, 400);
  });

  it('tokens: rotation replaces the token at once', async () => {
    const old = rig.readonly;
    const r = await inject('POST', '/v1/tokens/rotate', rig.admin, { scope: 'readonly' });
    assert.equal(r.statusCode, 200);
    assert.equal((await inject('GET', '/v1/info', old)).statusCode, 401);
    assert.equal((await inject('GET', '/v1/info', rig.readonly)).statusCode, 200);
  });

  it('the committed docs/openapi.json is the generated document', async () => {
    const committed = readFileSync(new URL('../../docs/openapi.json', import.meta.url), 'utf8');
    assert.equal(committed, await openApiDocument(), 'run `npm run openapi` and commit docs/openapi.json');
    const doc = JSON.parse(committed) as { openapi: string; paths: Record<string, unknown> };
    assert.equal(doc.openapi, '3.1.0');
    for (const r of routes(sim.chanPoint)) {
      const path = r.url.split('?')[0]?.replace(encodeURIComponent(sim.chanPoint), '{chanPoint}') as string;
      assert.ok(doc.paths[path] !== undefined, `${path} documented`);
    }
  });

  it("channel outputs come from the resolver runner's view when the daemon wires one", () => {
    const view = [{ outpoint: `${'66'.repeat(32)}:0`, kind: 'commitSweep', stage: 'waitingCsv', amountSat: 700_000n, limboSat: 700_000n, recoveredSat: 0n, maturityHeight: H + 144, reason: 'CSV' }];
    const ch = getChannel(rig.db, sim.chanPoint, H, (cp) => (cp === sim.chanPoint ? view : []));
    assert.deepEqual(ch?.outputs, [
      { outpoint: view[0]?.outpoint, resolver: 'commitSweep', stage: 'waitingCsv', amount_sat: '700000', limbo_sat: '700000', recovered_sat: '0', maturity_height: H + 144, blocks_til_maturity: 144, resolved: false, reason: 'CSV' },
    ]);
    assert.equal(ch?.limbo_balance, '700000');
    assert.deepEqual(getChannel(rig.db, sim.chanPoint, H, () => [])?.outputs, [], 'an empty view: the arbitrator rows (none yet)');
  });

  it('metrics: a private registry on its own listener; channels by state, limbo, sweeps, blocks behind; no per-channel label', async () => {
    const m = new Metrics({ db: rig.db, heights: () => ({ height: H, nodeHeight: H + 3 }), pendingSweeps: () => rig.sweeper.pending().length });
    m.rpcErrors.inc();
    const server = m.server();
    const r = await server.inject({ method: 'GET', url: '/metrics' });
    assert.equal(r.statusCode, 200);
    assert.match(r.headers['content-type'] as string, /text\/plain/);
    assert.match(r.body, /^courtd_channels\{state="Default"\} 1$/m);
    assert.match(r.body, /^courtd_channels\{state="CommitmentBroadcasted"\} 1$/m);
    assert.match(r.body, /^courtd_blocks_behind 3$/m);
    assert.match(r.body, /^courtd_rpc_errors_total 1$/m);
    assert.match(r.body, /^courtd_limbo_sat \d+$/m);
    assert.match(r.body, /^courtd_pending_sweeps \d+$/m);
    assert.match(r.body, /^courtd_sweep_fees_paid_sat 0$/m);
    assert.doesNotMatch(r.body, /chan_point|[0-9a-f]{64}/, 'no channel in any label');
    assert.doesNotMatch(r.body, /process_cpu|nodejs_/, 'a private registry: no default metrics mixed in');
    await server.close();
  });

  it('log scan: no token, seed or unpublished preimage in any log line', () => {
    const secrets = new Map<string, string>([
      ['admin token', rig.admin],
      ['readonly token', rig.readonly],
      ['seed', toHex(sim.parties.alice.seed)],
      ['preimage', toHex(preimage)],
      ['dust preimage', toHex(pre('dust'))],
    ]);
    collectSecrets(secrets);
    const hits = scanLogs(rig.logLines, secrets);
    process.stdout.write(`log scan: lines=${rig.logLines.length} secrets=${secrets.size} hits=${hits.length}\n`);
    assert.deepEqual(hits, []);
  });
});
