/**
 * The bitcoind adapter against a local JSON-RPC server that answers like Bitcoin Core: raw blocks parsed with
 * bitcoinjs-lib, header fields, reply-shape checks, fee fields as JSON numbers, and an end-to-end broadcast
 * refusal classified through TxBroadcaster; then createChain end to end over HTTP against a small node serving real
 * serialized blocks (it follows the tip, feeds watches and the broadcaster, and stops without leaving a timer).
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { Block, Transaction } from 'bitcoinjs-lib';
import { BitcoindChain } from '../../src/chain/bitcoind.js';
import { MemoryBroadcastStore, TxBroadcaster } from '../../src/chain/broadcaster.js';
import { MemoryBlockLog } from '../../src/chain/block-log.js';
import { createChain } from '../../src/chain/index.js';
import type { ChainEvent, ConfEvent } from '../../src/chain/ports.js';
import { ChainFeeEstimator } from '../../src/chain/fees.js';
import { RpcClient } from '../../src/chain/rpc.js';
import { reversed } from '../../src/util/bytes.js';
import { CourtError } from '../../src/util/errors.js';
import { eventually } from '../helpers/async.js';
import { closeAllServers, reply, startServer } from '../helpers/http-server.js';

afterEach(() => closeAllServers());

const OP_TRUE = Uint8Array.of(0x51);

function makeBlock(prevHashHex: string, txs: Transaction[]): Block {
  const b = new Block();
  b.version = 0x20000000;
  b.prevHash = reversed(Buffer.from(prevHashHex, 'hex'));
  b.timestamp = 1_700_000_000;
  b.bits = 0x207fffff;
  b.nonce = 0;
  b.transactions = txs;
  b.merkleRoot = Block.calculateMerkleRoot(txs);
  return b;
}

function coinbase(tag: number): Transaction {
  const tx = new Transaction();
  tx.addInput(new Uint8Array(32), 0xffffffff, 0xffffffff, Uint8Array.of(1, tag));
  tx.addOutput(OP_TRUE, 5_000_000_000n);
  return tx;
}

/** A node with one block at height 7 and a canned answer per method. */
async function fakeNode(overrides: Record<string, (params: any[]) => { result?: unknown; error?: { code: number; message: string } }> = {}) {
  const prev = '11'.repeat(32);
  const payment = new Transaction();
  payment.addInput(new Uint8Array(32).fill(9), 1);
  payment.addOutput(OP_TRUE, 1000n);
  const block = makeBlock(prev, [coinbase(7), payment]);
  const hash = block.getId();
  const methods: Record<string, (params: any[]) => { result?: unknown; error?: { code: number; message: string } }> = {
    getbestblockhash: () => ({ result: hash }),
    getblockhash: ([h]) => (h === 7 ? { result: hash } : { error: { code: -8, message: 'Block height out of range' } }),
    getblockheader: ([h]) =>
      h === hash
        ? { result: { hash, height: 7, previousblockhash: prev, confirmations: 1 } }
        : { error: { code: -5, message: 'Block not found' } },
    getblock: ([h, verbosity]) => (h === hash && verbosity === 0 ? { result: block.toHex() } : { error: { code: -5, message: 'Block not found' } }),
    getrawtransaction: ([txid, verbose]) =>
      txid !== payment.getId()
        ? { error: { code: -5, message: 'No such mempool or blockchain transaction. Use gettransaction for wallet transactions.' } }
        : verbose
          ? { result: { hex: payment.toHex(), txid, blockhash: hash, confirmations: 1 } }
          : { result: payment.toHex() },
    getrawmempool: () => ({ result: [payment.getId()] }),
    gettxout: ([, n]) => ({ result: n === 0 ? { value: 0.00001, confirmations: 1 } : null }),
    estimatesmartfee: () => ({ result: { errors: ['Insufficient data or no feerate found'], blocks: 0 } }),
    getmempoolinfo: () => ({ result: { loaded: true, mempoolminfee: 0.00002, minrelaytxfee: 0.00001 } }),
    getnetworkinfo: () => ({ result: { version: 280000, relayfee: 0.00001 } }),
    sendrawtransaction: () => ({ error: { code: -26, message: 'min relay fee not met, 0 < 110' } }),
    ...overrides,
  };
  const srv = await startServer((body, _req, res) => {
    const m = methods[body.method];
    if (!m) return reply(res, body.id, null, { code: -32601, message: 'Method not found' });
    const { result, error } = m(body.params);
    reply(res, body.id, result, error);
  });
  const rpc = new RpcClient({ host: srv.url }, { retry: { attempts: 1 } });
  return { srv, chain: new BitcoindChain(rpc), block, hash, payment, prev };
}

const isCode = (code: string) => (e: unknown) => e instanceof CourtError && e.code === code;

describe('bitcoind adapter', () => {
  it('reads the tip and parses a raw block with its header fields', async () => {
    const { srv, chain, hash, prev, payment } = await fakeNode();
    assert.deepEqual(await chain.getTip(), { height: 7, hash });
    assert.equal(await chain.getBlockHash(7), hash);
    const b = await chain.getBlock(hash);
    assert.equal(b.height, 7);
    assert.equal(b.prevHash, prev);
    assert.equal(b.txs.length, 2);
    assert.equal(b.txids[1], payment.getId());
    const methods = srv.requests.map((r: any) => `${r.method}(${JSON.stringify(r.params)})`);
    assert.ok(methods.includes(`getblock(["${hash}",0])`), 'getblock with verbosity 0, positional');
    assert.ok(methods.includes(`getblockheader(["${hash}",true])`));
  });

  it('skips getblockheader on an unchanged tip', async () => {
    const { srv, chain } = await fakeNode();
    await chain.getTip();
    await chain.getTip();
    assert.equal(srv.requests.filter((r: any) => r.method === 'getblockheader').length, 1);
  });

  it('maps missing blocks and heights to COURT_E_CHAIN_NOT_FOUND', async () => {
    const { chain } = await fakeNode();
    await assert.rejects(chain.getBlockHash(8), isCode('COURT_E_CHAIN_NOT_FOUND'));
    await assert.rejects(chain.getBlock('22'.repeat(32)), isCode('COURT_E_CHAIN_NOT_FOUND'));
  });

  it('refuses a block that does not match its hash', async () => {
    const other = makeBlock('33'.repeat(32), [coinbase(1)]);
    const { chain, hash } = await fakeNode({ getblock: () => ({ result: other.toHex() }) });
    await assert.rejects(chain.getBlock(hash), isCode('COURT_E_CHAIN_BAD_REPLY'));
  });

  it('refuses replies of the wrong shape', async () => {
    const { chain } = await fakeNode({
      getbestblockhash: () => ({ result: 42 }),
      getrawmempool: () => ({ result: ['nothex'] }),
      getmempoolinfo: () => ({ result: { mempoolminfee: 'cheap' } }),
    });
    await assert.rejects(chain.getTip(), isCode('COURT_E_CHAIN_BAD_REPLY'));
    await assert.rejects(chain.getRawMempool(), isCode('COURT_E_CHAIN_BAD_REPLY'));
    await assert.rejects(chain.mempoolMinFee(), isCode('COURT_E_CHAIN_BAD_REPLY'));
  });

  it('looks up transactions with their confirmation, and undefined when unknown', async () => {
    const { chain, payment, hash } = await fakeNode();
    const found = await chain.getRawTransaction(payment.getId());
    assert.equal(found?.tx.getId(), payment.getId());
    assert.deepEqual(found?.confirmation, { height: 7, hash });
    assert.equal(await chain.getRawTransaction('44'.repeat(32)), undefined);
    assert.equal((await chain.getMempoolTransaction(payment.getId()))?.getId(), payment.getId());
    assert.equal(await chain.getMempoolTransaction('44'.repeat(32)), undefined);
    assert.deepEqual(await chain.getRawMempool(), [payment.getId()]);
  });

  it('reads gettxout null as spent', async () => {
    const { chain } = await fakeNode();
    assert.equal(await chain.isUnspent({ txid: '55'.repeat(32), vout: 0 }), true);
    assert.equal(await chain.isUnspent({ txid: '55'.repeat(32), vout: 1 }), false);
  });

  it('reads fee fields given as JSON numbers exactly, and regtest estimatesmartfee as no estimate', async () => {
    const { chain } = await fakeNode();
    assert.equal(await chain.mempoolMinFee(), '0.00002000');
    assert.equal(await chain.relayFee(), '0.00001000');
    assert.equal(await chain.estimateSmartFee(6), undefined);
    const fees = new ChainFeeEstimator({ source: chain, fallbackPerKw: 300n });
    assert.equal(await fees.feeRatePerKw(6), 500n, 'fallback 300 raised to mempoolminfee 2 sat/vB');
  });

  it('a node refusal reaches the broadcaster as a classified result', async () => {
    const { chain, payment } = await fakeNode();
    const b = new TxBroadcaster({ relay: chain });
    assert.deepEqual(await b.publish(payment, 'test'), {
      kind: 'insufficient-fee',
      txid: payment.getId(),
      rpcCode: -26,
      reason: 'min relay fee not met, 0 < 110',
    });
  });
});

/** A chain of real (proof-of-work-free) blocks. */
class RealBlocks {
  readonly blocks: Block[] = [];
  readonly mempool = new Map<string, Transaction>();

  constructor() {
    this.mine();
  }

  mine(txs: Transaction[] = []): Block {
    const height = this.blocks.length;
    const cb = new Transaction();
    cb.addInput(new Uint8Array(32), 0xffffffff, 0xffffffff, Uint8Array.of(2, height & 0xff, height >> 8));
    cb.addOutput(OP_TRUE, 5_000_000_000n);
    const b = new Block();
    b.version = 0x20000000;
    const prev = this.blocks[height - 1];
    b.prevHash = prev ? prev.getHash() : new Uint8Array(32);
    b.timestamp = 1_700_000_000 + height;
    b.bits = 0x207fffff;
    b.nonce = 0;
    b.transactions = [cb, ...txs];
    b.merkleRoot = Block.calculateMerkleRoot(b.transactions);
    this.blocks.push(b);
    for (const t of txs) this.mempool.delete(t.getId());
    return b;
  }

  height(hash: string): number {
    return this.blocks.findIndex((b) => b.getId() === hash);
  }

  answer(method: string, params: any[]): { result?: unknown; error?: { code: number; message: string } } {
    const tip = this.blocks[this.blocks.length - 1] as Block;
    const notFound = { error: { code: -5, message: 'Block not found' } };
    switch (method) {
      case 'getbestblockhash':
        return { result: tip.getId() };
      case 'getblockhash': {
        const b = this.blocks[params[0]];
        return b ? { result: b.getId() } : { error: { code: -8, message: 'Block height out of range' } };
      }
      case 'getblockheader': {
        const h = this.height(params[0]);
        if (h < 0) return notFound;
        const prev = h > 0 ? this.blocks[h - 1]?.getId() : undefined;
        return { result: { hash: params[0], height: h, ...(prev ? { previousblockhash: prev } : {}) } };
      }
      case 'getblock': {
        const h = this.height(params[0]);
        return h < 0 ? notFound : { result: this.blocks[h]?.toHex() };
      }
      case 'getrawmempool':
        return { result: [...this.mempool.keys()] };
      case 'sendrawtransaction': {
        const tx = Transaction.fromHex(params[0]);
        this.mempool.set(tx.getId(), tx);
        return { result: tx.getId() };
      }
      case 'gettxout':
        return { result: null };
      default:
        return { error: { code: -32601, message: 'Method not found' } };
    }
  }
}

describe('createChain', () => {
  it('follows the node, feeds watches and the broadcaster, and stops without leaving timers', async () => {
    const node = new RealBlocks();
    const tx = new Transaction();
    tx.addInput(reversed(new Uint8Array(32).fill(3)), 0);
    tx.addOutput(OP_TRUE, 1000n);
    node.mine([tx]); // 1
    node.mine(); // 2
    const srv = await startServer((body, _q, res) => {
      const { result, error } = node.answer(body.method, body.params);
      reply(res, body.id, result, error);
    });
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const timersBefore = timers();
    const chain = createChain({
      rpc: { host: srv.url, username: 'u', password: 'p' },
      pollMs: 10,
      startHeight: 0,
      blockLog: new MemoryBlockLog(),
      broadcastStore: new MemoryBroadcastStore(),
    });
    const events: string[] = [];
    chain.dispatcher.subscribe((e: ChainEvent) => {
      events.push(`${e.type === 'BlockConnected' ? 'C' : 'D'}${e.height}`);
    });
    await chain.start();
    await eventually(() => chain.dispatcher.tip()?.height === 2);
    assert.deepEqual(events, ['C0', 'C1', 'C2']);

    const confs: ConfEvent[] = [];
    await chain.watches.watchConf(tx.getId(), 3, 0, (e) => {
      confs.push(e);
    }).ready;
    assert.equal(confs.length, 0, 'two confirmations so far');

    const ours = new Transaction();
    ours.addInput(reversed(new Uint8Array(32).fill(4)), 0);
    ours.addOutput(OP_TRUE, 900n);
    assert.equal((await chain.broadcaster.publish(ours, 'test')).kind, 'accepted');
    node.mine([ours]); // 3
    await eventually(() => chain.dispatcher.tip()?.height === 3);
    assert.equal(confs.length, 1);
    assert.equal(confs[0]?.type === 'confirmed' && confs[0].height, 1);
    assert.deepEqual(chain.broadcaster.tracked(), []);

    const t0 = performance.now();
    await chain.stop();
    assert.ok(performance.now() - t0 < 200);
    assert.equal(timers(), timersBefore);
  });
});
