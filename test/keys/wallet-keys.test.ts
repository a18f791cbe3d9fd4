/** courtd's BIP84 wallet keys: m/84'/coin'/0'/chain/index in the keyring, public derivation, signing by the Signer. */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { inspect } from 'node:util';
import { describe, it } from 'node:test';
import { derivePublicChild, HARDENED } from '../../src/keys/bip32.js';
import { KeyRing } from '../../src/keys/keyring.js';
import { secp } from '../../src/keys/secp.js';
import { LocalSigner } from '../../src/keys/signer.js';
import { fromHex, sha256, toHex } from '../../src/util/bytes.js';
import { CourtError } from '../../src/util/errors.js';

const require = createRequire(import.meta.url);
const bcoin = require('bcoin');
const isCode = (code: string) => (e: unknown) => e instanceof CourtError && e.code === code;

describe('BIP84 wallet keys', () => {
  it("derive m/84'/coin'/0'/chain/index as bcoin does, for both coin types and chains", () => {
    for (const coin of [0, 1] as const) {
      const seed = fromHex(`${coin}a`.repeat(32));
      const ring = KeyRing.fromSeed(seed, coin);
      for (const chain of [0, 1] as const) {
        for (const index of [0, 1, 19, 1000]) {
          const theirs = bcoin.HDPrivateKey.fromSeed(Buffer.from(seed)).derivePath(`m/84'/${coin}'/0'/${chain}/${index}`);
          assert.equal(toHex(ring.walletPrivateKey({ chain, index })), theirs.privateKey.toString('hex'));
          assert.equal(toHex(ring.walletPublicKey({ chain, index })), theirs.publicKey.toString('hex'));
        }
      }
    }
  });

  it('public derivation from the account node gives the same keys (no private key needed for addresses)', () => {
    const ring = KeyRing.fromSeed(sha256(Uint8Array.of(4)), 1);
    const account = ring.walletAccountPublic();
    for (const chain of [0, 1] as const) {
      const c = derivePublicChild(account, chain);
      for (let index = 0; index < 5; index++) {
        assert.equal(toHex(derivePublicChild(c, index).publicKey), toHex(ring.walletPublicKey({ chain, index })));
      }
    }
    assert.throws(() => derivePublicChild(account, HARDENED), isCode('COURT_E_INVALID_KEY_LOCATOR'));
    assert.equal(JSON.stringify(account).includes('privateKey'), false);
  });

  it('are distinct from the lnd-layout keys and refuse bad paths', () => {
    const ring = KeyRing.fromSeed(sha256(Uint8Array.of(5)), 0);
    assert.notEqual(toHex(ring.walletPublicKey({ chain: 0, index: 0 })), toHex(ring.publicKey({ family: 0, index: 0 })));
    assert.notEqual(toHex(ring.walletPublicKey({ chain: 0, index: 0 })), toHex(ring.walletPublicKey({ chain: 1, index: 0 })));
    assert.throws(() => ring.walletPublicKey({ chain: 2 as 0, index: 0 }), isCode('COURT_E_INVALID_KEY_LOCATOR'));
    assert.throws(() => ring.walletPublicKey({ chain: 0, index: -1 }), isCode('COURT_E_INVALID_KEY_LOCATOR'));
    assert.throws(() => ring.walletPublicKey({ chain: 0, index: HARDENED }), isCode('COURT_E_INVALID_KEY_LOCATOR'));
  });

  it('are signed for by the Signer with a wallet descriptor; a descriptor mixing a wallet path and a tweak is refused', async () => {
    const ring = KeyRing.fromSeed(sha256(Uint8Array.of(6)), 1);
    const signer = new LocalSigner(ring);
    const digest = sha256(Uint8Array.of(1));
    const key = { wallet: { chain: 1 as const, index: 3 } };
    const [sig] = await signer.signDigests([{ key, digest }]);
    assert.ok(secp().verify(digest, ring.walletPublicKey(key.wallet), sig as Uint8Array));
    assert.equal(toHex(await signer.publicKey(key)), toHex(ring.walletPublicKey(key.wallet)));
    const mixed = { wallet: { chain: 0 as const, index: 0 }, singleTweak: new Uint8Array(32) };
    await assert.rejects(signer.signDigests([{ key: mixed, digest }]), isCode('COURT_E_INVALID_ARGUMENT'));
    await assert.rejects(signer.signDigests([{ key: { wallet: { chain: 0 as const, index: -2 } }, digest }]), isCode('COURT_E_INVALID_KEY_LOCATOR'));
    assert.equal(inspect(ring).includes(toHex(ring.walletPrivateKey(key.wallet))), false);
  });
});
