/**
 * HTTP API benchmarks (src/api), over a listening server on 127.0.0.1 and a real briefcase file.
 *
 * api_snapshot_per_s: PUT /v1/channels/{chanPoint} of an anchor channel snapshot with 10 HTLCs, one after the
 *   other over keep-alive HTTP: each is parsed, checked (commitment rebuilt, 1 + 10 signatures verified), stored
 *   durably (synchronous=FULL) and taken in by the arbitrator before the answer.
 * api_snapshot_ratio: the time of one PUT over the time of the 11 signature verifications it needs, measured in
 *   the same run (goal <= 2: the API, the BOLT #3 rebuild and the briefcase add at most as much as the crypto).
 *   Extra fields split the time: check_snapshot_per_s (parse + BOLT #3 rebuild + verify, no I/O) and
 *   arbitrator_update_per_s (ChainArbitrator.updateChannel in process: check, store, transition; no HTTP) and
 *   durable_commit_ms (one synchronous=FULL commit on the same file system; a PUT makes two).
 * sse_events_per_s: node events streamed to one client (GET /v1/events from 0), 20,000 rows.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { SIM_COIN_TYPE } from '../regtest/sim-keys.js';
import { ChannelSimulator } from '../regtest/simulator.js';
import { ChainArbitrator } from '../src/arbitrator/chain-arbitrator.js';
import { checkSnapshot, ourBasepointsFrom, parseSnapshot } from '../src/arbitrator/snapshot.js';
import { apiDeps } from '../src/api/deps.js';
import { EventFeed } from '../src/api/events.js';
import { buildApi } from '../src/api/server.js';
import { KeyRing } from '../src/keys/keyring.js';
import { secp } from '../src/keys/secp.js';
import { LocalSigner } from '../src/keys/signer.js';
import { commitmentSighash, htlcTxSighash } from '../src/ln/htlc.js';
import { openDatabase } from '../src/store/db.js';
import { migrate } from '../src/store/migrate.js';
import { sha256 } from '../src/util/bytes.js';
import { walletKey } from '../regtest/sim-keys.js';
import { emit, opsPerSecond } from './harness.js';

const nowMs = (): number => Number(process.hrtime.bigint()) / 1e6;
const round = (x: number, d: number): number => Number(x.toFixed(d));

export async function runApiBenches(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'courtd-api-bench-'));
  try {
    const db = openDatabase(join(dir, 'api.sqlite'));
    migrate(db);
    const funder = walletKey('api bench funder');
    const sim = ChannelSimulator.open({
      format: 'anchors',
      funder: 'alice',
      capacitySat: 1_000_000n,
      pushMsat: 300_000_000n,
      toSelfDelay: { alice: 144, bob: 30 },
      dustLimitSat: { alice: 546n, bob: 546n },
      feeratePerKw: 2_500,
      funding: { utxo: { txid: '11'.repeat(32), vout: 0, amountSat: 1_500_000n, privkey: funder.privkey }, satPerVb: 1 },
    });
    for (let i = 0; i < 10; i++) sim.addHtlc(i % 2 === 0 ? 'alice' : 'bob', 10_000_000n + BigInt(i), 1_000 + i, sha256(new TextEncoder().encode(`api bench ${i}`)));
    sim.commit();
    const ring = KeyRing.fromSeed(sim.parties.alice.seed, SIM_COIN_TYPE);
    const arb = new ChainArbitrator({
      db,
      keyring: ring,
      signer: new LocalSigner(ring),
      broadcaster: { publish: async (tx) => ({ kind: 'accepted', txid: tx.getId() }) },
      watches: { watchSpend: () => ({ id: 0, ready: Promise.resolve(), cancel: () => undefined }) },
    });
    arb.start(500);
    const feed = new EventFeed({ db, pollMs: 5 });
    const admin = 'ab'.repeat(32);
    const app = await buildApi(
      apiDeps({
        db,
        version: 'bench',
        network: 'regtest',
        tokens: { admin: () => admin, readonly: () => admin },
        logger: pino({ level: 'silent' }),
        arbitrator: arb,
        keyring: ring,
        events: feed,
        chainInfo: () => ({ height: 500, hash: '00'.repeat(32), nodeHeight: 500 }),
      }),
    );
    await app.listen({ host: '127.0.0.1', port: 0 });
    const port = (app.server.address() as AddressInfo).port;
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const body = JSON.stringify(sim.snapshot('alice'));
    const path = `/v1/channels/${encodeURIComponent(sim.chanPoint)}`;
    const put = (): Promise<number> =>
      new Promise((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path, method: 'PUT', agent, headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
        req.end(body);
      });
    const first = await put();
    if (first !== 200) throw new Error(`snapshot PUT answered ${first}`);
    // Warm-up, then timed rounds.
    for (let i = 0; i < 20; i++) await put();
    const rates: number[] = [];
    for (let r = 0; r < 5; r++) {
      const t0 = nowMs();
      let n = 0;
      while (nowMs() - t0 < 600) {
        if ((await put()) !== 200) throw new Error('a PUT failed');
        n++;
      }
      rates.push(n / ((nowMs() - t0) / 1000));
    }
    rates.sort((a, b) => a - b);
    const putPerS = rates[2] as number;

    // The signature checks one snapshot needs: 1 commitment + 10 HTLC signatures, over precomputed digests.
    const snap = parseSnapshot(JSON.parse(body));
    const checked = checkSnapshot(
      snap,
      ourBasepointsFrom(snap, (l) => ring.publicKey(l)),
    );
    const digests: Array<[Uint8Array, Uint8Array, Uint8Array]> = [[commitmentSighash(checked.local), snap.remote.fundingPubkey, snap.localCommitment.remoteSignature]];
    const htlcKey = checked.local.spec.keys.remoteHtlcPubkey;
    checked.localHtlcTxs.forEach((h) => digests.push([htlcTxSighash(h.htlcTx, h.htlcTx.remoteSighashType), htlcKey, h.remoteSignature]));
    const verifyPerS = opsPerSecond(() => {
      for (const [d, k, s] of digests) if (!secp().verify(d, k, s)) throw new Error('bad signature');
    });
    // Where the time goes, same run: the in-process arbitrator call (no HTTP), and checkSnapshot alone.
    const json = JSON.parse(body) as unknown;
    const directRates: number[] = [];
    for (let r = 0; r < 3; r++) {
      const t0 = nowMs();
      let n = 0;
      while (nowMs() - t0 < 600) {
        await arb.updateChannel(json);
        n++;
      }
      directRates.push(n / ((nowMs() - t0) / 1000));
    }
    directRates.sort((a, b) => a - b);
    const checkPerS = opsPerSecond(() => {
      const p = parseSnapshot(json);
      checkSnapshot(
        p,
        ourBasepointsFrom(p, (l) => ring.publicKey(l)),
      );
    });
    // One durable commit (an autocommit insert, synchronous=FULL) on the same file system: a PUT makes two.
    db.exec('CREATE TABLE IF NOT EXISTS bench_fsync (a INTEGER)');
    const fsyncIns = db.prepare('INSERT INTO bench_fsync VALUES (1)');
    const commitPerS = opsPerSecond(() => fsyncIns.run(), { warmMs: 100, roundMs: 200, rounds: 3 });
    emit({ bench: 'api_snapshot_per_s', value: round(putPerS, 1), unit: 'snapshots/s', htlcs: 10, signatures: digests.length });
    emit({
      bench: 'api_snapshot_ratio',
      value: round(verifyPerS / putPerS, 2),
      unit: 'ratio',
      goal: 2,
      verify_sets_per_s: round(verifyPerS, 1),
      check_snapshot_per_s: round(checkPerS, 1),
      arbitrator_update_per_s: round(directRates[1] as number, 1),
      durable_commit_ms: round(1000 / commitPerS, 2),
    });

    // SSE: 20,000 events to one client.
    const N = 20_000;
    const ins = db.prepare('INSERT INTO node_event (chan_point, kind, payload, created_height) VALUES (?, 1, ?, 500)');
    db.transaction(() => {
      for (let i = 0; i < N; i++) ins.run(sim.chanPoint, JSON.stringify({ v: 1, htlcId: i, reason: 'bench' }));
    })();
    const last = (db.prepare('SELECT MAX(id) AS id FROM node_event').get() as { id: number }).id;
    const t0 = nowMs();
    await new Promise<void>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/v1/events?after=0', headers: { authorization: `Bearer ${admin}` } }, (res) => {
        let tail = '';
        const want = `id: ${last}\n`;
        res.on('data', (c: Buffer) => {
          const text = tail + c.toString('utf8');
          tail = text.slice(-want.length);
          if (text.includes(want)) {
            req.destroy();
            resolve();
          }
        });
      });
      req.on('error', (e) => (e.message.includes('aborted') || e.message.includes('socket hang up') ? undefined : reject(e)));
      req.end();
    });
    const sseMs = nowMs() - t0;
    emit({ bench: 'sse_events_per_s', value: Math.round(N / (sseMs / 1000)), unit: 'events/s', events: N });

    agent.destroy();
    feed.close();
    await app.close();
    await arb.stop();
    db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && process.argv[1].endsWith('api.bench.ts')) await runApiBenches();
