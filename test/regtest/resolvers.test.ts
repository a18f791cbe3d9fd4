/**
 * Contract resolvers on the regtest node, both channel formats, each scenario run to FullyResolved with a money
 * ledger from the node's blocks (resolvers.helpers.ts `ledger`): what courtd's wallet received + the fees courtd
 * paid + what the peer rightly took = what courtd was owed on the confirmed commitment, to the sat, limbo 0.
 * Alice is courtd's node; the test plays bob. Prints `resolution ledger: scenarios=N balanced=N lost_sat=0`.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startChain, type RegtestChain } from '../../regtest/chain.js';
import type { ChannelSimulator } from '../../regtest/simulator.js';
import { claimOfferedHtlcWithPreimage, claimReceivedHtlcAfterTimeout, htlcTimeoutTx, spendToLocalDelayed } from '../../regtest/spends.js';
import { walletKey } from '../../regtest/sim-keys.js';
import { NODE_EVENT_KIND } from '../../src/store/codes.js';
import { reports } from '../../src/resolvers/store.js';
import { sha256, toHex } from '../../src/util/bytes.js';
import { openOnChain, nodeEvents, tempDir } from './arbitrator.helpers.js';
import { fundCourtWallet, ledger, LEDGER, mineUntilResolved, record, startResolverCourt, stateOf, synced, type Owed, type ResolverCourt } from './resolvers.helpers.js';

const preimage = (label: string): Uint8Array => sha256(new TextEncoder().encode(`resolvers.test ${label}`));

let node: RegtestChain;
let tmp: ReturnType<typeof tempDir>;

/** The outputs of commitment `n` of `holder` that are alice's (courtd's) to claim, with the given HTLC fates. */
function owedOn(sim: ChannelSimulator, holder: 'alice' | 'bob', n: number, peerMay: (paymentHash: string) => boolean = () => false): Owed[] {
  const c = sim.commitment(holder, n);
  const out: Owed[] = [];
  for (const o of c.commitment.outputs) {
    const outpoint = `${c.txid}:${o.index}`;
    const mine = holder === 'alice' ? o.kind === 'to_local' || o.kind === 'local_anchor' : o.kind === 'to_remote' || o.kind === 'remote_anchor';
    if (mine) out.push({ outpoint, valueSat: o.amountSat, ...(o.kind.endsWith('anchor') && holder === 'bob' ? { optional: true } : {}) });
    if (o.kind === 'offered_htlc' || o.kind === 'received_htlc') {
      const h = sim.htlcOfOutput(holder, n, o.index);
      out.push({ outpoint, valueSat: o.amountSat, peerMay: peerMay(toHex(h.paymentHash)) });
    }
  }
  return out;
}

/** Is the outpoint spent in the node's mempool (or chain)? */
async function spentAtNode(outpoint: string): Promise<boolean> {
  const [txid, vout] = outpoint.split(':') as [string, string];
  return (await node.call<unknown>('gettxout', txid, Number(vout), true)) === null;
}

async function checkLedger(court: ResolverCourt, fromHeight: number, owed: readonly Owed[], cps: readonly string[]): Promise<void> {
  const l = await ledger(node, court, fromHeight, owed);
  record(l);
  if (process.env.RESOLVER_LEDGER) process.stderr.write(`ledger ${JSON.stringify(l, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v))} reports ${JSON.stringify(cps.flatMap((cp) => reports(court.db, cp)), (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v))}\n`);
  const limbo = court.runner.view().filter((v) => cps.includes(v.chanPoint)).reduce((a, v) => a + v.limboSat, 0n);
  assert.equal(limbo, 0n, 'limbo 0 in the live view');
  assert.ok(l.balanced, `ledger: ${JSON.stringify(l, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}`);
}

after(() => {
  process.stdout.write(`resolution ledger: scenarios=${LEDGER.scenarios} balanced=${LEDGER.balanced} lost_sat=${LEDGER.lostSat}\n`);
});

for (const format of ['static_remotekey', 'anchors'] as const) {
  describe(`resolvers on regtest (${format})`, { timeout: 600_000 }, () => {
    let court: ResolverCourt;
    before(async () => {
      node = await startChain();
      tmp = tempDir(`resolvers-${format}`);
    });
    after(async () => {
      await court?.stop();
      await node?.stop();
      tmp?.remove();
    });

    const start = async (sim: ChannelSimulator): Promise<void> => {
      if (court !== undefined) return;
      court = await startResolverCourt(node, sim.parties.alice.seed, join(tmp.dir, 'court.sqlite'));
      for (let i = 0; i < 4; i++) await fundCourtWallet(node, court, 200_000n);
      await synced(node, court);
    };

    it('our force close: outgoing HTLC timed out through the second level then CSV, incoming settled with a preimage after the close, to_local after CSV, anchor CPFP', async () => {
      const sim = await openOnChain(node, format);
      await start(sim);
      const h = await node.height();
      const outPre = preimage(`${format} out`);
      const inPre = preimage(`${format} in`);
      sim.addHtlc('alice', 50_000_000n, h + 15, outPre);
      sim.addHtlc('bob', 40_000_000n, h + 80, inPre);
      sim.commit();
      const cp = sim.chanPoint;
      await court.arb.updateChannel(sim.snapshot('alice'));
      await court.arb.forceClose(cp);
      await synced(node, court);
      const commit = sim.commitment('alice', sim.latestNumber);
      assert.ok(await node.inMempool(commit.txid), 'our commitment is in the mempool');
      if (format === 'anchors') assert.ok(court.sweeper.pending({ chanPoint: cp }).some((p) => p.owner === `cpfp:${cp}`), 'anchor offered for CPFP');
      await node.mine(1);
      const closeHeight = await node.height();
      await synced(node, court);
      assert.equal(stateOf(court, cp), 'WaitingFullResolution');
      // the preimage of the incoming HTLC reaches courtd after the close
      await court.arb.addPreimage(inPre, 'node');
      const offered = commit.commitment.outputs.find((o) => o.kind === 'offered_htlc');
      assert.ok(offered !== undefined);
      const outOp = `${commit.txid}:${offered.index}`;
      const cltv = sim.htlcOfOutput('alice', sim.latestNumber, offered.index).cltvExpiry;
      const toLocal = commit.commitment.outputs.find((o) => o.kind === 'to_local');
      assert.ok(toLocal !== undefined);
      const toLocalOp = `${commit.txid}:${toLocal.index}`;
      const csvAt = closeHeight + sim.toSelfDelay.alice - 1; // the tip at which a CSV spend first enters the mempool
      const target = { sim, holder: 'alice' as const, number: sim.latestNumber };
      const dest = { destination: walletKey('bob probe').scriptPubKey, feeSat: 500n };
      await mineUntilResolved(node, court, [cp], {
        each: async (height) => {
          // each spend at its first valid block: the node refuses the same spend one block early
          if (height === cltv - 1) {
            assert.equal(await spentAtNode(outOp), false, 'no timeout one block before the CLTV');
            if (format === 'static_remotekey') {
              const early = await node.testAccept(htlcTimeoutTx({ ...target, outputIndex: offered.index }, dest).tx.toHex());
              assert.equal(early.allowed, false, 'the node refuses the HTLC-timeout one block early');
              assert.match(early.reason ?? '', /^non-final\b/);
            }
          }
          if (height === cltv) assert.equal(await spentAtNode(outOp), true, 'the timeout is published at the CLTV');
          if (height === csvAt - 1) {
            assert.equal(await spentAtNode(toLocalOp), false, 'to_local not swept before its CSV');
            const early = await node.testAccept(spendToLocalDelayed(target, dest).tx.toHex());
            assert.equal(early.allowed, false, 'the node refuses the to_local sweep one block early');
            assert.match(early.reason ?? '', /^non-BIP68-final\b/);
          }
          if (height === csvAt) assert.equal(await spentAtNode(toLocalOp), true, 'to_local swept at its first valid block');
        },
      });
      await checkLedger(court, closeHeight, owedOn(sim, 'alice', sim.latestNumber), [cp]);
      const ev = nodeEvents({ db: court.db } as never, cp);
      const failed = ev.filter((e) => e.kind === NODE_EVENT_KIND.HtlcFailedOnChain && e.payload.reason === 'timeout');
      assert.equal(failed.length, 1, 'the timed-out HTLC is failed upstream once');
      const resolved = ev.find((e) => e.kind === NODE_EVENT_KIND.ChannelResolved);
      assert.ok(resolved !== undefined && typeof resolved.payload.totals === 'object', 'channelResolved carries totals');
      const reps = reports(court.db, cp);
      assert.ok(reps.some((r) => r.outcome === 'firstStage' && r.type === 'outgoingHtlc'));
      assert.ok(reps.some((r) => r.outcome === 'firstStage' && r.type === 'incomingHtlc'));
      assert.ok(reps.some((r) => r.outcome === 'timeout' && r.stage === 2));
      assert.ok(reps.some((r) => r.outcome === 'claimed' && r.type === 'incomingHtlc' && r.stage === 2));
    });

    it('our force close without HTLCs: the anchor is offered for CPFP all the same (lnd #8837), to_local after its CSV', async () => {
      const sim = await openOnChain(node, format);
      await start(sim);
      sim.commit();
      const cp = sim.chanPoint;
      await court.arb.updateChannel(sim.snapshot('alice'));
      await court.arb.forceClose(cp);
      await synced(node, court);
      if (format === 'anchors') {
        const cpfp = court.sweeper.pending({ chanPoint: cp }).find((p) => p.owner === `cpfp:${cp}`);
        assert.ok(cpfp !== undefined, 'the anchor of a commitment without HTLCs is offered');
        assert.ok(cpfp.budgetSat > 330n, 'with a budget beyond the anchor itself');
      }
      await node.mine(1);
      const closeHeight = await node.height();
      await mineUntilResolved(node, court, [cp]);
      await checkLedger(court, closeHeight, owedOn(sim, 'alice', sim.latestNumber), [cp]);
    });

    for (const pending of [false, true]) {
      it(`their force close (${pending ? 'pending' : 'current'} commitment): direct timeout after the CLTV, direct success with the preimage, to_remote`, async () => {
        const sim = await openOnChain(node, format);
        await start(sim);
        const h = await node.height();
        const inPre = preimage(`${format} their in ${pending}`);
        sim.addHtlc('alice', 30_000_000n, h + 12, preimage(`${format} their out ${pending}`));
        sim.addHtlc('bob', 20_000_000n, h + 70, inPre);
        if (pending) {
          sim.commit();
          sim.addHtlc('alice', 25_000_000n, h + 14, preimage(`${format} their out2 ${pending}`));
          sim.signCommitments();
        } else {
          sim.commit();
        }
        const cp = sim.chanPoint;
        await court.arb.updateChannel(sim.snapshot('alice'));
        const n = sim.latestNumber;
        await node.send(sim.signedCommitment('bob', n).toHex());
        await node.mine(1);
        const closeHeight = await node.height();
        await synced(node, court);
        assert.equal(stateOf(court, cp), 'WaitingFullResolution');
        await court.arb.addPreimage(inPre, 'node');
        // our direct timeout of the outgoing HTLC on their commitment acts at its first valid block
        const theirs = sim.commitment('bob', n);
        const recv = theirs.commitment.outputs.filter((o) => o.kind === 'received_htlc');
        const first = recv.map((o) => ({ o, cltv: sim.htlcOfOutput('bob', n, o.index).cltvExpiry })).sort((a, b) => a.cltv - b.cltv)[0];
        assert.ok(first !== undefined);
        const op = `${theirs.txid}:${first.o.index}`;
        await mineUntilResolved(node, court, [cp], {
          each: async (height) => {
            if (height === first.cltv - 1) {
              assert.equal(await spentAtNode(op), false, 'no timeout before the CLTV');
              const early = claimReceivedHtlcAfterTimeout({ sim, holder: 'bob', number: n, outputIndex: first.o.index }, { destination: walletKey('probe').scriptPubKey, feeSat: 500n });
              const r = await node.testAccept(early.tx.toHex());
              assert.equal(r.allowed, false, 'the node refuses the direct timeout one block early');
              assert.match(r.reason ?? '', /^non-final\b/);
            }
            if (height === first.cltv) assert.equal(await spentAtNode(op), true, 'the direct timeout is published at the CLTV');
          },
        });
        await checkLedger(court, closeHeight, owedOn(sim, 'bob', n), [cp]);
        assert.equal(nodeEvents({ db: court.db } as never, cp).filter((e) => e.kind === NODE_EVENT_KIND.HtlcFailedOnChain && e.payload.reason === 'timeout').length, pending ? 2 : 1);
      });
    }

    it('the peer claims our offered HTLC with the preimage: the node hears it from the mempool, once; the same preimage settles a second channel', async () => {
      const a = await openOnChain(node, format);
      await start(a);
      const b = await openOnChain(node, format);
      const h = await node.height();
      const pre = preimage(`${format} forwarded`);
      const hash = toHex(sha256(pre));
      // b: bob2 -> alice (incoming); a: alice -> bob (outgoing, forwarded)
      b.addHtlc('bob', 35_000_000n, h + 90, pre);
      b.commit();
      a.addHtlc('alice', 34_000_000n, h + 60, pre);
      a.commit();
      await court.arb.updateChannel(b.snapshot('alice'));
      await court.arb.updateChannel(a.snapshot('alice'));
      // b is force-closed by its peer: the incoming HTLC waits for the preimage
      await node.send(b.signedCommitment('bob', b.latestNumber).toHex());
      // a: courtd goes on chain (our commitment), the peer claims our offered HTLC with the preimage
      await court.arb.forceClose(a.chanPoint);
      await synced(node, court);
      await node.mine(1);
      const closeHeight = await node.height();
      await synced(node, court);
      assert.equal(stateOf(court, a.chanPoint), 'WaitingFullResolution');
      assert.equal(stateOf(court, b.chanPoint), 'WaitingFullResolution');
      if (format === 'anchors') await node.mine(1); // CSV 1 on the HTLC outputs
      a.learnPreimage('bob', pre);
      const claim = claimOfferedHtlcWithPreimage({ sim: a, holder: 'alice', number: a.latestNumber }, { destination: walletKey('bob sweeps').scriptPubKey, feeSat: 1_000n });
      await node.send(claim.tx.toHex());
      const settled = () => nodeEvents({ db: court.db } as never, a.chanPoint).filter((e) => e.kind === NODE_EVENT_KIND.HtlcSettledOnChain);
      // from the mempool, before any block
      const { eventually } = await import('../helpers/async.js');
      await eventually(() => settled().length === 1, 10_000, 'htlc settled from the mempool');
      assert.equal(settled()[0]?.payload.source, 'mempool');
      assert.equal(settled()[0]?.payload.paymentHash, hash);
      assert.equal(await node.confirmationHeight(claim.tx.getId()), undefined, 'still unconfirmed');
      await mineUntilResolved(node, court, [a.chanPoint, b.chanPoint]);
      assert.equal(settled().length, 1, 'told once');
      const owed = [...owedOn(a, 'alice', a.latestNumber, (ph) => ph === hash), ...owedOn(b, 'bob', b.latestNumber)];
      await checkLedger(court, closeHeight, owed, [a.chanPoint, b.chanPoint]);
      assert.ok(reports(court.db, b.chanPoint).some((r) => r.type === 'incomingHtlc' && r.outcome === 'claimed'), 'the second channel claimed its incoming HTLC');
    });

    it('a close from a state newer than courtd knows: to_remote claimed', async () => {
      const sim = await openOnChain(node, format);
      await start(sim);
      sim.commit();
      await court.arb.updateChannel(sim.snapshot('alice'));
      sim.commit();
      sim.commit();
      const n = sim.latestNumber;
      await node.send(sim.signedCommitment('bob', n).toHex());
      await node.mine(1);
      const closeHeight = await node.height();
      await mineUntilResolved(node, court, [sim.chanPoint]);
      await checkLedger(court, closeHeight, owedOn(sim, 'bob', n).filter((o) => o.optional !== true), [sim.chanPoint]);
    });
  });
}
