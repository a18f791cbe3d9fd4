/**
 * A one-lane queue for async jobs. Block delivery, watch registration and mempool polling each run their jobs
 * through one, so that handlers never interleave and always see one consistent chain view.
 */

/** Runs async jobs one at a time, in arrival order. */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  /** Runs `job` after every job queued before it has settled; resolves or rejects with `job`'s outcome. */
  run<T>(job: () => Promise<T>): Promise<T> {
    const next = this.tail.then(job, job);
    this.tail = next.catch(() => undefined);
    return next;
  }
}
