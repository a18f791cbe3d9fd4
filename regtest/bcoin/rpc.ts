/**
 * Bitcoin Core-compatible JSON-RPC methods installed over bcoin's (see ../shared/design/bcoin-regtest.md).
 *
 * Every replaced method takes Core's positional parameters and answers with Core's shapes and error codes
 * (-5 not found, -8 bad parameter, -22 decode failure, -25/-26/-27 mempool rejections), so the same client code
 * and test assertions run against bitcoind.
 */
import { btc, headerJson, mempoolEntryJson, revHex, scriptPubKeyJson, txJson } from './json.js';
import {
  addAccepted,
  checkTx,
  DEFAULT_MAX_FEERATE_SAT_PER_KVB,
  INCREMENTAL_RELAY_SAT_PER_KVB,
  MIN_RELAY_SAT_PER_KVB,
  RejectError,
  RPC_VERIFY_ERROR,
  type BcoinLib,
  type MinerPolicy,
} from './policy.js';
import { KeptBlocks } from './reorg.js';

/** Core's RPC error codes used below. */
const RPC_MISC_ERROR = -1;
const RPC_INVALID_ADDRESS_OR_KEY = -5;
const RPC_INVALID_PARAMETER = -8;
const RPC_DESERIALIZATION_ERROR = -22;

/** An error bweb (bcoin's RPC server) sends as {code, message}. */
function rpcError(code: number, message: string): Error {
  const err = new Error(message) as Error & { type: string; code: number };
  err.type = 'RPCError';
  err.code = code;
  return err;
}

export interface CoreRpcLib extends BcoinLib {
  readonly TX: any;
  readonly Address: any;
  readonly CoinView: any;
}

type Handler = (args: unknown[]) => Promise<unknown>;

/** Parses a display-order hash parameter to bcoin's internal hex. */
function hashParam(args: unknown[], i: number, name: string): string {
  const v = args[i];
  if (typeof v !== 'string' || !/^[0-9a-fA-F]{64}$/.test(v)) {
    throw rpcError(RPC_INVALID_PARAMETER, `${name} must be of length 64 (not ${typeof v === 'string' ? v.length : 0}, for '${String(v)}')`);
  }
  return revHex(v.toLowerCase());
}

/** Core accepts bool or int verbosity. */
function verbosity(v: unknown, dflt: number): number {
  if (v === undefined || v === null) return dflt;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  throw rpcError(-3, 'Expected type number or bool');
}

/** BTC/kvB (number or decimal string) to sat/kvB. */
function feeRateParam(v: unknown): number {
  if (v === undefined || v === null) return DEFAULT_MAX_FEERATE_SAT_PER_KVB;
  const n = typeof v === 'string' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) throw rpcError(-3, 'Amount out of range');
  return Math.round(n * 1e8);
}

export function installCoreRpc(lib: CoreRpcLib, node: any, startedAt: number, miner: MinerPolicy = { blockMinTxFeeSatPerKvB: 0 }): KeptBlocks {
  const chain = node.chain;
  const mp = node.mempool;
  const network = node.network;
  const kept = new KeptBlocks(lib, node);
  const handlers: Record<string, Handler> = {};

  const decodeTx = (hex: unknown): any => {
    try {
      if (typeof hex !== 'string' || !/^([0-9a-fA-F]{2})+$/.test(hex)) throw new Error('not hex');
      return lib.TX.fromRaw(Buffer.from(hex, 'hex'));
    } catch {
      throw rpcError(RPC_DESERIALIZATION_ERROR, 'TX decode failed. Make sure the tx has at least one input.');
    }
  };

  /** A block by internal hash, on the main chain, a side branch, or kept by invalidateblock. */
  const findBlock = async (hash: string): Promise<{ entry: any; block: any; main: boolean } | undefined> => {
    const entry = await chain.getEntry(hash);
    if (entry) return { entry, block: await chain.getBlock(hash), main: await chain.isMainChain(entry) };
    const k = kept.get(hash);
    return k ? { entry: k.entry, block: k.block, main: false } : undefined;
  };

  const headerOf = async (found: { entry: any; block: any; main: boolean }): Promise<Record<string, unknown>> => {
    const next = found.main ? await chain.getNextHash(found.entry.hash) : undefined;
    return headerJson(found.entry, {
      confirmations: found.main ? chain.height - found.entry.height + 1 : -1,
      mediantime: await chain.getMedianTime(found.entry),
      nextblockhash: next ? revHex(next) : undefined,
      nTx: found.block ? found.block.txs.length : 0,
    });
  };

  handlers['sendrawtransaction'] = async (args) => {
    const tx = decodeTx(args[0]);
    const maxFeeRateSatPerKvB = feeRateParam(args[1]);
    const unlock = await mp.locker.lock();
    try {
      if (mp.hasEntry(tx.hash('hex'))) return tx.txid();
      const accepted = await checkTx(lib, mp, tx, { maxFeeRateSatPerKvB });
      await addAccepted(mp, tx, accepted);
      return tx.txid();
    } catch (err) {
      if (err instanceof RejectError) throw rpcError(err.rpcCode, err.reason);
      throw err;
    } finally {
      unlock();
    }
  };

  handlers['testmempoolaccept'] = async (args) => {
    const raws = args[0];
    if (!Array.isArray(raws) || raws.length === 0) throw rpcError(RPC_INVALID_PARAMETER, 'Array must contain at least one transaction.');
    const maxFeeRateSatPerKvB = feeRateParam(args[1]);
    const txs = raws.map(decodeTx);
    const unlock = await mp.locker.lock();
    try {
      const out: unknown[] = [];
      for (const tx of txs) {
        try {
          const a = await checkTx(lib, mp, tx, { maxFeeRateSatPerKvB });
          out.push({ txid: tx.txid(), wtxid: tx.wtxid(), allowed: true, vsize: a.vsize, fees: { base: btc(a.feeSat) } });
        } catch (err) {
          if (!(err instanceof RejectError)) throw err;
          out.push({ txid: tx.txid(), wtxid: tx.wtxid(), allowed: false, 'reject-reason': err.reason });
        }
      }
      return out;
    } finally {
      unlock();
    }
  };

  handlers['getblockhash'] = async (args) => {
    const h = args[0];
    if (typeof h !== 'number' || !Number.isInteger(h) || h < 0 || h > chain.height) throw rpcError(RPC_INVALID_PARAMETER, 'Block height out of range');
    return revHex(await chain.getHash(h));
  };

  handlers['getblockheader'] = async (args) => {
    const found = await findBlock(hashParam(args, 0, 'blockhash'));
    if (!found) throw rpcError(RPC_INVALID_ADDRESS_OR_KEY, 'Block not found');
    if (verbosity(args[1], 1) === 0) return found.entry.toRaw().toString('hex', 0, 80);
    return headerOf(found);
  };

  handlers['getblock'] = async (args) => {
    const found = await findBlock(hashParam(args, 0, 'blockhash'));
    if (!found || !found.block) throw rpcError(RPC_INVALID_ADDRESS_OR_KEY, 'Block not found');
    const v = verbosity(args[1], 1);
    const block = found.block;
    if (v === 0) return block.toRaw().toString('hex');
    const json = await headerOf(found);
    Object.assign(json, { strippedsize: block.getBaseSize(), size: block.getSize(), weight: block.getWeight() });
    if (v === 1) {
      json['tx'] = block.txs.map((tx: any) => tx.txid());
      return json;
    }
    let view: any;
    try {
      view = found.main ? await chain.getBlockView(block) : undefined;
    } catch {
      view = undefined;
    }
    json['tx'] = block.txs.map((tx: any) => {
      const fee = view && !tx.isCoinbase() ? tx.getFee(view) : undefined;
      const t = txJson(lib, network, tx, undefined, fee);
      return t;
    });
    return json;
  };

  handlers['getrawtransaction'] = async (args) => {
    const hash = hashParam(args, 0, 'txid');
    const v = verbosity(args[1], 0);
    let tx: any;
    let where: { blockhash: string; confirmations: number; time: number } | undefined;
    if (args[2] !== undefined && args[2] !== null) {
      const found = await findBlock(hashParam(args, 2, 'blockhash'));
      if (!found || !found.block) throw rpcError(RPC_INVALID_ADDRESS_OR_KEY, 'Block hash not found');
      tx = found.block.txs.find((t: any) => t.hash('hex') === hash);
      if (!tx) throw rpcError(RPC_INVALID_ADDRESS_OR_KEY, 'No such transaction found in the provided block. Use gettransaction for wallet transactions.');
      where = { blockhash: found.entry.rhash(), confirmations: found.main ? chain.height - found.entry.height + 1 : 0, time: found.entry.time };
    } else {
      const meta = await node.getMeta(hash);
      if (!meta) throw rpcError(RPC_INVALID_ADDRESS_OR_KEY, 'No such mempool or blockchain transaction. Use gettransaction for wallet transactions.');
      tx = meta.tx;
      if (meta.height >= 0 && meta.block) {
        where = { blockhash: revHex(meta.block), confirmations: chain.height - meta.height + 1, time: meta.time };
      }
    }
    if (v === 0) return tx.toRaw().toString('hex');
    return txJson(lib, network, tx, where);
  };

  handlers['gettxout'] = async (args) => {
    const hash = hashParam(args, 0, 'txid');
    const n = args[1];
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw rpcError(RPC_INVALID_PARAMETER, 'Invalid vout');
    const includeMempool = args[2] === undefined || args[2] === null ? true : Boolean(args[2]);
    let coin: any;
    if (includeMempool) {
      if (mp.isSpent(hash, n)) return null;
      coin = mp.getCoin(hash, n);
    }
    if (!coin) coin = await chain.getCoin(hash, n);
    if (!coin) return null;
    return {
      bestblock: chain.tip.rhash(),
      confirmations: coin.height === -1 ? 0 : chain.height - coin.height + 1,
      value: btc(coin.value),
      scriptPubKey: scriptPubKeyJson(lib, network, coin.script),
      coinbase: coin.coinbase,
    };
  };

  handlers['getrawmempool'] = async (args) => {
    if (verbosity(args[0], 0) === 0) return [...mp.map.values()].map((e: any) => e.txid());
    const out: Record<string, unknown> = {};
    for (const e of mp.map.values()) out[e.txid()] = mempoolEntryJson(mp, e);
    return out;
  };

  handlers['getmempoolentry'] = async (args) => {
    const entry = mp.getEntry(hashParam(args, 0, 'txid'));
    if (!entry) throw rpcError(RPC_INVALID_ADDRESS_OR_KEY, 'Transaction not in mempool');
    return mempoolEntryJson(mp, entry);
  };

  handlers['getmempoolinfo'] = async () => ({
    loaded: true,
    size: mp.map.size,
    bytes: [...mp.map.values()].reduce((a: number, e: any) => a + e.size, 0),
    usage: mp.getSize(),
    total_fee: btc([...mp.map.values()].reduce((a: number, e: any) => a + e.fee, 0)),
    maxmempool: 300_000_000,
    mempoolminfee: btc(MIN_RELAY_SAT_PER_KVB),
    minrelaytxfee: btc(MIN_RELAY_SAT_PER_KVB),
    incrementalrelayfee: btc(INCREMENTAL_RELAY_SAT_PER_KVB),
    unbroadcastcount: 0,
    fullrbf: true,
  });

  handlers['estimatesmartfee'] = async (args) => {
    const target = args[0];
    if (typeof target !== 'number' || !Number.isInteger(target) || target < 1) throw rpcError(RPC_INVALID_PARAMETER, 'Invalid conf_target');
    const rate: number = node.fees ? node.fees.estimateFee(Math.min(target, 1008), true) : 0;
    if (rate > 0) return { feerate: btc(Math.max(rate, MIN_RELAY_SAT_PER_KVB)), blocks: target };
    return { errors: ['Insufficient data or no feerate found'], blocks: 0 };
  };

  handlers['invalidateblock'] = async (args) => {
    try {
      await kept.invalidate(hashParam(args, 0, 'blockhash'));
    } catch (err) {
      if ((err as Error).message === 'Block not found') throw rpcError(RPC_INVALID_ADDRESS_OR_KEY, 'Block not found');
      throw err;
    }
    return null;
  };

  handlers['reconsiderblock'] = async (args) => {
    try {
      await kept.reconsider(hashParam(args, 0, 'blockhash'));
    } catch (err) {
      if ((err as Error).message === 'Block not found') throw rpcError(RPC_INVALID_ADDRESS_OR_KEY, 'Block not found');
      throw err;
    }
    return null;
  };

  handlers['generateblock'] = async (args) => {
    const addr = parseAddress(lib, network, args[0]);
    const items = args[1];
    if (!Array.isArray(items)) throw rpcError(RPC_INVALID_PARAMETER, 'transactions must be an array');
    const txs = items.map((item) => {
      if (typeof item === 'string' && item.length === 64) {
        const e = mp.getEntry(revHex(item.toLowerCase()));
        if (!e) throw rpcError(RPC_INVALID_ADDRESS_OR_KEY, `Transaction ${item} not in mempool.`);
        return e.tx;
      }
      return decodeTx(item);
    });
    const block = await mineWith(lib, node, addr, txs);
    if (args[2] === false) return { hash: block.rhash(), hex: block.toRaw().toString('hex') };
    try {
      await chain.add(block);
    } catch (err) {
      throw rpcError(RPC_VERIFY_ERROR, `TestBlockValidity failed: ${(err as { reason?: string }).reason ?? (err as Error).message}`);
    }
    return { hash: block.rhash() };
  };

  // Ours (Core only has the start-up option -blockmintxfee): sets the block minimum package feerate, BTC/kvB
  // like the option; 0 mines every mempool transaction again. Returns the value now in force, sat/kvB.
  handlers['setblockmintxfee'] = async (args) => {
    if (args[0] === undefined || args[0] === null) throw rpcError(RPC_INVALID_PARAMETER, 'feerate (BTC/kvB) is required');
    miner.blockMinTxFeeSatPerKvB = feeRateParam(args[0]);
    return miner.blockMinTxFeeSatPerKvB;
  };

  handlers['setmocktime'] = async (args) => {
    const t = args[0];
    if (typeof t !== 'number' || !Number.isInteger(t) || t < 0) throw rpcError(RPC_INVALID_PARAMETER, 'Mocktime must be in the range [0, 9223372036]');
    network.time.offset = 0;
    if (t !== 0) network.time.offset = t - network.now();
    return null;
  };

  handlers['getblockchaininfo'] = async () => ({
    chain: 'regtest',
    blocks: chain.height,
    headers: chain.height,
    bestblockhash: chain.tip.rhash(),
    difficulty: 4.656542373906925e-10,
    time: chain.tip.time,
    mediantime: await chain.getMedianTime(chain.tip),
    verificationprogress: 1,
    initialblockdownload: false,
    chainwork: chain.tip.chainwork.toString('hex', 64),
    size_on_disk: 0,
    pruned: false,
    warnings: '',
  });

  handlers['getnetworkinfo'] = async () => ({
    version: 270000,
    subversion: '/Satoshi:27.0.0(courtd-bcoin-compat)/',
    protocolversion: 70016,
    localservices: '0000000000000409',
    localrelay: true,
    timeoffset: 0,
    networkactive: true,
    connections: 0,
    networks: [],
    relayfee: btc(MIN_RELAY_SAT_PER_KVB),
    incrementalfee: btc(INCREMENTAL_RELAY_SAT_PER_KVB),
    localaddresses: [],
    warnings: '',
  });

  handlers['uptime'] = async () => Math.floor((Date.now() - startedAt) / 1000);
  handlers['getzmqnotifications'] = async () => [];
  handlers['getindexinfo'] = async () => ({ txindex: { synced: true, best_block_height: chain.height } });
  handlers['getdeploymentinfo'] = async () => ({
    hash: chain.tip.rhash(),
    height: chain.height,
    deployments: Object.fromEntries(
      ['bip34', 'bip66', 'bip65', 'csv', 'segwit'].map((name) => [name, { type: 'buried', active: true, height: 1 }]),
    ),
  });

  const submitBlock = node.rpc.calls['submitblock'];
  handlers['submitblock'] = async (args) => {
    const result = await submitBlock.call(node.rpc, args, false);
    return typeof result === 'string' ? result.replace(/^rejected: /, '') : result;
  };

  for (const [name, fn] of Object.entries(handlers)) node.rpc.calls[name] = fn;
  return kept;
}

function parseAddress(lib: CoreRpcLib, network: any, v: unknown): any {
  try {
    if (typeof v !== 'string') throw new Error('not a string');
    return lib.Address.fromString(v, network);
  } catch {
    throw rpcError(RPC_INVALID_ADDRESS_OR_KEY, 'Error: Invalid address');
  }
}

/** Mines one block on the tip holding exactly `txs` (in order) after the coinbase. */
async function mineWith(lib: CoreRpcLib, node: any, addr: any, txs: readonly any[]): Promise<any> {
  const miner = node.miner;
  const view = new lib.CoinView();
  for (const tx of txs) {
    for (const input of tx.inputs) {
      if (view.getOutputFor(input)) continue;
      const coin = node.mempool.getCoin(input.prevout.hash, input.prevout.index) ?? (await node.chain.getCoin(input.prevout.hash, input.prevout.index));
      if (!coin) throw rpcError(RPC_VERIFY_ERROR, `TestBlockValidity failed: bad-txns-inputs-missingorspent, ${tx.txid()}`);
      view.addCoin(coin);
    }
    view.addTX(tx, -1);
  }
  const assemble = miner.assemble;
  miner.assemble = (attempt: any): void => {
    for (const tx of txs) {
      if (!tx.isFinal(attempt.height, attempt.locktime)) throw rpcError(RPC_VERIFY_ERROR, `TestBlockValidity failed: bad-txns-nonfinal, ${tx.txid()}`);
      if (!attempt.addTX(tx, view)) throw rpcError(RPC_MISC_ERROR, `transaction ${tx.txid()} does not fit the block`);
    }
    attempt.refresh();
  };
  try {
    return await miner.mineBlock(null, addr);
  } finally {
    miner.assemble = assemble;
  }
}
