/**
 * Prometheus metrics on their own listener, off by default (`metrics.listen`), as lnd does. A private prom-client
 * Registry (nothing global). Gauges are computed at scrape time from the briefcase and the chain layer; no label
 * names a channel (cardinality stays bounded whatever the channel count).
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { Counter, Gauge, Registry } from 'prom-client';
import type { Db } from '../store/db.js';
import { channelCounts, STATE_NAME, totalLimbo, type ResolverOutputSource } from './views.js';

/** What the gauges read. */
export interface MetricsSource {
  readonly db: Db;
  /** Last block processed and the node's tip (undefined while unknown). */
  heights(): { readonly height: number; readonly nodeHeight?: number };
  /** Pending sweep inputs (pending or published). */
  pendingSweeps(): number;
  /** The resolver runner's view of outputs (limbo), when one runs. */
  readonly resolverView?: ResolverOutputSource;
}

/** courtd's metrics. */
export class Metrics {
  readonly registry = new Registry();
  /** bitcoind RPC calls that failed (after retries). */
  readonly rpcErrors: Counter;
  /** HTTP API requests refused or failed, by status class. */
  readonly apiErrors: Counter<'status'>;

  constructor(src: MetricsSource) {
    const r = this.registry;
    new Gauge({
      name: 'courtd_channels',
      help: 'Channels by arbitrator state',
      labelNames: ['state'],
      registers: [r],
      collect() {
        const counts = channelCounts(src.db);
        for (const [code, name] of STATE_NAME) this.set({ state: name }, counts.get(code) ?? 0);
      },
    });
    new Gauge({
      name: 'courtd_limbo_sat',
      help: 'Sats of ours on chain not yet swept, over every unresolved channel',
      registers: [r],
      collect() {
        this.set(Number(totalLimbo(src.db, src.heights().height, src.resolverView)));
      },
    });
    new Gauge({
      name: 'courtd_pending_sweeps',
      help: 'Sweep inputs pending or published',
      registers: [r],
      collect() {
        this.set(src.pendingSweeps());
      },
    });
    new Gauge({
      name: 'courtd_sweep_fees_paid_sat',
      help: 'Fees of confirmed sweep transactions',
      registers: [r],
      collect() {
        const row = src.db.prepare<[], { fees: number | null }>('SELECT SUM(fee_sat) AS fees FROM sweep_tx WHERE status IN (2, 3)').get();
        this.set(row?.fees ?? 0);
      },
    });
    new Gauge({
      name: 'courtd_blocks_behind',
      help: "Blocks between the node's tip and the last block courtd processed",
      registers: [r],
      collect() {
        const h = src.heights();
        this.set(h.nodeHeight === undefined ? 0 : Math.max(0, h.nodeHeight - h.height));
      },
    });
    new Gauge({
      name: 'courtd_block_height',
      help: 'Last block courtd processed',
      registers: [r],
      collect() {
        this.set(src.heights().height);
      },
    });
    this.rpcErrors = new Counter({ name: 'courtd_rpc_errors_total', help: 'bitcoind RPC calls that failed after their retries (unreachable, credentials refused, bad reply)', registers: [r] });
    this.apiErrors = new Counter({ name: 'courtd_api_errors_total', help: 'API requests answered with an error, by status class', labelNames: ['status'], registers: [r] });
  }

  /** The metrics listener (GET /metrics only). */
  server(): FastifyInstance {
    const app = Fastify({ logger: false });
    app.get('/metrics', async (_req, reply) => {
      const text = await this.registry.metrics();
      return reply.type(this.registry.contentType).send(text);
    });
    return app;
  }
}
