/**
 * The HTTP client `court` talks to courtd with: bearer token, JSON in and out, the daemon's `{code, message}` errors
 * turned into DaemonError, and a server-sent-events reader for `/v1/events`. Thin on purpose: no retries, no caching.
 * The token is read from its file once and sent only in the Authorization header; it never appears in a message.
 */
import { readFile } from 'node:fs/promises';

/**
 * An error answered by the daemon (or the failure to reach it): exit code 1. `code` is the daemon's COURT_E_* code,
 * or one of court's own COURT_E_CLI_* codes (src/util/errors.ts).
 */
export class DaemonError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'DaemonError';
  }
}

/** A problem on the user's side that the daemon never saw (no token file): exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Reads the first token file that exists (admin before readonly), trimmed. */
export async function readToken(files: readonly string[]): Promise<{ token: string; file: string }> {
  for (const file of files) {
    try {
      const token = (await readFile(file, 'utf8')).trim();
      // One printable word (courtd writes 64 hex digits); anything else would not even make a valid header.
      if (token !== '' && !/^[\x21-\x7e]{1,1024}$/.test(token)) throw new UsageError(`token file ${file} does not hold a token (one line of printable characters)`);
      if (token !== '') return { token, file };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'EACCES') throw err;
    }
  }
  throw new UsageError(`no readable token file (looked at ${files.join(', ')}); pass --datadir/--network or --tokenfile`);
}

export interface ClientOptions {
  readonly baseUrl: string;
  readonly token: string;
  /** Per-request timeout in ms (not for the event stream). Default 30 s. */
  readonly timeoutMs?: number;
}

function reachError(baseUrl: string, err: unknown): DaemonError {
  const c = (err as { cause?: { code?: string; message?: string } }).cause;
  const cause = c?.code ?? c?.message ?? (err as Error).name;
  return new DaemonError('COURT_E_CLI_UNREACHABLE', `cannot reach courtd at ${baseUrl} (${cause}); is it running, and is --rpcserver right?`);
}

async function errorOf(res: Response): Promise<DaemonError> {
  const text = await res.text();
  try {
    const body = JSON.parse(text) as { code?: unknown; message?: unknown };
    if (typeof body.code === 'string' && typeof body.message === 'string') return new DaemonError(body.code, body.message, res.status);
  } catch {
    // not JSON: fall through
  }
  return new DaemonError('COURT_E_CLI_BAD_REPLY', `courtd answered HTTP ${res.status} without an error body`, res.status);
}

export class CourtClient {
  readonly baseUrl: string;
  readonly #token: string;
  readonly #timeoutMs: number;

  constructor(opts: ClientOptions) {
    this.baseUrl = opts.baseUrl;
    this.#token = opts.token;
    this.#timeoutMs = opts.timeoutMs ?? 30_000;
  }

  /** A JSON request; resolves the decoded body of a 2xx answer, rejects with DaemonError otherwise. */
  async request<T>(method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(this.baseUrl + path, {
        method,
        headers: {
          authorization: `Bearer ${this.#token}`,
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (err) {
      throw reachError(this.baseUrl, err);
    }
    if (!res.ok) throw await errorOf(res);
    const text = await res.text();
    try {
      return (text === '' ? {} : JSON.parse(text)) as T;
    } catch {
      throw new DaemonError('COURT_E_CLI_BAD_REPLY', `courtd answered ${path} with something that is not JSON`, res.status);
    }
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  post<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('POST', path, body);
  }

  /**
   * Reads `/v1/events` as server-sent events, calling `onEvent` for each one, until the stream ends, `signal` aborts,
   * or (with `idleMs`) no event arrived for that long. Resolves the id of the last event seen.
   */
  async events(opts: { after?: number; signal?: AbortSignal; idleMs?: number }, onEvent: (e: SseEvent) => void): Promise<string | undefined> {
    const ctl = new AbortController();
    const outer = opts.signal;
    const onAbort = (): void => ctl.abort();
    outer?.addEventListener('abort', onAbort, { once: true });
    let idle: NodeJS.Timeout | undefined;
    const arm = (): void => {
      if (opts.idleMs === undefined) return;
      clearTimeout(idle);
      idle = setTimeout(() => ctl.abort(), opts.idleMs);
    };
    let last: string | undefined;
    try {
      let res: Response;
      try {
        const q = opts.after === undefined ? '' : `?after=${opts.after}`;
        res = await fetch(`${this.baseUrl}/v1/events${q}`, {
          headers: { authorization: `Bearer ${this.#token}`, accept: 'text/event-stream' },
          signal: ctl.signal,
        });
      } catch (err) {
        if (ctl.signal.aborted) return last;
        throw reachError(this.baseUrl, err);
      }
      if (!res.ok) throw await errorOf(res);
      if (res.body === null) return last;
      arm();
      const parser = new SseParser();
      const decoder = new TextDecoder();
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          for (const e of parser.push(decoder.decode(chunk, { stream: true }))) {
            arm();
            if (e.id !== undefined) last = e.id;
            onEvent(e);
          }
        }
      } catch (err) {
        if (!ctl.signal.aborted) throw reachError(this.baseUrl, err);
      }
      return last;
    } finally {
      clearTimeout(idle);
      outer?.removeEventListener('abort', onAbort);
      ctl.abort();
    }
  }
}

/** One server-sent event. */
export interface SseEvent {
  readonly id?: string;
  readonly event?: string;
  readonly data: string;
}

/**
 * An incremental text/event-stream parser (WHATWG HTML "server-sent events" rules for id, event, data and comments;
 * retry is ignored). Feed it text chunks in order; it returns the events completed by each chunk.
 */
export class SseParser {
  #buffer = '';
  #data: string[] = [];
  #id: string | undefined;
  #event: string | undefined;

  push(chunk: string): SseEvent[] {
    this.#buffer += chunk;
    const out: SseEvent[] = [];
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.#buffer);
      if (m === null) break;
      // A lone \r at the end may be the first half of \r\n: wait for the next chunk.
      if (m[0] === '\r' && m.index === this.#buffer.length - 1) break;
      const line = this.#buffer.slice(0, m.index);
      this.#buffer = this.#buffer.slice(m.index + m[0].length);
      const e = this.#line(line);
      if (e !== undefined) out.push(e);
    }
    return out;
  }

  #line(line: string): SseEvent | undefined {
    if (line === '') {
      if (this.#data.length === 0) {
        this.#event = undefined;
        return undefined;
      }
      const e: SseEvent = { data: this.#data.join('\n'), ...(this.#id === undefined ? {} : { id: this.#id }), ...(this.#event === undefined ? {} : { event: this.#event }) };
      this.#data = [];
      this.#event = undefined;
      return e;
    }
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.#data.push(value);
    else if (field === 'id' && !value.includes('\0')) this.#id = value;
    else if (field === 'event') this.#event = value;
    return undefined;
  }
}
