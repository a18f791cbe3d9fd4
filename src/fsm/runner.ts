/**
 * MachineRunner: runs one machine instance (one ChannelArbitrator, the sweeper, ...) from its mailbox, persisting
 * before acting (ARCHITECTURE.md "Durability: one event, one transaction"; style.md principles 6 and 9).
 *
 * For each event, in mailbox order:
 *   1. `machine.transition(state, event, env)`, pure.
 *   2. A refusal changes nothing and writes nothing: the caller gets `{ kind: 'refused' }` (the runner logs it at
 *      debug). A step whose encoded state equals the current one and that emits no effects writes nothing either
 *      (`unchanged`), so a block that means nothing to a channel costs no fsync.
 *   3. Otherwise ONE journal transaction writes the new state row, the transition-log row (seq = previous + 1)
 *      and one outbox row per effect; `onCommit` fires after it commits.
 *   4. Each effect runs through the interpreter, in order; each that succeeds is marked done (`onCommit` again).
 *   5. The next event starts only when all of this is finished.
 *
 * `resume()` rebuilds everything from the journal alone: the state row (or `machine.initial` when there is none)
 * and then every pending outbox row of this machine, run again in id order before any event is processed.
 *
 * The effect contract. An effect may run more than once: the process can die after the transition committed and
 * before (or while) the effect ran, or after it ran and before it was marked done; a failed effect is retried on
 * the next `resume()` or `retryPending()`. So every interpreter case must be idempotent in its observable outcome:
 * rebroadcasting a transaction is fine; a watch or sweep offer is an upsert; a node event is keyed by the outbox
 * id it receives in `EffectContext` (node_event.outbox_id is UNIQUE). Effects of one transition run in order, but
 * a failed effect does not stop the ones after it (each must stand alone; an effect that depends on another's
 * result is emitted by the transition that receives that result as an event). An interpreter must never await
 * this runner's own mailbox (that would deadlock): it posts result events with `enqueue` and does not wait. An
 * interpreter call that never settles stalls its machine, so adapters bound their calls with timeouts.
 *
 * Failures never crash the process. A throwing effect, or one whose result event cannot be committed, leaves its
 * row pending (attempts and last_error recorded), is logged, and is reported to `onEffectFailed` (which typically
 * enqueues an EffectFailed event); an effect whose row cannot be marked done stays pending too (it is counted in
 * `effectsFailed`). A transition that throws or a commit that fails answers `{ kind: 'failed' }` and leaves the
 * state as it was; a pulse step that fails leaves `pulseDue` set and is taken again by `retryPending()`.
 * `enqueue`'s promise never rejects, so a supervisor may drop it.
 */
import { CourtError, type CourtErrorCode } from '../util/errors.js';
import { errFields, silentLogger, type Logger } from '../util/logger.js';
import type { Journal, OutboxEntry } from './journal.js';
import { isRefusal, type FsmEnv, type Json, type Machine } from './machine.js';
import { Mailbox } from './mailbox.js';

/** Where an effect comes from: its outbox row, usable as an idempotency key. */
export interface EffectContext {
  readonly machineId: string;
  readonly outboxId: number;
  readonly seq: number;
  readonly idx: number;
}

/**
 * Executes one effect through the ports. Must be idempotent (see the module comment); throws on failure. It may
 * return its result as an event of the machine: the runner processes that event at once, and the transition it
 * causes marks the effect done in the same transaction, so a crash can never keep the effect done and lose its
 * result (the effect then simply runs again).
 */
export type EffectInterpreter<Ef, Ev = never> = (effect: Ef, ctx: EffectContext) => Promise<Ev | void> | Ev | void;

/** A commit the runner just made, reported to `onCommit` right after SQLite committed it. */
export type CommitInfo =
  | {
      readonly kind: 'transition';
      readonly machineId: string;
      readonly seq: number;
      readonly fromCode: number;
      readonly toCode: number;
      readonly eventCode: number;
      readonly outboxIds: readonly number[];
    }
  | { readonly kind: 'effect-done' | 'effect-failed'; readonly machineId: string; readonly outboxId: number; readonly seq: number; readonly idx: number };

/** An effect that threw (or whose stored payload no longer decodes: then `effect` is undefined). */
export interface EffectFailure<Ef> {
  readonly machineId: string;
  readonly outboxId: number;
  readonly seq: number;
  readonly idx: number;
  readonly effect: Ef | undefined;
  readonly payload: Json;
  readonly error: unknown;
}

/** What became of one enqueued event. */
export type EventOutcome<S> =
  | { readonly kind: 'accepted'; readonly seq: number; readonly state: S; readonly effectsFailed: number }
  | { readonly kind: 'unchanged'; readonly state: S }
  | { readonly kind: 'refused'; readonly reason: string; readonly code: CourtErrorCode }
  | { readonly kind: 'failed'; readonly error: unknown };

/** Everything a runner needs. */
export interface RunnerOptions<S, Ev, Ef, Env extends FsmEnv> {
  readonly journal: Journal;
  readonly machine: Machine<S, Ev, Ef, Env>;
  readonly machineId: string;
  readonly interpret: EffectInterpreter<Ef, Ev>;
  /** The facts for the next transition, read when an event is taken from the mailbox. */
  readonly env: () => Env;
  /** Called synchronously after every commit (transition, effect done, effect failure recorded). */
  readonly onCommit?: (info: CommitInfo) => void;
  /** Called when an effect throws; its row stays pending. */
  readonly onEffectFailed?: (failure: EffectFailure<Ef>) => void;
  readonly logger?: Logger;
}

/** At most this many pulse steps follow one event (a guard against a machine whose pulse never settles). */
const MAX_PULSES = 8;

type Phase = 'new' | 'resuming' | 'running' | 'closing' | 'closed';

/** Runs one machine instance: mailbox, persist-then-act, outbox replay. */
export class MachineRunner<S, Ev, Ef, Env extends FsmEnv = FsmEnv> {
  readonly machineId: string;
  readonly #o: RunnerOptions<S, Ev, Ef, Env>;
  readonly #log: Logger;
  readonly #mailbox: Mailbox;
  #phase: Phase = 'new';
  #resuming: Promise<void> | undefined;
  #broken = false;
  #resumeError: unknown;
  #loaded = false;
  #state: S | undefined;
  #stateText = '';
  #seq = 0;

  constructor(options: RunnerOptions<S, Ev, Ef, Env>) {
    if (options.machineId === '') throw new CourtError('COURT_E_INVALID_ARGUMENT', 'machineId must not be empty');
    this.machineId = options.machineId;
    this.#o = options;
    this.#log = options.logger ?? silentLogger;
    this.#mailbox = new Mailbox((err) => this.#log.error({ ...this.#ctx(), ...errFields(err) }, 'fsm: mailbox job rejected'));
  }

  /** The current state (after `resume()` loaded it). */
  get state(): S {
    if (!this.#loaded) throw new CourtError('COURT_E_FSM_LIFECYCLE', 'state read before resume()');
    return this.#state as S;
  }

  /** The seq of the last committed transition (0 for none). */
  get seq(): number {
    if (!this.#loaded) throw new CourtError('COURT_E_FSM_LIFECYCLE', 'seq read before resume()');
    return this.#seq;
  }

  /** Whether resume() failed: every event is then answered 'failed' (a fresh runner may be built instead). */
  get broken(): boolean {
    return this.#broken;
  }

  /**
   * Whether the machine rests in a state whose pulse is due: a pulse step failed (its commit, say) and was not
   * taken yet. `retryPending()` takes it again; a supervisor should call that on the next block.
   */
  get pulseDue(): boolean {
    return this.#loaded && !this.#broken && this.#o.machine.pulse?.(this.#state as S) !== undefined;
  }

  /** Events waiting in the mailbox. */
  get queued(): number {
    return this.#mailbox.size;
  }

  /**
   * Loads the state from the journal, re-runs this machine's pending outbox rows in order, then opens the
   * mailbox. Call once. Rejects (and every queued or later event fails) if the stored state cannot be loaded.
   */
  resume(): Promise<void> {
    if (this.#phase !== 'new') {
      return Promise.reject(new CourtError('COURT_E_FSM_LIFECYCLE', `resume() called while ${this.#phase}`));
    }
    this.#phase = 'resuming';
    this.#resuming = this.#resume();
    return this.#resuming;
  }

  async #resume(): Promise<void> {
    try {
      const m = this.#o.machine;
      const stored = this.#o.journal.load(this.machineId);
      const state = stored === undefined ? m.initial(this.machineId) : decode(() => m.state.decode(stored.state), 'state');
      this.#setState(state, JSON.stringify(m.state.encode(state)), stored?.seq ?? 0);
      await this.#runEntries(this.#o.journal.pending(this.machineId));
      await this.#pulse();
      if (this.#phase === 'resuming') this.#phase = 'running';
    } catch (err) {
      this.#broken = true;
      this.#resumeError = err;
      this.#log.error({ ...this.#ctx(), ...errFields(err) }, 'fsm: resume failed');
      throw err;
    } finally {
      this.#mailbox.open();
    }
  }

  /**
   * Queues `event`; resolves with its outcome once it and its effects were processed. Never rejects. Events
   * queued before `resume()` wait for it; after `close()` the outcome is a COURT_E_FSM_CLOSED failure.
   */
  enqueue(event: Ev): Promise<EventOutcome<S>> {
    if (this.#phase === 'closing' || this.#phase === 'closed') return Promise.resolve(closedOutcome());
    return new Promise((resolve) =>
      this.#mailbox.post(async () => {
        const outcome = await this.#handle(event);
        if (outcome.kind === 'accepted') await this.#pulse();
        resolve(outcome);
      }),
    );
  }

  /** Takes the machine's pulse events (Machine.pulse) until it rests in a state without one. */
  async #pulse(): Promise<void> {
    const pulse = this.#o.machine.pulse;
    if (pulse === undefined) return;
    for (let i = 0; i < MAX_PULSES; i++) {
      if (this.#broken || !this.#loaded) return;
      const ev = pulse(this.#state as S);
      if (ev === undefined) return;
      const outcome = await this.#handle(ev);
      if (outcome.kind !== 'accepted') return;
    }
    this.#log.error(this.#ctx(), 'fsm: pulse did not settle; stopped');
  }

  /**
   * Queues a re-run of this machine's pending outbox rows, then of a pulse that is due (say, on each block);
   * resolves with how much work is left afterwards: the effects still pending, plus 1 if the pulse is still due
   * or the pending rows could not be read (0 if the runner is closed or broken). Never rejects.
   */
  retryPending(): Promise<number> {
    if (this.#phase === 'closing' || this.#phase === 'closed') return Promise.resolve(0);
    return new Promise((resolve) =>
      this.#mailbox.post(async () => {
        if (this.#broken || !this.#loaded) return resolve(0);
        let left: number;
        try {
          left = await this.#runEntries(this.#o.journal.pending(this.machineId));
        } catch (err) {
          this.#log.error({ ...this.#ctx(), ...errFields(err) }, 'fsm: reading pending effects failed');
          left = 1;
        }
        await this.#pulse();
        resolve(left + (this.pulseDue ? 1 : 0));
      }),
    );
  }

  /** Resolves once the mailbox is empty and nothing is running. */
  idle(): Promise<void> {
    return this.#mailbox.idle();
  }

  /**
   * Stops accepting events, lets a running resume and the queued events finish, then marks the runner closed.
   * Does not close the journal.
   */
  async close(): Promise<void> {
    if (this.#phase === 'closed') return;
    const neverResumed = this.#phase === 'new';
    this.#phase = 'closing';
    if (neverResumed) this.#mailbox.open(); // queued events then answer "closed"
    await this.#resuming?.catch(() => undefined);
    await this.#mailbox.idle();
    this.#phase = 'closed';
  }

  async #handle(event: Ev, completes?: number): Promise<EventOutcome<S>> {
    if (this.#broken) return { kind: 'failed', error: this.#resumeError };
    if (!this.#loaded) return closedOutcome();
    const m = this.#o.machine;
    const prev = this.#state as S;
    let committed: { next: S; nextText: string; info: CommitInfo & { kind: 'transition' }; entries: OutboxEntry[]; effects: readonly Ef[] };
    try {
      const env = this.#o.env();
      const result = m.transition(prev, event, env);
      if (isRefusal(result)) {
        this.#log.debug({ ...this.#ctx(), reason: result.reason }, 'fsm: event refused');
        return { kind: 'refused', reason: result.reason, code: result.code ?? 'COURT_E_FSM_REFUSED' };
      }
      const stateJson = m.state.encode(result.state);
      const nextText = JSON.stringify(stateJson);
      const records = result.records ?? [];
      if (result.effects.length === 0 && records.length === 0 && nextText === this.#stateText) return { kind: 'unchanged', state: prev };
      const seq = this.#seq + 1;
      const codes = { fromCode: m.state.code(prev), toCode: m.state.code(result.state), eventCode: m.event.code(event) };
      const entries = this.#o.journal.commit({
        machineId: this.machineId,
        machineKind: m.kind,
        seq,
        height: env.height,
        ...codes,
        event: m.event.encode(event),
        state: stateJson,
        effects: result.effects.map((ef) => ({ code: m.effect.code(ef), payload: m.effect.encode(ef) })),
        ...(records.length === 0 ? {} : { records }),
        ...(completes === undefined ? {} : { completes }),
      });
      const info = { kind: 'transition' as const, machineId: this.machineId, seq, ...codes, outboxIds: entries.map((e) => e.id) };
      committed = { next: result.state, nextText, info, entries, effects: result.effects };
    } catch (err) {
      this.#log.error({ ...this.#ctx(), ...errFields(err) }, 'fsm: event failed; state unchanged');
      return { kind: 'failed', error: err };
    }
    const { next, nextText, info, entries, effects } = committed;
    this.#setState(next, nextText, info.seq);
    this.#notify(info);
    let failed = 0;
    for (const [i, entry] of entries.entries()) {
      if (!(await this.#runOne(entry, effects[i] as Ef))) failed++;
    }
    return { kind: 'accepted', seq: info.seq, state: next, effectsFailed: failed };
  }

  /** Runs stored outbox rows in order (decoding each); returns how many failed. */
  async #runEntries(entries: readonly OutboxEntry[]): Promise<number> {
    let failed = 0;
    for (const entry of entries) {
      let effect: Ef;
      try {
        effect = decode(() => this.#o.machine.effect.decode(entry.payload), 'effect');
      } catch (err) {
        this.#effectFailed(entry, undefined, err);
        failed++;
        continue;
      }
      if (!(await this.#runOne(entry, effect))) failed++;
    }
    return failed;
  }

  /**
   * Runs one effect and marks it done; false if it is still pending: it threw, its result event could not be
   * committed (the result is lost with that transaction, so the effect must run again to produce it), or marking
   * it done failed.
   */
  async #runOne(entry: OutboxEntry, effect: Ef): Promise<boolean> {
    const ctx: EffectContext = { machineId: this.machineId, outboxId: entry.id, seq: entry.seq, idx: entry.idx };
    let result: Ev | void;
    try {
      result = await this.#o.interpret(effect, ctx);
    } catch (err) {
      this.#effectFailed(entry, effect, err);
      return false;
    }
    if (result !== undefined) {
      const outcome = await this.#handle(result as Ev, entry.id);
      if (outcome.kind === 'accepted') {
        this.#notify({ kind: 'effect-done', ...ctx });
        await this.#pulse();
        return true;
      }
      if (outcome.kind === 'failed') {
        this.#effectFailed(entry, effect, outcome.error);
        return false;
      }
      // Refused or unchanged: the machine took the result and it changes nothing; the effect is done.
    }
    try {
      this.#o.journal.markDone(entry.id);
    } catch (err) {
      this.#log.error({ ...this.#ctx(), outboxId: entry.id, ...errFields(err) }, 'fsm: effect ran but was not marked done; it stays pending and runs again');
      return false;
    }
    this.#notify({ kind: 'effect-done', ...ctx });
    return true;
  }

  #effectFailed(entry: OutboxEntry, effect: Ef | undefined, error: unknown): void {
    const ctx = { machineId: this.machineId, outboxId: entry.id, seq: entry.seq, idx: entry.idx };
    this.#log.warn({ ...this.#ctx(), outboxId: entry.id, kind: entry.code, ...errFields(error) }, 'fsm: effect failed; it stays pending');
    try {
      this.#o.journal.markFailed(entry.id, describe(error));
      this.#notify({ kind: 'effect-failed', ...ctx });
    } catch (err) {
      this.#log.error({ ...this.#ctx(), outboxId: entry.id, ...errFields(err) }, 'fsm: recording an effect failure failed');
    }
    try {
      this.#o.onEffectFailed?.({ ...ctx, effect, payload: entry.payload, error });
    } catch (err) {
      this.#log.error({ ...this.#ctx(), ...errFields(err) }, 'fsm: onEffectFailed hook threw');
    }
  }

  #notify(info: CommitInfo): void {
    try {
      this.#o.onCommit?.(info);
    } catch (err) {
      this.#log.error({ ...this.#ctx(), ...errFields(err) }, 'fsm: onCommit hook threw');
    }
  }

  #setState(state: S, text: string, seq: number): void {
    this.#state = state;
    this.#stateText = text;
    this.#seq = seq;
    this.#loaded = true;
  }

  #ctx(): Record<string, unknown> {
    return { machine: this.#o.machine.kind, machineId: this.machineId };
  }
}

function closedOutcome(): EventOutcome<never> {
  return { kind: 'failed', error: new CourtError('COURT_E_FSM_CLOSED', 'the machine runner is closed') };
}

/** Runs a codec's decode, turning any failure into COURT_E_FSM_DECODE. */
function decode<T>(f: () => T, what: string): T {
  try {
    return f();
  } catch (err) {
    if (err instanceof CourtError && err.code === 'COURT_E_FSM_DECODE') throw err;
    throw new CourtError('COURT_E_FSM_DECODE', `stored ${what} does not decode: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** A short, secret-free description of an error for outbox.last_error. */
function describe(err: unknown): string {
  const { code, message } = errFields(err);
  const text = String(message);
  return (code === undefined || text.startsWith(`${String(code)}:`) ? text : `${String(code)}: ${text}`).slice(0, 500);
}
