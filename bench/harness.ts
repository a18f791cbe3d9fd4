/**
 * Benchmark helpers. Output is JSON lines on stdout ({"bench", "value", "unit", ...}) and nothing else; any
 * diagnostics go to stderr. Each figure is the median of several timed rounds after a warm-up, because these
 * machines are noisy (../shared/design/limits.md); ratios are computed between figures of the same run.
 */

/** One benchmark result line. */
export interface BenchLine {
  readonly bench: string;
  readonly value: number;
  readonly unit: string;
  readonly [extra: string]: string | number | boolean;
}

/** Writes one result line to stdout. */
export function emit(line: BenchLine): void {
  process.stdout.write(JSON.stringify(line) + '\n');
}

const nowMs = (): number => Number(process.hrtime.bigint()) / 1e6;

/**
 * Operations per second of `fn`: warm up for `warmMs`, then `rounds` rounds of at least `roundMs` each (and
 * at least one call), returning the median rate.
 */
export function opsPerSecond(fn: (i: number) => void, opts: { warmMs?: number; roundMs?: number; rounds?: number } = {}): number {
  const { warmMs = 500, roundMs = 400, rounds = 5 } = opts;
  let i = 0;
  const t0 = nowMs();
  while (nowMs() - t0 < warmMs) fn(i++);
  const rates: number[] = [];
  for (let r = 0; r < rounds; r++) {
    let n = 0;
    const start = nowMs();
    let t = start;
    do {
      fn(i++);
      n++;
      t = nowMs();
    } while (t - start < roundMs);
    rates.push(n / ((t - start) / 1000));
  }
  rates.sort((a, b) => a - b);
  return rates[Math.floor(rates.length / 2)] as number;
}
