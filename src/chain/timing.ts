/**
 * Waiting, the only wall-clock dependency of the chain layer (style principle 8: timers live in adapters).
 * Every loop that waits (RPC retry back-off, tip polling, mempool polling) takes a `Sleep` so unit tests can
 * replace real time with an instant, recording fake, and an `AbortSignal` so `stop()` ends a wait at once.
 */

/**
 * Waits `ms` milliseconds, or less if `signal` aborts first. Resolves in both cases (never rejects):
 * callers check `signal.aborted` afterwards, which keeps stop paths free of exception plumbing.
 */
export type Sleep = (ms: number, signal: AbortSignal) => Promise<void>;

/** The real Sleep: one setTimeout, cleared on abort so a stopped component leaves no timer behind. */
export const realSleep: Sleep = (ms, signal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });

/** Exponential back-off parameters. */
export interface Backoff {
  /** Delay before the first retry, in ms. */
  readonly baseDelayMs: number;
  /** Upper bound of any delay, in ms. */
  readonly maxDelayMs: number;
}

/** Delay before retry number `attempt` (1-based): base * 2^(attempt-1), capped at max. No jitter: one client. */
export function backoffDelay(attempt: number, b: Backoff): number {
  const exp = Math.min(Math.max(attempt - 1, 0), 30);
  return Math.min(b.baseDelayMs * 2 ** exp, b.maxDelayMs);
}
