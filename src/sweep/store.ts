/**
 * The sweeper's rows in the briefcase (migrations/0009_sweeper.sql): inputs, sets, transaction versions and
 * results. Plain prepared statements; the Sweeper wraps each event's writes in one SQLite transaction.
 */
import { SWEEP_INPUT_STATE, SWEEP_TX_STATUS, type SweepInputStateCode, type SweepTxStatusCode } from '../store/codes.js';
import type { Db } from '../store/db.js';
import { specFromJson } from './input.js';
import type { SweepInputSpec, SweepInputState, SweepResult } from './types.js';

/** sweep_input as read. */
export interface InputRow {
  readonly outpoint: string;
  readonly owner: string;
  readonly chan_point: string | null;
  readonly spec: string;
  readonly state: SweepInputStateCode;
  readonly offer_height: number;
  readonly start_feerate: number | null;
  readonly set_id: number | null;
  readonly next_height: number | null;
  readonly reason: string | null;
  readonly spend_txid: string | null;
  readonly spend_height: number | null;
  readonly spend_hash: string | null;
  readonly spend_hex: string | null;
  readonly publish_count: number;
  readonly last_feerate: number | null;
}

/** sweep_set as read. */
export interface SetRow {
  readonly id: number;
  readonly lease_id: string | null;
  readonly change_script: string;
  readonly deadline: number;
  readonly locktime: number;
  readonly start_feerate: number;
  readonly end_feerate: number;
  readonly start_height: number;
  readonly closed: number;
  readonly next_height: number | null;
  readonly reason: string | null;
  /** 1 from just before the wallet is asked for a lease until the lease is released. */
  readonly lease_held: number;
}

/** sweep_tx as read. */
export interface TxRow {
  readonly txid: string;
  readonly set_id: number;
  readonly version: number;
  readonly hex: string;
  readonly fee_sat: number;
  readonly feerate: number;
  readonly weight: number;
  readonly inputs: string;
  readonly wallet_inputs: string;
  readonly publish_height: number;
  readonly status: SweepTxStatusCode;
  readonly confirm_height: number | null;
  readonly confirm_hash: string | null;
}

export const STATE_NAME: Readonly<Record<number, SweepInputState>> = Object.freeze({
  [SWEEP_INPUT_STATE.Pending]: 'pending',
  [SWEEP_INPUT_STATE.Published]: 'published',
  [SWEEP_INPUT_STATE.Swept]: 'swept',
  [SWEEP_INPUT_STATE.SpentByOther]: 'spentByOther',
  [SWEEP_INPUT_STATE.Excluded]: 'excluded',
  [SWEEP_INPUT_STATE.Failed]: 'failed',
});

/** Terminal input states: nothing more happens to them (an offer of a swept or spent input changes nothing). */
export const TERMINAL: ReadonlySet<number> = new Set([
  SWEEP_INPUT_STATE.Swept,
  SWEEP_INPUT_STATE.SpentByOther,
  SWEEP_INPUT_STATE.Excluded,
  SWEEP_INPUT_STATE.Failed,
]);

/** Results as JSON (bigints as decimal strings). */
export function resultToJson(r: SweepResult): string {
  return JSON.stringify(r, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

export function resultFromJson(json: string): SweepResult {
  const o = JSON.parse(json) as SweepResult & { feeSat?: string };
  return o.type === 'swept' ? { ...o, feeSat: BigInt(o.feeSat as unknown as string) } : o;
}

/** The prepared statements. */
export class SweepStore {
  readonly db: Db;
  private readonly s;

  constructor(db: Db) {
    this.db = db;
    this.s = {
      input: db.prepare<[string], InputRow>('SELECT * FROM sweep_input WHERE outpoint = ?'),
      insertInput: db.prepare<[string, string, string | null, string, number, number | null, number]>(
        `INSERT INTO sweep_input (outpoint, owner, chan_point, spec, offer_height, start_feerate, next_height, state)
         VALUES (?, ?, ?, ?, ?, ?, ?, 0)`,
      ),
      due: db.prepare<[number], InputRow>('SELECT * FROM sweep_input WHERE next_height IS NOT NULL AND next_height <= ? ORDER BY outpoint'),
      dueSets: db.prepare<[number], SetRow>('SELECT * FROM sweep_set WHERE closed = 0 AND next_height IS NOT NULL AND next_height <= ? ORDER BY id'),
      set: db.prepare<[number], SetRow>('SELECT * FROM sweep_set WHERE id = ?'),
      openSets: db.prepare<[], SetRow>('SELECT * FROM sweep_set WHERE closed = 0 ORDER BY id'),
      closedWithLease: db.prepare<[], SetRow>('SELECT * FROM sweep_set WHERE closed = 1 AND lease_held = 1 ORDER BY id'),
      members: db.prepare<[number], InputRow>('SELECT * FROM sweep_input WHERE set_id = ? AND state = 1 ORDER BY outpoint'),
      live: db.prepare<[number], TxRow>('SELECT * FROM sweep_tx WHERE set_id = ? AND status IN (0, 2) ORDER BY version DESC LIMIT 1'),
      tx: db.prepare<[string], TxRow>('SELECT * FROM sweep_tx WHERE txid = ?'),
      versions: db.prepare<[number], TxRow>('SELECT * FROM sweep_tx WHERE set_id = ? ORDER BY version'),
      maxVersion: db.prepare<[number], { v: number | null }>('SELECT MAX(version) AS v FROM sweep_tx WHERE set_id = ?'),
      nonTerminal: db.prepare<[], InputRow>('SELECT * FROM sweep_input WHERE state IN (0, 1) OR (state = 3 AND next_height IS NOT NULL) ORDER BY outpoint'),
      group: db.prepare<[string], InputRow>("SELECT * FROM sweep_input WHERE state IN (0, 1) AND json_extract(spec, '$.exclusiveGroup') = ?"),
      pendingAll: db.prepare<[], InputRow>('SELECT * FROM sweep_input WHERE state IN (0, 1) ORDER BY outpoint'),
      pendingChan: db.prepare<[string], InputRow>('SELECT * FROM sweep_input WHERE state IN (0, 1) AND chan_point = ? ORDER BY outpoint'),
      insertResult: db.prepare<[string, string, string]>('INSERT OR IGNORE INTO sweep_result (outpoint, owner, payload) VALUES (?, ?, ?)'),
      unacked: db.prepare<[], { payload: string }>('SELECT payload FROM sweep_result WHERE acked = 0 ORDER BY seq'),
      unackedOwner: db.prepare<[string], { payload: string }>('SELECT payload FROM sweep_result WHERE acked = 0 AND owner = ? ORDER BY seq'),
      ack: db.prepare<[string]>('UPDATE sweep_result SET acked = 1 WHERE outpoint = ?'),
      result: db.prepare<[string], { payload: string; acked: number }>('SELECT payload, acked FROM sweep_result WHERE outpoint = ?'),
      insertSet: db.prepare<[string, number, number, number, number, number, number]>(
        `INSERT INTO sweep_set (change_script, deadline, locktime, start_feerate, end_feerate, start_height, next_height)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ),
      insertTx: db.prepare<[string, number, number, string, number, number, number, string, string, number]>(
        `INSERT INTO sweep_tx (txid, set_id, version, hex, fee_sat, feerate, weight, inputs, wallet_inputs, publish_height, status)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)`,
      ),
    };
  }

  input(outpoint: string): InputRow | undefined {
    return this.s.input.get(outpoint);
  }

  insertInput(spec: SweepInputSpec, json: string, height: number, startFeeRate: bigint | undefined, next: number): void {
    this.s.insertInput.run(spec.outpoint, spec.owner, spec.chanPoint ?? null, json, height, startFeeRate === undefined ? null : Number(startFeeRate), next);
  }

  updateInput(outpoint: string, fields: Partial<Omit<InputRow, 'outpoint'>>): void {
    const keys = Object.keys(fields);
    if (keys.length === 0) return;
    const sql = `UPDATE sweep_input SET ${keys.map((k) => `${k} = @${k}`).join(', ')}, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE outpoint = @outpoint`;
    this.db.prepare(sql).run({ ...fields, outpoint });
  }

  updateSet(id: number, fields: Partial<Omit<SetRow, 'id'>>): void {
    const keys = Object.keys(fields);
    if (keys.length === 0) return;
    this.db.prepare(`UPDATE sweep_set SET ${keys.map((k) => `${k} = @${k}`).join(', ')} WHERE id = @id`).run({ ...fields, id });
  }

  updateTx(txid: string, fields: Partial<Omit<TxRow, 'txid'>>): void {
    const keys = Object.keys(fields);
    if (keys.length === 0) return;
    this.db.prepare(`UPDATE sweep_tx SET ${keys.map((k) => `${k} = @${k}`).join(', ')} WHERE txid = @txid`).run({ ...fields, txid });
  }

  /** Inputs and sets whose next action height is reached: index range scans only. */
  dueInputs(height: number): InputRow[] {
    return this.s.due.all(height);
  }

  dueSets(height: number): SetRow[] {
    return this.s.dueSets.all(height);
  }

  set(id: number): SetRow | undefined {
    return this.s.set.get(id);
  }

  openSets(): SetRow[] {
    return this.s.openSets.all();
  }

  /** Closed sets whose lease may still be held (a crash between closing and releasing). */
  closedWithLease(): SetRow[] {
    return this.s.closedWithLease.all();
  }

  /** The published inputs of a set. */
  members(setId: number): InputRow[] {
    return this.s.members.all(setId);
  }

  /** The set's live or confirmed transaction (the newest). */
  live(setId: number): TxRow | undefined {
    return this.s.live.get(setId);
  }

  tx(txid: string): TxRow | undefined {
    return this.s.tx.get(txid);
  }

  versions(setId: number): TxRow[] {
    return this.s.versions.all(setId);
  }

  nextVersion(setId: number): number {
    const v = this.s.maxVersion.get(setId)?.v;
    return v === null || v === undefined ? 0 : v + 1;
  }

  /** Every input a restart must watch: pending, published, or spent by another and not yet final. */
  watched(): InputRow[] {
    return this.s.nonTerminal.all();
  }

  groupMembers(group: string): InputRow[] {
    return this.s.group.all(group);
  }

  pending(chanPoint?: string): InputRow[] {
    return chanPoint === undefined ? this.s.pendingAll.all() : this.s.pendingChan.all(chanPoint);
  }

  /** Records a result once (a second one for the same outpoint is ignored). Returns true if it is new. */
  insertResult(r: SweepResult): boolean {
    return this.s.insertResult.run(r.outpoint, r.owner, resultToJson(r)).changes > 0;
  }

  unacked(owner?: string): SweepResult[] {
    const rows = owner === undefined ? this.s.unacked.all() : this.s.unackedOwner.all(owner);
    return rows.map((r) => resultFromJson(r.payload));
  }

  result(outpoint: string): { result: SweepResult; acked: boolean } | undefined {
    const r = this.s.result.get(outpoint);
    return r === undefined ? undefined : { result: resultFromJson(r.payload), acked: r.acked === 1 };
  }

  ack(outpoint: string): void {
    this.s.ack.run(outpoint);
  }

  insertSet(changeScript: string, deadline: number, locktime: number, start: bigint, end: bigint, startHeight: number, next: number): number {
    const id = Number(this.s.insertSet.run(changeScript, deadline, locktime, Number(start), Number(end), startHeight, next).lastInsertRowid);
    this.updateSet(id, { lease_id: `sweep-set:${id}` });
    return id;
  }

  insertTx(t: {
    txid: string;
    setId: number;
    version: number;
    hex: string;
    feeSat: bigint;
    feeRate: bigint;
    weight: number;
    inputs: readonly string[];
    walletInputs: readonly string[];
    height: number;
  }): void {
    this.s.insertTx.run(
      t.txid,
      t.setId,
      t.version,
      t.hex,
      Number(t.feeSat),
      Number(t.feeRate),
      t.weight,
      JSON.stringify(t.inputs),
      JSON.stringify(t.walletInputs),
      t.height,
    );
  }
}

/** The spec of a row. */
export function rowSpec(r: InputRow): SweepInputSpec {
  return specFromJson(r.spec);
}

export { SWEEP_INPUT_STATE as IN, SWEEP_TX_STATUS as TX };
