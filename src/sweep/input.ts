/**
 * Sweep inputs: checking an owner's SweepInputSpec, its JSON form in the briefcase (bigints as decimal strings,
 * versioned), and the weight it adds to a sweep (ln/weights.ts WITNESS_WEIGHT). Pure.
 */
import { WITNESS_WEIGHT } from '../ln/weights.js';
import { checkSat } from '../util/amount.js';
import { CourtError } from '../util/errors.js';
import type { KeySpec, SweepInputSpec, WitnessSpec } from './types.js';

/** Weight of an input's outpoint, empty scriptSig and nSequence: (32 + 4 + 1 + 4) * 4. */
export const INPUT_BASE_WEIGHT = 164;
/** Default nSequence: signals RBF, no relative lock. */
export const DEFAULT_SEQUENCE = 0xfffffffd;

const HEX_RE = /^(?:[0-9a-f]{2})*$/;
const OUTPOINT_RE = /^[0-9a-f]{64}:\d{1,10}$/;
const KINDS: ReadonlySet<string> = new Set([
  'toLocalDelayed',
  'toLocalRevoked',
  'toRemoteP2wpkh',
  'toRemoteAnchor',
  'anchorByKey',
  'htlcTimeoutDirect',
  'htlcSuccessDirect',
  'htlcRevoked',
  'htlcSecondLevel',
]);

function bad(message: string, details: Record<string, string | number> = {}): never {
  throw new CourtError('COURT_E_SWEEP_INVALID_INPUT', message, details);
}

function hex(v: unknown, what: string, len?: number): string {
  if (typeof v !== 'string' || !HEX_RE.test(v) || v.length === 0) bad(`${what} must be lower-case hex`);
  if (len !== undefined && v.length !== len * 2) bad(`${what} must be ${len} bytes`);
  return v;
}

function height(v: unknown, what: string): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= 500_000_000) bad(`${what} must be a block height`);
  return v;
}

function checkKey(k: KeySpec | undefined): void {
  if (typeof k !== 'object' || k === null || typeof k.locator !== 'object' || k.locator === null) bad('witness key needs a locator');
  const ok = (n: unknown): boolean => typeof n === 'number' && Number.isInteger(n) && n >= 0 && n < 0x80000000;
  if (!ok(k.locator.family) || !ok(k.locator.index)) bad('key locator needs integer family and index');
  if (k.singleTweak !== undefined) hex(k.singleTweak, 'singleTweak', 32);
  if (k.doubleTweak !== undefined) hex(k.doubleTweak, 'doubleTweak', 32);
  if (k.singleTweak !== undefined && k.doubleTweak !== undefined) bad('a key takes a single tweak or a double tweak, not both');
}

function checkWitness(w: WitnessSpec): void {
  if (typeof w !== 'object' || w === null || !KINDS.has(w.kind)) bad('unknown witness kind');
  checkKey(w.key);
  if (w.kind === 'toRemoteP2wpkh') hex(w.pubkey, 'pubkey', 33);
  else hex(w.script, 'witness script');
  if (w.kind === 'htlcSuccessDirect') hex(w.preimage, 'preimage', 32);
  if (w.kind === 'htlcRevoked') hex(w.revocationPubkey, 'revocationPubkey', 33);
  if (w.kind === 'htlcSecondLevel') {
    hex(w.remoteSig, 'remoteSig');
    if (w.preimage !== undefined) hex(w.preimage, 'preimage', 32);
  }
}

/** Throws COURT_E_SWEEP_INVALID_INPUT (or COURT_E_INVALID_AMOUNT) unless `s` is a well-formed input spec. */
export function checkSpec(s: SweepInputSpec): SweepInputSpec {
  if (typeof s !== 'object' || s === null) bad('input spec must be an object');
  if (typeof s.outpoint !== 'string' || !OUTPOINT_RE.test(s.outpoint) || Number(s.outpoint.split(':')[1]) > 0xffffffff) {
    bad('outpoint must be "txid:vout"');
  }
  checkSat('valueSat', s.valueSat);
  checkSat('budgetSat', s.budgetSat);
  hex(s.scriptPubKey, 'scriptPubKey');
  checkWitness(s.witness);
  if (s.sequence !== undefined && (!Number.isInteger(s.sequence) || s.sequence < 0 || s.sequence > 0xffffffff)) bad('sequence must be a uint32');
  height(s.locktime, 'locktime');
  height(s.matureHeight, 'matureHeight');
  height(s.deadlineHeight, 'deadlineHeight');
  if (s.exclusiveGroup !== undefined && (typeof s.exclusiveGroup !== 'string' || s.exclusiveGroup.length === 0)) bad('exclusiveGroup must be a non-empty string');
  if (typeof s.pinnable !== 'boolean') bad('pinnable must be a boolean');
  if (s.alone !== undefined && typeof s.alone !== 'boolean') bad('alone must be a boolean');
  if (typeof s.owner !== 'string' || s.owner.length === 0) bad('owner must be a non-empty string');
  if (s.chanPoint !== undefined && (typeof s.chanPoint !== 'string' || !OUTPOINT_RE.test(s.chanPoint))) bad('chanPoint must be "txid:vout"');
  if (s.pairedOutput !== undefined) {
    checkSat('pairedOutput.valueSat', s.pairedOutput.valueSat);
    hex(s.pairedOutput.script, 'pairedOutput.script');
    if (s.witness.kind !== 'htlcSecondLevel') bad('only a second-level HTLC input carries a paired output');
  } else if (s.witness.kind === 'htlcSecondLevel') {
    bad('a second-level HTLC input needs its paired output');
  }
  if (s.parent !== undefined) {
    hex(s.parent.txid, 'parent.txid', 32);
    if (!Number.isInteger(s.parent.weight) || s.parent.weight <= 0) bad('parent.weight must be a positive integer');
    checkSat('parent.feeSat', s.parent.feeSat);
    if (s.parent.txid !== s.outpoint.slice(0, 64)) bad('parent.txid must be the transaction of the outpoint');
  }
  return s;
}

/**
 * What the sweeper itself records about an input beside its owner's spec (in the same stored JSON, so no schema
 * change): never part of the spec, kept when the owner offers the spec again.
 */
export interface SpecMarks {
  /**
   * Pinnable and split by channel (a set holding pinnable inputs of several channels was refused by the node, lost
   * an input to someone else, or was no longer held by the node near its deadline): from then on clustered only
   * with pinnable inputs of its own channel.
   */
  readonly channelSplit?: boolean;
}

/** The spec as stored (JSON, v 1), with the sweeper's marks beside it. */
export function specToJson(s: SweepInputSpec, marks: SpecMarks = {}): string {
  const { channelSplit: _c, ...clean } = s as SweepInputSpec & { channelSplit?: unknown };
  return JSON.stringify({ v: 1, ...clean, ...(marks.channelSplit === true ? { channelSplit: true } : {}) }, (_k, v: unknown) =>
    typeof v === 'bigint' ? v.toString() : v,
  );
}

/** The sweeper's marks of a stored spec. */
export function marksFromJson(json: string): SpecMarks {
  return (JSON.parse(json) as { channelSplit?: unknown }).channelSplit === true ? { channelSplit: true } : {};
}

/** Parses a stored spec; COURT_E_SWEEP_INVALID_INPUT if it does not decode. */
export function specFromJson(json: string): SweepInputSpec {
  const o = JSON.parse(json) as Record<string, unknown> & { v?: number };
  if (o.v !== 1) bad('stored input spec has an unknown version');
  const big = (x: unknown): bigint => BigInt(x as string);
  const po = o.pairedOutput as { valueSat: string; script: string } | undefined;
  const pa = o.parent as { txid: string; weight: number; feeSat: string } | undefined;
  const { v: _v, channelSplit: _c, ...rest } = o;
  return checkSpec({
    ...(rest as unknown as SweepInputSpec),
    valueSat: big(o.valueSat),
    budgetSat: big(o.budgetSat),
    ...(po ? { pairedOutput: { valueSat: big(po.valueSat), script: po.script } } : {}),
    ...(pa ? { parent: { txid: pa.txid, weight: pa.weight, feeSat: big(pa.feeSat) } } : {}),
  });
}

/** Witness weight of an input (upper bound, signatures at 73 bytes). */
export function witnessWeight(w: WitnessSpec): number {
  const s = w.kind === 'toRemoteP2wpkh' ? 0 : w.script.length / 2;
  switch (w.kind) {
    case 'toLocalDelayed':
      return WITNESS_WEIGHT.toLocalDelayed(s);
    case 'toLocalRevoked':
      return WITNESS_WEIGHT.toLocalRevoked(s);
    case 'toRemoteP2wpkh':
      return WITNESS_WEIGHT.toRemoteP2wpkh();
    case 'toRemoteAnchor':
      return WITNESS_WEIGHT.toRemoteAnchor();
    case 'anchorByKey':
      return WITNESS_WEIGHT.anchorByKey();
    case 'htlcTimeoutDirect':
      return WITNESS_WEIGHT.htlcTimeoutDirect(s);
    case 'htlcSuccessDirect':
      return WITNESS_WEIGHT.htlcSuccessDirect(s);
    case 'htlcRevoked':
      return WITNESS_WEIGHT.htlcRevoked(s);
    case 'htlcSecondLevel':
      return w.preimage !== undefined ? WITNESS_WEIGHT.htlcSuccessSecondLevel(s) : WITNESS_WEIGHT.htlcTimeoutSecondLevel(s);
  }
}

/** Weight the input adds to a transaction: outpoint, scriptSig length, nSequence, witness. */
export function inputWeight(s: SweepInputSpec): number {
  return INPUT_BASE_WEIGHT + witnessWeight(s.witness);
}

/** Serialised size of an output paying to `scriptHexOrLen`: value, script length, script. */
export function outputSize(scriptLen: number): number {
  return 8 + varintLen(scriptLen) + scriptLen;
}

export function varintLen(n: number): number {
  return n < 0xfd ? 1 : n <= 0xffff ? 3 : 5;
}

/** Core's dust threshold at 3 sat/vB for a witness output of this script length (294 P2WPKH, 330 P2WSH). */
export function dustLimit(scriptLen: number): bigint {
  return BigInt((outputSize(scriptLen) + 67) * 3);
}

/** True if the input needs the fee wallet: a paired output (zero-fee HTLC tx) or a parent to lift (CPFP). */
export function needsWallet(s: SweepInputSpec): boolean {
  return s.pairedOutput !== undefined || s.parent !== undefined;
}

/**
 * The most fee the input may carry: its budget, and for an input that pays for itself no more than its value
 * (a wallet-funded input's budget is paid by the wallet).
 */
export function effectiveBudget(s: SweepInputSpec): bigint {
  return needsWallet(s) || s.budgetSat <= s.valueSat ? s.budgetSat : s.valueSat;
}

/** The height from which a transaction holding the input can enter the mempool (tip height, not block height). */
export function publishableHeight(s: SweepInputSpec): number {
  const mature = s.matureHeight ?? 0;
  const cltv = s.locktime !== undefined && s.locktime > 0 ? s.locktime + 1 : 0;
  return Math.max(mature, cltv) - 1;
}
