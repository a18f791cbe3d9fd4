/**
 * The bitcoind adapter: implements every lower chain port (ChainSource, MempoolSource, UtxoSource, TxRelay,
 * FeeRateSource) with Bitcoin Core JSON-RPC calls through RpcClient, checking each reply's shape.
 *
 * Calls used, all with positional parameters: getbestblockhash, getblockhash, getblockheader (hash, true),
 * getblock (hash, 0) parsed with bitcoinjs-lib, getrawtransaction (txid, true|false), getrawmempool,
 * gettxout (txid, n, false), sendrawtransaction, estimatesmartfee, getmempoolinfo, getnetworkinfo.
 */
import { Block, Transaction } from 'bitcoinjs-lib';
import { reversed, toHex } from '../util/bytes.js';
import { CourtError } from '../util/errors.js';
import { asBtcDecimal, asHash, asHashArray, asHeight, asHex, asObject } from './guards.js';
import type {
  BlockHash,
  BlockRef,
  ChainBlock,
  ChainSource,
  FeeRateSource,
  MempoolSource,
  Outpoint,
  OutputInfo,
  OutputSource,
  Txid,
  TxLookup,
  TxRelay,
  UtxoSource,
} from './ports.js';
import type { RpcClient } from './rpc.js';

const ZERO_HASH = '0'.repeat(64);

interface Header {
  readonly hash: BlockHash;
  readonly height: number;
  readonly prevHash: BlockHash;
}

function parseTx(hex: string, method: string): Transaction {
  try {
    return Transaction.fromHex(hex);
  } catch {
    throw new CourtError('COURT_E_CHAIN_BAD_REPLY', `${method}: transaction does not parse`, { method });
  }
}

async function orUndefinedIfNotFound<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (e) {
    if (e instanceof CourtError && e.code === 'COURT_E_CHAIN_NOT_FOUND') return undefined;
    throw e;
  }
}

/** bitcoind behind the chain ports. Stateless apart from a one-entry tip cache (saves a call per idle poll). */
/** A decimal BTC string (at most 8 decimals) as satoshis. */
function btcToSat(btc: string): bigint {
  const [whole, frac = ''] = btc.split('.');
  return BigInt(whole as string) * 100_000_000n + BigInt(frac.padEnd(8, '0').slice(0, 8));
}

export class BitcoindChain implements ChainSource, MempoolSource, UtxoSource, OutputSource, TxRelay, FeeRateSource {
  private lastTip: BlockRef | undefined;

  constructor(private readonly rpc: RpcClient) {}

  /** getbestblockhash, plus getblockheader only when the best hash changed since the last call. */
  async getTip(): Promise<BlockRef> {
    const hash = asHash(await this.rpc.call('getbestblockhash'), 'getbestblockhash');
    if (this.lastTip?.hash === hash) return this.lastTip;
    const { height } = await this.header(hash);
    this.lastTip = { height, hash };
    return this.lastTip;
  }

  /** getblockhash; a height above the tip is COURT_E_CHAIN_NOT_FOUND ("Block height out of range"). */
  async getBlockHash(height: number): Promise<BlockHash> {
    return asHash(await this.rpc.call('getblockhash', [height]), 'getblockhash');
  }

  /** getblockheader for height and parent, getblock verbosity 0 for the transactions; checks they agree. */
  async getBlock(hash: BlockHash): Promise<ChainBlock> {
    const header = await this.header(hash);
    const hex = asHex(await this.rpc.call('getblock', [hash, 0]), 'getblock');
    let block: Block;
    try {
      block = Block.fromHex(hex);
    } catch {
      throw new CourtError('COURT_E_CHAIN_BAD_REPLY', 'getblock: block does not parse', { method: 'getblock' });
    }
    const parsedPrev = block.prevHash ? toHex(reversed(block.prevHash)) : ZERO_HASH;
    if (block.getId() !== hash || parsedPrev !== header.prevHash) {
      throw new CourtError('COURT_E_CHAIN_BAD_REPLY', 'getblock: block does not match its header', {
        method: 'getblock',
      });
    }
    const txs = block.transactions ?? [];
    return { hash, height: header.height, prevHash: header.prevHash, txs, txids: txs.map((t) => t.getId()) };
  }

  /** getrawtransaction verbose; the confirmation height comes from the block's header. */
  async getRawTransaction(txid: Txid): Promise<TxLookup | undefined> {
    const method = 'getrawtransaction';
    const raw = await orUndefinedIfNotFound(this.rpc.call(method, [txid, true]));
    if (raw === undefined || raw === null) return undefined;
    const r = asObject(raw, method);
    const tx = parseTx(asHex(r.hex, method, 'hex'), method);
    const confirmations = typeof r.confirmations === 'number' ? r.confirmations : 0;
    if (r.blockhash === undefined || confirmations < 1 || r.in_active_chain === false) return { tx };
    const blockHash = asHash(r.blockhash, method, 'blockhash');
    const { height } = await this.header(blockHash);
    return { tx, confirmation: { height, hash: blockHash } };
  }

  /** getrawmempool (txids only). */
  async getRawMempool(): Promise<Txid[]> {
    return asHashArray(await this.rpc.call('getrawmempool'), 'getrawmempool');
  }

  /** getrawtransaction non-verbose; undefined once the transaction left the mempool. */
  async getMempoolTransaction(txid: Txid): Promise<Transaction | undefined> {
    const raw = await orUndefinedIfNotFound(this.rpc.call('getrawtransaction', [txid, false]));
    if (raw === undefined || raw === null) return undefined;
    return parseTx(asHex(raw, 'getrawtransaction'), 'getrawtransaction');
  }

  /**
   * Many mempool transactions in one JSON-RPC batch (getrawtransaction each): undefined for those that left the
   * mempool meanwhile. One round trip whatever the count (the mempool watcher's new arrivals).
   */
  async getMempoolTransactions(txids: readonly Txid[]): Promise<Array<Transaction | undefined>> {
    const answers = await this.rpc.batch(txids.map((txid) => ({ method: 'getrawtransaction', params: [txid, false] })));
    return answers.map((a) => {
      if (a instanceof CourtError) {
        if (a.code === 'COURT_E_CHAIN_NOT_FOUND') return undefined;
        throw a;
      }
      if (a === undefined || a === null) return undefined;
      return parseTx(asHex(a, 'getrawtransaction'), 'getrawtransaction');
    });
  }

  /** gettxout without the mempool: null means spent (or never created). */
  async isUnspent(outpoint: Outpoint): Promise<boolean> {
    const r = await this.rpc.call('gettxout', [outpoint.txid, outpoint.vout, false]);
    if (r === null || r === undefined) return false;
    asObject(r, 'gettxout');
    return true;
  }

  /** gettxout with the mempool; for a spent output, the creating transaction's output (getrawtransaction). */
  async getOutput(outpoint: Outpoint): Promise<OutputInfo | undefined> {
    const method = 'gettxout';
    const r = await this.rpc.call(method, [outpoint.txid, outpoint.vout, true]);
    if (r !== null && r !== undefined) {
      const o = asObject(r, method);
      const spk = asObject(o.scriptPubKey, method, 'scriptPubKey');
      const valueSat = btcToSat(asBtcDecimal(o.value, method, 'value'));
      // The block height from the confirmations at gettxout's best block (no -txindex needed).
      const confs = typeof o.confirmations === 'number' ? o.confirmations : 0;
      let at = {};
      if (confs > 0 && typeof o.bestblock === 'string') {
        const { height } = await this.header(asHash(o.bestblock, method, 'bestblock'));
        at = { confirmedHeight: height - confs + 1 };
      }
      return { valueSat, scriptPubKey: Uint8Array.from(Buffer.from(asHex(spk.hex, method, 'scriptPubKey.hex'), 'hex')), spent: false, ...at };
    }
    // Spent: the creating transaction gives the output and its block height.
    const found = await this.getRawTransaction(outpoint.txid);
    const at = found?.confirmation === undefined ? {} : { confirmedHeight: found.confirmation.height };
    const out = found?.tx.outs[outpoint.vout];
    if (out === undefined) return undefined;
    return { valueSat: BigInt(out.value), scriptPubKey: Uint8Array.from(out.script), spent: true, ...at };
  }

  /** sendrawtransaction; a refusal throws COURT_E_CHAIN_RPC with {rpcCode, rpcMessage}. */
  async sendRawTransaction(hex: string): Promise<Txid> {
    return asHash(await this.rpc.call('sendrawtransaction', [hex]), 'sendrawtransaction');
  }

  /** estimatesmartfee; undefined when bitcoind reports `errors` and no `feerate` (regtest, a cold node). */
  async estimateSmartFee(confTarget: number): Promise<string | undefined> {
    const method = 'estimatesmartfee';
    const r = asObject(await this.rpc.call(method, [confTarget]), method);
    if (r.feerate === undefined || (typeof r.feerate === 'number' && r.feerate < 0)) return undefined;
    return asBtcDecimal(r.feerate, method, 'feerate');
  }

  /** getmempoolinfo.mempoolminfee (BTC/kvB). */
  async mempoolMinFee(): Promise<string> {
    const r = asObject(await this.rpc.call('getmempoolinfo'), 'getmempoolinfo');
    return asBtcDecimal(r.mempoolminfee, 'getmempoolinfo', 'mempoolminfee');
  }

  /** getnetworkinfo.relayfee (BTC/kvB). */
  async relayFee(): Promise<string> {
    const r = asObject(await this.rpc.call('getnetworkinfo'), 'getnetworkinfo');
    return asBtcDecimal(r.relayfee, 'getnetworkinfo', 'relayfee');
  }

  private async header(hash: BlockHash): Promise<Header> {
    const method = 'getblockheader';
    const r = asObject(await this.rpc.call(method, [hash, true]), method);
    const height = asHeight(r.height, method);
    const prevHash = r.previousblockhash === undefined ? ZERO_HASH : asHash(r.previousblockhash, method, 'previousblockhash');
    if (asHash(r.hash, method, 'hash') !== hash) {
      throw new CourtError('COURT_E_CHAIN_BAD_REPLY', `${method}: header of another block`, { method });
    }
    return { hash, height, prevHash };
  }
}
