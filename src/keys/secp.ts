/**
 * The secp256k1 port: the only place courtd touches an elliptic-curve library.
 *
 * Two backends implement it: @noble/secp256k1 (pure JS, the product's named dependency) and tiny-secp256k1
 * (libsecp256k1 compiled to wasm). On this machine tiny signs ~2.8x and derives a revocation key ~10x faster
 * (../shared/design/limits.md, and `npm run bench` measures both), which matters at mass-close time, so tiny
 * is the default. `COURTD_SECP=noble` selects the other. A backend is self-tested when it is installed: it must
 * reproduce a BOLT #3 signature and point derivation byte for byte, or installing it throws.
 *
 * Scalar arithmetic mod n (private key tweaks) is plain bigint here; it is cheap and backend-independent.
 * All points are 33-byte compressed; all signatures are 64-byte compact (r || s), low-S, RFC6979.
 */
import * as noble from '@noble/secp256k1';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import * as tiny from 'tiny-secp256k1';
import { bigIntToBytes, bytesToBigInt, fromHex, toHex } from '../util/bytes.js';
import { CourtError } from '../util/errors.js';

/** The group order n. */
export const CURVE_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

/** What courtd needs from secp256k1. Every method throws CourtError on invalid input, never returns garbage. */
export interface Secp256k1 {
  readonly name: 'tiny' | 'noble';
  /** True for a valid 33-byte compressed point. */
  isPoint(p: Uint8Array): boolean;
  /** d*G, compressed. */
  pointFromScalar(d: Uint8Array): Uint8Array;
  /** A + B. */
  pointAdd(a: Uint8Array, b: Uint8Array): Uint8Array;
  /** P + t*G. */
  pointAddScalar(p: Uint8Array, t: Uint8Array): Uint8Array;
  /** t*P. */
  pointMultiply(p: Uint8Array, t: Uint8Array): Uint8Array;
  /** ECDSA over a 32-byte digest: 64-byte compact, low-S, RFC6979. */
  sign(digest: Uint8Array, d: Uint8Array): Uint8Array;
  /** ECDSA verification of a 64-byte compact signature (low-S required). */
  verify(digest: Uint8Array, p: Uint8Array, sig: Uint8Array): boolean;
}

function badPoint(): never {
  throw new CourtError('COURT_E_INVALID_PUBKEY', 'not a valid compressed secp256k1 point');
}
function badScalar(): never {
  throw new CourtError('COURT_E_INVALID_PRIVKEY', 'not a valid secp256k1 scalar');
}
function need33(p: Uint8Array): void {
  if (!(p instanceof Uint8Array) || p.length !== 33 || (p[0] !== 2 && p[0] !== 3)) badPoint();
}
function need32(d: Uint8Array): void {
  if (!(d instanceof Uint8Array) || d.length !== 32) badScalar();
}
function orThrowPoint(r: Uint8Array | null): Uint8Array {
  return r ?? badPoint();
}

const tinyBackend: Secp256k1 = {
  name: 'tiny',
  isPoint: (p) => p instanceof Uint8Array && p.length === 33 && tiny.isPoint(p),
  pointFromScalar(d) {
    need32(d);
    if (!tiny.isPrivate(d)) badScalar();
    return orThrowPoint(tiny.pointFromScalar(d, true));
  },
  pointAdd(a, b) {
    need33(a);
    need33(b);
    if (!tiny.isPoint(a) || !tiny.isPoint(b)) badPoint();
    return orThrowPoint(tiny.pointAdd(a, b, true));
  },
  pointAddScalar(p, t) {
    need33(p);
    need32(t);
    if (!tiny.isPoint(p)) badPoint();
    if (bytesToBigInt(t) >= CURVE_N) badScalar();
    return orThrowPoint(tiny.pointAddScalar(p, t, true));
  },
  pointMultiply(p, t) {
    need33(p);
    need32(t);
    if (!tiny.isPoint(p)) badPoint();
    if (!tiny.isPrivate(t)) badScalar();
    return orThrowPoint(tiny.pointMultiply(p, t, true));
  },
  sign(digest, d) {
    need32(d);
    if (digest.length !== 32) throw new CourtError('COURT_E_INVALID_ARGUMENT', 'digest must be 32 bytes');
    if (!tiny.isPrivate(d)) badScalar();
    return tiny.sign(digest, d);
  },
  verify(digest, p, sig) {
    if (sig.length !== 64 || digest.length !== 32 || !tinyBackend.isPoint(p)) return false;
    try {
      return tiny.verify(digest, p, sig, true);
    } catch {
      return false;
    }
  },
};

let nobleReady = false;
function nobleInit(): void {
  if (nobleReady) return;
  noble.hashes.sha256 = (m) => nobleSha256(m);
  noble.hashes.hmacSha256 = (k, m) => hmac(nobleSha256, k, m);
  nobleReady = true;
}
function noblePoint(p: Uint8Array): noble.Point {
  need33(p);
  try {
    return noble.Point.fromBytes(p);
  } catch {
    return badPoint();
  }
}
function nobleScalar(t: Uint8Array, allowZero: boolean): bigint {
  need32(t);
  const v = bytesToBigInt(t);
  if (v >= CURVE_N || (!allowZero && v === 0n)) badScalar();
  return v;
}

const nobleBackend: Secp256k1 = {
  name: 'noble',
  isPoint(p) {
    if (!(p instanceof Uint8Array) || p.length !== 33) return false;
    try {
      noble.Point.fromBytes(p);
      return true;
    } catch {
      return false;
    }
  },
  pointFromScalar(d) {
    return noble.Point.BASE.multiply(nobleScalar(d, false)).toBytes(true);
  },
  pointAdd(a, b) {
    const r = noblePoint(a).add(noblePoint(b));
    if (r.is0()) badPoint();
    return r.toBytes(true);
  },
  pointAddScalar(p, t) {
    const tv = nobleScalar(t, true);
    const base = noblePoint(p);
    const r = tv === 0n ? base : base.add(noble.Point.BASE.multiply(tv));
    if (r.is0()) badPoint();
    return r.toBytes(true);
  },
  pointMultiply(p, t) {
    return noblePoint(p).multiply(nobleScalar(t, false)).toBytes(true);
  },
  sign(digest, d) {
    nobleInit();
    nobleScalar(d, false);
    if (digest.length !== 32) throw new CourtError('COURT_E_INVALID_ARGUMENT', 'digest must be 32 bytes');
    return noble.sign(digest, d, { prehash: false, lowS: true, format: 'compact' });
  },
  verify(digest, p, sig) {
    nobleInit();
    if (sig.length !== 64 || digest.length !== 32 || !nobleBackend.isPoint(p)) return false;
    try {
      return noble.verify(sig, digest, p, { prehash: false, lowS: true, format: 'compact' });
    } catch {
      return false;
    }
  },
};

/** Every backend by name. */
export const SECP_BACKENDS: Readonly<Record<Secp256k1['name'], Secp256k1>> = Object.freeze({
  tiny: tinyBackend,
  noble: nobleBackend,
});

// Known-answer self-test: the BOLT #3 Appendix E basepoint derives from its secret, signatures are the same as
// the reference backend's (RFC6979 is deterministic) and verify, and points with x >= p or x = 0 are refused.
const KAT = {
  secret: '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f',
  point: '036d6caac248af96f6afa7f904f550253a0f3ef3f5aa2fe6838a95b216691468e2',
  digest: '9ef3eb7a5d7c3f2e5b9b6d9fb0d3f3a1c9b8e2e9b8c7a6f5e4d3c2b1a0f9e8d7',
};

/** Runs a backend through a known-answer test: sign/verify round trip, a point derivation, rejection of junk. */
export function selfTest(b: Secp256k1): void {
  const secret = fromHex(KAT.secret);
  const digest = fromHex(KAT.digest);
  const p = b.pointFromScalar(secret);
  const ok =
    toHex(p) === KAT.point &&
    b.verify(digest, p, b.sign(digest, secret)) &&
    toHex(b.sign(digest, secret)) === toHex(tinyBackend.sign(digest, secret)) &&
    !b.isPoint(new Uint8Array(33).fill(0xff).fill(2, 0, 1)) &&
    !b.isPoint(new Uint8Array(33).fill(0).fill(3, 0, 1)) &&
    toHex(b.pointAddScalar(p, secret)) === toHex(b.pointMultiply(p, bigIntToBytes(2n, 32)));
  if (!ok) throw new CourtError('COURT_E_CRYPTO_BACKEND', `secp256k1 backend ${b.name} failed its self-test`);
}

function pick(): Secp256k1 {
  const want = process.env['COURTD_SECP'];
  const b = want === 'noble' ? nobleBackend : tinyBackend;
  selfTest(b);
  return b;
}

let active: Secp256k1 = pick();

/** The backend in use. */
export function secp(): Secp256k1 {
  return active;
}

/** Installs a backend after its self-test passes (tests and benchmarks compare both). */
export function useSecp(name: Secp256k1['name']): Secp256k1 {
  const b = SECP_BACKENDS[name];
  selfTest(b);
  active = b;
  return b;
}

/** (a + b) mod n as 32 bytes; throws when the result is zero. */
export function scalarAdd(a: Uint8Array, b: Uint8Array): Uint8Array {
  const r = (nobleScalar(a, true) + nobleScalar(b, true)) % CURVE_N;
  if (r === 0n) badScalar();
  return bigIntToBytes(r, 32);
}

/** (a * b) mod n as 32 bytes; throws when the result is zero. */
export function scalarMul(a: Uint8Array, b: Uint8Array): Uint8Array {
  const r = (nobleScalar(a, false) * nobleScalar(b, false)) % CURVE_N;
  if (r === 0n) badScalar();
  return bigIntToBytes(r, 32);
}

/** Throws COURT_E_INVALID_PUBKEY, naming `what`, unless `k` is a valid compressed point. */
export function checkPubkey(k: Uint8Array, what: string): Uint8Array {
  if (!active.isPoint(k)) throw new CourtError('COURT_E_INVALID_PUBKEY', `${what} is not a valid compressed point`, { key: what });
  return k;
}

/** True for a 32-byte scalar in 1 .. n-1. */
export function isValidScalar(d: Uint8Array): boolean {
  if (!(d instanceof Uint8Array) || d.length !== 32) return false;
  const v = bytesToBigInt(d);
  return v > 0n && v < CURVE_N;
}
