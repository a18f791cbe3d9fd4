/**
 * What a machine is, for the generic runner: a pure transition function over closed unions of states, events and
 * effects (style.md principles 1 to 3), plus the codecs that turn each of them into versioned JSON and a stable
 * persisted number. Nothing here does I/O; the runner (runner.ts) persists and executes.
 */
import type { CourtErrorCode } from '../util/errors.js';

/** A JSON value as stored in the briefcase (no bigint: amounts travel as decimal strings). */
export type Json = null | boolean | number | string | readonly Json[] | JsonObject;

/** A JSON object. */
export type JsonObject = { readonly [key: string]: Json };

/**
 * Converts one type to and from JSON. `encode` returns an object with an integer `v` (its format version; the
 * briefcase refuses payloads without one). `decode` must accept every version it ever encoded and tolerate
 * unknown optional fields; it throws (COURT_E_FSM_DECODE) on anything else.
 */
export interface Codec<T> {
  encode(value: T): JsonObject & { readonly v: number };
  decode(json: Json): T;
}

/** A codec that also names each value's persisted code (a state code, an event kind, an effect kind). */
export interface CodedCodec<T> extends Codec<T> {
  /** The value's stable persisted number; never renumbered once landed (src/store/codes.ts for the arbitrator). */
  code(value: T): number;
}

/** The read-only facts a transition may consult. Every machine's environment carries at least the height. */
export interface FsmEnv {
  /** The chain height the event is processed at; recorded in the transition log. */
  readonly height: number;
}

/**
 * An accepted event: the next state, the effects to run, in order, once it is committed, and durable records
 * (versioned JSON the machine's store writes in the same transaction as the state: the ChannelArbitrator's
 * resolver rows, so "resolvers inserted" and "WaitingFullResolution" become durable together).
 */
export interface Step<S, Ef> {
  readonly state: S;
  readonly effects: readonly Ef[];
  readonly records?: readonly JsonObject[];
}

/** A refused event: the machine does not take it in this state. Nothing is persisted and the state stays. */
export interface Refusal {
  readonly refused: true;
  readonly reason: string;
  /** The error code a caller (the API) should answer with; COURT_E_FSM_REFUSED when absent. */
  readonly code?: CourtErrorCode;
}

/** What a transition returns. */
export type TransitionResult<S, Ef> = Step<S, Ef> | Refusal;

/**
 * A machine definition. `transition` is pure and synchronous: no await, no clock, no randomness, no I/O; given
 * the same state, event and env it returns the same result (the transition log is replayed on that promise).
 */
export interface Machine<S, Ev, Ef, Env extends FsmEnv = FsmEnv> {
  /** The machine's name, stored with its state rows (e.g. "sweeper"). */
  readonly kind: string;
  /** The state of a machine that has no stored row yet. */
  initial(machineId: string): S;
  /** Decides what an event does in a state. */
  transition(state: S, event: Ev, env: Env): TransitionResult<S, Ef>;
  readonly state: CodedCodec<S>;
  readonly event: CodedCodec<Ev>;
  readonly effect: CodedCodec<Ef>;
  /**
   * The event a machine gives itself when it rests in `state` (xstate's eventless transitions): the runner takes
   * it right after the step that reached `state` committed and its effects ran, and again on `resume()`, so a
   * chain of steps continues after a crash between them. It must lead to a state whose pulse differs.
   */
  pulse?(state: S): Ev | undefined;
}

/** Builds a step: `next` with `effects` (none by default). */
export function step<S, Ef>(state: S, effects: readonly Ef[] = [], records: readonly JsonObject[] = []): Step<S, Ef> {
  return records.length === 0 ? { state, effects } : { state, effects, records };
}

/** Builds a refusal with a reason for logs and, optionally, the error code callers should see. */
export function refuse(reason: string, code?: CourtErrorCode): Refusal {
  return code === undefined ? { refused: true, reason } : { refused: true, reason, code };
}

/** Tells a refusal from a step. */
export function isRefusal<S, Ef>(r: TransitionResult<S, Ef>): r is Refusal {
  return (r as Partial<Refusal>).refused === true;
}
