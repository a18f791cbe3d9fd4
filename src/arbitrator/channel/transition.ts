/**
 * The ChannelArbitrator's transition function (contractcourt-spec.md 1.5 to 1.11): pure, synchronous, over the
 * unions of types.ts. Every (state, event) pair is handled explicitly, in one of three ways:
 *   - a step (next state, effects, records);
 *   - ignored: the same state and no effect (the runner writes nothing): blocks that mean nothing, duplicates;
 *   - refused: a request the state cannot take (force close while closing, a snapshot after our commitment was
 *     built), answered with a coded error and nothing written;
 *   - or, for an event that cannot happen in a consistent system (a resolver finishing before any was launched,
 *     the funding output spent by a second transaction), the Error state with the reason, visible to operators.
 *
 * Durable order (spec 1.11), with one SQLite transaction per step:
 *   - before our commitment is published: BroadcastCommit with its BroadcastTx outbox row (the channel takes no
 *     more updates from then on), dust HTLCs failed back in the same step;
 *   - on a confirmed close: close type, txid, height and the resolutions (ContractClosed), in one step;
 *   - entering WaitingFullResolution: the resolver rows (Step.records) in the same transaction as the state, and
 *     the trigger is the stored close type, never "chain" (lnd's restart hazard: spec 1.7).
 */
import { refuse, step, type JsonObject, type TransitionResult } from '../../fsm/index.js';
import {
  breachFailBacks,
  commitSetHtlcs,
  DEFAULT_DELTAS,
  htlcKey,
  localActions,
  mustGoOnChain,
  nextCutoff,
  preBroadcastFailBacks,
  remoteActions,
  type HtlcAction,
} from '../actions.js';
import type { HtlcFact, OutputResolution } from '../types.js';
import { resolverRecords } from './records.js';
import type {
  ArbEffect,
  ArbEvent,
  ArbState,
  ChannelFacts,
  CloseInfo,
  OpenArbState,
  ResolverRecord,
  SpendSeen,
  SupersedeRecord,
  UnresolvedClose,
} from './types.js';

/** The facts a transition may read besides the state and the event. */
export interface ArbEnv {
  readonly height: number;
}

type Result = TransitionResult<ArbState, ArbEffect>;

/** Decides what `event` does to the arbitrator in `state`. */
export function transition(state: ArbState, event: ArbEvent, env: ArbEnv): Result {
  switch (state.kind) {
    case 'Default':
    case 'BroadcastCommit':
    case 'CommitmentBroadcasted':
      return open(state, event, env);
    case 'CloseUnresolved':
      return closeUnresolved(state, event);
    case 'ContractClosed':
      return contractClosed(state, event);
    case 'WaitingFullResolution':
      return waiting(state, event);
    case 'FullyResolved':
      return fullyResolved(state, event);
    case 'Error':
      return errored(state, event);
  }
}

/** The next height at which a block means something to `state` (undefined: none). */
export function wakeHeight(state: ArbState): number | undefined {
  switch (state.kind) {
    case 'Default': {
      if (state.spend !== undefined) return state.spend.resolving === true ? undefined : confirmHeight(state.spend);
      if (state.facts === undefined) return undefined;
      return nextCutoff(state.facts.commitSet, new Set(state.facts.preimages), state.facts.deltas);
    }
    case 'BroadcastCommit':
    case 'CommitmentBroadcasted':
      return state.spend === undefined || state.spend.resolving === true ? undefined : confirmHeight(state.spend);
    default:
      return undefined;
  }
}

/** The event ContractClosed gives itself (Machine.pulse): continue to resolution, also after a restart. */
export function pulse(state: ArbState): ArbEvent | undefined {
  return state.kind === 'ContractClosed' ? { kind: 'Persisted' } : undefined;
}

const ignore = (state: ArbState): Result => step(state);

const toError = (state: ArbState, reason: string, close?: CloseInfo): Result =>
  step<ArbState, ArbEffect>(close === undefined ? { kind: 'Error', from: state.kind, reason } : { kind: 'Error', from: state.kind, reason, close });

const confirmHeight = (s: SpendSeen): number => s.height + s.depth - 1;

type OpenState = OpenArbState;

/** Default, BroadcastCommit, CommitmentBroadcasted: the funding output is not (confirmed) spent yet. */
function open(state: OpenState, event: ArbEvent, env: ArbEnv): Result {
  switch (event.kind) {
    case 'BlockConnected':
      return openBlock(state, event, env);
    case 'BlockDisconnected':
      // The spend's block (or one below it) is gone: forget it; the new chain delivers it again if it is there.
      if (state.spend !== undefined && state.spend.height >= event.height) return step(withSpend(state, undefined));
      return ignore(state);
    case 'ChannelUpdated':
      if (state.kind !== 'Default') return refuse('our commitment is being broadcast: the channel takes no more updates', 'COURT_E_CHANNEL_CLOSING');
      if (state.facts !== undefined && event.facts.snapshotSeq < state.facts.snapshotSeq) {
        return refuse(`snapshot ${event.facts.snapshotSeq} is older than ${state.facts.snapshotSeq}`, 'COURT_E_SNAPSHOT_CONFLICT');
      }
      // Never take an older local commitment than the one we would publish (it may be revoked): the node's
      // ordering contract, enforced here as well as at intake.
      if (state.facts !== undefined && event.facts.localNumber < state.facts.localNumber) {
        return refuse(`local commitment ${event.facts.localNumber} is older than ${state.facts.localNumber}`, 'COURT_E_SNAPSHOT_CONFLICT');
      }
      return takeFacts(state, event.facts, env);
    case 'ForceCloseRequested':
      if (state.kind !== 'Default') return refuse(`already force-closing (${state.kind})`, 'COURT_E_CHANNEL_CLOSING');
      if (state.spend !== undefined) return refuse(`the funding output is already spent by ${state.spend.txid}`, 'COURT_E_CHANNEL_CLOSING');
      if (state.facts === undefined) return refuse('no channel snapshot yet: nothing to broadcast', 'COURT_E_SNAPSHOT_INVALID');
      return goOnChain(state.facts, 'user', env, state.failed);
    case 'CloseConfirmed':
      return closeConfirmed(state, event);
    case 'CommitmentPublished':
      if (state.kind === 'BroadcastCommit') {
        return step({ kind: 'CommitmentBroadcasted', facts: state.facts, failed: state.failed, commitTxid: event.txid, ...spendOf(state) });
      }
      if (state.kind === 'CommitmentBroadcasted' && state.commitTxid === event.txid) return ignore(state);
      return toError(state, `commitment ${event.txid} reported published, but none was being broadcast`);
    case 'ResolverFinished':
      return toError(state, `resolver ${event.outpoint} finished before the channel closed`);
    case 'EffectFailed':
      // Our commitment not reaching the mempool is what an operator must see; other failures stay in the outbox.
      if (state.kind === 'BroadcastCommit' && event.effect === 'BroadcastTx') return step({ ...state, lastError: event.error });
      return ignore(state);
    case 'Persisted':
      return ignore(state);
    case 'ReclassifyRequested':
      return refuse(`the channel has no unresolved close (${state.kind})`, 'COURT_E_CLOSE_NOT_UNRESOLVED');
    case 'RevocationAdded':
      // The classifier reads the revocation store when a close comes. While one is being classified, its answer
      // may have read the store before this secret: classify it again (a breach answer then upgrades the close).
      if (state.spend?.resolving !== true) return ignore(state);
      return step<ArbState, ArbEffect>(withSpend(state, { ...state.spend, rechecks: (state.spend.rechecks ?? 0) + 1 }), [classify(state.spend, state.facts)]);
    case 'PreimageLearned': {
      const facts = withPreimage(state.facts, event.paymentHash);
      if (facts === undefined) return ignore(state);
      return state.kind === 'Default' ? takeFacts(state, facts, env) : step({ ...state, facts });
    }
  }
}

/**
 * The facts with one more preimage held (hashes kept sorted), or undefined when nothing changes: no facts yet, the
 * preimage already held, or no HTLC of the commit set with that hash (the routing index may name a channel whose
 * newer snapshot dropped the HTLC). The closed states keep the facts too: the close-time actions read them.
 */
function withPreimage(facts: ChannelFacts | undefined, paymentHash: string): ChannelFacts | undefined {
  if (facts === undefined || facts.preimages.includes(paymentHash)) return undefined;
  if (!commitSetHtlcs(facts.commitSet).some((h) => h.paymentHash === paymentHash)) return undefined;
  return { ...facts, preimages: [...facts.preimages, paymentHash].sort() };
}

/**
 * Default takes new facts (a snapshot, or a preimage learned) and applies the go-to-chain rule to them at once at
 * env.height: facts that arrive past a cutoff act in this step, not a block later. With a funding spend already
 * seen there is nothing to broadcast (the close is being confirmed), so the facts are only kept.
 */
function takeFacts(state: Extract<ArbState, { kind: 'Default' }>, facts: ChannelFacts, env: ArbEnv): Result {
  if (state.spend === undefined && mustGoOnChain(facts.commitSet, env.height, new Set(facts.preimages), facts.deltas)) {
    return goOnChain(facts, 'chain', env, state.failed);
  }
  return step({ ...state, facts });
}

function openBlock(state: OpenState, event: Extract<ArbEvent, { kind: 'BlockConnected' }>, env: ArbEnv): Result {
  if (event.spend !== undefined) {
    if (state.spend?.txid === event.spend.txid) return ignore(state);
    const depth = state.kind === 'Default' ? (state.facts?.closeDepth ?? 1) : state.facts.closeDepth;
    const seen: SpendSeen = { txid: event.spend.txid, txHex: event.spend.txHex, height: event.height, depth };
    return depth <= 1 ? resolveClose(state, seen) : step(withSpend(state, seen));
  }
  if (state.spend !== undefined) {
    if (state.spend.resolving === true || event.height < confirmHeight(state.spend)) return ignore(state);
    return resolveClose(state, state.spend);
  }
  if (state.kind !== 'Default' || state.facts === undefined) return ignore(state);
  const f = state.facts;
  if (!mustGoOnChain(f.commitSet, event.height, new Set(f.preimages), f.deltas)) return ignore(state);
  return goOnChain(f, 'chain', env, state.failed);
}

/** The ResolveClose effect that classifies funding spend `s` against the snapshot of `facts` (or the current one). */
function classify(s: { readonly txid: string; readonly txHex: string; readonly height: number }, facts?: ChannelFacts): ArbEffect {
  return { kind: 'ResolveClose', txid: s.txid, txHex: s.txHex, height: s.height, ...(facts === undefined ? {} : { snapshotSeq: facts.snapshotSeq }) };
}

function resolveClose(state: OpenState, seen: SpendSeen): Result {
  // Classify against the snapshot whose facts this state holds, so resolutions and chain actions agree.
  return step<ArbState, ArbEffect>(withSpend(state, { ...seen, resolving: true }), [classify(seen, state.facts)]);
}

function withSpend(state: OpenState, spend: SpendSeen | undefined): ArbState {
  const { spend: _old, ...rest } = state;
  return spend === undefined ? rest : { ...rest, spend };
}

const spendOf = (s: OpenState): { spend?: SpendSeen } => (s.spend === undefined ? {} : { spend: s.spend });

/**
 * Default -> BroadcastCommit: fail back dust HTLCs first (spec 1.5), then publish our commitment. Only dust that no
 * commitment could carry as an output, without a known preimage, is failed back before the broadcast (actions.ts
 * preBroadcastFailBacks); every other HTLC waits for the confirmed close. `already`: outgoing HTLCs failed back by
 * a close a reorg removed, not failed back again.
 */
function goOnChain(f: ChannelFacts, trigger: 'chain' | 'user', env: ArbEnv, already: readonly number[] = []): Result {
  const dust = preBroadcastFailBacks(f.commitSet, env.height, new Set(f.preimages), f.deltas).filter((h) => !already.includes(h.htlcId));
  const effects: ArbEffect[] = dust.map((htlc) => ({ kind: 'FailHtlcsUpstream', htlc, reason: 'dust' }));
  effects.push({ kind: 'NotifyNode', event: 'channelClosing', payload: { v: 1, stage: 'broadcasting', trigger, height: env.height } });
  effects.push({ kind: 'BroadcastTx', snapshotSeq: f.snapshotSeq, commitmentNumber: f.localNumber });
  const failed = [...new Set([...already, ...dust.map((h) => h.htlcId)])];
  return step({ kind: 'BroadcastCommit', trigger, facts: f, failed }, effects);
}

/**
 * The node-facing effects of HTLC actions that need no resolver, skipping outgoing HTLCs already failed back. A
 * dust outgoing HTLC whose preimage we hold is reported settled (the upstream HTLC is settled), never failed.
 */
function failBacks(actions: readonly HtlcAction[], failed: readonly number[], preimages: ReadonlySet<string>): ArbEffect[] {
  const out: ArbEffect[] = [];
  for (const { action, htlc } of actions) {
    if (htlc.direction === 'outgoing' && failed.includes(htlc.htlcId)) continue;
    if (action === 'failDust' && preimages.has(htlc.paymentHash)) out.push(htlcSettledEvent(htlc, 'dust'));
    else if (action === 'failDust') out.push({ kind: 'FailHtlcsUpstream', htlc, reason: 'dust' });
    else if (action === 'failDangling') out.push({ kind: 'FailHtlcsUpstream', htlc, reason: 'dangling' });
    else if (action === 'incomingDustFinal') out.push(htlcFailedEvent(htlc, 'incomingDust'));
  }
  return out;
}

/** An outgoing HTLC that cannot settle on chain but whose preimage we hold: the node settles it upstream. */
function htlcSettledEvent(h: HtlcFact, reason: 'dust' | 'breach'): ArbEffect {
  return {
    kind: 'NotifyNode',
    event: 'htlcSettledOnChain',
    payload: { v: 1, htlcId: h.htlcId, direction: h.direction, paymentHash: h.paymentHash, amountMsat: h.amountMsat, reason, upstream: true },
  };
}

function htlcFailedEvent(h: HtlcFact, reason: string): ArbEffect {
  return {
    kind: 'NotifyNode',
    event: 'htlcFailedOnChain',
    payload: { v: 1, htlcId: h.htlcId, direction: h.direction, paymentHash: h.paymentHash, amountMsat: h.amountMsat, reason },
  };
}

/** A classified close at its depth. */
function closeConfirmed(state: OpenState, event: Extract<ArbEvent, { kind: 'CloseConfirmed' }>): Result {
  // Only the spend we asked about counts: an answer about a spend a reorg removed is stale.
  if (state.spend?.txid !== event.txid || state.spend.resolving !== true) return ignore(state);
  if (event.resolutions === undefined && event.unresolved !== undefined) {
    return toUnresolved(withSpend(state, undefined) as OpenState, state.spend, event.unresolved, [], [], 1);
  }
  return toContractClosed(state, event, state.facts, state.failed ?? [], [], [], state.spend.txHex, state.kind !== 'Default');
}

/** A classified close with its resolutions: ContractClosed (or FullyResolved for a mutual close). */
function toContractClosed(
  state: ArbState,
  event: Extract<ArbEvent, { kind: 'CloseConfirmed' }>,
  facts: ChannelFacts | undefined,
  failed: readonly number[],
  claimed: readonly string[],
  unfinished: readonly string[],
  txHex: string,
  broadcasting: boolean,
): Result {
  const res = event.resolutions;
  if (res === undefined) return toError(state, `funding spent by ${event.txid}: the close was neither classified nor reported unresolved`);
  if (res.txid !== event.txid) return toError(state, `resolutions for ${res.txid} delivered for the spend ${event.txid}`);
  const close: CloseInfo = {
    type: res.closeType,
    txid: event.txid,
    height: event.height,
    ...(res.commitmentNumber === undefined ? {} : { commitmentNumber: res.commitmentNumber }),
    // Their close keeps its transaction: a revocation arriving later reclassifies it (a breach).
    ...(THEIRS.has(res.closeType) ? { txHex } : {}),
  };
  if (res.closeType === 'coop' && unfinished.length === 0) {
    return step<ArbState, ArbEffect>({ kind: 'FullyResolved', close }, [resolvedEvent(close)]);
  }
  const effects: ArbEffect[] = [
    res.closeType === 'breach'
      ? { kind: 'NotifyNode', event: 'breachDetected', payload: { v: 1, txid: close.txid, height: close.height, commitmentNumber: close.commitmentNumber ?? null } }
      : { kind: 'NotifyNode', event: 'channelClosing', payload: { v: 1, stage: 'confirmed', closeType: close.type, txid: close.txid, height: close.height } },
  ];
  const carried = { ...(claimed.length === 0 ? {} : { claimed, unfinished }), ...(broadcasting ? { broadcasting: true as const } : {}) };
  return step<ArbState, ArbEffect>(
    { kind: 'ContractClosed', ...(facts === undefined ? {} : { facts }), failed, close, resolutions: res, ...carried },
    effects,
  );
}

/** Resolver rows for the claims of an unresolved close not yet recorded (our static to_remote). */
function claimRecords(spend: SpendSeen, claims: readonly OutputResolution[], claimed: readonly string[]): ResolverRecord[] {
  return claims
    .filter((c) => !claimed.includes(c.outpoint))
    .map((c) => ({
      v: 1,
      kind: 'commitSweep',
      outpoint: c.outpoint,
      state: { v: 1, closeType: 'unresolved', closeTxid: spend.txid, closeHeight: spend.height, output: c as unknown as JsonObject, deadline: null, stage: 'launched' },
    }));
}

/** Enters (or stays in) CloseUnresolved: the node is told what is at stake; what we can claim is claimed now. */
function toUnresolved(
  prior: OpenState,
  spend: SpendSeen,
  u: UnresolvedClose,
  claimed: readonly string[],
  unfinished: readonly string[],
  attempts: number,
): Result {
  const records = claimRecords(spend, u.claims, claimed);
  const added = records.map((r) => r.outpoint);
  const { resolving: _r, ...seen } = spend;
  const effects: ArbEffect[] = [
    {
      kind: 'NotifyNode',
      event: 'closeUnresolved',
      payload: {
        v: 1,
        why: u.why,
        reason: u.reason,
        txid: spend.txid,
        height: spend.height,
        commitmentNumber: u.commitmentNumber ?? null,
        valueAtRiskSat: u.valueAtRiskSat,
        // The node answers an ourCommitment close with that commitment's snapshot.
        snapshotWanted: u.snapshotWanted ?? null,
      },
    },
  ];
  if (records.length > 0) effects.push({ kind: 'LaunchResolvers' });
  return step<ArbState, ArbEffect>(
    { kind: 'CloseUnresolved', prior, spend: seen, unresolved: u, claimed: [...claimed, ...added], unfinished: [...unfinished, ...added], attempts },
    effects,
    records,
  );
}

type UnresolvedState = Extract<ArbState, { kind: 'CloseUnresolved' }>;

/**
 * The facts of an older commitment of ours that confirmed (the node's answer), plus the outgoing HTLCs that only
 * newer commitments carried, filed as pending on their side: never on the confirmed commitment, they are failed
 * back as dangling (unless we hold their preimage) instead of being forgotten. Preimages of both are kept.
 */
function withNewerHtlcs(answer: ChannelFacts, newer: ChannelFacts | undefined): ChannelFacts {
  if (newer === undefined) return answer;
  const known = new Set(commitSetHtlcs(answer.commitSet).map(htlcKey));
  const extra = new Map<string, HtlcFact>();
  for (const h of commitSetHtlcs(newer.commitSet)) if (h.direction === 'outgoing' && !known.has(htlcKey(h))) extra.set(htlcKey(h), { ...h, dust: false });
  const preimages = [...new Set([...answer.preimages, ...newer.preimages])].sort();
  if (extra.size === 0) return { ...answer, preimages };
  return { ...answer, preimages, commitSet: { ...answer.commitSet, remotePending: [...(answer.commitSet.remotePending ?? []), ...extra.values()] } };
}


const sameUnresolved = (a: UnresolvedClose, b: UnresolvedClose): boolean =>
  a.why === b.why &&
  a.reason === b.reason &&
  a.commitmentNumber === b.commitmentNumber &&
  a.valueAtRiskSat === b.valueAtRiskSat &&
  a.snapshotWanted === b.snapshotWanted &&
  a.claims.length === b.claims.length;

/**
 * CloseUnresolved: the funding output is spent (confirmed) but courtd could not tell how to sweep it. It waits,
 * visibly, for what it lacks: the snapshot of that commitment of ours (ChannelUpdated, which may be OLDER than the
 * last one: the node is answering our request for exactly that commitment) or an operator's ReclassifyRequested.
 * Both classify the spend again. It never becomes FullyResolved on its own.
 */
function closeUnresolved(state: UnresolvedState, event: ArbEvent): Result {
  switch (event.kind) {
    case 'ChannelUpdated':
      return step<ArbState, ArbEffect>({ ...state, answer: event.facts, attempts: state.attempts + 1 }, [classify(state.spend, event.facts)]);
    case 'ReclassifyRequested': {
      if (event.accept !== true) {
        return step<ArbState, ArbEffect>({ ...state, attempts: state.attempts + 1 }, [classify(state.spend, state.answer ?? state.prior.facts)]);
      }
      if (state.unresolved.why !== 'unrecognised') {
        return refuse(`commitment ${state.unresolved.commitmentNumber ?? '?'} is ours: send its snapshot to sweep it`, 'COURT_E_CLOSE_NOT_ACCEPTABLE');
      }
      // The operator takes the spend as final: nothing more to claim; the claims made meanwhile still finish.
      const p = state.prior;
      const accepted: Extract<ArbEvent, { kind: 'CloseConfirmed' }> = {
        kind: 'CloseConfirmed',
        txid: state.spend.txid,
        height: state.spend.height,
        resolutions: { closeType: 'accepted', txid: state.spend.txid, htlcs: [] },
      };
      return toContractClosed(state, accepted, state.answer ?? p.facts, p.failed ?? [], state.claimed, state.unfinished, state.spend.txHex, p.kind !== 'Default');
    }
    case 'CloseConfirmed': {
      if (event.txid !== state.spend.txid) return ignore(state);
      if (event.resolutions !== undefined) {
        const p = state.prior;
        const facts = state.answer !== undefined && event.resolutions.closeType === 'local' ? withNewerHtlcs(state.answer, p.facts) : (state.answer ?? p.facts);
        return toContractClosed(state, event, facts, p.failed ?? [], state.claimed, state.unfinished, state.spend.txHex, p.kind !== 'Default');
      }
      if (event.unresolved === undefined || sameUnresolved(state.unresolved, event.unresolved)) return ignore(state);
      return toUnresolved(state.prior, state.spend, event.unresolved, state.claimed, state.unfinished, state.attempts);
    }
    case 'PreimageLearned': {
      // Kept for the close-time actions, in the facts the close will be resolved with and in the newest ones.
      const prior = withPreimage(state.prior.facts, event.paymentHash);
      const answer = withPreimage(state.answer, event.paymentHash);
      if (prior === undefined && answer === undefined) return ignore(state);
      return step({
        ...state,
        ...(prior === undefined ? {} : { prior: { ...state.prior, facts: prior } as OpenState }),
        ...(answer === undefined ? {} : { answer }),
      });
    }
    case 'ResolverFinished':
      if (!state.unfinished.includes(event.outpoint)) return ignore(state);
      return step({ ...state, unfinished: state.unfinished.filter((o) => o !== event.outpoint) });
    case 'BlockDisconnected': {
      // The spend is gone: back to watching the funding output with what we knew before it; the rows of the
      // claims made meanwhile are superseded in this step (their outputs are gone with it), so a spend that comes
      // back is classified and claimed afresh.
      if (state.spend.height < event.height) return ignore(state);
      // Had we gone on chain, our commitment is published again (it may confirm now).
      const p = state.prior;
      const again: ArbEffect[] = p.kind === 'Default' ? [] : [{ kind: 'BroadcastTx', snapshotSeq: p.facts.snapshotSeq, commitmentNumber: p.facts.localNumber }];
      if (state.claimed.length === 0) return step<ArbState, ArbEffect>(p, again);
      const record: SupersedeRecord = { v: 1, kind: 'supersedeResolvers', closeTxid: state.spend.txid, height: event.height };
      return step<ArbState, ArbEffect>(p, again, [record]);
    }
    case 'ForceCloseRequested':
      return refuse(`the funding output is spent by ${state.spend.txid}, which courtd could not resolve: ${state.unresolved.reason}`, 'COURT_E_CHANNEL_CLOSING');
    case 'RevocationAdded': // the ChainArbitrator sends a ReclassifyRequested instead
    case 'BlockConnected':
    case 'CommitmentPublished':
    case 'EffectFailed':
    case 'Persisted':
      return ignore(state);
  }
}

function resolvedEvent(close: CloseInfo): ArbEffect {
  return { kind: 'NotifyNode', event: 'channelResolved', payload: { v: 1, closeType: close.type, txid: close.txid, height: close.height } };
}

type ClosedState = Extract<ArbState, { kind: 'ContractClosed' }>;

function contractClosed(state: ClosedState, event: ArbEvent): Result {
  switch (event.kind) {
    case 'Persisted':
      return toResolution(state);
    case 'CloseConfirmed':
      return upgradeToBreach(state, event) ?? sameClose(state, state.close, event.txid);
    case 'RevocationAdded':
      return recheck(state, event.number);
    case 'ChannelUpdated':
    case 'ForceCloseRequested':
      return refuse(`the channel is closed (${state.close.type} close ${state.close.txid})`, 'COURT_E_CHANNEL_CLOSING');
    case 'ReclassifyRequested':
      return refuse(`the close ${state.close.txid} is already classified (${state.close.type})`, 'COURT_E_CLOSE_NOT_UNRESOLVED');
    case 'ResolverFinished':
      // A claim made while the close was unresolved may finish before its resolvers are all launched.
      if (state.unfinished?.includes(event.outpoint) === true) return step({ ...state, unfinished: state.unfinished.filter((o) => o !== event.outpoint) });
      if (state.claimed?.includes(event.outpoint) === true) return ignore(state);
      return toError(state, `resolver ${event.outpoint} finished before resolvers were launched`, state.close);
    case 'PreimageLearned': {
      const facts = withPreimage(state.facts, event.paymentHash);
      return facts === undefined ? ignore(state) : step({ ...state, facts });
    }
    case 'BlockDisconnected':
      return closeDisconnected(state, event);
    case 'CommitmentPublished':
    case 'BlockConnected':
    case 'EffectFailed':
      return ignore(state);
  }
}

/**
 * ContractClosed / WaitingFullResolution and the close's block (or one below it) disconnected: the close is gone
 * from the chain, so the channel goes back to watching its funding output and the new chain's spend is classified
 * afresh. Our own commitment had confirmed: BroadcastCommit, publishing it again (the reason we went on chain
 * still holds). Any other close: Default. The resolver rows of the removed close are superseded in this step
 * (SupersedeRecord), the node is told, and HTLCs already failed back upstream are kept so none is failed twice.
 */
function closeDisconnected(state: ClosedState | WaitingState, event: Extract<ArbEvent, { kind: 'BlockDisconnected' }>): Result {
  const { close } = state;
  if (event.height > close.height) return ignore(state);
  const facts = event.rollback?.facts ?? (state.kind === 'ContractClosed' ? state.facts : undefined);
  const failed = [...new Set([...(state.failed ?? []), ...(event.rollback?.failed ?? [])])].sort((a, b) => a - b);
  const record: SupersedeRecord = { v: 1, kind: 'supersedeResolvers', closeTxid: close.txid, height: event.height };
  const effects: ArbEffect[] = [
    {
      kind: 'NotifyNode',
      event: 'channelClosing',
      payload: { v: 1, stage: 'closeDisconnected', closeType: close.type, txid: close.txid, height: close.height, disconnectedHeight: event.height },
    },
  ];
  // Back to broadcasting if the removed close was our commitment, or if we had gone on chain before it confirmed.
  if ((close.type === 'local' || state.broadcasting === true) && facts !== undefined) {
    effects.push({ kind: 'BroadcastTx', snapshotSeq: facts.snapshotSeq, commitmentNumber: facts.localNumber });
    return step<ArbState, ArbEffect>({ kind: 'BroadcastCommit', trigger: 'chain', facts, failed }, effects, [record]);
  }
  const next: ArbState = { kind: 'Default', ...(facts === undefined ? {} : { facts }), ...(failed.length === 0 ? {} : { failed }) };
  return step<ArbState, ArbEffect>(next, effects, [record]);
}

/**
 * ContractClosed -> WaitingFullResolution (or FullyResolved if nothing is left): the chain actions of the
 * confirmed commitment, decided with the stored close type at the close height; resolver rows in this step.
 */
function toResolution(state: ClosedState): Result {
  const { close, resolutions: res, facts } = state;
  const set = facts?.commitSet ?? { local: [], remote: [] };
  const preimages = new Set(facts?.preimages ?? []);
  const deltas = facts?.deltas ?? DEFAULT_DELTAS;
  let actions: HtlcAction[] = [];
  const effects: ArbEffect[] = [];
  switch (close.type) {
    case 'local':
      actions = localActions(set, close.height, preimages, deltas, true);
      break;
    case 'remote':
    case 'remotePending':
      actions = remoteActions(set, close.type, close.height, preimages, deltas);
      break;
    case 'breach':
      for (const htlc of breachFailBacks(set)) {
        if (state.failed.includes(htlc.htlcId)) continue;
        effects.push(preimages.has(htlc.paymentHash) ? htlcSettledEvent(htlc, 'breach') : { kind: 'FailHtlcsUpstream', htlc, reason: 'breach' });
      }
      break;
    case 'future':
    case 'coop':
    case 'accepted':
      // Data loss: we do not know their HTLC set, so there is nothing to decide per HTLC (lnd does the same). An
      // accepted unrecognised spend leaves the channel's HTLCs to the node and the operator who accepted it.
      break;
  }
  effects.push(...failBacks(actions, state.failed, preimages));
  const claimed = state.claimed ?? [];
  const all = resolverRecords(close, res, actions);
  // Outputs claimed while the close was unresolved already have their rows (and may be finished).
  const records = all.records.filter((r) => !claimed.includes(r.outpoint));
  const missing = all.missing;
  const covered = new Set([...all.records.map((r) => r.outpoint), ...claimed]);
  const orphans = res.htlcs.filter((h) => !covered.has(h.outpoint) && !actions.some((a) => a.htlc.htlcId === h.htlc.htlcId && a.htlc.direction === h.htlc.direction));
  if (close.type !== 'breach' && orphans.length > 0) {
    return toError(state, `HTLC output(s) ${orphans.map((h) => h.outpoint).join(', ')} on ${close.txid} match no HTLC of the confirmed set`, close);
  }
  if (missing.length > 0) {
    const ids = missing.map((a) => `${a.htlc.direction} ${a.htlc.htlcId}`).join(', ');
    return toError(state, `no output resolution for non-dust HTLC(s) ${ids} on ${close.txid}`, close);
  }
  const unresolved = [...(state.unfinished ?? []), ...records.map((r) => r.outpoint)];
  if (unresolved.length === 0) return step<ArbState, ArbEffect>({ kind: 'FullyResolved', close }, [...effects, resolvedEvent(close)]);
  effects.push({ kind: 'LaunchResolvers' });
  return step<ArbState, ArbEffect>(
    THEIRS.has(close.type)
      ? {
          kind: 'WaitingFullResolution',
          close,
          unresolved,
          ...(facts === undefined ? {} : { facts }),
          failed: [...new Set([...state.failed, ...failedNow(effects)])],
          ...(state.broadcasting === true ? { broadcasting: true as const } : {}),
        }
      : { kind: 'WaitingFullResolution', close, unresolved, ...(state.broadcasting === true ? { broadcasting: true as const } : {}) },
    effects,
    records,
  );
}

const THEIRS: ReadonlySet<string> = new Set(['remote', 'remotePending']);

/**
 * A revocation for their commitment `number` arrived after their close of that commitment was classified: the
 * close is classified again from its stored transaction (the classifier now finds the secret: a breach).
 */
function recheck(state: ClosedState | WaitingState, number: number): Result {
  const c = state.close;
  if (!THEIRS.has(c.type) || c.commitmentNumber !== number || c.txHex === undefined) return ignore(state);
  return step<ArbState, ArbEffect>({ ...state, rechecks: (state.rechecks ?? 0) + 1 }, [classify({ txid: c.txid, txHex: c.txHex, height: c.height })]);
}

/**
 * Their close, classified again after a late revocation, is a breach: its resolver rows are superseded in this
 * step and the channel goes through ContractClosed again with the justice resolutions; the HTLCs already failed
 * back are kept, so none is failed back twice.
 */
function upgradeToBreach(state: ClosedState | WaitingState, event: Extract<ArbEvent, { kind: 'CloseConfirmed' }>): Result | undefined {
  const c = state.close;
  const res = event.resolutions;
  if (event.txid !== c.txid || res?.closeType !== 'breach' || !THEIRS.has(c.type)) return undefined;
  const close: CloseInfo = { type: 'breach', txid: c.txid, height: c.height, ...(res.commitmentNumber === undefined ? {} : { commitmentNumber: res.commitmentNumber }) };
  const record: SupersedeRecord = { v: 1, kind: 'supersedeResolvers', closeTxid: c.txid, height: c.height };
  const facts = state.facts;
  const failed = state.failed ?? [];
  const carried = {
    ...(state.broadcasting === true ? { broadcasting: true as const } : {}),
    ...(state.kind === 'ContractClosed' && state.claimed !== undefined ? { claimed: state.claimed, unfinished: state.unfinished ?? [] } : {}),
  };
  const notify: ArbEffect = {
    kind: 'NotifyNode',
    event: 'breachDetected',
    payload: { v: 1, txid: close.txid, height: close.height, commitmentNumber: close.commitmentNumber ?? null, late: true },
  };
  return step<ArbState, ArbEffect>(
    { kind: 'ContractClosed', ...(facts === undefined ? {} : { facts }), failed, close, resolutions: res, ...carried },
    [notify],
    [record],
  );
}

/** Outgoing HTLC ids a step's effects fail back upstream. */
function failedNow(effects: readonly ArbEffect[]): number[] {
  return effects.flatMap((e) => (e.kind === 'FailHtlcsUpstream' && e.htlc.direction === 'outgoing' ? [e.htlc.htlcId] : []));
}

function sameClose(state: ArbState, close: CloseInfo, txid: string): Result {
  if (txid === close.txid) return ignore(state);
  return toError(state, `funding output reported spent by ${txid}, but the channel closed with ${close.txid}`, close);
}

type WaitingState = Extract<ArbState, { kind: 'WaitingFullResolution' }>;

function waiting(state: WaitingState, event: ArbEvent): Result {
  switch (event.kind) {
    case 'ResolverFinished': {
      // A finish for an outpoint no longer listed is a redelivery (at-least-once): ignored.
      if (!state.unresolved.includes(event.outpoint)) return ignore(state);
      const unresolved = state.unresolved.filter((o) => o !== event.outpoint);
      if (unresolved.length === 0) return step<ArbState, ArbEffect>({ kind: 'FullyResolved', close: state.close }, [resolvedEvent(state.close)]);
      return step({ ...state, unresolved });
    }
    case 'CloseConfirmed':
      return upgradeToBreach(state, event) ?? sameClose(state, state.close, event.txid);
    case 'RevocationAdded':
      return recheck(state, event.number);
    case 'ChannelUpdated':
    case 'ForceCloseRequested':
      return refuse(`the channel is closed (${state.close.type} close ${state.close.txid})`, 'COURT_E_CHANNEL_CLOSING');
    case 'ReclassifyRequested':
      return refuse(`the close ${state.close.txid} is already classified (${state.close.type})`, 'COURT_E_CLOSE_NOT_UNRESOLVED');
    case 'BlockDisconnected':
      return closeDisconnected(state, event);
    case 'BlockConnected':
    case 'CommitmentPublished':
    case 'EffectFailed':
    case 'Persisted':
    case 'PreimageLearned': // the resolvers read the preimage table themselves
      return ignore(state);
  }
}

function fullyResolved(state: Extract<ArbState, { kind: 'FullyResolved' }>, event: ArbEvent): Result {
  switch (event.kind) {
    case 'ChannelUpdated':
    case 'ForceCloseRequested':
      return refuse(`the channel is fully resolved (${state.close.type} close ${state.close.txid})`, 'COURT_E_CHANNEL_CLOSING');
    case 'ReclassifyRequested':
      return refuse(`the close ${state.close.txid} is already classified (${state.close.type})`, 'COURT_E_CLOSE_NOT_UNRESOLVED');
    case 'CloseConfirmed':
      return sameClose(state, state.close, event.txid);
    case 'BlockConnected':
    case 'BlockDisconnected':
    case 'ResolverFinished':
    case 'CommitmentPublished':
    case 'EffectFailed':
    case 'Persisted':
    case 'PreimageLearned':
    case 'RevocationAdded':
      return ignore(state);
  }
}

function errored(state: Extract<ArbState, { kind: 'Error' }>, event: ArbEvent): Result {
  switch (event.kind) {
    case 'ChannelUpdated':
    case 'ForceCloseRequested':
    case 'CloseConfirmed':
    case 'ResolverFinished':
    case 'CommitmentPublished':
    case 'ReclassifyRequested':
      return refuse(`the arbitrator is in Error (from ${state.from}): ${state.reason}`, 'COURT_E_ARBITRATOR_ERROR');
    case 'BlockConnected':
    case 'BlockDisconnected':
    case 'EffectFailed':
    case 'Persisted':
    case 'PreimageLearned':
    case 'RevocationAdded':
      return ignore(state);
  }
}
