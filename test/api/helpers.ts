/**
 * The API over real parts for unit tests: a SQLite briefcase file, alice's ChainArbitrator (no chain: spends are
 * never seen, blocks are driven by hand), courtd's real fee wallet, a real Sweeper over test ports, the event
 * feed, and a pino logger whose every line is kept for the log scan. Built with the daemon's own apiDeps.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { SIM_COIN_TYPE } from '../../regtest/sim-keys.js';
import type { ChannelSimulator } from '../../regtest/simulator.js';
import type { ChainArbitrator } from '../../src/arbitrator/chain-arbitrator.js';
import { apiDeps } from '../../src/api/deps.js';
import { EventFeed } from '../../src/api/events.js';
import { buildApi } from '../../src/api/server.js';
import { KeyRing } from '../../src/keys/keyring.js';
import { LocalSigner } from '../../src/keys/signer.js';
import { openDatabase, type Db } from '../../src/store/db.js';
import { migrate } from '../../src/store/migrate.js';
import type { Sweeper } from '../../src/sweep/sweeper.js';
import { Wallet } from '../../src/wallet/wallet.js';
import { aliceArbitrator } from '../helpers/arbitrator.js';
import { FakeChain, NO_SPENDS } from '../helpers/fake-chain.js';
import { testSweeper } from '../sweep/helpers.js';
import { collectLogLine, collectSecrets } from '../helpers/log-scan.js';

export const H = 300;

/** A running API over real parts. */
export interface ApiRig {
  readonly app: FastifyInstance;
  readonly db: Db;
  readonly arb: ChainArbitrator;
  readonly sweeper: Sweeper;
  readonly wallet: Wallet;
  readonly feed: EventFeed;
  /** The blocks the wallet rescan reads. */
  readonly fakeChain: FakeChain;
  readonly admin: string;
  readonly readonly: string;
  /** Transactions the arbitrator published (txids). */
  readonly published: string[];
  /** Every log line the API and the arbitrator wrote. */
  readonly logLines: string[];
  close(): Promise<void>;
}

/** Builds the rig on a fresh briefcase `dir/file`, with alice's keys of `sim` (the channel is not registered). */
export async function apiRig(dir: string, file: string, sim: ChannelSimulator): Promise<ApiRig> {
  const db = openDatabase(join(dir, file));
  migrate(db);
  const logLines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) {
        if (l === '') continue;
        logLines.push(l);
        collectLogLine(l);
      }
      cb();
    },
  });
  const logger = pino({ level: 'debug' }, sink);
  const ring = KeyRing.fromSeed(sim.parties.alice.seed, SIM_COIN_TYPE);
  const { arb, published } = aliceArbitrator(db, sim, { watches: NO_SPENDS, closeDepth: 1, logger: logger as never });
  arb.start(H);
  const wallet = new Wallet({ db, account: ring.walletAccountPublic(), signer: new LocalSigner(ring), network: 'regtest' });
  const { sweeper } = testSweeper(db, { height: H });
  await sweeper.start();
  const feed = new EventFeed({ db, pollMs: 20 });
  const fakeChain = new FakeChain();
  const tokens = { admin: randomBytes(32).toString('hex'), readonly: randomBytes(32).toString('hex') };
  collectSecrets([
    ['api test admin token', tokens.admin],
    ['api test readonly token', tokens.readonly],
  ]);
  const app = await buildApi(
    apiDeps({
      db,
      version: 'test',
      network: 'regtest',
      tokens: { admin: () => tokens.admin, readonly: () => tokens.readonly },
      logger,
      arbitrator: arb,
      keyring: ring,
      events: feed,
      chainInfo: () => ({ height: arb.height, hash: '00'.repeat(32), nodeHeight: arb.height }),
      publish: async () => true,
      rescanWallet: (from, to) => wallet.rescan(fakeChain, from, to ?? from),
      sweeper,
      wallet,
      rotateToken: (scope) => {
        tokens[scope] = randomBytes(32).toString('hex');
        collectSecrets([[`api test ${scope} token (rotated)`, tokens[scope]]]);
        return `/tmp/${scope}.token`;
      },
    }),
  );
  return {
    app,
    db,
    arb,
    sweeper,
    wallet,
    feed,
    fakeChain,
    get admin() {
      return tokens.admin;
    },
    get readonly() {
      return tokens.readonly;
    },
    published,
    logLines,
    async close() {
      feed.close();
      await app.close();
      await arb.stop();
      db.close();
    },
  };
}

/** Authorization header of a token. */
export const bearer = (t: string): Record<string, string> => ({ authorization: `Bearer ${t}` });

/**
 * The log scan: every line must be free of each secret (hex, either case). Returns the hits (the lines' indexes
 * and which secret, by label only).
 */
export function scanLogs(lines: readonly string[], secrets: ReadonlyMap<string, string>): Array<{ line: number; secret: string }> {
  const hits: Array<{ line: number; secret: string }> = [];
  lines.forEach((l, i) => {
    const low = l.toLowerCase();
    for (const [label, s] of secrets) if (s.length >= 16 && low.includes(s.toLowerCase())) hits.push({ line: i, secret: label });
  });
  return hits;
}

/** Every route, its scope, and a body that passes its schema. */
export function routes(cp: string): Array<{ method: 'GET' | 'PUT' | 'POST'; url: string; scope: 'admin' | 'readonly'; body?: unknown }> {
  const e = encodeURIComponent(cp);
  return [
    { method: 'PUT', url: `/v1/channels/${e}`, scope: 'admin', body: {} },
    { method: 'POST', url: `/v1/channels/${e}/revocations`, scope: 'admin', body: { number: 0, secret: '11'.repeat(32) } },
    { method: 'POST', url: '/v1/preimages', scope: 'admin', body: { preimages: ['22'.repeat(32)] } },
    { method: 'POST', url: `/v1/channels/${e}/force-close`, scope: 'admin', body: { dry_run: true } },
    { method: 'POST', url: `/v1/channels/${e}/coop-close`, scope: 'admin', body: { tx_hex: '00' } },
    { method: 'GET', url: '/v1/info', scope: 'readonly' },
    { method: 'GET', url: '/v1/channels', scope: 'readonly' },
    { method: 'GET', url: `/v1/channels/${e}`, scope: 'readonly' },
    { method: 'GET', url: '/v1/closed', scope: 'readonly' },
    { method: 'GET', url: '/v1/sweeps', scope: 'readonly' },
    { method: 'GET', url: `/v1/channels/${e}/history`, scope: 'readonly' },
    { method: 'GET', url: '/v1/wallet/balance', scope: 'readonly' },
    { method: 'GET', url: '/v1/wallet/alerts', scope: 'readonly' },
    { method: 'GET', url: '/v1/events?after=0', scope: 'readonly' },
    { method: 'POST', url: '/v1/wallet/address', scope: 'admin' },
    { method: 'POST', url: '/v1/wallet/rescan', scope: 'admin', body: { from_height: 0, to_height: 0 } },
    { method: 'POST', url: '/v1/sweeps/bump', scope: 'admin', body: { outpoint: `${'33'.repeat(32)}:0` } },
    { method: 'POST', url: `/v1/channels/${e}/bump`, scope: 'admin', body: {} },
    { method: 'POST', url: '/v1/events/ack', scope: 'admin', body: { id: 0 } },
    { method: 'POST', url: '/v1/tokens/rotate', scope: 'admin', body: { scope: 'readonly' } },
  ];
}
