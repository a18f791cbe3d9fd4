/**
 * Zero-fee second-level HTLC transactions of an anchor channel, swept by the Sweeper on the regtest node: alice's
 * force-closed commitment (a simulator channel), the counterparty's SIGHASH_SINGLE|ANYONECANPAY signatures, each
 * input paired with its second-level output at the same index, a wallet coin and change paying the fee. Pairs
 * with the same locktime share one transaction; the timeout pairs wait for their CLTV (one block early they are
 * not published; at the expiry the node accepts them). Anchor CPFP: the anchor child is built so that the package
 * (commitment + child) reaches the target rate, its fee within the anchor's budget, as the node reports it.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { Transaction } from 'bitcoinjs-lib';
import { startChain, type RegtestChain } from '../../regtest/chain.js';
import type { ChannelSimulator } from '../../regtest/simulator.js';
import { singleTweak } from '../../src/keys/derive.js';
import { encodeSig } from '../../src/keys/signature.js';
import { p2wsh } from '../../src/ln/scripts.js';
import type { SweepInputSpec } from '../../src/sweep/types.js';
import { sha256, toHex } from '../../src/util/bytes.js';
import { eventually } from '../helpers/async.js';
import { tempDir } from '../helpers/db.js';
import { openOnChain } from './arbitrator.helpers.js';
import { assertWalletMatchesNode, fundWallet, liveTxids, nodeFee, startSweepCourt, sweepRow, type SweepCourt } from './sweep.helpers.js';

const preimage = (label: string): Uint8Array => sha256(new TextEncoder().encode(`sweep-htlc.test ${label}`));

let node: RegtestChain;
let court: SweepCourt;
let sim: ChannelSimulator;
let tmp: { dir: string; remove: () => void };

async function synced(): Promise<void> {
  const h = await node.height();
  await eventually(() => court.chain.dispatcher.tip()?.height === h && court.sweeper.height === h, 10_000, 'court at the node tip');
  await court.sweeper.kick();
}

/** The sweep inputs of alice's second-level HTLC transactions on her commitment `n`. */
function htlcSpecs(n: number, commitHeight: number): SweepInputSpec[] {
  const c = sim.commitment('alice', n);
  const alice = sim.parties.alice;
  const point = alice.perCommitmentPoint(c.state.number);
  const tweak = toHex(singleTweak(point, alice.htlcBasepoint));
  const sigs = sim.remoteSignatures('alice', n);
  return c.htlcTxs.map((h, k) => {
    const out = h.tx.outs[0] as { value: bigint; script: Uint8Array };
    const htlc = sim.htlcOfOutput('alice', n, h.output.index);
    const pre = h.kind === 'success' ? sim.preimage('alice', htlc.paymentHash) : undefined;
    return {
      outpoint: `${c.txid}:${h.output.index}`,
      valueSat: h.inputSat,
      scriptPubKey: toHex(p2wsh(h.inputScript)),
      witness: {
        kind: 'htlcSecondLevel' as const,
        key: { locator: alice.locators.htlcBase, singleTweak: tweak },
        script: toHex(h.inputScript),
        remoteSig: toHex(encodeSig(sigs.htlcs[k] as Uint8Array, sigs.htlcSighashType)),
        ...(pre !== undefined ? { preimage: toHex(pre) } : {}),
      },
      sequence: (h.tx.ins[0] as { sequence: number }).sequence,
      ...(h.tx.locktime > 0 ? { locktime: h.tx.locktime } : {}),
      matureHeight: commitHeight + 1,
      deadlineHeight: (h.tx.locktime > 0 ? h.tx.locktime : commitHeight) + 20,
      pairedOutput: { valueSat: out.value, script: toHex(out.script) },
      budgetSat: 20_000n,
      pinnable: true,
      owner: `resolver:htlc-${k}`,
      chanPoint: sim.chanPoint,
    };
  });
}

describe('zero-fee second-level HTLC transactions and anchor CPFP on regtest', { timeout: 300_000 }, () => {
  before(async () => {
    node = await startChain();
    tmp = tempDir('sweep-htlc');
    sim = await openOnChain(node, 'anchors');
    court = await startSweepCourt(node, join(tmp.dir, 'court.db'), sim.parties.alice.ring);
    for (let i = 0; i < 3; i++) await fundWallet(node, court, 100_000n);
    await synced();
  });
  afterEach(async () => {
    await synced();
    await assertWalletMatchesNode(node, court);
  });
  after(async () => {
    await court?.stop();
    await node?.stop();
    tmp?.remove();
  });

  it('pairs each HTLC input with its output, shares a transaction per locktime, adds wallet coins and change; the node accepts each at its height', async () => {
    const h = await node.height();
    const expiry = h + 8;
    sim.addHtlc('alice', 30_000_000n, expiry, preimage('out 1'));
    sim.addHtlc('alice', 31_000_000n, expiry, preimage('out 2'));
    sim.addHtlc('bob', 25_000_000n, h + 40, preimage('in'));
    sim.commit();
    const commit = sim.signedCommitment('alice');
    await node.send(commit.toHex());
    await node.mine(1);
    const commitHeight = await node.height();
    const specs = htlcSpecs(sim.latestNumber, commitHeight);
    assert.equal(specs.length, 3);
    for (const s of specs) court.sweeper.offer(s);
    await synced();
    // the success pair (locktime 0, CSV 1) goes out at once, alone, with a wallet coin
    const [success] = liveTxids(court.db);
    assert.ok(success !== undefined, 'success pair published');
    const stx = Transaction.fromHex(await node.call<string>('getrawtransaction', success, false));
    const succSpec = specs.find((s) => s.locktime === undefined) as SweepInputSpec;
    assert.equal(stx.ins.length, 2, 'the HTLC input and one wallet coin');
    assert.equal(stx.outs[0]?.value, succSpec.pairedOutput?.valueSat, 'output 0 is the paired second-level output');
    assert.equal(toHex(stx.outs[0]?.script as Uint8Array), succSpec.pairedOutput?.script);
    const fee = await nodeFee(node, success);
    assert.equal(fee, BigInt(sweepRow(court.db, success)?.fee_sat as number));
    assert.ok(fee > 0n && fee <= 20_000n);
    // the timeout pairs: one block early nothing, at the expiry one transaction with both
    await node.mine(expiry - 1 - (await node.height()));
    await synced();
    assert.deepEqual(liveTxids(court.db).filter((t) => t !== success), [], 'not before the CLTV');
    await node.mine(1);
    await synced();
    const timeouts = liveTxids(court.db).filter((t) => t !== success);
    assert.equal(timeouts.length, 1, 'both timeout pairs share one transaction');
    const ttx = Transaction.fromHex(await node.call<string>('getrawtransaction', timeouts[0] as string, false));
    assert.equal(ttx.locktime, expiry);
    assert.ok(await node.inMempool(timeouts[0] as string), 'the node accepts it at the expiry');
    const timeoutSpecs = specs.filter((s) => s.locktime !== undefined);
    for (let i = 0; i < 2; i++) {
      const paired = timeoutSpecs.find((s) => s.outpoint === `${Buffer.from(ttx.ins[i]?.hash as Uint8Array).reverse().toString('hex')}:${ttx.ins[i]?.index}`);
      assert.equal(ttx.outs[i]?.value, paired?.pairedOutput?.valueSat, `input ${i} is paired with output ${i}`);
    }
    assert.equal(await nodeFee(node, timeouts[0] as string), BigInt(sweepRow(court.db, timeouts[0] as string)?.fee_sat as number));
    await node.mine(6);
    await synced();
    const results = court.sweeper.unacked();
    assert.equal(results.filter((r) => r.type === 'swept').length, 3);
    for (const r of results) court.sweeper.ack(r.outpoint);
    assert.equal(court.wallet.balance().leased, 0n, 'no lease left behind');
  });

  it('anchor CPFP: the child lifts commitment + child to the target rate as the node reports their fees and weights, within the anchor budget; both confirm together', async () => {
    const sim2 = await openOnChain(node, 'anchors');
    sim2.updateFee(253);
    sim2.commit();
    const commit = sim2.signedCommitment('alice');
    await node.send(commit.toHex());
    const c = sim2.commitment('alice', sim2.latestNumber);
    const anchor = c.commitment.outputs.find((o) => o.kind === 'local_anchor');
    assert.ok(anchor !== undefined);
    const parentFee = await nodeFee(node, commit.getId());
    // a Core-like miner (-blockmintxfee 3 sat/vB, package scoring): the commitment alone (about 1 sat/vB) is left out
    await node.setBlockMinTxFee(3_000);
    await node.mine(1);
    assert.equal(await node.confirmationHeight(commit.getId()), undefined, 'the commitment alone is too cheap for the miner');
    assert.ok(await node.inMempool(commit.getId()));
    const spec: SweepInputSpec = {
      outpoint: `${commit.getId()}:${anchor.index}`,
      valueSat: anchor.amountSat,
      scriptPubKey: toHex(anchor.scriptPubKey),
      witness: { kind: 'anchorByKey', key: { locator: sim2.parties.alice.locators.funding }, script: toHex(anchor.witnessScript as Uint8Array) },
      budgetSat: 6_000n,
      deadlineHeight: (await node.height()) + 3,
      exclusiveGroup: `anchor:${sim2.chanPoint}`,
      pinnable: false,
      parent: { txid: commit.getId(), weight: commit.weight(), feeSat: parentFee },
      owner: `cpfp:${sim2.chanPoint}`,
      chanPoint: sim2.chanPoint,
    };
    // the second channel's keys are alice's too (same simulator seed per party), so the court's signer can sign
    court.sweeper.offer(spec);
    await synced();
    const child = liveTxids(court.db).find((t) => (JSON.parse(sweepRow(court.db, t)?.inputs as string) as string[]).includes(spec.outpoint));
    assert.ok(child !== undefined && (await node.inMempool(child)), 'the node accepts the child');
    const childTx = Transaction.fromHex(await node.call<string>('getrawtransaction', child, false));
    const childFee = await nodeFee(node, child);
    assert.ok(childFee <= 6_000n, `child fee ${childFee} within the anchor budget`);
    const target = 1000n; // the estimate on regtest (fallback), sat/kw
    assert.ok((parentFee + childFee) * 1000n >= target * BigInt(commit.weight() + childTx.weight()), 'package at the target rate');
    assert.ok(parentFee * 1000n < target * BigInt(commit.weight()), 'the commitment alone is below it');
    await node.mine(1);
    const h = await node.height();
    assert.equal(await node.confirmationHeight(commit.getId()), h, 'the package is mined by the same miner');
    assert.equal(await node.confirmationHeight(child), h);
    await node.mine(5);
    await synced();
    await node.setBlockMinTxFee(0);
    const r = court.sweeper.unacked().find((x) => x.outpoint === spec.outpoint);
    assert.equal(r?.type, 'swept');
    assert.equal(r?.type === 'swept' ? r.feeSat : -1n, childFee);
  });
});
