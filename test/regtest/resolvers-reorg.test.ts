/**
 * Reorgs of depth 1 to 6 at every stage of one HTLC resolution on the regtest node (our force close, the outgoing
 * HTLC timed out through the second level, then its CSV output swept): the commitment's block, the second-level
 * transaction's block, the CSV sweep's block. Each time the stage's spend is disconnected before it has 6
 * confirmations (the replacement blocks carry it again from the mempool), the stage rolls back and resumes; every
 * run ends FullyResolved with a balanced ledger from the node's blocks. Counts into the resolution ledger line.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startChain, type RegtestChain } from '../../regtest/chain.js';
import { sha256 } from '../../src/util/bytes.js';
import { openOnChain, tempDir } from './arbitrator.helpers.js';
import { fundCourtWallet, ledger, LEDGER, mineUntilResolved, record, startResolverCourt, stateOf, synced, type Owed, type ResolverCourt } from './resolvers.helpers.js';

type Stage = 'close' | 'secondLevel' | 'csvSweep';
const FORMAT = 'static_remotekey' as const;

let node: RegtestChain;
let tmp: ReturnType<typeof tempDir>;
let court: ResolverCourt;
let reorgs = 0;

/** The txid spending `outpoint` in the node's best chain or mempool, if any. */
async function spenderOf(outpoint: string, fromHeight: number): Promise<{ txid: string; height?: number } | undefined> {
  const [txid, vout] = outpoint.split(':') as [string, string];
  const tip = await node.height();
  for (let h = fromHeight; h <= tip; h++) {
    const block = await court.chain.source.getBlock(await court.chain.source.getBlockHash(h));
    for (const tx of block.txs) if (tx.ins.some((i) => Buffer.from(i.hash).reverse().toString('hex') === txid && i.index === Number(vout))) return { txid: tx.getId(), height: h };
  }
  return undefined;
}

describe('resolver reorgs at every stage of one HTLC resolution (regtest)', { timeout: 900_000 }, () => {
  before(async () => {
    node = await startChain();
    tmp = tempDir('resolver-reorg');
  });
  after(async () => {
    await court?.stop();
    await node?.stop();
    tmp?.remove();
    process.stdout.write(`resolver reorg runs=${reorgs} balanced=${LEDGER.balanced} lost_sat=${LEDGER.lostSat}\n`);
  });

  for (const stage of ['close', 'secondLevel', 'csvSweep'] as Stage[]) {
    for (let depth = 1; depth <= 6; depth++) {
      it(`a reorg of depth ${depth} at the ${stage} stage rolls back and resumes to the same ledger`, async () => {
        const sim = await openOnChain(node, FORMAT);
        if (court === undefined) {
          court = await startResolverCourt(node, sim.parties.alice.seed, join(tmp.dir, 'court.sqlite'));
          await fundCourtWallet(node, court, 500_000n);
        }
        await synced(node, court);
        const h = await node.height();
        sim.addHtlc('alice', 50_000_000n, h + 8, sha256(new TextEncoder().encode(`reorg ${stage} ${depth}`)));
        sim.commit();
        const cp = sim.chanPoint;
        await court.arb.updateChannel(sim.snapshot('alice'));
        await court.arb.forceClose(cp);
        await synced(node, court);
        const commit = sim.commitment('alice', sim.latestNumber);
        const offered = commit.commitment.outputs.find((o) => o.kind === 'offered_htlc');
        assert.ok(offered !== undefined);
        const htlcOp = `${commit.txid}:${offered.index}`;
        await node.mine(1);
        const closeHeight = await node.height();
        let done = false;
        /** The height at which the stage's transaction confirmed, once seen. */
        const stageHeight = async (): Promise<number | undefined> => {
          if (stage === 'close') return closeHeight;
          const second = await spenderOf(htlcOp, closeHeight);
          if (second?.height === undefined) return undefined;
          if (stage === 'secondLevel') return second.height;
          return (await spenderOf(`${second.txid}:0`, second.height))?.height;
        };
        await mineUntilResolved(node, court, [cp], {
          max: 120,
          each: async (height) => {
            if (done) return;
            const at = await stageHeight();
            if (at === undefined || height < at + depth - 1) return;
            done = true;
            reorgs++;
            await node.reorg(depth);
            await synced(node, court);
          },
        });
        assert.ok(done, 'the reorg happened');
        assert.equal(stateOf(court, cp), 'FullyResolved');
        const owed: Owed[] = commit.commitment.outputs
          .filter((o) => o.kind === 'to_local' || o.kind === 'offered_htlc')
          .map((o) => ({ outpoint: `${commit.txid}:${o.index}`, valueSat: o.amountSat }));
        const l = await ledger(node, court, closeHeight - 1, owed);
        record(l);
        assert.ok(l.balanced, JSON.stringify(l, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)));
      });
    }
  }
});
