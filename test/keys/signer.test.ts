/** The Signer port over a local keyring: plain, single-tweak and revocation (double-tweak) keys. */
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { describe, it } from 'node:test';
import { derivePubkey, deriveRevocationPubkey, perCommitmentPoint, singleTweak } from '../../src/keys/derive.js';
import { KeyFamily, KeyRing } from '../../src/keys/keyring.js';
import { secp } from '../../src/keys/secp.js';
import { LocalSigner } from '../../src/keys/signer.js';
import { sha256, toHex } from '../../src/util/bytes.js';
import { Transaction } from 'bitcoinjs-lib';
import { segwitV0Sighash, SIGHASH_ALL } from '../../src/keys/sighash.js';
import { decodeSig } from '../../src/keys/signature.js';
import { CourtError } from '../../src/util/errors.js';

const ring = KeyRing.fromSeed(sha256(Uint8Array.of(1, 2, 3)), 1);
const signer = new LocalSigner(ring);
const digest = sha256(Uint8Array.of(9));
const pcSecret = sha256(Uint8Array.of(7));
const pcp = perCommitmentPoint(pcSecret);

describe('LocalSigner', () => {
  it('signs with the plain key of a locator', async () => {
    const key = { locator: { family: KeyFamily.MultiSig, index: 0 } };
    const [sig] = await signer.signDigests([{ key, digest }]);
    assert.ok(secp().verify(digest, ring.publicKey(key.locator), sig as Uint8Array));
  });

  it('signs with basepoint secret + SHA256(point || basepoint) for a single tweak', async () => {
    const loc = { family: KeyFamily.HtlcBase, index: 4 };
    const basepoint = ring.publicKey(loc);
    const key = { locator: loc, singleTweak: singleTweak(pcp, basepoint) };
    const pub = await signer.publicKey(key);
    assert.equal(toHex(pub), toHex(derivePubkey(basepoint, pcp)));
    const [sig] = await signer.signDigests([{ key, digest }]);
    assert.ok(secp().verify(digest, pub, sig as Uint8Array));
    assert.ok(!secp().verify(digest, basepoint, sig as Uint8Array));
  });

  it('signs with the revocation private key for a double tweak (the revealed per-commitment secret)', async () => {
    const loc = { family: KeyFamily.RevocationBase, index: 2 };
    const key = { locator: loc, doubleTweak: pcSecret };
    const expected = deriveRevocationPubkey(ring.publicKey(loc), pcp);
    assert.equal(toHex(await signer.publicKey(key)), toHex(expected));
    const sigs = await signer.signDigests([{ key, digest }, { key, digest: sha256(digest) }]);
    assert.ok(secp().verify(digest, expected, sigs[0] as Uint8Array));
    assert.ok(secp().verify(sha256(digest), expected, sigs[1] as Uint8Array));
  });

  it('refuses malformed requests with typed errors', async () => {
    const loc = { family: 1, index: 0 };
    const isArg = (e: unknown) => e instanceof CourtError && e.code === 'COURT_E_INVALID_ARGUMENT';
    await assert.rejects(signer.signDigests([{ key: { locator: loc }, digest: new Uint8Array(31) }]), isArg);
    await assert.rejects(signer.publicKey({ locator: loc, singleTweak: new Uint8Array(32), doubleTweak: pcSecret }), isArg);
    await assert.rejects(signer.publicKey({ locator: loc, singleTweak: new Uint8Array(5) }), isArg);
    await assert.rejects(
      signer.publicKey({ locator: { family: 1, index: -3 } }),
      (e: unknown) => e instanceof CourtError && e.code === 'COURT_E_INVALID_KEY_LOCATOR',
    );
  });

  it('signs a transaction input with a tweaked key: the digest is its own BIP143, the signature DER + sighash byte', async () => {
    const loc = { family: KeyFamily.DelayBase, index: 1 };
    const basepoint = ring.publicKey(loc);
    const key = { locator: loc, singleTweak: singleTweak(pcp, basepoint) };
    const tx = new Transaction();
    tx.version = 2;
    tx.addInput(new Uint8Array(32).fill(7), 1, 144);
    tx.addOutput(Uint8Array.of(0x00, 0x14, ...new Uint8Array(20)), 50_000n);
    const scriptCode = Uint8Array.of(0x51);
    const [der] = await signer.signInputs([{ key, tx, inputIndex: 0, scriptCode, valueSat: 60_000n, sighashType: SIGHASH_ALL }]);
    const { compact, hashType } = decodeSig(der as Uint8Array);
    assert.equal(hashType, SIGHASH_ALL);
    const digest = segwitV0Sighash(tx, 0, scriptCode, 60_000n, SIGHASH_ALL);
    assert.ok(secp().verify(digest, derivePubkey(basepoint, pcp), compact));
    const isArg = (e: unknown) => e instanceof CourtError && e.code === 'COURT_E_INVALID_ARGUMENT';
    await assert.rejects(signer.signInputs([{ key, tx, inputIndex: 1, scriptCode, valueSat: 1n, sighashType: SIGHASH_ALL }]), isArg);
    await assert.rejects(signer.signInputs([{ key, tx, inputIndex: 0, scriptCode, valueSat: 1n, sighashType: 0x04 }]), isArg);
    await assert.rejects(
      signer.signInputs([{ key, tx, inputIndex: 0, scriptCode, valueSat: -1n, sighashType: SIGHASH_ALL }]),
      (e: unknown) => e instanceof CourtError && e.code === 'COURT_E_INVALID_AMOUNT',
    );
  });

  it('renders as redacted', () => {
    assert.ok(inspect(signer, { showHidden: true }).includes('redacted'));
    assert.ok(JSON.stringify({ signer }).includes('redacted'));
  });
});
