/**
 * courtd as a process on the regtest node, fed and read through its HTTP API only: two simulator channels are
 * registered with PUT, one is force-closed through the API (its dust HTLC failed back at once), the daemon is
 * stopped with SIGTERM (exit 0) while its SSE client is connected; while it is down the commitment confirms and
 * the other channel closes cooperatively; a restarted daemon catches up and the client resumes with
 * Last-Event-ID; the daemon is then killed (SIGKILL) between events and a third run (taking over the stale lock)
 * delivers the rest. Every event the briefcase holds reaches the client once, in id order. A second daemon on the
 * same datadir is refused by the lock. Every log line of the three runs is scanned for secrets.
 */
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startChain, type RegtestChain } from '../../regtest/chain.js';
import type { ChannelSimulator } from '../../regtest/simulator.js';
import { openDatabase } from '../../src/store/db.js';
import { sha256, toHex } from '../../src/util/bytes.js';
import { eventually } from '../helpers/async.js';
import { collectSecrets } from '../helpers/log-scan.js';
import { call, courtdLogLines, openEvents, prepareDatadir, startCourtd, type CourtdProcess } from '../helpers/courtd.js';
import { scanLogs } from '../api/helpers.js';
import { coopCloseTx, openOnChain, tempDir } from './arbitrator.helpers.js';

const pre = (label: string): Uint8Array => sha256(new TextEncoder().encode(`daemon.test ${label}`));

describe('courtd process on regtest: API feed, SSE resume across SIGTERM and SIGKILL', { timeout: 240_000 }, () => {
  let node: RegtestChain;
  let tmp: { dir: string; remove: () => void };
  let a: ChannelSimulator;
  let b: ChannelSimulator;
  let c: ChannelSimulator;
  let daemon: CourtdProcess | undefined;
  const datadir = (): string => join(tmp.dir, 'courtd');

  before(async () => {
    node = await startChain();
    tmp = tempDir('daemon');
    a = await openOnChain(node, 'anchors');
    b = await openOnChain(node, 'static_remotekey');
    c = await openOnChain(node, 'static_remotekey');
    const h = await node.height();
    a.addHtlc('alice', 400_000n, h + 100, pre('dust')); // outgoing, dust: failed back when we force-close
    a.addHtlc('bob', 50_000_000n, h + 200, pre('incoming'));
    a.commit();
    prepareDatadir(datadir(), node, a.parties.alice.seed);
  });
  after(async () => {
    daemon?.child.kill('SIGKILL');
    await node?.stop();
    tmp?.remove();
  });

  it('feeds, streams and resumes with nothing lost or repeated', async () => {
    daemon = await startCourtd(datadir());
    const d1 = daemon;
    assert.equal(statSync(join(datadir(), 'regtest', 'admin.token')).mode & 0o777, 0o600);
    assert.equal(statSync(join(datadir(), 'regtest', 'readonly.token')).mode & 0o777, 0o640);

    // A second daemon on the same datadir is refused.
    const second = await startCourtd(datadir()).then(
      () => assert.fail('a second daemon started'),
      (e: Error) => e.message,
    );
    assert.match(second, /COURT_E_DAEMON_LOCKED/);

    for (const sim of [a, b, c]) {
      const r = await call(d1, 'PUT', `/v1/channels/${encodeURIComponent(sim.chanPoint)}`, d1.admin, sim.snapshot('alice'));
      assert.equal(r.status, 200, JSON.stringify(r.json));
    }
    const info = await call(d1, 'GET', '/v1/info', d1.readonly);
    assert.equal(info.json.network, 'regtest');
    assert.equal(info.json.num_active_channels, 3);

    const s1 = openEvents(d1, 0);
    const fc = await call(d1, 'POST', `/v1/channels/${encodeURIComponent(a.chanPoint)}/force-close`, d1.admin, {});
    assert.equal(fc.status, 200, JSON.stringify(fc.json));
    assert.equal(fc.json.closing_txid, a.commitment('alice').txid);
    await eventually(() => s1.events.length >= 2, 20_000, 'channelClosing and the dust fail-back');
    const run1 = [...s1.events];
    assert.deepEqual(run1.map((e) => e.type).sort(), ['channelClosing', 'htlcFailedOnChain']);
    for (let i = 0; !(await node.call<string[]>('getrawmempool')).includes(a.commitment('alice').txid); i++) {
      assert.ok(i < 200, 'our commitment reached the mempool');
      await new Promise((r) => setTimeout(r, 50));
    }

    // SIGTERM: a clean stop (exit 0) with the SSE client connected.
    d1.child.kill('SIGTERM');
    assert.equal(await d1.exited, 0);
    s1.close();

    // While courtd is down: our commitment confirms (mined from the mempool) and b closes cooperatively.
    const coop = coopCloseTx(b);
    await node.send(coop.toHex());
    await node.mine(1);

    // Run 2: catch-up classifies both closes; the client resumes after the last id it saw.
    daemon = await startCourtd(datadir());
    const d2 = daemon;
    const last1 = (run1[run1.length - 1] as { id: number }).id;
    const s2 = openEvents(d2, last1);
    await eventually(() => s2.events.length >= 1, 30_000, 'a first event after the restart');
    const run2 = [...s2.events];
    d2.child.kill('SIGKILL');
    assert.equal(await d2.exited, 'SIGKILL');
    s2.close();

    // Run 3: takes over the stale lock, delivers the rest, and the events of c's force close made now; metrics on.
    daemon = await startCourtd(datadir(), ['--metrics.listen=127.0.0.1:0']);
    const d3 = daemon;
    const last2 = (run2[run2.length - 1] as { id: number }).id;
    const s3 = openEvents(d3, last2);
    const fc3 = await call(d3, 'POST', `/v1/channels/${encodeURIComponent(c.chanPoint)}/force-close`, d3.admin, {});
    assert.equal(fc3.status, 200, JSON.stringify(fc3.json));
    const db0 = openDatabase(join(datadir(), 'regtest', 'courtd.db'));
    const allIds = (): number[] => db0.prepare<[], { id: number }>('SELECT id FROM node_event ORDER BY id').all().map((r) => r.id);
    const streamed = (): number[] => [...run1, ...run2, ...s3.events].map((e) => e.id);
    // a's close stands (a start-up reconciliation may take it back and confirm it again: D21, last item).
    for (let i = 0; (await call(d3, 'GET', `/v1/channels/${encodeURIComponent(a.chanPoint)}`, d3.readonly)).json.state !== 'WaitingFullResolution'; i++) {
      assert.ok(i < 400, "a's close confirmed");
      await new Promise((r) => setTimeout(r, 50));
    }
    await eventually(() => s3.events.some((e) => e.chan_point === c.chanPoint) && streamed().length >= allIds().length, 30_000, () => `every event streamed (${streamed().join(',')} of ${allIds().join(',')})`);
    assert.deepEqual(streamed(), allIds(), 'every event once, in order, across SIGTERM and SIGKILL');
    const name = (cp: string): string => (cp === a.chanPoint ? 'a' : cp === b.chanPoint ? 'b' : 'c');
    const types = [...run1, ...run2, ...s3.events].map((e) => `${name(e.chan_point)}:${e.type}`);
    assert.ok(types.includes('b:channelResolved'), types.join(','));
    const aStages = [...run1, ...run2, ...s3.events].filter((e) => e.chan_point === a.chanPoint && e.type === 'channelClosing').map((e) => (e as unknown as { stage: string }).stage);
    // exactly these two: a SIGKILL in the middle of a block's delivery is no reorg (no closeDisconnected)
    assert.deepEqual(aStages, ['broadcasting', 'confirmed'], `a's close: ${aStages.join(',')}`);

    const ch = await call(d3, 'GET', `/v1/channels/${encodeURIComponent(a.chanPoint)}`, d3.readonly);
    assert.equal(ch.json.close_type, 'LOCAL_FORCE_CLOSE');
    const closed = await call(d3, 'GET', '/v1/closed?close_type=COOPERATIVE_CLOSE', d3.readonly);
    assert.deepEqual(closed.json.channels.map((c: { chan_point: string }) => c.chan_point), [b.chanPoint]);
    for (let i = 0; !(await (await fetch(`${d3.url}/healthz`)).json() as { synced: boolean }).synced; i++) {
      assert.ok(i < 200, 'synced to the node tip');
      await new Promise((r) => setTimeout(r, 50));
    }
    const metricsLine = courtdLogLines.find((l) => l.includes('"courtd: metrics listening"'));
    assert.ok(metricsLine !== undefined, 'the metrics listener is logged');
    const scrape = await (await fetch(`http://${(JSON.parse(metricsLine) as { listen: string }).listen}/metrics`)).text();
    assert.match(scrape, /^courtd_channels\{state="FullyResolved"\} 1$/m, 'b is resolved');
    assert.match(scrape, /^courtd_blocks_behind 0$/m);
    const health = await fetch(`${d3.url}/healthz`);
    assert.equal(health.status, 200);
    // The node acknowledges everything: the resolved channel b's events are pruned, the others stay.
    const lastId = allIds()[allIds().length - 1] as number;
    const ack = await call(d3, 'POST', '/v1/events/ack', d3.admin, { id: lastId });
    assert.equal(ack.status, 200, JSON.stringify(ack.json));
    assert.equal(ack.json.acked, lastId);
    const bEvents = types.filter((t) => t.startsWith('b:')).length;
    assert.equal(ack.json.pruned, bEvents, 'the fully resolved channel b');
    assert.equal(allIds().length, streamed().length - bEvents);
    db0.close();
    s3.close();
    d3.child.kill('SIGTERM');
    assert.equal(await d3.exited, 0);
    daemon = undefined;

    const secrets = new Map<string, string>([
      ['seed', toHex(a.parties.alice.seed)],
      ['admin token', readFileSync(join(datadir(), 'regtest', 'admin.token'), 'utf8').trim()],
      ['readonly token', readFileSync(join(datadir(), 'regtest', 'readonly.token'), 'utf8').trim()],
      ['rpc password', node.endpoint.password],
      ['incoming preimage', toHex(pre('incoming'))],
      ['dust preimage', toHex(pre('dust'))],
    ]);
    collectSecrets(secrets);
    const hits = scanLogs(courtdLogLines, secrets);
    process.stdout.write(`log scan: lines=${courtdLogLines.length} secrets=${secrets.size} hits=${hits.length}\n`);
    assert.deepEqual(hits, []);
  });
});
