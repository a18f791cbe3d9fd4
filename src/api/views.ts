/**
 * Read models of the API: plain reads of the briefcase shaped as the wire types of schemas.ts. Each function runs
 * its reads in one read transaction (WAL: a consistent view while the daemon writes). Nothing here writes.
 *
 * `channelOutputs` is where a channel's outputs (stage, limbo, maturity) come from: today the arbitrator's
 * resolver rows, resolution reports and, before resolvers exist, the close's resolutions. The resolver runner
 * (src/resolvers) extends it with its own view (see the TODO there).
 */
import type { CloseResolutions, OutputResolution } from '../arbitrator/types.js';
import { ARBITRATOR_EVENT, ARBITRATOR_STATE, CLOSE_TYPE, REPORT_OUTCOME, REPORT_TYPE, RESOLVER_KIND } from '../store/codes.js';
import type { Db } from '../store/db.js';
import type { OutputState } from '../resolvers/types.js';
import type { ChannelViewT, ClosedChannelT, CloseTypeNameT, OutputViewT } from './schemas.js';

const nameOf = (table: Readonly<Record<string, number>>): ReadonlyMap<number, string> => new Map(Object.entries(table).map(([k, v]) => [v, k]));

export const STATE_NAME = nameOf(ARBITRATOR_STATE);
export const EVENT_NAME = nameOf(ARBITRATOR_EVENT);
const RESOLVER_NAME = new Map<number, string>([
  [RESOLVER_KIND.HtlcTimeout, 'htlcTimeout'],
  [RESOLVER_KIND.HtlcSuccess, 'htlcSuccess'],
  [RESOLVER_KIND.HtlcOutgoingContest, 'htlcOutgoingContest'],
  [RESOLVER_KIND.HtlcIncomingContest, 'htlcIncomingContest'],
  [RESOLVER_KIND.CommitSweep, 'commitSweep'],
  [RESOLVER_KIND.Breach, 'breach'],
  [RESOLVER_KIND.Anchor, 'anchor'],
]);

/** lncli's ClosureType names for our close types (codes: CLOSE_TYPE). */
export const CLOSE_TYPE_NAME: ReadonlyMap<number, CloseTypeNameT> = new Map([
  [CLOSE_TYPE.Coop, 'COOPERATIVE_CLOSE'],
  [CLOSE_TYPE.Local, 'LOCAL_FORCE_CLOSE'],
  [CLOSE_TYPE.Remote, 'REMOTE_FORCE_CLOSE'],
  [CLOSE_TYPE.RemotePending, 'REMOTE_FORCE_CLOSE'],
  [CLOSE_TYPE.Breach, 'BREACH_CLOSE'],
  [CLOSE_TYPE.Accepted, 'ABANDONED'],
]);

const REPORT_TYPE_NAME = new Map<number, string>([
  [REPORT_TYPE.Anchor, 'ANCHOR'],
  [REPORT_TYPE.IncomingHtlc, 'INCOMING_HTLC'],
  [REPORT_TYPE.OutgoingHtlc, 'OUTGOING_HTLC'],
  [REPORT_TYPE.Commit, 'COMMIT'],
  [REPORT_TYPE.Breach, 'BREACH'],
]);

const OUTCOME_NAME = new Map<number, string>([
  [REPORT_OUTCOME.Claimed, 'CLAIMED'],
  [REPORT_OUTCOME.Unclaimed, 'UNCLAIMED'],
  [REPORT_OUTCOME.Abandoned, 'ABANDONED'],
  [REPORT_OUTCOME.Timeout, 'TIMEOUT'],
  [REPORT_OUTCOME.FirstStage, 'FIRST_STAGE'],
]);

interface ArbRow {
  chan_point: string;
  state: number;
  close_type: number | null;
  close_height: number | null;
  reason: string | null;
  detail: string;
  capacity_sat: string;
  commitment_type: number;
}

const ARB_SELECT = `SELECT a.chan_point, a.state, a.close_type, a.close_height, a.reason, a.detail, c.capacity_sat, c.commitment_type
  FROM arbitrator_state a JOIN channel c ON c.chan_point = a.chan_point`;

interface ReportRow {
  outpoint: string;
  stage: number;
  report_type: number;
  outcome: number;
  amount_sat: string;
  spend_txid: string | null;
}

function reports(db: Db, chanPoint: string): ReportRow[] {
  return db
    .prepare<[string], ReportRow>('SELECT outpoint, stage, report_type, outcome, amount_sat, spend_txid FROM resolution_report WHERE chan_point = ? ORDER BY id')
    .all(chanPoint);
}

/** Money we got back from a report: claimed, or our outgoing HTLC timed out back to us (FIRST_STAGE is not money yet). */
const recovers = (r: ReportRow): boolean => r.outcome === REPORT_OUTCOME.Claimed || r.outcome === REPORT_OUTCOME.Timeout;

/** Reads one output's maturity from its resolver state (the resolver's own field first, then the arbitrator's record). */
function maturityOf(kind: string, state: Record<string, unknown>): number | undefined {
  const own = state['maturityHeight'];
  if (typeof own === 'number') return own;
  const output = state['output'] as (OutputResolution & { htlc?: { cltvExpiry: number; direction: string } }) | undefined;
  const closeHeight = state['closeHeight'];
  if (output === undefined || typeof closeHeight !== 'number') return undefined;
  if (kind === 'commitSweep' || kind === 'anchor') return output.csvDelay > 0 ? closeHeight + output.csvDelay : closeHeight + 1;
  if (kind === 'htlcTimeout' || kind === 'htlcOutgoingContest') return output.htlc?.cltvExpiry;
  return undefined;
}

function amountOf(kind: string, state: Record<string, unknown>): bigint {
  const output = state['output'] as Record<string, unknown> | undefined;
  if (output === undefined) return 0n;
  if (kind === 'breach') {
    const outs = output['outputs'] as Array<{ amountSat: string }> | undefined;
    return (outs ?? []).reduce((a, o) => a + BigInt(o.amountSat), 0n);
  }
  return typeof output['amountSat'] === 'string' ? BigInt(output['amountSat']) : 0n;
}

/** The outputs of a close before its resolver rows exist (ContractClosed): from the close's resolutions. */
function resolutionOutputs(res: CloseResolutions, closeHeight: number): Array<{ outpoint: string; kind: string; amount: bigint; maturity?: number }> {
  const out: Array<{ outpoint: string; kind: string; amount: bigint; maturity?: number }> = [];
  if (res.commitOutput !== undefined) out.push({ outpoint: res.commitOutput.outpoint, kind: 'commitSweep', amount: BigInt(res.commitOutput.amountSat), maturity: closeHeight + Math.max(1, res.commitOutput.csvDelay) });
  if (res.anchor !== undefined) out.push({ outpoint: res.anchor.outpoint, kind: 'anchor', amount: BigInt(res.anchor.amountSat) });
  for (const h of res.htlcs) {
    const kind = h.htlc.direction === 'outgoing' ? 'htlcOutgoingContest' : 'htlcIncomingContest';
    out.push({ outpoint: h.outpoint, kind, amount: BigInt(h.amountSat), ...(h.htlc.direction === 'outgoing' ? { maturity: h.htlc.cltvExpiry } : {}) });
  }
  if (res.breach !== undefined) out.push({ outpoint: `${res.txid}:breach`, kind: 'breach', amount: res.breach.outputs.reduce((a, o) => a + BigInt(o.amountSat), 0n) });
  return out;
}

/**
 * One output as the resolver runner reports it (src/resolvers' OutputView extends it). When the daemon passes a
 * source of these, channelOutputs shows them instead of its own reading of the arbitrator's rows.
 */
export type ResolverOutputView = OutputState;

/** The resolver runner's live view of a channel's outputs. */
export type ResolverOutputSource = (chanPoint: string) => readonly ResolverOutputView[];

/** Inputs of channelOutputs: the arbitrator row and the current height. */
export interface ChannelOutputsInput {
  readonly db: Db;
  readonly chanPoint: string;
  /** The arbitrator's decoded state (arbitrator_state.detail). */
  readonly state: Record<string, unknown>;
  readonly closeHeight: number | null;
  readonly height: number;
  /** The resolver runner's view, when one runs (src/daemon/money.ts). */
  readonly resolverView?: ResolverOutputSource;
}

/**
 * One channel's outputs: per resolver row (live ones; a reorg's superseded rows are left out) its kind, stage,
 * amount, what is still in limbo and what was recovered (resolution reports), maturity and blocks until it.
 * Before resolver rows exist (ContractClosed), the close's resolutions in stage "pending".
 *
 * With the resolver runner's view (`resolverView`, wired in src/daemon/money.ts), its outputs are shown as it
 * reports them (stage, limbo, recovered, maturity, why waiting).
 */
export function channelOutputs(i: ChannelOutputsInput): OutputViewT[] {
  const live = i.resolverView?.(i.chanPoint) ?? [];
  if (live.length > 0) {
    return live.map((o) => ({
      outpoint: o.outpoint,
      resolver: o.kind,
      stage: o.stage,
      amount_sat: o.amountSat.toString(),
      limbo_sat: o.limboSat.toString(),
      recovered_sat: o.recoveredSat.toString(),
      ...(o.maturityHeight === undefined ? {} : { maturity_height: o.maturityHeight, blocks_til_maturity: o.blocksTilMaturity ?? Math.max(0, o.maturityHeight - i.height) }),
      resolved: o.limboSat === 0n,
      ...(o.reason === undefined ? {} : { reason: o.reason.slice(0, 300) }),
    }));
  }
  const reps = reports(i.db, i.chanPoint);
  const recovered = new Map<string, bigint>();
  for (const r of reps) if (recovers(r)) recovered.set(r.outpoint, (recovered.get(r.outpoint) ?? 0n) + BigInt(r.amount_sat));
  const rows = i.db
    .prepare<[string], { outpoint: string; kind: number; state: string; resolved: number }>(
      'SELECT outpoint, kind, state, resolved FROM resolver WHERE chan_point = ? AND superseded_height IS NULL ORDER BY id',
    )
    .all(i.chanPoint);
  const view = (outpoint: string, kind: string, stage: string, amount: bigint, resolved: boolean, maturity: number | undefined): OutputViewT => {
    const rec = recovered.get(outpoint) ?? 0n;
    const limbo = resolved ? 0n : amount > rec ? amount - rec : 0n;
    return {
      outpoint,
      resolver: kind,
      stage,
      amount_sat: amount.toString(),
      limbo_sat: limbo.toString(),
      recovered_sat: rec.toString(),
      ...(maturity === undefined ? {} : { maturity_height: maturity, blocks_til_maturity: Math.max(0, maturity - i.height) }),
      resolved,
    };
  };
  if (rows.length > 0) {
    // A successor (contest -> timeout/success) replaces its predecessor on the same outpoint: the newest row wins.
    const byOutpoint = new Map<string, (typeof rows)[number]>();
    for (const r of rows) byOutpoint.set(r.outpoint, r);
    return [...byOutpoint.values()].map((r) => {
      const kind = RESOLVER_NAME.get(r.kind) ?? `kind${r.kind}`;
      const state = JSON.parse(r.state) as Record<string, unknown>;
      const stage = r.resolved === 1 ? 'resolved' : typeof state['stage'] === 'string' ? (state['stage'] as string) : 'launched';
      return view(r.outpoint, kind, stage, amountOf(kind, state), r.resolved === 1, maturityOf(kind, state));
    });
  }
  const res = i.state['resolutions'] as CloseResolutions | undefined;
  if (i.state['kind'] === 'ContractClosed' && res !== undefined && i.closeHeight !== null) {
    return resolutionOutputs(res, i.closeHeight).map((o) => view(o.outpoint, o.kind, 'pending', o.amount, false, o.maturity));
  }
  return [];
}

/** Our balance (sat, HTLCs not counted) on the local commitment of the snapshot in force. */
function ourCommitmentBalance(db: Db, chanPoint: string): string {
  const row = db.prepare<[string], { msat: string | null }>("SELECT json_extract(snapshot, '$.localCommitment.toLocalMsat') AS msat FROM channel_snapshot_current WHERE chan_point = ?").get(chanPoint);
  return row?.msat === null || row?.msat === undefined ? '0' : (BigInt(row.msat) / 1000n).toString();
}

function channelView(db: Db, r: ArbRow, height: number, resolverView?: ResolverOutputSource): ChannelViewT {
  const state = JSON.parse(r.detail) as Record<string, unknown>;
  const outputs = channelOutputs({ db, chanPoint: r.chan_point, state, closeHeight: r.close_height, height, ...(resolverView === undefined ? {} : { resolverView }) });
  const sum = (f: (o: OutputViewT) => string): string => outputs.reduce((a, o) => a + BigInt(f(o)), 0n).toString();
  // Going on chain, the commitment not confirmed yet: our balance on it is in limbo (lncli's waiting-close view).
  const goingOnChain = r.state === ARBITRATOR_STATE.BroadcastCommit || r.state === ARBITRATOR_STATE.CommitmentBroadcasted;
  const limbo = goingOnChain && outputs.length === 0 ? ourCommitmentBalance(db, r.chan_point) : sum((o) => o.limbo_sat);
  // The confirmed close, else a spend waiting for its depth, else the commitment we published.
  const commitTxid = typeof state['commitTxid'] === 'string' ? { txid: state['commitTxid'] } : undefined;
  const close = (state['close'] ?? state['spend'] ?? commitTxid) as { txid?: string } | undefined;
  const closeType = r.close_type === null ? undefined : CLOSE_TYPE_NAME.get(r.close_type);
  return {
    chan_point: r.chan_point,
    state: STATE_NAME.get(r.state) ?? `state${r.state}`,
    ...(closeType === undefined ? {} : { close_type: closeType }),
    capacity_sat: r.capacity_sat,
    commitment_type: r.commitment_type === 1 ? 'anchors' : 'static_remotekey',
    ...(close?.txid === undefined ? {} : { closing_txid: close.txid }),
    ...(r.close_height === null ? {} : { close_height: r.close_height }),
    limbo_balance: limbo,
    recovered_balance: sum((o) => o.recovered_sat),
    ...(r.reason === null ? {} : { reason: r.reason.slice(0, 500) }),
    outputs,
  };
}

/** Every channel (not FullyResolved unless `all`), in channel-point order. */
export function listChannels(db: Db, height: number, all = false, resolverView?: ResolverOutputSource): ChannelViewT[] {
  return db.transaction(() => {
    // Unresolved ones through the partial index arbitrator_state_unresolved (state <> 4, a literal so SQLite uses it):
    // resolved channels pile up forever and are not read unless asked for.
    const where = all ? '' : ` WHERE a.state <> ${ARBITRATOR_STATE.FullyResolved}`;
    const rows = db.prepare<[], ArbRow>(`${ARB_SELECT}${where} ORDER BY a.chan_point`).all();
    return rows.map((r) => channelView(db, r, height, resolverView));
  })();
}

/** One channel, or undefined if courtd holds no arbitrator for it. */
export function getChannel(db: Db, chanPoint: string, height: number, resolverView?: ResolverOutputSource): ChannelViewT | undefined {
  return db.transaction(() => {
    const r = db.prepare<[string], ArbRow>(`${ARB_SELECT} WHERE a.chan_point = ?`).get(chanPoint);
    return r === undefined ? undefined : channelView(db, r, height, resolverView);
  })();
}

/** Fully resolved channels with their resolution reports, optionally of one close type. */
export function listClosed(db: Db, closeType?: CloseTypeNameT): ClosedChannelT[] {
  return db.transaction(() => {
    const rows = db.prepare<[number], ArbRow>(`${ARB_SELECT} WHERE a.state = ? ORDER BY a.close_height, a.chan_point`).all(ARBITRATOR_STATE.FullyResolved);
    const out: ClosedChannelT[] = [];
    for (const r of rows) {
      const ct = r.close_type === null ? undefined : CLOSE_TYPE_NAME.get(r.close_type);
      if (ct === undefined || (closeType !== undefined && ct !== closeType)) continue;
      const state = JSON.parse(r.detail) as { close?: { txid?: string; height?: number } };
      const reps = reports(db, r.chan_point);
      out.push({
        chan_point: r.chan_point,
        close_type: ct,
        closing_txid: state.close?.txid ?? '',
        close_height: r.close_height ?? state.close?.height ?? 0,
        settled_balance: reps.filter(recovers).reduce((a, x) => a + BigInt(x.amount_sat), 0n).toString(),
        resolutions: reps.map((x) => ({
          outpoint: x.outpoint,
          resolution_type: REPORT_TYPE_NAME.get(x.report_type) ?? 'TYPE_UNKNOWN',
          outcome: OUTCOME_NAME.get(x.outcome) ?? 'UNKNOWN',
          amount_sat: x.amount_sat,
          ...(x.spend_txid === null ? {} : { sweep_txid: x.spend_txid }),
        })),
      });
    }
    return out;
  })();
}

/** A channel's transition history (the arbitrator's transition log), or undefined for an unknown channel. */
export function channelHistory(db: Db, chanPoint: string): Array<{ seq: number; from: string; event: string; to: string; height: number }> | undefined {
  return db.transaction(() => {
    const known = db.prepare<[string], { n: number }>('SELECT 1 AS n FROM channel WHERE chan_point = ?').get(chanPoint);
    if (known === undefined) return undefined;
    return db
      .prepare<[string], { seq: number; from_state: number; event_kind: number; to_state: number; height: number }>(
        'SELECT seq, from_state, event_kind, to_state, height FROM transition_log WHERE machine_id = ? ORDER BY seq',
      )
      .all(chanPoint)
      .map((t) => ({
        seq: t.seq,
        from: STATE_NAME.get(t.from_state) ?? String(t.from_state),
        event: EVENT_NAME.get(t.event_kind) ?? String(t.event_kind),
        to: STATE_NAME.get(t.to_state) ?? String(t.to_state),
        height: t.height,
      }));
  })();
}

/** Channel counts for /v1/info and the metrics: by state code. */
export function channelCounts(db: Db): Map<number, number> {
  const m = new Map<number, number>();
  for (const r of db.prepare<[], { state: number; n: number }>('SELECT state, COUNT(*) AS n FROM arbitrator_state GROUP BY state').all()) m.set(r.state, r.n);
  return m;
}

/** Anchor channels not yet resolved (the wallet's reserve is per anchor channel). */
export function anchorChannels(db: Db): number {
  const r = db
    .prepare<[number, number], { n: number }>(
      'SELECT COUNT(*) AS n FROM arbitrator_state a JOIN channel c ON c.chan_point = a.chan_point WHERE c.commitment_type = ? AND a.state <> ?',
    )
    .get(1, ARBITRATOR_STATE.FullyResolved);
  return r?.n ?? 0;
}

/** Sum of limbo over every unresolved channel (metrics). */
export function totalLimbo(db: Db, height: number, resolverView?: ResolverOutputSource): bigint {
  return listChannels(db, height, false, resolverView).reduce((a, c) => a + BigInt(c.limbo_balance), 0n);
}
