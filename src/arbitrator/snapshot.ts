/**
 * The channel snapshot (ARCHITECTURE.md "Channel snapshot"): what the node tells courtd about one channel, and
 * the checks that make courtd trust it.
 *
 *  - `parseSnapshot` turns untrusted JSON into a typed `ChannelSnapshot`, field by field, refusing anything
 *    malformed with COURT_E_SNAPSHOT_INVALID and the field's path (`localCommitment.htlcs[2].cltvExpiry`).
 *    Unknown fields are refused too (a misspelt optional field such as `upstream` must not vanish silently);
 *    a version field `v` is optional and, when present, must be 1.
 *  - `checkSnapshot` rebuilds our latest commitment from the parameters with src/ln and verifies the remote's
 *    commitment signature and every HTLC signature on it (COURT_E_SNAPSHOT_SIGNATURE naming the one that fails),
 *    then builds the remote's current and pending commitments so their txids are known to the classifier.
 *  - `checkSnapshotUpdate` refuses a snapshot that contradicts the one in force (COURT_E_SNAPSHOT_CONFLICT).
 *  - `commitSetFacts` / `classifierView` project a checked snapshot into what the arbitrator and the close
 *    classifier consume.
 *
 * View conventions (regtest/sim-snapshot.ts): every commitment is described from OUR view. `toLocalMsat` is our
 * balance and `toRemoteMsat` theirs on every commitment, HTLC directions are ours (outgoing = we offered), and
 * balances are before commitment fee and anchors. Signatures are 64-byte compact (r || s); the sighash type of the
 * HTLC signatures follows from the commitment type (ALL, or SINGLE|ANYONECANPAY on anchor channels).
 *
 * Whose delay is whose: `local.toSelfDelay` is the CSV the peer imposes on OUR to_local (and our second-level
 * outputs), so it goes into our commitment; `remote.toSelfDelay` is the CSV we impose on THEIRS, so it goes into
 * their commitments. Likewise each side's dust limit applies to its own commitment.
 *
 * Assumptions: commitments the peer signed are honoured as BOLT #3 builds them, even when the funder cannot pay
 * the fee (`funderShortfall: 'allow'`, decision D3). Local and remote commitment numbers are independent counters
 * (BOLT #2); only `remoteCommitments.pending.number = current.number + 1` is required.
 *
 * Pure: no I/O, no clock. Error messages name fields, indexes and codes, never keys, points or signatures.
 */
import { deriveRevocationPubkey, derivePubkey } from '../keys/derive.js';
import { checkPubkey, secp } from '../keys/secp.js';
import {
  buildCommitment,
  MIN_DUST_LIMIT_SAT,
  type Commitment,
  type CommitmentFormat,
  type CommitmentHtlc,
  type CommitmentKeys,
  type CommitmentSpec,
} from '../ln/commitment.js';
import { buildHtlcTxs, commitmentSighash, htlcTxSighash, type HtlcTx } from '../ln/htlc.js';
import { MAX_CLTV_EXPIRY, MAX_TO_SELF_DELAY, p2wpkh, p2wsh, toRemoteAnchorScript } from '../ln/scripts.js';
import type { ShachainStore } from '../ln/shachain.js';
import { MAX_COMMITMENT_NUMBER, obscuringFactor } from '../ln/statehint.js';
import { MAX_HTLCS_PER_DIRECTION } from '../ln/weights.js';
import { MAX_MONEY_MSAT, MAX_MONEY_SAT, type MSat, type Sat } from '../util/amount.js';
import { equal, fromHex, toHex } from '../util/bytes.js';
import { CourtError } from '../util/errors.js';
import type { ClassifierView } from '../watcher/classify.js';
import type { CommitSetFacts, HtlcFact } from './types.js';

// ---------------------------------------------------------------------------------------------------------------
// Types

/** A key named by its lnd key family and index (src/keys/keyring.ts KeyLocator). */
export interface SnapshotKeyLocator {
  readonly family: number;
  readonly index: number;
}

/** Our five channel base keys, by locator. */
export interface SnapshotKeyLocators {
  readonly funding: SnapshotKeyLocator;
  readonly revocationBase: SnapshotKeyLocator;
  readonly htlcBase: SnapshotKeyLocator;
  readonly paymentBase: SnapshotKeyLocator;
  readonly delayBase: SnapshotKeyLocator;
}

/** For a forwarded outgoing HTLC: the incoming HTLC it came from. */
export interface SnapshotUpstream {
  /** "txid:vout" of the upstream channel (txid lower-case, display order). */
  readonly chanPoint: string;
  readonly htlcId: number;
  /** The incoming HTLC's CLTV expiry: the deadline that really matters for this outgoing one. */
  readonly cltvExpiry: number;
}

/** An HTLC on one commitment, from our view. */
export interface SnapshotHtlc {
  /** BOLT #2 id in the offering peer's namespace. */
  readonly htlcId: number;
  /** outgoing: we offered it; incoming: they did. */
  readonly direction: 'incoming' | 'outgoing';
  readonly amountMsat: MSat;
  /** 32 bytes. */
  readonly paymentHash: Uint8Array;
  readonly cltvExpiry: number;
  readonly upstream?: SnapshotUpstream;
}

/** One commitment, from our view (balances before fee and anchors). */
export interface SnapshotCommitment {
  readonly number: number;
  /** The holder's per-commitment point for this number (ours on our commitment, theirs on theirs). */
  readonly perCommitmentPoint: Uint8Array;
  readonly feeratePerKw: number;
  /** Our balance, HTLCs not counted. */
  readonly toLocalMsat: MSat;
  /** Their balance, HTLCs not counted. */
  readonly toRemoteMsat: MSat;
  readonly htlcs: readonly SnapshotHtlc[];
}

/** Our latest commitment with what the remote signed for it. */
export interface SnapshotLocalCommitment extends SnapshotCommitment {
  /** 64-byte compact signature by remote.fundingPubkey, SIGHASH_ALL. */
  readonly remoteSignature: Uint8Array;
  /** 64-byte compact signatures, one per untrimmed HTLC, in commitment output order. */
  readonly remoteHtlcSignatures: readonly Uint8Array[];
}

/** A parsed (not yet checked) channel snapshot. */
export interface ChannelSnapshot {
  /** "txid:vout" of the funding output, txid lower-case in display order. */
  readonly chanPoint: string;
  readonly shortChannelId?: string;
  readonly capacitySat: Sat;
  readonly commitmentType: CommitmentFormat;
  /** Who opened (funded) the channel. */
  readonly initiator: 'local' | 'remote';
  readonly fundingHeightHint: number;
  readonly local: {
    readonly keyLocators: SnapshotKeyLocators;
    readonly dustLimitSat: Sat;
    /** The CSV the peer imposes on our to_local. */
    readonly toSelfDelay: number;
    /** Where our node closes the channel to (BOLT #2 shutdown / upfront_shutdown_script), if it is known. */
    readonly shutdownScript?: Uint8Array;
  };
  readonly remote: {
    readonly fundingPubkey: Uint8Array;
    readonly revocationBasepoint: Uint8Array;
    readonly paymentBasepoint: Uint8Array;
    readonly delayedPaymentBasepoint: Uint8Array;
    readonly htlcBasepoint: Uint8Array;
    readonly dustLimitSat: Sat;
    /** The CSV we impose on their to_local. */
    readonly toSelfDelay: number;
  };
  readonly localCommitment: SnapshotLocalCommitment;
  readonly remoteCommitments: {
    /** Their oldest unrevoked commitment. */
    readonly current: SnapshotCommitment;
    /** Their next commitment: signed by us, the one before not yet revoked. */
    readonly pending?: SnapshotCommitment;
  };
}

/** JSON form of an HTLC (amounts as decimal strings, bytes as hex). */
export interface SnapshotHtlcJson {
  readonly htlcId: number;
  readonly direction: 'incoming' | 'outgoing';
  readonly amountMsat: string;
  readonly paymentHash: string;
  readonly cltvExpiry: number;
  readonly upstream?: SnapshotUpstream;
}

/** JSON form of a commitment. */
export interface SnapshotCommitmentJson {
  readonly number: number;
  readonly perCommitmentPoint: string;
  readonly feeratePerKw: number;
  readonly toLocalMsat: string;
  readonly toRemoteMsat: string;
  readonly htlcs: readonly SnapshotHtlcJson[];
}

/** The canonical JSON form of a snapshot (what the node sends, plus `v`; what the briefcase stores). */
export interface ChannelSnapshotJson {
  readonly v: 1;
  readonly chanPoint: string;
  readonly shortChannelId?: string;
  readonly capacitySat: string;
  readonly commitmentType: CommitmentFormat;
  readonly initiator: 'local' | 'remote';
  readonly fundingHeightHint: number;
  readonly local: { readonly keyLocators: SnapshotKeyLocators; readonly dustLimitSat: string; readonly toSelfDelay: number; readonly shutdownScript?: string };
  readonly remote: {
    readonly fundingPubkey: string;
    readonly revocationBasepoint: string;
    readonly paymentBasepoint: string;
    readonly delayedPaymentBasepoint: string;
    readonly htlcBasepoint: string;
    readonly dustLimitSat: string;
    readonly toSelfDelay: number;
  };
  readonly localCommitment: SnapshotCommitmentJson & { readonly remoteSignature: string; readonly remoteHtlcSignatures: readonly string[] };
  readonly remoteCommitments: { readonly current: SnapshotCommitmentJson; readonly pending?: SnapshotCommitmentJson };
}

/** Our channel base public keys (33-byte compressed), read from the keyring at the snapshot's locators. */
export interface OurBasepoints {
  readonly funding: Uint8Array;
  readonly revocationBase: Uint8Array;
  readonly htlcBase: Uint8Array;
  readonly paymentBase: Uint8Array;
  readonly delayBase: Uint8Array;
}

/** A second-level transaction of our commitment with the remote's signature for it. */
export interface SignedHtlcTx {
  readonly htlcTx: HtlcTx;
  /** 64-byte compact; sighash type `htlcTx.remoteSighashType`. */
  readonly remoteSignature: Uint8Array;
}

/** A snapshot whose signatures verified, with every commitment built. */
export interface CheckedSnapshot {
  readonly snapshot: ChannelSnapshot;
  /** Display order, lower-case. */
  readonly fundingTxid: string;
  readonly fundingVout: number;
  readonly capacitySat: Sat;
  readonly format: CommitmentFormat;
  readonly obscuringFactor: number;
  readonly ours: OurBasepoints;
  /** Our latest commitment (unsigned; the remote's signature is `snapshot.localCommitment.remoteSignature`). */
  readonly local: Commitment;
  /** Its second-level transactions, in output order, each with the remote's verified signature. */
  readonly localHtlcTxs: readonly SignedHtlcTx[];
  /** Their current commitment. */
  readonly remoteCurrent: Commitment;
  /** Their pending commitment, if any. */
  readonly remotePending?: Commitment;
}

// ---------------------------------------------------------------------------------------------------------------
// Parsing

function invalid(path: string, what: string): never {
  const field = path === '' ? 'snapshot' : path;
  throw new CourtError('COURT_E_SNAPSHOT_INVALID', `${field} ${what}`, { field });
}

type Obj = Readonly<Record<string, unknown>>;

function obj(v: unknown, path: string, required: readonly string[], optional: readonly string[] = []): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) invalid(path, 'must be an object');
  const o = v as Obj;
  for (const k of required) if (o[k] === undefined) invalid(join(path, k), 'is missing');
  for (const k of Object.keys(o)) {
    if (!required.includes(k) && !optional.includes(k)) invalid(join(path, k), 'is not a snapshot field');
  }
  return o;
}

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

function int(v: unknown, path: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) invalid(path, `must be an integer in ${min}..${max}`);
  return v;
}

const DECIMAL_RE = /^(0|[1-9][0-9]{0,20})$/;

function amount(v: unknown, path: string, max: bigint): bigint {
  if (typeof v !== 'string' || !DECIMAL_RE.test(v)) invalid(path, 'must be a decimal string without sign or leading zeros');
  const n = BigInt(v);
  if (n > max) invalid(path, 'exceeds 21M BTC');
  return n;
}

function hexBytes(v: unknown, path: string, len: number): Uint8Array {
  if (typeof v !== 'string' || v.length !== 2 * len || !/^[0-9a-fA-F]*$/.test(v)) invalid(path, `must be ${len} bytes of hex`);
  return fromHex(v);
}

const SCRIPT_RE = /^(?:[0-9a-fA-F]{2}){1,42}$/;

/** A standard output script (BOLT #2 shutdown scripts are at most 42 bytes: witness v0..v16 programs). */
function script(v: unknown, path: string): Uint8Array {
  if (typeof v !== 'string' || !SCRIPT_RE.test(v)) invalid(path, 'must be a hex script of 1 to 42 bytes');
  return fromHex(v);
}

function point(v: unknown, path: string): Uint8Array {
  const p = hexBytes(v, path, 33);
  if (!secp().isPoint(p)) invalid(path, 'is not a valid compressed secp256k1 point');
  return p;
}

function oneOf<T extends string>(v: unknown, path: string, values: readonly T[]): T {
  if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) invalid(path, `must be one of ${values.join(', ')}`);
  return v as T;
}

function array(v: unknown, path: string, maxLen: number): readonly unknown[] {
  if (!Array.isArray(v)) invalid(path, 'must be an array');
  if (v.length > maxLen) invalid(path, `has more than ${maxLen} entries`);
  return v;
}

const OUTPOINT_RE = /^([0-9a-fA-F]{64}):(0|[1-9][0-9]{0,9})$/;

/** Parses "txid:vout" (txid display order); returns it with the txid lower-cased. */
function outpoint(v: unknown, path: string): { txid: string; vout: number; text: string } {
  const m = typeof v === 'string' ? OUTPOINT_RE.exec(v) : null;
  if (m === null) invalid(path, 'must be "txid:vout" with a 64-hex txid');
  const vout = Number(m[2]);
  if (vout > 0xffffffff) invalid(path, 'has an output index above 2^32-1');
  const txid = (m[1] as string).toLowerCase();
  return { txid, vout, text: `${txid}:${vout}` };
}

const SCID_RE = /^(?:[0-9]{1,20}|[0-9]{1,8}x[0-9]{1,8}x[0-9]{1,5})$/;
/** BOLT #7 limits of a short channel id: 3 bytes block, 3 bytes tx index, 2 bytes output. */
function shortChannelId(v: unknown, path: string): string {
  if (typeof v !== 'string' || !SCID_RE.test(v)) invalid(path, 'must be a decimal u64 or "BLOCKxTXxOUTPUT"');
  if (v.includes('x')) {
    const [b, t, o] = v.split('x').map(Number) as [number, number, number];
    if (b > 0xffffff || t > 0xffffff || o > 0xffff) invalid(path, 'has a part out of range');
  } else if (BigInt(v) > 0xffffffffffffffffn) {
    invalid(path, 'exceeds 2^64-1');
  }
  return v;
}

const MAX_HEIGHT = 0x7fffffff;
const MAX_HTLC_ID = Number.MAX_SAFE_INTEGER;

function locator(v: unknown, path: string): SnapshotKeyLocator {
  const o = obj(v, path, ['family', 'index']);
  return { family: int(o['family'], `${path}.family`, 0, 0x7fffffff), index: int(o['index'], `${path}.index`, 0, 0x7fffffff) };
}

function upstream(v: unknown, path: string): SnapshotUpstream {
  const o = obj(v, path, ['chanPoint', 'htlcId', 'cltvExpiry']);
  return {
    chanPoint: outpoint(o['chanPoint'], `${path}.chanPoint`).text,
    htlcId: int(o['htlcId'], `${path}.htlcId`, 0, MAX_HTLC_ID),
    cltvExpiry: int(o['cltvExpiry'], `${path}.cltvExpiry`, 0, MAX_CLTV_EXPIRY),
  };
}

function htlc(v: unknown, path: string): SnapshotHtlc {
  const o = obj(v, path, ['htlcId', 'direction', 'amountMsat', 'paymentHash', 'cltvExpiry'], ['upstream']);
  const h: SnapshotHtlc = {
    htlcId: int(o['htlcId'], `${path}.htlcId`, 0, MAX_HTLC_ID),
    direction: oneOf(o['direction'], `${path}.direction`, ['incoming', 'outgoing'] as const),
    amountMsat: amount(o['amountMsat'], `${path}.amountMsat`, MAX_MONEY_MSAT),
    paymentHash: hexBytes(o['paymentHash'], `${path}.paymentHash`, 32),
    cltvExpiry: int(o['cltvExpiry'], `${path}.cltvExpiry`, 0, MAX_CLTV_EXPIRY),
  };
  if (h.amountMsat === 0n) invalid(`${path}.amountMsat`, 'must be positive');
  if (o['upstream'] === undefined) return h;
  if (h.direction !== 'outgoing') invalid(`${path}.upstream`, 'is only meaningful on an outgoing HTLC');
  return { ...h, upstream: upstream(o['upstream'], `${path}.upstream`) };
}

const COMMITMENT_FIELDS = ['number', 'perCommitmentPoint', 'feeratePerKw', 'toLocalMsat', 'toRemoteMsat', 'htlcs'] as const;

function commitment(v: unknown, path: string, capacitySat: Sat, extra: readonly string[] = []): { c: SnapshotCommitment; o: Obj } {
  const o = obj(v, path, [...COMMITMENT_FIELDS, ...extra]);
  const htlcs = array(o['htlcs'], `${path}.htlcs`, 2 * MAX_HTLCS_PER_DIRECTION).map((h, i) => htlc(h, `${path}.htlcs[${i}]`));
  const c: SnapshotCommitment = {
    number: int(o['number'], `${path}.number`, 0, MAX_COMMITMENT_NUMBER),
    perCommitmentPoint: point(o['perCommitmentPoint'], `${path}.perCommitmentPoint`),
    feeratePerKw: int(o['feeratePerKw'], `${path}.feeratePerKw`, 0, 0xffffffff),
    toLocalMsat: amount(o['toLocalMsat'], `${path}.toLocalMsat`, MAX_MONEY_MSAT),
    toRemoteMsat: amount(o['toRemoteMsat'], `${path}.toRemoteMsat`, MAX_MONEY_MSAT),
    htlcs,
  };
  const seen = new Set<string>();
  let total = c.toLocalMsat + c.toRemoteMsat;
  const count = { incoming: 0, outgoing: 0 };
  htlcs.forEach((h, i) => {
    const id = `${h.direction}/${h.htlcId}`;
    if (seen.has(id)) invalid(`${path}.htlcs[${i}].htlcId`, `repeats an ${h.direction} HTLC id`);
    seen.add(id);
    count[h.direction]++;
    total += h.amountMsat;
  });
  if (count.incoming > MAX_HTLCS_PER_DIRECTION || count.outgoing > MAX_HTLCS_PER_DIRECTION) {
    invalid(`${path}.htlcs`, `has more than ${MAX_HTLCS_PER_DIRECTION} HTLCs in one direction`);
  }
  if (total !== capacitySat * 1000n) invalid(path, 'balances plus HTLC amounts do not add up to the capacity');
  return { c, o };
}

function dustLimit(v: unknown, path: string, capacitySat: Sat): Sat {
  const d = amount(v, path, MAX_MONEY_SAT);
  if (d < MIN_DUST_LIMIT_SAT) invalid(path, `is below the BOLT #2 minimum of ${MIN_DUST_LIMIT_SAT} sat`);
  if (d > capacitySat) invalid(path, 'exceeds the capacity');
  return d;
}

/**
 * Parses a snapshot as the node sends it (regtest/sim-snapshot.ts `channelSnapshot()`, or `snapshotJson()` output).
 * Throws COURT_E_SNAPSHOT_INVALID naming the first bad field. Checks shape and ranges, that every commitment's
 * balances and HTLCs add up to the capacity, HTLC ids are unique per direction, at most 483 HTLCs per direction,
 * and that a pending remote commitment follows the current one. Signatures are checked by `checkSnapshot`.
 */
export function parseSnapshot(json: unknown): ChannelSnapshot {
  const top = obj(
    json,
    '',
    ['chanPoint', 'capacitySat', 'commitmentType', 'initiator', 'fundingHeightHint', 'local', 'remote', 'localCommitment', 'remoteCommitments'],
    ['v', 'shortChannelId'],
  );
  if (top['v'] !== undefined && top['v'] !== 1) invalid('v', 'must be 1');
  const capacitySat = amount(top['capacitySat'], 'capacitySat', MAX_MONEY_SAT);
  if (capacitySat === 0n) invalid('capacitySat', 'must be positive');

  const local = obj(top['local'], 'local', ['keyLocators', 'dustLimitSat', 'toSelfDelay'], ['shutdownScript']);
  const locs = obj(local['keyLocators'], 'local.keyLocators', ['funding', 'revocationBase', 'htlcBase', 'paymentBase', 'delayBase']);
  const remote = obj(top['remote'], 'remote', [
    'fundingPubkey',
    'revocationBasepoint',
    'paymentBasepoint',
    'delayedPaymentBasepoint',
    'htlcBasepoint',
    'dustLimitSat',
    'toSelfDelay',
  ]);

  const lc = commitment(top['localCommitment'], 'localCommitment', capacitySat, ['remoteSignature', 'remoteHtlcSignatures']);
  const sigs = array(lc.o['remoteHtlcSignatures'], 'localCommitment.remoteHtlcSignatures', 2 * MAX_HTLCS_PER_DIRECTION);
  const localCommitment: SnapshotLocalCommitment = {
    ...lc.c,
    remoteSignature: hexBytes(lc.o['remoteSignature'], 'localCommitment.remoteSignature', 64),
    remoteHtlcSignatures: sigs.map((s, i) => hexBytes(s, `localCommitment.remoteHtlcSignatures[${i}]`, 64)),
  };

  const rcs = obj(top['remoteCommitments'], 'remoteCommitments', ['current'], ['pending']);
  const current = commitment(rcs['current'], 'remoteCommitments.current', capacitySat).c;
  const pending = rcs['pending'] === undefined ? undefined : commitment(rcs['pending'], 'remoteCommitments.pending', capacitySat).c;
  if (pending !== undefined && pending.number !== current.number + 1) {
    invalid('remoteCommitments.pending.number', 'must be remoteCommitments.current.number + 1');
  }

  const snap: ChannelSnapshot = {
    chanPoint: outpoint(top['chanPoint'], 'chanPoint').text,
    ...(top['shortChannelId'] === undefined ? {} : { shortChannelId: shortChannelId(top['shortChannelId'], 'shortChannelId') }),
    capacitySat,
    commitmentType: oneOf(top['commitmentType'], 'commitmentType', ['static_remotekey', 'anchors'] as const),
    initiator: oneOf(top['initiator'], 'initiator', ['local', 'remote'] as const),
    fundingHeightHint: int(top['fundingHeightHint'], 'fundingHeightHint', 0, MAX_HEIGHT),
    local: {
      keyLocators: {
        funding: locator(locs['funding'], 'local.keyLocators.funding'),
        revocationBase: locator(locs['revocationBase'], 'local.keyLocators.revocationBase'),
        htlcBase: locator(locs['htlcBase'], 'local.keyLocators.htlcBase'),
        paymentBase: locator(locs['paymentBase'], 'local.keyLocators.paymentBase'),
        delayBase: locator(locs['delayBase'], 'local.keyLocators.delayBase'),
      },
      dustLimitSat: dustLimit(local['dustLimitSat'], 'local.dustLimitSat', capacitySat),
      toSelfDelay: int(local['toSelfDelay'], 'local.toSelfDelay', 0, MAX_TO_SELF_DELAY),
      ...(local['shutdownScript'] === undefined ? {} : { shutdownScript: script(local['shutdownScript'], 'local.shutdownScript') }),
    },
    remote: {
      fundingPubkey: point(remote['fundingPubkey'], 'remote.fundingPubkey'),
      revocationBasepoint: point(remote['revocationBasepoint'], 'remote.revocationBasepoint'),
      paymentBasepoint: point(remote['paymentBasepoint'], 'remote.paymentBasepoint'),
      delayedPaymentBasepoint: point(remote['delayedPaymentBasepoint'], 'remote.delayedPaymentBasepoint'),
      htlcBasepoint: point(remote['htlcBasepoint'], 'remote.htlcBasepoint'),
      dustLimitSat: dustLimit(remote['dustLimitSat'], 'remote.dustLimitSat', capacitySat),
      toSelfDelay: int(remote['toSelfDelay'], 'remote.toSelfDelay', 0, MAX_TO_SELF_DELAY),
    },
    localCommitment,
    remoteCommitments: pending === undefined ? { current } : { current, pending },
  };
  return snap;
}

// ---------------------------------------------------------------------------------------------------------------
// Canonical JSON

function htlcJson(h: SnapshotHtlc): SnapshotHtlcJson {
  const base: SnapshotHtlcJson = {
    htlcId: h.htlcId,
    direction: h.direction,
    amountMsat: h.amountMsat.toString(),
    paymentHash: toHex(h.paymentHash),
    cltvExpiry: h.cltvExpiry,
  };
  return h.upstream === undefined ? base : { ...base, upstream: { ...h.upstream } };
}

function commitmentJson(c: SnapshotCommitment): SnapshotCommitmentJson {
  return {
    number: c.number,
    perCommitmentPoint: toHex(c.perCommitmentPoint),
    feeratePerKw: c.feeratePerKw,
    toLocalMsat: c.toLocalMsat.toString(),
    toRemoteMsat: c.toRemoteMsat.toString(),
    htlcs: c.htlcs.map(htlcJson),
  };
}

/** The canonical JSON object of a snapshot, with `v: 1`. `parseSnapshot(snapshotJson(s))` equals `s`. */
export function snapshotJson(s: ChannelSnapshot): ChannelSnapshotJson {
  const loc = (l: SnapshotKeyLocator): SnapshotKeyLocator => ({ family: l.family, index: l.index });
  const k = s.local.keyLocators;
  const pending = s.remoteCommitments.pending;
  return {
    v: 1,
    chanPoint: s.chanPoint,
    ...(s.shortChannelId === undefined ? {} : { shortChannelId: s.shortChannelId }),
    capacitySat: s.capacitySat.toString(),
    commitmentType: s.commitmentType,
    initiator: s.initiator,
    fundingHeightHint: s.fundingHeightHint,
    local: {
      keyLocators: {
        funding: loc(k.funding),
        revocationBase: loc(k.revocationBase),
        htlcBase: loc(k.htlcBase),
        paymentBase: loc(k.paymentBase),
        delayBase: loc(k.delayBase),
      },
      dustLimitSat: s.local.dustLimitSat.toString(),
      toSelfDelay: s.local.toSelfDelay,
      ...(s.local.shutdownScript === undefined ? {} : { shutdownScript: toHex(s.local.shutdownScript) }),
    },
    remote: {
      fundingPubkey: toHex(s.remote.fundingPubkey),
      revocationBasepoint: toHex(s.remote.revocationBasepoint),
      paymentBasepoint: toHex(s.remote.paymentBasepoint),
      delayedPaymentBasepoint: toHex(s.remote.delayedPaymentBasepoint),
      htlcBasepoint: toHex(s.remote.htlcBasepoint),
      dustLimitSat: s.remote.dustLimitSat.toString(),
      toSelfDelay: s.remote.toSelfDelay,
    },
    localCommitment: {
      ...commitmentJson(s.localCommitment),
      remoteSignature: toHex(s.localCommitment.remoteSignature),
      remoteHtlcSignatures: s.localCommitment.remoteHtlcSignatures.map(toHex),
    },
    remoteCommitments: {
      current: commitmentJson(s.remoteCommitments.current),
      ...(pending === undefined ? {} : { pending: commitmentJson(pending) }),
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Checking

/** Our base public keys from a keyring-like lookup, at the snapshot's locators. */
export function ourBasepointsFrom(s: ChannelSnapshot, publicKey: (loc: SnapshotKeyLocator) => Uint8Array): OurBasepoints {
  const k = s.local.keyLocators;
  return {
    funding: publicKey(k.funding),
    revocationBase: publicKey(k.revocationBase),
    htlcBase: publicKey(k.htlcBase),
    paymentBase: publicKey(k.paymentBase),
    delayBase: publicKey(k.delayBase),
  };
}

/** Splits a chanPoint already validated by parseSnapshot. */
function splitChanPoint(chanPoint: string): { txid: string; vout: number } {
  const [txid, vout] = chanPoint.split(':') as [string, string];
  return { txid, vout: Number(vout) };
}

interface ChannelParams {
  readonly s: ChannelSnapshot;
  readonly ours: OurBasepoints;
  readonly fundingTxid: string;
  readonly fundingVout: number;
  readonly obscuringFactor: number;
}

/** Builds one commitment; a refusal by src/ln becomes COURT_E_SNAPSHOT_INVALID naming the commitment. */
function build(spec: CommitmentSpec, path: string): Commitment {
  try {
    return buildCommitment(spec);
  } catch (e) {
    if (e instanceof CourtError) {
      throw new CourtError('COURT_E_SNAPSHOT_INVALID', `${path} cannot be built (${e.code})`, { field: path, cause: e.code });
    }
    throw e;
  }
}

/** Our commitment: we hold it; the remote's revocation basepoint and our point make its revocation key. */
function buildLocal(p: ChannelParams): Commitment {
  const { s, ours } = p;
  const c = s.localCommitment;
  const pt = c.perCommitmentPoint;
  const keys: CommitmentKeys = {
    localFundingPubkey: ours.funding,
    remoteFundingPubkey: s.remote.fundingPubkey,
    revocationPubkey: deriveRevocationPubkey(s.remote.revocationBasepoint, pt),
    localDelayedPubkey: derivePubkey(ours.delayBase, pt),
    localHtlcPubkey: derivePubkey(ours.htlcBase, pt),
    remoteHtlcPubkey: derivePubkey(s.remote.htlcBasepoint, pt),
    remotePaymentPubkey: s.remote.paymentBasepoint,
  };
  const htlcs: CommitmentHtlc[] = c.htlcs.map((h) => ({
    direction: h.direction === 'outgoing' ? 'offered' : 'received',
    amountMsat: h.amountMsat,
    paymentHash: h.paymentHash,
    cltvExpiry: h.cltvExpiry,
  }));
  return build(
    {
      ...commonSpec(p, c),
      holderIsFunder: s.initiator === 'local',
      toLocalMsat: c.toLocalMsat,
      toRemoteMsat: c.toRemoteMsat,
      dustLimitSat: s.local.dustLimitSat,
      toSelfDelay: s.local.toSelfDelay,
      keys,
      htlcs,
    },
    'localCommitment',
  );
}

/** Their commitment: roles swap (they hold it; our revocation basepoint and THEIR point make its revocation key). */
function buildRemote(p: ChannelParams, c: SnapshotCommitment, path: string): Commitment {
  const { s, ours } = p;
  const pt = c.perCommitmentPoint;
  const keys: CommitmentKeys = {
    localFundingPubkey: s.remote.fundingPubkey,
    remoteFundingPubkey: ours.funding,
    revocationPubkey: deriveRevocationPubkey(ours.revocationBase, pt),
    localDelayedPubkey: derivePubkey(s.remote.delayedPaymentBasepoint, pt),
    localHtlcPubkey: derivePubkey(s.remote.htlcBasepoint, pt),
    remoteHtlcPubkey: derivePubkey(ours.htlcBase, pt),
    remotePaymentPubkey: ours.paymentBase,
  };
  const htlcs: CommitmentHtlc[] = c.htlcs.map((h) => ({
    direction: h.direction === 'incoming' ? 'offered' : 'received',
    amountMsat: h.amountMsat,
    paymentHash: h.paymentHash,
    cltvExpiry: h.cltvExpiry,
  }));
  return build(
    {
      ...commonSpec(p, c),
      holderIsFunder: s.initiator === 'remote',
      toLocalMsat: c.toRemoteMsat,
      toRemoteMsat: c.toLocalMsat,
      dustLimitSat: s.remote.dustLimitSat,
      toSelfDelay: s.remote.toSelfDelay,
      keys,
      htlcs,
    },
    path,
  );
}

function commonSpec(p: ChannelParams, c: SnapshotCommitment) {
  return {
    format: p.s.commitmentType,
    fundingTxid: p.fundingTxid,
    fundingVout: p.fundingVout,
    fundingSat: p.s.capacitySat,
    commitmentNumber: c.number,
    obscuringFactor: p.obscuringFactor,
    feeratePerKw: c.feeratePerKw,
    funderShortfall: 'allow' as const,
  };
}

function badSignature(which: string, index?: number): never {
  throw new CourtError('COURT_E_SNAPSHOT_SIGNATURE', `${which} does not verify`, index === undefined ? { field: which } : { field: which, index });
}

/**
 * Checks a parsed snapshot against our base keys: rebuilds our latest commitment and verifies the remote's
 * commitment signature (SIGHASH_ALL, by remote.fundingPubkey) and each HTLC signature in output order (by the
 * remote's HTLC key of that commitment, with the format's sighash type); builds their current and pending
 * commitments. Throws COURT_E_SNAPSHOT_SIGNATURE naming the failing signature, COURT_E_SNAPSHOT_INVALID if a
 * commitment cannot be built, COURT_E_INVALID_PUBKEY if one of `ours` is not a point.
 */
export function checkSnapshot(s: ChannelSnapshot, ours: OurBasepoints): CheckedSnapshot {
  for (const name of ['funding', 'revocationBase', 'htlcBase', 'paymentBase', 'delayBase'] as const) checkPubkey(ours[name], `our ${name} basepoint`);
  // A peer that copies one of our keys makes our scripts and theirs the same (equal payment basepoints: one
  // to_remote script on both commitments, so whose commitment confirmed could not be told): refused.
  const mine = [ours.funding, ours.revocationBase, ours.htlcBase, ours.paymentBase, ours.delayBase];
  for (const k of ['fundingPubkey', 'revocationBasepoint', 'paymentBasepoint', 'delayedPaymentBasepoint', 'htlcBasepoint'] as const) {
    if (mine.some((m) => equal(m, s.remote[k]))) invalid(`remote.${k}`, 'equals one of our own keys');
  }
  const { txid: fundingTxid, vout: fundingVout } = splitChanPoint(s.chanPoint);
  const [opener, accepter] = s.initiator === 'local' ? [ours.paymentBase, s.remote.paymentBasepoint] : [s.remote.paymentBasepoint, ours.paymentBase];
  const p: ChannelParams = { s, ours, fundingTxid, fundingVout, obscuringFactor: obscuringFactor(opener, accepter) };

  const local = buildLocal(p);
  const lc = s.localCommitment;
  if (!secp().verify(commitmentSighash(local), s.remote.fundingPubkey, lc.remoteSignature)) {
    badSignature('localCommitment.remoteSignature');
  }
  const htlcTxs = buildHtlcTxs(local);
  if (htlcTxs.length !== lc.remoteHtlcSignatures.length) {
    throw new CourtError(
      'COURT_E_SNAPSHOT_SIGNATURE',
      `localCommitment.remoteHtlcSignatures has ${lc.remoteHtlcSignatures.length} signatures for ${htlcTxs.length} untrimmed HTLC outputs`,
      { field: 'localCommitment.remoteHtlcSignatures', signatures: lc.remoteHtlcSignatures.length, outputs: htlcTxs.length },
    );
  }
  const remoteHtlcKey = local.spec.keys.remoteHtlcPubkey;
  const localHtlcTxs: SignedHtlcTx[] = htlcTxs.map((h, i) => {
    const sig = lc.remoteHtlcSignatures[i] as Uint8Array;
    if (!secp().verify(htlcTxSighash(h, h.remoteSighashType), remoteHtlcKey, sig)) {
      badSignature(`localCommitment.remoteHtlcSignatures[${i}]`, i);
    }
    return { htlcTx: h, remoteSignature: sig };
  });

  const remoteCurrent = buildRemote(p, s.remoteCommitments.current, 'remoteCommitments.current');
  const pending = s.remoteCommitments.pending;
  const remotePending = pending === undefined ? undefined : buildRemote(p, pending, 'remoteCommitments.pending');
  return {
    snapshot: s,
    fundingTxid,
    fundingVout,
    capacitySat: s.capacitySat,
    format: s.commitmentType,
    obscuringFactor: p.obscuringFactor,
    ours,
    local,
    localHtlcTxs,
    remoteCurrent,
    ...(remotePending === undefined ? {} : { remotePending }),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Updates

function sameCommitment(a: SnapshotCommitment, b: SnapshotCommitment): boolean {
  return (
    a.number === b.number &&
    equal(a.perCommitmentPoint, b.perCommitmentPoint) &&
    a.feeratePerKw === b.feeratePerKw &&
    a.toLocalMsat === b.toLocalMsat &&
    a.toRemoteMsat === b.toRemoteMsat &&
    a.htlcs.length === b.htlcs.length &&
    a.htlcs.every((h, i) => {
      const g = b.htlcs[i] as SnapshotHtlc;
      return (
        h.htlcId === g.htlcId &&
        h.direction === g.direction &&
        h.amountMsat === g.amountMsat &&
        equal(h.paymentHash, g.paymentHash) &&
        h.cltvExpiry === g.cltvExpiry
      );
    })
  );
}

function conflict(field: string, what: string): never {
  throw new CourtError('COURT_E_SNAPSHOT_CONFLICT', `${field} ${what}`, { field });
}

/**
 * Refuses `next` if it contradicts `prev`, the snapshot in force: other channel parameters (funding, capacity,
 * type, initiator, keys, dust limits, delays, a changed short channel id), an older local or remote commitment, or
 * a commitment number both know with different contents. Signatures may differ (ECDSA nonces are the signer's
 * choice), and an HTLC's `upstream` may be learnt later. `fundingHeightHint` may change (it is a hint).
 * `closed`: the funding output is already spent by a commitment courtd could not resolve, and the node answers
 * with that commitment's snapshot, which may be older than the one in force; its parameters must still match
 * (and its signatures verify, checkSnapshot), so only the "older" checks are lifted.
 */
export function checkSnapshotUpdate(prev: ChannelSnapshot, next: ChannelSnapshot, opts: { readonly closed?: boolean } = {}): void {
  const same = (field: string, a: string | bigint | number, b: string | bigint | number): void => {
    if (a !== b) conflict(field, 'differs from the channel in force');
  };
  same('chanPoint', prev.chanPoint, next.chanPoint);
  same('capacitySat', prev.capacitySat, next.capacitySat);
  same('commitmentType', prev.commitmentType, next.commitmentType);
  same('initiator', prev.initiator, next.initiator);
  if (prev.shortChannelId !== undefined) same('shortChannelId', prev.shortChannelId, next.shortChannelId ?? prev.shortChannelId);
  for (const k of ['funding', 'revocationBase', 'htlcBase', 'paymentBase', 'delayBase'] as const) {
    same(`local.keyLocators.${k}.family`, prev.local.keyLocators[k].family, next.local.keyLocators[k].family);
    same(`local.keyLocators.${k}.index`, prev.local.keyLocators[k].index, next.local.keyLocators[k].index);
  }
  same('local.dustLimitSat', prev.local.dustLimitSat, next.local.dustLimitSat);
  same('local.toSelfDelay', prev.local.toSelfDelay, next.local.toSelfDelay);
  for (const k of ['fundingPubkey', 'revocationBasepoint', 'paymentBasepoint', 'delayedPaymentBasepoint', 'htlcBasepoint'] as const) {
    if (!equal(prev.remote[k], next.remote[k])) conflict(`remote.${k}`, 'differs from the channel in force');
  }
  same('remote.dustLimitSat', prev.remote.dustLimitSat, next.remote.dustLimitSat);
  same('remote.toSelfDelay', prev.remote.toSelfDelay, next.remote.toSelfDelay);

  const closed = opts.closed === true;
  if (!closed && next.localCommitment.number < prev.localCommitment.number) conflict('localCommitment.number', 'is older than the commitment in force');
  if (next.localCommitment.number === prev.localCommitment.number && !sameCommitment(prev.localCommitment, next.localCommitment)) {
    conflict('localCommitment', 'has the number of the commitment in force but other contents');
  }
  const nr = next.remoteCommitments;
  const pr = prev.remoteCommitments;
  // Their newest commitment (pending, else current) must not go back: a snapshot that forgets their pending
  // commitment would let a dust fail-back miss an HTLC it carries, and its close be taken for an unknown state.
  const newest = (r: ChannelSnapshot['remoteCommitments']): number => r.pending?.number ?? r.current.number;
  if (!closed && newest(nr) < newest(pr)) conflict('remoteCommitments', 'forgets their newer (pending) commitment');
  if (!closed && nr.current.number < pr.current.number) conflict('remoteCommitments.current.number', 'is older than the commitment in force');
  const known = [pr.current, ...(pr.pending === undefined ? [] : [pr.pending])];
  const incoming: Array<[string, SnapshotCommitment]> = [['remoteCommitments.current', nr.current]];
  if (nr.pending !== undefined) incoming.push(['remoteCommitments.pending', nr.pending]);
  for (const [path, c] of incoming) {
    const k = known.find((x) => x.number === c.number);
    if (k !== undefined && !sameCommitment(k, c)) conflict(path, 'has the number of a known commitment but other contents');
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Projections

function facts(htlcs: readonly SnapshotHtlc[], c: Commitment): HtlcFact[] {
  const trimmed = new Set(c.trimmedHtlcs);
  return htlcs.map((h, i) => htlcFact(h, trimmed.has(i)));
}

/** The JSON fact of one snapshot HTLC. */
export function htlcFact(h: SnapshotHtlc, dust: boolean): HtlcFact {
  const f: HtlcFact = {
    htlcId: h.htlcId,
    direction: h.direction,
    amountMsat: h.amountMsat.toString(),
    paymentHash: toHex(h.paymentHash),
    cltvExpiry: h.cltvExpiry,
    dust,
  };
  return h.upstream === undefined ? f : { ...f, upstreamExpiry: h.upstream.cltvExpiry };
}

/** The HTLC sets of our commitment and their current / pending ones, `dust` as trimmed on each (lnd's CommitSet). */
export function commitSetFacts(c: CheckedSnapshot): CommitSetFacts {
  const s = c.snapshot;
  const base = {
    local: facts(s.localCommitment.htlcs, c.local),
    remote: facts(s.remoteCommitments.current.htlcs, c.remoteCurrent),
  };
  const pending = s.remoteCommitments.pending;
  if (pending === undefined || c.remotePending === undefined) return base;
  return { ...base, remotePending: facts(pending.htlcs, c.remotePending) };
}

/** The scriptPubKey of a to_remote output paying `paymentBasepoint` (static key: P2WPKH; anchors: P2WSH + CSV 1). */
export function staticToRemoteSpk(format: CommitmentFormat, paymentBasepoint: Uint8Array): Uint8Array {
  return format === 'anchors' ? p2wsh(toRemoteAnchorScript(paymentBasepoint)) : p2wpkh(paymentBasepoint);
}

/** Our balance in sat (rounded down, HTLCs not counted) on a commitment. */
const ourBalanceSat = (c: SnapshotCommitment): bigint => c.toLocalMsat / 1000n;

/** What src/watcher/classify.ts needs to classify a spend of this channel's funding output. */
export function classifierView(c: CheckedSnapshot, revocations: ShachainStore): ClassifierView {
  const s = c.snapshot;
  const pending = s.remoteCommitments.pending;
  const commitments = [s.localCommitment, s.remoteCommitments.current, ...(pending === undefined ? [] : [pending])];
  return {
    fundingTxid: c.fundingTxid,
    fundingVout: c.fundingVout,
    obscuringFactor: c.obscuringFactor,
    local: { number: s.localCommitment.number, txid: c.local.tx.getId() },
    remoteCurrent: { number: s.remoteCommitments.current.number, txid: c.remoteCurrent.tx.getId() },
    ...(pending === undefined || c.remotePending === undefined
      ? {}
      : { remotePending: { number: pending.number, txid: c.remotePending.tx.getId() } }),
    revocations,
    ourToRemoteSpk: staticToRemoteSpk(c.format, c.ours.paymentBase),
    theirToRemoteSpk: staticToRemoteSpk(c.format, s.remote.paymentBasepoint),
    theirToLocal: {
      ourRevocationBasepoint: c.ours.revocationBase,
      theirDelayedBasepoint: s.remote.delayedPaymentBasepoint,
      theirToSelfDelay: s.remote.toSelfDelay,
    },
    coop: {
      capacitySat: c.capacitySat,
      ourBalancesSat: commitments.map(ourBalanceSat),
      ourMostSat: commitments.map((x) => ourBalanceSat(x) + x.htlcs.reduce((a, h) => a + h.amountMsat / 1000n, 0n)).reduce((a, b) => (b > a ? b : a)),
      ourDustLimitSat: s.local.dustLimitSat,
      ...(s.local.shutdownScript === undefined ? {} : { shutdownScript: s.local.shutdownScript }),
    },
  };
}
