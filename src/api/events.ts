/**
 * The node event feed behind `GET /v1/events` (server-sent events) and `POST /v1/events/ack`.
 *
 * Events are the persisted node_event rows (written by the arbitrator's effects in their own transactions), read in
 * id order. A stream resumes after an id (`Last-Event-ID`, else `?after=`, else the node's last acknowledged id),
 * so a client that reconnects, even to a restarted daemon, gets every event once, in order: ids are the table's
 * AUTOINCREMENT ids, never reused. New rows are found by polling MAX(id) (cheap: the primary key) while at least
 * one stream is open, and at once when the daemon calls `kick()` after a commit.
 *
 * The SSE writer is a small one on the raw response (decision D21): `id:` is the event id, `data:` one JSON line
 * {id, type, chan_point, height, ...payload}; a comment line every 15 s keeps proxies from timing out; writes
 * wait for 'drain' when the socket's buffer is full, so a slow client holds only its own stream back.
 *
 * The ack is kept in machine_state (machine 'nodeEventAck', one row), so no migration is needed; acknowledged
 * events of fully resolved channels are pruned (an open or closing channel's events stay: the arbitrator reads
 * which HTLCs it failed back from them), except those a resolver's exactly-once key (resolver_node_key) names.
 */
import type { ServerResponse } from 'node:http';
import { ARBITRATOR_STATE, NODE_EVENT_KIND } from '../store/codes.js';
import type { Db } from '../store/db.js';
import { CourtError } from '../util/errors.js';

const KIND_NAME = new Map<number, string>([
  [NODE_EVENT_KIND.HtlcSettledOnChain, 'htlcSettledOnChain'],
  [NODE_EVENT_KIND.HtlcFailedOnChain, 'htlcFailedOnChain'],
  [NODE_EVENT_KIND.ChannelClosing, 'channelClosing'],
  [NODE_EVENT_KIND.BreachDetected, 'breachDetected'],
  [NODE_EVENT_KIND.JusticeConfirmed, 'justiceConfirmed'],
  [NODE_EVENT_KIND.ChannelResolved, 'channelResolved'],
  [NODE_EVENT_KIND.CloseUnresolved, 'closeUnresolved'],
]);

/** One event as the API sends it. */
export interface NodeEventJson {
  readonly id: number;
  readonly type: string;
  readonly chan_point: string;
  readonly height: number;
  readonly [k: string]: unknown;
}

const ACK_MACHINE_ID = 'courtd:node-event-ack';
const ACK_MACHINE = 'nodeEventAck';

/** Reads events with id > `after`, at most `limit`, in id order. */
export function readEvents(db: Db, after: number, limit = 500): NodeEventJson[] {
  return db
    .prepare<[number, number], { id: number; chan_point: string; kind: number; payload: string; created_height: number }>(
      'SELECT id, chan_point, kind, payload, created_height FROM node_event WHERE id > ? ORDER BY id LIMIT ?',
    )
    .all(after, limit)
    .map((r) => {
      const { v: _v, ...payload } = JSON.parse(r.payload) as Record<string, unknown>;
      return { ...payload, id: r.id, type: KIND_NAME.get(r.kind) ?? `kind${r.kind}`, chan_point: r.chan_point, height: r.created_height };
    });
}

/** The highest event id written so far (0 if none). */
export function lastEventId(db: Db): number {
  return db.prepare<[], { id: number | null }>('SELECT MAX(id) AS id FROM node_event').get()?.id ?? 0;
}

/** The node's last acknowledged event id (0 if none). */
export function ackedEventId(db: Db): number {
  const row = db.prepare<[string], { state: string }>('SELECT state FROM machine_state WHERE machine_id = ?').get(ACK_MACHINE_ID);
  return row === undefined ? 0 : (JSON.parse(row.state) as { acked: number }).acked;
}

/**
 * Records the node's acknowledgement of every event up to `id` (never going back) and prunes acknowledged events
 * of fully resolved channels. Refuses an id beyond the last event (COURT_E_EVENT_UNKNOWN). One transaction.
 */
export function ackEvents(db: Db, id: number): { acked: number; pruned: number } {
  return db.transaction(() => {
    const last = lastEventId(db);
    if (id > last) throw new CourtError('COURT_E_EVENT_UNKNOWN', `event ${id} is beyond the last event (${last})`, { id, last });
    const acked = Math.max(ackedEventId(db), id);
    db.prepare(
      `INSERT INTO machine_state (machine_id, machine, state_code, state, seq) VALUES (?, ?, 0, ?, 0)
       ON CONFLICT (machine_id) DO UPDATE SET state = excluded.state, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')`,
    ).run(ACK_MACHINE_ID, ACK_MACHINE, JSON.stringify({ v: 1, acked }));
    const pruned = db
      .prepare(
        `DELETE FROM node_event WHERE id <= ? AND chan_point IN (SELECT chan_point FROM arbitrator_state WHERE state = ?)
         AND NOT EXISTS (SELECT 1 FROM resolver_node_key k WHERE k.node_event_id = node_event.id)`,
      )
      .run(acked, ARBITRATOR_STATE.FullyResolved).changes;
    return { acked, pruned };
  })();
}

/** One open SSE stream. */
interface Stream {
  readonly res: ServerResponse;
  last: number;
  busy: boolean;
  again: boolean;
  closed: boolean;
}

/** Formats one event as an SSE message. */
export function sseMessage(e: NodeEventJson): string {
  return `id: ${e.id}\ndata: ${JSON.stringify(e)}\n\n`;
}

/** Options of the feed. */
export interface EventFeedOptions {
  readonly db: Db;
  /** How often MAX(id) is polled while a stream is open (ms, default 100). */
  readonly pollMs?: number;
  /** Keep-alive comment interval (ms, default 15,000). */
  readonly keepAliveMs?: number;
}

/** Fans node events out to SSE streams. */
export class EventFeed {
  readonly #db: Db;
  readonly #pollMs: number;
  readonly #keepAliveMs: number;
  readonly #streams = new Set<Stream>();
  #timer: NodeJS.Timeout | undefined;
  #keepAlive: NodeJS.Timeout | undefined;
  #seen = 0;

  constructor(o: EventFeedOptions) {
    this.#db = o.db;
    this.#pollMs = o.pollMs ?? 100;
    this.#keepAliveMs = o.keepAliveMs ?? 15_000;
  }

  /** Open streams. */
  get streams(): number {
    return this.#streams.size;
  }

  /** Starts streaming to `res` (headers already written) every event after `after`. */
  open(res: ServerResponse, after: number): void {
    const s: Stream = { res, last: after, busy: false, again: false, closed: false };
    this.#streams.add(s);
    const done = (): void => {
      s.closed = true;
      this.#streams.delete(s);
      if (this.#streams.size === 0) this.#stopTimers();
    };
    res.on('close', done);
    res.on('error', done);
    this.#startTimers();
    void this.#pump(s);
  }

  /** New events may have been written: push them now. */
  kick(): void {
    for (const s of this.#streams) void this.#pump(s);
  }

  /** Ends every stream (daemon shutdown). */
  close(): void {
    for (const s of [...this.#streams]) {
      s.closed = true;
      s.res.end();
    }
    this.#streams.clear();
    this.#stopTimers();
  }

  #startTimers(): void {
    if (this.#timer !== undefined) return;
    this.#seen = lastEventId(this.#db);
    this.#timer = setInterval(() => {
      try {
        const last = lastEventId(this.#db);
        if (last !== this.#seen) {
          this.#seen = last;
          this.kick();
        }
      } catch {
        // the briefcase is closing: the streams end with the server
      }
    }, this.#pollMs);
    this.#timer.unref();
    this.#keepAlive = setInterval(() => {
      for (const s of this.#streams) if (!s.closed) s.res.write(': keep-alive\n\n');
    }, this.#keepAliveMs);
    this.#keepAlive.unref();
  }

  #stopTimers(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    if (this.#keepAlive !== undefined) clearInterval(this.#keepAlive);
    this.#timer = undefined;
    this.#keepAlive = undefined;
  }

  /** Writes every event after the stream's last id, in order; one pump per stream at a time. */
  async #pump(s: Stream): Promise<void> {
    if (s.busy) {
      s.again = true;
      return;
    }
    s.busy = true;
    try {
      do {
        s.again = false;
        for (;;) {
          if (s.closed) return;
          let batch: NodeEventJson[];
          try {
            batch = readEvents(this.#db, s.last, 200);
          } catch {
            return;
          }
          if (batch.length === 0) break;
          // One batch per write: many small events make one socket write, not one each.
          const text = batch.map(sseMessage).join('');
          s.last = (batch[batch.length - 1] as NodeEventJson).id;
          if (s.closed) return;
          const ok = s.res.write(text);
          if (!ok) {
            await new Promise<void>((resolve) => {
              const go = (): void => {
                s.res.off('drain', go);
                s.res.off('close', go);
                resolve();
              };
              s.res.on('drain', go);
              s.res.on('close', go);
            });
          }
        }
      } while (s.again);
    } finally {
      s.busy = false;
    }
  }
}
