/**
 * The regtest node behaves like Bitcoin Core where courtd and its tests depend on it: mempool policy with Core's
 * codes and reasons, full RBF, testmempoolaccept, RPC shapes, invalidate/reconsider reorgs that keep blocks and
 * mempool, generateblock, and a chain that survives a SIGKILL. Runs against bitcoind when BITCOIND is set.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Transaction } from 'bitcoinjs-lib';
import { asRpcFailure, startChain, type RegtestChain, type Utxo } from '../../regtest/chain.js';
import { p2wpkhSpender } from '../helpers/p2wpkh-spend.js';

/** Core <= 29 says mandatory-script-verify-flag-failed; Core 30 renamed it mempool-script-verify-flag-failed. */
const SCRIPT_FAILURE = /^(mandatory|mempool)-script-verify-flag-failed \(/;

const { script, spend } = p2wpkhSpender('node.test key');

describe('regtest node: Core-compatible policy and RPC', () => {
  let chain: RegtestChain;
  before(async () => {
    chain = await startChain({ persistent: true });
  });
  after(async () => {
    await chain?.stop();
  });

  it('reports the regtest chain with segwit addresses and Core shapes', async () => {
    const info = await chain.call<{ chain: string; blocks: number; initialblockdownload: boolean }>('getblockchaininfo');
    assert.equal(info.chain, 'regtest');
    assert.equal(info.initialblockdownload, false);
    assert.ok(info.blocks >= 110);
    const net = await chain.call<{ version: number }>('getnetworkinfo');
    assert.equal(typeof net.version, 'number');
    const hash = await chain.tipHash();
    const header = await chain.call<{ bits: string; previousblockhash?: string; nextblockhash?: string; confirmations: number }>('getblockheader', hash);
    assert.equal(typeof header.bits, 'string');
    assert.equal(header.confirmations, 1);
    assert.equal('nextblockhash' in header, false);
    const genesis = await chain.call<{ previousblockhash?: string }>('getblockheader', await chain.call('getblockhash', 0));
    assert.equal('previousblockhash' in genesis, false);
    await assert.rejects(chain.call('getblock', '11'.repeat(32)), (e) => asRpcFailure(e).code === -5);
    await assert.rejects(chain.call('getrawtransaction', '22'.repeat(32)), (e) => asRpcFailure(e).code === -5);
    await assert.rejects(chain.call('sendrawtransaction', 'zz'), (e) => asRpcFailure(e).code === -22);
  });

  it('enforces the 1 sat/vB minimum relay fee, exactly', async () => {
    const coin = await chain.fund(script, 100_000n);
    // A signature's DER length varies by a byte, so search (over fees and a few final locktimes, which change the
    // signature) for a transaction whose fee is exactly its vsize (+ delta).
    const withFee = (delta: bigint): Transaction => {
      for (let locktime = 0; locktime < 50; locktime++) {
        const v = BigInt(spend(coin, 0n, { locktime }).virtualSize());
        for (let f = v - 3n; f <= v + 3n; f++) {
          const tx = spend(coin, f + delta, { locktime });
          if (BigInt(tx.virtualSize()) === f) return tx;
        }
      }
      throw new Error('no fee found');
    };
    const low = await chain.trySend(withFee(-1n).toHex());
    assert.ok('error' in low);
    assert.equal(low.error.code, -26);
    assert.match(low.error.message, /^min relay fee not met/);
    const ok = await chain.trySend(withFee(0n).toHex());
    assert.ok('txid' in ok, JSON.stringify(ok));
  });

  it('rejects a bad signature with a mandatory-script-verify-flag-failed reason', async () => {
    const coin = await chain.fund(script, 50_000n);
    const r = await chain.trySend(spend(coin, 500n, { badSig: true }).toHex());
    assert.ok('error' in r);
    assert.equal(r.error.code, -26);
    assert.match(r.error.message, SCRIPT_FAILURE);
  });

  it('rejects missing inputs (-25) and already-confirmed transactions (-27)', async () => {
    const ghost: Utxo = { txid: '33'.repeat(32), vout: 0, amountSat: 10_000n, scriptPubKey: script };
    const r = await chain.trySend(spend(ghost, 500n).toHex());
    assert.ok('error' in r);
    assert.equal(r.error.code, -25);
    const coin = await chain.fund(script, 40_000n);
    const tx = spend(coin, 500n);
    await chain.send(tx.toHex());
    assert.equal(await chain.send(tx.toHex()), tx.getId(), 'resending a mempool tx returns its txid');
    await chain.mine(1);
    const again = await chain.trySend(tx.toHex());
    assert.ok('error' in again);
    assert.equal(again.error.code, -27);
  });

  it('enforces CLTV (non-final) and CSV (non-BIP68-final) one block early, accepts on time', async () => {
    const coin = await chain.fund(script, 60_000n);
    const h = await chain.height();
    // nLockTime L is final in block L + 1: the mempool (judging for tip + 1) takes it once the tip is L.
    const early = await chain.trySend(spend(coin, 500n, { locktime: h + 1, sequence: 0xfffffffe }).toHex());
    assert.ok('error' in early);
    assert.match(early.error.message, /^non-final/);
    assert.ok('txid' in (await chain.trySend(spend(coin, 500n, { locktime: h, sequence: 0xfffffffe }).toHex())));

    const coin2 = await chain.fund(script, 60_000n); // confirmed at height h2
    const csvEarly = await chain.trySend(spend(coin2, 500n, { sequence: 2 }).toHex());
    assert.ok('error' in csvEarly);
    assert.match(csvEarly.error.message, /^non-BIP68-final/);
    await chain.mine(1);
    assert.ok('txid' in (await chain.trySend(spend(coin2, 500n, { sequence: 2 }).toHex())));
  });

  it('replaces by fee under BIP125 rule 4 (full RBF: no signalling needed)', async () => {
    const coin = await chain.fund(script, 80_000n);
    const first = spend(coin, 1_000n, { sequence: 0xffffffff });
    await chain.send(first.toHex());
    const tooLittle = await chain.trySend(spend(coin, 1_050n).toHex());
    assert.ok('error' in tooLittle);
    assert.equal(tooLittle.error.code, -26);
    assert.match(tooLittle.error.message, /^insufficient fee, rejecting replacement .*not enough additional fees/);
    const vsize = BigInt(first.virtualSize());
    const replacement = spend(coin, 1_000n + vsize);
    await chain.send(replacement.toHex());
    assert.equal(await chain.inMempool(first.getId()), false);
    assert.equal(await chain.inMempool(replacement.getId()), true);
  });

  it('refuses a replacement with a lower feerate than the conflict, even paying more (rule 6)', async () => {
    const coin = await chain.fund(script, 80_000n);
    const extra = await chain.fund(script, 80_000n);
    const first = spend(coin, 3_000n);
    await chain.send(first.toHex());
    const bigger = spend([coin, extra], 3_500n); // higher absolute fee, ~1.6x the size: lower feerate
    const r = await chain.trySend(bigger.toHex());
    assert.ok('error' in r);
    assert.equal(r.error.code, -26);
    assert.match(r.error.message, /^insufficient fee, rejecting replacement .*new feerate/);
    assert.equal(await chain.inMempool(first.getId()), true);
  });

  it('refuses a replacement paying less than the conflict and its descendants together (rule 3)', async () => {
    const coin = await chain.fund(script, 80_000n);
    const parent = spend(coin, 1_000n);
    await chain.send(parent.toHex());
    const child = spend({ txid: parent.getId(), vout: 0, amountSat: coin.amountSat - 1_000n, scriptPubKey: script }, 5_000n);
    await chain.send(child.toHex());
    const replacement = spend(coin, 3_000n); // 3x the parent's feerate, but 3000 < 1000 + 5000
    const r = await chain.trySend(replacement.toHex());
    assert.ok('error' in r);
    assert.match(r.error.message, /^insufficient fee, rejecting replacement .*less fees than conflicting txs/);
    assert.equal(await chain.inMempool(child.getId()), true);
  });

  it('keeps a zero-fee parent mined with its child when their block is disconnected (bypass limits)', async () => {
    const coin = await chain.fund(script, 50_000n);
    const parent = spend(coin, 0n);
    const child = spend({ txid: parent.getId(), vout: 0, amountSat: coin.amountSat, scriptPubKey: script }, 2_000n);
    const r = await chain.call<{ hash: string }>('generateblock', chain.addressOf(script), [parent.toHex(), child.toHex()]);
    await chain.call('invalidateblock', r.hash);
    assert.equal(await chain.inMempool(parent.getId()), true);
    assert.equal(await chain.inMempool(child.getId()), true);
    await chain.call('reconsiderblock', r.hash);
    assert.equal(await chain.tipHash(), r.hash);
  });

  it('reconsiderblock of a descendant also restores its invalidated ancestor, as Core does', async () => {
    const [b1, b2] = await chain.mine(2);
    assert.ok(b1 && b2);
    await chain.call('invalidateblock', b1);
    assert.equal(await chain.call('invalidateblock', b1), null, 'invalidating twice answers null');
    await chain.call('reconsiderblock', b2);
    assert.equal(await chain.tipHash(), b2);
  });

  it('generateblock refuses a non-final transaction with Core\'s code', async () => {
    const coin = await chain.fund(script, 25_000n);
    const h = await chain.height();
    const r = await chain
      .call('generateblock', chain.addressOf(script), [spend(coin, 300n, { locktime: h + 5, sequence: 0xfffffffe }).toHex()])
      .then(() => undefined, asRpcFailure);
    assert.equal(r?.code, -25);
    assert.match(r?.message ?? '', /bad-txns-nonfinal/);
  });

  it('testmempoolaccept answers without changing the mempool', async () => {
    const coin = await chain.fund(script, 30_000n);
    const tx = spend(coin, 400n);
    const ok = await chain.testAccept(tx.toHex());
    assert.deepEqual(ok, { allowed: true, reason: undefined });
    assert.equal(await chain.inMempool(tx.getId()), false);
    const bad = await chain.testAccept(spend(coin, 400n, { badSig: true }).toHex());
    assert.equal(bad.allowed, false);
    assert.match(bad.reason ?? '', SCRIPT_FAILURE);
  });

  it('gettxout is null for an output spent in the mempool', async () => {
    const coin = await chain.fund(script, 30_000n);
    assert.notEqual(await chain.call('gettxout', coin.txid, coin.vout), null);
    await chain.send(spend(coin, 400n).toHex());
    assert.equal(await chain.call('gettxout', coin.txid, coin.vout), null);
  });

  it('invalidateblock returns the block txs to the mempool; reconsiderblock reconnects the kept blocks', async () => {
    const coin = await chain.fund(script, 30_000n, { confirm: false });
    const unrelated = await chain.fund(script, 20_000n, { confirm: false });
    const [blockHash] = await chain.mine(1);
    assert.ok(blockHash);
    const stay = spend(unrelated, 300n);
    await chain.send(stay.toHex());
    const before = await chain.height();
    await chain.call('invalidateblock', blockHash);
    assert.equal(await chain.height(), before - 1);
    assert.equal(await chain.inMempool(coin.txid), true, 'the disconnected block tx is back in the mempool');
    const header = await chain.call<{ confirmations: number }>('getblockheader', blockHash);
    assert.equal(header.confirmations, -1);
    await chain.call('reconsiderblock', blockHash);
    assert.equal(await chain.tipHash(), blockHash);
    assert.equal(await chain.confirmationHeight(coin.txid), before);
    assert.equal(await chain.inMempool(stay.getId()), true, 'the unrelated mempool tx stayed');
  });

  it('reconsiderblock of a longer kept branch reorganises back and re-queues the losing branch txs', async () => {
    const a = await chain.fund(script, 30_000n, { confirm: false });
    const kept = await chain.mine(2); // branch K: a confirmed in K[0]
    const first = kept[0];
    assert.ok(first);
    await chain.call('invalidateblock', first);
    const b = await chain.fund(script, 30_000n, { confirm: false });
    const [competitor] = await chain.call<string[]>('generatetoaddress', 1, chain.addressOf(script)); // holds a and b
    assert.ok(competitor);
    assert.equal(await chain.confirmationHeight(b.txid), await chain.height());
    await chain.call('reconsiderblock', first); // K has 2 blocks > 1: reorg back to K
    assert.equal(await chain.tipHash(), kept[1]);
    assert.equal(await chain.confirmationHeight(a.txid), (await chain.height()) - 1);
    assert.equal(await chain.inMempool(b.txid), true, 'b (only in the losing block) is back in the mempool');
    const c = await chain.call<{ confirmations: number }>('getblockheader', competitor);
    assert.equal(c.confirmations, -1);
  });

  it('generateblock mines exactly the given transactions', async () => {
    const coin = await chain.fund(script, 25_000n);
    const tx = spend(coin, 300n);
    const other = await chain.fund(script, 25_000n, { confirm: false });
    const r = await chain.call<{ hash: string }>('generateblock', chain.addressOf(script), [tx.toHex()]);
    const block = await chain.call<{ tx: string[] }>('getblock', r.hash, 1);
    assert.deepEqual(block.tx.slice(1), [tx.getId()]);
    assert.equal(await chain.inMempool(other.txid), true);
  });

  it('keeps every block across a SIGKILL and restart', async () => {
    await chain.mine(3);
    const tip = await chain.tipHash();
    const height = await chain.height();
    await chain.kill();
    await assert.rejects(chain.height());
    await chain.restart();
    assert.equal(await chain.height(), height);
    assert.equal(await chain.tipHash(), tip);
    await chain.mine(1);
    assert.equal(await chain.height(), height + 1);
  });
});
