/**
 * The embedded node's Core-like block minimum feerate (-blockmintxfee) with package (ancestor) scoring: a parent
 * paying below the minimum is relayed but not mined alone; a child that lifts the package above it gets both mined
 * in one block; the boundary is exact (a package paying ceil(min * vsize / 1000) is mined, one sat less is not);
 * the minimum can be changed at run time; generateblock still mines exactly what it is given. Runs against bitcoind
 * when BITCOIND is set, except the run-time setting (embedded node only).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Transaction } from 'bitcoinjs-lib';
import { startChain, type RegtestChain, type Utxo } from '../../regtest/chain.js';
import { p2wpkhSpender } from '../helpers/p2wpkh-spend.js';

/** 5 sat/vB. */
const MIN_SAT_PER_KVB = 5000;
const minFee = (vsize: number): bigint => BigInt(Math.ceil((MIN_SAT_PER_KVB * vsize) / 1000));

const { script, spend } = p2wpkhSpender('node-blockmintxfee.test key');

/** A spend of `coin` whose fee is exactly `fee(vsize)` (searches locktimes: a signature's length varies by a byte). */
function spendWithFee(coin: Utxo, fee: (vsize: number) => bigint): Transaction {
  for (let locktime = 0; locktime < 64; locktime++) {
    const v = spend(coin, 0n, { locktime }).virtualSize();
    const tx = spend(coin, fee(v), { locktime });
    if (tx.virtualSize() === v) return tx;
  }
  throw new Error('no stable vsize found');
}

/** The output of `tx` at vout 0 as a coin. */
function outOf(tx: Transaction): Utxo {
  const out = tx.outs[0];
  if (out === undefined) throw new Error('no output');
  return { txid: tx.getId(), vout: 0, amountSat: out.value, scriptPubKey: out.script };
}

describe('regtest node: block minimum feerate with package scoring', () => {
  let chain: RegtestChain;
  const blockTxs = async (hash: string): Promise<string[]> => (await chain.call<{ tx: string[] }>('getblock', hash, 1)).tx.slice(1);

  before(async () => {
    chain = await startChain({ blockMinTxFeeSatPerKvB: MIN_SAT_PER_KVB });
  });
  after(async () => {
    await chain?.stop();
  });

  it('leaves a parent below the minimum out of blocks, and mines it with a child that lifts the package', async () => {
    const coin = await chain.fund(script, 100_000n, { feeRateSatPerVb: 10n });
    const rich = await chain.fund(script, 100_000n, { feeRateSatPerVb: 10n, confirm: false });
    // 2 sat/vB: above the relay minimum, below the block minimum.
    const parent = spendWithFee(coin, (v) => BigInt(v) * 2n);
    await chain.send(parent.toHex());
    const [first] = await chain.mine(1);
    const mined = await blockTxs(first as string);
    assert.ok(mined.includes(rich.txid), 'a transaction paying the minimum is mined');
    assert.equal(mined.includes(parent.getId()), false, 'the low parent is left out');
    assert.equal(await chain.inMempool(parent.getId()), true);
    await chain.mine(2);
    assert.equal(await chain.inMempool(parent.getId()), true, 'still left out blocks later');

    // The child pays for both: the package's feerate reaches the minimum, the parent's own stays at 2 sat/vB.
    const parentFee = coin.amountSat - outOf(parent).amountSat;
    const pv = parent.virtualSize();
    const child = spendWithFee(outOf(parent), (cv) => minFee(pv + cv) - parentFee);
    await chain.send(child.toHex());
    const [second] = await chain.mine(1);
    const both = await blockTxs(second as string);
    assert.deepEqual(both, [parent.getId(), child.getId()], 'parent and child in one block, parent first');
  });

  it('is exact at the boundary: one sat below the minimum waits, at the minimum it is mined, alone or as a package', async () => {
    const c1 = await chain.fund(script, 80_000n, { feeRateSatPerVb: 10n });
    const c2 = await chain.fund(script, 80_000n, { feeRateSatPerVb: 10n });
    const short = spendWithFee(c1, (v) => minFee(v) - 1n);
    const exact = spendWithFee(c2, (v) => minFee(v));
    await chain.send(short.toHex());
    await chain.send(exact.toHex());
    const [b1] = await chain.mine(1);
    assert.deepEqual(await blockTxs(b1 as string), [exact.getId()], 'exactly the minimum is mined, one sat less is not');
    // A child paying exactly what the package lacks.
    const shortFee = c1.amountSat - outOf(short).amountSat;
    const pv = short.virtualSize();
    const child = spendWithFee(outOf(short), (cv) => minFee(pv + cv) - shortFee);
    await chain.send(child.toHex());
    const [b2] = await chain.mine(1);
    assert.deepEqual(await blockTxs(b2 as string), [short.getId(), child.getId()]);
    const childFee = outOf(short).amountSat - outOf(child).amountSat;
    assert.equal(shortFee + childFee, minFee(pv + child.virtualSize()), 'the package paid exactly the minimum');
  });

  it('generateblock mines the given transactions, below the minimum too, and leaves the rest in the mempool', async () => {
    const a = await chain.fund(script, 60_000n, { feeRateSatPerVb: 10n });
    const b = await chain.fund(script, 60_000n, { feeRateSatPerVb: 10n });
    const low = spendWithFee(a, (v) => BigInt(v));
    const high = spendWithFee(b, (v) => BigInt(v) * 20n);
    await chain.send(low.toHex());
    await chain.send(high.toHex());
    const hash = await chain.mineOnly([low.getId()]);
    assert.deepEqual(await blockTxs(hash), [low.getId()]);
    assert.equal(await chain.inMempool(high.getId()), true, 'the high-fee transaction was left out');
    const [next] = await chain.mine(1);
    assert.deepEqual(await blockTxs(next as string), [high.getId()]);
  });

  it('changes the minimum at run time (embedded node)', { skip: process.env['BITCOIND'] ? 'bitcoind takes it at start' : false }, async () => {
    const coin = await chain.fund(script, 50_000n, { feeRateSatPerVb: 10n });
    const low = spendWithFee(coin, (v) => BigInt(v) * 2n);
    await chain.send(low.toHex());
    const [b1] = await chain.mine(1);
    assert.deepEqual(await blockTxs(b1 as string), []);
    await chain.setBlockMinTxFee(0);
    const [b2] = await chain.mine(1);
    assert.deepEqual(await blockTxs(b2 as string), [low.getId()]);
    await chain.setBlockMinTxFee(MIN_SAT_PER_KVB);
  });
});
