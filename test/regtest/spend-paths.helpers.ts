/**
 * Driver of test/regtest/spend-paths.test.ts. It places every catalogued spend path of regtest/spends.ts (both
 * commitment formats) on as few simulated channels as the outputs allow, opens them on one regtest node, and runs
 * every path on one shared block timeline, recording what the node answered: the early probe, each fault variant,
 * and the on-time broadcast. It asserts nothing; the test file judges the records.
 *
 * Placement: a commitment output can be spent once, so paths that spend the same output (to_local.delayed and
 * to_local.revoked, an anchor by key and by anyone, an HTLC by its holder and by the counterparty) go to different
 * outputs: each channel carries HTLCS_PER_DIRECTION HTLCs offered by each peer, and a further commitment is used
 * only when a kind of output runs out. Revocation paths need a revoked commitment (number 1 of the channel),
 * the others the latest one (number 2); each channel publishes one of them. A second-level output path spends the
 * second-level transaction of the catalogue's parent path on the same commitment, or, when no counted one fits (the
 * revocation of a second-level output needs a revoked commitment), an uncounted parent published just for it.
 *
 * Timeline (one tick = one tip height): a unit (the commitment, a path, an uncounted parent) becomes buildable
 * once its parent is in the mempool; its parent is then expected in the next block, which gives the tip at which
 * the node must accept it ("ready", from the Timelock data of spends.ts). A timelocked unit is probed with
 * testmempoolaccept at tip ready - 1 (for a 1-block CSV: while its parent is still unconfirmed in the mempool). At
 * tip ready every fault variant is probed, then every in-script lock (see below), then the correct spend is
 * broadcast with sendrawtransaction; each tick
 * ends by mining up to the next tip something is due at, so whatever was broadcast confirms in the next block.
 * A probe asks sendrawtransaction as well only after testmempoolaccept refused (so it cannot change the state),
 * to get Core's RPC error code.
 *
 * In-script locks ("script_early" probes): the early probe only shows the node enforces transaction finality
 * (nLockTime, BIP68), which holds with OP_CSV / OP_CLTV turned into no-ops. So at tip ready, for each OP_CSV /
 * OP_CLTV of the spent witness script whose value is a lock spends.ts' Timelock names (the check the path's
 * branch runs), the same spend is built with SpendOptions.override one below the script's number: nSequence =
 * csv - 1 (BIP68-final here, the output being old enough for csv - 1, but short of what OP_CSV wants) or
 * nLockTime = cltv - 1 (final at this tip, short of what OP_CLTV wants), and probed. The holder's second-level
 * transactions (anchors: the `1 OP_CSV` of the HTLC scripts) carry the counterparty's signature over the
 * transaction as built, which the override would break (the script then fails on the signature, before the lock):
 * for the probe the counterparty's key (the simulator holds it) signs the overridden transaction afresh, so only
 * the lock is wrong.
 */
import type { Transaction } from 'bitcoinjs-lib';
import type { AcceptResult, RegtestChain, RpcFailure } from '../../regtest/chain.js';
import { walletKey, type PartyName } from '../../regtest/sim-keys.js';
import type { Prevout, Utxo } from '../../regtest/sim-tx.js';
import { ChannelSimulator } from '../../regtest/simulator.js';
import { spendPaths, type Fault, type SpendOptions, type SpendPath, type Timelock } from '../../regtest/spends.js';
import { secp } from '../../src/keys/secp.js';
import { segwitV0Sighash } from '../../src/keys/sighash.js';
import { encodeSig } from '../../src/keys/signature.js';
import type { CommitmentOutputKind } from '../../src/ln/commitment.js';
import { OP, p2wsh } from '../../src/ln/scripts.js';
import { equal } from '../../src/util/bytes.js';

export const FORMATS = ['static_remotekey', 'anchors'] as const;
export type Format = (typeof FORMATS)[number];

/** HTLCs each peer offers on every channel: two, so one HTLC output can go one way and its twin the other. */
export const HTLCS_PER_DIRECTION = 2;
/** Commitment numbers: 1 is revoked (both peers revealed its secret), 2 is the latest. */
const REVOKED_NUMBER = 1;
const LATEST_NUMBER = 2;
/** to_self_delay each peer's own outputs carry (CSV of to_local and of its second-level outputs). */
const TO_SELF_DELAY: Readonly<Record<PartyName, number>> = { alice: 6, bob: 9 };
/** HTLC cltv_expiry, in blocks after the tip at which the commitments are broadcast, per offerer and HTLC. */
const CLTV_OFFSETS: Readonly<Record<PartyName, readonly number[]>> = { alice: [3, 5], bob: [4, 6] };
const HTLC_SAT: Readonly<Record<PartyName, readonly bigint[]>> = { alice: [20_000n, 22_000n], bob: [30_000n, 33_000n] };
const CAPACITY_SAT = 1_000_000n;
const PUSH_MSAT = 300_000_000n;
const FEERATE_PER_KW = 2_500;
const SWEEP_FEE_SAT = 1_000n;
const FEE_INPUT_SAT = 50_000n;
/** The suite gives up (recording every unfinished unit) after this many blocks. */
const MAX_BLOCKS = 200;

const DEST = walletKey('spend-paths destination').scriptPubKey;
const FEE_KEY = walletKey('spend-paths fee input');

// ---- placement ---------------------------------------------------------------------------------------------

export interface PlannedChannel {
  readonly format: Format;
  /** Position among the format's channels. */
  readonly index: number;
  /** Whether the published commitment is the revoked one. */
  readonly revoked: boolean;
  /** Whose commitment is published. */
  readonly holder: PartyName;
  /** Outputs taken so far, per kind. */
  readonly used: Map<CommitmentOutputKind, number>;
}

export interface PlannedStep {
  readonly format: Format;
  readonly path: SpendPath;
  /** False for a second-level transaction published only as the parent of a revocation path. */
  readonly counted: boolean;
  readonly channel: PlannedChannel;
  /** Which output of `path.outputKind` it spends, in commitment output order (0: the first). */
  readonly slot: number;
  /** The step whose transaction it spends; undefined: it spends the commitment. */
  readonly parent: PlannedStep | undefined;
}

export interface Plan {
  readonly channels: readonly PlannedChannel[];
  readonly steps: readonly PlannedStep[];
}

function outputsPerCommitment(format: Format, kind: CommitmentOutputKind): number {
  switch (kind) {
    case 'to_local':
    case 'to_remote':
      return 1;
    case 'local_anchor':
    case 'remote_anchor':
      return format === 'anchors' ? 1 : 0;
    case 'offered_htlc':
    case 'received_htlc':
      return HTLCS_PER_DIRECTION;
  }
}

/** Places every path of `format`'s catalogue on a commitment output (see the file comment). */
export function planFormat(format: Format): Plan {
  const paths = spendPaths(format);
  const formatIndex = FORMATS.indexOf(format);
  const channels: PlannedChannel[] = [];
  const steps: PlannedStep[] = [];
  const place = (kind: CommitmentOutputKind, revoked: boolean): { channel: PlannedChannel; slot: number } => {
    if (outputsPerCommitment(format, kind) === 0) throw new Error(`${format} commitments have no ${kind} output`);
    let channel = channels.find((c) => c.revoked === revoked && (c.used.get(kind) ?? 0) < outputsPerCommitment(format, kind));
    if (channel === undefined) {
      // Alternate the publishing peer so both formats see both peers' commitments, live and revoked.
      const sameKind = channels.filter((c) => c.revoked === revoked).length;
      const holder: PartyName = (sameKind + formatIndex + (revoked ? 1 : 0)) % 2 === 0 ? 'alice' : 'bob';
      channel = { format, index: channels.length, revoked, holder, used: new Map() };
      channels.push(channel);
    }
    const slot = channel.used.get(kind) ?? 0;
    channel.used.set(kind, slot + 1);
    return { channel, slot };
  };
  for (const path of paths.filter((p) => p.spends === 'commitment')) {
    steps.push({ format, path, counted: true, ...place(path.outputKind, path.needsRevoked), parent: undefined });
  }
  const hosting = new Set<PlannedStep>();
  for (const path of paths.filter((p) => p.spends !== 'commitment')) {
    let parent = steps.find((s) => s.path.name === path.spends && s.channel.revoked === path.needsRevoked && !hosting.has(s));
    if (parent === undefined) {
      const parentPath = paths.find((p) => p.name === path.spends);
      if (parentPath === undefined) throw new Error(`${format} ${path.name}: its parent path ${path.spends} is not in the catalogue`);
      parent = { format, path: parentPath, counted: false, ...place(parentPath.outputKind, path.needsRevoked), parent: undefined };
      steps.push(parent);
    }
    hosting.add(parent);
    steps.push({ format, path, counted: true, channel: parent.channel, slot: parent.slot, parent });
  }
  return { channels, steps };
}

// ---- what the node answered ----------------------------------------------------------------------------------

/** A probe: testmempoolaccept, and sendrawtransaction's answer when (and only when) the former refused. */
export interface Probe {
  readonly tip: number;
  readonly accept: AcceptResult;
  readonly send: { readonly txid: string } | { readonly error: RpcFailure } | undefined;
}

/** A transaction as built, what its inputs spend (none listed for a commitment), and the timelock it needs. */
export interface Built {
  readonly tx: Transaction;
  readonly prevouts: readonly Prevout[];
  readonly timelock: Timelock;
}

export type Override = NonNullable<SpendOptions['override']>;
/** What a unit is built with besides the correct spend: a fault, or an nSequence / nLockTime override. */
export interface Variant {
  readonly fault?: Fault;
  readonly override?: Override;
}

export type LockKind = 'csv' | 'cltv';

/** A probe of one in-script lock: the spend with nSequence / nLockTime one below the script's number. */
export interface ScriptProbe {
  readonly lock: LockKind;
  /** The number the witness script pushes before its OP_CSV / OP_CLTV. */
  readonly value: number;
  readonly override: Override;
  /** Input 0's nSequence and the nLockTime of the probed transaction. */
  readonly sequence: number;
  readonly locktime: number;
  readonly probe: Probe;
}

/** Something broadcast on the timeline: a commitment, a catalogued path, or an uncounted parent. */
export class Unit {
  readonly label: string;
  /** Undefined for a commitment. */
  readonly step: PlannedStep | undefined;
  readonly parent: Unit | undefined;
  readonly faults: readonly Fault[];
  private readonly builder: (v: Variant) => Built;

  built: Built | undefined;
  /** The tip at which the node must accept it (from spends.ts' Timelock and the parent's expected block). */
  ready: number | undefined;
  early: Probe | undefined;
  readonly faultProbes: Array<{ readonly fault: Fault; readonly probe: Probe }> = [];
  /** Counted paths: one per in-script lock its branch checks (see the file comment), at the tip it is sent at. */
  readonly scriptProbes: ScriptProbe[] = [];
  sent: { readonly tip: number; readonly result: { readonly txid: string } | { readonly error: RpcFailure } } | undefined;
  /** Where the driver saw it confirm (the next block after `sent.tip` is expected). */
  confirmedAt: number | undefined;
  /** Whether the driver is through with it (broadcast, or given up on). */
  done = false;
  readonly problems: string[] = [];

  constructor(label: string, step: PlannedStep | undefined, parent: Unit | undefined, faults: readonly Fault[], builder: (v: Variant) => Built) {
    this.label = label;
    this.step = step;
    this.parent = parent;
    this.faults = faults;
    this.builder = builder;
  }

  build(v: Variant = {}): Built {
    return this.builder(v);
  }

  get accepted(): boolean {
    return this.sent !== undefined && 'txid' in this.sent.result;
  }

  get timelocked(): boolean {
    return this.built !== undefined && hasTimelock(this.built.timelock);
  }
}

export function hasTimelock(t: Timelock): boolean {
  return t.csv !== undefined || t.cltv !== undefined;
}

/**
 * The tip at which a spend of `parentTxid` (confirmed at `parentConf`; `parentSeen`: the tip it entered the
 * mempool at) is accepted: at once without a timelock, else once every lock is satisfied.
 */
export function readyTip(t: Timelock, parentSeen: number, parentConf: number): number {
  let ready = parentSeen;
  if (t.csv !== undefined) ready = Math.max(ready, parentConf + t.csv.blocks - 1);
  if (t.cltv !== undefined) ready = Math.max(ready, t.cltv);
  return ready;
}

/** The witness script input 0 of `b` reveals, if it spends a P2WSH output (checked against the prevout). */
export function spentWitnessScript(b: Built): Uint8Array | undefined {
  const prevout = b.prevouts[0];
  const ws = b.tx.ins[0]?.witness.at(-1);
  if (prevout === undefined || ws === undefined) return undefined;
  return equal(p2wsh(ws), prevout.scriptPubKey) ? ws : undefined;
}

/**
 * The OP_CSV / OP_CLTV checks of a script, each with the number pushed just before it (every branch: which one
 * a spend runs is not read from the bytes). Throws on a truncated push or a check without a number before it.
 */
export function scriptLocks(script: Uint8Array): Array<{ readonly lock: LockKind; readonly value: number }> {
  const out: Array<{ lock: LockKind; value: number }> = [];
  let last: number | undefined;
  for (let i = 0; i < script.length; ) {
    const op = script[i++] as number;
    let len = -1; // a push of len bytes follows, or an opcode (-1)
    if (op >= 0x01 && op <= 0x4b) len = op;
    else if (op === 0x4c) {
      len = script[i] ?? 0;
      i += 1;
    } else if (op === 0x4d) {
      len = (script[i] ?? 0) | ((script[i + 1] ?? 0) << 8);
      i += 2;
    } else if (op === 0x4e) throw new Error('OP_PUSHDATA4 in a BOLT #3 script');
    if (len >= 0) {
      if (i + len > script.length) throw new Error(`push of ${len} bytes runs past the end of the script`);
      last = len <= 4 ? scriptNum(script.subarray(i, i + len)) : undefined;
      i += len;
      continue;
    }
    if (op === OP.OP_CHECKSEQUENCEVERIFY || op === OP.OP_CHECKLOCKTIMEVERIFY) {
      if (last === undefined) throw new Error(`opcode 0x${op.toString(16)} without a number before it`);
      out.push({ lock: op === OP.OP_CHECKSEQUENCEVERIFY ? 'csv' : 'cltv', value: last });
    }
    last = op === OP.OP_0 ? 0 : op >= OP.OP_1 && op <= OP.OP_16 ? op - OP.OP_1 + 1 : undefined;
  }
  return out;
}

/** A (non-negative, at most 4-byte) CScriptNum; undefined if negative. */
function scriptNum(b: Uint8Array): number | undefined {
  let n = 0;
  for (let k = b.length - 1; k >= 0; k--) n = n * 256 + (b[k] as number);
  if (b.length > 0 && ((b[b.length - 1] as number) & 0x80) !== 0) return undefined;
  return n;
}

/**
 * The in-script locks a spend's branch checks: each OP_CSV / OP_CLTV of the spent witness script whose number is
 * the lock spends.ts' Timelock names (a lock on another branch, or none, gives no probe).
 */
export function probedLocks(b: Built): Array<{ readonly lock: LockKind; readonly value: number }> {
  const ws = spentWitnessScript(b);
  if (ws === undefined) return [];
  const t = b.timelock;
  return scriptLocks(ws).filter((l) => (l.lock === 'csv' ? t.csv?.blocks === l.value : t.cltv === l.value));
}

/** The reason Core gives one block early: the binding lock; at a tie the nLockTime (Core checks finality first). */
export function earlyReason(t: Timelock, parentConf: number): 'non-final' | 'non-BIP68-final' {
  const csvReady = t.csv === undefined ? -Infinity : parentConf + t.csv.blocks - 1;
  return t.cltv !== undefined && t.cltv >= csvReady ? 'non-final' : 'non-BIP68-final';
}

// ---- the run -------------------------------------------------------------------------------------------------

export interface SuiteRun {
  readonly plans: Readonly<Record<Format, Plan>>;
  readonly units: readonly Unit[];
  /** The counted unit of each catalogued path, by `${format} ${path name}`. */
  readonly byPath: ReadonlyMap<string, Unit>;
  /** Tip when the commitments were broadcast, and when the last unit was done. */
  readonly startTip: number;
  readonly endTip: number;
}

export const pathKey = (format: Format, name: string): string => `${format} ${name}`;

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function needsFeeInput(path: SpendPath): boolean {
  return path.outputKind.endsWith('_anchor') || (path.format === 'anchors' && path.name.endsWith('_tx'));
}

async function probe(chain: RegtestChain, tx: Transaction, tip: number): Promise<Probe> {
  const hex = tx.toHex();
  const accept = await chain.testAccept(hex);
  return { tip, accept, send: accept.allowed ? undefined : await chain.trySend(hex) };
}

/** Opens the planned channels, places the HTLCs, and returns the units to run (parents before children). */
async function setUp(chain: RegtestChain, plans: Readonly<Record<Format, Plan>>): Promise<Unit[]> {
  const channels = FORMATS.flatMap((f) => plans[f].channels);
  const steps = FORMATS.flatMap((f) => plans[f].steps);
  const funders = channels.map((c) => walletKey(`spend-paths funder ${c.format} ${c.index}`));
  const funding: Utxo[] = [];
  for (const w of funders) {
    const u = await chain.fund(w.scriptPubKey, 2n * CAPACITY_SAT, { confirm: false });
    funding.push({ txid: u.txid, vout: u.vout, amountSat: u.amountSat, privkey: w.privkey });
  }
  const feeInputs = new Map<PlannedStep, Utxo>();
  for (const s of steps.filter((x) => needsFeeInput(x.path))) {
    const u = await chain.fund(FEE_KEY.scriptPubKey, FEE_INPUT_SAT, { confirm: false });
    feeInputs.set(s, { txid: u.txid, vout: u.vout, amountSat: u.amountSat, privkey: FEE_KEY.privkey });
  }
  await chain.mine(1);
  const sims = channels.map((c, i) =>
    ChannelSimulator.open({
      format: c.format,
      funder: 'alice',
      capacitySat: CAPACITY_SAT,
      pushMsat: PUSH_MSAT,
      toSelfDelay: TO_SELF_DELAY,
      feeratePerKw: FEERATE_PER_KW,
      channelIndex: i,
      funding: { utxo: funding[i] as Utxo, satPerVb: 1 },
    }),
  );
  for (const sim of sims) await chain.send(sim.fundingTx.toHex());
  await chain.mine(1);
  const tip = await chain.height();
  for (const sim of sims) {
    for (let i = 0; i < HTLCS_PER_DIRECTION; i++) {
      for (const from of ['alice', 'bob'] as const) {
        sim.addHtlc(from, (HTLC_SAT[from][i] as bigint) * 1000n, tip + (CLTV_OFFSETS[from][i] as number));
      }
    }
    sim.commit(); // number 1: revoked by the next round
    sim.commit(); // number 2: the latest
  }

  const units: Unit[] = [];
  const commitmentUnit = new Map<PlannedChannel, Unit>();
  channels.forEach((c, i) => {
    const sim = sims[i] as ChannelSimulator;
    const number = c.revoked ? REVOKED_NUMBER : LATEST_NUMBER;
    const label = `${c.format} channel ${c.index}: ${c.holder}'s ${c.revoked ? 'revoked' : 'latest'} commitment #${number}`;
    const u = new Unit(label, undefined, undefined, [], () => ({ tx: sim.signedCommitment(c.holder, number), prevouts: [], timelock: {} }));
    commitmentUnit.set(c, u);
    units.push(u);
  });
  const stepUnit = new Map<PlannedStep, Unit>();
  for (const s of steps) {
    const sim = sims[channels.indexOf(s.channel)] as ChannelSimulator;
    const { holder, revoked } = s.channel;
    const number = revoked ? REVOKED_NUMBER : LATEST_NUMBER;
    const parent = s.parent === undefined ? commitmentUnit.get(s.channel) : stepUnit.get(s.parent);
    if (parent === undefined) throw new Error(`${s.format} ${s.path.name}: parent unit missing`);
    const feeInput = feeInputs.get(s);
    const build = ({ fault, override }: Variant): Built => {
      const outs = sim.commitment(holder, number).commitment.outputs.filter((o) => o.kind === s.path.outputKind);
      const out = outs[s.slot];
      if (out === undefined) throw new Error(`${holder}'s commitment #${number} has ${outs.length} ${s.path.outputKind} output(s), no slot ${s.slot}`);
      const parentTx = s.parent === undefined ? undefined : parent.built?.tx;
      const spend = s.path.build(
        { sim, holder, number, outputIndex: out.index, ...(parentTx === undefined ? {} : { parentTx }) },
        {
          destination: DEST,
          feeSat: SWEEP_FEE_SAT,
          ...(feeInput === undefined ? {} : { feeInput }),
          ...(fault === undefined ? {} : { fault }),
          ...(override === undefined ? {} : { override }),
        },
      );
      if (override !== undefined && isSecondLevelTx(s.path)) countersign(spend.tx, sim, holder, number, out.index);
      return { tx: spend.tx, prevouts: spend.prevouts, timelock: spend.timelock };
    };
    const where = `${holder}'s ${revoked ? 'revoked' : 'latest'} commitment #${number} (channel ${s.channel.index}), by the ${s.path.spender}`;
    const label = `${s.format} ${s.path.name}${s.counted ? '' : ' [uncounted parent]'} on ${where}`;
    const u = new Unit(label, s, parent, s.counted ? s.path.faults : [], build);
    stepUnit.set(s, u);
    units.push(u);
  }
  return units;
}

/** The holder's HTLC-timeout / HTLC-success transaction (it carries the counterparty's pre-signed signature). */
function isSecondLevelTx(path: SpendPath): boolean {
  return path.name === 'offered_htlc.timeout_tx' || path.name === 'received_htlc.success_tx';
}

/**
 * Replaces the counterparty's signature (witness item 1 of both second-level witnesses) of an overridden
 * second-level transaction by one over the transaction as it now is, with the sighash type it gave.
 */
function countersign(tx: Transaction, sim: ChannelSimulator, holder: PartyName, number: number, outputIndex: number): void {
  const h = sim.htlcTx(holder, number, outputIndex);
  const key = sim.privkeys(holder, number).counterpartyHtlc;
  const witness = [...(tx.ins[0]?.witness ?? [])];
  if (witness.length !== 5) throw new Error(`a second-level witness has 5 items, this one ${witness.length}`);
  witness[1] = encodeSig(secp().sign(segwitV0Sighash(tx, 0, h.inputScript, h.inputSat, h.remoteSighashType), key), h.remoteSighashType);
  tx.setWitness(0, witness);
}

type Advance = 'done' | 'progress' | 'wait';

/** Moves one unit as far as it can go at `tip`. */
async function advance(chain: RegtestChain, u: Unit, tip: number): Promise<Advance> {
  const parent = u.parent;
  if (parent !== undefined && !parent.accepted) {
    if (!parent.done) return 'wait';
    u.problems.push(`its parent was not accepted: ${parent.label}`);
    return 'done';
  }
  let progressed = false;
  if (u.built === undefined) {
    try {
      u.built = u.build();
    } catch (err) {
      u.problems.push(`build failed: ${message(err)}`);
      return 'done';
    }
    const seen = parent?.sent?.tip ?? tip;
    const csv = u.built.timelock.csv;
    if (csv !== undefined && csv.txid !== parent?.built?.tx.getId()) {
      u.problems.push(`its CSV names ${csv.txid}, not the transaction it spends (${parent?.built?.tx.getId() ?? 'none'})`);
    }
    // The parent entered the mempool at `seen` and confirms in the next block.
    u.ready = readyTip(u.built.timelock, seen, seen + 1);
    progressed = true;
  }
  const ready = u.ready as number;
  if (u.timelocked && u.early === undefined) {
    if (ready === tip + 1) {
      u.early = await probe(chain, u.built.tx, tip);
      return 'progress';
    }
    if (ready > tip + 1) return progressed ? 'progress' : 'wait';
    u.problems.push(`missed its early window: due at tip ${ready}, buildable only at tip ${tip}`);
  }
  if (ready > tip) return progressed ? 'progress' : 'wait';
  for (const fault of u.faults) {
    try {
      u.faultProbes.push({ fault, probe: await probe(chain, u.build({ fault }).tx, tip) });
    } catch (err) {
      u.problems.push(`building fault ${fault} failed: ${message(err)}`);
    }
  }
  if (u.step?.counted === true) {
    try {
      for (const { lock, value } of probedLocks(u.built)) {
        const override: Override = lock === 'csv' ? { sequence: value - 1 } : { locktime: value - 1 };
        const tx = u.build({ override }).tx;
        const sequence = tx.ins[0]?.sequence as number;
        u.scriptProbes.push({ lock, value, override, sequence, locktime: tx.locktime, probe: await probe(chain, tx, tip) });
      }
    } catch (err) {
      u.problems.push(`script lock probe failed: ${message(err)}`);
    }
  }
  u.sent = { tip, result: await chain.trySend(u.built.tx.toHex()) };
  return 'done';
}

/** The next tip at which a waiting unit has something due (its early probe or its broadcast). */
function nextDue(pending: Iterable<Unit>): number | undefined {
  let next: number | undefined;
  for (const u of pending) {
    if (u.ready === undefined) continue;
    const due = u.timelocked && u.early === undefined ? u.ready - 1 : u.ready;
    next = next === undefined ? due : Math.min(next, due);
  }
  return next;
}

/** Places, opens and runs every path of both formats; returns the records. */
export async function runSpendPaths(chain: RegtestChain): Promise<SuiteRun> {
  const plans = { static_remotekey: planFormat('static_remotekey'), anchors: planFormat('anchors') };
  const units = await setUp(chain, plans);
  const byPath = new Map<string, Unit>();
  for (const u of units) if (u.step?.counted === true) byPath.set(pathKey(u.step.format, u.step.path.name), u);

  let tip = await chain.height();
  const startTip = tip;
  const pending = new Set(units);
  while (pending.size > 0) {
    // Settle this tip: a broadcast parent makes its children buildable (and maybe due) at the same tip.
    for (let progress = true; progress; ) {
      progress = false;
      for (const u of pending) {
        const r = await advance(chain, u, tip);
        if (r === 'done') {
          u.done = true;
          pending.delete(u);
        }
        if (r !== 'wait') progress = true;
      }
    }
    const sentNow = units.filter((u) => u.sent?.tip === tip && u.accepted);
    if (pending.size === 0 && sentNow.length === 0) break;
    const target = Math.max(tip + 1, nextDue(pending) ?? tip + 1);
    if (target - startTip > MAX_BLOCKS) {
      for (const u of pending) u.problems.push(`not done after ${MAX_BLOCKS} blocks`);
      break;
    }
    await chain.mine(target - tip);
    tip = await chain.height();
    if (tip !== target) throw new Error(`mined to ${tip}, wanted ${target}`);
    for (const u of sentNow) {
      const txid = u.built?.tx.getId() as string;
      u.confirmedAt = await chain.confirmationHeight(txid);
      if (u.confirmedAt !== (u.sent?.tip as number) + 1) u.problems.push(`broadcast at tip ${u.sent?.tip}, confirmed at ${u.confirmedAt ?? 'never'}`);
    }
  }
  return { plans, units, byPath, startTip, endTip: tip };
}
