/**
 * courtd as a process (the resolver runner wired in src/daemon/money.ts): a force close through the API runs
 * to FullyResolved: the commitment confirms, to_local matures after its CSV and is swept, and /v1/closed reports
 * the claim with its sweep txid; GET /v1/channels shows the output's stage and limbo from the runner's view.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startChain, type RegtestChain } from '../../regtest/chain.js';
import type { ChannelSimulator } from '../../regtest/simulator.js';
import { call, prepareDatadir, startCourtd, type CourtdProcess } from '../helpers/courtd.js';
import { openOnChain, tempDir } from './arbitrator.helpers.js';

describe('courtd process resolves a force close end to end', { timeout: 240_000 }, () => {
  let node: RegtestChain;
  let tmp: { dir: string; remove: () => void };
  let sim: ChannelSimulator;
  let d: CourtdProcess | undefined;

  before(async () => {
    node = await startChain();
    tmp = tempDir('daemon-resolve');
    sim = await openOnChain(node, 'static_remotekey');
    prepareDatadir(join(tmp.dir, 'c'), node, sim.parties.alice.seed);
  });
  after(async () => {
    d?.child.kill('SIGKILL');
    await node?.stop();
    tmp?.remove();
  });

  it('force close -> swept -> FullyResolved, reported', async () => {
    d = await startCourtd(join(tmp.dir, 'c'));
    const cp = encodeURIComponent(sim.chanPoint);
    assert.equal((await call(d, 'PUT', `/v1/channels/${cp}`, d.admin, sim.snapshot('alice'))).status, 200);
    const fc = await call(d, 'POST', `/v1/channels/${cp}/force-close`, d.admin, {});
    assert.equal(fc.status, 200, JSON.stringify(fc.json));
    const waitFor = async (what: string, ok: () => Promise<boolean>, blocks = true): Promise<void> => {
      for (let i = 0; i < 120; i++) {
        if (await ok()) return;
        if (blocks && i % 4 === 3) await node.mine(1);
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.fail(`${what} not reached`);
    };
    await waitFor('commitment in the mempool', async () => (await node.call<string[]>('getrawmempool')).includes(fc.json.closing_txid), false);
    await node.mine(1);
    let seenStage = '';
    await waitFor('an output with its stage and maturity', async () => {
      const v = (await call(d as CourtdProcess, 'GET', `/v1/channels/${cp}`, (d as CourtdProcess).readonly)).json;
      const o = v.outputs?.[0];
      if (o !== undefined) seenStage = `${v.state} ${o.resolver} ${o.stage} ${o.maturity_height ?? ''}`;
      return o !== undefined && BigInt(v.limbo_balance) > 0n;
    }, false);
    assert.match(seenStage, /commitSweep/);
    await waitFor('FullyResolved', async () => (await call(d as CourtdProcess, 'GET', `/v1/channels/${cp}`, (d as CourtdProcess).readonly)).json.state === 'FullyResolved');
    const closed = (await call(d, 'GET', '/v1/closed', d.readonly)).json.channels;
    assert.equal(closed.length, 1);
    assert.equal(closed[0].close_type, 'LOCAL_FORCE_CLOSE');
    const claimed = closed[0].resolutions.filter((r: { outcome: string }) => r.outcome === 'CLAIMED');
    assert.ok(claimed.length >= 1, JSON.stringify(closed[0]));
    assert.match(claimed[0].sweep_txid, /^[0-9a-f]{64}$/);
    assert.ok(BigInt(closed[0].settled_balance) > 0n);
    d.child.kill('SIGTERM');
    assert.equal(await d.exited, 0);
    d = undefined;
  });
});
