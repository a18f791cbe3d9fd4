/** BIP32 derivation, lnd's key families, the seed file, and that no key material leaks through rendering. */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { describe, it } from 'node:test';
import { deriveChild, derivePath, HARDENED, masterFromSeed } from '../../src/keys/bip32.js';
import { KeyFamily, KeyRing, locatorPath } from '../../src/keys/keyring.js';
import { loadOrCreateSeed, readSeed } from '../../src/keys/seedfile.js';
import { fromHex, toHex } from '../../src/util/bytes.js';
import { CourtError } from '../../src/util/errors.js';

const require = createRequire(import.meta.url);
const bcoin = require('bcoin');
const isCode = (code: string) => (e: unknown) => e instanceof CourtError && e.code === code;
const H = (n: number): number => n + HARDENED;

describe('BIP32', () => {
  it('test vector 1: m/0H/1/2H/2/1000000000 private keys', () => {
    const m = masterFromSeed(fromHex('000102030405060708090a0b0c0d0e0f'));
    assert.equal(toHex(m.privateKey), 'e8f32e723decf4051aefac8e2c93c9c5b214313817cdb01a1494b917c8436b35');
    assert.equal(toHex(m.chainCode), '873dff81c02f525623fd1fe5167eac3a55a049de3d314bb42ee227ffed37d508');
    const steps: Array<[number, string]> = [
      [H(0), 'edb2e14f9ee77d26dd93b4ecede8d16ed408ce149b6cd80b0715a2d911a0afea'],
      [1, '3c6cb8d0f6a264c91ea8b5030fadaa8e538b020f0a387421a12de9319dc93368'],
      [H(2), 'cbce0d719ecf7431d88e6a89fa1483e02e35092af60c042b1df2ff59fa424dca'],
      [2, '0f479245fb19a38a1954c5c7c0ebab2f9bdfd96a17563ef28a6a4b1a2a764ef4'],
      [1000000000, '471b76e389e528d6de6d816857e012c5455051cad6660850e58372a6c3e6e7c8'],
    ];
    let n = m;
    for (const [i, want] of steps) {
      n = deriveChild(n, i);
      assert.equal(toHex(n.privateKey), want);
    }
  });

  it('agrees with bcoin on lnd paths for random seeds', () => {
    for (let s = 0; s < 5; s++) {
      const seed = fromHex(((s + 1) * 0x1f).toString(16).padStart(2, '0').repeat(32));
      const ours = derivePath(masterFromSeed(seed), locatorPath(1, { family: s, index: 7 * s }));
      const theirs = bcoin.HDPrivateKey.fromSeed(Buffer.from(seed)).derivePath(`m/1017'/1'/${s}'/0/${7 * s}`);
      assert.equal(toHex(ours.privateKey), theirs.privateKey.toString('hex'));
    }
  });

  it('refuses seeds of the wrong size and indexes out of range', () => {
    assert.throws(() => masterFromSeed(new Uint8Array(15)), isCode('COURT_E_INVALID_SEED'));
    assert.throws(() => masterFromSeed(new Uint8Array(65)), isCode('COURT_E_INVALID_SEED'));
    const m = masterFromSeed(new Uint8Array(32).fill(1));
    assert.throws(() => deriveChild(m, 2 ** 32), isCode('COURT_E_INVALID_KEY_LOCATOR'));
    assert.throws(() => deriveChild(m, -1), isCode('COURT_E_INVALID_KEY_LOCATOR'));
  });
});

describe('KeyRing', () => {
  const seed = fromHex('5eed'.repeat(16));
  const ring = KeyRing.fromSeed(seed, 0);

  it("derives m/1017'/coin'/family'/0/index, cached, distinct per family and coin type", () => {
    const loc = { family: KeyFamily.RevocationBase, index: 3 };
    const direct = derivePath(masterFromSeed(seed), [H(1017), H(0), H(1), 0, 3]);
    assert.equal(toHex(ring.privateKey(loc)), toHex(direct.privateKey));
    assert.equal(toHex(ring.publicKey(loc)), toHex(ring.publicKey(loc)));
    assert.notEqual(toHex(ring.publicKey(loc)), toHex(ring.publicKey({ family: KeyFamily.HtlcBase, index: 3 })));
    assert.notEqual(toHex(ring.publicKey(loc)), toHex(KeyRing.fromSeed(seed, 1).publicKey(loc)));
  });

  it('refuses bad seeds and locators', () => {
    assert.throws(() => KeyRing.fromSeed(new Uint8Array(31)), isCode('COURT_E_INVALID_SEED'));
    assert.throws(() => ring.publicKey({ family: -1, index: 0 }), isCode('COURT_E_INVALID_KEY_LOCATOR'));
    assert.throws(() => ring.publicKey({ family: 0, index: HARDENED }), isCode('COURT_E_INVALID_KEY_LOCATOR'));
    assert.throws(() => ring.publicKey({ family: 0, index: 1.5 }), isCode('COURT_E_INVALID_KEY_LOCATOR'));
  });

  it('hands out copies: a caller zeroing its key does not change what the keyring signs with', () => {
    const loc = { family: KeyFamily.HtlcBase, index: 9 };
    const before = toHex(ring.privateKey(loc));
    ring.privateKey(loc).fill(0x11);
    ring.publicKey(loc).fill(0x22);
    assert.equal(toHex(ring.privateKey(loc)), before);
    assert.equal(toHex(ring.publicKey(loc)).slice(0, 4) === '2222', false);
  });

  it('BIP32 nodes render as redacted', () => {
    const m = masterFromSeed(seed);
    const priv = toHex(m.privateKey);
    for (const text of [inspect(m, { showHidden: true }), JSON.stringify({ m })]) assert.ok(!text.includes(priv) && text.includes('redacted'));
  });

  it('renders as redacted in inspect, JSON and string form', () => {
    const priv = toHex(ring.privateKey({ family: 0, index: 0 }));
    for (const text of [inspect(ring, { showHidden: true, depth: 10 }), JSON.stringify({ ring }), String(ring)]) {
      assert.ok(text.includes('redacted'));
      assert.ok(!text.includes(toHex(seed)) && !text.includes(priv));
    }
  });
});

describe('seed file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'courtd-seed-'));

  it('is created 0600 on first use and read back the same afterwards', () => {
    const p = join(dir, 'seed');
    const first = loadOrCreateSeed(p);
    assert.equal(first.created, true);
    assert.equal(statSync(p).mode & 0o777, 0o600);
    const again = loadOrCreateSeed(p);
    assert.equal(again.created, false);
    assert.equal(toHex(again.seed), toHex(first.seed));
  });

  it('is refused when group/others can read it, or when malformed, without echoing its content', () => {
    const p = join(dir, 'loose');
    const content = 'ab'.repeat(32);
    writeFileSync(p, content, { mode: 0o644 });
    chmodSync(p, 0o644);
    assert.throws(() => readSeed(p), (e: unknown) => isCode('COURT_E_INVALID_SEED')(e) && !String(e).includes(content));
    const q = join(dir, 'short');
    writeFileSync(q, 'ab'.repeat(31) + 'zz', { mode: 0o600 });
    assert.throws(() => readSeed(q), (e: unknown) => isCode('COURT_E_INVALID_SEED')(e) && !String(e).includes(readFileSync(q, 'utf8')));
  });
});
