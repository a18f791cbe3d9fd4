/**
 * The sweeper's pure core: which pending inputs can be swept now and why not, how they are clustered into
 * transactions, and what a transaction of a cluster weighs, pays and looks like (unsigned). No await, no clock, no
 * DB: the runner (sweeper.ts) feeds heights, estimates and wallet coins in and executes what comes out.
 *
 * Clustering rules (ARCHITECTURE.md "Sweeper", contractcourt-spec.md section 6, pain points 2, 9, 10):
 *  - inputs the counterparty can also spend (pinnable) never share a transaction with inputs only we can spend;
 *    pinnable inputs of different channels may share one (second-level HTLC pairs of many channels with one
 *    locktime), until the sweeper splits them by channel (`channelSplit`, when such a set is refused, loses an
 *    input to someone else, or is no longer held by the node near its deadline): a split input shares a
 *    transaction only with split pinnable inputs of its own channel, so one counterparty's pin holds only hers;
 *  - inputs with different absolute locktimes never share a transaction;
 *  - wallet-funded inputs (zero-fee second-level HTLC pairs, anchor CPFP) are kept apart from self-paying ones, and
 *    each CPFP anchor is alone (its package maths is its own);
 *  - within those, inputs are grouped by deadline window: a cluster takes inputs whose deadline is at most
 *    `window` blocks after its earliest one, and its deadline is that earliest one (nobody's deadline is missed);
 *  - at most one member of an exclusive group per transaction;
 *  - an input marked `alone` (the justice split) is its own class: a transaction of its own;
 *  - at most `maxInputs` inputs and `maxWeight` weight (standard limit 400,000) per transaction: larger clusters split.
 *
 * Fee attribution: an input's share of a batched sweep's fee is fee * budget_i / sum(budgets). The fee never exceeds
 * the sum of the budgets, so no share ever exceeds its input's budget.
 */
import { Transaction } from 'bitcoinjs-lib';
import { fromHex, reversed } from '../util/bytes.js';
import { feeAtRate, maxBig, minBig, NO_DEADLINE_TARGET, packageFee, packageRateForFee } from './fee.js';
import {
  DEFAULT_SEQUENCE,
  dustLimit,
  effectiveBudget,
  inputWeight,
  INPUT_BASE_WEIGHT,
  needsWallet,
  outputSize,
  publishableHeight,
  varintLen,
} from './input.js';
import type { LeasedUtxo, SweepInputSpec } from './types.js';

/** Core's standard transaction weight limit. */
export const MAX_STANDARD_WEIGHT = 400_000;

/** A pending input as the core sees it. */
export interface CoreInput {
  readonly spec: SweepInputSpec;
  /** Height at which it was (last) offered. */
  readonly offerHeight: number;
  /** Split by channel (SpecMarks.channelSplit): clustered only with split pinnable inputs of its channel. */
  readonly channelSplit?: boolean;
}

/**
 * The channel an input counts for when sets are split by channel: its chanPoint ('' for inputs offered without
 * one, which count as one unknown channel: owners that can be pinned give their chanPoint).
 */
export function channelOf(s: SweepInputSpec): string {
  return s.chanPoint ?? '';
}

/** The height the input must confirm by: its deadline, or a far target (lnd: 1008 blocks after it matures). */
export function deadlineOf(i: CoreInput): number {
  if (i.spec.deadlineHeight !== undefined) return i.spec.deadlineHeight;
  return Math.max(i.offerHeight, publishableHeight(i.spec)) + NO_DEADLINE_TARGET;
}

/**
 * Blocks after which an input judged uneconomical (or its budget too small) at the relay floor is looked at again:
 * the floor (mempoolminfee) falls after a spike, and nothing else would wake the input.
 */
export const FLOOR_RETRY_BLOCKS = 6;

/**
 * Why the input cannot be swept at tip `height` with relay floor `floorPerKw`, or undefined if it can. A reason
 * with `retryAt` clears by itself at that height (maturity) or is judged again then (the floor may have fallen);
 * one without waits for an operator (bump) or an owner (offer).
 */
export function screen(i: CoreInput, height: number, floorPerKw: bigint): { reason: string; retryAt?: number } | undefined {
  const s = i.spec;
  const at = publishableHeight(s);
  if (height < at) return { reason: `immature until ${at + 1}`, retryAt: at };
  const own = feeAtRate(floorPerKw, inputWeight(s));
  const retryAt = height + FLOOR_RETRY_BLOCKS;
  if (!needsWallet(s) && s.valueSat <= own) {
    return { reason: `uneconomical: value ${s.valueSat} sat does not pay the ${own} sat its weight costs at the relay floor ${floorPerKw} sat/kw`, retryAt };
  }
  if (effectiveBudget(s) < own) {
    return { reason: `budget too small: ${effectiveBudget(s)} sat is below the ${own} sat its weight costs at the relay floor ${floorPerKw} sat/kw`, retryAt };
  }
  if (s.pairedOutput !== undefined && s.pairedOutput.valueSat < dustLimit(s.pairedOutput.script.length / 2)) {
    return { reason: `paired output of ${s.pairedOutput.valueSat} sat is dust` };
  }
  return undefined;
}

/** A group of inputs to sweep in one transaction. */
export interface Cluster {
  readonly inputs: readonly CoreInput[];
  /** The earliest deadline of its inputs. */
  readonly deadline: number;
  readonly locktime: number;
  readonly wallet: boolean;
  readonly pinnable: boolean;
}

/** Clustering options. */
export interface ClusterOptions {
  /** Deadline window, blocks (default 6). */
  readonly window?: number;
  /** Most inputs per transaction (default 500). */
  readonly maxInputs?: number;
  /** Most weight per transaction (default MAX_STANDARD_WEIGHT). */
  readonly maxWeight?: number;
  /** Weight of one wallet input (FeeWalletPort.inputWeight). */
  readonly walletInputWeight: number;
  /** Length of the change / destination script (22 for P2WPKH). */
  readonly changeScriptLen: number;
}

/** The class an input is clustered in: inputs of different classes never share a transaction. */
export function classKey(i: Pick<CoreInput, 'spec' | 'channelSplit'>): string {
  const s = i.spec;
  const cls = s.parent !== undefined ? `cpfp:${s.outpoint}` : s.alone === true ? `alone:${s.outpoint}` : s.pairedOutput !== undefined ? 'paired' : 'self';
  // Pinnable inputs split by channel are kept apart per channel: one counterparty's pin must not hold the others.
  const pin = !s.pinnable ? 'u' : i.channelSplit === true ? `p:${channelOf(s)}` : 'p';
  return `${pin}|${s.locktime ?? 0}|${cls}`;
}

/**
 * Splits ready inputs into clusters (see the module comment). Deterministic: the same inputs give the same
 * clusters whatever their order.
 */
export function clusterInputs(inputs: readonly CoreInput[], opts: ClusterOptions): Cluster[] {
  const window = opts.window ?? 6;
  const maxInputs = opts.maxInputs ?? 500;
  const maxWeight = opts.maxWeight ?? MAX_STANDARD_WEIGHT;
  const byClass = new Map<string, { i: CoreInput; d: number }[]>();
  for (const i of inputs) {
    const k = classKey(i);
    let l = byClass.get(k);
    if (!l) byClass.set(k, (l = []));
    l.push({ i, d: deadlineOf(i) });
  }
  const out: Cluster[] = [];
  for (const k of [...byClass.keys()].sort()) {
    let rest = (byClass.get(k) as { i: CoreInput; d: number }[]).sort(
      (a, b) => a.d - b.d || (b.i.spec.budgetSat > a.i.spec.budgetSat ? 1 : b.i.spec.budgetSat < a.i.spec.budgetSat ? -1 : 0) ||
        (a.i.spec.outpoint < b.i.spec.outpoint ? -1 : 1),
    );
    while (rest.length > 0) {
      const first = rest[0] as { i: CoreInput; d: number };
      const members: CoreInput[] = [];
      const groups = new Set<string>();
      const spill: { i: CoreInput; d: number }[] = [];
      let weight = sweepWeight([], first.i.spec.parent || first.i.spec.pairedOutput ? 1 : 0, opts.walletInputWeight, opts.changeScriptLen);
      let idx = 0;
      for (; idx < rest.length; idx++) {
        const e = rest[idx] as { i: CoreInput; d: number };
        if (e.d > first.d + window || members.length >= maxInputs) break;
        const g = e.i.spec.exclusiveGroup;
        const w = inputWeight(e.i.spec) + (e.i.spec.pairedOutput ? 4 * outputSize(e.i.spec.pairedOutput.script.length / 2) : 0);
        if ((g !== undefined && groups.has(g)) || weight + w > maxWeight - 200) {
          spill.push(e);
          continue;
        }
        if (g !== undefined) groups.add(g);
        members.push(e.i);
        weight += w;
      }
      rest = [...spill, ...rest.slice(idx)].sort((a, b) => a.d - b.d || (a.i.spec.outpoint < b.i.spec.outpoint ? -1 : 1));
      const s0 = first.i.spec;
      out.push({
        inputs: members,
        deadline: first.d,
        locktime: s0.locktime ?? 0,
        wallet: needsWallet(s0),
        pinnable: s0.pinnable,
      });
    }
  }
  return out;
}

/**
 * Weight of a sweep of `inputs` plus `nWallet` wallet inputs, paying their paired outputs and one change output
 * (witness weights at their upper bound): 4 * non-witness size + 2 (segwit marker and flag) + witnesses.
 */
export function sweepWeight(inputs: readonly SweepInputSpec[], nWallet: number, walletInputWeight: number, changeScriptLen: number): number {
  const nIn = inputs.length + nWallet;
  let nOut = 1;
  let base = 4 + varintLen(nIn) + 4 + outputSize(changeScriptLen);
  let wit = 2;
  for (const s of inputs) {
    base += INPUT_BASE_WEIGHT / 4;
    wit += inputWeight(s) - INPUT_BASE_WEIGHT;
    if (s.pairedOutput !== undefined) {
      base += outputSize(s.pairedOutput.script.length / 2);
      nOut++;
    }
  }
  base += varintLen(nOut);
  return 4 * base + wit + nWallet * walletInputWeight;
}

/** Inputs in transaction order: paired inputs first (input i pays output i), then the rest by outpoint. */
export function orderInputs(inputs: readonly SweepInputSpec[]): SweepInputSpec[] {
  const paired = inputs.filter((s) => s.pairedOutput !== undefined);
  const rest = inputs.filter((s) => s.pairedOutput === undefined);
  const by = (a: SweepInputSpec, b: SweepInputSpec): number => (a.outpoint < b.outpoint ? -1 : a.outpoint > b.outpoint ? 1 : 0);
  return [...paired.sort(by), ...rest.sort(by)];
}

/** What a sweep of a cluster pays at a rate. */
export interface SweepAmounts {
  readonly weight: number;
  /** Fee the transaction pays (inputs - outputs), capped at the budget. */
  readonly feeSat: bigint;
  /** The package rate that fee buys (CPFP: parents included), sat/kw. */
  readonly rate: bigint;
  /** Value of the change output. */
  readonly changeSat: bigint;
  /**
   * The most fee the sweep may pay: the sum of the inputs' (effective) budgets, and for a sweep without wallet
   * coins no more than leaves its output at the dust limit (it pays for itself).
   */
  readonly budgetSat: bigint;
  /** The highest rate the budget (and max fee rate) allow, sat/kw: the fee function's end. */
  readonly capRate: bigint;
  /** Wallet money still needed for the change to reach the dust limit (0 if none). */
  readonly walletShortSat: bigint;
}

/**
 * The amounts of a sweep of `inputs` with `wallet` coins at package rate `ratePerKw`: the fee is capped at the
 * budget and at `maxRate`, and at least the relay floor of the transaction itself. Without wallet coins the fee is
 * also capped at inputs - paired outputs - the dust limit when that still pays the relay floor: a budget close to
 * the value then leaves a change just above dust instead of needing wallet money (an empty wallet would otherwise
 * keep such a sweep from ever being published).
 */
export function sweepAmounts(args: {
  readonly inputs: readonly SweepInputSpec[];
  readonly wallet: readonly LeasedUtxo[];
  /** Wallet coins to assume when `wallet` is empty but will be leased (weight estimate). */
  readonly nWallet?: number;
  readonly walletInputWeight: number;
  readonly changeScriptLen: number;
  readonly ratePerKw: bigint;
  readonly floorPerKw: bigint;
  readonly maxRatePerKw: bigint;
}): SweepAmounts {
  const nWallet = Math.max(args.wallet.length, args.nWallet ?? 0);
  const weight = sweepWeight(args.inputs, nWallet, args.walletInputWeight, args.changeScriptLen);
  const parents = args.inputs.flatMap((s) => (s.parent ? [s.parent] : []));
  let budget = 0n;
  let inSum = 0n;
  let paired = 0n;
  for (const s of args.inputs) {
    budget += effectiveBudget(s);
    inSum += s.valueSat;
    if (s.pairedOutput) paired += s.pairedOutput.valueSat;
  }
  for (const u of args.wallet) inSum += u.valueSat;
  const dust = dustLimit(args.changeScriptLen);
  if (nWallet === 0) {
    const room = inSum - paired - dust;
    if (room < budget && room >= feeAtRate(args.floorPerKw, weight)) budget = room;
  }
  const capRate = minBig(args.maxRatePerKw, packageRateForFee(budget, weight, parents));
  const rate = minBig(args.ratePerKw, capRate);
  let fee = minBig(packageFee(rate, weight, parents, args.floorPerKw), budget);
  fee = maxBig(fee, 0n);
  const change = inSum - paired - fee;
  return {
    weight,
    feeSat: fee,
    rate: packageRateForFee(fee, weight, parents),
    changeSat: change,
    budgetSat: budget,
    capRate,
    walletShortSat: change < dust ? dust - change : 0n,
  };
}

/**
 * The unsigned transaction: inputs in `orderInputs` order, then the wallet coins; paired outputs at their inputs'
 * indexes, then the change. Version 2 (CSV), locktime of the cluster.
 */
export function unsignedSweep(args: {
  readonly inputs: readonly SweepInputSpec[];
  readonly wallet: readonly LeasedUtxo[];
  readonly changeScript: string;
  readonly changeSat: bigint;
  readonly locktime: number;
}): Transaction {
  const tx = new Transaction();
  tx.version = 2;
  tx.locktime = args.locktime;
  const ordered = orderInputs(args.inputs);
  for (const s of ordered) {
    const [txid, vout] = s.outpoint.split(':') as [string, string];
    tx.addInput(reversed(fromHex(txid)), Number(vout), s.sequence ?? DEFAULT_SEQUENCE);
  }
  for (const u of args.wallet) {
    const [txid, vout] = u.outpoint.split(':') as [string, string];
    tx.addInput(reversed(fromHex(txid)), Number(vout), DEFAULT_SEQUENCE);
  }
  for (const s of ordered) if (s.pairedOutput) tx.addOutput(fromHex(s.pairedOutput.script), s.pairedOutput.valueSat);
  tx.addOutput(fromHex(args.changeScript), args.changeSat);
  return tx;
}
