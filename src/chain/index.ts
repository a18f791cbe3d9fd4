/**
 * The chain layer assembled over one bitcoind: `createChain` builds the RPC client, the adapter, the block
 * dispatcher and its subscribers (watches first, then the broadcaster, so that consumers subscribed afterwards
 * see a block's spends and confirmations before the block itself), the mempool watcher and the fee estimator.
 * The daemon's composition root and the regtest suites call it; unit tests build the pieces over a fake chain.
 */
import type { Db } from '../store/db.js';
import { CourtError } from '../util/errors.js';
import { silentLogger, type Logger } from '../util/logger.js';
import { BitcoindChain } from './bitcoind.js';
import { SqliteBlockLog } from './block-log.js';
import { SqliteBroadcastStore, TxBroadcaster } from './broadcaster.js';
import { BlockDispatcher } from './dispatcher.js';
import { ChainFeeEstimator, type FeeEstimatorOptions } from './fees.js';
import { MempoolWatcher } from './mempool.js';
import type { BlockLog, BroadcastStore } from './ports.js';
import { RpcClient, type RetryPolicy, type RpcEndpoint } from './rpc.js';
import { ChainWatches } from './watches.js';

export type * from './ports.js';
export { BitcoindChain } from './bitcoind.js';
export { BLOCK_LOG_RETAIN, MemoryBlockLog, SqliteBlockLog } from './block-log.js';
export { classifyBroadcastError, MemoryBroadcastStore, SqliteBroadcastStore, TxBroadcaster } from './broadcaster.js';
export { BlockDispatcher } from './dispatcher.js';
export { btcPerKvBToSatPerKw, ChainFeeEstimator } from './fees.js';
export { MempoolWatcher } from './mempool.js';
export { classifyRpcFailure, RpcClient } from './rpc.js';
export { ChainWatches } from './watches.js';

/** Options of createChain. */
export interface ChainOptions {
  readonly rpc: RpcEndpoint;
  /** Retry policy of each RPC call (default 4 tries from 200 ms). */
  readonly retry?: Partial<RetryPolicy>;
  /** Tip polling interval, ms: 1000 by default; 100 on regtest. */
  readonly pollMs?: number;
  /** Mempool polling interval, ms (default: pollMs). */
  readonly mempoolPollMs?: number;
  /**
   * The briefcase: the block log (chain_block_log) and the broadcaster's rebroadcast set (broadcast_tx) live there,
   * so a restart resumes at the last delivered block and republishes what had not confirmed. Required unless both
   * `blockLog` and `broadcastStore` are given.
   */
  readonly db?: Db;
  /** Where delivered blocks are remembered (default: SqliteBlockLog on `db`; MemoryBlockLog only for tests). */
  readonly blockLog?: BlockLog;
  /** Where the broadcaster's rebroadcast set is kept (default: SqliteBroadcastStore on `db`). */
  readonly broadcastStore?: BroadcastStore;
  /** First height to deliver when the block log is empty (default: the node's tip). */
  readonly startHeight?: number;
  /** Fee estimator settings (fallback, floor, cache). */
  readonly fees?: Omit<FeeEstimatorOptions, 'source' | 'logger'>;
  readonly logger?: Logger;
}

/** The assembled chain layer. */
export interface Chain {
  readonly rpc: RpcClient;
  /** The bitcoind adapter (every lower port). */
  readonly source: BitcoindChain;
  readonly dispatcher: BlockDispatcher;
  readonly watches: ChainWatches;
  readonly broadcaster: TxBroadcaster;
  readonly fees: ChainFeeEstimator;
  readonly mempool: MempoolWatcher;
  /** Starts tip and mempool polling; resolves at once (a node that is down is retried in the background). */
  start(): Promise<void>;
  /** Stops everything: pending RPC calls reject with COURT_E_CHAIN_STOPPED, loops exit, no timer is left. */
  stop(): Promise<void>;
}

/** Builds the chain layer over the bitcoind at `opts.rpc`. Nothing runs until `start()`. */
export function createChain(opts: ChainOptions): Chain {
  const logger = opts.logger ?? silentLogger;
  const pollMs = opts.pollMs ?? 1000;
  const rpc = new RpcClient(opts.rpc, { logger, retry: opts.retry });
  const source = new BitcoindChain(rpc);
  const persistent = <T>(given: T | undefined, make: (db: Db) => T, what: string): T => {
    if (given !== undefined) return given;
    if (opts.db === undefined) throw new CourtError('COURT_E_INVALID_ARGUMENT', `createChain needs a database (db) or an explicit ${what}`);
    return make(opts.db);
  };
  const dispatcher = new BlockDispatcher({
    source,
    blockLog: persistent(opts.blockLog, (db) => new SqliteBlockLog(db), 'blockLog'),
    pollMs,
    logger,
    startHeight: opts.startHeight,
  });
  const watches = new ChainWatches({ source, utxo: source, view: dispatcher, logger });
  const broadcaster = new TxBroadcaster({
    relay: source,
    store: persistent(opts.broadcastStore, (db) => new SqliteBroadcastStore(db), 'broadcastStore'),
    logger,
  });
  const mempool = new MempoolWatcher({ source, pollMs: opts.mempoolPollMs ?? pollMs, logger });
  const fees = new ChainFeeEstimator({ ...opts.fees, source, logger });
  dispatcher.subscribe(watches.onChainEvent);
  dispatcher.subscribe(broadcaster.onChainEvent);

  return {
    rpc,
    source,
    dispatcher,
    watches,
    broadcaster,
    fees,
    mempool,
    async start() {
      dispatcher.start();
      mempool.start();
      void broadcaster.republish();
    },
    async stop() {
      rpc.close();
      await Promise.all([dispatcher.stop(), mempool.stop(), watches.stop()]);
    },
  };
}
