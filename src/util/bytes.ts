/**
 * Byte helpers. All binary data is `Uint8Array`; hex is lower case without prefix. Hashing goes through
 * node:crypto, which is native and several times faster than pure-JS hashing on the hot paths here.
 */
import { createHash } from 'node:crypto';
import { CourtError } from './errors.js';

const HEX_RE = /^(?:[0-9a-fA-F]{2})*$/;

/** Decodes hex into bytes; throws COURT_E_INVALID_ARGUMENT on odd length or a non-hex character. */
export function fromHex(hex: string, what = 'hex'): Uint8Array {
  if (!HEX_RE.test(hex)) throw new CourtError('COURT_E_INVALID_ARGUMENT', `${what} is not even-length hex`);
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

/** Encodes bytes as lower-case hex. */
export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

/** Concatenates byte arrays. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Byte-wise equality. */
export function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** memcmp over the common prefix, then the shorter first (BIP69 scriptPubKey order). */
export function compare(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] as number) - (b[i] as number);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/** SHA-256. */
export function sha256(...parts: Uint8Array[]): Uint8Array {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

/** Double SHA-256. */
export function sha256d(data: Uint8Array): Uint8Array {
  return sha256(sha256(data));
}

/** RIPEMD-160. */
export function ripemd160(data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('ripemd160').update(data).digest());
}

/** RIPEMD-160(SHA-256(data)). */
export function hash160(data: Uint8Array): Uint8Array {
  return ripemd160(sha256(data));
}

/** Reverses a byte array into a new one (txid display order <-> internal order). */
export function reversed(b: Uint8Array): Uint8Array {
  const out = new Uint8Array(b.length);
  for (let i = 0; i < b.length; i++) out[i] = b[b.length - 1 - i] as number;
  return out;
}

/** Big-endian bytes -> bigint. */
export function bytesToBigInt(b: Uint8Array): bigint {
  return b.length === 0 ? 0n : BigInt('0x' + toHex(b));
}

/** bigint -> big-endian bytes of fixed `len`. The value must fit. */
export function bigIntToBytes(v: bigint, len: number): Uint8Array {
  if (v < 0n) throw new RangeError('negative value');
  const hex = v.toString(16).padStart(len * 2, '0');
  if (hex.length > len * 2) throw new RangeError('value too large');
  return fromHex(hex);
}
