/**
 * API fuzz: every route (but the SSE stream, which never ends by design and is tested on its own) gets random and
 * mutated bodies, query strings, path parameters and headers, over the real parts (SQLite briefcase file,
 * arbitrator, wallet, sweeper). No response may be a 5xx, the API must still answer afterwards, and no refused
 * request (4xx) may change the briefcase: SQLite's total_changes() of the one connection every write goes through
 * is compared around each refused request. Prints `api fuzz: routes=R requests=N status_5xx=0 briefcase_changed=0`.
 * FUZZ_REQUESTS sets the requests per route (default 10,000 to each route, as issue 12 asks; about a minute).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import type { ChannelSimulator } from '../../regtest/simulator.js';
import { sha256 } from '../../src/util/bytes.js';
import { tempDir } from '../helpers/db.js';
import { openChannel } from '../simulator/fixture.js';
import { apiRig, H, routes, type ApiRig } from './helpers.js';

/** Requests to each route by default. */
const PER_ROUTE = 10_000;

/** A value as text (strings as they are, anything else as JSON). */
const text = (v: unknown): string => (typeof v === 'string' ? v : (JSON.stringify(v) ?? 'null'));

/** A random change of a JSON value: drop, replace or add a field somewhere, or replace the whole. */
function mutate(base: unknown, rnd: () => number, junk: unknown): unknown {
  if (base === null || typeof base !== 'object') return junk;
  const copy = structuredClone(base) as Record<string, unknown>;
  // walk down a random path
  let obj: Record<string, unknown> = copy;
  for (let depth = 0; depth < 4; depth++) {
    const keys = Object.keys(obj);
    if (keys.length === 0) break;
    const k = keys[Math.floor(rnd() * keys.length)] as string;
    const v = obj[k];
    if (v !== null && typeof v === 'object' && rnd() < 0.6) {
      obj = v as Record<string, unknown>;
      continue;
    }
    const r = rnd();
    if (r < 0.3) delete obj[k];
    else if (r < 0.85) obj[k] = junk;
    else obj[`x${Math.floor(rnd() * 100)}`] = junk;
    return copy;
  }
  obj[`extra${Math.floor(rnd() * 10)}`] = junk;
  return copy;
}

describe('API fuzz', { timeout: 600_000 }, () => {
  const tmp = tempDir('api-fuzz');
  let rig: ApiRig;
  let sim: ChannelSimulator;
  before(async () => {
    sim = openChannel('anchors');
    sim.addHtlc('bob', 20_000_000n, H + 200, sha256(new TextEncoder().encode('fuzz incoming')));
    sim.commit();
    rig = await apiRig(tmp.dir, 'fuzz.sqlite', sim);
    const r = await rig.app.inject({ method: 'PUT', url: `/v1/channels/${encodeURIComponent(sim.chanPoint)}`, headers: { authorization: `Bearer ${rig.admin}` }, payload: sim.snapshot('alice') as object });
    assert.equal(r.statusCode, 200, r.body);
  });
  after(async () => {
    await rig.close();
    tmp.remove();
  });

  it('no 5xx, no briefcase change by a refused request, the API still up', async () => {
    const all = routes(sim.chanPoint).filter((r) => !r.url.startsWith('/v1/events?'));
    const valid = new Map<string, unknown>(all.map((r) => [r.url, r.url.startsWith('/v1/channels/') && r.method === 'PUT' ? sim.snapshot('alice') : r.body]));
    const perRoute = Number(process.env['FUZZ_REQUESTS'] ?? PER_ROUTE);
    const changes = (): number => (rig.db.prepare('SELECT total_changes() AS n').get() as { n: number }).n;
    let requests = 0;
    let fivexx = 0;
    let changed = 0;
    const byStatus = new Map<number, number>();
    const bad: string[] = [];
    for (const [ri, r] of all.entries()) {
      const junk = fc.sample(fc.oneof(fc.jsonValue(), fc.string(), fc.integer(), fc.constant(null), fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 64, maxLength: 64 }), fc.bigInt().map(String)), { numRuns: perRoute, seed: 1000 + ri });
      let seed = 7 + ri;
      const rnd = (): number => {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        return seed / 0x7fffffff;
      };
      for (let i = 0; i < perRoute; i++) {
        const j = junk[i];
        const p = rnd();
        // body: mostly a mutation of the valid one, sometimes random JSON, sometimes no body or not JSON
        let payload: string | undefined;
        let contentType = 'application/json';
        if (p < 0.7) payload = JSON.stringify(mutate(valid.get(r.url) ?? {}, rnd, j));
        else if (p < 0.85) payload = JSON.stringify(j);
        else if (p < 0.9) payload = undefined;
        else if (p < 0.95) payload = text(j).slice(0, 200);
        else {
          payload = JSON.stringify(valid.get(r.url) ?? {});
          contentType = ['text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=latin1', ''][Math.floor(rnd() * 4)] as string;
        }
        // headers: the admin token mostly (so requests reach validation), else readonly, junk or none
        const q = rnd();
        const headers: Record<string, string> = {};
        if (q < 0.8) headers['authorization'] = `Bearer ${rig.admin}`;
        else if (q < 0.88) headers['authorization'] = `Bearer ${rig.readonly}`;
        else if (q < 0.95) headers['authorization'] = `Bearer ${text(j).slice(0, 80).replace(/[^\x21-\x7e]/g, 'x')}`;
        if (payload !== undefined && contentType !== '') headers['content-type'] = contentType;
        if (rnd() < 0.1) headers['last-event-id'] = text(j).slice(0, 30).replace(/[^\x20-\x7e]/g, '');
        // path and query: sometimes a mangled channel point or junk query
        let url = r.url;
        if (rnd() < 0.1) url = url.replace(encodeURIComponent(sim.chanPoint), encodeURIComponent(text(j).slice(0, 90)) || 'x');
        if (rnd() < 0.1) url += `${url.includes('?') ? '&' : '?'}${encodeURIComponent(text(j).slice(0, 20))}=${encodeURIComponent(text(j).slice(0, 40))}`;
        const before = changes();
        const res = await rig.app.inject({ method: r.method, url, headers, ...(payload === undefined ? {} : { payload }) });
        requests++;
        byStatus.set(res.statusCode, (byStatus.get(res.statusCode) ?? 0) + 1);
        if (res.statusCode >= 500) {
          fivexx++;
          if (bad.length < 5) bad.push(`${r.method} ${url} -> ${res.statusCode} ${res.body.slice(0, 200)} (payload ${String(payload).slice(0, 200)})`);
        }
        assert.doesNotMatch(res.body, /\bat .*\.(ts|js):\d+/, 'no stack in a response');
        if (res.statusCode >= 400) {
          await rig.arb.idle();
          if (changes() !== before) {
            changed++;
            if (bad.length < 5) bad.push(`refused ${res.statusCode} but changed: ${r.method} ${url} ${res.body.slice(0, 200)}`);
          }
        }
      }
    }
    const up = await rig.app.inject({ method: 'GET', url: '/v1/info', headers: { authorization: `Bearer ${rig.readonly}` } });
    assert.equal(up.statusCode, 200, 'still answering');
    process.stdout.write(`api fuzz: routes=${all.length} requests=${requests} status_5xx=${fivexx} briefcase_changed=${changed}\n`);
    process.stdout.write(`api fuzz statuses: ${[...byStatus].sort((x, y) => x[0] - y[0]).map(([s, n]) => `${s}=${n}`).join(' ')}\n`);
    assert.deepEqual(bad, []);
    assert.ok((byStatus.get(200) ?? 0) > 0 && (byStatus.get(400) ?? 0) > 0, 'the fuzz reaches both acceptance and validation');
    assert.equal(fivexx, 0);
    assert.equal(changed, 0);
  });
});
