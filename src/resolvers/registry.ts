/**
 * The resolver kinds by name and by persisted code (resolver.kind, RESOLVER_KIND in src/store/codes.ts). A new
 * kind is one file exporting a ResolverKindDef and one entry here; `breach` is built apart (src/resolvers/breach.ts)
 * and plugs in the same way. A row whose kind has no definition is left alone by the runner (and shown as such).
 */
import { RESOLVER_KIND } from '../store/codes.js';
import { anchor } from './anchor.js';
import { breach } from './breach.js';
import { commitSweep } from './commit-sweep.js';
import { htlcIncomingContest } from './htlc-incoming-contest.js';
import { htlcOutgoingContest } from './htlc-outgoing-contest.js';
import { htlcSuccess } from './htlc-success.js';
import { htlcTimeout } from './htlc-timeout.js';
import type { ResolverBase, ResolverKind, ResolverKindDef } from './types.js';

/** Every kind this build can run. */
export const RESOLVER_KINDS: Readonly<Partial<Record<ResolverKind, ResolverKindDef<ResolverBase>>>> = Object.freeze({
  commitSweep: commitSweep as unknown as ResolverKindDef<ResolverBase>,
  anchor: anchor as unknown as ResolverKindDef<ResolverBase>,
  htlcOutgoingContest: htlcOutgoingContest as unknown as ResolverKindDef<ResolverBase>,
  htlcTimeout: htlcTimeout as unknown as ResolverKindDef<ResolverBase>,
  htlcIncomingContest: htlcIncomingContest as unknown as ResolverKindDef<ResolverBase>,
  htlcSuccess: htlcSuccess as unknown as ResolverKindDef<ResolverBase>,
  breach: breach as unknown as ResolverKindDef<ResolverBase>,
});

export const KIND_CODE: Readonly<Record<ResolverKind, number>> = Object.freeze({
  htlcTimeout: RESOLVER_KIND.HtlcTimeout,
  htlcSuccess: RESOLVER_KIND.HtlcSuccess,
  htlcOutgoingContest: RESOLVER_KIND.HtlcOutgoingContest,
  htlcIncomingContest: RESOLVER_KIND.HtlcIncomingContest,
  commitSweep: RESOLVER_KIND.CommitSweep,
  breach: RESOLVER_KIND.Breach,
  anchor: RESOLVER_KIND.Anchor,
});

const BY_CODE = new Map<number, ResolverKind>(Object.entries(KIND_CODE).map(([k, c]) => [c, k as ResolverKind]));

/** The kind name of a persisted code (undefined for a code this build does not know). */
export function kindOfCode(code: number): ResolverKind | undefined {
  return BY_CODE.get(code);
}

/** The definition of a kind, if this build has one. */
export function definition(kind: ResolverKind): ResolverKindDef<ResolverBase> | undefined {
  return RESOLVER_KINDS[kind];
}
