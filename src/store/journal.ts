/**
 * SqliteJournal: the fsm Journal port over the briefcase tables transition_log and outbox plus a state table
 * (machine_state unless told otherwise). One `commit` is one IMMEDIATE transaction: state row, log row, outbox
 * rows. Loading checks that the state row's seq is the log's last seq, which is what one-transaction commits
 * guarantee; a mismatch means the database was edited or damaged and the machine must not run.
 */
import type { Statement } from 'better-sqlite3';
import type { Journal, JsonObject, LoggedEvent, OutboxEntry, StoredState, TransitionRecord } from '../fsm/index.js';
import { CourtError } from '../util/errors.js';
import { OUTBOX_STATUS } from './codes.js';
import { openDatabase, type Db } from './db.js';
import { migrate } from './migrate.js';
import { machineStateTable, type StateRows, type StateTable } from './state-table.js';

/** Where a step's records are written: inside the transition's transaction, before its state row. */
export type RecordWriter = (at: { readonly machineId: string; readonly seq: number; readonly height: number }, records: readonly JsonObject[]) => void;

/** Binds a record writer to a connection (prepares its statements once). */
export type RecordSink = (db: Db) => RecordWriter;

/** One transition-log row, decoded. */
export interface TransitionRow extends LoggedEvent {
  readonly fromState: number;
  readonly eventKind: number;
  readonly toState: number;
}

interface HistoryDbRow {
  seq: number;
  from_state: number;
  event_kind: number;
  to_state: number;
  height: number;
  payload: string;
}

interface OutboxDbRow {
  id: number;
  machine_id: string;
  seq: number;
  idx: number;
  kind: number;
  payload: string;
}

/** The Journal on a briefcase connection. */
export class SqliteJournal implements Journal {
  /** The connection (shared with other journals and stores of the process, unless opened by openJournal). */
  readonly db: Db;
  readonly #owned: boolean;
  readonly #state: StateRows;
  readonly #lastSeq: Statement<[string], { seq: number | null }>;
  readonly #insertLog: Statement<[string, number, number, number, number, number, string]>;
  readonly #insertOutbox: Statement<[string, number, number, number, string, number]>;
  readonly #pending: Statement<[string], OutboxDbRow>;
  readonly #done: Statement<[number]>;
  readonly #failed: Statement<[string, number]>;
  readonly #history: Statement<[string], HistoryDbRow>;
  readonly #commitTx: (r: TransitionRecord) => OutboxEntry[];
  readonly #records: RecordWriter | undefined;

  /**
   * Prepares the statements on `db` (migrated to 0002 or later); `stateTable` holds the machines' state rows and
   * `recordSink`, if given, writes steps' durable records (a step with records and no sink is refused).
   */
  constructor(db: Db, stateTable: StateTable = machineStateTable, owned = false, recordSink?: RecordSink) {
    this.db = db;
    this.#owned = owned;
    this.#state = stateTable(db);
    this.#records = recordSink?.(db);
    this.#lastSeq = db.prepare<[string], { seq: number | null }>('SELECT MAX(seq) AS seq FROM transition_log WHERE machine_id = ?');
    this.#insertLog = db.prepare<[string, number, number, number, number, number, string]>(
      `INSERT INTO transition_log (machine_id, seq, from_state, event_kind, to_state, height, payload)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    );
    this.#insertOutbox = db.prepare<[string, number, number, number, string, number]>(
      'INSERT INTO outbox (machine_id, seq, idx, kind, payload, created_height) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.#pending = db.prepare<[string], OutboxDbRow>(
      `SELECT id, machine_id, seq, idx, kind, payload FROM outbox WHERE machine_id = ? AND status = ${OUTBOX_STATUS.Pending} ORDER BY id`,
    );
    this.#done = db.prepare<[number]>(
      `UPDATE outbox SET status = ${OUTBOX_STATUS.Done}, done_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ? AND status = ${OUTBOX_STATUS.Pending}`,
    );
    this.#failed = db.prepare<[string, number]>(`UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE id = ? AND status = ${OUTBOX_STATUS.Pending}`);
    this.#history = db.prepare<[string], HistoryDbRow>(
      'SELECT seq, from_state, event_kind, to_state, height, payload FROM transition_log WHERE machine_id = ? ORDER BY seq',
    );
    this.#commitTx = db.transaction((r: TransitionRecord) => this.#write(r)).immediate;
  }

  load(machineId: string): StoredState | undefined {
    return this.db.transaction(() => {
      const stored = this.#state.read(machineId);
      const logged = this.#lastSeq.get(machineId)?.seq ?? 0;
      if ((stored?.seq ?? 0) !== logged) {
        throw new CourtError('COURT_E_FSM_CORRUPT', `state row of ${machineId} is at seq ${stored?.seq ?? 'none'} but its log at ${logged}`, {
          logged,
        });
      }
      return stored;
    })();
  }

  commit(record: TransitionRecord): OutboxEntry[] {
    return this.#commitTx(record);
  }

  pending(machineId: string): OutboxEntry[] {
    return this.#pending.all(machineId).map((r) => ({
      id: r.id,
      machineId: r.machine_id,
      seq: r.seq,
      idx: r.idx,
      code: r.kind,
      payload: JSON.parse(r.payload),
    }));
  }

  markDone(outboxId: number): void {
    this.#done.run(outboxId);
  }

  markFailed(outboxId: number, error: string): void {
    this.#failed.run(error, outboxId);
  }

  /** The machine's transition log in seq order (for `court history` and replay checks). */
  history(machineId: string): TransitionRow[] {
    return this.#history.all(machineId).map((r) => ({
      seq: r.seq,
      fromState: r.from_state,
      eventKind: r.event_kind,
      toState: r.to_state,
      height: r.height,
      event: JSON.parse(r.payload),
    }));
  }

  /** Closes the connection if openJournal opened it; otherwise does nothing (the owner closes it). */
  close(): void {
    if (this.#owned && this.db.open) this.db.close();
  }

  #write(r: TransitionRecord): OutboxEntry[] {
    const records = r.records ?? [];
    if (records.length > 0) {
      if (this.#records === undefined) {
        throw new CourtError('COURT_E_INVALID_ARGUMENT', `machine ${r.machineKind} emitted durable records but its journal has no record sink`);
      }
      this.#records({ machineId: r.machineId, seq: r.seq, height: r.height }, records);
    }
    if (r.completes !== undefined) this.#done.run(r.completes);
    this.#state.write({ machineId: r.machineId, machineKind: r.machineKind, seq: r.seq, stateCode: r.toCode, state: r.state, height: r.height });
    this.#insertLog.run(r.machineId, r.seq, r.fromCode, r.eventCode, r.toCode, r.height, JSON.stringify(r.event));
    return r.effects.map((ef, idx) => {
      const text = JSON.stringify(ef.payload);
      const id = Number(this.#insertOutbox.run(r.machineId, r.seq, idx, ef.code, text, r.height).lastInsertRowid);
      return { id, machineId: r.machineId, seq: r.seq, idx, code: ef.code, payload: ef.payload as JsonObject };
    });
  }
}

/**
 * Opens (creating and migrating if needed) the briefcase at `path` and returns a journal that owns the
 * connection: what a crash test needs to resume a machine from a copied database file.
 */
export function openJournal(path: string, stateTable: StateTable = machineStateTable, recordSink?: RecordSink): SqliteJournal {
  const db = openDatabase(path);
  try {
    migrate(db);
    return new SqliteJournal(db, stateTable, true, recordSink);
  } catch (err) {
    db.close();
    throw err;
  }
}
