/**
 * The chain layer (src/chain) against a real validating node: spend, confirmation and mempool watches at the
 * right heights, a one-time rescan from a height hint, a 3-block reorg delivered as disconnects (newest first)
 * then connects with the watches reversed and re-reported, broadcast outcomes classified from the node's real
 * answers, rebroadcast after the node lost its mempool, a node killed for 10 s without a lost block, a restart
 * of the chain layer resuming exactly from its SQLite block log, and typed errors for a wrong password and an
 * unreachable node.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Transaction } from 'bitcoinjs-lib';
import { startChain, type RegtestChain } from '../../regtest/chain.js';
import { freePort } from '../../regtest/node-process.js';
import { createChain, type Chain, type ChainEvent, type ConfEvent, type MempoolSpend, type SpendEvent } from '../../src/chain/index.js';
import { RpcClient } from '../../src/chain/rpc.js';
import { openDatabase } from '../../src/store/db.js';
import { migrate } from '../../src/store/migrate.js';
import { CourtError } from '../../src/util/errors.js';
import { eventually } from '../helpers/async.js';
import { p2wpkhSpender } from '../helpers/p2wpkh-spend.js';

const { script, spend } = p2wpkhSpender('chain.test key');

/** Waits for `what` (the dispatcher polls the node every 50 ms here). */
const until = (cond: () => boolean, what: string): Promise<void> => eventually(cond, 20_000, what);

describe('chain layer against the regtest node', () => {
  let node: RegtestChain;
  let layer: Chain;
  let dir: string;
  let dbPath: string;
  const blocks: ChainEvent[] = [];
  const connectedHeights = (): number[] => blocks.filter((b) => b.type === 'BlockConnected').map((b) => b.height);

  const build = (): Chain => {
    const db = openDatabase(dbPath);
    migrate(db);
    const e = node.endpoint;
    const c = createChain({
      rpc: { host: `http://${e.host}:${e.port}`, username: e.username, password: e.password, timeoutMs: 5_000 },
      pollMs: 50,
      retry: { attempts: 2, baseDelayMs: 50, maxDelayMs: 200 },
      db,
    });
    c.dispatcher.subscribe((ev) => {
      blocks.push(ev);
    });
    return c;
  };

  before(async () => {
    node = await startChain({ persistent: true });
    dir = mkdtempSync(join(tmpdir(), 'courtd-chain-test-'));
    dbPath = join(dir, 'briefcase.sqlite');
    layer = build();
    await layer.start();
    const tip = await node.height();
    await until(() => connectedHeights().includes(tip), 'the first block');
  });

  after(async () => {
    await layer?.stop();
    await node?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('reports a spend and a confirmation at the height the node mined them, and the spend in the mempool first', async () => {
    const coin = await node.fund(script, 50_000n);
    const hint = await node.height();
    const spends: SpendEvent[] = [];
    const confs: ConfEvent[] = [];
    const pool: MempoolSpend[] = [];
    const op = { txid: coin.txid, vout: coin.vout };
    const w1 = layer.watches.watchSpend(op, hint, (e) => void spends.push(e));
    const m1 = layer.mempool.watchSpend(op, (e) => void pool.push(e));
    const tx = spend(coin, 500n);
    const w2 = layer.watches.watchConf(tx.getId(), 2, hint, (e) => void confs.push(e));
    await Promise.all([w1.ready, w2.ready]);
    const published = await layer.broadcaster.publish(tx, 'test spend');
    assert.equal(published.kind, 'accepted');
    await until(() => pool.length === 1, 'the mempool spend');
    assert.equal(pool[0]?.spenderTxid, tx.getId());
    assert.equal(spends.length, 0, 'no confirmed spend before a block');
    await node.mine(1);
    const minedAt = await node.confirmationHeight(tx.getId());
    await until(() => spends.length === 1, 'the confirmed spend');
    assert.equal(spends[0]?.type, 'spend');
    assert.equal(spends[0]?.height, minedAt);
    assert.equal(confs.length, 0, 'depth 2 not reached after 1 block');
    await node.mine(1);
    await until(() => confs.length === 1, 'the confirmation at depth 2');
    assert.equal(confs[0]?.type, 'confirmed');
    assert.equal(confs[0]?.height, minedAt);
    w1.cancel();
    w2.cancel();
    m1.cancel();
  });

  it('finds an old spend by rescanning from the height hint, once', async () => {
    const coin = await node.fund(script, 40_000n);
    const hint = await node.height();
    const tx = spend(coin, 400n);
    await node.send(tx.toHex());
    await node.mine(1);
    const minedAt = await node.confirmationHeight(tx.getId());
    await node.mine(5);
    await until(() => connectedHeights().includes(hint + 6), 'the dispatcher to catch up');
    const spends: SpendEvent[] = [];
    const w = layer.watches.watchSpend({ txid: coin.txid, vout: coin.vout }, hint - 2, (e) => void spends.push(e));
    await w.ready;
    await until(() => spends.length === 1, 'the rescanned spend');
    assert.equal(spends[0]?.type, 'spend');
    assert.equal(spends[0]?.height, minedAt);
    await node.mine(2);
    await until(() => connectedHeights().includes(hint + 8), 'two more blocks');
    assert.equal(spends.length, 1, 'the rescan is not repeated');
    w.cancel();
  });

  it('delivers a 3-block reorg as disconnects newest first, then the new branch, and reverses the watches', async () => {
    const coin = await node.fund(script, 30_000n);
    const hint = await node.height();
    const tx = spend(coin, 400n);
    const spends: SpendEvent[] = [];
    const confs: ConfEvent[] = [];
    const w1 = layer.watches.watchSpend({ txid: coin.txid, vout: coin.vout }, hint, (e) => void spends.push(e));
    const w2 = layer.watches.watchConf(tx.getId(), 1, hint, (e) => void confs.push(e));
    await Promise.all([w1.ready, w2.ready]);
    await node.send(tx.toHex());
    await node.mine(3);
    const tip = await node.height();
    await until(() => connectedHeights().includes(tip) && spends.length === 1 && confs.length === 1, 'the spend in the old branch');
    const oldHash = spends[0]?.type === 'spend' ? spends[0].blockHash : '';
    const mark = blocks.length;

    const { orphaned, replacement } = await node.reorg(3, 1); // the spend goes back to the mempool, into replacement[0]
    await until(() => connectedHeights().includes(tip + 1), 'the new branch');
    const seen = blocks.slice(mark).map((b) => `${b.type === 'BlockConnected' ? '+' : '-'}${b.height}:${b.hash}`);
    const expected = [
      ...[...orphaned].reverse().map((h, i) => `-${tip - i}:${h}`),
      ...replacement.map((h, i) => `+${tip - 2 + i}:${h}`),
    ];
    assert.deepEqual(seen, expected);

    await until(() => spends.length === 3 && confs.length === 3, 'the reversed and re-reported watches');
    assert.deepEqual(spends.map((s) => s.type), ['spend', 'spend-undone', 'spend']);
    assert.deepEqual(confs.map((c) => c.type), ['confirmed', 'conf-undone', 'confirmed']);
    assert.equal(spends[1]?.blockHash, oldHash);
    assert.equal(spends[2]?.type === 'spend' ? spends[2].blockHash : '', replacement[0]);
    w1.cancel();
    w2.cancel();
  });

  it('classifies the node’s refusals', async () => {
    const coin = await node.fund(script, 60_000n);
    const h = await node.height();
    const publish = async (tx: Transaction): Promise<string> => (await layer.broadcaster.publish(tx, 'classification')).kind;
    assert.equal(await publish(spend(coin, 500n, { locktime: h + 1, sequence: 0xfffffffe })), 'non-final');
    assert.equal(await publish(spend(coin, 500n, { sequence: 5 })), 'non-bip68-final');
    assert.equal(await publish(spend(coin, 500n, { badSig: true })), 'script-failure');
    assert.equal(await publish(spend(coin, 1n)), 'insufficient-fee');
    assert.equal(await publish(spend({ ...coin, txid: '44'.repeat(32) }, 500n)), 'missing-inputs');
    const good = spend(coin, 500n);
    assert.equal(await publish(good), 'accepted');
    // Core answers a resend of a transaction already in its mempool with the txid, not an error.
    assert.equal((await layer.broadcaster.publish(good, 'again')).kind, 'accepted');
    await node.mine(1);
    layer.broadcaster.forget(good.getId());
    assert.equal(await publish(good), 'already-confirmed');
  });

  it('loses no block when the node is killed for 10 s, and rebroadcasts what the restart dropped from its mempool', async () => {
    const coin = await node.fund(script, 35_000n);
    const tx = spend(coin, 400n);
    assert.equal((await layer.broadcaster.publish(tx, 'survives a node restart')).kind, 'accepted');
    const before = await node.height();
    await node.kill();
    await new Promise((r) => setTimeout(r, 10_000));
    await node.restart();
    assert.equal(await node.inMempool(tx.getId()), false, 'the embedded node keeps no mempool across a kill');
    await node.mine(1); // the broadcaster republishes on this block
    await until(() => connectedHeights().includes(before + 1), 'the block mined after the restart');
    const deadline = Date.now() + 10_000;
    while (!(await node.inMempool(tx.getId()))) {
      if (Date.now() > deadline) throw new Error('the transaction was not rebroadcast');
      await new Promise((r) => setTimeout(r, 50));
    }
    await node.mine(1);
    await until(() => connectedHeights().includes(before + 2), 'the next block');
    const heights = connectedHeights();
    assert.deepEqual(heights.slice(heights.indexOf(before)), [before, before + 1, before + 2], 'every block delivered once, in order');
    assert.equal(await node.confirmationHeight(tx.getId()), before + 2, 'the rebroadcast transaction confirmed');
  });

  it('resumes exactly from its SQLite block log after a restart of the chain layer', async () => {
    await layer.stop();
    const last = connectedHeights().at(-1) ?? 0;
    await node.mine(3);
    const mark = blocks.length;
    layer = build();
    await layer.start();
    await until(() => connectedHeights().includes(last + 3), 'the missed blocks');
    const resumed = blocks.slice(mark).map((b) => (b.type === 'BlockConnected' ? b.height : -b.height));
    assert.deepEqual(resumed, [last + 1, last + 2, last + 3]);
  });

  it('gives typed errors for a wrong password and an unreachable node', async () => {
    const e = node.endpoint;
    const wrong = new RpcClient({ host: `http://${e.host}:${e.port}`, username: e.username, password: 'not-the-password' }, { retry: { attempts: 3, baseDelayMs: 10 } });
    await assert.rejects(wrong.call('getblockcount'), (err) => err instanceof CourtError && err.code === 'COURT_E_CHAIN_AUTH');
    wrong.close();
    const port = await freePort();
    const nobody = new RpcClient({ host: `http://127.0.0.1:${port}` }, { retry: { attempts: 3, baseDelayMs: 10, maxDelayMs: 20 } });
    await assert.rejects(nobody.call('getblockcount'), (err) => err instanceof CourtError && err.code === 'COURT_E_CHAIN_UNREACHABLE');
    nobody.close();
  });

  it('falls back to the configured fee rate on regtest, never below the relay floor', async () => {
    const rate = await layer.fees.feeRatePerKw(6);
    assert.ok(rate >= 253n, `rate ${rate} sat/kw is at least 1 sat/vB`);
  });
});
