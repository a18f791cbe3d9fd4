/** BOLT #3 Appendix D: per-commitment secret generation and the receiver's compact store. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inspect } from 'node:util';
import fc from 'fast-check';
import { MAX_SHACHAIN_INDEX, secretFromSeed, ShachainStore } from '../../src/ln/shachain.js';
import { fromHex, toHex } from '../../src/util/bytes.js';
import { CourtError } from '../../src/util/errors.js';
import { loadVector } from '../helpers/bolt3.js';

const v = loadVector('shachain.json');
const isCode = (code: string) => (e: unknown) => e instanceof CourtError && e.code === code;

describe('per-commitment secret generation (generate_from_seed)', () => {
  it('has the 5 vectors', () => assert.equal(v.generation_tests.length, 5));
  for (const t of v.generation_tests) {
    it(t.name, () => assert.equal(toHex(secretFromSeed(fromHex(t.seed), t.index)), t.output));
  }
  it('refuses indexes of 2^48 and above and negative ones', () => {
    assert.throws(() => secretFromSeed(new Uint8Array(32), 2 ** 48), isCode('COURT_E_COMMITMENT_NUMBER'));
    assert.throws(() => secretFromSeed(new Uint8Array(32), -1), isCode('COURT_E_COMMITMENT_NUMBER'));
  });
});

describe('compact secret storage (insert_secret)', () => {
  it('has the 9 vectors, 8 of them failing', () => {
    assert.equal(v.storage_tests.length, 9);
    assert.equal(v.storage_tests.filter((t: any) => t.expect_error_at_step !== null).length, 8);
  });
  for (const t of v.storage_tests) {
    it(`${t.name}: ${t.expect_error_at_step === null ? 'all accepted' : `refused at step ${t.expect_error_at_step}`}`, () => {
      const s = new ShachainStore();
      let failedAt: number | null = null;
      t.steps.forEach((step: any, i: number) => {
        if (failedAt !== null) return;
        const before = JSON.stringify(s.serialize());
        try {
          s.insert(fromHex(step.secret), step.index);
          assert.equal(step.expected, 'OK', `step ${i} should have failed`);
        } catch (e) {
          assert.ok(isCode('COURT_E_SHACHAIN_MISMATCH')(e), `step ${i}: ${String(e)}`);
          assert.equal(step.expected, 'ERROR', `step ${i} should have passed`);
          assert.equal(JSON.stringify(s.serialize()), before, 'a refused secret leaves the store unchanged');
          failedAt = i;
        }
      });
      assert.equal(failedAt, t.expect_error_at_step);
    });
  }
});

describe('ShachainStore', () => {
  const seed = fromHex('0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef');

  it('re-derives every secret received, keeps at most 49, and survives a JSON round trip', () => {
    const s = new ShachainStore();
    const n = 1000;
    for (let i = 0; i < n; i++) s.insert(secretFromSeed(seed, MAX_SHACHAIN_INDEX - i), MAX_SHACHAIN_INDEX - i);
    assert.equal(s.received, n);
    assert.ok(s.serialize().entries.length <= 49);
    const back = ShachainStore.deserialize(JSON.parse(JSON.stringify(s.serialize())));
    for (let i = 0; i < n; i += 37) {
      const idx = MAX_SHACHAIN_INDEX - i;
      assert.equal(toHex(back.lookup(idx)), toHex(secretFromSeed(seed, idx)));
    }
    assert.equal(back.nextIndex, MAX_SHACHAIN_INDEX - n);
    assert.throws(() => back.lookup(MAX_SHACHAIN_INDEX - n), isCode('COURT_E_SHACHAIN_UNKNOWN'));
    assert.equal(back.tryLookup(MAX_SHACHAIN_INDEX - n), undefined);
  });

  it('refuses secrets out of order', () => {
    const s = new ShachainStore();
    assert.throws(() => s.insert(secretFromSeed(seed, MAX_SHACHAIN_INDEX - 1), MAX_SHACHAIN_INDEX - 1), isCode('COURT_E_SHACHAIN_INDEX'));
    s.insert(secretFromSeed(seed, MAX_SHACHAIN_INDEX), MAX_SHACHAIN_INDEX);
    assert.throws(() => s.insert(secretFromSeed(seed, MAX_SHACHAIN_INDEX), MAX_SHACHAIN_INDEX), isCode('COURT_E_SHACHAIN_INDEX'));
  });

  it('refuses corrupt serialisations', () => {
    const s = new ShachainStore();
    for (let i = 0; i < 8; i++) s.insert(secretFromSeed(seed, MAX_SHACHAIN_INDEX - i), MAX_SHACHAIN_INDEX - i);
    const good = s.serialize();
    const tampered = { ...good, entries: good.entries.map((e, i) => (i === 0 ? { ...e, secret: '00'.repeat(32) } : e)) };
    assert.throws(() => ShachainStore.deserialize(tampered), isCode('COURT_E_SHACHAIN_CORRUPT'));
    assert.throws(() => ShachainStore.deserialize({ ...good, v: 2 }), isCode('COURT_E_SHACHAIN_CORRUPT'));
    assert.throws(() => ShachainStore.deserialize({ ...good, next: '5' }), isCode('COURT_E_SHACHAIN_CORRUPT'));
    assert.throws(() => ShachainStore.deserialize(null), isCode('COURT_E_SHACHAIN_CORRUPT'));
    const notHex = { ...good, entries: good.entries.map((e, i) => (i === 0 ? { ...e, secret: 'zz'.repeat(32) } : e)) };
    assert.throws(() => ShachainStore.deserialize(notHex), isCode('COURT_E_SHACHAIN_CORRUPT'));
  });

  it('refuses a serialisation with an entry missing (a received secret would be lost)', () => {
    const s = new ShachainStore();
    for (let i = 0; i < 3; i++) s.insert(secretFromSeed(seed, MAX_SHACHAIN_INDEX - i), MAX_SHACHAIN_INDEX - i);
    const good = s.serialize();
    assert.equal(ShachainStore.deserialize(good).received, 3);
    // Drop the slot-1 entry (index 2^48-2): 2^48-2 and 2^48-1 could no longer be derived.
    const holed = { ...good, entries: good.entries.filter((e) => e.slot !== 1) };
    assert.throws(() => ShachainStore.deserialize(holed), isCode('COURT_E_SHACHAIN_CORRUPT'));
  });

  it('does not reveal stored secrets through JSON.stringify or util.inspect', () => {
    const s = new ShachainStore();
    const secret = secretFromSeed(seed, MAX_SHACHAIN_INDEX);
    s.insert(secret, MAX_SHACHAIN_INDEX);
    for (const text of [JSON.stringify({ s }), inspect(s, { showHidden: true })]) {
      assert.ok(!text.includes(toHex(secret)), text);
      assert.ok(text.includes('1'));
    }
  });

  it('property: any secret other than the true one is refused once the store holds an earlier secret it must derive', () => {
    const seed2 = fromHex('ff'.repeat(32));
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 300 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), (count, junk) => {
        const s = new ShachainStore();
        for (let i = 0; i < count; i++) s.insert(secretFromSeed(seed2, MAX_SHACHAIN_INDEX - i), MAX_SHACHAIN_INDEX - i);
        const idx = MAX_SHACHAIN_INDEX - count;
        const truth = secretFromSeed(seed2, idx);
        if (toHex(junk) === toHex(truth)) return;
        // The store refuses junk exactly when idx's slot covers stored secrets (idx has trailing zero bits).
        const mustCheck = idx % 2 === 0;
        let refused = false;
        try {
          s.insert(junk, idx);
        } catch (e) {
          refused = isCode('COURT_E_SHACHAIN_MISMATCH')(e);
        }
        assert.equal(refused, mustCheck);
      }),
      { seed: Number(process.env['FC_SEED'] ?? 42), numRuns: 60 },
    );
  });
});
