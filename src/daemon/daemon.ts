/**
 * The composition root: builds courtd from a checked Config, in order, and stops it in reverse.
 *
 * Start: the datadir lock (a second courtd on the same datadir is refused); the briefcase (migrations applied);
 * the keyring (seed file, created 0600 on first start); the API token files; the chain layer over bitcoind; the
 * money path (wallet, sweeper; src/daemon/money.ts) and the ChainArbitrator, all subscribed to the block
 * dispatcher BEFORE it runs, so no block of the catch-up is missed by any of them; the chain layer starts and
 * catches up to the node's tip with its progress logged; the API listens (it answers during catch-up with
 * synced_to_chain false, so `court` can show the progress) and the metrics listener if configured.
 *
 * Stop (SIGTERM/SIGINT, or `stop()`): the API stops accepting (open SSE streams end), the chain layer stops
 * polling (the block being delivered finishes: the current event completes), the arbitrator's queued events
 * finish, the briefcase closes, the lock is released.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import type { Transaction } from 'bitcoinjs-lib';
import type { FastifyInstance } from 'fastify';
import type { Logger as PinoLogger } from 'pino';
import { ChainArbitrator } from '../arbitrator/chain-arbitrator.js';
import { apiDeps } from '../api/deps.js';
import { EventFeed } from '../api/events.js';
import { Metrics } from '../api/metrics.js';
import { buildApi } from '../api/server.js';
import { createChain, type Chain } from '../chain/index.js';
import { KeyRing } from '../keys/keyring.js';
import { loadOrCreateSeed } from '../keys/seedfile.js';
import { LocalSigner } from '../keys/signer.js';
import { openDatabase, type Db } from '../store/db.js';
import { migrate } from '../store/migrate.js';
import { CourtError } from '../util/errors.js';
import { errFields } from '../util/logger.js';
import { configPaths, hostPort, loggableConfig, type Config } from './config.js';
import { acquireLock } from './lock.js';
import { buildMoney, type Money } from './money.js';
import { loadOrCreateToken, rotateToken, type TokenScope } from './tokens.js';

/** courtd's version (package.json). */
export const VERSION: string = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** A running daemon. */
export interface Daemon {
  readonly config: Config;
  readonly db: Db;
  readonly chain: Chain;
  readonly arbitrator: ChainArbitrator;
  readonly money: Money;
  readonly api: FastifyInstance;
  /** "host:port" the API listens on. */
  readonly apiAddress: string;
  readonly metricsAddress?: string;
  /** Resolves once the dispatcher reached the node's tip seen at start. */
  readonly synced: Promise<void>;
  stop(): Promise<void>;
}

/** Reads bitcoind credentials: user/password, else the cookie file. */
function rpcCredentials(c: Config): { username?: string; password?: string } {
  if (c['bitcoind.rpcuser'] !== undefined) return { username: c['bitcoind.rpcuser'], password: c['bitcoind.rpcpassword'] as string };
  const path = c['bitcoind.rpccookie'] as string;
  let text: string;
  try {
    text = readFileSync(path, 'utf8').trim();
  } catch (e) {
    throw new CourtError('COURT_E_CONFIG_INVALID', `bitcoind.rpccookie ${path} cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'}); set bitcoind.rpcuser and bitcoind.rpcpassword, or bitcoind.rpccookie`, {
      key: 'bitcoind.rpccookie',
    });
  }
  const i = text.indexOf(':');
  if (i <= 0) throw new CourtError('COURT_E_CONFIG_INVALID', `bitcoind.rpccookie ${path} does not hold user:password`, { key: 'bitcoind.rpccookie' });
  return { username: text.slice(0, i), password: text.slice(i + 1) };
}

/** Starts courtd. `logger` is the pino logger every part logs through. */
export async function startDaemon(config: Config, logger: PinoLogger, signal?: AbortSignal): Promise<Daemon> {
  const paths = configPaths(config);
  mkdirSync(paths.netdir, { recursive: true, mode: 0o700 });
  const lock = acquireLock(paths.lock);
  const undo: Array<() => Promise<void> | void> = [() => lock.release()];
  const unwind = async (): Promise<void> => {
    for (const f of undo.reverse()) {
      try {
        await f();
      } catch (err) {
        logger.error(errFields(err), 'courtd: a stop step failed');
      }
    }
    undo.length = 0;
  };
  try {
    if (lock.tookOver) logger.warn({ lock: paths.lock }, 'courtd: took over a lock left by a process that no longer runs');
    logger.info({ version: VERSION, config: loggableConfig(config) }, 'courtd: starting');

    // Briefcase.
    const db = openDatabase(paths.db);
    undo.push(() => {
      db.close();
    });
    const m = migrate(db);
    logger.info({ db: paths.db, ...m }, 'courtd: briefcase ready');

    // Keyring.
    const seed = loadOrCreateSeed(paths.seed);
    if (seed.created) logger.warn({ seedFile: paths.seed }, 'courtd: created a new seed file (back it up)');
    const keyring = KeyRing.fromSeed(seed.seed, config.network === 'mainnet' ? 0 : 1);
    seed.seed.fill(0);
    const signer = new LocalSigner(keyring);

    // Tokens.
    const tokens: Record<TokenScope, string> = {
      admin: loadOrCreateToken(paths.adminToken, 'admin').token,
      readonly: loadOrCreateToken(paths.readonlyToken, 'readonly').token,
    };

    // Chain layer.
    const log = logger.child({ component: 'chain' });
    const metricsBox: { m?: Metrics } = {};
    const chain = createChain({
      rpc: { host: `http://${config['bitcoind.rpchost']}:${config['bitcoind.rpcport']}`, ...rpcCredentials(config), timeoutMs: config['bitcoind.timeoutms'] },
      pollMs: config['bitcoind.pollms'],
      db,
      logger: log,
    });
    // Count failed RPC calls (after their retries) for the metrics: one wrapper around the one client. Only
    // failures of the link count (unreachable, credentials refused, a reply that is not JSON-RPC); an RPC error
    // answer (a transaction not found, a mempool refusal) is the node answering.
    const call = chain.rpc.call.bind(chain.rpc);
    const LINK_FAILURES = new Set(['COURT_E_CHAIN_UNREACHABLE', 'COURT_E_CHAIN_AUTH', 'COURT_E_CHAIN_BAD_REPLY']);
    chain.rpc.call = async (method: string, params?: readonly unknown[]) => {
      try {
        return await call(method, params);
      } catch (err) {
        if (err instanceof CourtError && LINK_FAILURES.has(err.code)) metricsBox.m?.rpcErrors.inc();
        throw err;
      }
    };

    // Where blocks start: the block log's tip, else the node's (asked until it answers).
    let nodeTip: { height: number; hash: string } | undefined;
    for (let attempt = 0; nodeTip === undefined; attempt++) {
      if (signal?.aborted === true) throw new CourtError('COURT_E_API_UNAVAILABLE', 'stopped while waiting for bitcoind');
      try {
        nodeTip = await chain.source.getTip();
      } catch (err) {
        if (attempt % 10 === 0) logger.warn({ ...errFields(err), attempt }, 'courtd: bitcoind does not answer yet; retrying');
        await new Promise((r) => setTimeout(r, Math.min(5_000, 200 * (attempt + 1))));
      }
    }
    const startHeight = chain.dispatcher.tip()?.height ?? nodeTip.height;
    let lastNodeHeight = nodeTip.height;

    // Money path and arbitrator, subscribed before the dispatcher runs.
    const money = buildMoney({
      db,
      keyring,
      signer,
      chain,
      network: config.network,
      height: startHeight,
      logger: logger.child({ component: 'money' }),
      ...(config['wallet.reserveperanchor'] === undefined ? {} : { reservePerAnchorSat: BigInt(config['wallet.reserveperanchor']) }),
    });
    const feed = new EventFeed({ db });
    const depth = config['arbitrator.closedepth'] ?? (config.network === 'regtest' ? 1 : undefined);
    const arbitrator = new ChainArbitrator({
      db,
      keyring,
      signer,
      broadcaster: chain.broadcaster,
      watches: chain.watches,
      outputs: chain.source,
      logger: logger.child({ component: 'arbitrator' }),
      resolvers: money.resolvers,
      // The CPFP offer of every anchor commitment we publish.
      sweeper: money.sweeper,
      ...(depth === undefined ? {} : { closeDepth: { min: depth, max: depth } }),
      onCommit: () => feed.kick(),
    });
    chain.dispatcher.subscribe(arbitrator.onChainEvent);
    money.attach(arbitrator);
    money.subscribe();
    arbitrator.start(startHeight);
    // Reverse order at stop: the chain layer stops polling first (the block being delivered finishes), then the
    // arbitrator's queued events finish, then the resolvers' queued work.
    undo.push(() => money.stop());
    undo.push(() => arbitrator.stop());
    undo.push(() => chain.stop());
    await money.start();

    // Catch-up.
    await chain.start();
    let stopRequested = false;
    undo.push(() => {
      stopRequested = true;
    });
    const synced = (async () => {
      let last = -1;
      while (!stopRequested) {
        const tip = chain.dispatcher.tip()?.height ?? startHeight;
        if (tip >= nodeTip.height) break;
        if (tip !== last) {
          logger.info({ height: tip, target: nodeTip.height, remaining: nodeTip.height - tip }, 'courtd: catching up');
          last = tip;
        }
        await new Promise((r) => setTimeout(r, 250));
      }
      if (!stopRequested) logger.info({ height: chain.dispatcher.tip()?.height ?? startHeight }, 'courtd: synced to the node tip');
    })();
    // Node tip for /v1/info and the metrics: refreshed in the background, never on a request's path.
    const tipTimer = setInterval(() => {
      chain.source.getTip().then(
        (t) => (lastNodeHeight = t.height),
        () => undefined,
      );
    }, Math.max(1_000, config['bitcoind.pollms']));
    tipTimer.unref();
    undo.push(() => clearInterval(tipTimer));

    const chainInfo = () => {
      const tip = chain.dispatcher.tip();
      return { height: tip?.height ?? startHeight, hash: tip?.hash ?? '', nodeHeight: lastNodeHeight };
    };

    // Metrics.
    let metricsAddress: string | undefined;
    const metrics = new Metrics({ db, heights: () => ({ height: chainInfo().height, nodeHeight: lastNodeHeight }), pendingSweeps: () => money.sweeper.pending().filter((v) => v.state === 'pending' || v.state === 'published').length, resolverView: money.resolverView });
    metricsBox.m = metrics;
    if (config['metrics.listen'] !== undefined) {
      const ms = metrics.server();
      const hp = hostPort(config['metrics.listen']);
      await ms.listen({ host: hp.host, port: hp.port });
      const a = ms.server.address();
      metricsAddress = typeof a === 'object' && a !== null ? `${a.address}:${a.port}` : config['metrics.listen'];
      undo.push(() => ms.close());
      logger.info({ listen: metricsAddress }, 'courtd: metrics listening');
    }

    // API.
    const api = await buildApi(
      apiDeps({
        db,
        version: VERSION,
        network: config.network,
        tokens: { admin: () => tokens.admin, readonly: () => tokens.readonly },
        logger: logger.child({ component: 'api' }),
        arbitrator,
        keyring,
        events: feed,
        chainInfo,
        publish: async (tx: Transaction, label: string) => (await chain.broadcaster.publish(tx, label)).kind === 'accepted',
        sweeper: money.sweeper,
        wallet: money.wallet,
        rotateToken: (scope) => {
          const path = scope === 'admin' ? paths.adminToken : paths.readonlyToken;
          tokens[scope] = rotateToken(path, scope);
          logger.warn({ scope, path }, 'courtd: API token rotated');
          return path;
        },
        resolverView: money.resolverView,
        rescanWallet: (from, to) => money.wallet.rescan(chain.source, from, to ?? money.wallet.tip()?.height ?? chainInfo().height),
        onError: (status) => metrics.apiErrors.inc({ status: `${Math.floor(status / 100)}xx` }),
      }),
    );
    const hp = hostPort(config['api.listen']);
    await api.listen({ host: hp.host, port: hp.port });
    undo.push(async () => {
      feed.close();
      await api.close();
    });
    const a = api.server.address();
    const apiAddress = typeof a === 'object' && a !== null ? `${a.address}:${a.port}` : config['api.listen'];
    logger.info({ listen: apiAddress, adminToken: paths.adminToken, readonlyToken: paths.readonlyToken }, 'courtd: API listening');

    let stopping: Promise<void> | undefined;
    return {
      config,
      db,
      chain,
      arbitrator,
      money,
      api,
      apiAddress,
      ...(metricsAddress === undefined ? {} : { metricsAddress }),
      synced,
      stop() {
        stopping ??= (async () => {
          logger.info({}, 'courtd: stopping');
          await unwind();
          logger.info({}, 'courtd: stopped');
        })();
        return stopping;
      },
    };
  } catch (err) {
    await unwind();
    throw err;
  }
}
