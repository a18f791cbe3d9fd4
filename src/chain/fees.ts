/**
 * The FeeEstimator over bitcoind: estimatesmartfee per confirmation target, never below the node's relay floors,
 * with a configured fallback when the node has no estimate and a short cache.
 *
 * Units: fee rates are bigint satoshis per 1000 weight units (sat/kw, BOLT #3's feerate_per_kw), bigint because
 * fees are money and `fee = weight * rate / 1000` must stay exact. 1 sat/vB = 1000 sat/kvB = 250 sat/kw.
 * bitcoind reports BTC per 1000 virtual bytes; the conversion parses the decimal text into integer satoshis and
 * rounds up (a floor rounded down could fall below what the node relays). No floating-point money anywhere.
 */
import { CourtError } from '../util/errors.js';
import { errFields, silentLogger, type Logger } from '../util/logger.js';
import type { FeeEstimator, FeeRateSource } from './ports.js';

/** sat/kw per sat/vB. */
export const SAT_PER_KW_PER_SAT_PER_VB = 250n;
/**
 * Lowest rate courtd ever uses: 253 sat/kw, as lnd's FeePerKwFloor. 250 sat/kw is 1 sat/vB, but vsize rounds
 * weight/4 up, so a transaction signed at exactly 250 can fall a fraction short of the 1 sat/vB relay minimum.
 */
export const FEE_FLOOR_PER_KW = 253n;
/** Default rate when bitcoind has no estimate (always on regtest): 12 500 sat/kw = 50 sat/vB, lnd's static default. */
export const DEFAULT_FALLBACK_PER_KW = 12_500n;
/** estimatesmartfee's accepted conf_target range. */
export const MAX_CONF_TARGET = 1008;

const DECIMAL_RE = /^(\d+)(?:\.(\d+))?$/;

/** Parses a non-negative BTC decimal string into satoshis, rounding any sub-satoshi remainder up. */
export function btcDecimalToSatCeil(decimal: string): bigint {
  const m = DECIMAL_RE.exec(decimal);
  if (!m) throw new CourtError('COURT_E_CHAIN_BAD_REPLY', `fee rate ${JSON.stringify(decimal)} is not a decimal`);
  const whole = BigInt(m[1] as string);
  const frac = m[2] ?? '';
  const sat = whole * 100_000_000n + BigInt(frac.slice(0, 8).padEnd(8, '0'));
  return /[1-9]/.test(frac.slice(8)) ? sat + 1n : sat;
}

/** BTC/kvB (decimal string, as bitcoind prints it) -> sat/kw, rounded up. */
export function btcPerKvBToSatPerKw(decimal: string): bigint {
  const satPerKvB = btcDecimalToSatCeil(decimal);
  return (satPerKvB + 3n) / 4n;
}

/** Options of ChainFeeEstimator. */
export interface FeeEstimatorOptions {
  readonly source: FeeRateSource;
  /** Rate when the node has no estimate, sat/kw (default DEFAULT_FALLBACK_PER_KW). */
  readonly fallbackPerKw?: bigint;
  /** Absolute minimum, sat/kw (default FEE_FLOOR_PER_KW). */
  readonly minPerKw?: bigint;
  /** How long an answer is reused, ms (default 10 000). */
  readonly cacheMs?: number;
  /** Clock for the cache (default Date.now). */
  readonly now?: () => number;
  readonly logger?: Logger;
}

interface Cached {
  readonly value: bigint;
  readonly at: number;
}

/** FeeEstimator backed by bitcoind. See the module comment. */
export class ChainFeeEstimator implements FeeEstimator {
  private readonly source: FeeRateSource;
  private readonly fallbackPerKw: bigint;
  private readonly minPerKw: bigint;
  private readonly cacheMs: number;
  private readonly now: () => number;
  private readonly logger: Logger;
  private readonly estimates = new Map<number, Cached>();
  private floor: Cached | undefined;

  constructor(opts: FeeEstimatorOptions) {
    this.source = opts.source;
    this.minPerKw = opts.minPerKw ?? FEE_FLOOR_PER_KW;
    this.fallbackPerKw = opts.fallbackPerKw ?? DEFAULT_FALLBACK_PER_KW;
    if (this.minPerKw < 0n || this.fallbackPerKw < this.minPerKw) {
      throw new CourtError('COURT_E_INVALID_FEERATE', 'fee rates must satisfy 0 <= minPerKw <= fallbackPerKw');
    }
    this.cacheMs = opts.cacheMs ?? 10_000;
    this.now = opts.now ?? Date.now;
    this.logger = opts.logger ?? silentLogger;
  }

  /**
   * Rate to confirm within `confTarget` blocks (clamped to 1..1008): the node's estimate, or the fallback when
   * it has none, raised to the relay floor. On a node failure a stale cached answer is served if there is one.
   */
  async feeRatePerKw(confTarget: number): Promise<bigint> {
    if (!Number.isInteger(confTarget) || confTarget < 1) {
      throw new CourtError('COURT_E_INVALID_ARGUMENT', 'confTarget must be a positive integer');
    }
    const target = Math.min(confTarget, MAX_CONF_TARGET);
    const [estimate, floor] = await Promise.all([this.estimate(target), this.floorPerKw()]);
    return estimate > floor ? estimate : floor;
  }

  /** The lowest rate the node relays now: max(mempoolminfee, relayfee, minPerKw), sat/kw. */
  async floorPerKw(): Promise<bigint> {
    this.floor = await this.cached(this.floor, 'floor', async () => {
      const [mempoolMin, relay] = await Promise.all([this.source.mempoolMinFee(), this.source.relayFee()]);
      return [btcPerKvBToSatPerKw(mempoolMin), btcPerKvBToSatPerKw(relay), this.minPerKw].reduce((a, b) => (a > b ? a : b));
    });
    return this.floor.value;
  }

  private async estimate(target: number): Promise<bigint> {
    const entry = await this.cached(this.estimates.get(target), 'estimate', async () => {
      const rate = await this.source.estimateSmartFee(target);
      return rate === undefined ? this.fallbackPerKw : btcPerKvBToSatPerKw(rate);
    });
    this.estimates.set(target, entry);
    return entry.value;
  }

  private async cached(entry: Cached | undefined, what: string, load: () => Promise<bigint>): Promise<Cached> {
    const now = this.now();
    if (entry && now - entry.at < this.cacheMs) return entry;
    try {
      return { value: await load(), at: now };
    } catch (err) {
      if (!entry || !(err instanceof CourtError)) throw err;
      this.logger.warn({ err: errFields(err), what, ageMs: now - entry.at }, 'fee data unavailable, serving a stale value');
      return entry;
    }
  }
}
