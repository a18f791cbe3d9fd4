/**
 * Justice (contractcourt-spec.md section 3.9; issue 11 "breach"): what the sweeper is offered to take back every
 * output of a revoked commitment of theirs, and how an output the cheater moved to the second stage is followed.
 * Pure: no await, no clock, no DB. The per-commitment secret is passed in by the caller (read from the channel's
 * revocation store at offer time) and goes only into the sweeper's KeySpec.doubleTweak, never into a state, a
 * report, a log line or an error.
 *
 * Targets (one per output to take back):
 *   to_local        their to_local, revocation path (toLocalRevoked); they may spend it after their CSV, so our
 *                   sweep must confirm by closeHeight + theirToSelfDelay - 1.
 *   offered_htlc    an HTLC they offered (incoming to us), revocation path (htlcRevoked); they may take it to the
 *                   second stage with their HTLC-timeout transaction from block cltvExpiry + 1 (locktime), so the
 *                   deadline is min(cltvExpiry, the to_local deadline).
 *   received_htlc   an HTLC they received (outgoing from us): they may take it with their HTLC-success
 *                   transaction whenever they hold the preimage. Losing that race costs nothing but fees: the
 *                   second-level output is ours by revocation too. Deadline: the to_local deadline.
 *   second_level    the output of their second-level HTLC transaction (the same to_local-shaped script, our
 *                   revocation key; toLocalRevoked); they may spend it after their CSV counted from its block, so
 *                   our sweep must confirm by spendHeight + theirToSelfDelay - 1.
 *
 * Every justice input is pinnable (the cheater can race for it), so the sweeper never batches it with inputs only
 * we can spend. Budget: a configurable share of the value taken back (default all of it: what we do not take back
 * is lost anyway, and the fee function only reaches the budget at the deadline). Splitting: once a combined justice
 * transaction has not confirmed within `splitAfterBlocks` blocks (lnd: 4), every input still pending is offered
 * again with `alone: true`, so the sweeper sweeps each in its own transaction and an output the cheater pins with a
 * conflicting transaction no longer holds the others back (pain point 10).
 */
import type { BreachResolution, HtlcFact, KeyFact } from '../arbitrator/types.js';
import { p2wsh } from '../ln/scripts.js';
import { dustLimit } from '../sweep/input.js';
import type { KeySpec, SweepInputSpec, WitnessSpec } from '../sweep/types.js';
import { fromHex, toHex } from '../util/bytes.js';
import { CourtError } from '../util/errors.js';

/** Justice policy (configurable per daemon). */
export interface JusticeConfig {
  /** Share of an output's value its sweep may spend in fees, basis points 1..10000 (default 10000: all of it). */
  readonly budgetBps: number;
  /** Blocks a justice input may stay unconfirmed in a combined transaction before it is swept alone (default 4). */
  readonly splitAfterBlocks: number;
}

export const DEFAULT_JUSTICE_CONFIG: JusticeConfig = Object.freeze({ budgetBps: 10_000, splitAfterBlocks: 4 });

/** Throws COURT_E_INVALID_ARGUMENT unless `c` is a usable policy. */
export function checkJusticeConfig(c: JusticeConfig): JusticeConfig {
  if (!Number.isInteger(c.budgetBps) || c.budgetBps < 1 || c.budgetBps > 10_000) {
    throw new CourtError('COURT_E_INVALID_ARGUMENT', 'justice budgetBps must be an integer 1..10000', { budgetBps: String(c.budgetBps) });
  }
  if (!Number.isInteger(c.splitAfterBlocks) || c.splitAfterBlocks < 1 || c.splitAfterBlocks > 1008) {
    throw new CourtError('COURT_E_INVALID_ARGUMENT', 'justice splitAfterBlocks must be an integer 1..1008', { splitAfterBlocks: String(c.splitAfterBlocks) });
  }
  return c;
}

export type JusticeTargetKind = 'to_local' | 'offered_htlc' | 'received_htlc' | 'second_level';

/** One output to take back by revocation (JSON). */
export interface JusticeTarget {
  readonly outpoint: string;
  readonly kind: JusticeTargetKind;
  readonly valueSat: string;
  readonly scriptPubKey: string;
  readonly witnessScript: string;
  /** The height by which our sweep must confirm: the block before the cheater's own path opens. */
  readonly deadlineHeight: number;
  /** The HTLC of an HTLC output (and of the second-level output that came from it). */
  readonly htlc?: HtlcFact;
  /** second_level: the commitment HTLC output their second-level transaction spent. */
  readonly from?: string;
}

/** What the offers need beside the targets. */
export interface JusticeContext {
  readonly chanPoint: string;
  /** The sweeper owner of the inputs ("resolver:<id>"). */
  readonly owner: string;
  /** Our revocation basepoint's locator (KeyFact family/index of the breach resolution). */
  readonly revocationBase: { readonly family: number; readonly index: number };
  /** Their per-commitment secret of the revoked commitment (hex, 32 bytes). Secret: only into KeySpec. */
  readonly perCommitmentSecret: string;
  /** The revoked commitment's to_local script (BreachResolution.secondLevelScript): carries the revocation pubkey. */
  readonly toLocalScript: string;
  readonly config: JusticeConfig;
}

/** The revocation pubkey of a to_local-shaped script: OP_IF <33-byte revocation pubkey> OP_ELSE ... */
export function revocationPubkeyOf(toLocalScriptHex: string): string {
  const s = fromHex(toLocalScriptHex);
  if (s.length < 36 || s[0] !== 0x63 || s[1] !== 0x21) {
    throw new CourtError('COURT_E_INVALID_ARGUMENT', 'not a to_local script (OP_IF <revocation pubkey> ...)');
  }
  return toHex(s.subarray(2, 35));
}

/** The last height our sweep of their to_local (or of a second-level output confirmed at `h`) may confirm in. */
const csvDeadline = (h: number, delay: number): number => h + delay - 1;

/** Every output of the revoked commitment to take back, with its deadline (the commitment confirmed at closeHeight). */
export function justiceTargets(breach: BreachResolution, closeHeight: number): JusticeTarget[] {
  return breach.outputs.map((o) => justiceTarget({ ...o, secondLevelScript: breach.secondLevelScript, theirToSelfDelay: breach.theirToSelfDelay }, closeHeight));
}

/** What following one output needs of the revoked commitment: its to_local (= second-level) script and their CSV. */
export interface BreachFacts {
  readonly secondLevelScript: string;
  readonly theirToSelfDelay: number;
}

/** One breach output (BreachResolution.outputs[i] with the commitment's facts), as a target. */
export type BreachOutput = BreachResolution['outputs'][number] & BreachFacts;

/** The target of one output of the revoked commitment (confirmed at closeHeight). */
export function justiceTarget(o: BreachOutput, closeHeight: number): JusticeTarget {
  if (o.witnessScript === undefined) throw new CourtError('COURT_E_INVALID_ARGUMENT', 'a breach output without its witness script', { outpoint: o.outpoint });
  const toLocalDeadline = csvDeadline(closeHeight, o.theirToSelfDelay);
  const deadline = o.kind === 'offered_htlc' && o.htlc !== undefined ? Math.min(o.htlc.cltvExpiry, toLocalDeadline) : toLocalDeadline;
  return {
    outpoint: o.outpoint,
    kind: o.kind,
    valueSat: o.amountSat,
    scriptPubKey: o.scriptPubKey,
    witnessScript: o.witnessScript,
    deadlineHeight: Math.max(deadline, closeHeight + 1),
    ...(o.htlc === undefined ? {} : { htlc: o.htlc }),
  };
}

/** A confirmed spend of a target as the resolver events carry it (ResolverEvent 'Spend'). */
export interface SpendInfo {
  readonly txid: string;
  /** The spending input's index. */
  readonly inputIndex: number;
  /** The spending transaction's outputs (hex scripts). */
  readonly outputs: readonly { readonly valueSat: string; readonly script: string }[];
}

/**
 * If `spend` (confirmed at `height`) took HTLC output `target` to the second stage, the new target: its output
 * paying the second-level script (the one paired with the spending input first, as SIGHASH_SINGLE pairs input i
 * with output i; else the first such output). Undefined if the spend is not a second-level transaction of theirs
 * (our own justice sweep, for instance).
 */
export function secondLevelTarget(breach: BreachFacts, target: JusticeTarget, spend: SpendInfo, height: number): JusticeTarget | undefined {
  if (target.kind !== 'offered_htlc' && target.kind !== 'received_htlc') return undefined;
  const spk = toHex(p2wsh(fromHex(breach.secondLevelScript)));
  const pays = (o: SpendInfo['outputs'][number] | undefined): boolean => o !== undefined && o.script === spk;
  const outIndex = pays(spend.outputs[spend.inputIndex]) ? spend.inputIndex : spend.outputs.findIndex((o) => pays(o));
  if (outIndex < 0) return undefined;
  const out = spend.outputs[outIndex] as SpendInfo['outputs'][number];
  return {
    outpoint: `${spend.txid}:${outIndex}`,
    kind: 'second_level',
    valueSat: out.valueSat,
    scriptPubKey: spk,
    witnessScript: breach.secondLevelScript,
    deadlineHeight: Math.max(csvDeadline(height, breach.theirToSelfDelay), height + 1),
    ...(target.htlc === undefined ? {} : { htlc: target.htlc }),
    from: target.outpoint,
  };
}

/** A bitcoinjs transaction's spend of `outpoint` as SpendInfo (undefined if it does not spend it). */
export function spendInfoOf(
  tx: { getId(): string; readonly ins: readonly { readonly hash: Uint8Array; readonly index: number }[]; readonly outs: readonly { readonly value: bigint; readonly script: Uint8Array }[] },
  outpoint: string,
): SpendInfo | undefined {
  const [txid, vout] = outpoint.split(':') as [string, string];
  const inputIndex = tx.ins.findIndex((i) => toHex(Uint8Array.from(i.hash).reverse()) === txid && i.index === Number(vout));
  if (inputIndex < 0) return undefined;
  return { txid: tx.getId(), inputIndex, outputs: tx.outs.map((o) => ({ valueSat: o.value.toString(), script: toHex(o.script) })) };
}

/** What a sweep must leave of a justice input: the dust limit of its P2WPKH output (the sweep pays courtd's wallet). */
export const JUSTICE_MIN_LEFT_SAT = dustLimit(22);

/**
 * The budget of a target: budgetBps of its value, never so much that the sweep's output would be dust (a budget of
 * the whole value would let the fee function spend it all and leave an output the node refuses), at least 1 sat.
 */
export function justiceBudget(valueSat: bigint, config: JusticeConfig): bigint {
  const share = (valueSat * BigInt(config.budgetBps)) / 10_000n;
  const most = valueSat - JUSTICE_MIN_LEFT_SAT;
  const b = share < most ? share : most;
  return b > 0n ? b : 1n;
}

/** The witness of a justice input, with its key as a KeyFact (revokedNumber: the runner reads the secret). */
export type JusticeWitness =
  | { readonly kind: 'toLocalRevoked'; readonly key: KeyFact; readonly script: string }
  | { readonly kind: 'htlcRevoked'; readonly key: KeyFact; readonly script: string; readonly revocationPubkey: string };

/** A justice input as a resolver offers it (JSON; the secret is not in it). */
export interface JusticeOffer {
  readonly outpoint: string;
  readonly valueSat: string;
  readonly scriptPubKey: string;
  readonly witness: JusticeWitness;
  readonly budgetSat: string;
  readonly deadlineHeight: number;
  readonly pinnable: true;
  readonly alone?: true;
}

/** What an offer needs beside its target. */
export interface OfferFacts {
  /** Our revocation basepoint's locator and the revoked commitment's number. */
  readonly revocationKey: KeyFact;
  /** The revoked commitment's to_local script (carries the revocation pubkey). */
  readonly toLocalScript: string;
  readonly config: JusticeConfig;
}

/** The offer of a target. `alone`: the split. Deterministic (offering again is an upsert). */
export function justiceOffer(t: JusticeTarget, f: OfferFacts, alone: boolean): JusticeOffer {
  const witness: JusticeWitness =
    t.kind === 'offered_htlc' || t.kind === 'received_htlc'
      ? { kind: 'htlcRevoked', key: f.revocationKey, script: t.witnessScript, revocationPubkey: revocationPubkeyOf(f.toLocalScript) }
      : { kind: 'toLocalRevoked', key: f.revocationKey, script: t.witnessScript };
  return {
    outpoint: t.outpoint,
    valueSat: t.valueSat,
    scriptPubKey: t.scriptPubKey,
    witness,
    budgetSat: justiceBudget(BigInt(t.valueSat), f.config).toString(),
    deadlineHeight: t.deadlineHeight,
    pinnable: true,
    ...(alone ? { alone: true as const } : {}),
  };
}

/**
 * The sweeper input of a target, its key resolved with the secret (what the runner does with an offer).
 * Idempotent: the same target and context give the same spec.
 */
export function justiceInput(t: JusticeTarget, ctx: JusticeContext, alone: boolean): SweepInputSpec {
  const o = justiceOffer(t, { revocationKey: { ...ctx.revocationBase }, toLocalScript: ctx.toLocalScript, config: ctx.config }, alone);
  const key: KeySpec = { locator: { family: ctx.revocationBase.family, index: ctx.revocationBase.index }, doubleTweak: ctx.perCommitmentSecret };
  const witness: WitnessSpec = o.witness.kind === 'htlcRevoked' ? { ...o.witness, key } : { ...o.witness, key };
  return {
    outpoint: o.outpoint,
    valueSat: BigInt(o.valueSat),
    scriptPubKey: o.scriptPubKey,
    witness,
    budgetSat: BigInt(o.budgetSat),
    deadlineHeight: o.deadlineHeight,
    pinnable: true,
    ...(alone ? { alone: true } : {}),
    owner: ctx.owner,
    chanPoint: ctx.chanPoint,
  };
}

/** The sweeper inputs of `targets` (see justiceInput). */
export function justiceInputs(targets: readonly JusticeTarget[], ctx: JusticeContext, alone: boolean): SweepInputSpec[] {
  return targets.map((t) => justiceInput(t, ctx, alone));
}
