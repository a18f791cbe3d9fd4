/**
 * ChainArbitrator: the supervisor of every ChannelArbitrator (ARCHITECTURE.md "The machines"; style.md principle 9).
 *
 * - Start-up reads every unresolved channel in ONE read transaction as plain columns (chan_point, state code,
 *   wake height, spend height hint, pending-outbox flag) and builds a wake queue by height. No JSON is decoded and
 *   no runner is built at start: an idle channel costs one small map entry and one spend watch.
 * - Funding spends are the chain layer's job (one owner for spend and reorg tracking): every channel not yet
 *   resolved has a spend watch on its funding outpoint (ChainWatches), registered with the snapshot's funding
 *   height hint (the close height once closed) and a one-time rescan from it, so a channel registered after its
 *   funding output was spent, or closed while courtd was down, is found; the rescan's gettxout also reconciles
 *   every open channel against the node at start. A watch event reaches only its channel: `spend` as a
 *   BlockConnected with the spend, `spend-undone` as a BlockDisconnected (with what the channel needs to reopen
 *   when the close had already been confirmed). A delivery that fails makes the watch handler throw, so the
 *   watch delivers the event again before the next block. Matching costs O(block inputs) whatever the channel count.
 * - A ChannelArbitrator's runner (src/fsm) is created when an event arrives for it and dropped again once it is
 *   idle with nothing pending, so memory follows activity, not the channel count. A channel's events reach its
 *   mailbox synchronously, in call order, even while its runner is being built and resumed.
 * - A connected block reaches only the channels the wake queue says are due (an HTLC cutoff, a close depth) and
 *   those with effects to retry or a pulse due. A wake-up whose delivery fails is armed again.
 * - Node updates (snapshots; the first one is checked against the funding output on chain), force-close requests
 *   (refused unless Default), revocations, operator reclassification and retirement of FullyResolved channels go
 *   through here.
 * - Preimages (addPreimage; preimageSink for the resolvers) are routed by payment hash through a persistent index
 *   (htlc_payment_hash, written with each stored snapshot), never by a scan of the channels.
 * - After a restart it redelivers what a crash may have cut short: pending outbox rows (by resuming the runner),
 *   ContractClosed's pulse (the runner takes it on resume), a stored snapshot newer than the arbitrator's, and
 *   resolver launches for WaitingFullResolution and CloseUnresolved channels. Our commitment is republished by
 *   the broadcaster, whose rebroadcast set is persistent.
 */
import { BLOCK_LOG_RETAIN } from '../chain/block-log.js';
import type { ChainEvent, OutputSource, SpendEvent, SpendNotifier, WatchHandle } from '../chain/ports.js';
import { MachineRunner, type EventOutcome } from '../fsm/index.js';
import type { KeyRing } from '../keys/keyring.js';
import type { Signer } from '../keys/signer.js';
import { perCommitmentPoint } from '../keys/derive.js';
import { MAX_SHACHAIN_INDEX } from '../ln/shachain.js';
import { ARBITRATOR_STATE, CLOSE_TYPE, PREIMAGE_SOURCE } from '../store/codes.js';
import type { Db } from '../store/db.js';
import { SqliteJournal } from '../store/journal.js';
import { sha256, toHex } from '../util/bytes.js';
import { CourtError, type CourtErrorCode } from '../util/errors.js';
import { errFields, silentLogger, type Logger } from '../util/logger.js';
import { closeConfirmationDepth, type CloseDepthOptions } from '../watcher/classify.js';
import { checkDeltas, commitSetHtlcs, DEFAULT_DELTAS, type ChainDeltas } from './actions.js';
import { ChannelEffects, type ChannelEffectsDeps, type ResolverHost } from './channel-effects.js';
import { channelArbitrator } from './channel/machine.js';
import { wakeHeight, type ArbEnv } from './channel/transition.js';
import { STATE_CODE, type ArbEffect, type ArbEvent, type ArbState, type ChannelFacts, type CloseRollback } from './channel/types.js';
import { checkFundingOutput } from './funding.js';
import {
  addRevocationSecret,
  arbitratorStateTable,
  channelSpendHint,
  currentSnapshot,
  dropUntakenSnapshot,
  dropUntakenSnapshots,
  failedUpstream,
  knownPreimages,
  loadRevocations,
  loadStartRows,
  preimagesToRoute,
  remoteCommitmentKnowledge,
  resolverRecordSink,
  staleSnapshots,
  storePreimage,
  storeSnapshot,
} from './store.js';
import { checkSnapshot, checkSnapshotUpdate, commitSetFacts, ourBasepointsFrom, parseSnapshot, snapshotJson } from './snapshot.js';
import { WakeQueue } from './wake-queue.js';

type Runner = MachineRunner<ArbState, ArbEvent, ArbEffect, ArbEnv>;

/** One channel in memory: what routing needs, plus its runner while it is active. */
interface Entry {
  state: number;
  wake: number | null;
  runner?: Runner;
  /** The runner's resume(). */
  ready?: Promise<void>;
  inflight: number;
  pending: boolean;
}

/** Options of the ChainArbitrator. */
export interface ChainArbitratorOptions {
  readonly db: Db;
  readonly keyring: KeyRing;
  readonly signer: Signer;
  readonly broadcaster: ChannelEffectsBroadcaster;
  /** The chain layer's spend watches (ChainWatches): the one place funding spends and their reorgs are found. */
  readonly watches: Pick<SpendNotifier, 'watchSpend'>;
  /**
   * Where a channel's first snapshot is checked against its funding output (the bitcoind adapter). Absent: no
   * check (unit tests over fake chains only; the daemon always passes it).
   */
  readonly outputs?: OutputSource;
  readonly resolvers?: ResolverHost;
  /** The sweeper, for the CPFP offer of every anchor commitment we publish (ChannelEffectsDeps.sweeper). */
  readonly sweeper?: ChannelEffectsDeps['sweeper'];
  /** Go-to-chain deltas (default outgoing 0, incoming 16). */
  readonly deltas?: ChainDeltas;
  /** Close confirmation depth by capacity (default 3..6; {min: 1, max: 1} on regtest). */
  readonly closeDepth?: CloseDepthOptions;
  readonly logger?: Logger;
  /** Called after each commit of any channel (crash tests record checkpoints here). */
  readonly onCommit?: () => void;
}

type ChannelEffectsBroadcaster = ConstructorParameters<typeof ChannelEffects>[0]['broadcaster'];

/** What a caller learns from a node update or request. */
export interface ChannelReply {
  readonly chanPoint: string;
  readonly state: ArbState['kind'];
}

/** A force close's reply: the commitment courtd will publish, by number and txid. */
export interface ForceCloseReply extends ChannelReply {
  readonly commitment?: { readonly number: number; readonly txid: string };
}

const NO_RESOLVER_HOST: ResolverHost = { launch: () => undefined };

/** Closed but not resolved: a reorg may still remove the close. */
const CLOSED: ReadonlySet<number> = new Set([ARBITRATOR_STATE.ContractClosed, ARBITRATOR_STATE.WaitingFullResolution]);

/** The hash a rollback names when no disconnected block is known (start-up reconciliation). */
const NO_BLOCK = '0'.repeat(64);

/**
 * States whose funding output is watched: open, closed but not resolved, and an unresolved close (a reorg may
 * still remove the spend).
 */
const WATCHED: ReadonlySet<number> = new Set([
  ARBITRATOR_STATE.Default,
  ARBITRATOR_STATE.BroadcastCommit,
  ARBITRATOR_STATE.CommitmentBroadcasted,
  ARBITRATOR_STATE.CloseUnresolved,
  ARBITRATOR_STATE.ContractClosed,
  ARBITRATOR_STATE.WaitingFullResolution,
]);

/** Where a preimage was learned (preimage.source). */
export type PreimageSource = 'node' | 'chain' | 'mempool';

const PREIMAGE_SOURCE_CODE: Readonly<Record<PreimageSource, number>> = Object.freeze({
  node: PREIMAGE_SOURCE.Node,
  chain: PREIMAGE_SOURCE.Chain,
  mempool: PREIMAGE_SOURCE.Mempool,
});

/** What addPreimage did: the payment hash and the open channels it was routed to. */
export interface PreimageReply {
  readonly paymentHash: string;
  readonly channels: readonly string[];
}

/** What a resolver calls when a spend on chain (or in the mempool) reveals a preimage. */
export type PreimageSink = (preimage: Uint8Array, seenIn: 'chain' | 'mempool') => Promise<PreimageReply>;

/**
 * The resolvers' way in for a preimage revealed by another channel's spend: the same path as the node's POST
 * (ChainArbitrator.addPreimage), so every channel carrying that payment hash re-evaluates its go-to-chain rule.
 */
export function preimageSink(arb: ChainArbitrator): PreimageSink {
  return (preimage, seenIn) => arb.addPreimage(preimage, seenIn);
}

/** The supervisor. */
export class ChainArbitrator {
  readonly #o: ChainArbitratorOptions;
  readonly #log: Logger;
  readonly #journal: SqliteJournal;
  readonly #effects: ChannelEffects;
  readonly #deltas: ChainDeltas;
  readonly #entries = new Map<string, Entry>();
  readonly #wake = new WakeQueue();
  /** The funding spend watch of every channel not yet resolved. */
  readonly #watches = new Map<string, WatchHandle>();
  /**
   * Events bringing the node's facts (a preimage, a late revocation) whose delivery failed, per channel: delivered
   * again with every block until taken (in memory: after a restart the node's retry and start-up's recheck cover them).
   */
  readonly #retry = new Map<string, ArbEvent[]>();
  /** Start-up reconciliations of closed channels still running (see #watch). */
  readonly #reconciling = new Set<Promise<void>>();
  /** Channels with outbox rows still pending (or a pulse due): they get every block, to retry them. */
  readonly #pending = new Set<string>();
  readonly #resolvers: ResolverHost;
  #height = 0;
  /** The chain layer's height at start (the end of every start-up rescan). */
  #startHeight = 0;
  /** Start-up reconciliations waiting for the chain layer to deliver the close's height again (see #watch). */
  readonly #deferredReconcile = new Map<string, { readonly height: number; readonly seen: () => boolean }>();
  /** Hash of the last connected block (undefined until one is seen). */
  #tipHash: string | undefined;
  #started = false;

  constructor(o: ChainArbitratorOptions) {
    this.#o = o;
    this.#log = o.logger ?? silentLogger;
    this.#deltas = checkDeltas(o.deltas ?? DEFAULT_DELTAS);
    this.#resolvers = o.resolvers ?? NO_RESOLVER_HOST;
    this.#journal = new SqliteJournal(o.db, arbitratorStateTable, false, resolverRecordSink);
    this.#effects = new ChannelEffects({
      db: o.db,
      keyring: o.keyring,
      signer: o.signer,
      broadcaster: o.broadcaster,
      resolvers: this.#resolvers,
      stateOf: (chanPoint) => this.#entries.get(chanPoint)?.runner?.state,
      height: () => this.#height,
      ...(o.sweeper === undefined ? {} : { sweeper: o.sweeper }),
    });
  }

  /** Channels held in memory (every unresolved one). */
  get size(): number {
    return this.#entries.size;
  }

  /** Channels with a live runner right now. */
  get activeRunners(): number {
    let n = 0;
    for (const e of this.#entries.values()) if (e.runner !== undefined) n++;
    return n;
  }

  /** The height events are processed at. */
  get height(): number {
    return this.#height;
  }

  /**
   * Loads every unresolved channel (one read transaction) at chain height `height`, then, in the background,
   * redelivers what a crash may have cut short. Resolves as soon as the indexes are built.
   */
  start(height: number): void {
    if (this.#started) throw new CourtError('COURT_E_FSM_LIFECYCLE', 'ChainArbitrator started twice');
    this.#started = true;
    this.#height = height;
    this.#startHeight = height;
    const rows = loadStartRows(this.#o.db);
    const redo: Array<() => void> = [];
    for (const r of rows) {
      this.#entries.set(r.chanPoint, { state: r.state, wake: r.wake, inflight: 0, pending: r.pending });
      const closed = CLOSED.has(r.state) || r.state === ARBITRATOR_STATE.CloseUnresolved;
      // A close deeper than any reorg courtd follows (the block log's retention) is final: no watch, no rescan
      // from it at every restart (a mass exit's closes would otherwise hold up the first block for long).
      const final = closed && r.spendHint < height - BLOCK_LOG_RETAIN;
      if (WATCHED.has(r.state) && !final) this.#watch(r.chanPoint, r.spendHint, closed);
      if (r.wake !== null) this.#wake.push(r.wake, r.chanPoint);
      if (r.pending) this.#pending.add(r.chanPoint);
      if (r.pending || r.state === ARBITRATOR_STATE.ContractClosed) redo.push(() => void this.#touch(r.chanPoint));
      if (r.state === ARBITRATOR_STATE.WaitingFullResolution || r.state === ARBITRATOR_STATE.CloseUnresolved) redo.push(() => this.#resolvers.launch(r.chanPoint));
      if (CLOSED.has(r.state) && (r.closeType === CLOSE_TYPE.Remote || r.closeType === CLOSE_TYPE.RemotePending)) redo.push(() => void this.#recheckRevoked(r.chanPoint));
      // An unresolved close is classified again at start: what it lacked (a secret, a snapshot) may have been
      // stored just before a crash cut the reclassification short.
      if (r.state === ARBITRATOR_STATE.CloseUnresolved) redo.push(() => void this.#deliverOrRetry(r.chanPoint, { kind: 'ReclassifyRequested' }));
    }
    redo.push(() => {
      const dropped = dropUntakenSnapshots(this.#o.db);
      if (dropped > 0) this.#log.warn({ dropped }, 'arbitrator: removed snapshots a closing channel had refused before a crash');
      for (const s of staleSnapshots(this.#o.db)) {
        this.#ensureEntry(s.chanPoint);
        void this.#redeliverSnapshot(s.chanPoint, s.seq);
      }
      // Preimages a crash may have stored without routing (a channel that already holds one ignores it).
      for (const r of preimagesToRoute(this.#o.db)) if (this.#entries.has(r.chanPoint)) void this.#deliverOrRetry(r.chanPoint, { kind: 'PreimageLearned', paymentHash: r.paymentHash });
    });
    for (const f of redo) f();
  }

  /** Resolves when every channel's mailbox is empty. */
  async idle(): Promise<void> {
    for (;;) {
      const busy = [...this.#entries.values()].filter((e) => e.inflight > 0 || (e.runner?.queued ?? 0) > 0);
      if (busy.length === 0) return;
      await Promise.all(busy.map((e) => e.runner?.idle()));
      await new Promise((r) => setImmediate(r));
    }
  }

  /** Stops every runner (queued events finish first) and cancels the watches. The database stays open (its owner closes it). */
  async stop(): Promise<void> {
    for (const h of this.#watches.values()) h.cancel();
    this.#watches.clear();
    await this.idle();
    await Promise.all([...this.#entries.values()].map((e) => e.runner?.close()));
  }

  /**
   * Resolves when every funding watch registered so far has finished its rescan (or was cancelled) and the
   * start-up reconciliation of closed channels is done.
   */
  async watchesReady(): Promise<void> {
    await Promise.all([...this.#watches.values()].map((h) => h.ready.catch(() => undefined)));
    await Promise.all([...this.#reconciling]);
  }

  /** The channel's current state (loading it if no runner is live). */
  async state(chanPoint: string): Promise<ArbState> {
    const runner = this.#acquire(chanPoint);
    try {
      await this.#ready(chanPoint, runner);
      return runner.state;
    } finally {
      this.#release(chanPoint);
    }
  }

  /**
   * A channel snapshot from the node: parsed, checked (signatures), checked against the one in force (or, for the
   * first one, against the funding output on chain), stored as the next snapshot row (with its payment hashes in
   * the routing index), then delivered as ChannelUpdated; the first one also starts the funding spend watch from
   * the snapshot's height hint. Refused with a coded error if anything fails; the previous snapshot stays in
   * force: a snapshot the arbitrator refuses (or that could not be delivered) is removed again, so
   * channel_snapshot_current is always one the arbitrator took in or is about to take in. A crash between storing
   * and delivering leaves the row for start-up to redeliver (and remove if refused then).
   */
  async updateChannel(json: unknown): Promise<ChannelReply> {
    const snap = parseSnapshot(json);
    const checked = checkSnapshot(
      snap,
      ourBasepointsFrom(snap, (loc) => this.#o.keyring.publicKey(loc)),
    );
    const cp = snap.chanPoint;
    const entry = this.#entries.get(cp);
    // A channel whose close courtd could not resolve takes the snapshot of the commitment that confirmed.
    const answering = entry?.state === ARBITRATOR_STATE.CloseUnresolved;
    if (entry !== undefined && entry.state !== ARBITRATOR_STATE.Default && !answering) {
      throw new CourtError('COURT_E_CHANNEL_CLOSING', `channel ${cp} is no longer open (state ${entry.state})`);
    }
    // First: no snapshot accepted yet (a channel row left by a refused first snapshot does not count).
    const first = currentSnapshot(this.#o.db, cp) === undefined;
    let spendHint = snap.fundingHeightHint;
    if (first && this.#o.outputs !== undefined) {
      const funding = await checkFundingOutput(this.#o.outputs, checked);
      // A hint above the funding transaction's block could hide a spend from the rescan: never trust it further.
      if (funding.confirmedHeight !== undefined && funding.confirmedHeight < spendHint) spendHint = funding.confirmedHeight;
    }
    const seq = storeSnapshot(this.#o.db, snap, snapshotJson(snap), this.#height, (prev) => checkSnapshotUpdate(parseSnapshot(prev), snap, { closed: answering }), {
      answersClose: answering,
      spendHint,
    });
    this.#ensureEntry(cp);
    // The facts are read and the event posted with no await in between (#deliver posts synchronously): a preimage
    // stored before is in these facts, and one routed after is queued behind this update.
    const outcome = await this.#deliver(cp, { kind: 'ChannelUpdated', facts: this.#facts(seq, checked) });
    if (outcome.kind === 'refused' || outcome.kind === 'failed') dropUntakenSnapshot(this.#o.db, cp, seq);
    else if (first) this.#watch(cp, spendHint);
    return this.#reply(cp, outcome);
  }

  /**
   * A payment preimage (32 bytes) learned from the node (POST /v1/preimages), or from a spend on chain or in the
   * mempool (the resolvers, through preimageSink): stored by payment hash (idempotent: the first source is kept),
   * then routed through the payment-hash index to every open channel whose current snapshot carries that hash,
   * as PreimageLearned (the go-to-chain rule applied at once). A preimage no HTLC matches is stored all the same.
   * Routing happens on every call, even for a preimage already stored, so a caller that retries after a crash
   * (the node resends an unanswered POST, a resolver re-reads its spend) completes a delivery the crash cut short.
   * The preimage itself never leaves this method: logs, errors and events carry the hash only.
   */
  async addPreimage(preimage: Uint8Array, source: PreimageSource): Promise<PreimageReply> {
    if (!(preimage instanceof Uint8Array) || preimage.length !== 32) {
      throw new CourtError('COURT_E_INVALID_ARGUMENT', `a preimage must be 32 bytes (got ${preimage instanceof Uint8Array ? preimage.length : typeof preimage})`);
    }
    if (!Object.hasOwn(PREIMAGE_SOURCE_CODE, source)) throw new CourtError('COURT_E_INVALID_ARGUMENT', `unknown preimage source ${String(source)}`);
    const paymentHash = toHex(sha256(preimage));
    const routed = storePreimage(this.#o.db, paymentHash, toHex(preimage), PREIMAGE_SOURCE_CODE[source], this.#height);
    // closed channels' resolvers waiting on this hash (queued by the host, never awaited here)
    this.#resolvers.preimageLearned?.(preimage);
    const channels = routed.filter((cp) => this.#entries.has(cp));
    const outcomes = await Promise.all(channels.map((cp) => this.#deliverOrRetry(cp, { kind: 'PreimageLearned', paymentHash })));
    const failed = channels.filter((_, i) => outcomes[i]?.kind === 'failed');
    if (failed.length > 0) {
      // Stored, and retried with every block; the caller hears of it so it may repeat the call (idempotent).
      throw new CourtError('COURT_E_DELIVERY_FAILED', `preimage ${paymentHash} stored; ${failed.length} channel(s) could not take it yet`, { paymentHash });
    }
    return { paymentHash, channels };
  }

  /** A force-close request: refused (COURT_E_CHANNEL_CLOSING) unless the channel is in Default. */
  async forceClose(chanPoint: string): Promise<ForceCloseReply> {
    if (!this.#entries.has(chanPoint)) throw new CourtError('COURT_E_CHANNEL_UNKNOWN', `no unresolved channel ${chanPoint}`);
    const outcome = await this.#deliver(chanPoint, { kind: 'ForceCloseRequested' });
    const reply = this.#reply(chanPoint, outcome);
    const s = outcome.kind === 'accepted' ? outcome.state : undefined;
    if (s?.kind !== 'BroadcastCommit') return reply;
    // The node checks this against what it has revoked: courtd never publishes a commitment the node revoked.
    const checked = this.#effects.checked(chanPoint, s.facts.snapshotSeq);
    return { ...reply, commitment: { number: s.facts.localNumber, txid: checked.local.tx.getId() } };
  }

  /**
   * A remote per-commitment secret (a revocation) for their commitment `commitmentNumber`. Accepted only for a
   * commitment courtd was given (at most their newest, pending or current), only if the secret makes the
   * per-commitment point courtd was given for that number (when a stored snapshot holds it), and only if it fits
   * the secrets already held (BOLT #3 shachain). Refused with COURT_E_REVOCATION_UNKNOWN, _MISMATCH or
   * COURT_E_SHACHAIN_*; a refusal stores nothing. Returns once the secret is durable: from then on a confirmed
   * commitment with that number is classified as a breach, even if it is the one the last snapshot called current.
   */
  addRevocation(chanPoint: string, secret: Uint8Array, commitmentNumber: number): void {
    if (!this.#entries.has(chanPoint)) throw new CourtError('COURT_E_CHANNEL_UNKNOWN', `no unresolved channel ${chanPoint}`);
    if (!(secret instanceof Uint8Array) || secret.length !== 32) throw new CourtError('COURT_E_INVALID_ARGUMENT', 'a per-commitment secret is 32 bytes');
    if (!Number.isSafeInteger(commitmentNumber) || commitmentNumber < 0 || commitmentNumber > MAX_SHACHAIN_INDEX) {
      throw new CourtError('COURT_E_COMMITMENT_NUMBER', 'commitment number outside 0 .. 2^48-1', { commitmentNumber });
    }
    const db = this.#o.db;
    addRevocationSecret(db, chanPoint, (store) => {
      const known = remoteCommitmentKnowledge(db, chanPoint, commitmentNumber);
      if (known.newest === undefined || commitmentNumber > known.newest) {
        throw new CourtError('COURT_E_REVOCATION_UNKNOWN', `revocation for commitment ${commitmentNumber}, but courtd was given their commitments up to ${known.newest ?? 'none'}`, {
          commitmentNumber,
        });
      }
      if (known.point !== undefined && toHex(perCommitmentPoint(secret)) !== known.point) {
        throw new CourtError('COURT_E_REVOCATION_MISMATCH', `the secret for commitment ${commitmentNumber} does not make the per-commitment point courtd was given`, {
          commitmentNumber,
        });
      }
      store.insert(secret, MAX_SHACHAIN_INDEX - commitmentNumber);
    });
    // A close courtd could not resolve, or their close already classified, may be that revoked commitment: it is
    // classified again at once (a breach now).
    // A delivery that fails is retried with every block (#retry) and, after a restart, by start-up's recheck.
    // An open channel with a live runner may be classifying a spend right now (its answer may have read the store
    // before this secret): it is told too. An idle one has nothing in flight, and is spared a runner.
    const entry = this.#entries.get(chanPoint);
    const state = entry?.state;
    if (state === ARBITRATOR_STATE.CloseUnresolved) void this.#deliverOrRetry(chanPoint, { kind: 'ReclassifyRequested' });
    else if (state !== undefined && (CLOSED.has(state) || entry?.runner !== undefined)) {
      void this.#deliverOrRetry(chanPoint, { kind: 'RevocationAdded', number: commitmentNumber });
    }
  }

  /**
   * An operator's retry of a close courtd could not resolve (CloseUnresolved): the spend is classified again with
   * what courtd holds now. Refused (COURT_E_CLOSE_NOT_UNRESOLVED) in any other state. With `accept`, an
   * unrecognised spend is taken as final (close type `accepted`: nothing more to claim, the claims made meanwhile
   * still finish, the channel's HTLCs are left to the node); our own commitment cannot be accepted
   * (COURT_E_CLOSE_NOT_ACCEPTABLE): it is swept once its snapshot arrives.
   */
  async reclassify(chanPoint: string, opts: { readonly accept?: boolean } = {}): Promise<ChannelReply> {
    if (!this.#entries.has(chanPoint)) throw new CourtError('COURT_E_CHANNEL_UNKNOWN', `no unresolved channel ${chanPoint}`);
    const event: ArbEvent = opts.accept === true ? { kind: 'ReclassifyRequested', accept: true } : { kind: 'ReclassifyRequested' };
    return this.#reply(chanPoint, await this.#deliver(chanPoint, event));
  }

  /** A resolver of `chanPoint` finished (called by the resolver host). */
  async resolverFinished(chanPoint: string, outpoint: string): Promise<void> {
    await this.#deliver(chanPoint, { kind: 'ResolverFinished', outpoint });
  }

  /**
   * The block dispatcher's subscriber (after the ChainWatches, which deliver a block's funding spends first): the
   * channels due at this height and those with effects to retry get the block. A disconnected block needs
   * nothing here: the watches report the spends it undoes. A wake-up whose delivery fails is armed again, so the
   * next block wakes the channel.
   */
  readonly onChainEvent = async (event: ChainEvent): Promise<void> => {
    if (event.type === 'BlockDisconnected') {
      this.#height = event.height - 1;
      this.#tipHash = undefined;
      return;
    }
    this.#height = event.height;
    this.#tipHash = event.hash;
    for (const [cp, d] of this.#deferredReconcile) {
      if (d.height > event.height) continue;
      this.#deferredReconcile.delete(cp);
      // The close's height was delivered (its spend, if still there, reached the watch before this event).
      if (d.seen()) continue;
      const s = await this.state(cp);
      const gone = s === undefined ? undefined : spentBy(s);
      if (s === undefined || gone === undefined || gone.height !== d.height) continue;
      this.#log.warn({ chanPoint: cp, closeTxid: gone.txid }, 'arbitrator: the confirmed close is no longer on the chain; rolling back');
      await this.#deliverOrRetry(cp, this.#undo(cp, s, gone.height, NO_BLOCK));
    }
    const retry = [...this.#retry];
    this.#retry.clear();
    for (const [cp, evs] of retry) for (const ev of evs) if (this.#entries.has(cp)) await this.#deliverOrRetry(cp, ev);
    const events = new Map<string, ArbEvent>();
    for (const due of this.#wake.popDue(event.height)) {
      const e = this.#entries.get(due.id);
      if (e === undefined || e.wake !== due.height || events.has(due.id)) continue;
      events.set(due.id, { kind: 'BlockConnected', height: event.height, hash: event.hash });
    }
    for (const cp of this.#pending) if (!events.has(cp)) events.set(cp, { kind: 'BlockConnected', height: event.height, hash: event.hash });
    await Promise.all(
      [...events].map(async ([cp, ev]) => {
        const outcome = await this.#deliver(cp, ev);
        if (outcome.kind !== 'failed') return;
        const e = this.#entries.get(cp);
        if (e?.wake !== null && e?.wake !== undefined) this.#wake.push(e.wake, cp);
        this.#log.warn({ chanPoint: cp, height: this.#height, ...errFields(outcome.error) }, 'arbitrator: a block event failed; it is retried with the next block');
      }),
    );
  };

  /** Delivers `event`; if that fails, keeps it for the next block (#retry). */
  async #deliverOrRetry(chanPoint: string, event: ArbEvent): Promise<EventOutcome<ArbState>> {
    const outcome = await this.#deliver(chanPoint, event);
    if (outcome.kind === 'failed') {
      this.#retry.set(chanPoint, [...(this.#retry.get(chanPoint) ?? []), event]);
      this.#log.warn({ chanPoint, event: event.kind, ...errFields(outcome.error) }, 'arbitrator: an event could not be delivered; it is retried with the next block');
    }
    return outcome;
  }

  /**
   * After a restart: their close (remote, remote pending) whose commitment's revocation secret courtd now holds is
   * classified again (a revocation that arrived just before a crash, or whose delivery failed).
   */
  async #recheckRevoked(chanPoint: string): Promise<void> {
    try {
      const s = await this.state(chanPoint);
      if (s.kind !== 'ContractClosed' && s.kind !== 'WaitingFullResolution') return;
      const n = s.close.commitmentNumber;
      if ((s.close.type !== 'remote' && s.close.type !== 'remotePending') || n === undefined) return;
      if (loadRevocations(this.#o.db, chanPoint).tryLookup(MAX_SHACHAIN_INDEX - n) === undefined) return;
      await this.#deliverOrRetry(chanPoint, { kind: 'RevocationAdded', number: n });
    } catch (err) {
      this.#log.error({ chanPoint, ...errFields(err) }, 'arbitrator: the start-up revocation recheck failed');
    }
  }

  /**
   * Starts the funding spend watch of `chanPoint` (once) from `hint`. `reconcile` (a closed or unresolved channel
   * at start): once the rescan is done, a close the chain no longer holds (the output unspent, a reorg while
   * courtd was down) rolls the channel back, as a disconnect would have.
   */
  #watch(chanPoint: string, hint: number, reconcile = false): void {
    if (this.#watches.has(chanPoint)) return;
    const i = chanPoint.lastIndexOf(':');
    const outpoint = { txid: chanPoint.slice(0, i), vout: Number(chanPoint.slice(i + 1)) };
    let seen = false;
    const handle = this.#o.watches.watchSpend(outpoint, hint, (e) => {
      if (e.type === 'spend') seen = true;
      return this.#onSpend(chanPoint, e);
    });
    this.#watches.set(chanPoint, handle);
    if (!reconcile) return;
    const done = handle.ready.then(
      async () => {
        const s = seen ? undefined : await this.state(chanPoint);
        if (s === undefined) return;
        const gone = spentBy(s);
        if (gone === undefined) return;
        // A close above the height the chain layer had delivered when we started was recorded from a block whose
        // delivery a crash cut short (a later subscriber had not taken it, so the block log did not advance): the
        // rescan could not see it, and that height comes again. Judge it once the chain layer has delivered it.
        if (gone.height > this.#startHeight) {
          this.#deferredReconcile.set(chanPoint, { height: gone.height, seen: () => seen });
          return;
        }
        this.#log.warn({ chanPoint, closeTxid: gone.txid }, 'arbitrator: the confirmed close is no longer on the chain; rolling back');
        await this.#deliver(chanPoint, this.#undo(chanPoint, s, gone.height, NO_BLOCK));
      },
      () => undefined,
    );
    this.#reconciling.add(done);
    void done.finally(() => this.#reconciling.delete(done));
  }

  #unwatch(chanPoint: string): void {
    this.#watches.get(chanPoint)?.cancel();
    this.#watches.delete(chanPoint);
  }

  /** The BlockDisconnected that takes `s` back before its spend at `height` (with a rollback for a confirmed close). */
  #undo(chanPoint: string, s: ArbState, height: number, hash: string): ArbEvent {
    const closed = s.kind === 'ContractClosed' || s.kind === 'WaitingFullResolution';
    return closed ? { kind: 'BlockDisconnected', height, hash, rollback: this.#rollback(chanPoint) } : { kind: 'BlockDisconnected', height, hash };
  }

  /**
   * A funding watch event: to the channel's mailbox, awaited (the dispatcher's order holds). A delivery that
   * fails throws, so the watch delivers the event again before the next block (nothing is lost).
   */
  async #onSpend(chanPoint: string, e: SpendEvent): Promise<void> {
    const must = async (event: ArbEvent): Promise<void> => {
      const outcome = await this.#deliver(chanPoint, event);
      if (outcome.kind === 'failed') throw outcome.error;
    };
    if (e.type === 'spend-undone') {
      const entry = this.#entries.get(chanPoint);
      const closed = entry !== undefined && CLOSED.has(entry.state);
      const rollback = closed ? this.#rollback(chanPoint) : undefined;
      await must({ kind: 'BlockDisconnected', height: e.height, hash: e.blockHash, ...(rollback === undefined ? {} : { rollback }) });
      return;
    }
    if (e.height > this.#height) this.#height = e.height;
    const entry0 = this.#entries.get(chanPoint);
    if (entry0 !== undefined && (CLOSED.has(entry0.state) || entry0.state === ARBITRATOR_STATE.CloseUnresolved)) {
      // A closed channel's funding spent by another transaction than its close (a reorg while courtd was down,
      // found by the start-up rescan): the stored close is gone; roll back, then take the spend.
      const s = await this.state(chanPoint);
      const gone = spentBy(s);
      if (gone !== undefined && gone.txid !== e.spenderTxid) {
        this.#log.warn({ chanPoint, closeTxid: gone.txid, spenderTxid: e.spenderTxid }, 'arbitrator: the funding output was spent by another close; rolling back');
        await must(this.#undo(chanPoint, s, gone.height, NO_BLOCK));
      }
    }
    await must({ kind: 'BlockConnected', height: e.height, hash: e.blockHash, spend: { txid: e.spenderTxid, txHex: e.spendingTx.toHex() } });
    // A spend found by a rescan may already have its depth: act now rather than at the next block.
    const entry = this.#entries.get(chanPoint);
    if (this.#tipHash !== undefined && e.height < this.#height && entry !== undefined && entry.wake !== null && entry.wake <= this.#height) {
      await must({ kind: 'BlockConnected', height: this.#height, hash: this.#tipHash });
    }
  }

  /** What a closed channel needs to reopen: its facts from the snapshot in force and the HTLCs already failed back. */
  #rollback(chanPoint: string): CloseRollback {
    const failed = failedUpstream(this.#o.db, chanPoint);
    try {
      const cur = currentSnapshot(this.#o.db, chanPoint);
      if (cur === undefined) return { failed };
      return { facts: this.#facts(cur.seq, this.#effects.checked(chanPoint, cur.seq)), failed };
    } catch (err) {
      this.#log.error({ chanPoint, ...errFields(err) }, 'arbitrator: the snapshot in force does not load; rolling back without facts');
      return { failed };
    }
  }

  #facts(snapshotSeq: number, checked: ReturnType<typeof checkSnapshot>): ChannelFacts {
    const set = commitSetFacts(checked);
    const hashes = new Set(commitSetHtlcs(set).map((h) => h.paymentHash));
    const known = hashes.size === 0 ? [] : knownPreimages(this.#o.db, [...hashes]);
    return {
      snapshotSeq,
      localNumber: checked.snapshot.localCommitment.number,
      commitSet: set,
      preimages: known,
      closeDepth: closeConfirmationDepth(checked.capacitySat, this.#o.closeDepth),
      deltas: this.#deltas,
    };
  }

  async #redeliverSnapshot(chanPoint: string, seq: number): Promise<void> {
    try {
      const outcome = await this.#deliver(chanPoint, { kind: 'ChannelUpdated', facts: this.#facts(seq, this.#effects.checked(chanPoint, seq)) });
      if (outcome.kind === 'refused' || outcome.kind === 'failed') dropUntakenSnapshot(this.#o.db, chanPoint, seq);
      else {
        // A first snapshot stored before a crash: its channel had no arbitrator row, hence no watch, at start.
        const hint = channelSpendHint(this.#o.db, chanPoint);
        if (hint !== undefined && WATCHED.has(this.#entries.get(chanPoint)?.state ?? -1)) this.#watch(chanPoint, hint);
      }
    } catch (err) {
      this.#log.error({ chanPoint, ...errFields(err) }, 'arbitrator: redelivering the stored snapshot failed');
    }
  }

  /** Resumes a channel's runner (pending effects, pulse) without an event. */
  async #touch(chanPoint: string): Promise<void> {
    if (!this.#entries.has(chanPoint)) return;
    const runner = this.#acquire(chanPoint);
    try {
      await this.#ready(chanPoint, runner);
    } catch {
      // logged by the runner; the channel's next event builds a runner again
    } finally {
      this.#release(chanPoint);
    }
  }

  /**
   * Delivers one event to a channel and updates routing from the state it ends in. Never rejects. The event is
   * posted to the channel's mailbox synchronously, inside this call, so one channel's events are processed in the
   * order #deliver was called (the node's calls, the blocks), also while its runner is being built and resumed.
   */
  async #deliver(chanPoint: string, event: ArbEvent): Promise<EventOutcome<ArbState>> {
    let runner: Runner;
    try {
      runner = this.#acquire(chanPoint);
    } catch (err) {
      return { kind: 'failed', error: err };
    }
    try {
      const outcome = await runner.enqueue(event);
      if ((outcome.kind === 'accepted' && outcome.effectsFailed > 0) || runner.pulseDue) this.#setPending(chanPoint, true);
      if (event.kind === 'BlockConnected' && this.#pending.has(chanPoint)) this.#setPending(chanPoint, (await runner.retryPending()) > 0);
      return outcome;
    } finally {
      this.#release(chanPoint);
    }
  }

  /**
   * Waits for a runner's resume (rejects with its error if it failed). A channel whose pulse could not be taken
   * is marked pending, so the next block retries it.
   */
  async #ready(chanPoint: string, runner: Runner): Promise<void> {
    await this.#entries.get(chanPoint)?.ready;
    if (runner.pulseDue) this.#setPending(chanPoint, true);
  }

  /**
   * The channel's runner, built and resumed (in the background) if it has none; counts one user until
   * #release. Synchronous, so that an event enqueued right after it keeps its caller's order: a runner's
   * mailbox holds events posted before its resume finished and runs them after it, in posting order.
   */
  #acquire(chanPoint: string): Runner {
    const e = this.#entries.get(chanPoint);
    if (e === undefined) throw new CourtError('COURT_E_CHANNEL_UNKNOWN', `no unresolved channel ${chanPoint}`);
    e.inflight++;
    if (e.runner !== undefined) return e.runner;
    const runner: Runner = new MachineRunner({
      journal: this.#journal,
      machine: channelArbitrator,
      machineId: chanPoint,
      interpret: this.#effects.interpret,
      env: () => ({ height: this.#height }),
      logger: this.#log,
      onCommit: (info) => {
        if (info.kind === 'transition') this.#route(chanPoint, runner);
        this.#o.onCommit?.();
      },
      onEffectFailed: (f) => {
        this.#setPending(chanPoint, true);
        void runner.enqueue({ kind: 'EffectFailed', outboxId: f.outboxId, effect: f.effect?.kind ?? 'unknown', error: describe(f.error) });
      },
    });
    e.runner = runner;
    // A failed resume is logged by the runner and answers every event with 'failed'.
    const resumed = runner.resume();
    resumed.catch(() => undefined);
    e.ready = resumed;
    return runner;
  }

  /** Adds a channel that has no arbitrator row yet (it starts in Default). */
  #ensureEntry(chanPoint: string): void {
    if (!this.#entries.has(chanPoint)) this.#entries.set(chanPoint, { state: ARBITRATOR_STATE.Default, wake: null, inflight: 0, pending: false });
  }

  #setPending(chanPoint: string, pending: boolean): void {
    const e = this.#entries.get(chanPoint);
    if (e === undefined) return;
    e.pending = pending;
    if (pending) this.#pending.add(chanPoint);
    else this.#pending.delete(chanPoint);
  }

  /** Updates the in-memory routing after a committed transition. */
  #route(chanPoint: string, runner: Runner): void {
    const e = this.#entries.get(chanPoint);
    if (e === undefined) return;
    const s = runner.state;
    e.state = STATE_CODE[s.kind];
    if (!WATCHED.has(e.state)) this.#unwatch(chanPoint);
    const wake = wakeHeight(s) ?? null;
    if (wake !== e.wake) {
      e.wake = wake;
      if (wake !== null) this.#wake.push(wake, chanPoint);
    }
  }

  /** Drops the runner of an idle channel; retires a FullyResolved one. */
  #release(chanPoint: string): void {
    const e = this.#entries.get(chanPoint);
    if (e === undefined) return;
    e.inflight--;
    if (e.inflight > 0 || e.runner === undefined || e.runner.queued > 0) return;
    // A runner whose resume failed is dropped even with work pending: the next event builds a fresh one.
    if (e.pending && !e.runner.broken) return;
    const runner = e.runner;
    delete e.runner;
    delete e.ready;
    void runner.close();
    if (e.state === ARBITRATOR_STATE.FullyResolved) {
      this.#entries.delete(chanPoint);
      this.#pending.delete(chanPoint);
    }
  }

  #reply(chanPoint: string, outcome: EventOutcome<ArbState>): ChannelReply {
    if (outcome.kind === 'refused') throw new CourtError(outcome.code as CourtErrorCode, outcome.reason);
    if (outcome.kind === 'failed') {
      throw outcome.error instanceof CourtError ? outcome.error : new CourtError('COURT_E_FSM_REFUSED', describe(outcome.error));
    }
    return { chanPoint, state: outcome.state.kind };
  }
}

/** The confirmed spend a state stands on (a close, or an unresolved spend), if any. */
function spentBy(s: ArbState): { readonly txid: string; readonly height: number } | undefined {
  if (s.kind === 'ContractClosed' || s.kind === 'WaitingFullResolution') return s.close;
  if (s.kind === 'CloseUnresolved') return s.spend;
  return undefined;
}

function describe(err: unknown): string {
  const f = errFields(err);
  return String(f.message ?? err).slice(0, 300);
}
