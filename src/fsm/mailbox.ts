/**
 * A machine's mailbox: jobs run one at a time, in the order they were posted, and only once the mailbox is open
 * (the runner opens it after `resume`, so nothing runs before the machine's state and outbox are restored).
 * Posting never blocks and never runs a job inside the poster's call stack, so a supervisor (or an effect
 * interpreter) can post to a machine without awaiting it.
 */

/** A job: must not reject (the runner turns every failure into an outcome); a rejection goes to `onError`. */
export type Job = () => Promise<void>;

/** An ordered, single-lane job queue, closed until `open()`. */
export class Mailbox {
  readonly #jobs: Job[] = [];
  readonly #onError: (err: unknown) => void;
  #open = false;
  #running = false;
  #drained: Promise<void> = Promise.resolve();

  /** `onError` receives a job's rejection (a bug: jobs are meant to settle on their own). */
  constructor(onError: (err: unknown) => void) {
    this.#onError = onError;
  }

  /** Number of jobs waiting (not counting the one running). */
  get size(): number {
    return this.#jobs.length;
  }

  /** Queues `job` behind every job posted before it. */
  post(job: Job): void {
    this.#jobs.push(job);
    this.#kick();
  }

  /** Lets queued and future jobs run. Idempotent. */
  open(): void {
    this.#open = true;
    this.#kick();
  }

  /** Resolves once no job is queued or running (jobs posted meanwhile are waited for too). */
  async idle(): Promise<void> {
    while (this.#running || (this.#open && this.#jobs.length > 0)) await this.#drained;
  }

  #kick(): void {
    if (!this.#open || this.#running) return;
    this.#running = true;
    this.#drained = this.#drain();
  }

  async #drain(): Promise<void> {
    // Start on a later microtask: a job never runs inside post()'s caller.
    await Promise.resolve();
    for (let job = this.#jobs.shift(); job !== undefined; job = this.#jobs.shift()) {
      try {
        await job();
      } catch (err) {
        this.#onError(err);
      }
    }
    this.#running = false;
  }
}
