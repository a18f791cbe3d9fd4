/**
 * Justice on the regtest node, both formats: bob publishes a revoked commitment with HTLCs both ways; the breach
 * resolution courtd computes from its snapshot (with the revocation log's set), turned into justice inputs
 * (src/resolvers/justice.ts), is swept by courtd's real sweeper and fee wallet through the chain layer, and the node
 * judges every transaction. Two races:
 *   - bob confirms his HTLC-success transaction first (mined past our combined justice transaction, which the node
 *     then drops): the sweeper re-clusters the rest at once and the second-level output is taken by revocation
 *     (toLocalRevoked) before his CSV runs out;
 *   - pinning (anchor channels): bob's HTLC-success reaches the mempool first with a heavy low-rate descendant, so
 *     the node refuses our combined justice transaction (BIP125 rule 3) block after block; after
 *     `splitAfterBlocks` every input is offered again alone, the others go out and confirm on their own while the
 *     pin holds, and once bob's transaction confirms its output is taken by revocation.
 * The ledger is computed from the node's view: the values of the revoked outputs = what the wallet received from
 * our justice transactions + their fees + what bob's second-level transaction burned in fees (static_remotekey
 * HTLC transactions pay their fee from the HTLC). Prints `justice ledger: scenarios=N balanced=N lost_sat=0`.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Transaction } from 'bitcoinjs-lib';
import { startChain, type RegtestChain } from '../../regtest/chain.js';
import { PartyKeys, SIM_COIN_TYPE, walletKey } from '../../regtest/sim-keys.js';
import type { ChannelSimulator } from '../../regtest/simulator.js';
import { closeResolutions } from '../../src/arbitrator/resolutions.js';
import { checkSnapshot, classifierView, ourBasepointsFrom, parseSnapshot } from '../../src/arbitrator/snapshot.js';
import type { BreachResolution } from '../../src/arbitrator/types.js';
import { KeyRing } from '../../src/keys/keyring.js';
import { LocalSigner } from '../../src/keys/signer.js';
import type { CommitmentFormat } from '../../src/ln/commitment.js';
import {
  DEFAULT_JUSTICE_CONFIG,
  justiceInput,
  justiceTargets,
  secondLevelTarget,
  spendInfoOf,
  type JusticeContext,
  type JusticeTarget,
} from '../../src/resolvers/justice.js';
import type { SweepResult } from '../../src/sweep/types.js';
import { fromHex, hash160, sha256, toHex } from '../../src/util/bytes.js';
import { p2wpkhScriptCode, segwitV0Sighash, SIGHASH_ALL } from '../../src/keys/sighash.js';
import { encodeSig } from '../../src/keys/signature.js';
import { secp } from '../../src/keys/secp.js';
import { p2wsh } from '../../src/ln/scripts.js';
import { classifyClose } from '../../src/watcher/classify.js';
import { eventually } from '../helpers/async.js';
import { tempDir } from '../helpers/db.js';
import { openOnChain } from './arbitrator.helpers.js';
import { assertWalletMatchesNode, nodeFee, startSweepCourt, type SweepCourt } from './sweep.helpers.js';

const preimage = (label: string): Uint8Array => sha256(new TextEncoder().encode(`justice.test ${label}`));

let ledger = { scenarios: 0, balanced: 0, lost: 0n };

interface World {
  readonly node: RegtestChain;
  readonly court: SweepCourt;
  readonly sim: ChannelSimulator;
  readonly n: number;
  readonly revoked: Transaction;
  readonly breach: BreachResolution;
  readonly ctx: JusticeContext;
  readonly closeHeight: number;
}

async function synced(node: RegtestChain, court: SweepCourt): Promise<void> {
  const h = await node.height();
  await eventually(() => court.chain.dispatcher.tip()?.height === h && court.sweeper.height === h, 10_000, 'court at the node tip');
  await court.sweeper.kick();
}

/** bob's revoked commitment n with HTLCs both ways confirmed; alice's courtd computes the breach resolution. */
async function breachOnChain(node: RegtestChain, court: SweepCourt, format: CommitmentFormat, label: string): Promise<World> {
  const sim = await openOnChain(node, format);
  const h = await node.height();
  sim.addHtlc('alice', 50_000_000n, h + 200, preimage(`${label} out`)); // bob received it and knows the preimage
  sim.addHtlc('bob', 30_000_000n, h + 150, preimage(`${label} in`));
  sim.commit();
  const n = sim.currentNumber;
  sim.commit();
  const ring = KeyRing.fromSeed(sim.parties.alice.seed, SIM_COIN_TYPE);
  const s = parseSnapshot(JSON.parse(JSON.stringify(sim.snapshot('alice'))));
  const c = checkSnapshot(s, ourBasepointsFrom(s, (l) => ring.publicKey(l)));
  const revoked = sim.signedCommitment('bob', n);
  await node.send(revoked.toHex());
  await node.mine(1);
  const closeHeight = await node.height();
  const cls = classifyClose(classifierView(c, sim.receivedSecrets('alice')), revoked);
  assert.equal(cls.kind, 'breach');
  const breach = closeResolutions(c, cls, revoked).breach as BreachResolution;
  const key = breach.outputs[0]?.key as { family: number; index: number };
  const ctx: JusticeContext = {
    chanPoint: sim.chanPoint,
    owner: `resolver:justice-${label}`,
    revocationBase: { family: key.family, index: key.index },
    perCommitmentSecret: toHex(sim.revealedSecret('bob', n)),
    toLocalScript: breach.secondLevelScript,
    config: DEFAULT_JUSTICE_CONFIG,
  };
  await synced(node, court);
  return { node, court, sim, n, revoked, breach, ctx, closeHeight };
}

/** Results owed to `owner` so far, by outpoint. */
function results(court: SweepCourt, owner: string): Map<string, SweepResult> {
  return new Map(court.sweeper.unacked(owner).map((r) => [r.outpoint, r]));
}

/**
 * The justice ledger of one scenario from the node's view: every revoked output (to_local, HTLCs) is spent; the
 * outputs of our justice transactions (all paying courtd's wallet) plus their fees plus what bob's second-level
 * transactions burned equal the revoked outputs' values.
 */
async function checkLedger(w: World, ourTxids: readonly string[], theirSecondLevel: readonly { tx: Transaction; from: string }[]): Promise<void> {
  const owed = w.breach.outputs.reduce((a, o) => a + BigInt(o.amountSat), 0n);
  let received = 0n;
  let fees = 0n;
  for (const txid of new Set(ourTxids)) {
    const tx = Transaction.fromHex(await w.node.call<string>('getrawtransaction', txid, false));
    assert.ok((await w.node.confirmationHeight(txid)) !== undefined, `${txid} confirmed`);
    received += tx.outs.reduce((a, o) => a + o.value, 0n);
    fees += await nodeFee(w.node, txid);
  }
  let burned = 0n;
  for (const s of theirSecondLevel) {
    const o = w.breach.outputs.find((x) => x.outpoint === s.from);
    const revocable = toHex(p2wsh(fromHex(w.breach.secondLevelScript)));
    const paid = s.tx.outs.find((x) => toHex(x.script) === revocable);
    assert.ok(o !== undefined && paid !== undefined);
    burned += BigInt(o.amountSat) - paid.value;
  }
  // Nothing left: every revoked output is spent on the node's chain.
  for (const o of w.breach.outputs) {
    const [txid, vout] = o.outpoint.split(':') as [string, string];
    assert.equal(await w.node.call('gettxout', txid, Number(vout), false), null, `${o.outpoint} spent`);
  }
  const lost = owed - (received + fees + burned);
  ledger = { scenarios: ledger.scenarios + 1, balanced: ledger.balanced + (lost === 0n ? 1 : 0), lost: ledger.lost + (lost < 0n ? -lost : lost) };
  assert.equal(lost, 0n, `owed ${owed} = received ${received} + fees ${fees} + burned by the cheater ${burned}`);
  await assertWalletMatchesNode(w.node, w.court);
}

/** A child of `coin` paying `n` outputs of `each` sat back to `key`, with fee `feeSat`: a heavy, low-rate descendant. */
function heavyChild(coin: { txid: string; vout: number; amountSat: bigint }, key: ReturnType<typeof walletKey>, n: number, each: bigint, feeSat: bigint): Transaction {
  const tx = new Transaction();
  tx.version = 2;
  tx.addInput(Buffer.from(coin.txid, 'hex').reverse(), coin.vout, 0xfffffffd);
  for (let i = 0; i < n - 1; i++) tx.addOutput(key.scriptPubKey, each);
  tx.addOutput(key.scriptPubKey, coin.amountSat - each * BigInt(n - 1) - feeSat);
  const digest = segwitV0Sighash(tx, 0, p2wpkhScriptCode(hash160(key.pubkey)), coin.amountSat, SIGHASH_ALL);
  tx.setWitness(0, [encodeSig(secp().sign(digest, key.privkey), SIGHASH_ALL), key.pubkey]);
  return tx;
}

async function mineUntil(node: RegtestChain, court: SweepCourt, done: () => boolean, max = 20): Promise<void> {
  for (let i = 0; i < max && !done(); i++) {
    await node.mine(1);
    await synced(node, court);
  }
  assert.ok(done(), 'reached within the blocks allowed');
}

for (const format of ['static_remotekey', 'anchors'] as CommitmentFormat[]) {
  describe(`justice on regtest (${format})`, { timeout: 300_000 }, () => {
    let node: RegtestChain;
    let court: SweepCourt;
    let tmp: { dir: string; remove: () => void };

    before(async () => {
      node = await startChain();
      tmp = tempDir('justice-regtest');
      // alice's seed (every simulator channel's alice) signs the justice inputs; the wallet is courtd's, same ring.
      const ring = KeyRing.fromSeed(new PartyKeys('alice', 'alice').seed, SIM_COIN_TYPE);
      court = await startSweepCourt(node, join(tmp.dir, 'court.sqlite'), ring, new LocalSigner(ring));
    });
    after(async () => {
      await court?.stop();
      await node?.stop();
      tmp?.remove();
    });

    it('the cheater confirms its HTLC-success first: everything taken back, the second-level output by revocation', async () => {
      // bob's fee coin for his zero-fee HTLC transaction (anchors), confirmed before anything of ours is out.
      const bobFee = walletKey(`bob fee ${format}`);
      const bobCoin = format === 'anchors' ? await node.fund(bobFee.scriptPubKey, 100_000n) : undefined;
      const w = await breachOnChain(node, court, format, `race ${format}`);
      const targets = justiceTargets(w.breach, w.closeHeight);
      assert.equal(targets.length, 3);
      for (const t of targets) court.sweeper.offer(justiceInput(t, w.ctx, false));
      await synced(node, court);
      const live = court.sweeper.pending({ chanPoint: w.sim.chanPoint });
      assert.equal(new Set(live.map((v) => v.sweepTxid)).size, 1, 'one combined justice transaction');
      const combined = live[0]?.sweepTxid as string;
      assert.ok(await node.inMempool(combined), 'the node took the combined justice transaction');

      // bob's HTLC-success for the HTLC alice offered (he knows the preimage), mined past our transaction.
      const out = targets.find((t) => t.kind === 'received_htlc') as JusticeTarget;
      const vout = Number(out.outpoint.split(':')[1]);
      let second: Transaction;
      if (bobCoin !== undefined) {
        const u = bobCoin;
        second = w.sim.signedHtlcTx('bob', w.n, vout, {
          feeInput: { txid: u.txid, vout: u.vout, amountSat: u.amountSat, privkey: bobFee.privkey },
          change: { scriptPubKey: bobFee.scriptPubKey, feeSat: 2_000n },
        }).tx;
      } else {
        second = w.sim.signedHtlcTx('bob', w.n, vout).tx;
      }
      await node.mineOnly([second.toHex()]);
      const secondHeight = await node.height();
      await synced(node, court);
      assert.equal(await node.inMempool(combined), false, 'our combined transaction lost that input: dropped');
      // The resolver's part: follow the second-level output (toLocalRevoked) before bob's CSV runs out.
      const moved = secondLevelTarget(w.breach, out, spendInfoOf(second, out.outpoint) as NonNullable<ReturnType<typeof spendInfoOf>>, secondHeight);
      assert.ok(moved !== undefined);
      assert.equal(moved.deadlineHeight, secondHeight + w.breach.theirToSelfDelay - 1);
      court.sweeper.cancel(out.outpoint);
      court.sweeper.offer(justiceInput(moved, w.ctx, false));
      await synced(node, court);
      // The rest went out again at once; the second-level output has its own (or a shared pinnable) sweep.
      const pending = court.sweeper.pending({ chanPoint: w.sim.chanPoint }).filter((v) => v.state === 'published');
      for (const v of pending) assert.ok(await node.inMempool(v.sweepTxid as string), `${v.outpoint} in a transaction the node took`);
      const want = [...targets.filter((t) => t !== out).map((t) => t.outpoint), moved.outpoint];
      await mineUntil(node, court, () => want.every((op) => results(court, w.ctx.owner).get(op)?.type === 'swept'));
      const r = results(court, w.ctx.owner);
      assert.ok(secondHeight + w.breach.theirToSelfDelay - 1 >= Math.max(...want.map((op) => (r.get(op) as { height: number }).height)), 'before their CSV');
      await checkLedger(
        w,
        want.map((op) => (r.get(op) as { txid: string }).txid),
        [{ tx: second, from: out.outpoint }],
      );
      for (const op of r.keys()) court.sweeper.ack(op);
    });

    it('pinned: bob holds one HTLC output with a heavy low-rate package the combined justice cannot outbid; after splitAfterBlocks the rest goes out alone', { skip: format !== 'anchors' && 'only anchor channels let the cheater attach inputs and descendants' }, async () => {
      const bobKey = walletKey(`bob pin ${format}`);
      const bobCoin = await node.fund(bobKey.scriptPubKey, 1_500_000n);
      const w = await breachOnChain(node, court, format, `pin ${format}`);
      const targets = justiceTargets(w.breach, w.closeHeight);
      const out = targets.find((t) => t.kind === 'received_htlc') as JusticeTarget;
      const vout = Number(out.outpoint.split(':')[1]);
      // bob's HTLC-success first (about 3 sat/vB), then a 2,500-output child of its change at about 3 sat/vB: a
      // package of some 250,000 sat in fees that a block minimum of 10 sat/vB keeps out of blocks.
      await node.setBlockMinTxFee(10_000);
      const second = w.sim.signedHtlcTx('bob', w.n, vout, {
        feeInput: { txid: bobCoin.txid, vout: bobCoin.vout, amountSat: bobCoin.amountSat, privkey: bobKey.privkey },
        change: { scriptPubKey: bobKey.scriptPubKey, feeSat: 1_200n },
      }).tx;
      await node.send(second.toHex());
      const change = { txid: second.getId(), vout: 1, amountSat: second.outs[1]?.value as bigint };
      const child = heavyChild(change, bobKey, 2_500, 330n, 240_000n);
      await node.send(child.toHex());
      for (const t of targets) court.sweeper.offer(justiceInput(t, w.ctx, false));
      await synced(node, court);
      const first = court.sweeper.pending({ chanPoint: w.sim.chanPoint });
      assert.equal(new Set(first.map((v) => v.sweepTxid)).size, 1, 'one combined justice transaction');
      assert.equal(await node.inMempool(first[0]?.sweepTxid as string), false, 'refused: it cannot replace the pinned package');
      assert.match(first[0]?.reason ?? '', /refused/);
      const offeredAt = await node.height();
      // The resolver's rule: unspent splitAfterBlocks blocks after the offer.
      while ((await node.height()) < offeredAt + DEFAULT_JUSTICE_CONFIG.splitAfterBlocks) {
        await node.mine(1);
        await synced(node, court);
      }
      assert.ok(await node.inMempool(second.getId()), 'the pin holds');
      for (const t of targets) court.sweeper.offer(justiceInput(t, w.ctx, true));
      await synced(node, court);
      const free = targets.filter((t) => t !== out);
      for (const t of free) {
        const v = court.sweeper.pending({ chanPoint: w.sim.chanPoint }).find((x) => x.outpoint === t.outpoint);
        assert.ok(v?.sweepTxid !== undefined && (await node.inMempool(v.sweepTxid)), `${t.kind} alone in the node's mempool`);
        const tx = Transaction.fromHex(await node.call<string>('getrawtransaction', v.sweepTxid, false));
        assert.equal(tx.ins.length, 1);
      }
      // Bumped along their own fee functions, they confirm while the pin still holds.
      const confirmedAlone = async (): Promise<boolean> => {
        for (const t of free) {
          const v = court.sweeper.pending({ chanPoint: w.sim.chanPoint }).find((x) => x.outpoint === t.outpoint);
          if (v?.sweepTxid === undefined || (await node.confirmationHeight(v.sweepTxid)) === undefined) return false;
        }
        return true;
      };
      for (let i = 0; i < 6 && !(await confirmedAlone()); i++) {
        await node.mine(1);
        await synced(node, court);
      }
      assert.ok(await confirmedAlone(), 'the free outputs confirmed alone');
      assert.ok(await node.inMempool(second.getId()), 'while the pin holds');
      // The pin is released (mined): bob's second-level output is followed and taken by revocation.
      await node.setBlockMinTxFee(0);
      await node.mine(1);
      const secondHeight = await node.height();
      assert.equal(await node.confirmationHeight(second.getId()), secondHeight);
      await synced(node, court);
      const moved = secondLevelTarget(w.breach, out, spendInfoOf(second, out.outpoint) as NonNullable<ReturnType<typeof spendInfoOf>>, secondHeight) as JusticeTarget;
      court.sweeper.cancel(out.outpoint);
      court.sweeper.offer(justiceInput(moved, w.ctx, false));
      await synced(node, court);
      const want = [...free.map((t) => t.outpoint), moved.outpoint];
      await mineUntil(node, court, () => want.every((op) => results(court, w.ctx.owner).get(op)?.type === 'swept'));
      const r = results(court, w.ctx.owner);
      await checkLedger(
        w,
        want.map((op) => (r.get(op) as { txid: string }).txid),
        [{ tx: second, from: out.outpoint }],
      );
      for (const op of r.keys()) court.sweeper.ack(op);
    });
  });
}

describe('justice ledger', () => {
  it('prints the summary', () => {
    process.stdout.write(`justice ledger: scenarios=${ledger.scenarios} balanced=${ledger.balanced} lost_sat=${ledger.lost}\n`);
    assert.equal(ledger.balanced, ledger.scenarios);
  });
});
