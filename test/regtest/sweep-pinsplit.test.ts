/**
 * Pinnable inputs of two channels on the embedded regtest node: batched into one sweep, and split by channel when
 * the node refuses it. "mallory" (channel A's counterparty) spends one of A's outputs first with a large
 * transaction paying a low rate, kept out of blocks by a Core-like minimum block fee rate: our combined sweep cannot
 * outbid her absolute fee (BIP125 rule 3) and is refused. The sweeper splits the set by channel in the same block,
 * so channel B's inputs go out without A's and confirm before their deadline while the pin holds; once her
 * transaction confirms, A's other input is swept too.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Transaction } from 'bitcoinjs-lib';
import { startChain, type RegtestChain } from '../../regtest/chain.js';
import { walletKey } from '../../regtest/sim-keys.js';
import { signUtxoInput } from '../../regtest/sim-tx.js';
import { SIGHASH_ALL } from '../../src/keys/sighash.js';
import { toLocalRevokedWitness } from '../../src/ln/witness.js';
import { eventually } from '../helpers/async.js';
import { tempDir } from '../helpers/db.js';
import { SIGNER } from '../sweep/helpers.js';
import { assertWalletMatchesNode, fundToLocal, liveTxids, sweepRow, startSweepCourt, type SweepCourt } from './sweep.helpers.js';

let node: RegtestChain;
let court: SweepCourt;
let tmp: { dir: string; remove: () => void };

async function synced(): Promise<void> {
  const h = await node.height();
  await eventually(() => court.chain.dispatcher.tip()?.height === h && court.sweeper.height === h, 10_000, 'court at the node tip');
  await court.sweeper.kick();
}

const CHAN_A = `${'a1'.repeat(32)}:0`;
const CHAN_B = `${'b2'.repeat(32)}:0`;

describe('sweeper on regtest: pinnable inputs split by channel when one is pinned', { timeout: 300_000 }, () => {
  before(async () => {
    node = await startChain();
    tmp = tempDir('sweep-pinsplit');
    court = await startSweepCourt(node, join(tmp.dir, 'court.db'));
  });
  after(async () => {
    await court?.stop();
    await node?.stop();
    tmp?.remove();
  });

  it("mallory pins one of channel A's outputs: the refused batch is split by channel and channel B's inputs confirm before their deadline", async () => {
    const mallory = walletKey('pinsplit mallory');
    const coin = await node.fund(mallory.scriptPubKey, 1_000_000n);
    const tip = await node.height();
    const deadline = tip + 14;
    const specs = await fundToLocal(node, 4, 40_000n, (i) => ({
      pinnable: true,
      chanPoint: i < 2 ? CHAN_A : CHAN_B,
      deadlineHeight: deadline,
      budgetSat: 5_000n,
      owner: `resolver:pinsplit-${i}`,
    }));
    const [victim, siblingA, b1, b2] = specs as [(typeof specs)[number], (typeof specs)[number], (typeof specs)[number], (typeof specs)[number]];

    // Her transaction: A's output by the revocation path plus a coin of hers, 600 small outputs, about 1.6 sat/vB:
    // some 30,000 sat of absolute fee, more than the 20,000 sat all four of our budgets could pay.
    const [vtxid, vvout] = victim.outpoint.split(':') as [string, string];
    const theirs = new Transaction();
    theirs.version = 2;
    theirs.addInput(Buffer.from(vtxid, 'hex').reverse(), Number(vvout), 0xfffffffd);
    theirs.addInput(Buffer.from(coin.txid, 'hex').reverse(), coin.vout, 0xfffffffd);
    const fee = 30_000n;
    for (let i = 0; i < 600; i++) theirs.addOutput(mallory.scriptPubKey, 330n);
    theirs.addOutput(mallory.scriptPubKey, victim.valueSat + coin.amountSat - 600n * 330n - fee);
    const index = (victim.witness.key.locator as { index: number }).index;
    const script = Buffer.from((victim.witness as { script: string }).script, 'hex');
    const [sig] = await SIGNER.signInputs([{ key: { locator: { family: 1, index } }, tx: theirs, inputIndex: 0, scriptCode: script, valueSat: victim.valueSat, sighashType: SIGHASH_ALL }]);
    theirs.setWitness(0, toLocalRevokedWitness(sig as Uint8Array, script));
    signUtxoInput(theirs, 1, { txid: coin.txid, vout: coin.vout, amountSat: coin.amountSat, privkey: mallory.privkey });
    const vsize = theirs.virtualSize();
    assert.ok(Number(fee) / vsize < 2, `her rate is low: ${(Number(fee) / vsize).toFixed(2)} sat/vB`);
    await node.send(theirs.toHex());
    // A miner with a minimum block fee rate of 2.5 sat/vB: her transaction stays out of blocks, ours (4 sat/vB and up) go in.
    await node.setBlockMinTxFee(2_500);

    for (const s of specs) court.sweeper.offer(s);
    await synced();
    assert.ok(court.sweeper.pending().filter((v) => specs.some((s) => s.outpoint === v.outpoint)).every((v) => v.state === 'pending'), 'immature: nothing yet');
    await node.mine(1);
    await synced();

    // The batch of both channels was built first (one version with the four inputs), refused, and split at once.
    const versions = court.db.prepare('SELECT txid, inputs, status FROM sweep_tx').all() as { txid: string; inputs: string; status: number }[];
    const mine = new Set(specs.map((s) => s.outpoint));
    const ours = versions.filter((v) => (JSON.parse(v.inputs) as string[]).some((op) => mine.has(op)));
    assert.ok(ours.some((v) => (JSON.parse(v.inputs) as string[]).length === 4), 'first one batch of both channels');
    const views = new Map(court.sweeper.pending().map((v) => [v.outpoint, v]));
    const txB = views.get(b1.outpoint)?.sweepTxid as string;
    assert.ok(txB !== undefined && views.get(b2.outpoint)?.sweepTxid === txB, "channel B's inputs share a sweep");
    assert.deepEqual((JSON.parse(sweepRow(court.db, txB)?.inputs as string) as string[]).sort(), [b1.outpoint, b2.outpoint].sort(), "without channel A's");
    assert.ok(await node.inMempool(txB), "the node took channel B's sweep");
    const txA = views.get(siblingA.outpoint)?.sweepTxid;
    assert.equal(views.get(victim.outpoint)?.sweepTxid, txA, "channel A's inputs on their own");
    assert.ok(txA === undefined || !(await node.inMempool(txA)), "channel A's sweep is refused: it cannot outbid her");
    assert.match(views.get(victim.outpoint)?.reason ?? '', /refused/);
    assert.ok(liveTxids(court.db).includes(txB));

    // Channel B confirms before its deadline while the pin holds.
    let confirmedAt: number | undefined;
    for (let i = 0; i < 5 && confirmedAt === undefined; i++) {
      await node.mine(1);
      await synced();
      const now = court.sweeper.pending().find((v) => v.outpoint === b1.outpoint)?.sweepTxid as string;
      confirmedAt = await node.confirmationHeight(now);
    }
    assert.ok(confirmedAt !== undefined && confirmedAt < deadline, `channel B confirmed at ${confirmedAt}, deadline ${deadline}`);
    assert.ok(await node.inMempool(theirs.getId()), 'while her transaction still holds A');

    // The pin released (her transaction mined): A's other input is swept as well; results at 6 deep.
    await node.setBlockMinTxFee(0);
    await node.mine(1);
    const spentAt = await node.height();
    assert.equal(await node.confirmationHeight(theirs.getId()), spentAt);
    await synced();
    for (let i = 0; i < 12; i++) {
      const r = new Map(court.sweeper.unacked().map((x) => [x.outpoint, x]));
      if (specs.every((s) => r.has(s.outpoint))) break;
      await node.mine(1);
      await synced();
    }
    const r = new Map(court.sweeper.unacked().map((x) => [x.outpoint, x]));
    assert.equal(r.get(victim.outpoint)?.type, 'spentByOther');
    for (const s of [siblingA, b1, b2]) assert.equal(r.get(s.outpoint)?.type, 'swept', `${s.outpoint} swept`);
    const sweptA = r.get(siblingA.outpoint);
    assert.ok(sweptA?.type === 'swept' && sweptA.height > spentAt - 1);
    await assertWalletMatchesNode(node, court);
    for (const op of r.keys()) court.sweeper.ack(op);
  });
});
