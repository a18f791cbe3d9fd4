/**
 * BlockLog implementations: where the dispatcher remembers the last BLOCK_LOG_RETAIN blocks it delivered, so a
 * restart resumes exactly at the last delivered tip and can recognise a reorg that happened while it was down.
 * SqliteBlockLog is durable (table chain_block_log, migrations/0001_chain.sql); MemoryBlockLog is for tests and
 * for running without a database.
 */
import type Database from 'better-sqlite3';
import type { BlockRef, BlockLog } from './ports.js';

/** How many connected blocks the log keeps: the deepest reorg the dispatcher can unwind. */
export const BLOCK_LOG_RETAIN = 100;

function checkRetain(retain: number): number {
  if (!Number.isInteger(retain) || retain < 1) throw new RangeError('retain must be a positive integer');
  return retain;
}

/** A BlockLog in memory (lost on restart). */
export class MemoryBlockLog implements BlockLog {
  private refs: BlockRef[];
  private readonly retain: number;

  constructor(initial: readonly BlockRef[] = [], retain = BLOCK_LOG_RETAIN) {
    this.retain = checkRetain(retain);
    this.refs = initial.slice(-this.retain);
  }

  load(): BlockRef[] {
    return this.refs.slice();
  }

  append(ref: BlockRef): void {
    this.refs.push({ height: ref.height, hash: ref.hash });
    if (this.refs.length > this.retain) this.refs = this.refs.slice(-this.retain);
  }

  remove(ref: BlockRef): void {
    const last = this.refs[this.refs.length - 1];
    if (last === undefined || last.height !== ref.height || last.hash !== ref.hash) {
      throw new Error(`block log: ${ref.height}/${ref.hash} is not the tip`);
    }
    this.refs.pop();
  }
}

/** A BlockLog in the briefcase database; each call is one transaction. */
export class SqliteBlockLog implements BlockLog {
  private readonly selectAll: Database.Statement<[], BlockRef>;
  private readonly appendTx: (ref: BlockRef) => void;
  private readonly deleteTip: Database.Statement<[number, string]>;

  constructor(db: Database.Database, retain = BLOCK_LOG_RETAIN) {
    checkRetain(retain);
    this.selectAll = db.prepare<[], BlockRef>('SELECT height, hash FROM chain_block_log ORDER BY height');
    const insert = db.prepare<[number, string]>('INSERT INTO chain_block_log (height, hash) VALUES (?, ?)');
    const prune = db.prepare<[number]>('DELETE FROM chain_block_log WHERE height <= ?');
    this.deleteTip = db.prepare<[number, string]>('DELETE FROM chain_block_log WHERE height = ? AND hash = ?');
    this.appendTx = db.transaction((ref: BlockRef) => {
      insert.run(ref.height, ref.hash);
      prune.run(ref.height - retain);
    });
  }

  load(): BlockRef[] {
    return this.selectAll.all();
  }

  append(ref: BlockRef): void {
    this.appendTx(ref);
  }

  remove(ref: BlockRef): void {
    if (this.deleteTip.run(ref.height, ref.hash).changes !== 1) {
      throw new Error(`block log: ${ref.height}/${ref.hash} is not stored`);
    }
  }
}
