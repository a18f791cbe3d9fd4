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
import type { BreachResolution, HtlcFact } from '../arbitrator/types.js';
import { p2wsh } from '../ln/scripts.js';
import type { KeySpec, SweepInputSpec, WitnessSpec } from '../sweep/types.js';
import { fromHex, toHex } from '../util/bytes.js';
import { CourtError } from '../util/errors.js';

/** Justice policy (configurable per daemon). */
export interface JusticeConfig {
  /** Share of an output's value its sweep may spend in fees, percent 1..100 (default 100). */
  readonly budgetPercent: number;
  /** Blocks a justice input may stay unconfirmed in a combined transaction before it is swept alone (default 4). */
  readonly splitAfterBlocks: number;
}

export const DEFAULT_JUSTICE_CONFIG: JusticeConfig = { budgetPercent: 100, splitAfterBlocks: 4 };

/** Throws COURT_E_INVALID_ARGUMENT unless `c` is a usable policy. */
export function checkJusticeConfig(c: JusticeConfig): JusticeConfig {
  if (!Number.isInteger(c.budgetPercent) || c.budgetPercent < 1 || c.budgetPercent > 100) {
    throw new CourtError('COURT_E_INVALID_ARGUMENT', 'justice budgetPercent must be an integer 1..100', { budgetPercent: String(c.budgetPercent) });
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
  const toLocalDeadline = csvDeadline(closeHeight, breach.theirToSelfDelay);
  return breach.outputs.map((o) => {
    if (o.witnessScript === undefined) throw new CourtError('COURT_E_INVALID_ARGUMENT', 'a breach output without its witness script', { outpoint: o.outpoint });
    const deadline =
      o.kind === 'offered_htlc' && o.htlc !== undefined ? Math.min(o.htlc.cltvExpiry, toLocalDeadline) : toLocalDeadline;
    return {
      outpoint: o.outpoint,
      kind: o.kind,
      valueSat: o.amountSat,
      scriptPubKey: o.scriptPubKey,
      witnessScript: o.witnessScript,
      deadlineHeight: Math.max(deadline, closeHeight + 1),
      ...(o.htlc === undefined ? {} : { htlc: o.htlc }),
    };
  });
}

/** The output of a transaction as the second-level search sees it. */
export interface TxOutLike {
  readonly value: bigint;
  readonly script: Uint8Array;
}

/** A spending transaction as the second-level search sees it (bitcoinjs Transaction fits). */
export interface SpendingTxLike {
  getId(): string;
  readonly ins: readonly { readonly hash: Uint8Array; readonly index: number }[];
  readonly outs: readonly TxOutLike[];
}

/**
 * If `spender` (confirmed at `height`) took HTLC output `target` to the second stage, the new target: its output
 * paying the second-level script (the one paired with the spending input first, as SIGHASH_SINGLE pairs input i
 * with output i; else the first such output). Undefined if the spend is not a second-level transaction of theirs
 * (our own justice sweep, for instance).
 */
export function secondLevelTarget(breach: BreachResolution, target: JusticeTarget, spender: SpendingTxLike, height: number): JusticeTarget | undefined {
  if (target.kind !== 'offered_htlc' && target.kind !== 'received_htlc') return undefined;
  const [txid, vout] = target.outpoint.split(':') as [string, string];
  const inIndex = spender.ins.findIndex((i) => toHex(Uint8Array.from(i.hash).reverse()) === txid && i.index === Number(vout));
  if (inIndex < 0) return undefined;
  const spk = p2wsh(fromHex(breach.secondLevelScript));
  const pays = (o: TxOutLike | undefined): boolean => o !== undefined && toHex(o.script) === toHex(spk);
  const paired = spender.outs[inIndex];
  const outIndex = pays(paired) ? inIndex : spender.outs.findIndex((o) => pays(o));
  if (outIndex < 0) return undefined;
  const out = spender.outs[outIndex] as TxOutLike;
  return {
    outpoint: `${spender.getId()}:${outIndex}`,
    kind: 'second_level',
    valueSat: out.value.toString(),
    scriptPubKey: toHex(spk),
    witnessScript: breach.secondLevelScript,
    deadlineHeight: Math.max(csvDeadline(height, breach.theirToSelfDelay), height + 1),
    ...(target.htlc === undefined ? {} : { htlc: target.htlc }),
    from: target.outpoint,
  };
}

/** The budget of a target: budgetPercent of its value (at least 1 sat). */
export function justiceBudget(valueSat: bigint, config: JusticeConfig): bigint {
  const b = (valueSat * BigInt(config.budgetPercent)) / 100n;
  return b > 0n ? b : 1n;
}

/**
 * The sweeper input of a target. `alone`: the split (the input is swept in a transaction of its own).
 * Idempotent: the same target and context give the same spec (offering again is an upsert).
 */
export function justiceInput(t: JusticeTarget, ctx: JusticeContext, alone: boolean): SweepInputSpec {
  const key: KeySpec = { locator: { family: ctx.revocationBase.family, index: ctx.revocationBase.index }, doubleTweak: ctx.perCommitmentSecret };
  const witness: WitnessSpec =
    t.kind === 'offered_htlc' || t.kind === 'received_htlc'
      ? { kind: 'htlcRevoked', key, script: t.witnessScript, revocationPubkey: revocationPubkeyOf(ctx.toLocalScript) }
      : { kind: 'toLocalRevoked', key, script: t.witnessScript };
  const valueSat = BigInt(t.valueSat);
  return {
    outpoint: t.outpoint,
    valueSat,
    scriptPubKey: t.scriptPubKey,
    witness,
    budgetSat: justiceBudget(valueSat, ctx.config),
    deadlineHeight: t.deadlineHeight,
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
