/**
 * ChainWatches for tests that drive blocks by hand (no dispatcher, no node): every outpoint is reported unspent,
 * so a watch needs no historical rescan and goes live at the next block; feed each block event to
 * `watches.onChainEvent` before the ChainArbitrator's, as the dispatcher does.
 */
import { ChainWatches } from '../../src/chain/watches.js';
import type { ChainSource } from '../../src/chain/ports.js';
import { CourtError } from '../../src/util/errors.js';

const nothing = (): never => {
  throw new CourtError('COURT_E_CHAIN_NOT_FOUND', 'this test chain serves no blocks');
};

const NO_SOURCE: ChainSource = {
  getTip: async () => nothing(),
  getBlockHash: async () => nothing(),
  getBlock: async () => nothing(),
  getRawTransaction: async () => undefined,
};

/** Watches with nothing to rescan. */
export function liveWatches(): ChainWatches {
  return new ChainWatches({ source: NO_SOURCE, utxo: { isUnspent: async () => true } });
}
