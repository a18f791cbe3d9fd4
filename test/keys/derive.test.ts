/** BOLT #3 Appendix E key derivation vectors, on both secp256k1 backends, plus invalid-key refusals. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  derivePrivkey,
  derivePubkey,
  deriveRevocationPrivkey,
  deriveRevocationPubkey,
  perCommitmentPoint,
} from '../../src/keys/derive.js';
import { secp, useSecp } from '../../src/keys/secp.js';
import { fromHex, toHex } from '../../src/util/bytes.js';
import { CourtError } from '../../src/util/errors.js';
import { loadVector } from '../helpers/bolt3.js';

const v = loadVector('key-derivation.json');
const c = v.common;
const caseNamed = (frag: string): any => {
  const found = v.cases.find((x: any) => x.name.includes(frag));
  assert.ok(found, frag);
  return found;
};
const isCode = (code: string) => (e: unknown) => e instanceof CourtError && e.code === code;

for (const backend of ['tiny', 'noble'] as const) {
  describe(`BOLT #3 Appendix E key derivation (${backend})`, () => {
    let previous = secp().name;
    before(() => {
      previous = secp().name;
      useSecp(backend);
    });
    after(() => useSecp(previous));

    it('runs on the backend it names', () => assert.equal(secp().name, backend));

    it('has the 4 vectors', () => assert.equal(v.cases.length, 4));

    it('per_commitment_point and basepoint come from their secrets', () => {
      assert.equal(toHex(perCommitmentPoint(fromHex(c.per_commitment_secret))), c.per_commitment_point);
      assert.equal(toHex(secp().pointFromScalar(fromHex(c.base_secret))), c.base_point);
    });

    it('derives localpubkey', () => {
      const k = caseNamed('derivation of pubkey');
      assert.equal(toHex(derivePubkey(fromHex(c.base_point), fromHex(c.per_commitment_point))), k.expected_localpubkey);
    });

    it('derives localprivkey matching localpubkey', () => {
      const k = caseNamed('derivation of private key');
      const priv = derivePrivkey(fromHex(c.base_secret), fromHex(c.per_commitment_point));
      assert.equal(toHex(priv), k.expected_localprivkey);
      assert.equal(toHex(secp().pointFromScalar(priv)), caseNamed('derivation of pubkey').expected_localpubkey);
    });

    it('derives revocationpubkey', () => {
      const k = caseNamed('revocation pubkey');
      assert.equal(toHex(deriveRevocationPubkey(fromHex(c.base_point), fromHex(c.per_commitment_point))), k.expected_revocationpubkey);
    });

    it('derives revocationprivkey matching revocationpubkey', () => {
      const k = caseNamed('revocation secret');
      const priv = deriveRevocationPrivkey(fromHex(c.base_secret), fromHex(c.per_commitment_secret));
      assert.equal(toHex(priv), k.expected_revocationprivkey);
      assert.equal(toHex(secp().pointFromScalar(priv)), caseNamed('revocation pubkey').expected_revocationpubkey);
    });

    it('refuses keys that are not on the curve', () => {
      const offCurve = fromHex('02' + '00'.repeat(32)); // x = 0 has no point on secp256k1
      const xTooBig = fromHex('03' + 'ff'.repeat(32)); // x >= p
      const uncompressed = fromHex('04' + '11'.repeat(64));
      for (const bad of [offCurve, xTooBig, uncompressed, new Uint8Array(32)]) {
        assert.throws(() => derivePubkey(bad, fromHex(c.per_commitment_point)), isCode('COURT_E_INVALID_PUBKEY'));
        assert.throws(() => deriveRevocationPubkey(fromHex(c.base_point), bad), isCode('COURT_E_INVALID_PUBKEY'));
      }
    });

    it('refuses zero and out-of-range secrets', () => {
      assert.throws(() => perCommitmentPoint(new Uint8Array(32)), isCode('COURT_E_INVALID_PRIVKEY'));
      assert.throws(() => perCommitmentPoint(fromHex('ff'.repeat(32))), isCode('COURT_E_INVALID_PRIVKEY'));
      assert.throws(() => perCommitmentPoint(new Uint8Array(31).fill(1)), isCode('COURT_E_INVALID_PRIVKEY'));
    });

    it('never puts key material into error messages', () => {
      const secret = 'ff'.repeat(32);
      try {
        perCommitmentPoint(fromHex(secret));
        assert.fail('should throw');
      } catch (e) {
        assert.ok(e instanceof CourtError);
        assert.ok(!e.message.includes(secret) && !JSON.stringify(e.details).includes(secret));
      }
    });
  });
}
