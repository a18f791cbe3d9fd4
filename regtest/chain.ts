/**
 * startChain(): a validating regtest chain for tests and the demo, with the helpers tests need: mine, fund a
 * script with a confirmed or unconfirmed output, broadcast, test acceptance, reorg by invalidate/reconsider,
 * and kill/restart of the node process.
 *
 * The backend is real bitcoind when BITCOIND names a binary, else the embedded Core-compatible bcoin node.
 * Everything goes through the `bitcoin-core` JSON-RPC client; the chain keeps a small P2WPKH faucet wallet of
 * its own (coinbase outputs) so funding needs no node wallet.
 */
import { address as btcAddress, networks, Transaction } from 'bitcoinjs-lib';
import Client from 'bitcoin-core';
import { secp } from '../src/keys/secp.js';
import { p2wpkh } from '../src/ln/scripts.js';
import { fromHex, reversed, sha256, toHex } from '../src/util/bytes.js';
import { CourtError } from '../src/util/errors.js';
import { signUtxoInput } from './sim-tx.js';
import { NodeProcess, satToBtc, type BackendKind, type NodeProcessOptions, type RpcEndpoint } from './node-process.js';

/** An output the caller can spend. */
export interface Utxo {
  readonly txid: string;
  readonly vout: number;
  readonly amountSat: bigint;
  readonly scriptPubKey: Uint8Array;
}

/** Core's answer to testmempoolaccept for one transaction. */
export interface AcceptResult {
  readonly allowed: boolean;
  readonly reason: string | undefined;
}

/** An RPC error as the bitcoin-core client raises it. */
export interface RpcFailure {
  readonly code: number;
  readonly message: string;
}

const COINBASE_MATURITY = 100;
const FAUCET_SECRET = sha256(new TextEncoder().encode('courtd regtest faucet'));
/** Where reorg() sends the replacement blocks' rewards: a key nobody uses. */
const BURN_SCRIPT = p2wpkh(secp().pointFromScalar(sha256(new TextEncoder().encode('courtd regtest burn'))));

/** Anything that is not an RPC error is rethrown; an RPC error becomes {code, message}. */
export function asRpcFailure(err: unknown): RpcFailure {
  const e = err as { code?: unknown; message?: unknown };
  if (typeof e.code === 'number' && typeof e.message === 'string') return { code: e.code, message: e.message };
  throw err;
}

export class RegtestChain {
  readonly node: NodeProcess;
  readonly client: Client;
  /** The faucet's P2WPKH key: coinbase rewards go there unless another address is given. */
  readonly faucetPubkey: Uint8Array;
  readonly faucetScript: Uint8Array;
  private faucetAddress = '';
  /** Spendable faucet outputs (mature coinbases and change), oldest first. */
  private readonly utxos: Array<Utxo & { readonly coinbaseHeight?: number }> = [];

  private constructor(node: NodeProcess) {
    this.node = node;
    const e = node.endpoint;
    this.client = new Client({ host: `http://${e.host}:${e.port}`, username: e.username, password: e.password, timeout: 30_000 });
    this.faucetPubkey = secp().pointFromScalar(FAUCET_SECRET);
    this.faucetScript = p2wpkh(this.faucetPubkey);
  }

  get kind(): BackendKind {
    return this.node.kind;
  }

  get endpoint(): RpcEndpoint {
    return this.node.endpoint;
  }

  /** Starts a node and mines enough blocks for mature faucet coins (and active segwit/CSV). */
  static async start(opts: NodeProcessOptions & { readonly initialBlocks?: number } = {}): Promise<RegtestChain> {
    const node = await NodeProcess.create(opts);
    const chain = new RegtestChain(node);
    try {
      chain.faucetAddress = chain.addressOf(chain.faucetScript);
      await chain.mine(opts.initialBlocks ?? COINBASE_MATURITY + 10);
    } catch (err) {
      await node.destroy();
      throw err;
    }
    return chain;
  }

  async call<T = unknown>(method: string, ...params: unknown[]): Promise<T> {
    return (await this.client.command(method, ...params)) as T;
  }

  /** The regtest (bcrt1...) address of a scriptPubKey. */
  addressOf(scriptPubKey: Uint8Array): string {
    return btcAddress.fromOutputScript(scriptPubKey, networks.regtest);
  }

  async height(): Promise<number> {
    return this.call<number>('getblockcount');
  }

  async tipHash(): Promise<string> {
    return this.call<string>('getbestblockhash');
  }

  /** Mines `n` blocks (to the faucet unless an address is given); returns their hashes. */
  async mine(n: number, address?: string): Promise<string[]> {
    const hashes = await this.call<string[]>('generatetoaddress', n, address ?? this.faucetAddress);
    if (address === undefined) await this.recordCoinbases(hashes);
    return hashes;
  }

  private async recordCoinbases(hashes: readonly string[]): Promise<void> {
    for (const hash of hashes) {
      const block = await this.call<{ height: number; tx: string[] }>('getblock', hash, 1);
      const coinbaseTxid = block.tx[0];
      if (coinbaseTxid === undefined) continue;
      const raw = await this.call<string>('getrawtransaction', coinbaseTxid, false, hash);
      const tx = Transaction.fromHex(raw);
      tx.outs.forEach((out, vout) => {
        if (toHex(out.script) === toHex(this.faucetScript)) {
          this.utxos.push({ txid: coinbaseTxid, vout, amountSat: BigInt(out.value), scriptPubKey: this.faucetScript, coinbaseHeight: block.height });
        }
      });
    }
  }

  /**
   * Pays `amountSat` to `scriptPubKey` from the faucet and returns the new output. The funding transaction is
   * mined (1 block) unless `confirm` is false.
   */
  async fund(scriptPubKey: Uint8Array, amountSat: bigint, opts: { readonly confirm?: boolean; readonly feeRateSatPerVb?: bigint } = {}): Promise<Utxo> {
    const feeRate = opts.feeRateSatPerVb ?? 2n;
    const tip = await this.height();
    const idx = this.utxos.findIndex(
      (u) => u.amountSat >= amountSat + 1000n && (u.coinbaseHeight === undefined || tip + 1 - u.coinbaseHeight >= COINBASE_MATURITY),
    );
    const coin = this.utxos[idx];
    if (coin === undefined) throw new CourtError('COURT_E_REGTEST', 'faucet has no mature output large enough; mine more blocks');
    this.utxos.splice(idx, 1);
    const tx = new Transaction();
    tx.version = 2;
    tx.addInput(reversed(fromHex(coin.txid)), coin.vout, 0xfffffffd);
    tx.addOutput(scriptPubKey, amountSat);
    tx.addOutput(this.faucetScript, 0n);
    // Unsigned weight plus segwit marker and one P2WPKH witness (2 + 108 weight units at most).
    const vsize = BigInt(Math.ceil((tx.weight() + 110) / 4));
    const change = coin.amountSat - amountSat - vsize * feeRate;
    if (change < 1000n) throw new CourtError('COURT_E_REGTEST', 'faucet output too small for the fee');
    const out1 = tx.outs[1];
    if (out1) out1.value = change;
    this.signFaucetInput(tx, 0, coin.amountSat);
    const txid = await this.send(tx.toHex());
    this.utxos.push({ txid, vout: 1, amountSat: change, scriptPubKey: this.faucetScript });
    if (opts.confirm !== false) await this.mine(1);
    return { txid, vout: 0, amountSat, scriptPubKey };
  }

  /** Adds a faucet input of at least `minSat` to `tx` (for fee inputs of anchors / zero-fee HTLC txs). */
  takeFaucetCoin(minSat: bigint): Utxo {
    const idx = this.utxos.findIndex((u) => u.amountSat >= minSat && u.coinbaseHeight === undefined);
    const coin = this.utxos[idx];
    if (coin === undefined) throw new CourtError('COURT_E_REGTEST', 'no confirmed non-coinbase faucet output; call fund() first');
    this.utxos.splice(idx, 1);
    return coin;
  }

  /** Signs input `index` of `tx`, which spends a faucet P2WPKH output worth `valueSat`. */
  signFaucetInput(tx: Transaction, index: number, valueSat: bigint): void {
    const input = tx.ins[index];
    if (input === undefined) throw new CourtError('COURT_E_REGTEST', 'no such input');
    signUtxoInput(tx, index, { txid: toHex(reversed(input.hash)), vout: input.index, amountSat: valueSat, privkey: FAUCET_SECRET });
  }

  /** sendrawtransaction; RPC rejections are thrown as the client raises them (see asRpcFailure). */
  async send(txHex: string): Promise<string> {
    return this.call<string>('sendrawtransaction', txHex);
  }

  /** Broadcasts and returns either the txid or the node's rejection. */
  async trySend(txHex: string): Promise<{ txid: string } | { error: RpcFailure }> {
    try {
      return { txid: await this.send(txHex) };
    } catch (err) {
      return { error: asRpcFailure(err) };
    }
  }

  async testAccept(txHex: string): Promise<AcceptResult> {
    const [r] = await this.call<Array<{ allowed: boolean; 'reject-reason'?: string }>>('testmempoolaccept', [txHex]);
    if (r === undefined) throw new CourtError('COURT_E_REGTEST', 'testmempoolaccept returned nothing');
    return { allowed: r.allowed, reason: r['reject-reason'] };
  }

  /** Height at which `txid` confirmed, or undefined if unconfirmed. */
  async confirmationHeight(txid: string): Promise<number | undefined> {
    const tx = await this.call<{ blockhash?: string }>('getrawtransaction', txid, true);
    if (tx.blockhash === undefined) return undefined;
    const header = await this.call<{ height: number }>('getblockheader', tx.blockhash);
    return header.height;
  }

  async inMempool(txid: string): Promise<boolean> {
    const pool = await this.call<string[]>('getrawmempool');
    return pool.includes(txid);
  }

  /**
   * Replaces the top `depth` blocks with `depth + extra` new (empty or mempool-carrying) ones: invalidates the
   * first block to orphan, then mines. Returns the orphaned hashes (oldest first) and the new ones.
   */
  async reorg(depth: number, extra = 1): Promise<{ orphaned: string[]; replacement: string[] }> {
    const tip = await this.height();
    const orphaned: string[] = [];
    for (let h = tip - depth + 1; h <= tip; h++) orphaned.push(await this.call<string>('getblockhash', h));
    const first = orphaned[0];
    if (first === undefined) throw new CourtError('COURT_E_REGTEST', 'reorg depth must be at least 1');
    await this.call('invalidateblock', first);
    const firstHeight = tip - depth + 1;
    for (let i = this.utxos.length - 1; i >= 0; i--) {
      const h = this.utxos[i]?.coinbaseHeight;
      if (h !== undefined && h >= firstHeight) this.utxos.splice(i, 1);
    }
    const replacement = await this.mine(depth + extra, this.addressOf(BURN_SCRIPT));
    return { orphaned, replacement };
  }

  /**
   * Sets the block minimum package feerate (Core's -blockmintxfee) while the node runs; 0 mines every mempool
   * transaction again. Embedded node only (bitcoind takes it at start: NodeProcessOptions.blockMinTxFeeSatPerKvB).
   */
  async setBlockMinTxFee(satPerKvB: number): Promise<void> {
    if (this.kind !== 'bcoin') throw new CourtError('COURT_E_REGTEST', 'bitcoind takes -blockmintxfee only at start');
    if (!Number.isSafeInteger(satPerKvB) || satPerKvB < 0) throw new CourtError('COURT_E_REGTEST', 'satPerKvB must be a non-negative integer');
    await this.call('setblockmintxfee', satToBtc(satPerKvB));
  }

  /**
   * Mines one block holding exactly `txs` (mempool txids or raw transaction hex) after the coinbase, leaving every
   * other mempool transaction out (generateblock); the reward goes to a key nobody uses. Returns the block hash.
   */
  async mineOnly(txs: readonly string[]): Promise<string> {
    const r = await this.call<{ hash: string }>('generateblock', this.addressOf(BURN_SCRIPT), [...txs]);
    return r.hash;
  }

  /** Kills the node process (SIGKILL). With a persistent chain, restart() brings it back with its blocks. */
  async kill(): Promise<void> {
    await this.node.kill();
  }

  async restart(): Promise<void> {
    await this.node.start();
  }

  async stop(): Promise<void> {
    await this.node.destroy();
  }
}

/** Starts a regtest chain (bitcoind if BITCOIND is set, else embedded bcoin) with a funded faucet. */
export function startChain(opts: NodeProcessOptions & { readonly initialBlocks?: number } = {}): Promise<RegtestChain> {
  return RegtestChain.start(opts);
}
