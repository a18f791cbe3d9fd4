/**
 * The stage machine of a resolver that claims one output with one sweep and is done (commitSweep, anchor):
 *
 *   waiting ──Spend──► confirming ──block at 6 confirmations──► done
 *      ▲                   │
 *      └────SpendUndone────┘   (a reorg before finality: offered again)
 *
 * `waiting` re-offers the input at every launch (an upsert). Who spent it (`ours`) decides the outcome.
 */
import { baseOf, finalAt, finish, same, seen } from './common.js';
import type { InitRecord, OutputResolution, OutputView, ReportRow, ResolverBase, ResolverEffect, ResolverEnv, ResolverEvent, SpendSeen, StepResult } from './types.js';

/** The fields of a single-output resolver. */
export interface SingleOutput extends ResolverBase {
  readonly stage: 'waiting' | 'confirming' | 'done';
  readonly valueSat: string;
  readonly spend?: SpendSeen;
  /** The sweeper's fee for our sweep (its `swept` result), if known. */
  readonly feeSat?: string;
  /** Why it is not offered / why the sweeper gave up (for operators). */
  readonly note?: string;
}

/** What a kind plugs in. */
export interface SingleHooks<R extends SingleOutput> {
  /** The effects that (re)start `waiting`: offers and watches (idempotent). */
  waiting(r: R, env: ResolverEnv): ResolverEffect[];
  /** The report once the spend is final. */
  report(r: R, spend: SpendSeen): ReportRow;
  /** Optional extra handling of a Block in `waiting` (e.g. give up). */
  blockWhileWaiting?(r: R, env: ResolverEnv): StepResult | undefined;
}

/** The first value of a single-output resolver from the arbitrator's record: waiting, valued at its output. */
export function singleInit<K extends ResolverBase['kind']>(kind: K, rec: InitRecord) {
  const output = rec.output as unknown as OutputResolution;
  return { ...baseOf(kind, rec), stage: 'waiting' as const, valueSat: output.amountSat, output };
}

/** The watch on the output (blocks only: nobody reveals anything in the mempool here). */
export function watch(r: SingleOutput): ResolverEffect {
  return { kind: 'WatchSpend', outpoint: r.outpoint, heightHint: r.closeHeight, mempool: false };
}

export function singleStep<R extends SingleOutput>(r: R, e: ResolverEvent, env: ResolverEnv, hooks: SingleHooks<R>): StepResult {
  if (r.stage === 'done') return same(r);
  switch (e.kind) {
    case 'Launch':
      return { next: r, effects: r.stage === 'waiting' ? hooks.waiting(r, env) : [watch(r)] };
    case 'Spend': {
      if (e.outpoint !== r.outpoint || r.spend?.txid === e.txid) return same(r);
      const next = { ...r, stage: 'confirming' as const, spend: seen(e) };
      return env.height >= finalAt(next.spend) ? done(next, hooks) : { next, effects: [] };
    }
    case 'SpendUndone': {
      if (r.spend === undefined || e.outpoint !== r.outpoint || e.txid !== r.spend.txid) return same(r);
      const { spend: _s, ...rest } = r;
      const next = { ...rest, stage: 'waiting' as const } as R;
      return { next, effects: hooks.waiting(next, env) };
    }
    case 'Block':
      if (r.stage === 'confirming' && r.spend !== undefined && env.height >= finalAt(r.spend)) return done(r, hooks);
      if (r.stage === 'waiting') return hooks.blockWhileWaiting?.(r, env) ?? same(r);
      return same(r);
    case 'SweepResult':
      if (e.outpoint !== r.outpoint) return same(r);
      if (e.result === 'swept' && e.feeSat !== undefined) return { next: { ...r, feeSat: e.feeSat }, effects: [] };
      if (e.result === 'failed') return { next: { ...r, note: `sweeper gave up: ${e.reason ?? 'unknown'}` }, effects: [] };
      return same(r);
    case 'MempoolSpend':
    case 'Preimage':
      return same(r);
  }
}

function done<R extends SingleOutput>(r: R, hooks: SingleHooks<R>): StepResult {
  const spend = r.spend as SpendSeen;
  return { next: { ...r, stage: 'done' }, effects: finish([hooks.report(r, spend)], [r.outpoint]), finished: true };
}

/** Limbo / recovered of a single output. */
export function singleAmounts(r: SingleOutput): { limboSat: bigint; recoveredSat: bigint } {
  const v = BigInt(r.valueSat);
  if (r.stage !== 'done') return { limboSat: v, recoveredSat: 0n };
  return { limboSat: 0n, recoveredSat: r.spend?.ours === true ? v : 0n };
}

/** The report hook of a kind: once the spend is final, claimed if it was our sweep, unclaimed otherwise. */
export function spendReport<R extends SingleOutput>(type: ReportRow['type']): SingleHooks<R>['report'] {
  return (r, spend) => ({
    outpoint: r.outpoint,
    stage: 1,
    type,
    outcome: spend.ours ? 'claimed' : 'unclaimed',
    amountSat: r.valueSat,
    txid: spend.txid,
    height: spend.height,
  });
}

/** The live view of a single output maturing at `maturityHeight`, with `reason` when it has one. */
export function singleView(r: SingleOutput, type: ReportRow['type'], maturityHeight: number, height: number, reason: string | undefined): Omit<OutputView, 'chanPoint' | 'outpoint' | 'kind'> {
  return {
    type,
    stage: r.stage,
    htlcStage: 1,
    amountSat: BigInt(r.valueSat),
    ...singleAmounts(r),
    maturityHeight,
    blocksTilMaturity: maturityHeight - height,
    ...(reason === undefined ? {} : { reason }),
  };
}
