/**
 * The channel simulator's node adapter: feeds courtd exactly as a Lightning node would, through the HTTP API only
 * (ARCHITECTURE.md "Sidecar link"): snapshots (`PUT /v1/channels/{chanPoint}`), the peer's revocation secrets,
 * preimages, cooperative closes, and reads courtd's node events as server-sent events. No in-process call into
 * courtd: the daemon is another process.
 *
 * Ordering contract kept here (what keeps courtd from publishing a revoked commitment of ours): `commit(sim)` sends
 * the snapshot of the new commitments and waits for courtd's answer before the simulator revokes the previous ones,
 * then sends the snapshot again and the peer's new revocation secrets.
 *
 * Test infrastructure: the token stays in this object and is sent only in the Authorization header.
 */
import { toHex } from '../src/util/bytes.js';
import { SseParser } from '../src/cli/client.js';
import type { PartyName } from './sim-keys.js';
import { other } from './sim-keys.js';
import type { SnapshotExtras } from './sim-snapshot.js';
import type { ChannelSimulator } from './simulator.js';

/** An error answer of the API, with its code. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(`${status} ${code}: ${message}`);
    this.name = 'ApiError';
  }
}

/** A node event as the API streams it (`data` of one SSE message). */
export interface NodeEvent {
  readonly id: number;
  readonly type: string;
  readonly chan_point?: string;
  readonly [k: string]: unknown;
}

export interface NodeAdapterOptions {
  readonly baseUrl: string;
  /** The admin token (the node feed needs admin scope). */
  readonly token: string;
  /** The peer courtd works for (default alice). */
  readonly party?: PartyName;
}

interface Tracked {
  readonly sim: ChannelSimulator;
  readonly extras: SnapshotExtras;
  /** Their commitments below this number have had their secret sent. */
  revokedSent: number;
}

export class NodeAdapter {
  readonly baseUrl: string;
  readonly party: PartyName;
  readonly #token: string;
  readonly #channels = new Map<string, Tracked>();
  readonly #events: NodeEvent[] = [];
  readonly #waiters = new Set<() => void>();
  #stream: AbortController | undefined;
  #lastEventId: number | undefined;
  readonly #violations: string[] = [];
  #connections = 0;

  constructor(opts: NodeAdapterOptions) {
    this.baseUrl = opts.baseUrl;
    this.#token = opts.token;
    this.party = opts.party ?? 'alice';
  }

  async request<T>(method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown): Promise<T> {
    const res = await fetch(this.baseUrl + path, {
      method,
      headers: { authorization: `Bearer ${this.#token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(60_000),
    });
    const text = await res.text();
    let json: unknown;
    try {
      json = text === '' ? {} : JSON.parse(text);
    } catch {
      json = { code: 'COURT_E_NOT_JSON', message: text.slice(0, 200) };
    }
    if (!res.ok) {
      const e = json as { code?: string; message?: string };
      throw new ApiError(res.status, e.code ?? 'COURT_E_UNKNOWN', e.message ?? '');
    }
    return json as T;
  }

  // ---- feeding courtd ----------------------------------------------------------------------------------------

  /** Registers (or updates) a simulator channel: sends its snapshot for `party`, and remembers it for commit(). */
  async register(sim: ChannelSimulator, extras: SnapshotExtras = {}): Promise<{ chan_point: string; state: string }> {
    const tracked: Tracked = this.#channels.get(sim.chanPoint) ?? { sim, extras, revokedSent: 0 };
    this.#channels.set(sim.chanPoint, tracked);
    const r = await this.putSnapshot(sim, extras);
    await this.#sendRevocations(tracked);
    return r;
  }

  async putSnapshot(sim: ChannelSimulator, extras: SnapshotExtras = {}): Promise<{ chan_point: string; state: string }> {
    return this.request('PUT', `/v1/channels/${encodeURIComponent(sim.chanPoint)}`, sim.snapshot(this.party, extras));
  }

  /**
   * Commits the simulator's staged updates as a node does: both peers sign the next commitments, courtd gets (and
   * durably accepts) the snapshot holding them, only then are the previous ones revoked; courtd then gets the
   * snapshot without the pending remote commitment and the peer's revealed secret.
   */
  async commit(sim: ChannelSimulator): Promise<number> {
    const tracked = this.#tracked(sim);
    const n = sim.signCommitments();
    await this.putSnapshot(sim, tracked.extras);
    sim.revokePrevious();
    await this.putSnapshot(sim, tracked.extras);
    await this.#sendRevocations(tracked);
    return n;
  }

  /** Sends `number`'s revocation secret of the peer's commitment. */
  async revocation(chanPoint: string, number: number, secret: Uint8Array): Promise<void> {
    await this.request('POST', `/v1/channels/${encodeURIComponent(chanPoint)}/revocations`, { number, secret: toHex(secret) });
  }

  async #sendRevocations(t: Tracked): Promise<void> {
    const peer = other(this.party);
    for (let n = t.revokedSent; n < t.sim.currentNumber; n++) {
      await this.revocation(t.sim.chanPoint, n, t.sim.revealedSecret(peer, n));
      t.revokedSent = n + 1;
    }
  }

  async preimages(preimages: readonly Uint8Array[]): Promise<unknown> {
    return this.request('POST', '/v1/preimages', { preimages: preimages.map(toHex) });
  }

  async coopClose(chanPoint: string, txHex: string): Promise<unknown> {
    return this.request('POST', `/v1/channels/${encodeURIComponent(chanPoint)}/coop-close`, { tx_hex: txHex });
  }

  async forceClose(chanPoint: string, dryRun = false): Promise<{ chan_point: string; commitment_number: number; closing_txid: string; plan: unknown }> {
    return this.request('POST', `/v1/channels/${encodeURIComponent(chanPoint)}/force-close`, { dry_run: dryRun });
  }

  #tracked(sim: ChannelSimulator): Tracked {
    const t = this.#channels.get(sim.chanPoint);
    if (t === undefined) throw new Error(`channel ${sim.chanPoint} was not registered with the node adapter`);
    return t;
  }

  // ---- reading courtd's events -------------------------------------------------------------------------------

  /** Events that broke the stream's promise (an id repeated or going backwards, a data id not the SSE id). */
  get violations(): readonly string[] {
    return this.#violations;
  }

  /** How many times the event stream was (re)opened. */
  get connections(): number {
    return this.#connections;
  }

  /** Every event received so far, in id order. */
  get events(): readonly NodeEvent[] {
    return this.#events;
  }

  /**
   * Opens the SSE stream (resuming after the last event seen, so a daemon restart loses and repeats nothing) and
   * keeps it open, reconnecting while the adapter is not closed.
   */
  follow(): void {
    if (this.#stream !== undefined) return;
    const ctl = new AbortController();
    this.#stream = ctl;
    void (async () => {
      while (!ctl.signal.aborted) {
        try {
          await this.#readStream(ctl.signal);
        } catch {
          // the daemon went away or restarted: retry below
        }
        if (!ctl.signal.aborted) await new Promise((r) => setTimeout(r, 200));
      }
    })();
  }

  async #readStream(signal: AbortSignal): Promise<void> {
    const q = this.#lastEventId === undefined ? '' : `?after=${this.#lastEventId}`;
    const res = await fetch(`${this.baseUrl}/v1/events${q}`, { headers: { authorization: `Bearer ${this.#token}`, accept: 'text/event-stream' }, signal });
    if (!res.ok || res.body === null) throw new ApiError(res.status, 'COURT_E_SSE', 'event stream refused');
    this.#connections++;
    const parser = new SseParser();
    const decoder = new TextDecoder();
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      for (const e of parser.push(decoder.decode(chunk, { stream: true }))) {
        let ev: NodeEvent;
        try {
          ev = JSON.parse(e.data) as NodeEvent;
        } catch {
          continue;
        }
        const id = Number(ev.id ?? e.id);
        if (e.id !== undefined && Number(e.id) !== id) this.#violations.push(`event ${id} sent with SSE id ${e.id}`);
        if (this.#lastEventId !== undefined && id <= this.#lastEventId) {
          this.#violations.push(`event ${id} repeated or out of order after ${this.#lastEventId}`);
          continue;
        }
        this.#lastEventId = id;
        this.#events.push({ ...ev, id });
        for (const w of [...this.#waiters]) w();
      }
    }
  }

  /** Resolves the first event (already received or to come) matching `pred`; rejects after `timeoutMs`. */
  waitForEvent(pred: (e: NodeEvent) => boolean, timeoutMs = 30_000): Promise<NodeEvent> {
    const found = this.#events.find(pred);
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const e = this.#events.find(pred);
        if (e === undefined) return;
        cleanup();
        resolve(e);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`no matching node event within ${timeoutMs} ms (have: ${this.#events.map((e) => e.type).join(', ')})`));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(check);
      };
      this.#waiters.add(check);
    });
  }

  /** Acknowledges every event up to `id` (courtd may prune them). */
  async ack(id: number): Promise<void> {
    await this.request('POST', '/v1/events/ack', { id });
  }

  close(): void {
    this.#stream?.abort();
    this.#stream = undefined;
    for (const w of this.#waiters) this.#waiters.delete(w);
  }
}
