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

/** Options of PollLoop. */
export interface PollLoopOptions {
  /** One pass; a rejection counts as a failure and delays the next pass by back-off. */
  readonly tick: () => Promise<void>;
  readonly pollMs: number;
  readonly backoff: Backoff;
  readonly sleep: Sleep;
  /** Called for each failed pass (the loop never throws). */
  readonly onFailure: (err: unknown, failures: number, retryInMs: number) => void;
}

/**
 * Runs `tick` every `pollMs` until stopped, backing off exponentially while it fails. `signal` is live while the
 * loop runs (aborted by stop), so a tick can check it between steps. Shared by the block dispatcher and the
 * mempool watcher.
 */
export class PollLoop {
  private abort = new AbortController();
  private loop: Promise<void> | undefined;

  constructor(private readonly opts: PollLoopOptions) {}

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  /** Starts polling. Idempotent. */
  start(): void {
    if (this.loop) return;
    this.abort = new AbortController();
    this.loop = this.run(this.abort.signal);
  }

  /** Ends any wait at once and resolves when the pass in progress (if any) has finished. Idempotent. */
  async stop(): Promise<void> {
    this.abort.abort();
    const loop = this.loop;
    this.loop = undefined;
    await loop;
  }

  private async run(signal: AbortSignal): Promise<void> {
    let failures = 0;
    while (!signal.aborted) {
      let wait = this.opts.pollMs;
      try {
        await this.opts.tick();
        failures = 0;
      } catch (err) {
        if (signal.aborted) break;
        failures++;
        wait = backoffDelay(failures, this.opts.backoff);
        this.opts.onFailure(err, failures, wait);
      }
      await this.opts.sleep(wait, signal);
    }
  }
}
