/** Fee estimation: unit conversion, relay floors, the regtest fallback, the cache. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  btcDecimalToSatCeil,
  btcPerKvBToSatPerKw,
  ChainFeeEstimator,
  DEFAULT_FALLBACK_PER_KW,
  FEE_FLOOR_PER_KW,
} from '../../src/chain/fees.js';
import { CourtError } from '../../src/util/errors.js';
import { FakeChain } from '../helpers/fake-chain.js';

describe('BTC/kvB -> sat/kw conversion', () => {
  const cases: [string, bigint][] = [
    ['0.00001000', 250n], // 1 sat/vB
    ['0.00001', 250n],
    ['0.00001012', 253n],
    ['0.00012345', 3087n], // 12345 sat/kvB / 4 = 3086.25, rounded up
    ['0.001', 25_000n],
    ['1', 25_000_000n],
    ['0', 0n],
  ];
  for (const [btc, perKw] of cases) it(`${btc} BTC/kvB = ${perKw} sat/kw`, () => assert.equal(btcPerKvBToSatPerKw(btc), perKw));

  it('parses satoshis exactly, rounding a sub-satoshi remainder up', () => {
    assert.equal(btcDecimalToSatCeil('21000000.00000000'), 2_100_000_000_000_000n);
    assert.equal(btcDecimalToSatCeil('0.00000001'), 1n);
    assert.equal(btcDecimalToSatCeil('0.000000010'), 1n);
    assert.equal(btcDecimalToSatCeil('0.000000011'), 2n);
    assert.equal(btcDecimalToSatCeil('0.1'), 10_000_000n);
  });

  it('refuses what is not a plain decimal', () => {
    for (const bad of ['1e-5', '-0.1', '', '.5', '0.1.2', ' 1']) {
      assert.throws(() => btcDecimalToSatCeil(bad), (e: unknown) => e instanceof CourtError && e.code === 'COURT_E_CHAIN_BAD_REPLY', bad);
    }
  });
});

describe('fee estimator', () => {
  function setup(opts: { fallbackPerKw?: bigint } = {}) {
    const chain = new FakeChain();
    let now = 0;
    const fees = new ChainFeeEstimator({ source: chain, now: () => now, cacheMs: 10_000, ...opts });
    return { chain, fees, advance: (ms: number) => (now += ms) };
  }

  it('uses the fallback when the node has no estimate (regtest)', async () => {
    const { fees } = setup();
    assert.equal(await fees.feeRatePerKw(6), DEFAULT_FALLBACK_PER_KW);
  });

  it('uses the node estimate for the target', async () => {
    const { chain, fees } = setup();
    chain.estimates.set(2, '0.00050000');
    chain.estimates.set(144, '0.00002000');
    assert.equal(await fees.feeRatePerKw(2), 12_500n);
    assert.equal(await fees.feeRatePerKw(144), 500n);
  });

  it('never goes below mempoolminfee, relayfee or the 253 sat/kw floor', async () => {
    const { chain, fees, advance } = setup({ fallbackPerKw: 300n });
    chain.estimates.set(6, '0.00000500'); // 125 sat/kw: below every floor
    assert.equal(await fees.feeRatePerKw(6), FEE_FLOOR_PER_KW);
    advance(10_000);
    chain.mempoolMinFeeBtc = '0.00004000'; // 1000 sat/kw
    assert.equal(await fees.feeRatePerKw(6), 1000n);
    assert.equal(await fees.feeRatePerKw(12), 1000n, 'the fallback is raised to the floor as well');
    advance(10_000);
    chain.relayFeeBtc = '0.00006000';
    assert.equal(await fees.floorPerKw(), 1500n);
  });

  it('caches answers for a short time', async () => {
    const { chain, fees, advance } = setup();
    chain.estimates.set(6, '0.00010000');
    await fees.feeRatePerKw(6);
    chain.estimates.set(6, '0.00020000');
    advance(9_999);
    assert.equal(await fees.feeRatePerKw(6), 2500n);
    assert.equal(chain.count('estimateSmartFee'), 1);
    assert.equal(chain.count('mempoolMinFee'), 1);
    advance(1);
    assert.equal(await fees.feeRatePerKw(6), 5000n);
    assert.equal(chain.count('estimateSmartFee'), 2);
  });

  it('serves a stale answer while the node is down, and fails without one', async () => {
    const { chain, fees, advance } = setup();
    chain.estimates.set(6, '0.00010000');
    await fees.feeRatePerKw(6);
    chain.down = true;
    advance(60_000);
    assert.equal(await fees.feeRatePerKw(6), 2500n);
    await assert.rejects(fees.feeRatePerKw(3), (e: unknown) => e instanceof CourtError && e.code === 'COURT_E_CHAIN_UNREACHABLE');
  });

  it('clamps the target to 1008 and refuses a non-positive one', async () => {
    const { chain, fees } = setup();
    chain.estimates.set(1008, '0.00003000');
    assert.equal(await fees.feeRatePerKw(5000), 750n);
    await assert.rejects(fees.feeRatePerKw(0), (e: unknown) => e instanceof CourtError && e.code === 'COURT_E_INVALID_ARGUMENT');
  });
});
