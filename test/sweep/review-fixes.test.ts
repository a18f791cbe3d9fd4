/**
 * The findings of the attacker review of the sweeper (issue 10), one describe per finding: each test failed before
 * its fix (see the commit that adds it) and pins the behaviour the fix gives.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Transaction } from 'bitcoinjs-lib';
import type { ChainEvent } from '../../src/chain/ports.js';
import { minReplacementFee, vsizeOf } from '../../src/sweep/fee.js';
import type { Db } from '../../src/store/db.js';
import { anchorInput, briefcase, TestFees, testSweeper } from './helpers.js';

const blk = (h: number, txs: Transaction[] = [], hash = h.toString(16).padStart(64, '0')): ChainEvent => ({
  type: 'BlockConnected',
  height: h,
  hash,
  block: { hash, height: h, prevHash: '', txs, txids: txs.map((t) => t.getId()) },
});

interface SetRowLite {
  id: number;
  deadline: number;
  end_feerate: number;
  next_height: number | null;
  reason: string | null;
  closed: number;
  lease_held: number;
}
const lastSet = (db: Db): SetRowLite => db.prepare('SELECT * FROM sweep_set ORDER BY id DESC LIMIT 1').get() as SetRowLite;

/** Fee of a CPFP child spending the anchor (330 sat) and wallet coins of known values. */
function childFee(tx: Transaction, walletSat: bigint): bigint {
  return 330n + walletSat - tx.outs.reduce((s, o) => s + o.value, 0n);
}

describe('review 1: CPFP replacements are planned in package rates', () => {
  const parent = { txid: 'dd'.repeat(32), weight: 1124, feeSat: 285n };

  it('bumps the child as soon as the node would take a replacement, and ends at its budget with the reason said', async () => {
    const db = briefcase();
    const fees = new TestFees();
    fees.estimate = 1000n;
    const { sweeper, broadcaster, wallet } = testSweeper(db, { fees, height: 1000 });
    const coin = wallet.addCoin('ee'.repeat(32), 0, 1_000_000n);
    const spec = anchorInput(1, parent, { deadlineHeight: 1300, budgetSat: 20_000n });
    sweeper.offer(spec);
    await sweeper.kick();
    for (let h = 1001; h <= 1305; h++) await sweeper.onChainEvent(blk(h));
    const txs = broadcaster.published;
    const feesPaid = txs.map((t) => childFee(t, coin.valueSat));
    // The fee function climbs (cap - start) * package weight / 299 blocks ~ 61 sat a block; BIP125 needs
    // incremental * child vsize (~ 175 sat): a replacement every third block, never a step of two increments.
    for (let i = 1; i < txs.length; i++) {
      const step = minReplacementFee(0n, (txs[i] as Transaction).weight());
      assert.ok((feesPaid[i] as bigint) - (feesPaid[i - 1] as bigint) < 2n * step, `version ${i} waited too long: ${feesPaid[i - 1]} -> ${feesPaid[i]}`);
    }
    const last = feesPaid.at(-1) as bigint;
    assert.ok(last <= 20_000n, `child fee ${last} above its budget`);
    assert.ok(last > 20_000n - minReplacementFee(0n, (txs.at(-1) as Transaction).weight()), `child fee ${last} stops short of its 20,000 sat budget`);
    const set = lastSet(db);
    assert.equal(set.next_height, null);
    assert.match(set.reason ?? '', /^budget exhausted/);
  });

  it('an operator raising a CPFP budget mid-way gets further replacements up to the new budget', async () => {
    const db = briefcase();
    const fees = new TestFees();
    fees.estimate = 1000n;
    const { sweeper, broadcaster, wallet } = testSweeper(db, { fees, height: 1000 });
    const coin = wallet.addCoin('ee'.repeat(32), 0, 1_000_000n);
    const spec = anchorInput(1, parent, { deadlineHeight: 1300, budgetSat: 20_000n });
    sweeper.offer(spec);
    await sweeper.kick();
    for (let h = 1001; h <= 1250; h++) await sweeper.onChainEvent(blk(h));
    const before = broadcaster.published.length;
    const feeBefore = childFee(broadcaster.published.at(-1) as Transaction, coin.valueSat);
    sweeper.bump(spec.outpoint, { budgetSat: 40_000n });
    await sweeper.kick();
    for (let h = 1251; h <= 1300; h++) await sweeper.onChainEvent(blk(h));
    assert.ok(broadcaster.published.length > before + 10, `only ${broadcaster.published.length - before} replacements after the budget was raised`);
    const last = childFee(broadcaster.published.at(-1) as Transaction, coin.valueSat);
    assert.ok(last > feeBefore && last <= 40_000n, `fee ${feeBefore} -> ${last}`);
    assert.ok(last > 40_000n - 2n * BigInt(vsizeOf((broadcaster.published.at(-1) as Transaction).weight())), `fee ${last} stops short of the raised budget`);
  });
});
