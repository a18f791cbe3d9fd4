/**
 * BOLT #3 scripts ("Transaction Output" sections), assembled directly as bytes: these run once per HTLC per
 * commitment, and hand assembly is several times cheaper than a generic compiler. Every template is checked
 * byte for byte against the scripts the vectors list (test/ln/commitment.test.ts) and, through their P2WSH
 * hashes, against every vector transaction (test/ln/commitment.vectors.test.ts).
 *
 * Keys are checked for being valid compressed points by the callers that take them from outside
 * (commitment.ts validates once per commitment); these builders check sizes only.
 */
import { concat, hash160, ripemd160, sha256 } from '../util/bytes.js';
import { CourtError } from '../util/errors.js';

/** Opcodes used by BOLT #3 scripts. */
export const OP = Object.freeze({
  OP_0: 0x00,
  OP_1: 0x51,
  OP_2: 0x52,
  OP_16: 0x60,
  OP_IF: 0x63,
  OP_NOTIF: 0x64,
  OP_ELSE: 0x67,
  OP_ENDIF: 0x68,
  OP_IFDUP: 0x73,
  OP_DROP: 0x75,
  OP_DUP: 0x76,
  OP_SWAP: 0x7c,
  OP_SIZE: 0x82,
  OP_EQUAL: 0x87,
  OP_EQUALVERIFY: 0x88,
  OP_HASH160: 0xa9,
  OP_CHECKSIG: 0xac,
  OP_CHECKSIGVERIFY: 0xad,
  OP_CHECKMULTISIG: 0xae,
  OP_CHECKLOCKTIMEVERIFY: 0xb1,
  OP_CHECKSEQUENCEVERIFY: 0xb2,
});

/** Largest CLTV expiry accepted: heights only (>= 500,000,000 would be read as a timestamp). */
export const MAX_CLTV_EXPIRY = 499_999_999;
/** to_self_delay is a 16-bit block count (BOLT #2). */
export const MAX_TO_SELF_DELAY = 0xffff;

function need(b: Uint8Array, len: number, what: string): void {
  if (!(b instanceof Uint8Array) || b.length !== len) {
    throw new CourtError(len === 33 ? 'COURT_E_INVALID_PUBKEY' : 'COURT_E_INVALID_ARGUMENT', `${what} must be ${len} bytes`);
  }
}

/** Checks a to_self_delay / CSV block count. */
export function checkCsvDelay(delay: number, what = 'to_self_delay'): number {
  if (!Number.isInteger(delay) || delay < 0 || delay > MAX_TO_SELF_DELAY) {
    throw new CourtError('COURT_E_INVALID_LOCKTIME', `${what} must be an integer in 0..65535`, { what, value: delay });
  }
  return delay;
}

/** Checks a CLTV expiry (block height). */
export function checkCltvExpiry(expiry: number): number {
  if (!Number.isInteger(expiry) || expiry < 0 || expiry > MAX_CLTV_EXPIRY) {
    throw new CourtError('COURT_E_INVALID_LOCKTIME', 'cltv_expiry must be a block height in 0..499999999', {
      value: expiry,
    });
  }
  return expiry;
}

/** Minimal push of a non-negative script number (CScriptNum): OP_0, OP_1..OP_16, or a data push. */
export function pushNumber(n: number): Uint8Array {
  if (n === 0) return Uint8Array.of(OP.OP_0);
  if (n >= 1 && n <= 16) return Uint8Array.of(OP.OP_1 + n - 1);
  const bytes: number[] = [];
  let v = n;
  while (v > 0) {
    bytes.push(v & 0xff);
    v = Math.floor(v / 256);
  }
  // A set top bit would make the number negative: add a zero byte.
  if (((bytes[bytes.length - 1] as number) & 0x80) !== 0) bytes.push(0);
  return Uint8Array.of(bytes.length, ...bytes);
}

/** Push of 33-byte key / 20-byte hash data (direct push opcodes). */
function push(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(data.length + 1);
  out[0] = data.length;
  out.set(data, 1);
  return out;
}

/** P2WSH scriptPubKey: OP_0 <SHA256(witnessScript)>. */
export function p2wsh(witnessScript: Uint8Array): Uint8Array {
  const out = new Uint8Array(34);
  out[1] = 0x20;
  out.set(sha256(witnessScript), 2);
  return out;
}

/** P2WPKH scriptPubKey: OP_0 <HASH160(pubkey)>. */
export function p2wpkh(pubkey: Uint8Array): Uint8Array {
  need(pubkey, 33, 'pubkey');
  const out = new Uint8Array(22);
  out[1] = 0x14;
  out.set(hash160(pubkey), 2);
  return out;
}

/** Funding output: 2 <pubkey1> <pubkey2> 2 OP_CHECKMULTISIG, keys in lexicographic order. */
export function fundingScript(a: Uint8Array, b: Uint8Array): Uint8Array {
  need(a, 33, 'funding pubkey');
  need(b, 33, 'funding pubkey');
  const [k1, k2] = Buffer.compare(a, b) <= 0 ? [a, b] : [b, a];
  return concat(Uint8Array.of(OP.OP_2), push(k1), push(k2), Uint8Array.of(OP.OP_2, OP.OP_CHECKMULTISIG));
}

/**
 * to_local (and the second-level HTLC output):
 * OP_IF <revocationpubkey> OP_ELSE `to_self_delay` OP_CSV OP_DROP <local_delayedpubkey> OP_ENDIF OP_CHECKSIG
 */
export function toLocalScript(revocationPubkey: Uint8Array, toSelfDelay: number, localDelayedPubkey: Uint8Array): Uint8Array {
  need(revocationPubkey, 33, 'revocation pubkey');
  need(localDelayedPubkey, 33, 'delayed pubkey');
  checkCsvDelay(toSelfDelay);
  return concat(
    Uint8Array.of(OP.OP_IF),
    push(revocationPubkey),
    Uint8Array.of(OP.OP_ELSE),
    pushNumber(toSelfDelay),
    Uint8Array.of(OP.OP_CHECKSEQUENCEVERIFY, OP.OP_DROP),
    push(localDelayedPubkey),
    Uint8Array.of(OP.OP_ENDIF, OP.OP_CHECKSIG),
  );
}

/** to_remote on anchor channels: <remote_pubkey> OP_CHECKSIGVERIFY 1 OP_CHECKSEQUENCEVERIFY. */
export function toRemoteAnchorScript(remotePubkey: Uint8Array): Uint8Array {
  need(remotePubkey, 33, 'remote pubkey');
  return concat(push(remotePubkey), Uint8Array.of(OP.OP_CHECKSIGVERIFY, OP.OP_1, OP.OP_CHECKSEQUENCEVERIFY));
}

/** Anchor: <funding_pubkey> OP_CHECKSIG OP_IFDUP OP_NOTIF OP_16 OP_CHECKSEQUENCEVERIFY OP_ENDIF. */
export function anchorScript(fundingPubkey: Uint8Array): Uint8Array {
  need(fundingPubkey, 33, 'funding pubkey');
  return concat(
    push(fundingPubkey),
    Uint8Array.of(OP.OP_CHECKSIG, OP.OP_IFDUP, OP.OP_NOTIF, OP.OP_16, OP.OP_CHECKSEQUENCEVERIFY, OP.OP_ENDIF),
  );
}

/** Keys shared by every HTLC script of one commitment (hash160 of the revocation key computed once). */
export interface HtlcScriptKeys {
  readonly revocationPubkey: Uint8Array;
  readonly localHtlcPubkey: Uint8Array;
  readonly remoteHtlcPubkey: Uint8Array;
  /** Computed by htlcScriptKeys(). */
  readonly revocationHash160: Uint8Array;
}

/** Prepares the keys for many HTLC scripts of one commitment. */
export function htlcScriptKeys(revocationPubkey: Uint8Array, localHtlcPubkey: Uint8Array, remoteHtlcPubkey: Uint8Array): HtlcScriptKeys {
  need(revocationPubkey, 33, 'revocation pubkey');
  need(localHtlcPubkey, 33, 'local htlc pubkey');
  need(remoteHtlcPubkey, 33, 'remote htlc pubkey');
  return { revocationPubkey, localHtlcPubkey, remoteHtlcPubkey, revocationHash160: hash160(revocationPubkey) };
}

const ANCHOR_CSV_TAIL = Uint8Array.of(OP.OP_1, OP.OP_CHECKSEQUENCEVERIFY, OP.OP_DROP);

/**
 * Offered HTLC output (the holder offered it; the remote claims with the preimage, the holder times out through
 * the 2-of-2 HTLC-timeout path). `anchors` adds the 1-block CSV to the non-revocation branches.
 */
export function offeredHtlcScript(k: HtlcScriptKeys, paymentHash: Uint8Array, anchors: boolean): Uint8Array {
  need(paymentHash, 32, 'payment hash');
  return concat(
    Uint8Array.of(OP.OP_DUP, OP.OP_HASH160),
    push(k.revocationHash160),
    Uint8Array.of(OP.OP_EQUAL, OP.OP_IF, OP.OP_CHECKSIG, OP.OP_ELSE),
    push(k.remoteHtlcPubkey),
    Uint8Array.of(OP.OP_SWAP, OP.OP_SIZE, 0x01, 0x20, OP.OP_EQUAL, OP.OP_NOTIF, OP.OP_DROP, OP.OP_2, OP.OP_SWAP),
    push(k.localHtlcPubkey),
    Uint8Array.of(OP.OP_2, OP.OP_CHECKMULTISIG, OP.OP_ELSE, OP.OP_HASH160),
    push(ripemd160(paymentHash)),
    Uint8Array.of(OP.OP_EQUALVERIFY, OP.OP_CHECKSIG, OP.OP_ENDIF),
    anchors ? ANCHOR_CSV_TAIL : new Uint8Array(0),
    Uint8Array.of(OP.OP_ENDIF),
  );
}

/**
 * Received HTLC output (the holder received it; the holder claims with the preimage through the 2-of-2
 * HTLC-success path, the remote times out after `cltvExpiry`).
 */
export function receivedHtlcScript(k: HtlcScriptKeys, paymentHash: Uint8Array, cltvExpiry: number, anchors: boolean): Uint8Array {
  need(paymentHash, 32, 'payment hash');
  checkCltvExpiry(cltvExpiry);
  return concat(
    Uint8Array.of(OP.OP_DUP, OP.OP_HASH160),
    push(k.revocationHash160),
    Uint8Array.of(OP.OP_EQUAL, OP.OP_IF, OP.OP_CHECKSIG, OP.OP_ELSE),
    push(k.remoteHtlcPubkey),
    Uint8Array.of(OP.OP_SWAP, OP.OP_SIZE, 0x01, 0x20, OP.OP_EQUAL, OP.OP_IF, OP.OP_HASH160),
    push(ripemd160(paymentHash)),
    Uint8Array.of(OP.OP_EQUALVERIFY, OP.OP_2, OP.OP_SWAP),
    push(k.localHtlcPubkey),
    Uint8Array.of(OP.OP_2, OP.OP_CHECKMULTISIG, OP.OP_ELSE, OP.OP_DROP),
    pushNumber(cltvExpiry),
    Uint8Array.of(OP.OP_CHECKLOCKTIMEVERIFY, OP.OP_DROP, OP.OP_CHECKSIG, OP.OP_ENDIF),
    anchors ? ANCHOR_CSV_TAIL : new Uint8Array(0),
    Uint8Array.of(OP.OP_ENDIF),
  );
}
