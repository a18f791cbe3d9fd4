/** Coin selection order and the shortest covering prefix (pure). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { selectCoins, selectionOrder, takeUntil, type Candidate } from '../../src/wallet/index.js';

const c = (outpoint: string, valueSat: bigint, sameLease = false): Candidate => ({ outpoint, valueSat, sameLease });

describe('coin selection', () => {
  it('orders the same lease first, then largest first, ties by outpoint', () => {
    const order = selectionOrder([c('b:0', 5n), c('a:1', 5n), c('z:0', 9n), c('y:0', 1n, true), c('x:0', 2n, true)]);
    assert.deepEqual(
      order.map((x) => x.outpoint),
      ['x:0', 'y:0', 'z:0', 'a:1', 'b:0'],
    );
  });

  it('takes the shortest prefix reaching the target, or nothing', () => {
    const cs = [c('a:0', 10n), c('b:0', 7n), c('c:0', 3n)];
    assert.deepEqual(selectCoins(cs, 10n)?.map((x) => x.outpoint), ['a:0']);
    assert.deepEqual(selectCoins(cs, 11n)?.map((x) => x.outpoint), ['a:0', 'b:0']);
    assert.deepEqual(selectCoins(cs, 20n)?.map((x) => x.outpoint), ['a:0', 'b:0', 'c:0']);
    assert.equal(selectCoins(cs, 21n), undefined);
    assert.deepEqual(takeUntil(cs, 0n), []);
  });

  it('is deterministic and covers the target whenever the sum does (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.bigInt({ min: 1n, max: 10n ** 9n }), fc.boolean()), { maxLength: 30 }), fc.bigInt({ min: 1n, max: 10n ** 10n }), (vals, target) => {
        const cs = vals.map(([v, same], i) => c(`${i.toString(16).padStart(4, '0')}:0`, v, same));
        const a = selectCoins(cs, target);
        const b = selectCoins([...cs].reverse(), target);
        assert.deepEqual(a, b);
        const total = cs.reduce((s, x) => s + x.valueSat, 0n);
        if (total < target) return a === undefined;
        const sum = (a ?? []).reduce((s, x) => s + x.valueSat, 0n);
        const withoutLast = sum - ((a ?? []).at(-1)?.valueSat ?? 0n);
        return sum >= target && withoutLast < target;
      }),
    );
  });
});
