/**
 * The JSON-RPC transport to bitcoind: the npm `bitcoin-core` v5 client, wrapped so that every failure becomes a
 * typed CourtError and transient ones are retried with exponential back-off.
 *
 * How bitcoin-core v5 surfaces failures (read from its source and checked in test/chain/rpc.test.ts against a
 * local HTTP server):
 * - transport errors come from the `request` library as Error with a string `code`: ECONNREFUSED (port closed),
 *   ECONNRESET ("socket hang up": the server closed the socket), ETIMEDOUT (connect timeout), ESOCKETTIMEDOUT
 *   (no reply within `timeout`)                                                       -> COURT_E_CHAIN_UNREACHABLE
 * - a non-200 reply whose content type is not exactly `application/json` becomes RpcError{code: HTTP status,
 *   body}: 401/403                                                                    -> COURT_E_CHAIN_AUTH;
 *   another status whose body is still a JSON-RPC error (a node sending "application/json; charset=utf-8")
 *   -> treated as that RPC error; anything else (a proxy's 502 page)                  -> COURT_E_CHAIN_BAD_REPLY
 * - a JSON-RPC error becomes RpcError{code: negative RPC code, message}               -> COURT_E_CHAIN_RPC, or
 *   COURT_E_CHAIN_NOT_FOUND for -5 or a "not found" / "out of range" message; details {rpcCode, rpcMessage, method}
 * - a body that is not JSON throws json-bigint's plain object {name: 'SyntaxError'} (not an Error instance);
 *   JSON `null` throws a TypeError; a JSON object without `error`/`result` becomes RpcError -32603 or -32700
 *   with the client's own fixed message                                               -> COURT_E_CHAIN_BAD_REPLY
 * Retries: only UNREACHABLE and BAD_REPLY (the node may be restarting); never AUTH or RPC errors.
 *
 * The client is always built without `version`, so parameters are sent positionally (the embedded regtest node
 * only accepts positional parameters). Note: bitcoin-core uses `request`, which honours HTTP_PROXY/NO_PROXY.
 */
import Client from 'bitcoin-core';
import { CourtError } from '../util/errors.js';
import { errFields, silentLogger, type Logger } from '../util/logger.js';
import { backoffDelay, realSleep, type Sleep } from './timing.js';

/** Where bitcoind listens and how to log in. */
export interface RpcEndpoint {
  /** Base URL, e.g. `http://127.0.0.1:18443`. */
  readonly host: string;
  readonly username?: string;
  readonly password?: string;
  /** Per-request timeout in ms (default 30 000). */
  readonly timeoutMs?: number;
}

/** Retry policy for transient failures. */
export interface RetryPolicy {
  /** Total tries including the first (default 4). */
  readonly attempts: number;
  /** First back-off delay in ms (default 200). */
  readonly baseDelayMs: number;
  /** Largest back-off delay in ms (default 5 000). */
  readonly maxDelayMs: number;
}

/** Default retry policy: 4 tries, 200 ms, 400 ms, 800 ms apart. */
export const DEFAULT_RETRY: RetryPolicy = Object.freeze({ attempts: 4, baseDelayMs: 200, maxDelayMs: 5_000 });

/** The one method of bitcoin-core's Client that courtd uses; a seam for tests. */
export interface CommandClient {
  command(method: string, ...params: unknown[]): Promise<unknown>;
}

/** Options of RpcClient beyond the endpoint. */
export interface RpcClientOptions {
  readonly retry?: Partial<RetryPolicy>;
  readonly sleep?: Sleep;
  readonly logger?: Logger;
  /** Replaces the bitcoin-core client (tests). */
  readonly client?: CommandClient;
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ECONNABORTED',
]);

/** The messages bitcoin-core itself puts in an RpcError when the reply lacks `error`/`result`. */
const CLIENT_MADE_MESSAGES = new Set([
  'An error occurred while processing the RPC call to bitcoind',
  'Missing `result` on the RPC call result',
]);

const NOT_FOUND_RE = /not found|out of range/i;

function rpcError(method: string, rpcCode: number, rpcMessage: string): CourtError {
  const notFound = rpcCode === -5 || NOT_FOUND_RE.test(rpcMessage);
  return new CourtError(
    notFound ? 'COURT_E_CHAIN_NOT_FOUND' : 'COURT_E_CHAIN_RPC',
    `${method}: ${rpcMessage} (${rpcCode})`,
    { method, rpcCode, rpcMessage },
  );
}

/** Reads a JSON-RPC error object out of an HTTP error body, if the body is one. */
function embeddedRpcError(body: unknown): { code: number; message: string } | undefined {
  if (typeof body !== 'string' || body.length === 0) return undefined;
  try {
    const parsed: unknown = JSON.parse(body);
    const error = (parsed as { error?: unknown } | null)?.error as { code?: unknown; message?: unknown } | undefined;
    if (error && typeof error.code === 'number' && typeof error.message === 'string') {
      return { code: error.code, message: error.message };
    }
  } catch {
    // not JSON: fall through
  }
  return undefined;
}

/**
 * Maps whatever bitcoin-core threw for `method` to a CourtError COURT_E_CHAIN_*. Pure; exported for tests
 * and for adapters that call bitcoin-core directly.
 */
export function classifyRpcFailure(err: unknown, method: string): CourtError {
  if (err instanceof CourtError) return err;
  const e = (typeof err === 'object' && err !== null ? err : {}) as {
    name?: unknown;
    code?: unknown;
    message?: unknown;
    body?: unknown;
  };
  const message = typeof e.message === 'string' ? e.message : String(err);
  if (typeof e.code === 'string' && NETWORK_CODES.has(e.code)) {
    return new CourtError('COURT_E_CHAIN_UNREACHABLE', `${method}: ${message}`, { method, errno: e.code });
  }
  if (e.name === 'RpcError' && typeof e.code === 'number') {
    const code = e.code;
    if (code === 401 || code === 403) {
      return new CourtError('COURT_E_CHAIN_AUTH', `${method}: HTTP ${code}`, { method, httpStatus: code });
    }
    if (code >= 100) {
      const inner = embeddedRpcError(e.body);
      if (inner) return rpcError(method, inner.code, inner.message);
      return new CourtError('COURT_E_CHAIN_BAD_REPLY', `${method}: HTTP ${code} ${message}`, { method, httpStatus: code });
    }
    if (CLIENT_MADE_MESSAGES.has(message)) {
      return new CourtError('COURT_E_CHAIN_BAD_REPLY', `${method}: ${message}`, { method });
    }
    return rpcError(method, code, message);
  }
  if (e.name === 'SyntaxError' || err instanceof TypeError) {
    return new CourtError('COURT_E_CHAIN_BAD_REPLY', `${method}: reply is not JSON-RPC (${message})`, { method });
  }
  if (typeof e.code === 'string' && e.code.startsWith('E')) {
    // Another system error from the socket layer: treat it as a connectivity problem.
    return new CourtError('COURT_E_CHAIN_UNREACHABLE', `${method}: ${message}`, { method, errno: e.code });
  }
  return new CourtError('COURT_E_CHAIN_BAD_REPLY', `${method}: ${message}`, { method });
}

/** True for failures worth retrying: the node may be restarting or a proxy hiccuped. */
export function isTransient(err: CourtError): boolean {
  return err.code === 'COURT_E_CHAIN_UNREACHABLE' || err.code === 'COURT_E_CHAIN_BAD_REPLY';
}

function stoppedError(method: string): CourtError {
  return new CourtError('COURT_E_CHAIN_STOPPED', `${method}: the chain layer is stopping`, { method });
}

/**
 * A JSON-RPC connection to bitcoind. `call` resolves to the raw `result` (unvalidated: bitcoind.ts checks
 * shapes) or rejects with a CourtError COURT_E_CHAIN_*. `close()` makes every pending and future call reject
 * with COURT_E_CHAIN_STOPPED at once (an HTTP request already on the wire is abandoned, not awaited).
 */
export class RpcClient {
  private readonly client: CommandClient;
  private readonly retry: RetryPolicy;
  private readonly sleep: Sleep;
  private readonly logger: Logger;
  private readonly closing = new AbortController();

  constructor(endpoint: RpcEndpoint, opts: RpcClientOptions = {}) {
    if (!opts.client && !/^https?:\/\/[^/\s]+\/?$/.test(endpoint.host)) {
      throw new CourtError('COURT_E_INVALID_ARGUMENT', 'rpc host must look like http://HOST:PORT');
    }
    this.client =
      opts.client ??
      // `version` is deliberately not passed: without it bitcoin-core sends positional parameters.
      (new Client({
        host: endpoint.host,
        username: endpoint.username,
        password: endpoint.password,
        timeout: endpoint.timeoutMs ?? 30_000,
      }) as unknown as CommandClient);
    this.retry = { ...DEFAULT_RETRY, ...opts.retry };
    if (!Number.isInteger(this.retry.attempts) || this.retry.attempts < 1) {
      throw new CourtError('COURT_E_INVALID_ARGUMENT', 'retry.attempts must be an integer >= 1');
    }
    this.sleep = opts.sleep ?? realSleep;
    this.logger = opts.logger ?? silentLogger;
  }

  /** Calls `method` with positional `params`, retrying transient failures per the policy. */
  call(method: string, params: readonly unknown[] = []): Promise<unknown> {
    return this.retrying(method, () => this.client.command(method, ...params));
  }

  /**
   * One JSON-RPC batch request (one HTTP round trip) of `calls`: each entry's result, or its CourtError (classified
   * as a single call's would be). The whole batch is retried on a transient transport failure, per the policy.
   */
  async batch(calls: readonly { readonly method: string; readonly params: readonly unknown[] }[]): Promise<Array<unknown>> {
    if (calls.length === 0) return [];
    const label = `batch of ${calls.length} ${calls[0]?.method ?? ''}`;
    return this.retrying(label, async () => {
      const out = await this.client.command(calls.map((c) => ({ method: c.method, parameters: [...c.params] })) as never);
      if (!Array.isArray(out) || out.length !== calls.length) throw new CourtError('COURT_E_CHAIN_RPC', `${label}: malformed batch answer`);
      return out.map((r, i) => (r instanceof Error ? classifyRpcFailure(r, calls[i]?.method ?? label) : r));
    });
  }

  /** Runs `request` (a call or a batch), racing close(), and retries transient failures per the policy. */
  private async retrying<T>(label: string, request: () => Promise<T>): Promise<T> {
    const signal = this.closing.signal;
    for (let attempt = 1; ; attempt++) {
      if (signal.aborted) throw stoppedError(label);
      try {
        return await this.once(label, request(), signal);
      } catch (err) {
        const e = classifyRpcFailure(err, label);
        if (e.code === 'COURT_E_CHAIN_STOPPED' || !isTransient(e) || attempt >= this.retry.attempts) throw e;
        const delay = backoffDelay(attempt, this.retry);
        this.logger.debug({ method: label, attempt, delayMs: delay, err: errFields(e) }, 'bitcoind call failed, retrying');
        await this.sleep(delay, signal);
      }
    }
  }

  /** Rejects every pending and future call with COURT_E_CHAIN_STOPPED. Idempotent. */
  close(): void {
    this.closing.abort();
  }

  /** True once close() was called. */
  get closed(): boolean {
    return this.closing.signal.aborted;
  }

  private once<T>(method: string, request: Promise<T>, signal: AbortSignal): Promise<T> {
    // If close() wins the race the request still settles later: keep its rejection handled.
    request.catch(() => undefined);
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => reject(stoppedError(method));
      signal.addEventListener('abort', onAbort, { once: true });
      request.then(
        (v) => {
          signal.removeEventListener('abort', onAbort);
          resolve(v);
        },
        (e: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(e);
        },
      );
    });
  }
}
