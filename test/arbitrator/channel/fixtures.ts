/**
 * Fixtures for the ChannelArbitrator's pure tests: HTLC and ChannelFacts builders, CloseResolutions for every close
 * type (one HtlcResolution per non-dust HTLC of the confirmed set), one or more sample states of every ArbState
 * kind, one sample event of every ArbEvent kind and one sample effect of every ArbEffect kind. The sample maps are
 * typed over the kind unions, so a new kind does not compile until it has a sample.
 *
 * Heights: samples sit around HEIGHT (1000); the sample HTLCs expire at 1100 and later, so a block at HEIGHT + 1 is
 * below every cutoff. Every sample close is SPEND_TXID confirmed at HEIGHT + 2 (its depth is 3).
 */
import type { ChainDeltas } from '../../../src/arbitrator/actions.js';
import type {
  ArbEffect,
  ArbEffectKind,
  ArbEvent,
  ArbEventKind,
  ArbState,
  ArbStateKind,
  ChannelFacts,
  CloseInfo,
  SpendSeen,
} from '../../../src/arbitrator/channel/types.js';
import type { BreachResolution, CloseResolutions, CloseType, HtlcFact, HtlcResolution, OutputResolution } from '../../../src/arbitrator/types.js';

export const HEIGHT = 1000;

/** A display-order txid made of one repeated byte. */
export const txid = (byte: number): string => byte.toString(16).padStart(2, '0').repeat(32);

/** The funding spend of the samples (and the txid of every sample close). */
export const SPEND_TXID = txid(0xaa);
/** Our commitment, as BroadcastTx publishes it. */
export const COMMIT_TXID = txid(0xcc);
/** A transaction the samples never saw. */
export const OTHER_TXID = txid(0xee);
export const SPEND_HEX = `02000000000101${'ab'.repeat(40)}00000000`;

/** A payment hash unique to `n`. */
export const paymentHash = (n: number): string => (n + 1).toString(16).padStart(8, '0').repeat(8);

export interface HtlcOptions {
  readonly dust?: boolean;
  readonly amountMsat?: string;
  readonly upstreamExpiry?: number;
  readonly paymentHash?: string;
}

export function htlc(direction: HtlcFact['direction'], htlcId: number, cltvExpiry: number, opts: HtlcOptions = {}): HtlcFact {
  return {
    htlcId,
    direction,
    amountMsat: opts.amountMsat ?? (opts.dust === true ? '300000' : '50000000'),
    paymentHash: opts.paymentHash ?? paymentHash(htlcId),
    cltvExpiry,
    dust: opts.dust ?? false,
    ...(opts.upstreamExpiry === undefined ? {} : { upstreamExpiry: opts.upstreamExpiry }),
  };
}

/** An HTLC we offered. */
export const outgoing = (htlcId: number, cltvExpiry: number, opts: HtlcOptions = {}): HtlcFact => htlc('outgoing', htlcId, cltvExpiry, opts);
/** An HTLC they offered. */
export const incoming = (htlcId: number, cltvExpiry: number, opts: HtlcOptions = {}): HtlcFact => htlc('incoming', htlcId, cltvExpiry, opts);

export const DEFAULT_TEST_DELTAS: ChainDeltas = { outgoing: 0, incoming: 16 };

export interface FactsOptions {
  readonly snapshotSeq?: number;
  readonly localNumber?: number;
  readonly local?: readonly HtlcFact[];
  readonly remote?: readonly HtlcFact[];
  /** Absent: no pending remote commitment (the key is left out, not set to undefined). */
  readonly remotePending?: readonly HtlcFact[];
  readonly preimages?: readonly string[];
  readonly closeDepth?: number;
  readonly deltas?: ChainDeltas;
}

export function channelFacts(o: FactsOptions = {}): ChannelFacts {
  return {
    snapshotSeq: o.snapshotSeq ?? 7,
    localNumber: o.localNumber ?? 42,
    commitSet: {
      local: o.local ?? [],
      remote: o.remote ?? [],
      ...(o.remotePending === undefined ? {} : { remotePending: o.remotePending }),
    },
    preimages: o.preimages ?? [],
    closeDepth: o.closeDepth ?? 3,
    deltas: o.deltas ?? DEFAULT_TEST_DELTAS,
  };
}

/**
 * The HTLC sets every table test starts from:
 *   local:          outgoing 1 (1100, upstream 1140), outgoing 2 dust (1100), incoming 3 (1200), incoming 4 dust (1200)
 *   remote:         the same, plus outgoing 5 (1150): "dangling" on our commitment
 *   remote pending: remote, plus outgoing 6 (1160)
 * The earliest cutoff is 1100; no preimage is known.
 */
export const OUT1 = outgoing(1, 1100, { upstreamExpiry: 1140 });
export const OUT2_DUST = outgoing(2, 1100, { dust: true });
export const IN3 = incoming(3, 1200);
export const IN4_DUST = incoming(4, 1200, { dust: true });
export const OUT5_DANGLING = outgoing(5, 1150);
export const OUT6_PENDING = outgoing(6, 1160);

export const RICH_FACTS: ChannelFacts = channelFacts({
  local: [OUT1, OUT2_DUST, IN3, IN4_DUST],
  remote: [OUT1, OUT2_DUST, IN3, IN4_DUST, OUT5_DANGLING],
  remotePending: [OUT1, OUT2_DUST, IN3, IN4_DUST, OUT5_DANGLING, OUT6_PENDING],
});

/** The HTLC set a close confirms (none for coop, breach and future: we do not know theirs or there is none). */
export function confirmedSet(facts: ChannelFacts | undefined, type: CloseType): readonly HtlcFact[] {
  if (facts === undefined) return [];
  switch (type) {
    case 'local':
      return facts.commitSet.local;
    case 'remote':
      return facts.commitSet.remote;
    case 'remotePending':
      return facts.commitSet.remotePending ?? [];
    case 'breach':
    case 'future':
    case 'coop':
    case 'accepted':
      return [];
  }
}

const p2wsh = (byte: number): string => `0020${byte.toString(16).padStart(2, '0').repeat(32)}`;
const POINT = `02${'79'.repeat(32)}`;

function output(outpoint: string, amountSat: string, csvDelay: number, index: number): OutputResolution {
  return { outpoint, amountSat, scriptPubKey: p2wsh(index), witnessScript: `51${'ad'.repeat(4)}`, key: { family: 3, index, tweakPoint: POINT }, csvDelay };
}

/** The HtlcResolution of `h` at `outpoint` on a close of `type` (our commitment carries a second-level tx). */
export function htlcResolution(type: CloseType, h: HtlcFact, outpoint: string): HtlcResolution {
  const amountSat = String(Math.floor(Number(h.amountMsat) / 1000));
  const base: HtlcResolution = { ...output(outpoint, amountSat, type === 'local' ? 0 : 1, 10 + h.htlcId), htlc: h };
  if (type !== 'local') return base;
  return {
    ...base,
    secondLevel: {
      kind: h.direction === 'outgoing' ? 'timeout' : 'success',
      txHex: `02000000${'00'.repeat(30)}`,
      remoteSignature: 'cd'.repeat(64),
      remoteSighashType: 1,
      outputScript: `63${'ab'.repeat(10)}68`,
      outputSat: String(Number(amountSat) - 500),
      csvDelay: 144,
      key: { family: 4, index: 0, tweakPoint: POINT },
    },
  };
}

export interface ResolutionOptions {
  readonly txid?: string;
  readonly facts?: ChannelFacts;
  readonly commitmentNumber?: number;
  /** Our main output on the close (default: present except for coop). */
  readonly commitOutput?: boolean;
  /** Our anchor on the close (default: absent). */
  readonly anchor?: boolean;
  /** Replaces the HTLC resolutions derived from the facts. */
  readonly htlcs?: readonly HtlcResolution[];
}

/** Outpoint numbering of the resolutions below: commit output 0, anchor 1, HTLCs from 2 in set order. */
export const commitOutpoint = (tx = SPEND_TXID): string => `${tx}:0`;
export const anchorOutpoint = (tx = SPEND_TXID): string => `${tx}:1`;

/**
 * What a confirmed close of `type` leaves us, matching `facts`: one HtlcResolution per non-dust HTLC of the
 * confirmed set (outpoints `txid:2`, `txid:3`, ... in set order), a breach resolution over their outputs for breach.
 */
export function closeResolutions(type: CloseType, o: ResolutionOptions = {}): CloseResolutions {
  const tx = o.txid ?? SPEND_TXID;
  const facts = o.facts ?? RICH_FACTS;
  let vout = 2;
  const htlcs =
    o.htlcs ??
    confirmedSet(facts, type)
      .filter((h) => !h.dust)
      .map((h) => htlcResolution(type, h, `${tx}:${vout++}`));
  const withCommit = o.commitOutput ?? type !== 'coop';
  const res: CloseResolutions = {
    closeType: type,
    txid: tx,
    ...(type === 'coop' ? {} : { commitmentNumber: o.commitmentNumber ?? 42 }),
    ...(withCommit ? { commitOutput: output(commitOutpoint(tx), '400000', type === 'local' ? 144 : 1, 1) } : {}),
    ...(o.anchor === true ? { anchor: output(anchorOutpoint(tx), '330', 0, 2) } : {}),
    htlcs,
  };
  return type === 'breach' ? { ...res, breach: breachResolution(tx, facts) } : res;
}

function breachResolution(tx: string, facts: ChannelFacts): BreachResolution {
  let vout = 2;
  return {
    commitmentNumber: 41,
    perCommitmentPoint: POINT,
    outputs: [
      { ...output(`${tx}:${vout++}`, '700000', 0, 3), kind: 'to_local' },
      ...facts.commitSet.remote
        .filter((h) => !h.dust)
        .map((h) => ({
          ...output(`${tx}:${vout++}`, String(Math.floor(Number(h.amountMsat) / 1000)), 0, 20 + h.htlcId),
          kind: h.direction === 'outgoing' ? ('received_htlc' as const) : ('offered_htlc' as const),
          htlc: h,
        })),
    ],
    secondLevelScript: `6321${'02' + 'ab'.repeat(32)}67${'ef'.repeat(10)}68`, // to_local-shaped: OP_IF <revocation pubkey> OP_ELSE ... OP_ENDIF
    theirToSelfDelay: 144,
  };
}

/** A spend of the funding output seen at HEIGHT, waiting for depth 3 (confirmed at HEIGHT + 2). */
export const SPEND_SEEN: SpendSeen = { txid: SPEND_TXID, txHex: SPEND_HEX, height: HEIGHT, depth: 3 };
export const SPEND_RESOLVING: SpendSeen = { ...SPEND_SEEN, resolving: true };

/** The close of every sample closed state: our commitment, confirmed at HEIGHT + 2. */
export const LOCAL_CLOSE: CloseInfo = { type: 'local', txid: SPEND_TXID, height: HEIGHT + 2, commitmentNumber: 42 };

/** What going on chain with RICH_FACTS failed back before the broadcast: the dust HTLC we offered (outgoing 2). */
export const DUST_FAILED: readonly number[] = [OUT2_DUST.htlcId];

/** The unresolved resolver outpoints of the WaitingFullResolution sample. */
export const UNRESOLVED: readonly string[] = [commitOutpoint(), `${SPEND_TXID}:2`];

type StateSamples = { readonly [K in ArbStateKind]: Readonly<Record<string, Extract<ArbState, { kind: K }>>> };
type EventSamples = { readonly [K in ArbEventKind]: Extract<ArbEvent, { kind: K }> };
type EffectSamples = { readonly [K in ArbEffectKind]: Extract<ArbEffect, { kind: K }> };

/** Named sample states, by kind: several for Default (no facts, facts, spend seen, spend resolving). */
export const STATE_SAMPLES = {
  Default: {
    empty: { kind: 'Default' },
    facts: { kind: 'Default', facts: RICH_FACTS },
    spendSeen: { kind: 'Default', facts: RICH_FACTS, spend: SPEND_SEEN },
    spendResolving: { kind: 'Default', facts: RICH_FACTS, spend: SPEND_RESOLVING },
  },
  BroadcastCommit: {
    user: { kind: 'BroadcastCommit', trigger: 'user', facts: RICH_FACTS, failed: DUST_FAILED },
    chainFailing: { kind: 'BroadcastCommit', trigger: 'chain', facts: RICH_FACTS, failed: DUST_FAILED, lastError: 'min relay fee not met' },
  },
  CommitmentBroadcasted: {
    published: { kind: 'CommitmentBroadcasted', facts: RICH_FACTS, failed: DUST_FAILED, commitTxid: COMMIT_TXID },
    spendResolving: { kind: 'CommitmentBroadcasted', facts: RICH_FACTS, failed: DUST_FAILED, commitTxid: COMMIT_TXID, spend: SPEND_RESOLVING },
  },
  CloseUnresolved: {
    ourCommitment: {
      kind: 'CloseUnresolved',
      prior: { kind: 'Default', facts: RICH_FACTS },
      spend: SPEND_SEEN,
      unresolved: { why: 'ourCommitment', reason: 'our commitment 43 (newer than our snapshot) confirmed', commitmentNumber: 43, valueAtRiskSat: '700000', claims: [] },
      claimed: [],
      unfinished: [],
      attempts: 1,
    },
    claiming: {
      kind: 'CloseUnresolved',
      prior: { kind: 'CommitmentBroadcasted', facts: RICH_FACTS, failed: DUST_FAILED, commitTxid: COMMIT_TXID },
      spend: SPEND_SEEN,
      unresolved: { why: 'unrecognised', reason: 'a commitment of theirs matching no state we know', commitmentNumber: 40, valueAtRiskSat: '90000', claims: [] },
      claimed: [commitOutpoint()],
      unfinished: [commitOutpoint()],
      attempts: 2,
    },
  },
  ContractClosed: {
    local: { kind: 'ContractClosed', facts: RICH_FACTS, failed: DUST_FAILED, close: LOCAL_CLOSE, resolutions: closeResolutions('local') },
  },
  WaitingFullResolution: {
    twoLeft: { kind: 'WaitingFullResolution', close: LOCAL_CLOSE, unresolved: UNRESOLVED },
  },
  FullyResolved: {
    local: { kind: 'FullyResolved', close: LOCAL_CLOSE },
  },
  Error: {
    afterClose: { kind: 'Error', from: 'ContractClosed', reason: 'no output resolution for non-dust HTLC(s) outgoing 1', close: LOCAL_CLOSE },
  },
} satisfies StateSamples;

export interface NamedState {
  /** "<kind>/<variant>", e.g. "Default/spendSeen". */
  readonly name: string;
  readonly state: ArbState;
}

/** Every sample state, flattened, in kind order. */
export function sampleStates(): NamedState[] {
  const all: StateSamples = STATE_SAMPLES;
  return (Object.keys(all) as ArbStateKind[]).flatMap((kind) =>
    Object.entries(all[kind] as Readonly<Record<string, ArbState>>).map(([variant, state]) => ({ name: `${kind}/${variant}`, state })),
  );
}

/** One sample event of every kind (the ones that name a txid or outpoint name the samples' own). */
export const EVENT_SAMPLES: EventSamples = {
  BlockConnected: { kind: 'BlockConnected', height: HEIGHT + 1, hash: 'b1'.repeat(32) },
  BlockDisconnected: { kind: 'BlockDisconnected', height: HEIGHT, hash: 'b0'.repeat(32) },
  ChannelUpdated: { kind: 'ChannelUpdated', facts: { ...RICH_FACTS, snapshotSeq: RICH_FACTS.snapshotSeq + 1, localNumber: 43 } },
  ForceCloseRequested: { kind: 'ForceCloseRequested' },
  CloseConfirmed: { kind: 'CloseConfirmed', txid: SPEND_TXID, height: HEIGHT + 2, resolutions: closeResolutions('local') },
  ResolverFinished: { kind: 'ResolverFinished', outpoint: UNRESOLVED[0] as string },
  EffectFailed: { kind: 'EffectFailed', outboxId: 3, effect: 'BroadcastTx', error: 'COURT_E_CHAIN_RPC: min relay fee not met' },
  CommitmentPublished: { kind: 'CommitmentPublished', txid: COMMIT_TXID },
  Persisted: { kind: 'Persisted' },
  ReclassifyRequested: { kind: 'ReclassifyRequested' },
  PreimageLearned: { kind: 'PreimageLearned', paymentHash: IN3.paymentHash },
  RevocationAdded: { kind: 'RevocationAdded', number: 42 },
};

/** One sample effect of every kind. */
export const EFFECT_SAMPLES: EffectSamples = {
  BroadcastTx: { kind: 'BroadcastTx', snapshotSeq: 7, commitmentNumber: 42 },
  NotifyNode: { kind: 'NotifyNode', event: 'channelClosing', payload: { v: 1, stage: 'confirmed', closeType: 'local', txid: SPEND_TXID, height: HEIGHT + 2 } },
  FailHtlcsUpstream: { kind: 'FailHtlcsUpstream', htlc: OUT2_DUST, reason: 'dust' },
  LaunchResolvers: { kind: 'LaunchResolvers' },
  ResolveClose: { kind: 'ResolveClose', txid: SPEND_TXID, txHex: SPEND_HEX, height: HEIGHT },
};

/** Freezes `value` and everything reachable from it (a transition that mutates its input then throws). */
export function deepFreeze<T>(value: T, seen = new WeakSet<object>()): T {
  if (typeof value === 'object' && value !== null && !seen.has(value)) {
    seen.add(value);
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v, seen);
  }
  return value;
}
