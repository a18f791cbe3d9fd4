/**
 * Chain actions (contractcourt-spec.md 1.7): when a channel must go on chain for its HTLCs, and what becomes of
 * each HTLC once it does. Pure decision functions over CommitSetFacts; no I/O, no clock.
 *
 * The go-to-chain rule: an outgoing HTLC goes on chain at `height >= cltvExpiry - outgoingDelta` (default 0: at
 * expiry, as lnd and Eclair); an incoming HTLC whose preimage we hold at `height >= cltvExpiry - incomingDelta`
 * (default 16). Incoming HTLCs without a preimage never force a close: there is nothing to claim. Unlike lnd, we
 * grant no uptime grace to locally originated payments (lnd's PaymentsExpirationGracePeriod defaults to 0 too).
 *
 * Dust HTLCs (no output on the commitment) go on chain with it too (lnd counts them in the rule): an expired dust
 * HTLC we offered still blocks its upstream HTLC until the channel closes and it is failed back.
 *
 * Failing back vs. the preimage: an outgoing HTLC whose preimage we hold is never failed back upstream (dust,
 * dangling or breach): the downstream was paid, so the upstream HTLC must be settled. The transition reports such
 * dust and breach HTLCs as settled (htlcSettledOnChain) instead; dangling ones are skipped as lnd does.
 */
import { CHAIN_ACTION, type ChainActionCode } from '../store/codes.js';
import type { CommitSetFacts, HtlcFact } from './types.js';

/** The broadcast deltas of the go-to-chain rule, in blocks. */
export interface ChainDeltas {
  readonly outgoing: number;
  readonly incoming: number;
}

/** lnd's defaults: outgoing at expiry, incoming with preimage 16 blocks before it. */
export const DEFAULT_DELTAS: ChainDeltas = Object.freeze({ outgoing: 0, incoming: 16 });

/** The chain actions the arbitrator produces (HtlcClaim is legacy and never produced). */
export type ChainAction = 'timeout' | 'failDust' | 'outgoingWatch' | 'incomingWatch' | 'incomingDustFinal' | 'failDangling';

/** Persisted code of each action (lnd's ChainAction numbers). */
export const CHAIN_ACTION_CODE: Readonly<Record<ChainAction, ChainActionCode>> = Object.freeze({
  timeout: CHAIN_ACTION.HtlcTimeout,
  failDust: CHAIN_ACTION.HtlcFailDust,
  outgoingWatch: CHAIN_ACTION.HtlcOutgoingWatch,
  incomingWatch: CHAIN_ACTION.HtlcIncomingWatch,
  incomingDustFinal: CHAIN_ACTION.HtlcIncomingDustFinal,
  failDangling: CHAIN_ACTION.HtlcFailDangling,
});

/** One HTLC and what to do with it. */
export interface HtlcAction {
  readonly action: ChainAction;
  readonly htlc: HtlcFact;
}

/** Checks deltas: non-negative integers below 2^16. */
export function checkDeltas(d: ChainDeltas): ChainDeltas {
  for (const [k, v] of Object.entries(d)) {
    if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw new RangeError(`chain delta ${k} must be an integer in 0..65535`);
  }
  return d;
}

/** The height at which `h` forces us on chain, or undefined if it never does (incoming without preimage). */
export function cutoffHeight(h: HtlcFact, preimages: ReadonlySet<string>, d: ChainDeltas): number | undefined {
  if (h.direction === 'outgoing') return Math.max(0, h.cltvExpiry - d.outgoing);
  // An incoming HTLC that is dust on our commitment cannot be claimed on chain: it never forces a close (a peer
  // could otherwise make us pay a force close for nothing).
  if (h.dust) return undefined;
  return preimages.has(h.paymentHash) ? Math.max(0, h.cltvExpiry - d.incoming) : undefined;
}

/** Whether `h` alone takes the channel on chain at `height`. */
export function shouldGoOnChain(h: HtlcFact, height: number, preimages: ReadonlySet<string>, d: ChainDeltas): boolean {
  const cutoff = cutoffHeight(h, preimages, d);
  return cutoff !== undefined && height >= cutoff;
}

/** An HTLC's identity across commitments: its direction and id. */
export const htlcKey = (h: HtlcFact): string => `${h.direction}:${h.htlcId}`;

/** Every HTLC of the commit set: ours, their current, their pending (an HTLC on several appears once per set). */
export const commitSetHtlcs = (set: CommitSetFacts): HtlcFact[] => [...set.local, ...set.remote, ...(set.remotePending ?? [])];

/** Outgoing HTLCs on `from` that `on` does not carry (same id and direction), skipping those whose preimage we know. */
function missingOutgoing(from: readonly HtlcFact[], on: readonly HtlcFact[], preimages: ReadonlySet<string>): HtlcFact[] {
  const present = new Set(on.map(htlcKey));
  return from.filter((h) => h.direction === 'outgoing' && !present.has(htlcKey(h)) && !preimages.has(h.paymentHash));
}

/**
 * Outgoing HTLCs on a remote commitment but not on our latest local one (lnd's "remote dangling"), deduplicated:
 * if our commitment confirms they can never be claimed on chain and must be failed back.
 */
export function danglingOutgoing(set: CommitSetFacts, preimages: ReadonlySet<string>): HtlcFact[] {
  const seen = new Set<string>();
  const out: HtlcFact[] = [];
  for (const h of [...missingOutgoing(set.remote, set.local, preimages), ...missingOutgoing(set.remotePending ?? [], set.local, preimages)]) {
    if (seen.has(htlcKey(h))) continue;
    seen.add(htlcKey(h));
    out.push(h);
  }
  return out;
}

/**
 * The lowest height at which some HTLC takes the channel on chain (the arbitrator's wake height), or undefined if
 * no HTLC ever will. Counts our local set and the remote dangling ones, as the local chain-action check does.
 */
export function nextCutoff(set: CommitSetFacts, preimages: ReadonlySet<string>, d: ChainDeltas): number | undefined {
  let min: number | undefined;
  for (const h of [...set.local, ...danglingOutgoing(set, preimages)]) {
    const c = cutoffHeight(h, preimages, d);
    if (c !== undefined && (min === undefined || c < min)) min = c;
  }
  return min;
}

/** Whether the channel must go on chain at `height` (lnd's checkLocalChainActions "toChain"). */
export function mustGoOnChain(set: CommitSetFacts, height: number, preimages: ReadonlySet<string>, d: ChainDeltas): boolean {
  const cutoff = nextCutoff(set, preimages, d);
  return cutoff !== undefined && height >= cutoff;
}

/** The action for each HTLC of the commitment that goes (or went) on chain. */
function commitActions(htlcs: readonly HtlcFact[], height: number, preimages: ReadonlySet<string>, d: ChainDeltas): HtlcAction[] {
  return htlcs.map((htlc) => {
    if (htlc.direction === 'outgoing') {
      if (htlc.dust) return { action: 'failDust', htlc };
      return { action: shouldGoOnChain(htlc, height, preimages, d) ? 'timeout' : 'outgoingWatch', htlc };
    }
    return { action: htlc.dust ? 'incomingDustFinal' : 'incomingWatch', htlc };
  });
}

/**
 * Actions when our commitment goes on chain (before broadcast: `confirmed` false) or confirmed (`confirmed`
 * true): every HTLC of our local set, plus the remote dangling outgoing HTLCs (failed back; before confirmation
 * only those already past their cutoff, as lnd does).
 */
export function localActions(set: CommitSetFacts, height: number, preimages: ReadonlySet<string>, d: ChainDeltas, confirmed: boolean): HtlcAction[] {
  const actions = commitActions(set.local, height, preimages, d);
  for (const htlc of danglingOutgoing(set, preimages)) {
    if (!confirmed && !shouldGoOnChain(htlc, height, preimages, d)) continue;
    actions.push({ action: htlc.dust ? 'failDust' : 'failDangling', htlc });
  }
  return actions;
}

/**
 * Actions when their commitment confirmed (`which` names the one): every HTLC of that set, plus outgoing HTLCs
 * only on the other remote set (never on chain now: failed back).
 */
export function remoteActions(
  set: CommitSetFacts,
  which: 'remote' | 'remotePending',
  height: number,
  preimages: ReadonlySet<string>,
  d: ChainDeltas,
): HtlcAction[] {
  const confirmed = which === 'remote' ? set.remote : (set.remotePending ?? []);
  const otherSet = which === 'remote' ? (set.remotePending ?? []) : set.remote;
  const actions = commitActions(confirmed, height, preimages, d);
  // Outgoing HTLCs their other commitment or our own carried but this one does not can never be claimed on chain.
  const seen = new Set<string>();
  for (const htlc of [...missingOutgoing(otherSet, confirmed, preimages), ...missingOutgoing(set.local, confirmed, preimages)]) {
    if (seen.has(htlcKey(htlc))) continue;
    seen.add(htlcKey(htlc));
    actions.push({ action: htlc.dust ? 'failDust' : 'failDangling', htlc });
  }
  return actions;
}

/**
 * The outgoing HTLCs failed back upstream BEFORE our commitment is broadcast: the candidates lnd fails early (dust
 * on our commitment; dust dangling ones already past their cutoff), kept only if no commitment that could still
 * confirm (ours, their current, their pending) carries them as an output and we do not hold their preimage.
 * An HTLC a commitment does not carry at all cannot be claimed on chain through that one either (if it confirms,
 * the close-time actions fail it back as dangling), so "absent" counts like "dust" there; a commitment carrying
 * it as a real output could let the peer claim it with the preimage, so that HTLC waits for the confirmed close
 * and the close-time actions decide. With the preimage we never fail back (the upstream HTLC must be settled).
 */
export function preBroadcastFailBacks(set: CommitSetFacts, height: number, preimages: ReadonlySet<string>, d: ChainDeltas): HtlcFact[] {
  const candidates = localActions(set, height, preimages, d, false)
    .filter((a) => a.action === 'failDust')
    .map((a) => a.htlc);
  const sets = [set.local, set.remote, ...(set.remotePending === undefined ? [] : [set.remotePending])];
  const outputOnSome = (h: HtlcFact): boolean => sets.some((s) => s.some((o) => htlcKey(o) === htlcKey(h) && !o.dust));
  return candidates.filter((h) => !preimages.has(h.paymentHash) && !outputOnSome(h));
}

/**
 * On a breach every outgoing HTLC of any remote set is failed back (deduplicated by id): none can settle on chain
 * now. The caller settles instead of failing those whose preimage it holds (see the header).
 */
export function breachFailBacks(set: CommitSetFacts): HtlcFact[] {
  const seen = new Set<number>();
  const out: HtlcFact[] = [];
  for (const h of [...set.remote, ...(set.remotePending ?? [])]) {
    if (h.direction !== 'outgoing' || seen.has(h.htlcId)) continue;
    seen.add(h.htlcId);
    out.push(h);
  }
  return out;
}
