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
import { startChain, type RegtestChain } from '../../regtest/chain.js';
import { reports } from '../../src/resolvers/store.js';
import { NODE_EVENT_KIND, RESOLVER_KIND } from '../../src/store/codes.js';
import { sha256 } from '../../src/util/bytes.js';
import { nodeEvents, tempDir } from './arbitrator.helpers.js';
import { breachLedger, breachUpTo, JUSTICE_LEDGER } from './breach.helpers.js';
import { mineUntilResolved, startResolverCourt, synced, type ResolverCourt } from './resolvers.helpers.js';

after(() => {
  process.stdout.write(`justice ledger: scenarios=${JUSTICE_LEDGER.scenarios} balanced=${JUSTICE_LEDGER.balanced} lost_sat=${JUSTICE_LEDGER.lostSat}\n`);
});

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
