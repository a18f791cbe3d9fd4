/**
 * The runner's persistence port (owned here, implemented by src/store/journal.ts over SQLite): a machine's state
 * row, its append-only transition log and its outbox of effects. `commit` is the "one event, one transaction"
 * rule of ARCHITECTURE.md: the state row, the log row and the outbox rows of one transition become durable
 * together or not at all.
 */
import type { Json, JsonObject } from './machine.js';

/** A machine's stored position: its encoded state and the seq of its last logged transition. */
export interface StoredState {
  readonly seq: number;
  readonly state: Json;
}

/** One accepted transition, encoded, ready to be written in one transaction. */
export interface TransitionRecord {
  readonly machineId: string;
  /** The machine definition's kind (stored with generic state rows). */
  readonly machineKind: string;
  /** The previous seq plus one (1 for a machine's first transition). */
  readonly seq: number;
  readonly height: number;
  readonly fromCode: number;
  readonly toCode: number;
  readonly eventCode: number;
  readonly event: JsonObject;
  /** The new state, encoded. */
  readonly state: JsonObject;
  /** The effects in execution order, encoded. */
  readonly effects: readonly { readonly code: number; readonly payload: JsonObject }[];
  /** An outbox row (an effect whose result this transition is) to mark done in the same transaction. */
  readonly completes?: number;
  /** The step's durable records (Step.records), written in the same transaction by the journal's record sink. */
  readonly records?: readonly JsonObject[];
}

/** An outbox row: one effect of one transition. */
export interface OutboxEntry {
  readonly id: number;
  readonly machineId: string;
  /** The seq of the transition that emitted it. */
  readonly seq: number;
  /** Its position among that transition's effects. */
  readonly idx: number;
  readonly code: number;
  readonly payload: Json;
}

/** Durable storage for machines run by MachineRunner. Every method is synchronous and atomic on its own. */
export interface Journal {
  /** The machine's stored state, or undefined if it never committed a transition. */
  load(machineId: string): StoredState | undefined;
  /**
   * Writes the state row, the transition-log row and the outbox rows in one transaction and returns the outbox
   * rows in effect order. Throws (writing nothing) if `record.seq` is not the next seq (COURT_E_FSM_SEQ) or any
   * write fails.
   */
  commit(record: TransitionRecord): OutboxEntry[];
  /** The machine's pending outbox rows in execution (id) order. */
  pending(machineId: string): OutboxEntry[];
  /** Marks an outbox row done (idempotent). */
  markDone(outboxId: number): void;
  /** Records a failed execution of a pending row (attempts + 1, last error); the row stays pending. */
  markFailed(outboxId: number, error: string): void;
}
