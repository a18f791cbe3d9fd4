/**
 * The breach scenario's pieces shared by test/regtest/breach.test.ts and test/crash/breach.crash.test.ts: the course
 * up to bob's revoked commitment confirmed (HTLCs both ways, two of them removed again so that only courtd's
 * revocation log knows them, every snapshot and revocation fed to alice's courtd), bob's HTLC-success transaction,
 * and the breach ledger from the node's blocks.
 */
import assert from 'node:assert/strict';
import { Transaction } from 'bitcoinjs-lib';
import type { RegtestChain } from '../../regtest/chain.js';
import { walletKey } from '../../regtest/sim-keys.js';
import type { ChannelSimulator } from '../../regtest/simulator.js';
import { loggedCommitment } from '../../src/arbitrator/revocation-log.js';
import { p2wsh } from '../../src/ln/scripts.js';
import { sha256, toHex } from '../../src/util/bytes.js';
import { openOnChain } from './arbitrator.helpers.js';
import type { ResolverCourt } from './resolvers.helpers.js';

const preimage = (label: string): Uint8Array => sha256(new TextEncoder().encode(`breach.test ${label}`));

export const JUSTICE_LEDGER = { scenarios: 0, balanced: 0, lostSat: 0n };

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
