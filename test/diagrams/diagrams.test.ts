/**
 * docs/state-machines.md is what `npm run diagrams` gives from the current transition functions (CI fails on a
 * stale file), and the generator draws what the functions do: a known step is an edge, a known refusal is in the
 * pair table, a module named *.sweep.ts is picked up.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { describe, it } from 'node:test';
import { RESOLVER_KINDS } from '../../src/resolvers/registry.js';
import { explore, loadSweeps, OUTPUT, renderDocument, ROOT, sweepModules } from './generate.js';

describe('npm run diagrams', () => {
  it('the committed docs/state-machines.md is current (run npm run diagrams when this fails)', async () => {
    assert.equal(readFileSync(OUTPUT, 'utf8'), await renderDocument());
  });

  it('picks up every *.sweep.ts under test/, the arbitrator among them', () => {
    const files = sweepModules().map((f) => relative(ROOT, f));
    assert.ok(files.includes('test/arbitrator/channel/transition.sweep.ts'), files.join(', '));
    assert.ok(files.includes('test/diagrams/resolvers.sweep.ts'), files.join(', '));
  });

  it("draws the arbitrator's steps from its transition function, with effects, and its refusals", async () => {
    const [arb] = (await loadSweeps()).filter((s) => s.sweep.machine === 'ChannelArbitrator');
    assert.ok(arb !== undefined);
    const { edges, matrix } = explore(arb.sweep);
    const has = (from: string, event: string, to: string): boolean => edges.some((e) => e.from === from && e.event === event && e.to === to);
    assert.ok(has('Default', 'ForceCloseRequested', 'BroadcastCommit'));
    assert.ok(edges.find((e) => e.from === 'Default' && e.event === 'ForceCloseRequested')?.effects.includes('BroadcastTx'));
    assert.ok(has('ContractClosed', 'Persisted', 'WaitingFullResolution'));
    assert.ok(has('WaitingFullResolution', 'ResolverFinished', 'FullyResolved'));
    // FullyResolved is absorbing: no edge leaves it.
    assert.deepEqual(edges.filter((e) => e.from === 'FullyResolved' && e.to !== 'FullyResolved'), []);
    assert.ok(matrix.get('FullyResolved')?.get('ForceCloseRequested')?.has('refused CHANNEL_CLOSING'));
  });

  it("draws every resolver kind of the registry, the contests' hand-overs and the rollbacks of a reorg", async () => {
    const [res] = (await loadSweeps()).filter((s) => s.sweep.machine === 'ContractResolvers');
    assert.ok(res !== undefined);
    const { edges } = explore(res.sweep);
    const has = (from: string, event: string, to: string): boolean => edges.some((e) => e.from === from && e.event === event && e.to === to);
    // Every kind either reaches its own done or hands over to a successor of another kind.
    const kindOf = (node: string): string => node.split('_')[0] as string;
    const sampled = new Set(res.sweep.states.map((x) => (x.state as { kind: string }).kind));
    assert.deepEqual([...sampled].sort(), Object.keys(RESOLVER_KINDS).sort(), 'a sample of every registered kind');
    for (const kind of Object.keys(RESOLVER_KINDS)) {
      assert.ok(edges.some((e) => e.to === `${kind}_done` || (kindOf(e.from) === kind && kindOf(e.to) !== kind)), `${kind} ends`);
    }
    assert.ok(has('htlcIncomingContest_contest', 'Preimage', 'htlcSuccess_offered'));
    assert.ok(has('htlcOutgoingContest_contest', 'BlockDue', 'htlcTimeout_offered'));
    assert.ok(has('htlcTimeout_secondLevel', 'SpendUndone', 'htlcTimeout_offered'));
    assert.ok(has('commitSweep_confirming', 'SpendUndone', 'commitSweep_waiting'));
    assert.ok(edges.find((e) => e.from === 'htlcTimeout_firstConfirming' && e.to === 'htlcTimeout_done')?.effects.includes('ResolverFinished'));
  });
});
