/**
 * BIP32 private derivation, just what the keyring needs: master key from a seed, and hardened / normal child
 * private keys. Checked against the BIP32 test vectors and against bcoin's HD implementation.
 *
 * Private keys here are raw 32-byte arrays held only inside the keyring; nothing in this module logs or
 * formats them.
 */
import { createHmac } from 'node:crypto';
import { inspect } from 'node:util';
import { bigIntToBytes, bytesToBigInt } from '../util/bytes.js';
import { CourtError } from '../util/errors.js';
import { CURVE_N, secp } from './secp.js';

/** Index offset of hardened children. */
export const HARDENED = 0x80000000;

/** A BIP32 node: private key and chain code. */
export interface HdNode {
  readonly privateKey: Uint8Array;
  readonly chainCode: Uint8Array;
}

/** Builds a node that renders as redacted in util.inspect and JSON (it holds a private key). */
function makeNode(privateKey: Uint8Array, chainCode: Uint8Array): HdNode {
  return Object.defineProperties({} as HdNode, {
    privateKey: { value: privateKey, enumerable: false },
    chainCode: { value: chainCode, enumerable: false },
    toJSON: { value: () => '[HdNode redacted]', enumerable: false },
    [inspect.custom]: { value: () => '[HdNode redacted]', enumerable: false },
  });
}

function hmac512(key: Uint8Array | string, data: Uint8Array): Uint8Array {
  return new Uint8Array(createHmac('sha512', key).update(data).digest());
}

/** The master node of a seed (16 to 64 bytes). */
export function masterFromSeed(seed: Uint8Array): HdNode {
  if (!(seed instanceof Uint8Array) || seed.length < 16 || seed.length > 64) {
    throw new CourtError('COURT_E_INVALID_SEED', 'seed must be 16 to 64 bytes');
  }
  const i = hmac512('Bitcoin seed', seed);
  const k = bytesToBigInt(i.subarray(0, 32));
  if (k === 0n || k >= CURVE_N) throw new CourtError('COURT_E_INVALID_SEED', 'seed yields an invalid master key');
  return makeNode(i.slice(0, 32), i.slice(32));
}

/** CKDpriv: the child at `index` (>= HARDENED for hardened children). */
export function deriveChild(node: HdNode, index: number): HdNode {
  if (!Number.isInteger(index) || index < 0 || index > 0xffffffff) {
    throw new CourtError('COURT_E_INVALID_KEY_LOCATOR', 'BIP32 child index out of range', { index });
  }
  const data = new Uint8Array(37);
  if (index >= HARDENED) data.set(node.privateKey, 1);
  else data.set(secp().pointFromScalar(node.privateKey), 0);
  new DataView(data.buffer).setUint32(33, index, false);
  const i = hmac512(node.chainCode, data);
  const il = bytesToBigInt(i.subarray(0, 32));
  const child = (il + bytesToBigInt(node.privateKey)) % CURVE_N;
  // Probability below 2^-127; BIP32 says to skip the index, we refuse it loudly instead.
  if (il >= CURVE_N || child === 0n) throw new CourtError('COURT_E_INVALID_KEY_LOCATOR', 'BIP32 child key is invalid', { index });
  return makeNode(bigIntToBytes(child, 32), i.slice(32));
}

/** Derives along a path of indexes. */
export function derivePath(node: HdNode, path: readonly number[]): HdNode {
  let n = node;
  for (const i of path) n = deriveChild(n, i);
  return n;
}

/** A BIP32 public node (an extended public key without its serialisation): compressed point and chain code. */
export interface HdPublicNode {
  readonly publicKey: Uint8Array;
  readonly chainCode: Uint8Array;
}

/** The public node of a private one (what an xpub holds). */
export function neuter(node: HdNode): HdPublicNode {
  return { publicKey: secp().pointFromScalar(node.privateKey), chainCode: node.chainCode.slice() };
}

/** CKDpub: the normal (non-hardened) child at `index` of a public node; hardened children need the private key. */
export function derivePublicChild(node: HdPublicNode, index: number): HdPublicNode {
  if (!Number.isInteger(index) || index < 0 || index >= HARDENED) {
    throw new CourtError('COURT_E_INVALID_KEY_LOCATOR', 'public BIP32 derivation needs a normal index in 0..2^31-1', { index });
  }
  const data = new Uint8Array(37);
  data.set(node.publicKey, 0);
  new DataView(data.buffer).setUint32(33, index, false);
  const i = hmac512(node.chainCode, data);
  const il = i.subarray(0, 32);
  if (bytesToBigInt(il) >= CURVE_N) throw new CourtError('COURT_E_INVALID_KEY_LOCATOR', 'BIP32 child key is invalid', { index });
  return { publicKey: secp().pointAddScalar(node.publicKey, il.slice()), chainCode: i.slice(32) };
}
