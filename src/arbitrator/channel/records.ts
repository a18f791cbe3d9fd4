/**
 * Resolver records (ARCHITECTURE.md "ContractResolvers"): which resolvers a confirmed close needs, built from
 * the chain actions and the close's resolutions. Pure. Each record carries everything its resolver needs to resume
 * without any other table (lnd needs a "supplement" step after restart; we do not): the close it belongs to, the
 * output with its script, key locator and tweak, delays, the HTLC with its upstream deadline, and for our own
 * commitment the pre-signed second-level transaction.
 *
 * Resolver state format v1: { v, closeType, closeTxid, closeHeight, output, deadline, stage: 'launched' }.
 * `deadline` is the height by which the resolver's spend must confirm (null: none); the sweeper (next issue)
 * reads it. A breach has one breach resolver per output of the revoked commitment (to_local and every HTLC output),
 * keyed by that output, its state carrying the commitment's facts (number, point, second-level script, their CSV).
 */
import type { JsonObject } from '../../fsm/index.js';
import type { HtlcAction } from '../actions.js';
import type { CloseResolutions, HtlcResolution, OutputResolution } from '../types.js';
import type { CloseInfo, ResolverKindName, ResolverRecord } from './types.js';

/** Records for `actions` on `close`, or the HTLCs that have an on-chain action but no output resolution. */
export function resolverRecords(
  close: CloseInfo,
  res: CloseResolutions,
  actions: readonly HtlcAction[],
): { readonly records: ResolverRecord[]; readonly missing: HtlcAction[] } {
  const base = { closeType: close.type, closeTxid: close.txid, closeHeight: close.height };
  const make = (kind: ResolverKindName, outpoint: string, output: JsonObject, deadline: number | null): ResolverRecord => ({
    v: 1,
    kind,
    outpoint,
    state: { v: 1, ...base, output, deadline, stage: 'launched' },
  });
  const records: ResolverRecord[] = [];
  const missing: HtlcAction[] = [];
  if (res.commitOutput !== undefined) records.push(make('commitSweep', res.commitOutput.outpoint, asJson(res.commitOutput), null));
  if (res.anchor !== undefined) records.push(make('anchor', res.anchor.outpoint, asJson(res.anchor), null));
  if (res.breach !== undefined) {
    // One breach resolver per output of the revoked commitment (decision D20b), each with the commitment's facts.
    const { outputs, ...facts } = res.breach;
    for (const o of outputs) records.push(make('breach', o.outpoint, asJson({ ...o, ...facts }), null));
  }
  const byHtlc = new Map<string, HtlcResolution>(res.htlcs.map((h) => [`${h.htlc.direction}:${h.htlc.htlcId}`, h]));
  for (const a of actions) {
    const kind = resolverKind(a);
    if (kind === undefined) continue;
    const r = byHtlc.get(`${a.htlc.direction}:${a.htlc.htlcId}`);
    if (r === undefined) {
      missing.push(a);
      continue;
    }
    // Outgoing: the upstream incoming HTLC's expiry is what we must beat (none for our own payments); incoming:
    // our claim must confirm before the HTLC times out.
    const deadline = a.htlc.direction === 'outgoing' ? (a.htlc.upstreamExpiry ?? null) : a.htlc.cltvExpiry;
    records.push(make(kind, r.outpoint, asJson(r), deadline));
  }
  return { records, missing };
}

function resolverKind(a: HtlcAction): ResolverKindName | undefined {
  switch (a.action) {
    case 'timeout':
      return 'htlcTimeout';
    case 'outgoingWatch':
      return 'htlcOutgoingContest';
    case 'incomingWatch':
      return 'htlcIncomingContest';
    case 'failDust':
    case 'failDangling':
    case 'incomingDustFinal':
      return undefined;
  }
}

function asJson(o: OutputResolution | object): JsonObject {
  return o as unknown as JsonObject;
}
