/**
 * The sweeper's fee arithmetic (pure: no await, no clock, no DB). Fee rates are bigint sat per kw (1000 weight
 * units), fees bigint sat, heights plain numbers.
 *
 * Fee function (lnd's LinearFeeFunction with its deadline-tracking position): a set of inputs starts at height
 * `startHeight` with rate `start` (the estimate for the blocks left, or the operator's starting rate) and must
 * reach `end` = min(budget / weight, max fee rate) one block before its deadline (a transaction published then
 * confirms in the deadline block at the latest). The rate at any height is a function of the blocks left, never of
 * how many bumps were made: after a restart or a missed block the position is recomputed, not incremented.
 *
 * BIP125 (Core's replacement policy as the node applies it): a replacement pays at least the replaced fee plus the
 * incremental relay fee times its own vsize (rules 3 and 4), and a higher fee rate than the replaced transaction.
 */

/** Core's default incremental relay fee, 1 sat/vB, in sat/kw. */
export const INCREMENTAL_RELAY_PER_KW = 250n;
/** Blocks to the far target of an input without a deadline (lnd's sweeper.nodeadlineconftarget). */
export const NO_DEADLINE_TARGET = 1008;
/** Default upper bound of any sweep fee rate, sat/kw (lnd's sweeper.maxfeerate: 1000 sat/vB). */
export const DEFAULT_MAX_FEE_RATE_PER_KW = 250_000n;

/** fee = ceil(rate * weight / 1000): never a fraction of a sat below what the rate asks. */
export function feeAtRate(ratePerKw: bigint, weight: number): bigint {
  return (ratePerKw * BigInt(weight) + 999n) / 1000n;
}

/** The highest rate whose fee for `weight` is at most `fee`: floor(fee * 1000 / weight). */
export function rateForFee(feeSat: bigint, weight: number): bigint {
  return weight <= 0 ? 0n : (feeSat * 1000n) / BigInt(weight);
}

/** vsize as Core computes it: ceil(weight / 4). */
export function vsizeOf(weight: number): number {
  return Math.ceil(weight / 4);
}

/** The parameters of one fee function, as persisted with a sweep set. */
export interface FeeFunction {
  /** Rate at `startHeight`, sat/kw. */
  readonly start: bigint;
  /** Rate reached one block before `deadline` and never exceeded, sat/kw. */
  readonly end: bigint;
  readonly startHeight: number;
  readonly deadline: number;
}

/** Blocks left to the deadline at `height` (lnd's confTarget), at least 1. */
export function blocksLeft(deadline: number, height: number): number {
  return Math.max(1, deadline - height);
}

/**
 * The rate at `height`: start + (end - start) * position / width, with width = deadline - startHeight - 1 and
 * position = height - startHeight (lnd: width + 1 - confTarget); `end` once one block or fewer is left.
 * Never below `start` nor above `end` (when end < start, end wins: the budget is the hard limit).
 */
export function feeRateAt(f: FeeFunction, height: number): bigint {
  const width = f.deadline - f.startHeight - 1;
  if (f.end <= f.start || width <= 0 || f.deadline - height <= 1) return f.end;
  const position = Math.max(0, height - f.startHeight);
  if (position >= width) return f.end;
  return f.start + ((f.end - f.start) * BigInt(position)) / BigInt(width);
}

/**
 * The first height after `height` at which the fee function's rate reaches at least `rate` (the next replacement
 * the node would accept), or undefined if it never does (the cap is below it).
 */
export function heightReaching(f: FeeFunction, rate: bigint, height: number): number | undefined {
  if (f.end < rate) return undefined;
  // The rate only grows with the height; a binary search over [height + 1, deadline - 1] finds the first one.
  let lo = height + 1;
  let hi = Math.max(lo, f.deadline - 1);
  if (feeRateAt(f, hi) < rate) return undefined;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    if (feeRateAt(f, mid) >= rate) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** What a replacement must pay at least (BIP125 rules 3 and 4): the old fee plus incremental relay fee * vsize. */
export function minReplacementFee(oldFeeSat: bigint, newWeight: number, incrementalPerKw: bigint = INCREMENTAL_RELAY_PER_KW): bigint {
  return oldFeeSat + (incrementalPerKw * BigInt(vsizeOf(newWeight)) * 4n + 999n) / 1000n;
}

/** True if a transaction (newFee, newWeight) may replace one (oldFee, oldWeight) under BIP125 and Core's rate rule. */
export function acceptsReplacement(
  old: { readonly feeSat: bigint; readonly weight: number },
  next: { readonly feeSat: bigint; readonly weight: number },
  incrementalPerKw: bigint = INCREMENTAL_RELAY_PER_KW,
): boolean {
  if (next.feeSat < minReplacementFee(old.feeSat, next.weight, incrementalPerKw)) return false;
  // Fee rate strictly higher, compared by cross-multiplication (no division, no rounding).
  return next.feeSat * BigInt(old.weight) > old.feeSat * BigInt(next.weight);
}

/**
 * The fee of a sweep of `weight` at `rate` that must also lift unconfirmed parents (CPFP): the package
 * (parents + child) pays rate * total weight, the parents' own fees count; never below the child's own fee at
 * `floor` (it must relay by itself in a mempool that holds the parent).
 */
export function packageFee(
  ratePerKw: bigint,
  weight: number,
  parents: readonly { readonly weight: number; readonly feeSat: bigint }[],
  floorPerKw: bigint,
): bigint {
  let pw = 0;
  let pf = 0n;
  for (const p of parents) {
    pw += p.weight;
    pf += p.feeSat;
  }
  const need = feeAtRate(ratePerKw, weight + pw) - pf;
  const own = feeAtRate(floorPerKw, weight);
  return need > own ? need : own;
}

/** The highest package rate a fee of `feeSat` buys for a child of `weight` with these parents. */
export function packageRateForFee(feeSat: bigint, weight: number, parents: readonly { readonly weight: number; readonly feeSat: bigint }[]): bigint {
  let pw = 0;
  let pf = 0n;
  for (const p of parents) {
    pw += p.weight;
    pf += p.feeSat;
  }
  return rateForFee(feeSat + pf, weight + pw);
}

/**
 * The lowest package rate whose fee (packageFee without the floor) for a child of `weight` is at least `feeSat`:
 * ceil((fee + parents' fees) * 1000 / (weight + parents' weight)). Without parents: the child's own rate. Used to
 * turn "the node needs this fee for a replacement" into a position of the fee function, which is in package rates.
 */
export function packageRateForAtLeast(feeSat: bigint, weight: number, parents: readonly { readonly weight: number; readonly feeSat: bigint }[]): bigint {
  let pw = 0;
  let pf = 0n;
  for (const p of parents) {
    pw += p.weight;
    pf += p.feeSat;
  }
  const w = BigInt(weight + pw);
  return w <= 0n ? 0n : ((feeSat + pf) * 1000n + w - 1n) / w;
}

/** min of bigints. */
export function minBig(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}

/** max of bigints. */
export function maxBig(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}
