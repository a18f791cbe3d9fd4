/**
 * The snapshot's wire schema (typebox): ONE schema gives the HTTP API's request validation, the TypeScript type of
 * the JSON a node sends and the OpenAPI document. `parseSnapshot` checks untrusted JSON against it (shape, types,
 * ranges, patterns; unknown fields refused, so a misspelt optional field such as `upstream` cannot vanish), then
 * adds the checks a schema cannot express (amounts within 21M BTC, balances adding up to the capacity, unique HTLC
 * ids, points on the curve, a pending commitment following the current one) and converts hex to bytes and decimal
 * strings to bigint. Every refusal is COURT_E_SNAPSHOT_INVALID naming the field path (`localCommitment.htlcs[2].cltvExpiry`).
 * `snapshotJson` is the canonical JSON form (with `v: 1`): what the briefcase stores. Pure.
 */
import { Type, type Static, type TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import { secp } from '../../keys/secp.js';
import { MIN_DUST_LIMIT_SAT } from '../../ln/commitment.js';
import { MAX_CLTV_EXPIRY, MAX_TO_SELF_DELAY } from '../../ln/scripts.js';
import { MAX_COMMITMENT_NUMBER } from '../../ln/statehint.js';
import { MAX_HTLCS_PER_DIRECTION } from '../../ln/weights.js';
import { MAX_MONEY_MSAT, MAX_MONEY_SAT, type Sat } from '../../util/amount.js';
import { fromHex, toHex } from '../../util/bytes.js';
import { CourtError } from '../../util/errors.js';
import type {
  ChannelSnapshot,
  ChannelSnapshotJson,
  SnapshotCommitment,
  SnapshotCommitmentJson,
  SnapshotHtlc,
  SnapshotHtlcJson,
  SnapshotKeyLocator,
  SnapshotLocalCommitment,
} from './types.js';

// ---------------------------------------------------------------------------------------------------------------
// Schema pieces (shared with src/api)

/** A decimal amount string: no sign, no leading zeros, no fraction (bigint inside). */
export const DecimalString = (description: string) => Type.String({ pattern: '^(0|[1-9][0-9]{0,20})$', maxLength: 21, description });
/** Hex of exactly `n` bytes. */
export const HexBytes = (n: number, description: string) => Type.String({ pattern: `^[0-9a-fA-F]{${2 * n}}$`, minLength: 2 * n, maxLength: 2 * n, description });
/** "txid:vout", txid in display order. */
export const OUTPOINT_PATTERN = '^[0-9a-fA-F]{64}:(0|[1-9][0-9]{0,9})$';
export const Outpoint = (description: string) => Type.String({ pattern: OUTPOINT_PATTERN, maxLength: 75, description });
const Int = (minimum: number, maximum: number, description: string) => Type.Integer({ minimum, maximum, description });

const MAX_HEIGHT = 0x7fffffff;
const MAX_HTLC_ID = Number.MAX_SAFE_INTEGER;

const KeyLocatorSchema = Type.Object(
  { family: Int(0, 0x7fffffff, 'lnd key family'), index: Int(0, 0x7fffffff, 'key index') },
  { additionalProperties: false },
);

const UpstreamSchema = Type.Object(
  {
    chanPoint: Outpoint('the upstream channel'),
    htlcId: Int(0, MAX_HTLC_ID, 'the incoming HTLC id'),
    cltvExpiry: Int(0, MAX_CLTV_EXPIRY, "the incoming HTLC's CLTV expiry (the deadline that really matters)"),
  },
  { additionalProperties: false },
);

export const SnapshotHtlcSchema = Type.Object(
  {
    htlcId: Int(0, MAX_HTLC_ID, "BOLT #2 id in the offering peer's namespace"),
    direction: Type.Union([Type.Literal('incoming'), Type.Literal('outgoing')], { description: 'our view: outgoing = we offered it' }),
    amountMsat: DecimalString('msat, decimal string'),
    paymentHash: HexBytes(32, 'payment hash'),
    cltvExpiry: Int(0, MAX_CLTV_EXPIRY, 'absolute CLTV expiry (block height)'),
    upstream: Type.Optional(UpstreamSchema),
  },
  { additionalProperties: false },
);

const commitmentFields = {
  number: Int(0, MAX_COMMITMENT_NUMBER, 'commitment number'),
  perCommitmentPoint: HexBytes(33, "the holder's per-commitment point"),
  feeratePerKw: Int(0, 0xffffffff, 'commitment feerate, sat/kw'),
  toLocalMsat: DecimalString('our balance, msat, HTLCs not counted'),
  toRemoteMsat: DecimalString('their balance, msat, HTLCs not counted'),
  htlcs: Type.Array(SnapshotHtlcSchema, { maxItems: 2 * MAX_HTLCS_PER_DIRECTION }),
};

export const SnapshotCommitmentSchema = Type.Object(commitmentFields, { additionalProperties: false });

export const SnapshotLocalCommitmentSchema = Type.Object(
  {
    ...commitmentFields,
    remoteSignature: HexBytes(64, 'compact signature by remote.fundingPubkey, SIGHASH_ALL'),
    remoteHtlcSignatures: Type.Array(HexBytes(64, 'compact HTLC signature'), { maxItems: 2 * MAX_HTLCS_PER_DIRECTION }),
  },
  { additionalProperties: false },
);

const Point = (d: string) => HexBytes(33, d);

/** The channel snapshot a node sends (PUT /v1/channels/{chanPoint}); ARCHITECTURE.md "Channel snapshot". */
export const ChannelSnapshotSchema = Type.Object(
  {
    v: Type.Optional(Type.Literal(1, { description: 'format version' })),
    chanPoint: Outpoint('funding outpoint "txid:vout"'),
    shortChannelId: Type.Optional(Type.String({ pattern: '^(?:[0-9]{1,20}|[0-9]{1,8}x[0-9]{1,8}x[0-9]{1,5})$', maxLength: 26 })),
    capacitySat: DecimalString('channel capacity, sat'),
    commitmentType: Type.Union([Type.Literal('static_remotekey'), Type.Literal('anchors')]),
    initiator: Type.Union([Type.Literal('local'), Type.Literal('remote')]),
    fundingHeightHint: Int(0, MAX_HEIGHT, 'a height at or below the funding transaction'),
    local: Type.Object(
      {
        keyLocators: Type.Object(
          { funding: KeyLocatorSchema, revocationBase: KeyLocatorSchema, htlcBase: KeyLocatorSchema, paymentBase: KeyLocatorSchema, delayBase: KeyLocatorSchema },
          { additionalProperties: false },
        ),
        dustLimitSat: DecimalString('our dust limit, sat'),
        toSelfDelay: Int(0, MAX_TO_SELF_DELAY, 'the CSV the peer imposes on our to_local'),
        shutdownScript: Type.Optional(Type.String({ pattern: '^(?:[0-9a-fA-F]{2}){1,42}$', description: 'hex script of 1 to 42 bytes' })),
      },
      { additionalProperties: false },
    ),
    remote: Type.Object(
      {
        fundingPubkey: Point('their funding pubkey'),
        revocationBasepoint: Point('their revocation basepoint'),
        paymentBasepoint: Point('their payment basepoint'),
        delayedPaymentBasepoint: Point('their delayed payment basepoint'),
        htlcBasepoint: Point('their HTLC basepoint'),
        dustLimitSat: DecimalString('their dust limit, sat'),
        toSelfDelay: Int(0, MAX_TO_SELF_DELAY, 'the CSV we impose on their to_local'),
      },
      { additionalProperties: false },
    ),
    localCommitment: SnapshotLocalCommitmentSchema,
    remoteCommitments: Type.Object(
      { current: SnapshotCommitmentSchema, pending: Type.Optional(SnapshotCommitmentSchema) },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false, $id: 'ChannelSnapshot' },
);

/** The snapshot JSON as the schema types it. */
export type ChannelSnapshotWire = Static<typeof ChannelSnapshotSchema>;

// ---------------------------------------------------------------------------------------------------------------
// Schema errors -> coded errors naming the field

/** A JSON pointer (`/localCommitment/htlcs/2`) as a field path (`localCommitment.htlcs[2]`). */
export function pointerToPath(pointer: string): string {
  let out = '';
  for (const raw of pointer.split('/').slice(1)) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^[0-9]+$/.test(seg) ? `[${seg}]` : out === '' ? seg : `.${seg}`;
  }
  return out;
}

/** One schema error as a field path and a short reason (no value is ever echoed). */
export interface SchemaProblem {
  readonly path: string;
  readonly what: string;
}

interface ErrorLike {
  readonly keyword: string;
  readonly instancePath: string;
  readonly params: Record<string, unknown>;
  readonly message?: string;
}

/** The first problem of a list of schema errors (typebox's or Ajv's: same shape). */
export function firstProblem(errors: readonly ErrorLike[]): SchemaProblem {
  const e = errors[0];
  if (e === undefined) return { path: '', what: 'is invalid' };
  const path = pointerToPath(e.instancePath);
  const join = (k: string): string => (path === '' ? k : `${path}.${k}`);
  switch (e.keyword) {
    case 'required': {
      const missing = (e.params['requiredProperties'] as string[] | undefined)?.[0] ?? (e.params['missingProperty'] as string | undefined) ?? '';
      return { path: join(missing), what: 'is missing' };
    }
    case 'additionalProperties': {
      const extra = (e.params['additionalProperties'] as string[] | string | undefined) ?? (e.params['additionalProperty'] as string | undefined) ?? '';
      return { path: join(Array.isArray(extra) ? (extra[0] ?? '') : extra), what: 'is not a known field' };
    }
    case 'boolean':
      return { path, what: 'is not a known field' };
    case 'pattern':
      return { path, what: 'has the wrong format' };
    case 'type':
      return { path, what: `must be ${String(e.params['type'] ?? 'of another type')}` };
    case 'const':
    case 'enum':
    case 'anyOf':
      return { path, what: 'is not one of the allowed values' };
    default:
      // typebox's and Ajv's messages name limits and kinds only ("must be >= 0"), never the value.
      return { path, what: (e.message ?? 'is invalid').slice(0, 120) };
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Parsing

/** Throws COURT_E_SNAPSHOT_INVALID naming `path`. */
export function invalid(path: string, what: string): never {
  const field = path === '' ? 'snapshot' : path;
  throw new CourtError('COURT_E_SNAPSHOT_INVALID', `${field} ${what}`, { field });
}

const compiled = Compile(ChannelSnapshotSchema as TSchema);

function amount(v: string, path: string, max: bigint): bigint {
  const n = BigInt(v);
  if (n > max) invalid(path, 'exceeds 21M BTC');
  return n;
}

function point(v: string, path: string): Uint8Array {
  const p = fromHex(v);
  if (!secp().isPoint(p)) invalid(path, 'is not a valid compressed secp256k1 point');
  return p;
}

function outpoint(v: string, path: string): string {
  const i = v.indexOf(':');
  if (Number(v.slice(i + 1)) > 0xffffffff) invalid(path, 'has an output index above 2^32-1');
  return `${v.slice(0, i).toLowerCase()}:${v.slice(i + 1)}`;
}

function shortChannelId(v: string, path: string): string {
  if (v.includes('x')) {
    const [b, t, o] = v.split('x').map(Number) as [number, number, number];
    if (b > 0xffffff || t > 0xffffff || o > 0xffff) invalid(path, 'has a part out of range');
  } else if (BigInt(v) > 0xffffffffffffffffn) {
    invalid(path, 'exceeds 2^64-1');
  }
  return v;
}

type HtlcWire = Static<typeof SnapshotHtlcSchema>;
type CommitmentWire = Static<typeof SnapshotCommitmentSchema>;

function htlc(o: HtlcWire, path: string): SnapshotHtlc {
  const h: SnapshotHtlc = {
    htlcId: o.htlcId,
    direction: o.direction,
    amountMsat: amount(o.amountMsat, `${path}.amountMsat`, MAX_MONEY_MSAT),
    paymentHash: fromHex(o.paymentHash),
    cltvExpiry: o.cltvExpiry,
  };
  if (h.amountMsat === 0n) invalid(`${path}.amountMsat`, 'must be positive');
  if (o.upstream === undefined) return h;
  if (h.direction !== 'outgoing') invalid(`${path}.upstream`, 'is only meaningful on an outgoing HTLC');
  const u = o.upstream;
  return { ...h, upstream: { chanPoint: outpoint(u.chanPoint, `${path}.upstream.chanPoint`), htlcId: u.htlcId, cltvExpiry: u.cltvExpiry } };
}

function commitment(o: CommitmentWire, path: string, capacitySat: Sat): SnapshotCommitment {
  const htlcs = o.htlcs.map((h, i) => htlc(h, `${path}.htlcs[${i}]`));
  const c: SnapshotCommitment = {
    number: o.number,
    perCommitmentPoint: point(o.perCommitmentPoint, `${path}.perCommitmentPoint`),
    feeratePerKw: o.feeratePerKw,
    toLocalMsat: amount(o.toLocalMsat, `${path}.toLocalMsat`, MAX_MONEY_MSAT),
    toRemoteMsat: amount(o.toRemoteMsat, `${path}.toRemoteMsat`, MAX_MONEY_MSAT),
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
  return c;
}

function dustLimit(v: string, path: string, capacitySat: Sat): Sat {
  const d = amount(v, path, MAX_MONEY_SAT);
  if (d < MIN_DUST_LIMIT_SAT) invalid(path, `is below the BOLT #2 minimum of ${MIN_DUST_LIMIT_SAT} sat`);
  if (d > capacitySat) invalid(path, 'exceeds the capacity');
  return d;
}

/** Checks `json` against the wire schema only; throws COURT_E_SNAPSHOT_INVALID naming the first bad field. */
export function checkSnapshotShape(json: unknown): asserts json is ChannelSnapshotWire {
  if (compiled.Check(json)) return;
  const p = firstProblem([...compiled.Errors(json)] as unknown as ErrorLike[]);
  invalid(p.path, p.what);
}

/**
 * Parses a snapshot as the node sends it (regtest/sim-snapshot.ts `channelSnapshot()`, or `snapshotJson()` output).
 * Throws COURT_E_SNAPSHOT_INVALID naming the first bad field. Checks the schema (shape, ranges), then that every
 * commitment's balances and HTLCs add up to the capacity, HTLC ids are unique per direction, at most 483 HTLCs per
 * direction, points are on the curve, and that a pending remote commitment follows the current one. Signatures
 * are checked by `checkSnapshot`.
 */
export function parseSnapshot(json: unknown): ChannelSnapshot {
  checkSnapshotShape(json);
  const top = json;
  const capacitySat = amount(top.capacitySat, 'capacitySat', MAX_MONEY_SAT);
  if (capacitySat === 0n) invalid('capacitySat', 'must be positive');
  const lcw = top.localCommitment;
  const localCommitment: SnapshotLocalCommitment = {
    ...commitment(lcw, 'localCommitment', capacitySat),
    remoteSignature: fromHex(lcw.remoteSignature),
    remoteHtlcSignatures: lcw.remoteHtlcSignatures.map((s) => fromHex(s)),
  };
  const current = commitment(top.remoteCommitments.current, 'remoteCommitments.current', capacitySat);
  const pw = top.remoteCommitments.pending;
  const pending = pw === undefined ? undefined : commitment(pw, 'remoteCommitments.pending', capacitySat);
  if (pending !== undefined && pending.number !== current.number + 1) {
    invalid('remoteCommitments.pending.number', 'must be remoteCommitments.current.number + 1');
  }
  const locs = top.local.keyLocators;
  const loc = (l: SnapshotKeyLocator): SnapshotKeyLocator => ({ family: l.family, index: l.index });
  const r = top.remote;
  return {
    chanPoint: outpoint(top.chanPoint, 'chanPoint'),
    ...(top.shortChannelId === undefined ? {} : { shortChannelId: shortChannelId(top.shortChannelId, 'shortChannelId') }),
    capacitySat,
    commitmentType: top.commitmentType,
    initiator: top.initiator,
    fundingHeightHint: top.fundingHeightHint,
    local: {
      keyLocators: {
        funding: loc(locs.funding),
        revocationBase: loc(locs.revocationBase),
        htlcBase: loc(locs.htlcBase),
        paymentBase: loc(locs.paymentBase),
        delayBase: loc(locs.delayBase),
      },
      dustLimitSat: dustLimit(top.local.dustLimitSat, 'local.dustLimitSat', capacitySat),
      toSelfDelay: top.local.toSelfDelay,
      ...(top.local.shutdownScript === undefined ? {} : { shutdownScript: fromHex(top.local.shutdownScript) }),
    },
    remote: {
      fundingPubkey: point(r.fundingPubkey, 'remote.fundingPubkey'),
      revocationBasepoint: point(r.revocationBasepoint, 'remote.revocationBasepoint'),
      paymentBasepoint: point(r.paymentBasepoint, 'remote.paymentBasepoint'),
      delayedPaymentBasepoint: point(r.delayedPaymentBasepoint, 'remote.delayedPaymentBasepoint'),
      htlcBasepoint: point(r.htlcBasepoint, 'remote.htlcBasepoint'),
      dustLimitSat: dustLimit(r.dustLimitSat, 'remote.dustLimitSat', capacitySat),
      toSelfDelay: r.toSelfDelay,
    },
    localCommitment,
    remoteCommitments: pending === undefined ? { current } : { current, pending },
  };
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

