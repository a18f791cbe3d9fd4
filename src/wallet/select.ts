/**
 * Coin selection for fee inputs (pure). Deterministic: the UTXOs already leased to the same sweep come first (a
 * replacement keeps spending what its predecessor spent, so the two conflict and no UTXO of a transaction still in
 * the mempool is freed for another sweep), then the free ones largest first, ties broken by outpoint; the first
 * prefix whose sum reaches the target is the answer. Largest-first spends the fewest inputs (the least weight a
 * sweep pays for) at the price of leaving small change outputs for later (D18).
 */

/** A candidate UTXO. */
export interface Candidate {
  readonly outpoint: string;
  readonly valueSat: bigint;
  /** Already leased to the lease being replaced. */
  readonly sameLease: boolean;
}

/** The candidates, in the order selection takes them. */
export function selectionOrder(candidates: readonly Candidate[]): Candidate[] {
  return [...candidates].sort((a, b) => {
    if (a.sameLease !== b.sameLease) return a.sameLease ? -1 : 1;
    if (a.valueSat !== b.valueSat) return a.valueSat > b.valueSat ? -1 : 1;
    return a.outpoint < b.outpoint ? -1 : a.outpoint > b.outpoint ? 1 : 0;
  });
}

/**
 * The shortest prefix of `ordered` (already in selection order) whose sum reaches `targetSat`, or undefined when
 * all of them together do not. Stops reading as soon as the target is reached (the wallet feeds it an index scan).
 */
export function takeUntil<T extends { readonly valueSat: bigint }>(ordered: Iterable<T>, targetSat: bigint): T[] | undefined {
  const out: T[] = [];
  let sum = 0n;
  if (targetSat <= 0n) return out;
  for (const c of ordered) {
    out.push(c);
    sum += c.valueSat;
    if (sum >= targetSat) return out;
  }
  return undefined;
}

/** The UTXOs covering `targetSat` (sum >= target), or undefined when all of them together do not. */
export function selectCoins(candidates: readonly Candidate[], targetSat: bigint): Candidate[] | undefined {
  return takeUntil(selectionOrder(candidates), targetSat);
}
