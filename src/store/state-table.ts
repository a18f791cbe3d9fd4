/**
 * Where a machine's state row lives. The journal writes it inside the transition's transaction through a
 * StateTable binding, so a machine with a dedicated table (the ChannelArbitrator's arbitrator_state, with its code,
 * close type and reason as plain columns) plugs in its own; every other machine uses the generic machine_state.
 */
import type { JsonObject, StoredState } from '../fsm/index.js';
import { CourtError } from '../util/errors.js';
import type { Db } from './db.js';

/** A state row to write. */
export interface StateRow {
  readonly machineId: string;
  readonly machineKind: string;
  readonly seq: number;
  readonly stateCode: number;
  readonly state: JsonObject;
  readonly height: number;
}

/** Reads and writes state rows of one table on one connection. */
export interface StateRows {
  /** The stored state and seq, or undefined if the machine has no row. */
  read(machineId: string): StoredState | undefined;
  /** Writes the row for `row.seq`; throws COURT_E_FSM_SEQ unless the stored seq is `row.seq - 1` (no row: seq 1). */
  write(row: StateRow): void;
}

/** Binds a state table to a connection (prepares its statements once). */
export type StateTable = (db: Db) => StateRows;

/** The generic table machine_state (migrations/0002_briefcase.sql). */
export const machineStateTable: StateTable = (db) => {
  const select = db.prepare<[string], { seq: number; state: string }>('SELECT seq, state FROM machine_state WHERE machine_id = ?');
  const insert = db.prepare<[string, string, number, string, number, number]>(
    `INSERT INTO machine_state (machine_id, machine, state_code, state, seq, updated_height)
     VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (machine_id) DO NOTHING`,
  );
  const update = db.prepare<[number, string, number, number, string, number]>(
    `UPDATE machine_state
     SET state_code = ?, state = ?, seq = ?, updated_height = ?, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
     WHERE machine_id = ? AND seq = ?`,
  );
  return {
    read(machineId) {
      const row = select.get(machineId);
      return row === undefined ? undefined : { seq: row.seq, state: JSON.parse(row.state) };
    },
    write(r) {
      const text = JSON.stringify(r.state);
      const changes =
        r.seq === 1
          ? insert.run(r.machineId, r.machineKind, r.stateCode, text, r.seq, r.height).changes
          : update.run(r.stateCode, text, r.seq, r.height, r.machineId, r.seq - 1).changes;
      if (changes !== 1) {
        throw new CourtError('COURT_E_FSM_SEQ', `state row of ${r.machineId} is not at seq ${r.seq - 1}`, { seq: r.seq });
      }
    },
  };
};
