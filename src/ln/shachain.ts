/**
 * Per-commitment secrets (BOLT #3 "Per-commitment Secret Requirements").
 *
 * The sender derives secret I from a 32-byte seed by flipping bits of the seed from bit 47 down to 0 and hashing
 * after each flip that I has set. Secrets are used from index 2^48-1 downwards. The receiver keeps at most 49
 * secrets (one per count of trailing zero bits of the index) from which every secret received so far can be
 * re-derived, and refuses any secret that is inconsistent with those it holds.
 *
 * Indexes are numbers below 2^48 (exact in a JS number); bit operations run on bigint.
 */
import { inspect } from 'node:util';
import { equal, fromHex, sha256, toHex } from '../util/bytes.js';
import { CourtError } from '../util/errors.js';

/** Largest per-commitment index (the first one used). */
export const MAX_SHACHAIN_INDEX = 2 ** 48 - 1;
const SLOTS = 49;

function checkIndex(index: number): bigint {
  if (!Number.isSafeInteger(index) || index < 0 || index > MAX_SHACHAIN_INDEX) {
    throw new CourtError('COURT_E_COMMITMENT_NUMBER', 'per-commitment index outside 0 .. 2^48-1', { index });
  }
  return BigInt(index);
}

function check32(b: Uint8Array, what: string): void {
  if (!(b instanceof Uint8Array) || b.length !== 32) {
    throw new CourtError('COURT_E_INVALID_ARGUMENT', `${what} must be 32 bytes`);
  }
}

/** Flips bits 47-bits .. 0 of `base` as set in `index`, hashing after each flip (the spec's derive). */
function derive(base: Uint8Array, bits: number, index: bigint): Uint8Array {
  let p: Uint8Array = base.slice();
  for (let b = bits - 1; b >= 0; b--) {
    if ((index >> BigInt(b)) & 1n) {
      p[b >> 3] = (p[b >> 3] as number) ^ (1 << (b & 7));
      p = sha256(p);
    }
  }
  return p;
}

/** The per-commitment secret at `index` from a 32-byte seed (generate_from_seed). */
export function secretFromSeed(seed: Uint8Array, index: number): Uint8Array {
  check32(seed, 'shachain seed');
  return derive(seed, 48, checkIndex(index));
}

/** Count of trailing zero bits of a 48-bit index; 48 for index 0 (the slot of a secret). */
function slotOf(index: bigint): number {
  for (let i = 0; i < 48; i++) if ((index >> BigInt(i)) & 1n) return i;
  return 48;
}

interface Entry {
  readonly index: bigint;
  readonly secret: Uint8Array;
}

/** The serialised form kept in the briefcase (versioned JSON). */
export interface ShachainStoreJson {
  readonly v: 1;
  /** Next index the store expects (the last inserted minus one), as a decimal string. */
  readonly next: string;
  readonly entries: ReadonlyArray<{ readonly slot: number; readonly index: string; readonly secret: string }>;
}

/**
 * The receiver's compact store. Secrets must arrive in order (2^48-1, then each one less); a secret that does
 * not re-derive every stored one is refused with COURT_E_SHACHAIN_MISMATCH and the store is left unchanged.
 */
export class ShachainStore {
  readonly #known: Array<Entry | undefined> = new Array<Entry | undefined>(SLOTS).fill(undefined);
  #next: bigint = BigInt(MAX_SHACHAIN_INDEX);

  /** Number of secrets received so far. */
  get received(): number {
    return Number(BigInt(MAX_SHACHAIN_INDEX) - this.#next);
  }

  /** The index the next secret must have (undefined once index 0 was received). */
  get nextIndex(): number | undefined {
    return this.#next < 0n ? undefined : Number(this.#next);
  }

  /** insert_secret: stores `secret` for `index` after checking it against every stored secret. */
  insert(secret: Uint8Array, index: number): void {
    check32(secret, 'per-commitment secret');
    const idx = checkIndex(index);
    if (idx !== this.#next) {
      throw new CourtError('COURT_E_SHACHAIN_INDEX', 'per-commitment secret out of order', {
        index,
        expected: this.nextIndex ?? -1,
      });
    }
    const slot = slotOf(idx);
    const conflict = this.#conflict(secret, slot);
    if (conflict !== undefined) {
      throw new CourtError('COURT_E_SHACHAIN_MISMATCH', 'per-commitment secret cannot derive an earlier one', {
        index,
        conflictsWithIndex: Number(conflict.index),
      });
    }
    this.#known[slot] = { index: idx, secret: secret.slice() };
    this.#next = idx - 1n;
  }

  /** A stored entry in a slot below `slot` that `secret` (for that slot) fails to re-derive (insert_secret's check). */
  #conflict(secret: Uint8Array, slot: number): Entry | undefined {
    for (let i = 0; i < slot; i++) {
      const k = this.#known[i];
      if (k !== undefined && !equal(derive(secret, slot, k.index), k.secret)) return k;
    }
    return undefined;
  }

  /** The stored entry from which `idx` derives, with its slot. */
  #cover(idx: bigint): { index: bigint; slot: number; secret: Uint8Array } | undefined {
    for (let i = 0; i < SLOTS; i++) {
      const k = this.#known[i];
      if (k === undefined) continue;
      const mask = ~((1n << BigInt(i)) - 1n) & ((1n << 48n) - 1n);
      if ((idx & mask) === k.index) return { index: k.index, slot: i, secret: k.secret };
    }
    return undefined;
  }

  /** The secret for `index` if it was received (directly or derivable), else throws COURT_E_SHACHAIN_UNKNOWN. */
  lookup(index: number): Uint8Array {
    const idx = checkIndex(index);
    const c = this.#cover(idx);
    if (c !== undefined) return derive(c.secret, c.slot, idx);
    throw new CourtError('COURT_E_SHACHAIN_UNKNOWN', 'no per-commitment secret for that index', { index });
  }

  /** Like lookup, but undefined instead of throwing. */
  tryLookup(index: number): Uint8Array | undefined {
    try {
      return this.lookup(index);
    } catch (e) {
      if (e instanceof CourtError && e.code === 'COURT_E_SHACHAIN_UNKNOWN') return undefined;
      throw e;
    }
  }

  /** Versioned JSON for the briefcase (holds the secrets: store it, never log it). */
  serialize(): ShachainStoreJson {
    const entries: Array<{ slot: number; index: string; secret: string }> = [];
    this.#known.forEach((k, slot) => {
      if (k !== undefined) entries.push({ slot, index: k.index.toString(), secret: toHex(k.secret) });
    });
    return { v: 1, next: this.#next.toString(), entries };
  }

  /** Logs and JSON.stringify see a summary only; serialize() is the briefcase form. */
  toJSON(): { received: number; nextIndex: number | null } {
    return { received: this.received, nextIndex: this.nextIndex ?? null };
  }

  [inspect.custom](): string {
    return `ShachainStore { received: ${this.received} }`;
  }

  /** Rebuilds a store from serialize()'s output, re-checking every invariant; COURT_E_SHACHAIN_CORRUPT if any fails. */
  static deserialize(json: unknown): ShachainStore {
    const bad = (why: string): never => {
      throw new CourtError('COURT_E_SHACHAIN_CORRUPT', `shachain store does not decode: ${why}`);
    };
    if (typeof json !== 'object' || json === null) return bad('not an object');
    const j = json as Partial<ShachainStoreJson>;
    if (j.v !== 1) return bad('unknown version');
    if (typeof j.next !== 'string' || !/^-?\d+$/.test(j.next)) return bad('bad next index');
    if (!Array.isArray(j.entries)) return bad('entries missing');
    // Re-insert in index order (descending) so that every consistency check runs again.
    const entries = [...j.entries]
      .map((e) => {
        if (typeof e?.index !== 'string' || !/^\d+$/.test(e.index) || typeof e.secret !== 'string') {
          return bad('bad entry');
        }
        if (!/^[0-9a-fA-F]{64}$/.test(e.secret)) return bad('bad secret');
        return { slot: e.slot, index: BigInt(e.index), secret: fromHex(e.secret, 'secret') };
      })
      .sort((a, b) => (a.index > b.index ? -1 : a.index < b.index ? 1 : 0));
    const s = new ShachainStore();
    const next = BigInt(j.next);
    if (next < -1n || next > BigInt(MAX_SHACHAIN_INDEX)) return bad('next index out of range');
    for (const e of entries) {
      const slot = slotOf(e.index);
      if (slot !== e.slot || e.secret.length !== 32 || e.index > BigInt(MAX_SHACHAIN_INDEX)) return bad('bad entry');
      if (s.#known[slot] !== undefined) return bad('duplicate slot');
      if (s.#conflict(e.secret, slot) !== undefined) return bad('inconsistent');
      s.#known[slot] = { index: e.index, secret: e.secret };
    }
    const lowest = entries.length === 0 ? BigInt(MAX_SHACHAIN_INDEX) + 1n : (entries[entries.length - 1]?.index ?? 0n);
    if (next !== lowest - 1n) return bad('next index does not follow the stored secrets');
    // Every index from the lowest received up to 2^48-1 must be derivable: walk the covering entries.
    let at = lowest;
    while (at <= BigInt(MAX_SHACHAIN_INDEX)) {
      const cover = s.#cover(at);
      if (cover === undefined) return bad('a received secret is missing');
      at = cover.index + (1n << BigInt(cover.slot));
    }
    s.#next = next;
    return s;
  }
}
