/**
 * The HTTP API (ARCHITECTURE.md "Sidecar link and admin surface"): fastify with the typebox type provider. Every
 * route declares its schemas (schemas.ts) and its scope; Ajv validates params, query and body with unknown
 * fields refused (removeAdditional off, additionalProperties false) and no type coercion; errors are coded
 * (errors.ts). The OpenAPI 3.1 document is generated from the same schemas (GET /openapi.json, `npm run openapi`).
 *
 * The API holds no state of its own: it calls the ChainArbitrator, sweeper and wallet the daemon built, and reads
 * the briefcase (views.ts). `buildApi` does not listen; the daemon (or a test, through `inject`) does.
 */
import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Transaction } from 'bitcoinjs-lib';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger as PinoLogger } from 'pino';
import type { ChainDeltas } from '../arbitrator/actions.js';
import type { ChannelReply, ForceCloseReply as ArbForceCloseReply, PreimageReply } from '../arbitrator/chain-arbitrator.js';
import type { CheckedSnapshot } from '../arbitrator/snapshot.js';
import type { Db } from '../store/db.js';
import type { BumpRequest, PendingSweepView } from '../sweep/types.js';
import { fromHex } from '../util/bytes.js';
import { CourtError } from '../util/errors.js';
import type { WalletBalance, ReserveStatus } from '../wallet/wallet.js';
import { authHook, type Scope, type TokenSource } from './auth.js';
import { errorHandler, type RouteErrorConfig } from './errors.js';
import { ackedEventId, ackEvents, type EventFeed } from './events.js';
import { forceClosePlan } from './plan.js';
import * as S from './schemas.js';
import { anchorChannels, channelCounts, channelHistory, getChannel, listChannels, listClosed, type ResolverOutputSource } from './views.js';
import { ARBITRATOR_STATE } from '../store/codes.js';

/** What the API calls into (the daemon's parts; tests pass real ones over a SQLite briefcase). */
export interface ApiDeps {
  readonly db: Db;
  readonly version: string;
  readonly network: string;
  readonly tokens: TokenSource;
  readonly logger: PinoLogger;
  readonly arbitrator: {
    readonly height: number;
    updateChannel(json: unknown): Promise<ChannelReply>;
    addRevocation(chanPoint: string, secret: Uint8Array, commitmentNumber: number): void;
    addPreimage(preimage: Uint8Array, source: 'node'): Promise<PreimageReply>;
    forceClose(chanPoint: string): Promise<ArbForceCloseReply>;
  };
  /** The checked snapshot in force of an open channel (for the force-close plan). */
  checked(chanPoint: string): CheckedSnapshot | undefined;
  /** Payment hashes whose preimage courtd holds, among `hashes`. */
  knownPreimages(hashes: readonly string[]): ReadonlySet<string>;
  readonly deltas: ChainDeltas;
  /** Last block processed, and the node's tip when known. */
  chainInfo(): { readonly height: number; readonly hash: string; readonly nodeHeight?: number };
  /** Publishes a transaction (a coop close); true if the node took it. */
  publish?(tx: Transaction, label: string): Promise<boolean>;
  readonly sweeper?: {
    pending(filter?: { readonly chanPoint?: string }): PendingSweepView[];
    bump(outpoint: string, req: BumpRequest): void;
  };
  readonly wallet?: {
    balance(): WalletBalance;
    reserveStatus(anchorChannels: number): ReserveStatus;
    newAddress(): string;
    alerts?(afterId?: number): Array<{ id: number; kind: string; outpoint: string; leaseId?: string; txid: string; height: number }>;
  };
  readonly events: EventFeed;
  /** The resolver runner's view of a channel's outputs (absent: read from the arbitrator's rows). */
  readonly resolverView?: ResolverOutputSource;
  /** Reads blocks from..to (to: the last processed block when absent) through the fee wallet; returns the count. */
  rescanWallet?(fromHeight: number, toHeight?: number): Promise<number>;
  /** Rewrites a token file; returns its path. */
  rotateToken?(scope: 'admin' | 'readonly'): string;
  /** Called with each error status (metrics). */
  onError?(status: number): void;
}

/** Route options: scope and error config. */
function cfg(scope: Scope, extra: RouteErrorConfig = {}): { config: { scope: Scope } & RouteErrorConfig } {
  return { config: { scope, ...extra } };
}

const unavailable = (what: string): CourtError => new CourtError('COURT_E_API_UNAVAILABLE', `${what} is not running in this daemon`);

const satPerVbyte = (perKw: bigint): string => ((perKw * 4n + 999n) / 1000n).toString();

function sweepView(v: PendingSweepView): S.SweepViewT {
  return {
    outpoint: v.outpoint,
    ...(v.chanPoint === undefined ? {} : { chan_point: v.chanPoint }),
    witness_type: v.witnessKind,
    amount_sat: v.valueSat.toString(),
    budget_sat: v.budgetSat.toString(),
    ...(v.deadlineHeight === undefined ? {} : { deadline_height: v.deadlineHeight }),
    state: v.state,
    ...(v.feeRatePerKw === undefined ? {} : { fee_rate_sat_per_kw: v.feeRatePerKw.toString(), sat_per_vbyte: satPerVbyte(v.feeRatePerKw) }),
    ...(v.sweepTxid === undefined ? {} : { sweep_txid: v.sweepTxid }),
    broadcast_attempts: v.publishCount,
    ...(v.reason === undefined ? {} : { reason: v.reason }),
  };
}

function bumpRequest(b: { budget_sat?: string; deadline_delta?: number; sat_per_vbyte?: number }): BumpRequest {
  return {
    ...(b.budget_sat === undefined ? {} : { budgetSat: BigInt(b.budget_sat) }),
    ...(b.deadline_delta === undefined ? {} : { deadlineDelta: b.deadline_delta }),
    ...(b.sat_per_vbyte === undefined ? {} : { startFeeRatePerKw: BigInt(b.sat_per_vbyte) * 250n }),
  };
}

const normalise = (chanPoint: string): string => {
  const i = chanPoint.indexOf(':');
  return `${chanPoint.slice(0, i).toLowerCase()}${chanPoint.slice(i)}`;
};

/** The OpenAPI document's header. */
export const OPENAPI_INFO = {
  openapi: '3.1.0',
  info: {
    title: 'courtd API',
    description:
      "courtd's sidecar link (a Lightning node feeds it channel snapshots, revocations and preimages, and follows its events) and admin surface. Bearer tokens from <datadir>/<network>/admin.token and readonly.token. Amounts are decimal strings of sat. Errors: {code: COURT_E_..., message}.",
    version: '1',
  },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
} as const;

/** Builds the API (not listening). */
export async function buildApi(deps: ApiDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    // Requests are not logged one by one (the error handler logs failures): no URL, header or body in the logs.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 1 << 20,
    // No implicit HEAD routes (a HEAD of the event stream would hold a connection open for nothing).
    exposeHeadRoutes: false,
    // Closing: our own coded 503 (the preClose hook below), not fastify's uncoded one.
    return503OnClosing: false,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false, allErrors: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  await app.register(swagger, {
    openapi: OPENAPI_INFO as never,
    // Shared schemas appear under their own names (ChannelSnapshot, ChannelView, Error, ...), not def-N.
    refResolver: { buildLocalReference: (json, _base, _fragment, i) => (typeof json['$id'] === 'string' ? json['$id'] : `def-${i}`) },
  });
  app.setErrorHandler((err, request, reply) => {
    errorHandler(err, request, reply);
  });
  app.addHook('onResponse', async (_req, reply) => {
    if (reply.statusCode >= 400) deps.onError?.(reply.statusCode);
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send({ code: 'COURT_E_API_NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0]?.slice(0, 200)}` });
  });
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onRequest', async () => {
    if (closing) throw new CourtError('COURT_E_API_UNAVAILABLE', 'courtd is stopping');
  });
  app.addHook('onRequest', authHook(deps.tokens));

  const errors = { 400: S.ErrorBody, 401: S.ErrorBody, 403: S.ErrorBody, 404: S.ErrorBody, 409: S.ErrorBody, 422: S.ErrorBody, 503: S.ErrorBody };
  const height = (): number => deps.chainInfo().height;
  const db = deps.db;

  // ---------------------------------------------------------------------------------------------------------
  // Node feed (admin)

  app.put(
    '/v1/channels/:chanPoint',
    {
      ...cfg('admin', { invalidCode: 'COURT_E_SNAPSHOT_INVALID' }),
      schema: {
        summary: 'Register or update a channel snapshot; returns once it is durable',
        tags: ['node'],
        params: S.ChanPointParams,
        body: S.ChannelSnapshotSchema,
        response: { 200: S.ChannelReplyBody, ...errors },
      },
    },
    async (req) => {
      if (normalise(req.body.chanPoint) !== normalise(req.params.chanPoint)) {
        throw new CourtError('COURT_E_SNAPSHOT_INVALID', 'chanPoint differs from the channel point in the path', { field: 'chanPoint' });
      }
      const r = await deps.arbitrator.updateChannel(req.body);
      req.log.info({ chanPoint: r.chanPoint, state: r.state, localNumber: req.body.localCommitment.number }, 'api: snapshot accepted');
      return { chan_point: r.chanPoint, state: r.state };
    },
  );

  app.post(
    '/v1/channels/:chanPoint/revocations',
    {
      ...cfg('admin'),
      schema: { summary: 'A remote per-commitment secret (revocation)', tags: ['node'], params: S.ChanPointParams, body: S.RevocationBody, response: { 200: S.RevocationReply, ...errors } },
    },
    async (req) => {
      const cp = normalise(req.params.chanPoint);
      deps.arbitrator.addRevocation(cp, fromHex(req.body.secret), req.body.number);
      req.log.info({ chanPoint: cp, number: req.body.number }, 'api: revocation stored');
      return { chan_point: cp, number: req.body.number };
    },
  );

  app.post(
    '/v1/preimages',
    { ...cfg('admin'), schema: { summary: 'Preimages learned off chain; routed at once to every waiting HTLC', tags: ['node'], body: S.PreimagesBody, response: { 200: S.PreimagesReply, ...errors } } },
    async (req) => {
      const routed = [];
      for (const p of req.body.preimages) {
        const r = await deps.arbitrator.addPreimage(fromHex(p), 'node');
        routed.push({ payment_hash: r.paymentHash, channels: [...r.channels] });
        req.log.info({ paymentHash: r.paymentHash, channels: r.channels.length }, 'api: preimage stored');
      }
      return { routed };
    },
  );

  app.post(
    '/v1/channels/:chanPoint/force-close',
    {
      ...cfg('admin'),
      schema: {
        summary: 'Force-close: publish our latest commitment (or, with dry_run, only show the plan)',
        tags: ['node', 'admin'],
        params: S.ChanPointParams,
        body: S.ForceCloseBody,
        response: { 200: S.ForceCloseReply, ...errors },
      },
    },
    async (req) => {
      const cp = normalise(req.params.chanPoint);
      const checked = deps.checked(cp);
      if (checked === undefined) {
        const known = getChannel(db, cp, height());
        if (known !== undefined) throw new CourtError('COURT_E_CHANNEL_CLOSING', `channel ${cp} is no longer open (state ${known.state})`);
        throw new CourtError('COURT_E_CHANNEL_UNKNOWN', `no open channel ${cp}`);
      }
      const set = [...checked.snapshot.localCommitment.htlcs, ...checked.snapshot.remoteCommitments.current.htlcs].map((h) => Buffer.from(h.paymentHash).toString('hex'));
      const plan = forceClosePlan({ checked, height: height(), preimages: deps.knownPreimages(set), deltas: deps.deltas });
      if (req.body.dry_run === true) {
        const view = getChannel(db, cp, height(), deps.resolverView);
        return { chan_point: cp, commitment_number: checked.snapshot.localCommitment.number, closing_txid: checked.local.tx.getId(), plan, dry_run: true, state: view?.state ?? 'Default' };
      }
      const r = await deps.arbitrator.forceClose(cp);
      req.log.warn({ chanPoint: cp, state: r.state, commitment: r.commitment?.number }, 'api: force close requested');
      const commitment = r.commitment ?? { number: checked.snapshot.localCommitment.number, txid: checked.local.tx.getId() };
      return { chan_point: cp, commitment_number: commitment.number, closing_txid: commitment.txid, plan, dry_run: false, state: r.state };
    },
  );

  app.post(
    '/v1/channels/:chanPoint/coop-close',
    {
      ...cfg('admin'),
      schema: { summary: 'Publish a fully signed cooperative closing transaction', tags: ['node'], params: S.ChanPointParams, body: S.CoopCloseBody, response: { 200: S.CoopCloseReply, ...errors } },
    },
    async (req) => {
      const cp = normalise(req.params.chanPoint);
      if (db.prepare('SELECT 1 FROM channel WHERE chan_point = ?').get(cp) === undefined) throw new CourtError('COURT_E_CHANNEL_UNKNOWN', `no channel ${cp}`);
      let tx: Transaction;
      try {
        tx = Transaction.fromHex(req.body.tx_hex);
      } catch {
        throw new CourtError('COURT_E_COOP_CLOSE_INVALID', 'tx_hex does not decode as a transaction', { field: 'tx_hex' });
      }
      const [txid, vout] = cp.split(':') as [string, string];
      const spends = tx.ins.some((i) => Buffer.from(i.hash).reverse().toString('hex') === txid && i.index === Number(vout));
      if (!spends || tx.ins.length !== 1) throw new CourtError('COURT_E_COOP_CLOSE_INVALID', 'the transaction must have exactly one input, the channel funding output', { field: 'tx_hex' });
      if (deps.publish === undefined) throw unavailable('the broadcaster');
      const accepted = await deps.publish(tx, `coop close ${cp}`);
      req.log.info({ chanPoint: cp, txid: tx.getId(), accepted }, 'api: cooperative close published');
      return { chan_point: cp, txid: tx.getId(), accepted };
    },
  );

  // ---------------------------------------------------------------------------------------------------------
  // Reads (readonly)

  app.get('/v1/info', { ...cfg('readonly'), schema: { summary: 'Daemon and chain status', tags: ['read'], response: { 200: S.InfoReply, ...errors } } }, async () => {
    const c = deps.chainInfo();
    const counts = channelCounts(db);
    let pending = 0;
    for (const [state, n] of counts) if (state !== ARBITRATOR_STATE.Default && state !== ARBITRATOR_STATE.FullyResolved) pending += n;
    return {
      version: deps.version,
      network: deps.network,
      block_height: c.height,
      block_hash: c.hash,
      synced_to_chain: c.nodeHeight !== undefined && c.height >= c.nodeHeight,
      ...(c.nodeHeight === undefined ? {} : { node_height: c.nodeHeight }),
      num_active_channels: counts.get(ARBITRATOR_STATE.Default) ?? 0,
      num_pending_channels: pending,
      num_closed_channels: counts.get(ARBITRATOR_STATE.FullyResolved) ?? 0,
    };
  });

  app.get(
    '/v1/channels',
    { ...cfg('readonly'), schema: { summary: 'Channels courtd arbitrates (fully resolved ones with all=true)', tags: ['read'], querystring: S.ChannelsQuery, response: { 200: S.ChannelsReply, ...errors } } },
    async (req) => ({ channels: listChannels(db, height(), req.query.all === 'true', deps.resolverView) }),
  );

  app.get(
    '/v1/channels/:chanPoint',
    { ...cfg('readonly'), schema: { summary: 'One channel: state, limbo, outputs with stage and maturity', tags: ['read'], params: S.ChanPointParams, response: { 200: S.ChannelView, ...errors } } },
    async (req) => {
      const cp = normalise(req.params.chanPoint);
      const v = getChannel(db, cp, height(), deps.resolverView);
      if (v === undefined) throw new CourtError('COURT_E_CHANNEL_UNKNOWN', `no channel ${cp}`);
      return v;
    },
  );

  app.get(
    '/v1/channels/:chanPoint/history',
    { ...cfg('readonly'), schema: { summary: "A channel's transition history", tags: ['read'], params: S.ChanPointParams, response: { 200: S.HistoryReply, ...errors } } },
    async (req) => {
      const cp = normalise(req.params.chanPoint);
      const t = channelHistory(db, cp);
      if (t === undefined) throw new CourtError('COURT_E_CHANNEL_UNKNOWN', `no channel ${cp}`);
      return { transitions: t };
    },
  );

  app.get(
    '/v1/closed',
    { ...cfg('readonly'), schema: { summary: 'Fully resolved channels with their resolutions', tags: ['read'], querystring: S.ClosedQuery, response: { 200: S.ClosedReply, ...errors } } },
    async (req) => ({ channels: listClosed(db, req.query.close_type) }),
  );

  app.get('/v1/sweeps', { ...cfg('readonly'), schema: { summary: 'Pending sweeps: budget, deadline, fee rate, why waiting', tags: ['read'], response: { 200: S.SweepsReply, ...errors } } }, async () => ({
    sweeps: (deps.sweeper?.pending() ?? []).map(sweepView),
  }));

  app.get('/v1/wallet/balance', { ...cfg('readonly'), schema: { summary: "courtd's fee wallet balance and anchor reserve", tags: ['read'], response: { 200: S.BalanceReply, ...errors } } }, async () => {
    if (deps.wallet === undefined) throw unavailable('the fee wallet');
    const b = deps.wallet.balance();
    const r = deps.wallet.reserveStatus(anchorChannels(db));
    return {
      confirmed_balance: b.confirmed.toString(),
      unconfirmed_balance: b.unconfirmed.toString(),
      locked_balance: b.leased.toString(),
      total_balance: b.total.toString(),
      reserve_required: r.required.toString(),
      reserve_shortfall: r.shortfall.toString(),
    };
  });

  app.get(
    '/v1/wallet/alerts',
    { ...cfg('readonly'), schema: { summary: "Spends of the fee wallet's coins it did not sign (seed used elsewhere, a key leaked, a stale sweep)", tags: ['read'], querystring: S.AlertsQuery, response: { 200: S.AlertsReply, ...errors } } },
    async (req) => {
      if (deps.wallet?.alerts === undefined) throw unavailable('the fee wallet');
      const after = req.query.after === undefined ? 0 : Number(req.query.after);
      return {
        alerts: deps.wallet.alerts(after).map((a) => ({ id: a.id, kind: a.kind, outpoint: a.outpoint, ...(a.leaseId === undefined ? {} : { lease_id: a.leaseId }), txid: a.txid, height: a.height })),
      };
    },
  );

  app.get(
    '/v1/events',
    {
      ...cfg('readonly'),
      schema: {
        summary: 'Server-sent events (text/event-stream): id = event id; resumes after Last-Event-ID or ?after=, else after the last acknowledged id',
        tags: ['node'],
        querystring: S.EventsQuery,
        response: { 200: { description: 'text/event-stream; each data line is a NodeEvent', content: { 'text/event-stream': { schema: S.NodeEventView } } }, ...errors },
      },
    },
    async (req, reply) => {
      const header = req.headers['last-event-id'];
      let after: number;
      if (typeof header === 'string' && header !== '') {
        if (!/^(0|[1-9][0-9]{0,15})$/.test(header)) throw new CourtError('COURT_E_API_INVALID_REQUEST', 'Last-Event-ID must be an event id', { field: 'Last-Event-ID' });
        after = Number(header);
      } else if (req.query.after !== undefined) after = Number(req.query.after);
      else after = ackedEventId(db);
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
      res.write(': courtd events\n\n');
      deps.events.open(res, after);
    },
  );

  app.get('/healthz', { ...cfg('none'), schema: { summary: 'Liveness and sync (no token needed)', tags: ['read'], response: { 200: S.HealthReply } } }, async () => {
    const c = deps.chainInfo();
    return { synced: c.nodeHeight !== undefined && c.height >= c.nodeHeight, block_height: c.height };
  });

  app.get('/openapi.json', { ...cfg('none'), schema: { hide: true } }, async () => app.swagger());

  // ---------------------------------------------------------------------------------------------------------
  // Admin

  app.post('/v1/wallet/address', { ...cfg('admin'), schema: { summary: 'A new fee wallet address (fund it for anchors and fees)', tags: ['admin'], response: { 200: S.AddressReply, ...errors } } }, async () => {
    if (deps.wallet === undefined) throw unavailable('the fee wallet');
    return { address: deps.wallet.newAddress() };
  });

  app.post(
    '/v1/wallet/rescan',
    {
      ...cfg('admin'),
      schema: { summary: 'Read earlier blocks through the fee wallet (funds sent before courtd first ran, a restored seed)', tags: ['admin'], body: S.RescanBody, response: { 200: S.RescanReply, ...errors } },
    },
    async (req) => {
      if (deps.wallet === undefined || deps.rescanWallet === undefined) throw unavailable('the fee wallet rescan');
      const blocks = await deps.rescanWallet(req.body.from_height, req.body.to_height);
      req.log.info({ fromHeight: req.body.from_height, blocks }, 'api: wallet rescan done');
      return { blocks, confirmed_balance: deps.wallet.balance().confirmed.toString() };
    },
  );

  app.post(
    '/v1/sweeps/bump',
    { ...cfg('admin'), schema: { summary: "Raise a sweep input's budget, deadline or starting fee rate", tags: ['admin'], body: S.SweepBumpBody, response: { 200: S.BumpReply, ...errors } } },
    async (req) => {
      if (deps.sweeper === undefined) throw unavailable('the sweeper');
      const op = normalise(req.body.outpoint);
      deps.sweeper.bump(op, bumpRequest(req.body));
      req.log.info({ outpoint: op }, 'api: sweep bumped');
      return { bumped: [op] };
    },
  );

  app.post(
    '/v1/channels/:chanPoint/bump',
    {
      ...cfg('admin'),
      schema: { summary: "Bump every pending sweep of a channel's close (anchor CPFP, commitment outputs)", tags: ['admin'], params: S.ChanPointParams, body: S.ChannelBumpBody, response: { 200: S.BumpReply, ...errors } },
    },
    async (req) => {
      if (deps.sweeper === undefined) throw unavailable('the sweeper');
      const cp = normalise(req.params.chanPoint);
      const live = deps.sweeper.pending({ chanPoint: cp }).filter((v) => v.state === 'pending' || v.state === 'published');
      if (live.length === 0) throw new CourtError('COURT_E_SWEEP_UNKNOWN_INPUT', `no pending sweep for channel ${cp}`);
      const r = bumpRequest(req.body);
      for (const v of live) deps.sweeper.bump(v.outpoint, r);
      return { bumped: live.map((v) => v.outpoint) };
    },
  );

  app.post('/v1/events/ack', { ...cfg('admin'), schema: { summary: 'Acknowledge every event up to an id', tags: ['node'], body: S.AckBody, response: { 200: S.AckReply, ...errors } } }, async (req) =>
    ackEvents(db, req.body.id),
  );

  app.post(
    '/v1/tokens/rotate',
    { ...cfg('admin'), schema: { summary: 'Replace a token file with a new random token (the old one stops working at once)', tags: ['admin'], body: S.RotateBody, response: { 200: S.RotateReply, ...errors } } },
    async (req) => {
      if (deps.rotateToken === undefined) throw unavailable('token rotation');
      return { scope: req.body.scope, path: deps.rotateToken(req.body.scope) };
    },
  );

  await app.ready();
  return app;
}
