/**
 * Spend builders for every output of a published commitment (and of its second-level HTLC transactions), for
 * both commitment formats, signed by whichever peer the path belongs to. Each returns the transaction, the outputs
 * its inputs spend, and the timelock it needs as data, so a regtest test can broadcast one block early (expect a
 * rejection) and on time (expect acceptance): the validating node decides, never this code.
 *
 * Every transaction is version 2. nSequence: the CSV of the path where it has one, RBF_SEQUENCE (0xfffffffd)
 * otherwise (non-final, so nLockTime is enforced). nLockTime: the cltv_expiry on timeout paths, 0 otherwise.
 * Sweeps pay `destination` the spent value (plus a fee input if given) minus `feeSat`.
 *
 * Faults for negative tests: 'wrong_key' (the spender's signature by a key no script names), 'wrong_remote_key'
 * (second-level only: the counterparty's signature), 'wrong_preimage' (success paths). `override` replaces
 * nSequence / nLockTime before signing (the counterparty's pre-signed second-level signature is not re-signed).
 *
 * The catalogue (`spendPaths(format)`) lists every path as data for suites that iterate over them.
 */
import { Transaction } from 'bitcoinjs-lib';
import { secp } from '../src/keys/secp.js';
import { p2wpkhScriptCode, segwitV0Sighash, SIGHASH_ALL } from '../src/keys/sighash.js';
import { encodeSig } from '../src/keys/signature.js';
import type { CommitmentFormat, CommitmentOutput, CommitmentOutputKind } from '../src/ln/commitment.js';
import { secondLevelScript } from '../src/ln/htlc.js';
import { p2wsh } from '../src/ln/scripts.js';
import { ANCHOR_ANYONE_CSV } from '../src/ln/weights.js';
import * as W from '../src/ln/witness.js';
import { checkSat, type Sat } from '../src/util/amount.js';
import { equal, hash160 } from '../src/util/bytes.js';
import { CourtError } from '../src/util/errors.js';
import { walletKey, WRONG_KEY, WRONG_PREIMAGE, type PartyName } from './sim-keys.js';
import type { ChannelSimulator, SimCommitment } from './simulator.js';
import { addUtxoInput, outputSum, RBF_SEQUENCE, signUtxoInput, txHash, utxoPrevout, type Prevout, type Utxo } from './sim-tx.js';

export type Fault = 'wrong_key' | 'wrong_remote_key' | 'wrong_preimage';

/** A commitment of the simulated channel: whose, and which number. */
export interface CommitmentRef {
  readonly sim: ChannelSimulator;
  readonly holder: PartyName;
  readonly number: number;
}

/** What a path builder spends: a commitment, one of its outputs, and for second-level outputs the parent tx. */
export interface SpendTarget extends CommitmentRef {
  /** Commitment output index; default: the first output of the path's kind. */
  readonly outputIndex?: number;
  /** Second-level output paths: the HTLC transaction as published (default: the one built without fee input). */
  readonly parentTx?: Transaction;
}

export interface SpendOptions {
  /** scriptPubKey paid by a sweep; the change of a fee-bumped second-level transaction. */
  readonly destination: Uint8Array;
  /**
   * Fee of the transaction. Second-level transactions: only with a fee input (anchors); without one their fee is
   * what the commitment pre-signed (static_remotekey) or zero (anchors), and `feeSat` is ignored.
   */
  readonly feeSat: Sat;
  readonly fault?: Fault;
  /** A P2WPKH input added after the spent output (signed SIGHASH_ALL). Needed to sweep 330-sat anchors. */
  readonly feeInput?: Utxo;
  /** Success paths: default the spender's known preimage. */
  readonly preimage?: Uint8Array;
  readonly override?: { readonly sequence?: number; readonly locktime?: number };
}

/**
 * The timelock a spend needs. `csv`: mined at height >= (height of the block that confirmed `txid`) + blocks, so a
 * node takes it into its mempool once its tip is one below that. `cltv`: nLockTime, so a node takes it once its
 * tip height is >= cltv (mined at cltv + 1 or later).
 */
export interface Timelock {
  readonly csv?: { readonly blocks: number; readonly txid: string };
  readonly cltv?: number;
}

export type PathName =
  | 'to_local.delayed'
  | 'to_local.revoked'
  | 'to_remote'
  | 'local_anchor.key'
  | 'remote_anchor.key'
  | 'local_anchor.anyone'
  | 'remote_anchor.anyone'
  | 'offered_htlc.timeout_tx'
  | 'received_htlc.success_tx'
  | 'timeout_tx_output.delayed'
  | 'timeout_tx_output.revoked'
  | 'success_tx_output.delayed'
  | 'success_tx_output.revoked'
  | 'offered_htlc.remote_preimage'
  | 'received_htlc.remote_timeout'
  | 'offered_htlc.revoked'
  | 'received_htlc.revoked';

/** A signed spend. */
export interface Spend {
  readonly path: PathName;
  readonly tx: Transaction;
  /** What each input spends, in input order (for script execution or testmempoolaccept). */
  readonly prevouts: readonly Prevout[];
  readonly timelock: Timelock;
  readonly feeSat: Sat;
}

function simError(message: string, details?: Record<string, string | number | bigint | boolean>): CourtError {
  return new CourtError('COURT_E_SIMULATOR', message, details);
}

function checkFault(path: PathName, allowed: readonly Fault[], fault: Fault | undefined): void {
  if (fault !== undefined && !allowed.includes(fault)) throw simError(`path ${path} has no fault '${fault}'`);
}

/** The commitment output `kind` of a target (the given index, or the first of that kind). */
function pickOutput(t: SpendTarget, kind: CommitmentOutputKind): { c: SimCommitment; out: CommitmentOutput } {
  const c = t.sim.commitment(t.holder, t.number);
  const out = t.outputIndex === undefined ? c.commitment.outputs.find((o) => o.kind === kind) : c.commitment.outputs[t.outputIndex];
  if (out === undefined || out.kind !== kind) {
    throw simError(`${t.holder}'s commitment ${t.number} has no ${kind} output${t.outputIndex === undefined ? '' : ' at that index'}`, {
      outputIndex: t.outputIndex ?? -1,
    });
  }
  return { c, out };
}

function commitmentPrevout(c: SimCommitment, out: CommitmentOutput): Prevout {
  return { txid: c.txid, vout: out.index, scriptPubKey: out.scriptPubKey, value: out.amountSat };
}

interface SweepSpec {
  readonly path: PathName;
  readonly prevout: Prevout;
  /** BIP143 script code of the spent output. */
  readonly scriptCode: Uint8Array;
  readonly sequence: number;
  readonly locktime: number;
  /** The spender's key; undefined for the anchor spent by anyone (no signature). */
  readonly key: Uint8Array | undefined;
  readonly witness: (sig: Uint8Array) => Uint8Array[];
  readonly faults: readonly Fault[];
  /** Position of the preimage in the witness (for 'wrong_preimage'). */
  readonly preimageAt?: number;
  readonly timelock: Timelock;
}

/** One spent output (+ optional fee input) -> one output to the destination. */
function sweep(s: SweepSpec, opts: SpendOptions): Spend {
  checkFault(s.path, s.faults, opts.fault);
  checkSat('feeSat', opts.feeSat);
  const tx = new Transaction();
  tx.version = 2;
  tx.locktime = opts.override?.locktime ?? s.locktime;
  tx.addInput(txHash(s.prevout.txid), s.prevout.vout, opts.override?.sequence ?? s.sequence);
  const prevouts: Prevout[] = [s.prevout];
  if (opts.feeInput !== undefined) {
    addUtxoInput(tx, opts.feeInput, RBF_SEQUENCE, 'feeInput');
    prevouts.push(utxoPrevout(opts.feeInput));
  }
  const inSum = prevouts.reduce((a, p) => a + p.value, 0n);
  if (opts.feeSat >= inSum) throw simError(`${s.path}: the fee takes the whole input value`, { inSum, feeSat: opts.feeSat });
  tx.addOutput(opts.destination, inSum - opts.feeSat);
  let sig: Uint8Array = new Uint8Array(0);
  if (s.key !== undefined) {
    const digest = segwitV0Sighash(tx, 0, s.scriptCode, s.prevout.value, SIGHASH_ALL);
    sig = encodeSig(secp().sign(digest, opts.fault === 'wrong_key' ? WRONG_KEY : s.key), SIGHASH_ALL);
  }
  const witness = s.witness(sig);
  if (opts.fault === 'wrong_preimage') {
    if (s.preimageAt === undefined) throw simError(`path ${s.path} takes no preimage`);
    witness[s.preimageAt] = WRONG_PREIMAGE;
  }
  tx.setWitness(0, witness);
  if (opts.feeInput !== undefined) signUtxoInput(tx, 1, opts.feeInput);
  return { path: s.path, tx, prevouts, timelock: s.timelock, feeSat: inSum - outputSum(tx) };
}

const anchorsOf = (t: CommitmentRef): boolean => t.sim.format === 'anchors';
/** nSequence of the non-revocation HTLC and to_remote paths: the 1-block CSV on anchor channels. */
const oneCsv = (t: CommitmentRef, c: SimCommitment): { sequence: number; csv?: { blocks: number; txid: string } } =>
  anchorsOf(t) ? { sequence: 1, csv: { blocks: 1, txid: c.txid } } : { sequence: RBF_SEQUENCE };

function preimageFor(t: CommitmentRef, spender: PartyName, paymentHash: Uint8Array, opts: SpendOptions): Uint8Array {
  const p = opts.preimage ?? t.sim.preimage(spender, paymentHash);
  if (p === undefined) throw simError(`${spender} does not know the preimage of this HTLC`);
  return p;
}

// ---- the holder's commitment, by the holder --------------------------------------------------------------

/** to_local after to_self_delay, by the holder's delayed key. */
export function spendToLocalDelayed(t: SpendTarget, opts: SpendOptions): Spend {
  const { c, out } = pickOutput(t, 'to_local');
  const delay = t.sim.toSelfDelay[t.holder];
  const ws = out.witnessScript as Uint8Array;
  return sweep(
    {
      path: 'to_local.delayed',
      prevout: commitmentPrevout(c, out),
      scriptCode: ws,
      sequence: delay,
      locktime: 0,
      key: t.sim.privkeys(t.holder, t.number).holderDelayed,
      witness: (sig) => W.toLocalDelayedWitness(sig, ws),
      faults: ['wrong_key'],
      timelock: { csv: { blocks: delay, txid: c.txid } },
    },
    opts,
  );
}

/** An anchor by its funding key (local anchor: the holder; remote anchor: the counterparty), at once. */
function spendAnchorByKey(t: SpendTarget, which: 'local' | 'remote', opts: SpendOptions): Spend {
  const { c, out } = pickOutput(t, which === 'local' ? 'local_anchor' : 'remote_anchor');
  const ws = out.witnessScript as Uint8Array;
  const k = t.sim.privkeys(t.holder, t.number);
  return sweep(
    {
      path: which === 'local' ? 'local_anchor.key' : 'remote_anchor.key',
      prevout: commitmentPrevout(c, out),
      scriptCode: ws,
      sequence: RBF_SEQUENCE,
      locktime: 0,
      key: which === 'local' ? k.holderFunding : k.counterpartyFunding,
      witness: (sig) => W.anchorByKeyWitness(sig, ws),
      faults: ['wrong_key'],
      timelock: {},
    },
    opts,
  );
}
export const spendLocalAnchor = (t: SpendTarget, opts: SpendOptions): Spend => spendAnchorByKey(t, 'local', opts);
export const spendRemoteAnchor = (t: SpendTarget, opts: SpendOptions): Spend => spendAnchorByKey(t, 'remote', opts);

/** An anchor by anyone, 16 blocks after the commitment confirmed (no signature). */
function spendAnchorByAnyone(t: SpendTarget, which: 'local' | 'remote', opts: SpendOptions): Spend {
  const { c, out } = pickOutput(t, which === 'local' ? 'local_anchor' : 'remote_anchor');
  const ws = out.witnessScript as Uint8Array;
  return sweep(
    {
      path: which === 'local' ? 'local_anchor.anyone' : 'remote_anchor.anyone',
      prevout: commitmentPrevout(c, out),
      scriptCode: ws,
      sequence: ANCHOR_ANYONE_CSV,
      locktime: 0,
      key: undefined,
      witness: () => W.anchorByAnyoneWitness(ws),
      faults: [],
      timelock: { csv: { blocks: ANCHOR_ANYONE_CSV, txid: c.txid } },
    },
    opts,
  );
}
export const spendLocalAnchorByAnyone = (t: SpendTarget, opts: SpendOptions): Spend => spendAnchorByAnyone(t, 'local', opts);
export const spendRemoteAnchorByAnyone = (t: SpendTarget, opts: SpendOptions): Spend => spendAnchorByAnyone(t, 'remote', opts);

/** Second-level transaction of the holder (HTLC-timeout for offered, HTLC-success for received HTLCs). */
function secondLevelTx(t: SpendTarget, kind: 'offered_htlc' | 'received_htlc', opts: SpendOptions): Spend {
  const path: PathName = kind === 'offered_htlc' ? 'offered_htlc.timeout_tx' : 'received_htlc.success_tx';
  checkFault(path, kind === 'offered_htlc' ? ['wrong_key', 'wrong_remote_key'] : ['wrong_key', 'wrong_remote_key', 'wrong_preimage'], opts.fault);
  const { c, out } = pickOutput(t, kind);
  const htlc = t.sim.htlcOfOutput(t.holder, t.number, out.index);
  const signed = t.sim.signedHtlcTx(t.holder, t.number, out.index, {
    preimage: kind === 'received_htlc' ? opts.preimage : undefined,
    feeInput: opts.feeInput,
    change: opts.feeInput === undefined ? undefined : { scriptPubKey: opts.destination, feeSat: opts.feeSat },
    fault: opts.fault,
    override: opts.override,
  });
  const { csv } = oneCsv(t, c);
  const timelock: Timelock = { ...(csv === undefined ? {} : { csv }), ...(kind === 'offered_htlc' ? { cltv: htlc.cltvExpiry } : {}) };
  return { path, ...signed, timelock };
}
/** HTLC-timeout (second level) of an HTLC the holder offered: nLockTime = cltv_expiry. */
export const htlcTimeoutTx = (t: SpendTarget, opts: SpendOptions): Spend => secondLevelTx(t, 'offered_htlc', opts);
/** HTLC-success (second level) of an HTLC the holder received, with the preimage. */
export const htlcSuccessTx = (t: SpendTarget, opts: SpendOptions): Spend => secondLevelTx(t, 'received_htlc', opts);

/** The second-level output (output 0 of the holder's HTLC tx) as a prevout, checked against the commitment. */
function secondLevelPrevout(t: SpendTarget, kind: 'offered_htlc' | 'received_htlc'): { c: SimCommitment; prevout: Prevout; ws: Uint8Array } {
  const { c, out } = pickOutput(t, kind);
  const parent = t.parentTx ?? t.sim.signedHtlcTx(t.holder, t.number, out.index).tx;
  const ws = secondLevelScript(c.commitment);
  const o = parent.outs[0];
  const input = parent.ins[0];
  const spendsCommitment = input !== undefined && input.index === out.index && equal(input.hash, txHash(c.txid));
  if (o === undefined || !equal(o.script, p2wsh(ws)) || !spendsCommitment) {
    throw simError('parentTx is not the second-level transaction of that HTLC output', { outputIndex: out.index });
  }
  return { c, ws, prevout: { txid: parent.getId(), vout: 0, scriptPubKey: o.script, value: o.value } };
}

function spendSecondLevelDelayed(t: SpendTarget, kind: 'offered_htlc' | 'received_htlc', opts: SpendOptions): Spend {
  const { prevout, ws } = secondLevelPrevout(t, kind);
  const delay = t.sim.toSelfDelay[t.holder];
  return sweep(
    {
      path: kind === 'offered_htlc' ? 'timeout_tx_output.delayed' : 'success_tx_output.delayed',
      prevout,
      scriptCode: ws,
      sequence: delay,
      locktime: 0,
      key: t.sim.privkeys(t.holder, t.number).holderDelayed,
      witness: (sig) => W.toLocalDelayedWitness(sig, ws),
      faults: ['wrong_key'],
      timelock: { csv: { blocks: delay, txid: prevout.txid } },
    },
    opts,
  );
}
/** The HTLC-timeout tx's output after to_self_delay, by the holder's delayed key. */
export const spendTimeoutOutputDelayed = (t: SpendTarget, opts: SpendOptions): Spend => spendSecondLevelDelayed(t, 'offered_htlc', opts);
/** The HTLC-success tx's output after to_self_delay, by the holder's delayed key. */
export const spendSuccessOutputDelayed = (t: SpendTarget, opts: SpendOptions): Spend => spendSecondLevelDelayed(t, 'received_htlc', opts);

// ---- the holder's commitment, by the counterparty ----------------------------------------------------------

/** to_remote: P2WPKH at once (static_remotekey), or after 1 block (anchors), by the counterparty's payment key. */
export function spendToRemote(t: SpendTarget, opts: SpendOptions): Spend {
  const { c, out } = pickOutput(t, 'to_remote');
  const key = t.sim.privkeys(t.holder, t.number).counterpartyPayment;
  const pubkey = c.commitment.spec.keys.remotePaymentPubkey;
  const ws = out.witnessScript;
  const { sequence, csv } = oneCsv(t, c);
  return sweep(
    {
      path: 'to_remote',
      prevout: commitmentPrevout(c, out),
      scriptCode: ws ?? p2wpkhScriptCode(hash160(pubkey)),
      sequence,
      locktime: 0,
      key,
      witness: (sig) => (ws === undefined ? W.toRemoteP2wpkhWitness(sig, pubkey) : W.toRemoteAnchorWitness(sig, ws)),
      faults: ['wrong_key'],
      timelock: csv === undefined ? {} : { csv },
    },
    opts,
  );
}

/** An HTLC the holder offered, claimed directly by the counterparty with the preimage. */
export function claimOfferedHtlcWithPreimage(t: SpendTarget, opts: SpendOptions): Spend {
  const { c, out } = pickOutput(t, 'offered_htlc');
  const htlc = t.sim.htlcOfOutput(t.holder, t.number, out.index);
  const ws = out.witnessScript as Uint8Array;
  const pre = preimageFor(t, c.counterparty, htlc.paymentHash, opts);
  const { sequence, csv } = oneCsv(t, c);
  return sweep(
    {
      path: 'offered_htlc.remote_preimage',
      prevout: commitmentPrevout(c, out),
      scriptCode: ws,
      sequence,
      locktime: 0,
      key: t.sim.privkeys(t.holder, t.number).counterpartyHtlc,
      witness: (sig) => W.htlcSuccessDirectWitness(sig, pre, ws),
      faults: ['wrong_key', 'wrong_preimage'],
      preimageAt: 1,
      timelock: csv === undefined ? {} : { csv },
    },
    opts,
  );
}

/** An HTLC the holder received, claimed directly by the counterparty (its offerer) after cltv_expiry. */
export function claimReceivedHtlcAfterTimeout(t: SpendTarget, opts: SpendOptions): Spend {
  const { c, out } = pickOutput(t, 'received_htlc');
  const htlc = t.sim.htlcOfOutput(t.holder, t.number, out.index);
  const ws = out.witnessScript as Uint8Array;
  const { sequence, csv } = oneCsv(t, c);
  return sweep(
    {
      path: 'received_htlc.remote_timeout',
      prevout: commitmentPrevout(c, out),
      scriptCode: ws,
      sequence,
      locktime: htlc.cltvExpiry,
      key: t.sim.privkeys(t.holder, t.number).counterpartyHtlc,
      witness: (sig) => W.htlcTimeoutDirectWitness(sig, ws),
      faults: ['wrong_key'],
      timelock: csv === undefined ? { cltv: htlc.cltvExpiry } : { csv, cltv: htlc.cltvExpiry },
    },
    opts,
  );
}

/** to_local of a revoked commitment, by the counterparty's revocation key (at once). */
export function spendToLocalRevoked(t: SpendTarget, opts: SpendOptions): Spend {
  const { c, out } = pickOutput(t, 'to_local');
  const ws = out.witnessScript as Uint8Array;
  return sweep(
    {
      path: 'to_local.revoked',
      prevout: commitmentPrevout(c, out),
      scriptCode: ws,
      sequence: RBF_SEQUENCE,
      locktime: 0,
      key: t.sim.revocationPrivkey(t.holder, t.number),
      witness: (sig) => W.toLocalRevokedWitness(sig, ws),
      faults: ['wrong_key'],
      timelock: {},
    },
    opts,
  );
}

function spendHtlcRevoked(t: SpendTarget, kind: 'offered_htlc' | 'received_htlc', opts: SpendOptions): Spend {
  const { c, out } = pickOutput(t, kind);
  const ws = out.witnessScript as Uint8Array;
  const revocationPubkey = c.commitment.spec.keys.revocationPubkey;
  return sweep(
    {
      path: kind === 'offered_htlc' ? 'offered_htlc.revoked' : 'received_htlc.revoked',
      prevout: commitmentPrevout(c, out),
      scriptCode: ws,
      sequence: RBF_SEQUENCE,
      locktime: 0,
      key: t.sim.revocationPrivkey(t.holder, t.number),
      witness: (sig) => W.htlcRevokedWitness(sig, revocationPubkey, ws),
      faults: ['wrong_key'],
      timelock: {},
    },
    opts,
  );
}
/** An offered HTLC output of a revoked commitment, by the revocation key. */
export const spendOfferedHtlcRevoked = (t: SpendTarget, opts: SpendOptions): Spend => spendHtlcRevoked(t, 'offered_htlc', opts);
/** A received HTLC output of a revoked commitment, by the revocation key. */
export const spendReceivedHtlcRevoked = (t: SpendTarget, opts: SpendOptions): Spend => spendHtlcRevoked(t, 'received_htlc', opts);

function spendSecondLevelRevoked(t: SpendTarget, kind: 'offered_htlc' | 'received_htlc', opts: SpendOptions): Spend {
  const { prevout, ws } = secondLevelPrevout(t, kind);
  return sweep(
    {
      path: kind === 'offered_htlc' ? 'timeout_tx_output.revoked' : 'success_tx_output.revoked',
      prevout,
      scriptCode: ws,
      sequence: RBF_SEQUENCE,
      locktime: 0,
      key: t.sim.revocationPrivkey(t.holder, t.number),
      witness: (sig) => W.toLocalRevokedWitness(sig, ws),
      faults: ['wrong_key'],
      timelock: {},
    },
    opts,
  );
}
/** The output of an HTLC-timeout tx spending a revoked commitment, by the revocation key. */
export const spendTimeoutOutputRevoked = (t: SpendTarget, opts: SpendOptions): Spend => spendSecondLevelRevoked(t, 'offered_htlc', opts);
/** The output of an HTLC-success tx spending a revoked commitment, by the revocation key. */
export const spendSuccessOutputRevoked = (t: SpendTarget, opts: SpendOptions): Spend => spendSecondLevelRevoked(t, 'received_htlc', opts);

// ---- catalogue ---------------------------------------------------------------------------------------------

/** One spend path as data. */
export interface SpendPath {
  readonly name: PathName;
  readonly format: CommitmentFormat;
  /** Who signs: the commitment's holder or its counterparty. */
  readonly spender: 'holder' | 'counterparty';
  /** The kind of commitment output the path starts from. */
  readonly outputKind: CommitmentOutputKind;
  /** What the spent output belongs to: the commitment, or the second-level tx built by the named path. */
  readonly spends: 'commitment' | 'offered_htlc.timeout_tx' | 'received_htlc.success_tx';
  /** Whether the commitment must be revoked (the spender needs the holder's per-commitment secret). */
  readonly needsRevoked: boolean;
  /** Whether the spender needs the payment preimage. */
  readonly needsPreimage: boolean;
  readonly faults: readonly Fault[];
  build(target: SpendTarget, opts: SpendOptions): Spend;
}

type Row = Omit<SpendPath, 'format' | 'needsPreimage'> & { readonly anchorsOnly?: boolean; readonly needsPreimage?: boolean };

const ROWS: readonly Row[] = [
  { name: 'to_local.delayed', spender: 'holder', outputKind: 'to_local', spends: 'commitment', needsRevoked: false, faults: ['wrong_key'], build: spendToLocalDelayed },
  { name: 'to_local.revoked', spender: 'counterparty', outputKind: 'to_local', spends: 'commitment', needsRevoked: true, faults: ['wrong_key'], build: spendToLocalRevoked },
  { name: 'to_remote', spender: 'counterparty', outputKind: 'to_remote', spends: 'commitment', needsRevoked: false, faults: ['wrong_key'], build: spendToRemote },
  { name: 'local_anchor.key', anchorsOnly: true, spender: 'holder', outputKind: 'local_anchor', spends: 'commitment', needsRevoked: false, faults: ['wrong_key'], build: spendLocalAnchor },
  { name: 'remote_anchor.key', anchorsOnly: true, spender: 'counterparty', outputKind: 'remote_anchor', spends: 'commitment', needsRevoked: false, faults: ['wrong_key'], build: spendRemoteAnchor },
  { name: 'local_anchor.anyone', anchorsOnly: true, spender: 'counterparty', outputKind: 'local_anchor', spends: 'commitment', needsRevoked: false, faults: [], build: spendLocalAnchorByAnyone },
  { name: 'remote_anchor.anyone', anchorsOnly: true, spender: 'holder', outputKind: 'remote_anchor', spends: 'commitment', needsRevoked: false, faults: [], build: spendRemoteAnchorByAnyone },
  { name: 'offered_htlc.timeout_tx', spender: 'holder', outputKind: 'offered_htlc', spends: 'commitment', needsRevoked: false, faults: ['wrong_key', 'wrong_remote_key'], build: htlcTimeoutTx },
  { name: 'received_htlc.success_tx', spender: 'holder', outputKind: 'received_htlc', spends: 'commitment', needsRevoked: false, needsPreimage: true, faults: ['wrong_key', 'wrong_remote_key', 'wrong_preimage'], build: htlcSuccessTx },
  { name: 'timeout_tx_output.delayed', spender: 'holder', outputKind: 'offered_htlc', spends: 'offered_htlc.timeout_tx', needsRevoked: false, faults: ['wrong_key'], build: spendTimeoutOutputDelayed },
  { name: 'timeout_tx_output.revoked', spender: 'counterparty', outputKind: 'offered_htlc', spends: 'offered_htlc.timeout_tx', needsRevoked: true, faults: ['wrong_key'], build: spendTimeoutOutputRevoked },
  { name: 'success_tx_output.delayed', spender: 'holder', outputKind: 'received_htlc', spends: 'received_htlc.success_tx', needsRevoked: false, faults: ['wrong_key'], build: spendSuccessOutputDelayed },
  { name: 'success_tx_output.revoked', spender: 'counterparty', outputKind: 'received_htlc', spends: 'received_htlc.success_tx', needsRevoked: true, faults: ['wrong_key'], build: spendSuccessOutputRevoked },
  { name: 'offered_htlc.remote_preimage', spender: 'counterparty', outputKind: 'offered_htlc', spends: 'commitment', needsRevoked: false, needsPreimage: true, faults: ['wrong_key', 'wrong_preimage'], build: claimOfferedHtlcWithPreimage },
  { name: 'received_htlc.remote_timeout', spender: 'counterparty', outputKind: 'received_htlc', spends: 'commitment', needsRevoked: false, faults: ['wrong_key'], build: claimReceivedHtlcAfterTimeout },
  { name: 'offered_htlc.revoked', spender: 'counterparty', outputKind: 'offered_htlc', spends: 'commitment', needsRevoked: true, faults: ['wrong_key'], build: spendOfferedHtlcRevoked },
  { name: 'received_htlc.revoked', spender: 'counterparty', outputKind: 'received_htlc', spends: 'commitment', needsRevoked: true, faults: ['wrong_key'], build: spendReceivedHtlcRevoked },
];

/** Every spend path of a commitment format. */
export function spendPaths(format: CommitmentFormat): SpendPath[] {
  if (format !== 'static_remotekey' && format !== 'anchors') throw simError('format must be static_remotekey or anchors');
  return ROWS.filter((r) => format === 'anchors' || r.anchorsOnly !== true).map((r) => {
    const { anchorsOnly: _a, needsPreimage, ...rest } = r;
    const build = (t: SpendTarget, opts: SpendOptions): Spend => {
      if (t.sim.format !== format) throw simError(`path ${r.name} is for ${format} channels`);
      return r.build(t, opts);
    };
    return Object.freeze({ ...rest, format, needsPreimage: needsPreimage ?? false, build });
  });
}

/**
 * A mutual close of `sim` paying each side its balance (minus a fee from alice) to wallet keys named
 * `${label} alice` / `${label} bob`, signed by both; `shiftSat` moves that much of alice's balance to bob (a close
 * that shortchanges alice).
 */
export function coopCloseTx(sim: ChannelSimulator, o: { readonly feeSat?: bigint; readonly shiftSat?: bigint; readonly label?: string } = {}): Transaction {
  const feeSat = o.feeSat ?? 1_000n;
  const shiftSat = o.shiftSat ?? 0n;
  const label = o.label ?? 'coop';
  const state = sim.state(sim.latestNumber);
  const tx = new Transaction();
  tx.version = 2;
  tx.addInput(Buffer.from(sim.fundingTxid, 'hex').reverse(), sim.fundingVout, 0xffffffff);
  tx.addOutput(walletKey(`${label} alice`).scriptPubKey, state.balanceMsat.alice / 1000n - feeSat - shiftSat);
  tx.addOutput(walletKey(`${label} bob`).scriptPubKey, state.balanceMsat.bob / 1000n + shiftSat);
  const script = sim.fundingScript;
  const digest = segwitV0Sighash(tx, 0, script, sim.capacitySat, SIGHASH_ALL);
  const sign = (p: PartyName): Uint8Array => encodeSig(secp().sign(digest, sim.parties[p].ring.privateKey(sim.parties[p].locators.funding)), SIGHASH_ALL);
  tx.setWitness(0, W.fundingWitness(script, sim.parties.alice.fundingPubkey, sign('alice'), sim.parties.bob.fundingPubkey, sign('bob')));
  return tx;
}
