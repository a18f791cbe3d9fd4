/**
 * breach (justice; contractcourt-spec.md 3.9, issue 11; decision D20b): one resolver per output of a revoked
 * commitment of theirs (their to_local and every HTLC output, both directions), keyed by that output. It takes the
 * output back by revocation through the sweeper, follows the cheater's second-level HTLC transaction to its
 * output, and finishes once the output (or its second-level output) is spent with 6 confirmations.
 *
 *   offered ──Spend (ours)────────────────────────► confirming ──6 confirmations──► done (claimed)
 *     │  ▲  ──Spend (theirs, not second level)─────► confirming ──6 confirmations──► done (unclaimed)
 *     │  └──SpendUndone (their second level reorged out)──┐
 *     └──Spend (their second-level HTLC tx)──► secondLevel ──Spend──► confirming ──► done (firstStage + claimed)
 *
 * Budget: `config.budgetBps` of the value taken back (default all of it); deadline: before the cheater's own path
 * opens (justice.ts); pinnable. Split: an output not spent `config.splitAfterBlocks` blocks after it was offered is
 * offered again with `alone` (a transaction of its own; the sweeper moves it out of the combined one).
 *
 * Effects: OfferSweep / CancelSweep / WatchSpend / Unwatch (re-derived at every Launch), and at the end, in the
 * step's transaction, the reports (firstStage for an output the cheater moved, claimed / unclaimed for the output
 * spent last) and, when claimed, a justiceConfirmed node event keyed `justice:<commitment outpoint>`.
 * The per-commitment secret never appears here: the offers carry the KeyFact (revokedNumber), and the runner reads
 * the secret from the revocation store when it hands the input to the sweeper.
 */
import type { KeyFact } from '../arbitrator/types.js';
import { baseOf, finalAt, same, seen } from './common.js';
import {
  checkJusticeConfig,
  DEFAULT_JUSTICE_CONFIG,
  justiceOffer,
  justiceTarget,
  secondLevelTarget,
  type BreachOutput,
  type JusticeConfig,
  type JusticeTarget,
} from './justice.js';
import {
  type InitRecord,
  type ReportRow,
  type ResolverBase,
  type ResolverEffect,
  type ResolverEnv,
  type ResolverEvent,
  type ResolverKindDef,
  type SpendSeen,
  type StepResult,
  type SweepOffer,
} from './types.js';

/** A breach resolver value (JSON). */
export interface Breach extends ResolverBase {
  readonly kind: 'breach';
  readonly stage: 'offered' | 'secondLevel' | 'confirming' | 'done';
  readonly commitmentNumber: number;
  /** The revoked commitment's to_local script: also the script of their second-level outputs. */
  readonly secondLevelScript: string;
  readonly theirToSelfDelay: number;
  /** Our revocation basepoint's locator with the revoked number (the runner reads the secret by it). */
  readonly revocationKey: KeyFact;
  readonly config: JusticeConfig;
  /** The commitment output this resolver is for. */
  readonly origin: JusticeTarget;
  /** What is offered now: the origin, or the output of their second-level transaction. */
  readonly target: JusticeTarget;
  /** Their second-level transaction's spend of the origin (confirmed), once seen. */
  readonly secondLevel?: SpendSeen;
  /** The spend of `target` being confirmed. */
  readonly spend?: SpendSeen;
  /** Height at which `target` was offered, and whether it has been split out (offered alone). */
  readonly offeredHeight?: number;
  readonly alone: boolean;
  /** The sweeper's fee for our sweep (its swept result), if known. */
  readonly feeSat?: string;
  /** Why it waits / what went wrong last, for operators. */
  readonly note?: string;
}

/** The justice policy a step uses: the env's if it carries one (daemon config), else the value's. */
function configOf(r: Breach, env: ResolverEnv): JusticeConfig {
  const fromEnv = (env as ResolverEnv & { readonly justice?: JusticeConfig }).justice;
  return fromEnv === undefined ? r.config : checkJusticeConfig(fromEnv);
}

function offerOf(r: Breach, config: JusticeConfig): SweepOffer {
  return justiceOffer(r.target, { revocationKey: r.revocationKey, toLocalScript: r.secondLevelScript, config }, r.alone);
}

function watchOf(outpoint: string, heightHint: number): ResolverEffect {
  return { kind: 'WatchSpend', outpoint, heightHint, mempool: false };
}

/** The offer and watches of a stage that waits for a spend (idempotent). */
function waitingEffects(r: Breach, config: JusticeConfig): ResolverEffect[] {
  const effects: ResolverEffect[] = [watchOf(r.origin.outpoint, r.closeHeight)];
  if (r.secondLevel !== undefined) effects.push(watchOf(r.target.outpoint, r.secondLevel.height));
  if (r.spend === undefined) effects.push({ kind: 'OfferSweep', input: offerOf(r, config) });
  return effects;
}

const isHtlc = (t: JusticeTarget): boolean => t.kind === 'offered_htlc' || t.kind === 'received_htlc';

function step(r: Breach, e: ResolverEvent, env: ResolverEnv): StepResult {
  if (r.stage === 'done') return same(r);
  const config = configOf(r, env);
  switch (e.kind) {
    case 'Launch': {
      const next = r.offeredHeight === undefined && r.spend === undefined ? { ...r, offeredHeight: e.height } : r;
      return { next, effects: waitingEffects(next, config) };
    }
    case 'Spend': {
      if (r.spend?.txid === e.txid || r.secondLevel?.txid === e.txid) return same(r);
      if (e.outpoint === r.origin.outpoint && r.secondLevel === undefined) {
        // Their second-level HTLC transaction: follow its output (same revocation key) before their CSV runs out.
        const moved = e.ours || !isHtlc(r.origin) ? undefined : secondLevelTarget(r, r.origin, e, e.height);
        if (moved !== undefined) {
          const next: Breach = {
            ...r,
            stage: 'secondLevel',
            target: moved,
            secondLevel: seen(e),
            offeredHeight: env.height,
            alone: false,
            note: `the cheater took it to the second stage in ${e.txid}; taken back by revocation before ${moved.deadlineHeight}`,
          };
          return { next, effects: [{ kind: 'CancelSweep', outpoint: r.origin.outpoint }, ...waitingEffects(next, config)] };
        }
      } else if (e.outpoint !== r.target.outpoint) {
        return same(r);
      }
      const next: Breach = { ...r, stage: 'confirming', spend: seen(e) };
      return env.height >= finalAt(seen(e)) ? done(next) : { next, effects: [] };
    }
    case 'SpendUndone': {
      if (r.spend !== undefined && e.txid === r.spend.txid) {
        const { spend: _s, ...rest } = r;
        const next: Breach = { ...rest, stage: r.secondLevel === undefined ? 'offered' : 'secondLevel', offeredHeight: env.height };
        return { next, effects: waitingEffects(next, config) };
      }
      if (r.secondLevel !== undefined && e.outpoint === r.origin.outpoint && e.txid === r.secondLevel.txid) {
        // Their second-level transaction left the chain: its output is gone; the commitment output is ours to take again.
        const { secondLevel: _l, spend: _s, note: _n, ...rest } = r;
        const next: Breach = { ...rest, stage: 'offered', target: r.origin, offeredHeight: env.height, alone: false };
        return {
          next,
          effects: [{ kind: 'CancelSweep', outpoint: r.target.outpoint }, { kind: 'Unwatch', outpoint: r.target.outpoint }, ...waitingEffects(next, config)],
        };
      }
      return same(r);
    }
    case 'Block': {
      if (r.stage === 'confirming' && r.spend !== undefined && env.height >= finalAt(r.spend)) return done(r);
      const at = splitAt(r, config);
      if (at !== undefined && env.height >= at) {
        // Not confirmed within splitAfterBlocks: swept alone from now on (a pinned sibling no longer holds it back).
        const next: Breach = { ...r, alone: true, note: `not confirmed ${config.splitAfterBlocks} blocks after its offer: swept alone` };
        return { next, effects: [{ kind: 'OfferSweep', input: offerOf(next, config) }] };
      }
      return same(r);
    }
    case 'SweepResult': {
      if (e.outpoint !== r.target.outpoint) return same(r);
      if (e.result === 'swept' && e.feeSat !== undefined) {
        const next: Breach = { ...r, feeSat: e.feeSat };
        return { next, effects: [] };
      }
      if (e.result === 'failed' && r.spend === undefined) {
        // Never give up on justice: offer it again (an excluded or failed input is pending again on a new offer).
        const next: Breach = { ...r, note: `sweeper gave up (${e.reason ?? 'unknown'}); offered again` };
        return { next, effects: [{ kind: 'OfferSweep', input: offerOf(next, config) }] };
      }
      return same(r);
    }
    case 'MempoolSpend':
    case 'Preimage':
      return same(r);
  }
}

/** The height at which an unsplit, unspent target is split out (undefined: nothing to split). */
function splitAt(r: Breach, config: JusticeConfig): number | undefined {
  if (r.alone || r.spend !== undefined || r.offeredHeight === undefined) return undefined;
  return r.offeredHeight + config.splitAfterBlocks;
}

function done(r: Breach): StepResult {
  const spend = r.spend as SpendSeen;
  const reports: ReportRow[] = [];
  if (r.secondLevel !== undefined) {
    reports.push({
      outpoint: r.origin.outpoint,
      stage: 1,
      type: 'breach',
      outcome: 'firstStage',
      amountSat: r.origin.valueSat,
      txid: r.secondLevel.txid,
      height: r.secondLevel.height,
    });
  }
  reports.push({
    outpoint: r.target.outpoint,
    stage: r.secondLevel === undefined ? 1 : 2,
    type: 'breach',
    outcome: spend.ours ? 'claimed' : 'unclaimed',
    amountSat: r.target.valueSat,
    txid: spend.txid,
    height: spend.height,
  });
  const effects: ResolverEffect[] = reports.map((report) => ({ kind: 'Report', report }));
  if (spend.ours) {
    effects.push({
      kind: 'NotifyNode',
      key: `justice:${r.origin.outpoint}`,
      event: 'justiceConfirmed',
      payload: {
        v: 1,
        closeTxid: r.closeTxid,
        commitmentNumber: r.commitmentNumber,
        outpoint: r.origin.outpoint,
        kind: r.origin.kind,
        ...(r.secondLevel === undefined ? {} : { secondLevelTxid: r.secondLevel.txid, claimedOutpoint: r.target.outpoint }),
        amountSat: r.target.valueSat,
        txid: spend.txid,
        height: spend.height,
        ...(r.origin.htlc === undefined ? {} : { htlcId: r.origin.htlc.htlcId, direction: r.origin.htlc.direction, paymentHash: r.origin.htlc.paymentHash }),
      },
    });
  }
  effects.push({ kind: 'Unwatch', outpoint: r.origin.outpoint });
  if (r.secondLevel !== undefined) effects.push({ kind: 'Unwatch', outpoint: r.target.outpoint });
  effects.push({ kind: 'ResolverFinished' });
  return { next: { ...r, stage: 'done' }, effects, finished: true };
}

/** The arbitrator's record of one breach output (records.ts): the output with the revoked commitment's facts. */
export type BreachRecordOutput = BreachOutput & { readonly commitmentNumber: number; readonly perCommitmentPoint: string };

export const breach: ResolverKindDef<Breach> = {
  kind: 'breach',
  init(rec: InitRecord): Breach {
    const o = rec.output as unknown as BreachRecordOutput;
    const origin = justiceTarget(o, rec.closeHeight);
    return {
      ...baseOf('breach', rec),
      stage: 'offered',
      commitmentNumber: o.commitmentNumber,
      secondLevelScript: o.secondLevelScript,
      theirToSelfDelay: o.theirToSelfDelay,
      revocationKey: o.key,
      config: DEFAULT_JUSTICE_CONFIG,
      origin,
      target: origin,
      alone: false,
    };
  },
  step,
  wake(r) {
    if (r.stage === 'done') return undefined;
    if (r.stage === 'confirming' && r.spend !== undefined) return finalAt(r.spend);
    return splitAt(r, r.config);
  },
  view(r, height) {
    const value = BigInt(r.target.valueSat);
    const claimed = r.stage === 'done' && r.spend?.ours === true;
    return {
      type: 'breach',
      stage: r.stage,
      htlcStage: r.secondLevel === undefined ? 1 : 2,
      amountSat: value,
      limboSat: r.stage === 'done' ? 0n : value,
      recoveredSat: claimed ? value : 0n,
      // The height by which our sweep must confirm (the cheater's own path opens after it).
      maturityHeight: r.target.deadlineHeight,
      blocksTilMaturity: r.target.deadlineHeight - height,
      ...(r.note === undefined ? {} : { reason: r.note }),
    };
  },
};
