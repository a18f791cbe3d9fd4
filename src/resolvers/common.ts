/**
 * Pure helpers shared by the resolver kinds: budgets, finality, preimage extraction from a witness, and the
 * spend bookkeeping of one watched output (spent, undone, final).
 */
import { fromHex, sha256, toHex } from '../util/bytes.js';
import { FINAL_DEPTH, RESOLVER_FORMAT, type Budgets, type HtlcResolution, type InitRecord, type ReportRow, type ResolverBase, type ResolverEffect, type ResolverEvent, type SpendSeen, type StepResult } from './types.js';

/** `bps` basis points of `valueSat` (decimal strings), rounded down. */
export function share(valueSat: string, bps: number): string {
  return ((BigInt(valueSat) * BigInt(bps)) / 10_000n).toString();
}

/** Height at which a spend confirmed at `s.height` has FINAL_DEPTH confirmations. */
export function finalAt(s: { readonly height: number }): number {
  return s.height + FINAL_DEPTH - 1;
}

/** The 32-byte witness item whose SHA256 is `paymentHash` (hex), if any: a preimage revealed by a spend. */
export function findPreimage(witness: readonly string[], paymentHash: string): string | undefined {
  for (const item of witness) {
    if (item.length !== 64) continue;
    if (toHex(sha256(fromHex(item))) === paymentHash) return item;
  }
  return undefined;
}

/** The spend an event reports, as a stage records it. */
export function seen(e: Extract<ResolverEvent, { kind: 'Spend' }>): SpendSeen {
  return { txid: e.txid, height: e.height, inputIndex: e.inputIndex, ours: e.ours };
}

/** No change. */
export function same<R extends ResolverBase>(r: R): StepResult<R> {
  return { next: r, effects: [] };
}

/** A far deadline for inputs without one. */
export function farDeadline(from: number, b: Pick<Budgets, 'noDeadlineBlocks'>): number {
  return from + b.noDeadlineBlocks;
}

/** The effects that end a resolver. */
export function finish(reports: readonly ReportRow[], unwatch: readonly string[]): ResolverEffect[] {
  return [...reports.map((report) => ({ kind: 'Report' as const, report })), ...unwatch.map((outpoint) => ({ kind: 'Unwatch' as const, outpoint })), { kind: 'ResolverFinished' }];
}

/** "txid:vout" of output `vout` of `txid`. */
export function outpointOf(txid: string, vout: number): string {
  return `${txid}:${vout}`;
}

/**
 * The fields every resolver value starts with, taken from the arbitrator's record (in the order the persisted JSON
 * has always had them: format version, kind, then the record's close facts).
 */
export function baseOf<K extends ResolverBase['kind']>(kind: K, rec: InitRecord): Omit<ResolverBase, 'kind' | 'stage'> & { readonly kind: K } {
  return {
    v: RESOLVER_FORMAT,
    kind,
    chanPoint: rec.chanPoint,
    outpoint: rec.outpoint,
    format: rec.format,
    closeType: rec.closeType,
    closeTxid: rec.closeTxid,
    closeHeight: rec.closeHeight,
  };
}

/** The first value of an HTLC resolver (contest or claim) from the arbitrator's record: the HTLC and its deadline. */
export function htlcInit<K extends ResolverBase['kind'], S extends string>(kind: K, stage: S, rec: InitRecord) {
  return { ...baseOf(kind, rec), stage, output: rec.output as unknown as HtlcResolution, deadline: rec.deadline };
}
