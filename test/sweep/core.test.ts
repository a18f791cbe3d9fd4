/** Clustering rules and sweep amounts of the pure core. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { clusterInputs, sweepAmounts, sweepWeight, unsignedSweep, type CoreInput } from '../../src/sweep/core.js';
import { inputWeight } from '../../src/sweep/input.js';
import type { SweepInputSpec } from '../../src/sweep/types.js';
import { toLocalInput } from './helpers.js';

const OPTS = { walletInputWeight: 272, changeScriptLen: 22 };
const ci = (spec: SweepInputSpec): CoreInput => ({ spec, offerHeight: 1000 });

describe('clustering', () => {
  it('puts 20 inputs with one deadline in one cluster', () => {
    const cs = clusterInputs(Array.from({ length: 20 }, (_, i) => ci(toLocalInput(i, { deadlineHeight: 1100 }))), OPTS);
    assert.equal(cs.length, 1);
    assert.equal(cs[0]?.inputs.length, 20);
  });

  it('splits different locktimes, keeps pinnable apart, and never puts two members of one exclusive group together', () => {
    const inputs = [
      ci(toLocalInput(1, { locktime: 1200 })),
      ci(toLocalInput(2, { locktime: 1201 })),
      ci(toLocalInput(3, { pinnable: true })),
      ci(toLocalInput(4)),
      ci(toLocalInput(5, { exclusiveGroup: 'g' })),
      ci(toLocalInput(6, { exclusiveGroup: 'g' })),
      ci(toLocalInput(7, { exclusiveGroup: 'g' })),
    ];
    const cs = clusterInputs(inputs, OPTS);
    for (const c of cs) {
      assert.equal(new Set(c.inputs.map((i) => i.spec.locktime ?? 0)).size, 1);
      assert.equal(new Set(c.inputs.map((i) => i.spec.pinnable)).size, 1);
      const g = c.inputs.filter((i) => i.spec.exclusiveGroup === 'g');
      assert.ok(g.length <= 1);
    }
    assert.equal(cs.reduce((n, c) => n + c.inputs.length, 0), inputs.length);
  });

  it('splits by deadline window and takes the earliest deadline of a cluster', () => {
    const cs = clusterInputs([ci(toLocalInput(1, { deadlineHeight: 1100 })), ci(toLocalInput(2, { deadlineHeight: 1104 })), ci(toLocalInput(3, { deadlineHeight: 1120 }))], { ...OPTS, window: 6 });
    assert.equal(cs.length, 2);
    assert.equal(cs[0]?.deadline, 1100);
    assert.equal(cs[0]?.inputs.length, 2);
  });

  it('respects the weight limit and the input count (random input sets)', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ d: fc.integer({ min: 1001, max: 1200 }), g: fc.integer({ min: 0, max: 4 }), p: fc.boolean(), l: fc.constantFrom(0, 1300, 1301) }), { maxLength: 80 }), (xs) => {
        const inputs = xs.map((x, i) => ci(toLocalInput(i, { deadlineHeight: x.d, exclusiveGroup: x.g === 0 ? undefined : `g${x.g}`, pinnable: x.p, locktime: x.l || undefined })));
        const cs = clusterInputs(inputs, { ...OPTS, maxInputs: 7, maxWeight: 5000 });
        assert.equal(cs.reduce((n, c) => n + c.inputs.length, 0), inputs.length);
        for (const c of cs) {
          assert.ok(c.inputs.length <= 7);
          assert.ok(sweepWeight(c.inputs.map((i) => i.spec), 0, 272, 22) <= 5000);
          assert.equal(new Set(c.inputs.map((i) => `${i.spec.pinnable}|${i.spec.locktime ?? 0}`)).size, 1);
          const groups = c.inputs.flatMap((i) => (i.spec.exclusiveGroup ? [i.spec.exclusiveGroup] : []));
          assert.equal(new Set(groups).size, groups.length);
          assert.ok(c.inputs.every((i) => (i.spec.deadlineHeight as number) <= c.deadline + 6 && (i.spec.deadlineHeight as number) >= c.deadline));
        }
      }),
    );
  });
});

describe('sweep amounts', () => {
  it('weight estimate is an upper bound of the signed transaction within 2 bytes per signature', () => {
    const specs = Array.from({ length: 5 }, (_, i) => toLocalInput(i));
    const w = sweepWeight(specs, 0, 272, 22);
    const tx = unsignedSweep({ inputs: specs, wallet: [], changeScript: '0014' + '11'.repeat(20), changeSat: 1000n, locktime: 0 });
    // witness of each input: 73-byte max signature, empty item, script
    for (let i = 0; i < specs.length; i++) tx.setWitness(i, [new Uint8Array(72), new Uint8Array(0), Buffer.from((specs[i]?.witness as { script: string }).script, 'hex')]);
    assert.ok(tx.weight() <= w && w - tx.weight() <= 5, `${tx.weight()} vs ${w}`);
    assert.equal(inputWeight(specs[0] as SweepInputSpec), 164 + 1 + 1 + 73 + 1 + 1 + (specs[0]?.witness as { script: string }).script.length / 2);
  });

  it('fee never exceeds the sum of budgets (a spike of the rate is capped), and change = inputs - fee', () => {
    fc.assert(
      fc.property(fc.array(fc.bigInt({ min: 300n, max: 50_000n }), { minLength: 1, maxLength: 10 }), fc.bigInt({ min: 253n, max: 10_000_000n }), (budgets, rate) => {
        const specs = budgets.map((b, i) => toLocalInput(i, { budgetSat: b }));
        const a = sweepAmounts({ inputs: specs, wallet: [], walletInputWeight: 272, changeScriptLen: 22, ratePerKw: rate, floorPerKw: 253n, maxRatePerKw: 250_000n });
        const total = budgets.reduce((s, b) => s + b, 0n);
        assert.ok(a.feeSat <= total);
        assert.equal(a.changeSat, 100_000n * BigInt(specs.length) - a.feeSat);
        assert.ok(a.rate <= 250_000n);
      }),
    );
  });
});
