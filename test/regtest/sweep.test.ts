/**
 * The sweeper on the embedded regtest node (or bitcoind with BITCOIND): real P2WSH outputs with BOLT #3 to_local
 * scripts and real keys, swept by courtd's Sweeper through the real chain layer; the node is the judge of every
 * transaction (signatures, CSV, RBF rules), and fees are checked against the input values the node reports.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { Transaction } from 'bitcoinjs-lib';
import { startChain, type RegtestChain } from '../../regtest/chain.js';
import { toLocalRevokedWitness } from '../../src/ln/witness.js';
import { SIGHASH_ALL } from '../../src/keys/sighash.js';
import { eventually } from '../helpers/async.js';
import { tempDir } from '../helpers/db.js';
import { RING, SIGNER } from '../sweep/helpers.js';
import { assertWalletMatchesNode, fundToLocal, liveTxids, nodeFee, startSweepCourt, sweepRow, type SweepCourt } from './sweep.helpers.js';

let node: RegtestChain;
let court: SweepCourt;
let tmp: { dir: string; remove: () => void };

function ackAll(): void {
  for (const r of court.sweeper.unacked()) court.sweeper.ack(r.outpoint);
}

async function synced(): Promise<void> {
  const h = await node.height();
  await eventually(() => court.chain.dispatcher.tip()?.height === h && court.sweeper.height === h, 10_000, 'court at the node tip');
  await court.sweeper.kick();
}

describe('sweeper on regtest', { timeout: 300_000 }, () => {
  before(async () => {
    node = await startChain();
    tmp = tempDir('sweep-regtest');
    court = await startSweepCourt(node, join(tmp.dir, 'court.db'));
  });
  afterEach(async () => {
    // money to the sat: every sweep paid courtd's wallet, whose balance is what the node's UTXO set says
    await synced();
    await assertWalletMatchesNode(node, court);
  });
  after(async () => {
    await court?.stop();
    await node?.stop();
    tmp?.remove();
  });

  it('batches 20 inputs with one deadline in one transaction; locktimes split, pinnable apart, exclusive group never together; fees to the sat; final at 6', async () => {
    ackAll();
    const tip = await node.height();
    const made = await fundToLocal(node, 26, 40_000n, (i) => ({
      deadlineHeight: tip + 40,
      ...(i >= 20 && i < 22 ? { pinnable: true } : {}),
      ...(i >= 22 && i < 24 ? { locktime: tip - 1 - i } : {}),
      ...(i >= 24 ? { exclusiveGroup: 'anchor-of-chan-x' } : {}),
    }));
    const plain = made.slice(0, 20);
    const pinnable = made.slice(20, 22);
    const locked = made.slice(22, 24);
    const group = made.slice(24);
    const all = [...plain, ...pinnable, ...locked, ...group];
    for (const s of all) court.sweeper.offer(s);
    // CSV 2: one block early the inputs wait (the node would refuse them), at maturity they go out
    await synced();
    assert.ok(court.sweeper.pending().every((v) => v.state === 'pending' && /^immature until/.test(v.reason ?? '')));
    assert.deepEqual(liveTxids(court.db), []);
    await node.mine(1);
    await synced();
    const txids = liveTxids(court.db);
    const byInput = new Map<string, string>();
    for (const t of txids) for (const op of JSON.parse(sweepRow(court.db, t)?.inputs as string) as string[]) byInput.set(op, t);
    assert.equal(byInput.size, all.length, 'every input is in exactly one live sweep');
    const big = byInput.get(plain[0]?.outpoint as string) as string;
    assert.ok(plain.every((s) => byInput.get(s.outpoint) === big), 'the 20 inputs share one transaction');
    assert.ok(pinnable.every((s) => !plain.some((p) => byInput.get(p.outpoint) === byInput.get(s.outpoint))), 'pinnable kept apart');
    assert.notEqual(byInput.get(locked[0]?.outpoint as string), byInput.get(locked[1]?.outpoint as string), 'different locktimes split');
    assert.notEqual(byInput.get(group[0]?.outpoint as string), byInput.get(group[1]?.outpoint as string), 'one exclusive group never together');
    for (const t of txids) {
      assert.ok(await node.inMempool(t), `the node accepted ${t}`);
      assert.equal(await nodeFee(node, t), BigInt(sweepRow(court.db, t)?.fee_sat as number), 'recorded fee = inputs - outputs at the node');
    }
    await node.mine(1);
    const confirmedAt = await node.height();
    await node.mine(4);
    await synced();
    assert.deepEqual(court.sweeper.unacked().filter((r) => all.some((x) => x.outpoint === r.outpoint)), [], 'not final at 5 confirmations');
    await node.mine(1);
    await synced();
    const mine = new Set(all.map((x) => x.outpoint));
    const results = court.sweeper.unacked().filter((r) => mine.has(r.outpoint));
    assert.equal(results.length, all.length);
    assert.ok(results.every((r) => r.type === 'swept' && r.height === confirmedAt));
    for (const r of results) court.sweeper.ack(r.outpoint);
  });

  it('bumps each block that leaves the sweep out, every replacement accepted, reaching the budget cap at the deadline and never more', async () => {
    ackAll();
    const tip = await node.height();
    const specs = await fundToLocal(node, 3, 40_000n, () => ({ deadlineHeight: tip + 2 + CSV_WAIT + 6, budgetSat: 3_000n }));
    for (const s of specs) court.sweeper.offer(s);
    await node.mine(1);
    await synced();
    let [live] = liveTxids(court.db);
    assert.ok(live !== undefined && (await node.inMempool(live)));
    const fees: bigint[] = [await nodeFee(node, live)];
    const deadline = specs[0]?.deadlineHeight as number;
    while ((await node.height()) < deadline - 1) {
      // a block with another transaction and not ours
      const other = await node.fund(node.faucetScript, 10_000n, { confirm: false });
      await node.call('generateblock', node.addressOf(node.faucetScript), [other.txid]);
      await synced();
      const [next] = liveTxids(court.db);
      assert.ok(next !== undefined && next !== live, `a replacement at height ${await node.height()}`);
      assert.ok(await node.inMempool(next), 'the node took the replacement');
      assert.ok(!(await node.inMempool(live)), 'and evicted the old version');
      fees.push(await nodeFee(node, next));
      live = next;
    }
    for (let i = 1; i < fees.length; i++) assert.ok((fees[i] as bigint) > (fees[i - 1] as bigint));
    const last = fees[fees.length - 1] as bigint;
    assert.ok(last <= 9_000n, `never more than the 9000 sat budget: ${last}`);
    assert.ok(last >= 8_900n, `the cap is reached at the deadline: ${last}`);
    // past the deadline nothing more is spent
    await node.call('generateblock', node.addressOf(node.faucetScript), []);
    await synced();
    assert.deepEqual(liveTxids(court.db), [live]);
    assert.match(court.sweeper.pending()[0]?.reason ?? '', /^budget exhausted: fee \d+ of 9000 sat/);
    await node.mine(6);
    await synced();
    const ours = new Set(specs.map((x) => x.outpoint));
    assert.equal(court.sweeper.unacked().filter((r) => r.type === 'swept' && ours.has(r.outpoint)).length, 3);
    for (const r of court.sweeper.unacked()) court.sweeper.ack(r.outpoint);
  });

  it('an input spent by the counterparty is reported with its transaction; its siblings are swept again and confirm', async () => {
    ackAll();
    const tip = await node.height();
    const specs = await fundToLocal(node, 3, 40_000n, () => ({ deadlineHeight: tip + 30 }));
    for (const s of specs) court.sweeper.offer(s);
    await node.mine(1);
    await synced();
    const [first] = liveTxids(court.db);
    assert.ok(first !== undefined);
    // the "counterparty" takes input 1 by the revocation path with a much higher fee (replacing our sweep)
    const victim = specs[1] as (typeof specs)[number];
    const [vtxid, vvout] = victim.outpoint.split(':') as [string, string];
    const theirs = new Transaction();
    theirs.version = 2;
    theirs.addInput(Buffer.from(vtxid, 'hex').reverse(), Number(vvout), 0xfffffffd);
    theirs.addOutput(node.faucetScript, 20_000n);
    const index = (victim.witness.key.locator as { index: number }).index;
    const script = Buffer.from((victim.witness as { script: string }).script, 'hex');
    const [sig] = await SIGNER.signInputs([{ key: { locator: { family: 1, index } }, tx: theirs, inputIndex: 0, scriptCode: script, valueSat: victim.valueSat, sighashType: SIGHASH_ALL }]);
    theirs.setWitness(0, toLocalRevokedWitness(sig as Uint8Array, script));
    await node.send(theirs.toHex());
    void RING;
    await node.mine(1);
    const spentAt = await node.height();
    await synced();
    const [second] = liveTxids(court.db);
    assert.ok(second !== undefined && second !== first);
    assert.equal(Transaction.fromHex(await node.call<string>('getrawtransaction', second, false)).ins.length, 2, 'the two siblings');
    assert.ok(await node.inMempool(second));
    await node.mine(6);
    await synced();
    const ours = new Set(specs.map((x) => x.outpoint));
    const results = court.sweeper.unacked().filter((r) => ours.has(r.outpoint));
    const other = results.find((r) => r.outpoint === victim.outpoint);
    assert.equal(other?.type, 'spentByOther');
    assert.ok(other?.type === 'spentByOther' && other.txid === theirs.getId() && other.height === spentAt && other.spendingTxHex === theirs.toHex());
    assert.equal(results.filter((r) => r.type === 'swept' && r.txid === second).length, 2);
    for (const r of results) court.sweeper.ack(r.outpoint);
  });

  for (const depth of [1, 2, 3, 4, 5]) {
    it(`a sweep disconnected at depth ${depth} is confirmed again and final only 6 deep on the new chain`, async () => {
      ackAll();
      const tip = await node.height();
      const specs = await fundToLocal(node, 2, 40_000n, () => ({ deadlineHeight: tip + 30 }));
      for (const s of specs) court.sweeper.offer(s);
      await node.mine(1);
      await synced();
      const [sweepTxid] = liveTxids(court.db);
      assert.ok(sweepTxid !== undefined);
      await node.mine(depth);
      await synced();
      assert.equal(sweepRow(court.db, sweepTxid)?.status, 2, 'confirmed');
      await node.reorg(depth, 0);
      await synced();
      const newHeight = await node.confirmationHeight(sweepTxid);
      assert.ok(newHeight !== undefined, 'published again and confirmed on the new chain');
      const need = (newHeight as number) + 5;
      if ((await node.height()) < need - 1) await node.mine(need - 1 - (await node.height()));
      await synced();
      const ours = new Set(specs.map((x) => x.outpoint));
      assert.deepEqual(court.sweeper.unacked().filter((r) => ours.has(r.outpoint)), [], 'not final before 6 confirmations on the new chain');
      await node.mine(need - (await node.height()));
      await synced();
      const results = court.sweeper.unacked().filter((r) => ours.has(r.outpoint));
      assert.equal(results.length, 2);
      assert.ok(results.every((r) => r.type === 'swept' && r.txid === sweepTxid && r.height === newHeight));
      for (const r of results) court.sweeper.ack(r.outpoint);
    });
  }
});

const CSV_WAIT = 2;
