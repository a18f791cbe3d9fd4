/** The fee function and the BIP125 arithmetic: properties over random parameters (fast-check). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  acceptsReplacement,
  feeAtRate,
  feeRateAt,
  heightReaching,
  minReplacementFee,
  packageFee,
  packageRateForFee,
  vsizeOf,
  type FeeFunction,
} from '../../src/sweep/fee.js';

const fnArb = fc
  .record({
    start: fc.bigInt({ min: 253n, max: 50_000n }),
    end: fc.bigInt({ min: 253n, max: 500_000n }),
    startHeight: fc.integer({ min: 0, max: 1_000_000 }),
    span: fc.integer({ min: 1, max: 2016 }),
  })
  .map(({ start, end, startHeight, span }): FeeFunction => ({ start, end, startHeight, deadline: startHeight + span }));

describe('fee function', () => {
  it('never exceeds its end, never goes down, and is at its end one block before the deadline', () => {
    fc.assert(
      fc.property(fnArb, fc.integer({ min: 0, max: 3000 }), (f, dh) => {
        const h = f.startHeight + dh;
        const r = feeRateAt(f, h);
        assert.ok(r <= f.end);
        assert.ok(feeRateAt(f, h + 1) >= r);
        if (f.end >= f.start) assert.ok(r >= f.start || f.deadline - h <= 1);
        assert.equal(feeRateAt(f, f.deadline - 1), f.end);
        assert.equal(feeRateAt(f, f.deadline + 5), f.end);
      }),
    );
  });

  it('is linear: start at the start height, end - start spread over deadline - start - 1 blocks', () => {
    const f: FeeFunction = { start: 1000n, end: 11_000n, startHeight: 100, deadline: 111 };
    assert.equal(feeRateAt(f, 100), 1000n);
    assert.equal(feeRateAt(f, 101), 2000n);
    assert.equal(feeRateAt(f, 105), 6000n);
    assert.equal(feeRateAt(f, 110), 11_000n);
    assert.equal(feeRateAt(f, 108), 9000n);
  });

  it('a cap below the start wins (the budget is the hard limit)', () => {
    assert.equal(feeRateAt({ start: 5000n, end: 1000n, startHeight: 0, deadline: 100 }, 1), 1000n);
  });

  it('heightReaching finds the first height at which a rate is reached', () => {
    fc.assert(
      fc.property(fnArb, fc.bigInt({ min: 253n, max: 500_000n }), (f, rate) => {
        const h = heightReaching(f, rate, f.startHeight);
        if (h === undefined) {
          assert.ok(f.end < rate || feeRateAt(f, Math.max(f.startHeight + 1, f.deadline - 1)) < rate);
        } else {
          assert.ok(feeRateAt(f, h) >= rate);
          if (h > f.startHeight + 1) assert.ok(feeRateAt(f, h - 1) < rate);
        }
      }),
    );
  });
});

describe('BIP125 arithmetic', () => {
  it('a replacement pays the old fee plus 1 sat/vB of its own vsize, and a higher rate', () => {
    assert.equal(minReplacementFee(1000n, 400), 1100n);
    assert.equal(minReplacementFee(1000n, 401), 1101n);
    assert.ok(acceptsReplacement({ feeSat: 1000n, weight: 400 }, { feeSat: 1100n, weight: 400 }));
    assert.ok(!acceptsReplacement({ feeSat: 1000n, weight: 400 }, { feeSat: 1099n, weight: 400 }));
    // enough absolute fee but a lower rate (bigger transaction): refused
    assert.ok(!acceptsReplacement({ feeSat: 1000n, weight: 400 }, { feeSat: 2000n, weight: 4000 }));
  });

  it('accepts exactly what Core checks, for any sizes', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 10_000_000n }),
        fc.integer({ min: 100, max: 400_000 }),
        fc.bigInt({ min: 0n, max: 10_000_000n }),
        fc.integer({ min: 100, max: 400_000 }),
        (of, ow, nf, nw) => {
          const ok = acceptsReplacement({ feeSat: of, weight: ow }, { feeSat: nf, weight: nw });
          const rule4 = nf - of >= BigInt(vsizeOf(nw));
          const rate = nf * BigInt(ow) > of * BigInt(nw);
          assert.equal(ok, rule4 && rate);
        },
      ),
    );
  });
});

describe('CPFP package fee', () => {
  it('lifts parent + child to the rate, never below the child own floor, and the rate a fee buys inverts it', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 253n, max: 100_000n }),
        fc.integer({ min: 400, max: 4000 }),
        fc.integer({ min: 500, max: 100_000 }),
        fc.bigInt({ min: 0n, max: 100_000n }),
        (rate, cw, pw, pf) => {
          const fee = packageFee(rate, cw, [{ weight: pw, feeSat: pf }], 253n);
          assert.ok(fee >= feeAtRate(253n, cw));
          assert.ok(fee + pf >= feeAtRate(rate, cw + pw));
          assert.ok(packageRateForFee(fee, cw, [{ weight: pw, feeSat: pf }]) >= rate || fee === feeAtRate(253n, cw));
        },
      ),
    );
  });
});
