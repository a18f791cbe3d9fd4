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

/** The UTXOs covering `targetSat` (sum >= target), or undefined when all of them together do not. */
export function selectCoins(candidates: readonly Candidate[], targetSat: bigint): Candidate[] | undefined {
  const out: Candidate[] = [];
  let sum = 0n;
  for (const c of selectionOrder(candidates)) {
    if (sum >= targetSat) break;
    out.push(c);
    sum += c.valueSat;
  }
  return sum >= targetSat ? out : undefined;
}
