/**
 * A breach on the regtest node, both formats, run to FullyResolved through the whole of courtd (chain layer, fee
 * wallet, sweeper, ChainArbitrator, ResolverRunner with the breach kind): bob publishes a revoked commitment with
 * HTLCs both ways, two of which the node and courtd's snapshot in force have long forgotten (only courtd's
 * revocation log has them), and confirms his HTLC-success transaction before our justice does. Everything is taken
 * back: their to_local and every HTLC output by revocation, the second-level output by revocation before his CSV,
 * our to_remote by its own resolver. The node events are breachDetected and one justiceConfirmed per output, the
 * reports say claimed (firstStage + claimed for the one bob moved). The ledger is computed from the node's blocks:
 * owed (every output of the revoked commitment but bob's anchor) = what courtd's wallet received + the fees courtd
 * paid + what bob's second-level transaction burned of the HTLC (static_remotekey HTLC transactions pay their fee
 * from it), nothing left unspent. Prints `justice ledger: scenarios=N balanced=N lost_sat=0`.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Transaction } from 'bitcoinjs-lib';
import { startChain, type RegtestChain } from '../../regtest/chain.js';
import { walletKey } from '../../regtest/sim-keys.js';
import type { ChannelSimulator } from '../../regtest/simulator.js';
import { loggedCommitment } from '../../src/arbitrator/revocation-log.js';
import { p2wsh } from '../../src/ln/scripts.js';
import { reports } from '../../src/resolvers/store.js';
import { NODE_EVENT_KIND, RESOLVER_KIND } from '../../src/store/codes.js';
import { sha256, toHex } from '../../src/util/bytes.js';
import { nodeEvents, openOnChain, tempDir } from './arbitrator.helpers.js';
import { mineUntilResolved, startResolverCourt, synced, type ResolverCourt } from './resolvers.helpers.js';

const preimage = (label: string): Uint8Array => sha256(new TextEncoder().encode(`breach.test ${label}`));

export const JUSTICE_LEDGER = { scenarios: 0, balanced: 0, lostSat: 0n };

after(() => {
  process.stdout.write(`justice ledger: scenarios=${JUSTICE_LEDGER.scenarios} balanced=${JUSTICE_LEDGER.balanced} lost_sat=${JUSTICE_LEDGER.lostSat}\n`);
});

/** The breach scenario's course, up to bob's revoked commitment confirmed; returns what the checks need. */
export interface BreachRun {
  readonly sim: ChannelSimulator;
  readonly n: number;
  readonly revoked: Transaction;
  readonly closeHeight: number;
  /** bob's HTLC-success for the HTLC alice offered (built, not yet published). */
  readonly second: Transaction;
  readonly secondFrom: string;
}

/**
 * Opens a channel, adds HTLCs both ways (two removed again later), feeds alice's courtd a snapshot after each
 * step and every revocation, and confirms bob's revoked commitment. bob's fee coin (anchors) is funded first.
 */
export async function breachUpTo(node: RegtestChain, court: ResolverCourt, format: 'static_remotekey' | 'anchors', label: string): Promise<BreachRun> {
  const bobKey = walletKey(`breach bob fee ${label}`);
  const bobCoin = format === 'anchors' ? await node.fund(bobKey.scriptPubKey, 100_000n) : undefined;
  const sim = await openOnChain(node, format);
  const cp = sim.chanPoint;
  await court.arb.updateChannel(sim.snapshot('alice'));
  const h = await node.height();
  sim.addHtlc('alice', 50_000_000n, h + 300, preimage(`${label} out`)); // bob received it: he knows the preimage
  sim.addHtlc('bob', 30_000_000n, h + 250, preimage(`${label} in`));
  const goneOut = sim.addHtlc('alice', 25_000_000n, h + 260, preimage(`${label} gone out`));
  const goneIn = sim.addHtlc('bob', 35_000_000n, h + 270, preimage(`${label} gone in`));
  sim.commit();
  const n = sim.currentNumber;
  await court.arb.updateChannel(sim.snapshot('alice'));
  sim.failHtlc(goneOut);
  sim.settleHtlc(goneIn, preimage(`${label} gone in`));
  sim.commit();
  await court.arb.updateChannel(sim.snapshot('alice'));
  sim.commit();
  await court.arb.updateChannel(sim.snapshot('alice'));
  for (let k = 0; k < sim.currentNumber; k++) court.arb.addRevocation(cp, sim.revealedSecret('bob', k), k);
  // The snapshot in force no longer carries the two removed HTLCs; courtd's revocation log does.
  assert.equal(loggedCommitment(court.db, cp, n)?.htlcs.length, 4);
  const revoked = sim.signedCommitment('bob', n);
  await node.send(revoked.toHex());
  await node.mine(1);
  const closeHeight = await node.height();
  const out = sim.commitment('bob', n).commitment.outputs.find((o) => o.kind === 'received_htlc' && o.amountSat === 50_000n);
  assert.ok(out !== undefined);
  const second =
    bobCoin === undefined
      ? sim.signedHtlcTx('bob', n, out.index).tx
      : sim.signedHtlcTx('bob', n, out.index, {
          feeInput: { txid: bobCoin.txid, vout: bobCoin.vout, amountSat: bobCoin.amountSat, privkey: bobKey.privkey },
          change: { scriptPubKey: bobKey.scriptPubKey, feeSat: 2_000n },
        }).tx;
  return { sim, n, revoked, closeHeight, second, secondFrom: `${revoked.getId()}:${out.index}` };
}

/** The breach ledger from the node's blocks (see the module comment). */
export async function breachLedger(node: RegtestChain, court: ResolverCourt, run: BreachRun): Promise<{ owed: bigint; received: bigint; fees: bigint; burned: bigint; limbo: bigint; lost: bigint; balanced: boolean }> {
  const walletScripts = new Set((court.db.prepare('SELECT script FROM wallet_key').all() as { script: string }[]).map((r) => r.script));
  const revocable = toHex(p2wsh(run.sim.commitment('bob', run.n).commitment.outputs.find((o) => o.kind === 'to_local')?.witnessScript as Uint8Array));
  const spentBy = new Map<string, Transaction>();
  for (let h = run.closeHeight; h <= (await node.height()); h++) {
    const block = await court.chain.source.getBlock(await court.chain.source.getBlockHash(h));
    for (const tx of block.txs) for (const i of tx.ins) spentBy.set(`${toHex(Buffer.from(i.hash).reverse())}:${i.index}`, tx);
  }
  const prevOut = async (i: Transaction['ins'][number]): Promise<Transaction['outs'][number]> => {
    const prev = Transaction.fromHex(await node.call<string>('getrawtransaction', toHex(Buffer.from(i.hash).reverse()), false));
    return prev.outs[i.index] as Transaction['outs'][number];
  };
  const ours = (tx: Transaction): boolean => tx.outs.every((o) => walletScripts.has(toHex(o.script)));
  const counted = new Set<string>();
  let owed = 0n;
  let received = 0n;
  let fees = 0n;
  let burned = 0n;
  let limbo = 0n;
  let lost = 0n;
  const takeBack = async (outpoint: string, value: bigint, optional: boolean): Promise<void> => {
    const tx = spentBy.get(outpoint);
    if (tx === undefined) {
      if (!optional) limbo += value;
      return;
    }
    if (ours(tx)) {
      if (counted.has(tx.getId())) return;
      counted.add(tx.getId());
      let inSum = 0n;
      for (const i of tx.ins) {
        const p = await prevOut(i);
        inSum += p.value;
        if (walletScripts.has(toHex(p.script))) received -= p.value;
      }
      const outSum = tx.outs.reduce((a, o) => a + o.value, 0n);
      fees += inSum - outSum;
      received += outSum;
      return;
    }
    // bob's second-level transaction: the output paying the revocable script is ours to follow.
    const k = tx.outs.findIndex((o) => toHex(o.script) === revocable);
    if (k >= 0) {
      const v = (tx.outs[k] as Transaction['outs'][number]).value;
      burned += value - v;
      await takeBack(`${tx.getId()}:${k}`, v, false);
      return;
    }
    lost += value;
  };
  const bobAnchor = run.sim.format === 'anchors' ? toHex(run.sim.commitment('bob', run.n).commitment.outputs.find((o) => o.kind === 'local_anchor')?.scriptPubKey as Uint8Array) : undefined;
  for (const [vout, o] of run.revoked.outs.entries()) {
    if (toHex(o.script) === bobAnchor) continue;
    const isAnchor = run.sim.format === 'anchors' && o.value === 330n;
    const outpoint = `${run.revoked.getId()}:${vout}`;
    // Our anchor is owed only if it paid for itself (someone of ours spent it).
    if (isAnchor && (spentBy.get(outpoint) === undefined || !ours(spentBy.get(outpoint) as Transaction))) continue;
    owed += o.value;
    await takeBack(outpoint, o.value, isAnchor);
  }
  const balanced = received + fees + burned === owed && limbo === 0n && lost === 0n;
  JUSTICE_LEDGER.scenarios++;
  if (balanced) JUSTICE_LEDGER.balanced++;
  JUSTICE_LEDGER.lostSat += lost + limbo + (owed > received + fees + burned ? owed - (received + fees + burned) : 0n);
  return { owed, received, fees, burned, limbo, lost, balanced };
}

for (const format of ['static_remotekey', 'anchors'] as const) {
  describe(`breach on regtest to FullyResolved (${format})`, { timeout: 600_000 }, () => {
    let node: RegtestChain;
    let tmp: ReturnType<typeof tempDir>;
    let court: ResolverCourt;
    before(async () => {
      node = await startChain();
      tmp = tempDir(`breach-${format}`);
      court = await startResolverCourt(node, sha256(new TextEncoder().encode('courtd-sim/seed/alice')), join(tmp.dir, 'court.sqlite'));
      await synced(node, court);
    });
    after(async () => {
      await court?.stop();
      await node?.stop();
      tmp?.remove();
    });

    it('HTLCs both ways (two known only to the revocation log), the cheater confirms its HTLC-success first: everything taken back', async () => {
      const run = await breachUpTo(node, court, format, format);
      const cp = run.sim.chanPoint;
      await synced(node, court);
      // One breach resolver per output of the revoked commitment: to_local and the four HTLC outputs.
      const rows = court.db.prepare<[string, number], { outpoint: string }>('SELECT outpoint FROM resolver WHERE chan_point = ? AND kind = ?').all(cp, RESOLVER_KIND.Breach);
      assert.equal(rows.length, 5);
      // bob's HTLC-success wins the race to a block (our justice transaction is dropped from the mempool).
      await node.mineOnly([run.second.toHex()]);
      const secondHeight = await node.height();
      await synced(node, court);
      const moved = court.runner.view().find((v) => v.outpoint === run.secondFrom);
      assert.equal(moved?.htlcStage, 2, 'the resolver follows the second-level output');
      assert.ok((moved?.maturityHeight as number) <= secondHeight + run.sim.toSelfDelay.bob - 1, 'due before his CSV');
      await mineUntilResolved(node, court, [cp]);

      const rep = reports(court.db, cp).filter((r) => r.type === 'breach');
      const claimed = rep.filter((r) => r.outcome === 'claimed');
      assert.equal(claimed.length, 5, 'to_local, three HTLC outputs and the second-level output claimed');
      assert.deepEqual(
        rep.filter((r) => r.outcome === 'firstStage').map((r) => [r.outpoint, r.txid]),
        [[run.secondFrom, run.second.getId()]],
      );
      const secondClaim = claimed.find((r) => r.outpoint === `${run.second.getId()}:0`);
      assert.ok(secondClaim !== undefined && (secondClaim.height as number) <= secondHeight + run.sim.toSelfDelay.bob - 1, 'taken before his CSV ran out');
      const ev = nodeEvents(court, cp);
      assert.equal(ev.filter((e) => e.kind === NODE_EVENT_KIND.BreachDetected).length, 1);
      assert.equal(ev.filter((e) => e.kind === NODE_EVENT_KIND.JusticeConfirmed).length, 5, 'one justiceConfirmed per output');
      assert.ok(ev.some((e) => e.kind === NODE_EVENT_KIND.ChannelResolved));

      const l = await breachLedger(node, court, run);
      assert.ok(l.balanced, `ledger ${JSON.stringify(l, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}`);
      assert.equal(court.runner.view().filter((v) => v.chanPoint === cp).reduce((a, v) => a + v.limboSat, 0n), 0n, 'limbo 0');
    });
  });
}
