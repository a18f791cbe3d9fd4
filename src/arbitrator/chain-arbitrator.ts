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
 *   when the close had already been confirmed). Matching costs O(block inputs) whatever the channel count.
 * - A ChannelArbitrator's runner (src/fsm) is created when an event arrives for it and dropped again once it is
 *   idle with nothing pending, so memory follows activity, not the channel count.
 * - A connected block reaches only the channels the wake queue says are due (an HTLC cutoff, a close depth) and
 *   those with effects to retry. Everything else never sees the block.
 * - Node updates (snapshots; the first one is checked against the funding output on chain), force-close requests
 *   (refused unless Default) and retirement of FullyResolved channels go through here.
 * - After a restart it redelivers what a crash may have cut short: pending outbox rows (by resuming the runner),
 *   ContractClosed's pulse (the runner takes it on resume), a stored snapshot newer than the arbitrator's, and
 *   resolver launches for WaitingFullResolution channels. Our commitment is republished by the broadcaster,
 *   whose rebroadcast set is persistent.
 */
import type { ChainEvent, OutputSource, SpendEvent, SpendNotifier, WatchHandle } from '../chain/ports.js';
import { MachineRunner, type EventOutcome } from '../fsm/index.js';
import type { KeyRing } from '../keys/keyring.js';
import type { Signer } from '../keys/signer.js';
import { MAX_SHACHAIN_INDEX } from '../ln/shachain.js';
import { ARBITRATOR_STATE } from '../store/codes.js';
import type { Db } from '../store/db.js';
import { SqliteJournal } from '../store/journal.js';
import { CourtError, type CourtErrorCode } from '../util/errors.js';
import { errFields, silentLogger, type Logger } from '../util/logger.js';
import { closeConfirmationDepth, type CloseDepthOptions } from '../watcher/classify.js';
import { checkDeltas, DEFAULT_DELTAS, type ChainDeltas } from './actions.js';
import { ChannelEffects, type ResolverHost } from './channel-effects.js';
import { channelArbitrator } from './channel/machine.js';
import { wakeHeight, type ArbEnv } from './channel/transition.js';
import { STATE_CODE, type ArbEffect, type ArbEvent, type ArbState, type ChannelFacts, type CloseRollback } from './channel/types.js';
import { checkFundingOutput } from './funding.js';
import {
  addRevocationSecret,
  arbitratorStateTable,
  channelKnown,
  currentSnapshot,
  failedUpstream,
  knownPreimages,
  loadStartRows,
  resolverRecordSink,
  staleSnapshots,
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

const NO_RESOLVER_HOST: ResolverHost = { launch: () => undefined };

/** Closed but not resolved: a reorg may still remove the close. */
const CLOSED: ReadonlySet<number> = new Set([ARBITRATOR_STATE.ContractClosed, ARBITRATOR_STATE.WaitingFullResolution]);

/** The hash a rollback names when no disconnected block is known (start-up reconciliation). */
const NO_BLOCK = '0'.repeat(64);

/** States whose funding output is watched: open, and closed but not resolved (a reorg may still remove the close). */
const WATCHED: ReadonlySet<number> = new Set([
  ARBITRATOR_STATE.Default,
  ARBITRATOR_STATE.BroadcastCommit,
  ARBITRATOR_STATE.CommitmentBroadcasted,
  ARBITRATOR_STATE.ContractClosed,
  ARBITRATOR_STATE.WaitingFullResolution,
]);

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
  /** Start-up reconciliations of closed channels still running (see #watch). */
  readonly #reconciling = new Set<Promise<void>>();
  /** Channels with outbox rows still pending: they get every block, to retry them. */
  readonly #pending = new Set<string>();
  readonly #resolvers: ResolverHost;
  #height = 0;
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
    const rows = loadStartRows(this.#o.db);
    const redo: Array<() => void> = [];
    for (const r of rows) {
      this.#entries.set(r.chanPoint, { state: r.state, wake: r.wake, inflight: 0, pending: r.pending });
      if (WATCHED.has(r.state)) this.#watch(r.chanPoint, r.spendHint, CLOSED.has(r.state));
      if (r.wake !== null) this.#wake.push(r.wake, r.chanPoint);
      if (r.pending) this.#pending.add(r.chanPoint);
      if (r.pending || r.state === ARBITRATOR_STATE.ContractClosed) redo.push(() => void this.#touch(r.chanPoint));
      if (r.state === ARBITRATOR_STATE.WaitingFullResolution) redo.push(() => this.#resolvers.launch(r.chanPoint));
    }
    redo.push(() => {
      for (const s of staleSnapshots(this.#o.db)) {
        this.#ensureEntry(s.chanPoint);
        void this.#redeliverSnapshot(s.chanPoint, s.seq);
      }
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
    const runner = await this.#runner(chanPoint);
    try {
      return runner.state;
    } finally {
      this.#release(chanPoint);
    }
  }

  /**
   * A channel snapshot from the node: parsed, checked (signatures), checked against the one in force (or, for the
   * first one, against the funding output on chain), stored as the next snapshot row, then delivered as
   * ChannelUpdated; the first one also starts the funding spend watch from the snapshot's height hint. Refused
   * with a coded error if anything fails; nothing is stored and the previous snapshot stays in force.
   */
  async updateChannel(json: unknown): Promise<ChannelReply> {
    const snap = parseSnapshot(json);
    const checked = checkSnapshot(
      snap,
      ourBasepointsFrom(snap, (loc) => this.#o.keyring.publicKey(loc)),
    );
    const cp = snap.chanPoint;
    const entry = this.#entries.get(cp);
    if (entry !== undefined && entry.state !== ARBITRATOR_STATE.Default) {
      throw new CourtError('COURT_E_CHANNEL_CLOSING', `channel ${cp} is no longer open (state ${entry.state})`);
    }
    const first = !channelKnown(this.#o.db, cp);
    if (first && this.#o.outputs !== undefined) await checkFundingOutput(this.#o.outputs, checked);
    const seq = storeSnapshot(this.#o.db, snap, snapshotJson(snap), this.#height, (prev) => checkSnapshotUpdate(parseSnapshot(prev), snap));
    this.#ensureEntry(cp);
    const outcome = await this.#deliver(cp, { kind: 'ChannelUpdated', facts: this.#facts(seq, checked) });
    if (first) this.#watch(cp, snap.fundingHeightHint);
    return this.#reply(cp, outcome);
  }

  /** A force-close request: refused (COURT_E_CHANNEL_CLOSING) unless the channel is in Default. */
  async forceClose(chanPoint: string): Promise<ChannelReply> {
    if (!this.#entries.has(chanPoint)) throw new CourtError('COURT_E_CHANNEL_UNKNOWN', `no unresolved channel ${chanPoint}`);
    return this.#reply(chanPoint, await this.#deliver(chanPoint, { kind: 'ForceCloseRequested' }));
  }

  /**
   * A remote per-commitment secret (a revocation) for their commitment `commitmentNumber`: checked against the
   * secrets already held (BOLT #3 shachain) and stored. Refused (COURT_E_SHACHAIN_*) if it does not fit.
   */
  addRevocation(chanPoint: string, secret: Uint8Array, commitmentNumber: number): void {
    if (!this.#entries.has(chanPoint)) throw new CourtError('COURT_E_CHANNEL_UNKNOWN', `no unresolved channel ${chanPoint}`);
    addRevocationSecret(this.#o.db, chanPoint, (store) => store.insert(secret, MAX_SHACHAIN_INDEX - commitmentNumber));
  }

  /** A resolver of `chanPoint` finished (called by the resolver host). */
  async resolverFinished(chanPoint: string, outpoint: string): Promise<void> {
    await this.#deliver(chanPoint, { kind: 'ResolverFinished', outpoint });
  }

  /**
   * The block dispatcher's subscriber (after the ChainWatches, which deliver a block's funding spends first): the
   * channels due at this height and those with effects to retry get the block. A disconnected block needs
   * nothing here: the watches report the spends it undoes.
   */
  readonly onChainEvent = async (event: ChainEvent): Promise<void> => {
    if (event.type === 'BlockDisconnected') {
      this.#height = event.height - 1;
      this.#tipHash = undefined;
      return;
    }
    this.#height = event.height;
    this.#tipHash = event.hash;
    const events = new Map<string, ArbEvent>();
    for (const due of this.#wake.popDue(event.height)) {
      const e = this.#entries.get(due.id);
      if (e === undefined || e.wake !== due.height || events.has(due.id)) continue;
      events.set(due.id, { kind: 'BlockConnected', height: event.height, hash: event.hash });
    }
    for (const cp of this.#pending) if (!events.has(cp)) events.set(cp, { kind: 'BlockConnected', height: event.height, hash: event.hash });
    await Promise.all([...events].map(([cp, ev]) => this.#deliver(cp, ev)));
  };

  /**
   * Starts the funding spend watch of `chanPoint` (once) from `hint`. `reconcile` (a closed channel at start):
   * once the rescan is done, a close the chain no longer holds (the output unspent, a reorg while courtd was
   * down) rolls the channel back, as a disconnect would have.
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
        if (s === undefined || (s.kind !== 'ContractClosed' && s.kind !== 'WaitingFullResolution')) return;
        this.#log.warn({ chanPoint, closeTxid: s.close.txid }, 'arbitrator: the confirmed close is no longer on the chain; rolling back');
        await this.#deliver(chanPoint, { kind: 'BlockDisconnected', height: s.close.height, hash: NO_BLOCK, rollback: this.#rollback(chanPoint) });
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

  /** A funding watch event: to the channel's mailbox, awaited (the dispatcher's order holds). */
  async #onSpend(chanPoint: string, e: SpendEvent): Promise<void> {
    if (e.type === 'spend-undone') {
      const entry = this.#entries.get(chanPoint);
      const closed = entry !== undefined && CLOSED.has(entry.state);
      const rollback = closed ? this.#rollback(chanPoint) : undefined;
      await this.#deliver(chanPoint, { kind: 'BlockDisconnected', height: e.height, hash: e.blockHash, ...(rollback === undefined ? {} : { rollback }) });
      return;
    }
    if (e.height > this.#height) this.#height = e.height;
    const entry0 = this.#entries.get(chanPoint);
    if (entry0 !== undefined && CLOSED.has(entry0.state)) {
      // A closed channel's funding spent by another transaction than its close (a reorg while courtd was down,
      // found by the start-up rescan): the stored close is gone; roll back, then take the spend.
      const s = await this.state(chanPoint);
      if ((s.kind === 'ContractClosed' || s.kind === 'WaitingFullResolution') && s.close.txid !== e.spenderTxid) {
        this.#log.warn({ chanPoint, closeTxid: s.close.txid, spenderTxid: e.spenderTxid }, 'arbitrator: the funding output was spent by another close; rolling back');
        await this.#deliver(chanPoint, { kind: 'BlockDisconnected', height: s.close.height, hash: NO_BLOCK, rollback: this.#rollback(chanPoint) });
      }
    }
    await this.#deliver(chanPoint, {
      kind: 'BlockConnected',
      height: e.height,
      hash: e.blockHash,
      spend: { txid: e.spenderTxid, txHex: e.spendingTx.toHex() },
    });
    // A spend found by a rescan may already have its depth: act now rather than at the next block.
    const entry = this.#entries.get(chanPoint);
    if (this.#tipHash !== undefined && e.height < this.#height && entry !== undefined && entry.wake !== null && entry.wake <= this.#height) {
      await this.#deliver(chanPoint, { kind: 'BlockConnected', height: this.#height, hash: this.#tipHash });
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
    const hashes = new Set([...set.local, ...set.remote, ...(set.remotePending ?? [])].map((h) => h.paymentHash));
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
      await this.#deliver(chanPoint, { kind: 'ChannelUpdated', facts: this.#facts(seq, this.#effects.checked(chanPoint, seq)) });
    } catch (err) {
      this.#log.error({ chanPoint, ...errFields(err) }, 'arbitrator: redelivering the stored snapshot failed');
    }
  }

  /** Resumes a channel's runner (pending effects, pulse) without an event. */
  async #touch(chanPoint: string): Promise<void> {
    try {
      await this.#runner(chanPoint);
    } finally {
      this.#release(chanPoint);
    }
  }

  /** Delivers one event to a channel and updates routing from the state it ends in. Never rejects. */
  async #deliver(chanPoint: string, event: ArbEvent): Promise<EventOutcome<ArbState>> {
    let runner: Runner;
    try {
      runner = await this.#runner(chanPoint);
    } catch (err) {
      this.#release(chanPoint);
      return { kind: 'failed', error: err };
    }
    try {
      const outcome = await runner.enqueue(event);
      if (outcome.kind === 'accepted' && outcome.effectsFailed > 0) this.#setPending(chanPoint, true);
      if (event.kind === 'BlockConnected' && this.#pending.has(chanPoint)) this.#setPending(chanPoint, (await runner.retryPending()) > 0);
      return outcome;
    } finally {
      this.#release(chanPoint);
    }
  }

  async #runner(chanPoint: string): Promise<Runner> {
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
    await runner.resume();
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
    if (e.inflight > 0 || e.runner === undefined || e.runner.queued > 0 || e.pending) return;
    const runner = e.runner;
    delete e.runner;
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

function describe(err: unknown): string {
  const f = errFields(err);
  return String(f.message ?? err).slice(0, 300);
}
