/** The obscured commitment number: written into locktime/sequence and read back from a transaction. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Transaction } from 'bitcoinjs-lib';
import { commitmentNumberFromTx, encodeStateHint, MAX_COMMITMENT_NUMBER, obscuringFactor, readObscuredNumber } from '../../src/ln/statehint.js';
import { fromHex } from '../../src/util/bytes.js';
import { CourtError } from '../../src/util/errors.js';
import { staticVectors } from '../helpers/bolt3.js';

const c = staticVectors.common;

function txWith(n: number, factor: number): Transaction {
  const h = encodeStateHint(n, factor);
  const tx = new Transaction();
  tx.version = 2;
  tx.locktime = h.locktime;
  tx.addInput(new Uint8Array(32), 0, h.sequence);
  return tx;
}

describe('state hint', () => {
  const factor = obscuringFactor(fromHex(c.local_payment_basepoint), fromHex(c.remote_payment_basepoint));

  it('the obscuring factor of the Appendix C channel is 0x2bb038521914', () => {
    assert.equal(factor, 0x2bb038521914);
  });

  it('reads commitment number 42 back from the Appendix C commitment transaction', () => {
    const tx = Transaction.fromHex(staticVectors.cases[0].commit_tx_hex);
    assert.equal(readObscuredNumber(tx), 0x2bb03852193e); // 0x2bb038521914 XOR 42 (JS ^ is 32-bit only)
    assert.equal(commitmentNumberFromTx(tx, factor), 42);
  });

  it('round-trips any commitment number, including 0 and 2^48-1', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: MAX_COMMITMENT_NUMBER }), fc.integer({ min: 0, max: MAX_COMMITMENT_NUMBER }), (n, f) => {
        assert.equal(commitmentNumberFromTx(txWith(n, f), f), n);
      }),
      { seed: Number(process.env['FC_SEED'] ?? 3), numRuns: 500 },
    );
    assert.equal(commitmentNumberFromTx(txWith(MAX_COMMITMENT_NUMBER, factor), factor), MAX_COMMITMENT_NUMBER);
    assert.equal(commitmentNumberFromTx(txWith(0, factor), factor), 0);
  });

  it('refuses commitment numbers of 2^48 and above, negative or fractional ones', () => {
    for (const bad of [2 ** 48, 2 ** 53, -1, 1.5, Number.NaN]) {
      assert.throws(() => encodeStateHint(bad, factor), (e: unknown) => e instanceof CourtError && e.code === 'COURT_E_COMMITMENT_NUMBER');
    }
  });

  it('refuses payment basepoints that are not points', () => {
    const isKey = (e: unknown) => e instanceof CourtError && e.code === 'COURT_E_INVALID_PUBKEY';
    assert.throws(() => obscuringFactor(new Uint8Array(0), new Uint8Array(0)), isKey);
    assert.throws(() => obscuringFactor(fromHex(c.local_payment_basepoint), fromHex('02' + '00'.repeat(32))), isKey);
  });

  it('does not read a hint from a transaction without one', () => {
    const tx = new Transaction();
    tx.addInput(new Uint8Array(32), 0, 0xffffffff);
    assert.equal(readObscuredNumber(tx), undefined);
  });
});
