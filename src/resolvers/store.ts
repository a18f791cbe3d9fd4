/**
 * The resolvers' briefcase: resolver rows (migrations/0002 `resolver`), their reports (`resolution_report`) and
 * the node events they owe (`node_event`, made exactly-once by `resolver_node_key`, migrations/0010).
 *
 * `commitStep` is the one write of a resolver step: the new value (resolved or not), the successors that replace
 * it (each a new row naming the one it replaces, the old row marked resolved first so the (channel, outpoint)
 * uniqueness of unresolved rows holds), the reports and node events, the preimages learned, in ONE SQLite
 * transaction. A row a reorg superseded meanwhile (the arbitrator's rollback) is never written: the step throws
 * ResolverSuperseded and the runner drops the resolver.
 */
import { NODE_EVENT_KIND, PREIMAGE_SOURCE, REPORT_OUTCOME, REPORT_TYPE } from '../store/codes.js';
import type { Db } from '../store/db.js';
import { sha256, fromHex, toHex } from '../util/bytes.js';
import { KIND_CODE } from './registry.js';
import type { Format, ReportRow, ResolverBase, ResolverEffect } from './types.js';

/** A stored resolver row. */
export interface StoredResolver {
  readonly id: number;
  readonly chanPoint: string;
  readonly outpoint: string;
  readonly kind: number;
  readonly version: number;
  readonly state: Record<string, unknown> & { readonly v: number };
  readonly resolved: boolean;
  /** Another row replaced this one (a successor). */
  readonly replaced: boolean;
}

/** Thrown when a step targets a row a reorg superseded. */
export class ResolverSuperseded extends Error {
  constructor(readonly id: number) {
    super(`resolver ${id} was superseded`);
  }
}

interface Row {
  id: number;
  chan_point: string;
  outpoint: string;
  kind: number;
  version: number;
  state: string;
  resolved: number;
  replaced: number;
}

const COLUMNS = `r.id, r.chan_point, r.outpoint, r.kind, r.version, r.state, r.resolved,
  EXISTS (SELECT 1 FROM resolver AS s WHERE s.replaces_id = r.id) AS replaced`;

function decode(r: Row): StoredResolver {
  return {
    id: r.id,
    chanPoint: r.chan_point,
    outpoint: r.outpoint,
    kind: r.kind,
    version: r.version,
    state: JSON.parse(r.state),
    resolved: r.resolved === 1,
    replaced: r.replaced === 1,
  };
}

/**
 * The channel's resolver rows a reorg has not superseded, in id order: the unresolved ones (through the partial
 * index on unresolved rows) and the finished ones, found through their final reports (resolution_report is
 * indexed by channel, and every finish writes a report in its own transaction). Replaced rows (a contest that
 * handed over to its successor) are not returned. Never a scan of the whole resolver table: a launch costs the
 * same with 10 or 10,000 closed channels.
 */
export function channelResolvers(db: Db, chanPoint: string): StoredResolver[] {
  const live = db
    .prepare<[string], Row>(`SELECT ${COLUMNS} FROM resolver AS r WHERE r.chan_point = ? AND r.resolved = 0 AND r.superseded_height IS NULL`)
    .all(chanPoint);
  const finished = db
    .prepare<[string], Row>(
      `SELECT ${COLUMNS} FROM resolver AS r WHERE r.id IN (SELECT resolver_id FROM resolution_report WHERE chan_point = ? AND resolver_id IS NOT NULL)
         AND r.resolved = 1 AND r.superseded_height IS NULL`,
    )
    .all(chanPoint)
    .filter((r) => r.replaced === 0);
  return [...live, ...finished].sort((a, b) => a.id - b.id).map(decode);
}

/** Every channel's rows that are neither superseded nor replaced (the live view). */
export function viewRows(db: Db, chanPoint?: string): StoredResolver[] {
  const where = chanPoint === undefined ? '' : 'AND r.chan_point = ?';
  const stmt = db.prepare<unknown[], Row>(
    `SELECT ${COLUMNS} FROM resolver AS r WHERE r.superseded_height IS NULL ${where}
       AND NOT EXISTS (SELECT 1 FROM resolver AS s WHERE s.replaces_id = r.id) ORDER BY r.chan_point, r.id`,
  );
  return (chanPoint === undefined ? stmt.all() : stmt.all(chanPoint)).map(decode);
}

/** Ids among `ids` whose rows a reorg superseded. */
export function supersededAmong(db: Db, ids: readonly number[]): number[] {
  if (ids.length === 0) return [];
  const stmt = db.prepare<[number], { id: number }>('SELECT id FROM resolver WHERE id = ? AND superseded_height IS NOT NULL');
  return ids.filter((id) => stmt.get(id) !== undefined);
}

/** The channel's commitment format. */
export function channelFormat(db: Db, chanPoint: string): Format {
  const row = db.prepare<[string], { t: number }>('SELECT commitment_type AS t FROM channel WHERE chan_point = ?').get(chanPoint);
  return row?.t === 1 ? 'anchors' : 'static_remotekey';
}

/** The preimage (hex) of `paymentHash`, if courtd holds it. */
export function preimageOf(db: Db, paymentHash: string): string | undefined {
  return db.prepare<[string], { preimage: string }>('SELECT preimage FROM preimage WHERE payment_hash = ?').get(paymentHash)?.preimage;
}

/** True if `txid` is a sweep the sweeper recorded (ours). */
export function isOurSweep(db: Db, txid: string): boolean {
  return db.prepare<[string], { one: number }>('SELECT 1 AS one FROM sweep_tx WHERE txid = ?').get(txid) !== undefined;
}

const TYPE_CODE: Readonly<Record<ReportRow['type'], number>> = {
  anchor: REPORT_TYPE.Anchor,
  incomingHtlc: REPORT_TYPE.IncomingHtlc,
  outgoingHtlc: REPORT_TYPE.OutgoingHtlc,
  commit: REPORT_TYPE.Commit,
  breach: REPORT_TYPE.Breach,
};
const OUTCOME_CODE: Readonly<Record<ReportRow['outcome'], number>> = {
  claimed: REPORT_OUTCOME.Claimed,
  unclaimed: REPORT_OUTCOME.Unclaimed,
  abandoned: REPORT_OUTCOME.Abandoned,
  timeout: REPORT_OUTCOME.Timeout,
  firstStage: REPORT_OUTCOME.FirstStage,
};
const TYPE_NAME = new Map(Object.entries(TYPE_CODE).map(([k, v]) => [v, k as ReportRow['type']]));
const OUTCOME_NAME = new Map(Object.entries(OUTCOME_CODE).map(([k, v]) => [v, k as ReportRow['outcome']]));

const NODE_CODE = {
  htlcSettledOnChain: NODE_EVENT_KIND.HtlcSettledOnChain,
  htlcFailedOnChain: NODE_EVENT_KIND.HtlcFailedOnChain,
  justiceConfirmed: NODE_EVENT_KIND.JusticeConfirmed,
} as const;

/** What one step writes. */
export interface StepWrite {
  readonly id: number;
  readonly chanPoint: string;
  readonly value: ResolverBase;
  readonly resolved: boolean;
  /** Successors, in order: each replaces the previous row (the first replaces `id`). The last may be unresolved. */
  readonly successors: readonly { readonly value: ResolverBase; readonly resolved: boolean }[];
  /** In-transaction effects of every step involved. */
  readonly effects: readonly ResolverEffect[];
  readonly height: number;
  /** Fee reported by the sweeper, by outpoint (written with the report of that outpoint). */
  readonly fees?: ReadonlyMap<string, string>;
}

/** Prepared statements of commitStep (prepared once per database). */
class Statements {
  readonly update;
  readonly resolve;
  readonly insert;
  readonly report;
  readonly hasKey;
  readonly hasPreimage;
  readonly nodeEvent;
  readonly key;
  readonly preimage;
  constructor(db: Db) {
    this.update = db.prepare<[string, number, number]>(
      `UPDATE resolver SET state = ?, resolved = ?, version = version + 1, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
       WHERE id = ? AND superseded_height IS NULL`,
    );
    this.resolve = this.update;
    this.insert = db.prepare<[string, string, number, string, number, number]>(
      'INSERT INTO resolver (chan_point, outpoint, kind, version, state, resolved, replaces_id) VALUES (?, ?, ?, 1, ?, ?, ?)',
    );
    this.report = db.prepare<[string, number, string, number, number, number, string, string | null, number | null, string | null]>(
      `INSERT INTO resolution_report (chan_point, resolver_id, outpoint, stage, report_type, outcome, amount_sat, spend_txid, height, fee_sat)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (chan_point, outpoint, stage) DO UPDATE SET resolver_id = excluded.resolver_id, report_type = excluded.report_type,
         outcome = excluded.outcome, amount_sat = excluded.amount_sat, spend_txid = excluded.spend_txid, height = excluded.height,
         fee_sat = COALESCE(excluded.fee_sat, resolution_report.fee_sat)`,
    );
    this.hasKey = db.prepare<[string], { one: number }>('SELECT 1 AS one FROM resolver_node_key WHERE key = ?');
    this.hasPreimage = db.prepare<[string], { one: number }>('SELECT 1 AS one FROM preimage WHERE payment_hash = ?');
    this.nodeEvent = db.prepare<[string, number, string, number]>('INSERT INTO node_event (chan_point, kind, payload, created_height) VALUES (?, ?, ?, ?)');
    this.key = db.prepare<[string, number]>('INSERT INTO resolver_node_key (key, node_event_id) VALUES (?, ?)');
    this.preimage = db.prepare<[string, string, number, number]>(
      'INSERT INTO preimage (payment_hash, preimage, source, learned_height) VALUES (?, ?, ?, ?) ON CONFLICT (payment_hash) DO NOTHING',
    );
  }
}

const statements = new WeakMap<Db, Statements>();

function stmts(db: Db): Statements {
  let s = statements.get(db);
  if (s === undefined) {
    s = new Statements(db);
    statements.set(db, s);
  }
  return s;
}

/**
 * Writes one step (see the module comment) in one transaction and returns the ids of the successor rows. Throws
 * ResolverSuperseded (nothing written) if row `id` was superseded by a reorg.
 */
export function commitStep(db: Db, w: StepWrite): number[] {
  const s = stmts(db);
  return db
    .transaction(() => {
      const changed = s.update.run(JSON.stringify(w.value), w.resolved || w.successors.length > 0 ? 1 : 0, w.id).changes;
      if (changed === 0) throw new ResolverSuperseded(w.id);
      const ids: number[] = [];
      let prev = w.id;
      let reportOwner = w.id;
      for (const succ of w.successors) {
        const id = Number(s.insert.run(w.chanPoint, succ.value.outpoint, KIND_CODE[succ.value.kind], JSON.stringify(succ.value), succ.resolved ? 1 : 0, prev).lastInsertRowid);
        ids.push(id);
        prev = id;
        reportOwner = id;
      }
      for (const e of w.effects) {
        if (e.kind === 'Report') {
          const r = e.report;
          s.report.run(
            w.chanPoint,
            reportOwner,
            r.outpoint,
            r.stage,
            TYPE_CODE[r.type],
            OUTCOME_CODE[r.outcome],
            r.amountSat,
            r.txid ?? null,
            r.height ?? null,
            w.fees?.get(r.outpoint) ?? null,
          );
        } else if (e.kind === 'NotifyNode') {
          if (s.hasKey.get(e.key) !== undefined) continue;
          // Never tell the node to fail an HTLC it was told (or told us) is settled: a preimage the peer showed in the
          // mempool (its claim then evicted, our timeout confirmed), or one the node sent. Settled wins.
          if (e.event === 'htlcFailedOnChain' && e.key.startsWith('failed:')) {
            const settledKey = `settled:${e.key.slice('failed:'.length)}`;
            const hash = (e.payload as { readonly paymentHash?: unknown }).paymentHash;
            if (s.hasKey.get(settledKey) !== undefined || (typeof hash === 'string' && s.hasPreimage.get(hash) !== undefined)) continue;
          }
          const id = Number(s.nodeEvent.run(w.chanPoint, NODE_CODE[e.event], JSON.stringify(e.payload), w.height).lastInsertRowid);
          s.key.run(e.key, id);
        } else if (e.kind === 'LearnedPreimage') {
          const hash = toHex(sha256(fromHex(e.preimage)));
          s.preimage.run(hash, e.preimage, e.source === 'chain' ? PREIMAGE_SOURCE.Chain : PREIMAGE_SOURCE.Mempool, w.height);
        }
      }
      return ids;
    })
    .immediate();
}

/** A persisted report as read back. */
export interface ReportView {
  readonly chanPoint: string;
  readonly outpoint: string;
  readonly stage: 1 | 2;
  readonly type: ReportRow['type'];
  readonly outcome: ReportRow['outcome'];
  readonly amountSat: bigint;
  readonly txid?: string;
  readonly height?: number;
  readonly feeSat?: bigint;
}

/** The resolution reports of one channel (or of all), by channel and id. */
export function reports(db: Db, chanPoint?: string): ReportView[] {
  const where = chanPoint === undefined ? '' : 'WHERE chan_point = ?';
  const stmt = db.prepare<unknown[], { chan_point: string; outpoint: string; stage: number; report_type: number; outcome: number; amount_sat: string; spend_txid: string | null; height: number | null; fee_sat: string | null }>(
    `SELECT chan_point, outpoint, stage, report_type, outcome, amount_sat, spend_txid, height, fee_sat FROM resolution_report ${where} ORDER BY chan_point, id`,
  );
  return (chanPoint === undefined ? stmt.all() : stmt.all(chanPoint)).map((r) => ({
    chanPoint: r.chan_point,
    outpoint: r.outpoint,
    stage: r.stage as 1 | 2,
    type: TYPE_NAME.get(r.report_type) ?? 'commit',
    outcome: OUTCOME_NAME.get(r.outcome) ?? 'claimed',
    amountSat: BigInt(r.amount_sat),
    ...(r.spend_txid === null ? {} : { txid: r.spend_txid }),
    ...(r.height === null ? {} : { height: r.height }),
    ...(r.fee_sat === null ? {} : { feeSat: BigInt(r.fee_sat) }),
  }));
}

/** Totals of a channel's final reports (what channelResolved carries), as decimal strings. */
export function reportTotals(
  db: Db,
  chanPoint: string,
): { claimedSat: string; timedOutSat: string; settledByPeerSat: string; lostSat: string; abandonedSat: string; outputs: number } {
  let settled = 0n;
  let claimed = 0n;
  let timedOut = 0n;
  let lost = 0n;
  let abandoned = 0n;
  let outputs = 0;
  for (const r of reports(db, chanPoint)) {
    if (r.outcome === 'firstStage') continue;
    outputs++;
    if (r.outcome === 'claimed' && r.type === 'outgoingHtlc') settled += r.amountSat;
    else if (r.outcome === 'claimed') claimed += r.amountSat;
    else if (r.outcome === 'timeout') timedOut += r.amountSat;
    else if (r.outcome === 'unclaimed') lost += r.amountSat;
    else abandoned += r.amountSat;
  }
  return { claimedSat: claimed.toString(), settledByPeerSat: settled.toString(), timedOutSat: timedOut.toString(), lostSat: lost.toString(), abandonedSat: abandoned.toString(), outputs };
}
