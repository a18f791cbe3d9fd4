/**
 * docs/state-machines.md is what `npm run diagrams` gives from the current transition functions (CI fails on a
 * stale file), and the generator draws what the functions do: a known step is an edge, a known refusal is in the
 * pair table, a module named *.sweep.ts is picked up.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { describe, it } from 'node:test';
import { explore, loadSweeps, OUTPUT, renderDocument, ROOT, sweepModules } from './generate.js';

describe('npm run diagrams', () => {
  it('the committed docs/state-machines.md is current (run npm run diagrams when this fails)', async () => {
    assert.equal(readFileSync(OUTPUT, 'utf8'), await renderDocument());
  });

  it('picks up every *.sweep.ts under test/, the arbitrator among them', () => {
    const files = sweepModules().map((f) => relative(ROOT, f));
    assert.ok(files.includes('test/arbitrator/channel/transition.sweep.ts'), files.join(', '));
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
});
