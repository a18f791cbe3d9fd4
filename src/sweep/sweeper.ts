/**
 * The Sweeper: SweeperPort over the briefcase, and the runner that turns offered inputs into confirmed
 * transactions (ARCHITECTURE.md "Sweeper"; contractcourt-spec.md section 6; issue 10).
 *
 * Calls (offer, cancel, bump, ack) are synchronous, one SQLite transaction each, and throw CourtError on refused
 * input having changed nothing. The runner works per block (`onChainEvent`, subscribed to the BlockDispatcher after
 * ChainWatches): it touches only the inputs and sets whose `next_height` the block reaches (an index range scan,
 * never a scan of every input), and the inputs a spend watch reports.
 *
 * Record before broadcast: a transaction version is written (status live, the version it replaces marked replaced,
 * its inputs published) in one transaction BEFORE it is handed to the broadcaster. A crash before that record
 * leaves nothing to double count (the signed transaction is lost and rebuilt); a crash after it leaves a recorded
 * version that `start()` publishes again. A set's wallet lease is named after the set (`sweep-set:<id>`) and the
 * set row exists before the lease is taken, so `start()` can release the lease of a set that never got a version.
 *
 * Finality: our sweep seen in a block moves its set to confirmed; 6 confirmations (`finalDepth`) make it final and
 * deliver `swept` results. A disconnect before that makes it live again (published again, fee steps resume). A
 * spend by someone else is recorded at once (its set is dissolved and the other inputs are clustered again in the
 * same block) and reported as `spentByOther` at the same depth.
 */
import { Transaction } from 'bitcoinjs-lib';
import type { ChainEvent, PublishResult, SpendEvent, SpendNotifier, WatchHandle } from '../chain/ports.js';
import { FEE_FLOOR_PER_KW } from '../chain/fees.js';
import { SerialQueue } from '../chain/serial-queue.js';
import type { Signer } from '../keys/signer.js';
import type { Db } from '../store/db.js';
import { CourtError } from '../util/errors.js';
import { errFields, silentLogger, type Logger } from '../util/logger.js';
import { channelOf, classKey, clusterInputs, deadlineOf, orderInputs, screen, sweepAmounts, unsignedSweep, type CoreInput } from './core.js';
import {
  acceptsReplacement,
  blocksLeft,
  DEFAULT_MAX_FEE_RATE_PER_KW,
  feeRateAt,
  heightReaching,
  INCREMENTAL_RELAY_PER_KW,
  maxBig,
  minReplacementFee,
  packageRateForAtLeast,
  type FeeFunction,
} from './fee.js';
import { checkSpec, effectiveBudget, marksFromJson, needsWallet, specToJson } from './input.js';
import { signSweep } from './sign.js';
import { IN, rowSpec, STATE_NAME, SweepStore, TERMINAL, TX, type InputRow, type SetRow, type TxRow } from './store.js';
import type {
  BumpRequest,
  FeeWalletPort,
  LeasedUtxo,
  PendingSweepView,
  SweepInputSpec,
  SweeperPort,
  SweepResult,
} from './types.js';

/** Fee rates the sweeper needs (ChainFeeEstimator satisfies it). */
export interface SweepFeeSource {
  feeRatePerKw(confTarget: number): Promise<bigint>;
  floorPerKw(): Promise<bigint>;
}

/** Publishing (TxBroadcaster satisfies it). */
export interface SweepBroadcaster {
  publish(tx: Transaction, label: string): Promise<PublishResult>;
  forget(txid: string): void;
}

/** Options of the Sweeper. */
export interface SweeperOptions {
  readonly db: Db;
  readonly signer: Signer;
  /** Fee inputs, leases, change scripts and their signatures. */
  readonly wallet: FeeWalletPort;
  readonly broadcaster: SweepBroadcaster;
  /** Spend watches on every input; confirmation watches on CPFP parents (ChainWatches). */
  readonly watches: Pick<SpendNotifier, 'watchSpend' | 'watchConf'>;
  readonly fees: SweepFeeSource;
  /** Tip height before the first block event (the dispatcher's tip at start). */
  readonly height: number;
  /** Upper bound of any fee rate, sat/kw (default 250,000 = 1,000 sat/vB). */
  readonly maxFeeRatePerKw?: bigint;
  /** Confirmations that make a spend final (default 6). */
  readonly finalDepth?: number;
  /** Deadline window of a cluster, blocks (default 6). */
  readonly window?: number;
  /** Most inputs per transaction (default 500). */
  readonly maxInputs?: number;
  /** BIP125 incremental relay fee the node applies, sat/kw (default 250 = 1 sat/vB). */
  readonly incrementalPerKw?: bigint;
  /**
   * Blocks before its deadline from which a set holding pinnable inputs of several channels is looked at every
   * block and split by channel if the node no longer holds its live version (default 3).
   */
  readonly channelSplitBlocks?: number;
  readonly logger?: Logger;
  /** Called after each commit with its name (crash tests copy the database here). */
  readonly onCommit?: (point: string) => void;
}

/**
 * A set reason saying the node refused its last publication (the justice split applies then): a first version
 * refused, or a replacement refused although it satisfies BIP125 against our own previous version (so what the node
 * holds is someone else's conflicting transaction: a pin).
 */
const REFUSED = /^(node refused the sweep|replacement refused)/;

/** Answers saying the node holds (or has mined) a version: nothing conflicting of someone else's is in its way. */
const HELD: ReadonlySet<PublishResult['kind']> = new Set(['accepted', 'already-in-mempool', 'already-confirmed']);

/**
 * What a set was clustered and built for from an input: its spec but the budget and the deadline (keys sorted).
 * An `alone` flag (the justice split) is left out too: its own rule decides when it moves an input.
 */
function shapeOf(spec: SweepInputSpec): string {
  const { budgetSat: _b, deadlineHeight: _d, alone: _a, ...shape } = spec;
  return JSON.stringify(shape, (_k, v: unknown) => {
    if (typeof v === 'bigint') return v.toString();
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    }
    return v;
  });
}

/** How far back a new input's spend watch looks (an output spent just before it was offered is still found). */
const WATCH_LOOKBACK = 144;

export class Sweeper implements SweeperPort {
  private readonly db: Db;
  private readonly store: SweepStore;
  private readonly signer: Signer;
  private readonly wallet: FeeWalletPort;
  private readonly broadcaster: SweepBroadcaster;
  private readonly watches: Pick<SpendNotifier, 'watchSpend' | 'watchConf'>;
  private readonly fees: SweepFeeSource;
  private readonly maxRate: bigint;
  private readonly finalDepth: number;
  private readonly window: number;
  private readonly maxInputs: number;
  private readonly incremental: bigint;
  private readonly splitBlocks: number;
  private readonly logger: Logger;
  private readonly onCommit: (point: string) => void;
  private readonly listeners: ((r: SweepResult) => void)[] = [];
  private readonly handles = new Map<string, WatchHandle>();
  private readonly parentHandles = new Map<string, WatchHandle>();
  private readonly queue = new SerialQueue();
  private tip: number;
  private lastFloor = FEE_FLOOR_PER_KW;
  /** Splits by channel so far (the block step clusters again after one). */
  private splits = 0;

  /** The dispatcher subscriber (register after ChainWatches). */
  readonly onChainEvent = (event: ChainEvent): Promise<void> =>
    this.queue.run(async () => {
      if (event.type === 'BlockConnected') {
        this.tip = event.height;
        await this.step(event.height);
      } else {
        this.tip = event.height - 1;
      }
    });

  constructor(opts: SweeperOptions) {
    this.db = opts.db;
    this.store = new SweepStore(opts.db);
    this.signer = opts.signer;
    this.wallet = opts.wallet;
    this.broadcaster = opts.broadcaster;
    this.watches = opts.watches;
    this.fees = opts.fees;
    this.tip = opts.height;
    this.maxRate = opts.maxFeeRatePerKw ?? DEFAULT_MAX_FEE_RATE_PER_KW;
    this.finalDepth = opts.finalDepth ?? 6;
    this.window = opts.window ?? 6;
    this.maxInputs = opts.maxInputs ?? 500;
    this.incremental = opts.incrementalPerKw ?? INCREMENTAL_RELAY_PER_KW;
    this.splitBlocks = opts.channelSplitBlocks ?? 3;
    this.logger = opts.logger ?? silentLogger;
    this.onCommit = opts.onCommit ?? (() => undefined);
  }

  /** The tip height the sweeper works at. */
  get height(): number {
    return this.tip;
  }

  // ---- start-up ---------------------------------------------------------------------------------------------

  /**
   * After a restart: watches every input still in play, releases the leases of sets that never recorded a
   * version, publishes every live version again, and hands unacked results to the listeners registered so far.
   */
  async start(): Promise<void> {
    for (const row of this.store.watched()) this.watch(row.outpoint, row.offer_height, rowSpec(row).parent?.txid);
    for (const set of this.store.closedWithLease()) {
      this.wallet.release(set.lease_id as string);
      this.tx('lease-released', () => this.store.updateSet(set.id, { lease_held: 0 }));
    }
    for (const set of this.store.openSets()) {
      const live = this.store.live(set.id);
      for (const v of this.store.versions(set.id)) if (v.status === TX.Replaced || v.status === TX.Dead) this.broadcaster.forget(v.txid);
      if (live === undefined) {
        // Crashed between taking the lease and recording the first version: nothing was published.
        this.tx('dissolve-unrecorded', () => this.dissolve(set.id, this.tip, 'set never published'));
      } else if (live.status === TX.Live) {
        await this.publishRecorded(live, set);
      }
    }
    for (const r of this.store.unacked()) this.emit(r);
  }

  // ---- SweeperPort ---------------------------------------------------------------------------------------------

  offer(input: SweepInputSpec): void {
    const spec = checkSpec(input);
    let isNew = false;
    this.tx('offer', () => {
      const row = this.store.input(spec.outpoint);
      if (row === undefined) {
        this.store.insertInput(spec, specToJson(spec), this.tip, undefined, this.tip);
        isNew = true;
        return;
      }
      // The sweeper's own marks (a split by channel) stay whatever the owner offers.
      const json = specToJson(spec, marksFromJson(row.spec));
      if (row.owner !== spec.owner) {
        throw new CourtError('COURT_E_SWEEP_OWNER_CONFLICT', 'outpoint already offered by another owner', { outpoint: spec.outpoint });
      }
      if (row.state === IN.Swept || row.state === IN.SpentByOther) return;
      if (row.state === IN.Excluded || row.state === IN.Failed) {
        this.store.updateInput(spec.outpoint, { spec: json, state: IN.Pending, set_id: null, next_height: this.tip, reason: null, offer_height: this.tip });
        isNew = true;
        return;
      }
      if (row.spec === json) {
        // The same offer again: a parked pending input (uneconomical at a floor that has since fallen, ...) is
        // judged again now rather than at its retry height.
        if (row.state === IN.Pending && (row.next_height === null || row.next_height > this.tip)) this.store.updateInput(spec.outpoint, { next_height: this.tip });
        return;
      }
      if (this.leavesSet(row, spec)) return;
      this.store.updateInput(spec.outpoint, { spec: json, chan_point: spec.chanPoint ?? null, reason: null });
      if (row.state === IN.Published && shapeOf(rowSpec(row)) !== shapeOf(spec)) this.reshape(row, spec);
      else this.touch(row, spec);
    });
    if (isNew || spec.parent !== undefined) this.watch(spec.outpoint, this.tip, spec.parent?.txid);
  }

  cancel(outpoint: string): void {
    this.tx('cancel', () => {
      const row = this.known(outpoint);
      if (TERMINAL.has(row.state)) return;
      this.store.updateInput(outpoint, { state: IN.Excluded, next_height: null, reason: 'cancelled by its owner' });
      if (row.set_id !== null) this.store.updateSet(row.set_id, { next_height: this.tip });
    });
    this.unwatch(outpoint);
  }

  bump(outpoint: string, req: BumpRequest): void {
    if (req.budgetSat !== undefined && (typeof req.budgetSat !== 'bigint' || req.budgetSat < 0n)) {
      throw new CourtError('COURT_E_SWEEP_INVALID_INPUT', 'budgetSat must be a non-negative bigint');
    }
    if (req.deadlineDelta !== undefined && (!Number.isInteger(req.deadlineDelta) || req.deadlineDelta < 1 || req.deadlineDelta > 100_000)) {
      throw new CourtError('COURT_E_SWEEP_INVALID_INPUT', 'deadlineDelta must be a positive number of blocks');
    }
    if (req.startFeeRatePerKw !== undefined && (typeof req.startFeeRatePerKw !== 'bigint' || req.startFeeRatePerKw < 0n || req.startFeeRatePerKw > this.maxRate)) {
      throw new CourtError('COURT_E_INVALID_FEERATE', 'startFeeRatePerKw must be a bigint in 0 .. the max fee rate');
    }
    this.tx('bump', () => {
      const row = this.known(outpoint);
      if (TERMINAL.has(row.state)) throw new CourtError('COURT_E_SWEEP_INPUT_DONE', 'input is no longer pending', { outpoint, state: STATE_NAME[row.state] as string });
      const old = rowSpec(row);
      const spec = checkSpec({
        ...old,
        ...(req.budgetSat !== undefined ? { budgetSat: req.budgetSat } : {}),
        ...(req.deadlineDelta !== undefined ? { deadlineHeight: this.tip + req.deadlineDelta } : {}),
      });
      this.store.updateInput(outpoint, {
        spec: specToJson(spec, marksFromJson(row.spec)),
        reason: null,
        ...(req.startFeeRatePerKw !== undefined ? { start_feerate: Number(req.startFeeRatePerKw) } : {}),
      });
      this.touch(row, spec, req.startFeeRatePerKw);
    });
  }

  pending(filter?: { readonly chanPoint?: string }): PendingSweepView[] {
    return this.store.pending(filter?.chanPoint).map((r) => this.view(r));
  }

  unacked(owner?: string): SweepResult[] {
    return this.store.unacked(owner);
  }

  ack(outpoint: string): void {
    if (this.store.result(outpoint) === undefined) throw new CourtError('COURT_E_SWEEP_UNKNOWN_INPUT', 'no result for that outpoint', { outpoint });
    this.store.ack(outpoint);
  }

  onResult(listener: (r: SweepResult) => void): void {
    this.listeners.push(listener);
  }

  /** Runs the per-block work at the current tip now (after an offer or a bump, instead of waiting for a block). */
  kick(): Promise<void> {
    return this.queue.run(() => this.step(this.tip));
  }

  // ---- per block -------------------------------------------------------------------------------------------------

  /**
   * The relay floor, or when the fee source fails the last one it gave (the relay default before any): a failing
   * node call must not throw out of the block handler (the dispatcher would stall on it).
   */
  private async floor(): Promise<bigint> {
    try {
      this.lastFloor = await this.fees.floorPerKw();
    } catch (err) {
      this.logger.warn({ err: errFields(err), floorPerKw: this.lastFloor.toString() }, 'no relay floor from the fee source; the last known one is used');
    }
    return this.lastFloor;
  }

  /** What one block does: due sets (finality, fee steps, rebuilds) then due inputs (new clusters, results). */
  private async step(height: number): Promise<void> {
    for (const set of this.store.dueSets(height)) {
      try {
        await this.stepSet(set, height);
      } catch (err) {
        this.logger.error({ err: errFields(err), set: set.id }, 'sweep set step failed; retried next block');
        this.tx('set-retry', () => this.store.updateSet(set.id, { next_height: height + 1, reason: `error: ${(err as Error).message}` }));
      }
    }
    // A split by channel while a new set was published (its first version refused) sends its inputs back at this
    // height: they are clustered again in this block. Bounded: split inputs form sets of one channel, never split.
    for (let pass = 0; pass < 3; pass++) {
      const before = this.splits;
      await this.clusterDue(height);
      if (this.splits === before) break;
    }
  }

  /** The inputs due at `height`: screened, clustered, and each cluster made a set and stepped (published). */
  private async clusterDue(height: number): Promise<void> {
    const due = this.store.dueInputs(height);
    if (due.length === 0) return;
    const ready: CoreInput[] = [];
    const floor = await this.floor();
    this.tx('screen', () => {
      for (const stale of due) {
        // Read again under the write lock: a spend or a cancel may have arrived while the floor was awaited.
        const row = this.store.input(stale.outpoint);
        if (row === undefined || row.next_height === null || row.next_height > height) continue;
        if (row.state === IN.SpentByOther) {
          this.finishSpentByOther(row);
          continue;
        }
        if (row.state !== IN.Pending) {
          this.store.updateInput(row.outpoint, { next_height: null });
          continue;
        }
        const spec = rowSpec(row);
        const blocked = screen({ spec, offerHeight: row.offer_height }, height, floor);
        if (blocked !== undefined) {
          this.store.updateInput(row.outpoint, { reason: blocked.reason, next_height: blocked.retryAt ?? null });
          continue;
        }
        ready.push({ spec, offerHeight: row.offer_height, ...(marksFromJson(row.spec).channelSplit === true ? { channelSplit: true } : {}) });
      }
    });
    if (ready.length === 0) return;
    const changeLen = 22;
    const clusters = clusterInputs(ready, {
      window: this.window,
      maxInputs: this.maxInputs,
      walletInputWeight: this.wallet.inputWeight,
      changeScriptLen: changeLen,
    });
    for (const c of clusters) {
      const rows = c.inputs.map((i) => this.store.input(i.spec.outpoint) as InputRow);
      let start: bigint;
      try {
        start = await this.startRate(c.deadline, height, rows);
      } catch (err) {
        this.logger.error({ err: errFields(err) }, 'no fee rate for a new sweep; its inputs are retried next block');
        this.tx('cluster-retry', () => {
          for (const i of c.inputs) this.store.updateInput(i.spec.outpoint, { next_height: height + 1, reason: `no fee rate: ${(err as Error).message}` });
        });
        continue;
      }
      const changeScript = this.wallet.nextChangeScript();
      let setId = 0;
      this.tx('set-created', () => {
        // Only the inputs still as they were clustered: a spend, a cancel or a new offer delivered while we awaited
        // the rate must not be overwritten (they are looked at again in their own right).
        const still = rows.filter((r) => {
          const now = this.store.input(r.outpoint);
          return now !== undefined && now.state === IN.Pending && now.set_id === null && now.spec === r.spec;
        });
        if (still.length === 0) return;
        setId = this.store.insertSet(changeScript, c.deadline, c.locktime, start, start, height, height);
        for (const r of still) {
          this.store.updateInput(r.outpoint, { state: IN.Published, set_id: setId, next_height: null, reason: null });
        }
      });
      if (setId === 0) continue;
      try {
        await this.stepSet(this.store.set(setId) as SetRow, height);
      } catch (err) {
        this.logger.error({ err: errFields(err), set: setId }, 'new sweep set failed; retried next block');
        this.tx('set-retry', () => this.store.updateSet(setId, { next_height: height + 1, reason: `error: ${(err as Error).message}` }));
      }
    }
  }

  /** The starting rate of a new set: the estimate for the blocks left, or more if an input asks (bump, last rate). */
  private async startRate(deadline: number, height: number, rows: readonly InputRow[]): Promise<bigint> {
    let start: bigint;
    try {
      start = await this.fees.feeRatePerKw(blocksLeft(deadline, height));
    } catch (err) {
      // No estimate for that target (a node that estimates only short targets): start at the relay floor.
      start = await this.floor();
      this.logger.warn({ err: errFields(err), target: blocksLeft(deadline, height) }, 'no fee estimate; the set starts at the relay floor');
    }
    for (const r of rows) {
      if (r.start_feerate !== null) start = maxBig(start, BigInt(r.start_feerate));
      if (r.last_feerate !== null) start = maxBig(start, BigInt(r.last_feerate));
    }
    return start > this.maxRate ? this.maxRate : start;
  }

  /** One set at `height`: finality of a confirmed version, else a first version or a replacement if due. */
  private async stepSet(setIn: SetRow, height: number): Promise<void> {
    // Read again: the row may be stale (a spend, a bump or a close delivered while an earlier set was awaited).
    let set = this.store.set(setIn.id) ?? setIn;
    if (set.closed === 1) return;
    const live = this.store.live(set.id);
    if (live?.status === TX.Confirmed) {
      if (height >= (live.confirm_height as number) + this.finalDepth - 1) this.tx('final', () => this.finalize(set, live));
      else this.tx('wait-final', () => this.store.updateSet(set.id, { next_height: (live.confirm_height as number) + this.finalDepth - 1 }));
      return;
    }
    const members = this.store.members(set.id);
    if (members.length === 0) {
      this.tx('set-empty', () => {
        this.closeSet(set.id, 'no inputs left');
        this.releaseLease(set.id);
      });
      if (live !== undefined) this.broadcaster.forget(live.txid);
      return;
    }
    if (live?.status === TX.Live && set.deadline - height <= this.splitBlocks && this.multiChannel(members)) {
      // Near the deadline a set of several channels' pinnable inputs asks the node whether it still holds our
      // version. A pin placed after we published (our version replaced by the counterparty's, then weighed down)
      // shows no refusal until we publish again: if the node no longer takes our version, the set is split by
      // channel, so the other channels' inputs go out without the pinned one. A version the node holds is kept
      // (nothing of someone else's conflicts with it, and a smaller per-channel transaction could not replace it).
      const probe = await this.publishRecorded(live, set);
      if (!HELD.has(probe.kind)) {
        let split = false;
        const why = `unconfirmed ${set.deadline - height} blocks before its deadline and the node no longer takes ${live.txid} (${probe.kind}${probe.kind === 'accepted' ? '' : `: ${probe.reason}`})`;
        this.tx('split-near-deadline', () => (split = this.splitByChannel(set.id, height, why, false)));
        if (split) return;
      }
    }
    const specs = orderInputs(members.map(rowSpec));
    const rowsByOutpoint = new Map(members.map((m) => [m.outpoint, m]));
    const floor = await this.floor();
    if (live === undefined && set.start_height < height) {
      // Never published (wallet short, an error): nothing to replace, so the fee function starts again from the
      // estimate of now rather than staying frozen at the rate of the block the set was made in (a spike).
      const start = await this.startRate(set.deadline, height, members);
      this.tx('set-restart', () => this.store.updateSet(set.id, { start_feerate: Number(start), start_height: height }));
      set = this.store.set(set.id) as SetRow;
    }
    const fn: FeeFunction = {
      start: BigInt(set.start_feerate),
      end: BigInt(set.end_feerate),
      startHeight: set.start_height,
      deadline: set.deadline,
    };
    // The cap (end of the fee function) follows the current members and wallet coins.
    const wantWallet = specs.some(needsWallet);
    let coins: LeasedUtxo[] = [];
    const amountsWith = (c: readonly LeasedUtxo[], n: number, rate: bigint): ReturnType<typeof sweepAmounts> =>
      sweepAmounts({
        inputs: specs,
        wallet: c,
        nWallet: n,
        walletInputWeight: this.wallet.inputWeight,
        changeScriptLen: set.change_script.length / 2,
        ratePerKw: rate,
        floorPerKw: floor,
        maxRatePerKw: this.maxRate,
      });
    const cap0 = amountsWith([], wantWallet ? 1 : 0, this.maxRate).capRate;
    const parents = specs.flatMap((s) => (s.parent ? [s.parent] : []));
    // The least rate of the fee function (a package rate, like the cap and the recorded rates) whose fee the node
    // takes as a replacement of a version paying `oldFee` at `oldRate`: BIP125 asks for fee, not rate, so the fee is
    // turned into a package rate over the same weights the cap uses (CPFP: parents included).
    const replacementRate = (oldFee: bigint, oldRate: bigint, weight: number): bigint =>
      maxBig(packageRateForAtLeast(minReplacementFee(oldFee, weight, this.incremental) + 1n, weight, parents), oldRate + 1n);
    let rate = feeRateAt({ ...fn, end: cap0 }, height);
    let a = amountsWith([], wantWallet ? 1 : 0, rate);
    if (live !== undefined && !acceptsReplacement({ feeSat: BigInt(live.fee_sat), weight: live.weight }, { feeSat: a.feeSat, weight: a.weight }, this.incremental)) {
      // The fee function has not moved far enough for the node to take a replacement: ask what it needs.
      const needRate = replacementRate(BigInt(live.fee_sat), BigInt(live.feerate), a.weight);
      const changed = (JSON.parse(live.inputs) as string[]).sort().join(',') !== [...rowsByOutpoint.keys()].sort().join(',');
      if (changed && needRate <= cap0) {
        // The members changed (a cancel, an exclusion): replace now at the least rate the node takes.
        rate = needRate;
        a = amountsWith([], wantWallet ? 1 : 0, rate);
      }
    }
    if (live !== undefined && !acceptsReplacement({ feeSat: BigInt(live.fee_sat), weight: live.weight }, { feeSat: a.feeSat, weight: a.weight }, this.incremental)) {
      const needRate = replacementRate(BigInt(live.fee_sat), BigInt(live.feerate), a.weight);
      if (needRate > cap0 || a.rate >= a.capRate) {
        this.tx('at-cap', () =>
          this.store.updateSet(set.id, {
            next_height: this.nearDeadline(set, members, null, height),
            end_feerate: Number(cap0),
            reason: this.capReason(a, BigInt(live.fee_sat), live.feerate),
          }),
        );
        return;
      }
      const next = heightReaching({ ...fn, end: cap0 }, needRate, height);
      this.tx('wait-step', () => this.store.updateSet(set.id, { next_height: this.nearDeadline(set, members, next, height), end_feerate: Number(cap0), reason: next === undefined ? this.capReason(a, BigInt(live.fee_sat), live.feerate) : null }));
      return;
    }
    // Wallet coins: lease (again, replacing) until the change clears the dust limit with the coins' own weight.
    if (wantWallet || a.walletShortSat > 0n) {
      for (let n = Math.max(1, coins.length), tries = 0; tries < 4; tries++) {
        a = amountsWith([], n, rate);
        // The intent is durable before the wallet leases: a crash after the lease finds the flag and releases it.
        // A spend delivered while we awaited may have closed the set: then no lease is taken.
        let open = false;
        this.tx('lease-intent', () => {
          open = this.store.set(set.id)?.closed === 0;
          if (open) this.store.updateSet(set.id, { lease_held: 1 });
        });
        if (!open) return;
        const leased = this.wallet.lease(set.lease_id as string, a.walletShortSat > 0n ? a.walletShortSat : 1n);
        if (leased === undefined) {
          this.tx('wallet-short', () =>
            this.store.updateSet(set.id, { next_height: height + 1, reason: `wallet short: needs ${a.walletShortSat} sat of confirmed coins` }),
          );
          return;
        }
        coins = leased;
        a = amountsWith(coins, coins.length, rate);
        if (a.walletShortSat === 0n) break;
        n = coins.length + 1;
      }
      if (a.walletShortSat > 0n) {
        this.tx('wallet-short', () => this.store.updateSet(set.id, { next_height: height + 1, reason: `wallet short by ${a.walletShortSat} sat` }));
        return;
      }
      if (live !== undefined && !acceptsReplacement({ feeSat: BigInt(live.fee_sat), weight: live.weight }, { feeSat: a.feeSat, weight: a.weight }, this.incremental)) {
        this.tx('wait-step', () => this.store.updateSet(set.id, { next_height: height + 1 }));
        return;
      }
    } else if (a.changeSat < 0n || a.walletShortSat > 0n) {
      this.tx('dust', () => this.store.updateSet(set.id, { next_height: null, reason: `output would be dust: ${a.changeSat} sat after a ${a.feeSat} sat fee` }));
      return;
    }
    rate = a.rate;
    const tx = unsignedSweep({ inputs: specs, wallet: coins, changeScript: set.change_script, changeSat: a.changeSat, locktime: set.locktime });
    await signSweep(tx, specs, coins, this.signer, this.wallet);
    const txid = tx.getId();
    const hex = tx.toHex();
    const version = this.store.nextVersion(set.id);
    const capReached = a.rate >= a.capRate;
    const fnNow: FeeFunction = { ...fn, end: a.capRate };
    // The next height at which the fee function pays what the node needs to replace this version (every block if
    // the function climbs faster than the incremental relay fee); none: this version is as far as the cap goes.
    const next = capReached ? undefined : heightReaching(fnNow, replacementRate(a.feeSat, a.rate, a.weight), height);
    // Re-check under the write lock that nothing moved while we signed (a cancel, a spend, a bump).
    let recorded = false;
    this.tx('recorded', () => {
      const now = this.store.members(set.id).map((m) => m.outpoint).sort().join(',');
      if (this.store.set(set.id)?.closed === 1) {
        // Closed while we signed (a spend, a withdrawal): the lease this step took goes back to the wallet.
        this.releaseLease(set.id);
        return;
      }
      if (now !== [...rowsByOutpoint.keys()].sort().join(',')) {
        this.store.updateSet(set.id, { next_height: height });
        return;
      }
      const cur = this.store.live(set.id);
      if (cur !== undefined && cur.txid !== live?.txid) return;
      if (cur !== undefined) this.store.updateTx(cur.txid, { status: TX.Replaced });
      this.store.insertTx({
        txid,
        setId: set.id,
        version,
        hex,
        feeSat: a.feeSat,
        feeRate: a.rate,
        weight: tx.weight(),
        inputs: specs.map((s) => s.outpoint),
        walletInputs: coins.map((c) => c.outpoint),
        height,
      });
      for (const s of specs) {
        const r = rowsByOutpoint.get(s.outpoint) as InputRow;
        this.store.updateInput(s.outpoint, { publish_count: r.publish_count + 1, last_feerate: Number(a.rate) });
      }
      this.store.updateSet(set.id, {
        end_feerate: Number(a.capRate),
        next_height: this.nearDeadline(set, members, next, height),
        reason: next === undefined ? this.capReason(a, a.feeSat, Number(a.rate)) : null,
      });
      recorded = true;
    });
    if (!recorded) return;
    const row = this.store.tx(txid) as TxRow;
    const result = await this.publishRecorded(row, this.store.set(set.id) as SetRow);
    if (this.store.tx(txid)?.status === TX.Dead) {
      // The set was dissolved while the node answered (a spend, the parent confirmed): dissolve's forget ran before
      // this publish tracked it again, so forget it now.
      this.broadcaster.forget(txid);
      return;
    }
    if (result.kind === 'accepted' || result.kind === 'already-in-mempool') {
      if (live !== undefined) this.broadcaster.forget(live.txid);
      this.logger.info({ txid, set: set.id, version, feeSat: a.feeSat.toString(), rate: a.rate.toString(), inputs: specs.length }, live ? 'sweep replaced' : 'sweep published');
      return;
    }
    // A refused replacement of a set of several channels' pinnable inputs is split by channel unless the node still
    // holds our previous version (then nothing of someone else's conflicts with it: the refusal was about fees, and
    // smaller per-channel transactions could not replace that version anyway). Asked by sending it again.
    const pinned = result.kind !== 'already-confirmed' && (live === undefined || !this.multiChannel(members) || !HELD.has((await this.publishRecorded(live, set)).kind));
    if (live !== undefined && result.kind === 'insufficient-fee') {
      // The node kept the old version: make it the live one again, and try the next block.
      this.tx('refused', () => {
        this.store.updateTx(txid, { status: TX.Replaced });
        this.store.updateTx(live.txid, { status: TX.Live });
        this.store.updateSet(set.id, { next_height: height + 1, reason: `replacement refused: ${result.reason}` });
        this.splitAlone(set.id, height);
        if (pinned) this.splitByChannel(set.id, height, `the node refused the replacement: ${result.reason}`, true);
      });
      this.broadcaster.forget(txid);
      return;
    }
    this.tx('publish-refused', () => {
      this.store.updateSet(set.id, { next_height: height + 1, reason: `node refused the sweep (${result.kind}): ${result.reason}` });
      this.splitAlone(set.id, height);
      if (pinned) this.splitByChannel(set.id, height, `the node refused the sweep (${result.kind}): ${result.reason}`, true);
    });
  }

  private capReason(a: { budgetSat: bigint; capRate: bigint }, feeSat: bigint, rate: number): string {
    return a.capRate >= this.maxRate
      ? `at the max fee rate: ${rate} sat/kw, fee ${feeSat} sat`
      : `budget exhausted: fee ${feeSat} of ${a.budgetSat} sat at ${rate} sat/kw`;
  }

  /** Hands a recorded version to the broadcaster (it keeps rebroadcasting it each block until it confirms). */
  private async publishRecorded(row: TxRow, set: SetRow): Promise<PublishResult> {
    const tx = Transaction.fromHex(row.hex);
    const r = await this.broadcaster.publish(tx, `sweep:${set.id}:${row.version}`);
    if (r.kind !== 'accepted' && r.kind !== 'already-in-mempool') {
      this.logger.warn({ txid: row.txid, set: set.id, result: r.kind, reason: r.reason }, 'sweep not accepted');
    } else if (this.wallet.recordUnconfirmed !== undefined) {
      try {
        this.wallet.recordUnconfirmed(tx);
      } catch (err) {
        // Only the wallet's view of unconfirmed money is late: the block that mines the sweep records it anyway.
        this.logger.warn({ txid: row.txid, ...errFields(err) }, 'wallet could not record the unconfirmed sweep');
      }
    }
    return r;
  }

  /** 6 confirmations: inputs swept, results owed, exclusive-group siblings excluded, the set closed. */
  private finalize(set: SetRow, tx: TxRow): void {
    this.store.updateTx(tx.txid, { status: TX.Final });
    const inputs = JSON.parse(tx.inputs) as string[];
    const height = tx.confirm_height as number;
    const groups = new Set<string>();
    const shares = this.sharesOf(tx);
    for (const op of inputs) {
      const row = this.store.input(op);
      if (row === undefined) continue;
      const spec = rowSpec(row);
      if (spec.exclusiveGroup !== undefined) groups.add(spec.exclusiveGroup);
      this.store.updateInput(op, { state: IN.Swept, next_height: null, reason: null, spend_txid: tx.txid, spend_height: height });
      this.result({ type: 'swept', outpoint: op, owner: row.owner, txid: tx.txid, height, feeSat: shares.get(op) ?? 0n });
    }
    for (const g of groups) {
      for (const sib of this.store.groupMembers(g)) {
        // A sibling whose own sweep confirmed is not excluded (it was a distinct output after all).
        const sibLive = sib.set_id !== null ? this.store.live(sib.set_id) : undefined;
        if (sibLive?.status === TX.Confirmed || inputs.includes(sib.outpoint)) continue;
        this.store.updateInput(sib.outpoint, { state: IN.Excluded, next_height: null, reason: `excluded: a member of group ${g} was swept by ${tx.txid}` });
        this.result({ type: 'failed', outpoint: sib.outpoint, owner: sib.owner, reason: `excluded: a member of exclusive group ${g} was swept by ${tx.txid}` });
        if (sib.set_id !== null && sib.set_id !== set.id) this.dissolve(sib.set_id, this.tip, `member ${sib.outpoint} excluded`);
      }
    }
    this.closeSet(set.id, `final: ${tx.txid}`);
    this.releaseLease(set.id);
  }

  /**
   * Each input's share of a version's fee (computed once per version), by effective budget (the budget capped at the value for an input that pays
   * for itself, as the fee cap is): fee * budget_i / sum, rounded down, the sats left over by the rounding going one
   * each to the largest remainders (ties by transaction order), so the shares add up to the fee. The fee never
   * exceeds the sum of the effective budgets, so no share exceeds its input's.
   */
  private sharesOf(tx: TxRow): Map<string, bigint> {
    const ops = JSON.parse(tx.inputs) as string[];
    const budgets: { op: string; b: bigint }[] = [];
    let total = 0n;
    for (const op of ops) {
      const row = this.store.input(op);
      if (row === undefined) continue;
      const b = effectiveBudget(rowSpec(row));
      budgets.push({ op, b });
      total += b;
    }
    if (total === 0n) return new Map();
    const fee = BigInt(tx.fee_sat);
    const shares = budgets.map(({ op, b }, i) => ({ op, i, share: (fee * b) / total, rem: (fee * b) % total }));
    let left = fee - shares.reduce((a, x) => a + x.share, 0n);
    for (const x of [...shares].sort((p, q) => (q.rem > p.rem ? 1 : q.rem < p.rem ? -1 : p.i - q.i))) {
      if (left <= 0n) break;
      x.share += 1n;
      left -= 1n;
    }
    return new Map(shares.map((x) => [x.op, x.share]));
  }

  /**
   * Once the current transaction is durable, the set's wallet lease is released, then its flag cleared. A crash in
   * between leaves the flag: start() releases it again (release is idempotent).
   */
  private releaseLease(setId: number): void {
    this.afterCommit.push(() => {
      const set = this.store.set(setId);
      if (set === undefined || set.lease_held === 0 || set.lease_id === null) return;
      this.wallet.release(set.lease_id);
      this.tx('lease-released', () => this.store.updateSet(setId, { lease_held: 0 }));
    });
  }

  private closeSet(id: number, reason: string): void {
    this.store.updateSet(id, { closed: 1, next_height: null, reason });
  }

  /**
   * A set that can no longer confirm as it is (an input spent by someone else, excluded, or never published):
   * its live version is dead, its other inputs go back to pending (clustered again at `height`).
   */
  private dissolve(setId: number, height: number, reason: string): void {
    const set = this.store.set(setId);
    if (set === undefined || set.closed === 1) return;
    for (const v of this.store.versions(setId)) if (v.status === TX.Live) this.store.updateTx(v.txid, { status: TX.Dead });
    for (const m of this.store.members(setId)) {
      this.store.updateInput(m.outpoint, { state: IN.Pending, set_id: null, next_height: height, reason: null });
    }
    this.closeSet(setId, `dissolved: ${reason}`);
    this.releaseLease(setId);
    this.afterCommit.push(() => {
      for (const v of this.store.versions(setId)) if (v.status === TX.Dead) this.broadcaster.forget(v.txid);
    });
  }

  // ---- spend watches ---------------------------------------------------------------------------------------------

  private watch(outpoint: string, offerHeight: number, parentTxid?: string): void {
    const [txid, vout] = outpoint.split(':') as [string, string];
    const hint = Math.max(0, offerHeight - WATCH_LOOKBACK);
    if (!this.handles.has(outpoint)) {
      this.handles.set(outpoint, this.watches.watchSpend({ txid, vout: Number(vout) }, hint, (e) => this.onSpend(outpoint, e)));
    }
    if (parentTxid !== undefined && !this.parentHandles.has(outpoint)) {
      const h = this.watches.watchConf(parentTxid, 1, hint, (e) => {
        if (e.type === 'confirmed') this.tx('parent-confirmed', () => this.parentConfirmed(outpoint, e.txid, e.height));
      });
      this.parentHandles.set(outpoint, h);
    }
  }

  private unwatch(outpoint: string): void {
    this.handles.get(outpoint)?.cancel();
    this.handles.delete(outpoint);
    this.parentHandles.get(outpoint)?.cancel();
    this.parentHandles.delete(outpoint);
  }

  /**
   * The unconfirmed parent of a CPFP input confirmed (lnd #9191): no child is started or kept any more. The input
   * fails (its owner re-offers the anchor without a parent if it is worth sweeping). A child already recorded is
   * retired: its set is dissolved (its versions dead and forgotten by the broadcaster, so a child the node refused
   * while the parent was missing is never rebroadcast to pay the package fee for nothing; the wallet lease is
   * released). Spends are delivered before confirmations of the same block, so a child that confirmed with its
   * parent is already recorded and untouched here.
   */
  private parentConfirmed(outpoint: string, parentTxid: string, height: number): void {
    const row = this.store.input(outpoint);
    if (row === undefined || row.spend_txid !== null) return;
    const spec = rowSpec(row);
    if (spec.parent?.txid !== parentTxid) return;
    if (row.state !== IN.Pending && row.state !== IN.Published) return;
    const reason = `parent ${parentTxid} confirmed at ${height} without our child: no CPFP needed`;
    if (row.state === IN.Published && row.set_id !== null) this.dissolve(row.set_id, this.tip, `${reason}; the child is withdrawn`);
    this.store.updateInput(outpoint, { state: IN.Failed, set_id: null, next_height: null, reason });
    this.result({ type: 'failed', outpoint, owner: row.owner, reason });
    this.afterCommit.push(() => this.unwatch(outpoint));
  }

  /** A spend watch event: our sweep or someone else's transaction confirmed (or was disconnected). */
  private onSpend(outpoint: string, e: SpendEvent): void {
    if (e.type === 'spend') this.tx('spend', () => this.spent(outpoint, e.spenderTxid, e.height, e.blockHash, e.spendingTx));
    else this.tx('spend-undone', () => this.unspent(outpoint, e.spenderTxid, e.height));
  }

  private spent(outpoint: string, spender: string, height: number, hash: string, spendingTx: Transaction): void {
    const row = this.store.input(outpoint);
    if (row === undefined || row.spend_txid === spender) return;
    if (row.state === IN.Swept || (row.state === IN.SpentByOther && row.next_height === null)) return;
    const ours = this.store.tx(spender);
    if (ours !== undefined) {
      const oursSet = this.store.set(ours.set_id);
      if (ours.status !== TX.Confirmed && oursSet !== undefined && oursSet.closed === 1) this.revive(oursSet, ours, height);
      this.store.updateInput(outpoint, { spend_txid: spender, spend_height: height, spend_hash: hash, state: IN.Published, set_id: ours.set_id });
      if (ours.status !== TX.Confirmed) {
        for (const v of this.store.versions(ours.set_id)) {
          if (v.txid !== spender && (v.status === TX.Live || v.status === TX.Confirmed)) this.store.updateTx(v.txid, { status: TX.Replaced });
        }
        this.store.updateTx(spender, { status: TX.Confirmed, confirm_height: height, confirm_hash: hash });
        this.store.updateSet(ours.set_id, { next_height: height + this.finalDepth - 1, reason: `confirmed at ${height}` });
        this.logger.info({ txid: spender, set: ours.set_id, height }, 'sweep confirmed');
      }
      return;
    }
    this.store.updateInput(outpoint, {
      state: IN.SpentByOther,
      spend_txid: spender,
      spend_height: height,
      spend_hash: hash,
      spend_hex: spendingTx.toHex(),
      next_height: height + this.finalDepth - 1,
      reason: `spent by ${spender} at ${height}`,
    });
    this.logger.warn({ outpoint, spender, height }, 'sweep input spent by another transaction');
    if (row.set_id !== null) {
      this.store.updateInput(outpoint, { set_id: null });
      // Someone else took an input of a set of several channels' pinnable inputs: the rest is split by channel.
      if (!this.splitByChannel(row.set_id, this.tip, `${outpoint} spent by ${spender}`, false, [rowSpec(row)])) {
        this.dissolve(row.set_id, this.tip, `${outpoint} spent by ${spender}`);
      }
    }
  }

  /**
   * A version of a closed set confirmed (a reorg mined the version of a set dissolved after a conflicting spend
   * that is now undone, or a withdrawn child confirmed after all): the set is followed to finality again. Its
   * inputs come back to it from wherever they went (a new set holding one of them can no longer confirm and is
   * dissolved, its other members clustered again), so their owners are told at the final depth.
   */
  private revive(set: SetRow, tx: TxRow, height: number): void {
    for (const op of JSON.parse(tx.inputs) as string[]) {
      const r = this.store.input(op);
      if (r === undefined) continue;
      if (r.set_id !== null && r.set_id !== set.id) this.dissolve(r.set_id, this.tip, `${op} spent by ${tx.txid} (set ${set.id}) confirmed at ${height}`);
      this.store.updateInput(op, { state: IN.Published, set_id: set.id, next_height: null, reason: null });
    }
    this.store.updateSet(set.id, { closed: 0 });
    this.logger.warn({ txid: tx.txid, set: set.id, height }, 'a version of a closed sweep set confirmed; the set is followed to finality again');
  }

  private unspent(outpoint: string, spender: string, height: number): void {
    const row = this.store.input(outpoint);
    if (row === undefined || row.spend_txid !== spender) return;
    if (row.state === IN.Swept || (row.state === IN.SpentByOther && row.next_height === null)) {
      this.logger.error({ outpoint, spender, height }, 'a final spend was disconnected (reorg deeper than the final depth)');
      return;
    }
    const ours = this.store.tx(spender);
    this.store.updateInput(outpoint, { spend_txid: null, spend_height: null, spend_hash: null, spend_hex: null });
    if (ours !== undefined) {
      if (ours.status === TX.Confirmed) {
        this.store.updateTx(spender, { status: TX.Live, confirm_height: null, confirm_hash: null });
        this.store.updateSet(ours.set_id, { next_height: height - 1, reason: `confirmation at ${height} disconnected` });
        this.afterCommit.push(() => void this.republish(spender));
      }
      return;
    }
    this.store.updateInput(outpoint, { state: IN.Pending, next_height: height - 1, reason: `spend by ${spender} disconnected` });
  }

  private async republish(txid: string): Promise<void> {
    const row = this.store.tx(txid);
    const set = row && this.store.set(row.set_id);
    if (row && set) await this.publishRecorded(row, set).catch((err: unknown) => this.logger.warn({ err: errFields(err), txid }, 'republish failed'));
  }

  /** spentByOther at the final depth: the owner is told (with the spending transaction to read witnesses from). */
  private finishSpentByOther(row: InputRow): void {
    this.store.updateInput(row.outpoint, { next_height: null });
    this.result({
      type: 'spentByOther',
      outpoint: row.outpoint,
      owner: row.owner,
      txid: row.spend_txid as string,
      height: row.spend_height as number,
      spendingTxHex: row.spend_hex as string,
    });
    this.afterCommit.push(() => this.unwatch(row.outpoint));
  }

  // ---- helpers -----------------------------------------------------------------------------------------------------

  /**
   * A published input re-offered with a different shape (locktime, pinnable, value, witness, parent, ...: anything
   * but budget and deadline): the set it is in was clustered for the old one. With other members it leaves the set
   * (pending again, clustered anew at once) and the set is replaced at once without it; alone in its set, the set
   * takes its new locktime and re-plans in place (its replacement keeps the BIP125 chain of the old version),
   * unless the input changed between wallet-funded and self-paying (an anchor offered again without its confirmed
   * parent): that set is dissolved (its CPFP child dead and forgotten, its lease released) and the input starts anew.
   */
  private reshape(row: InputRow, spec: SweepInputSpec): void {
    const set = row.set_id !== null ? this.store.set(row.set_id) : undefined;
    if (set === undefined || set.closed === 1) return;
    if (this.store.members(set.id).length <= 1) {
      if (needsWallet(rowSpec(row)) !== needsWallet(spec)) {
        this.dissolve(set.id, this.tip, `${row.outpoint} offered again ${spec.parent === undefined ? 'without' : 'with'} a parent to lift`);
        return;
      }
      this.store.updateSet(set.id, { locktime: spec.locktime ?? 0 });
      this.touch(row, spec);
      return;
    }
    this.store.updateInput(row.outpoint, { state: IN.Pending, set_id: null, next_height: this.tip, reason: null });
    this.store.updateSet(set.id, { next_height: this.tip, reason: null });
  }

  /** After a change of spec or start rate: a pending input is looked at again now, its set re-plans at once. */
  private touch(row: InputRow, spec: SweepInputSpec, startRate?: bigint): void {
    if (row.state === IN.Pending) {
      this.store.updateInput(row.outpoint, { next_height: this.tip });
      return;
    }
    if (row.set_id === null) return;
    const set = this.store.set(row.set_id);
    if (set === undefined || set.closed === 1) return;
    const live = this.store.live(set.id);
    // The set's deadline is the earliest of its members' (the touched one's new spec is already stored): a bump of
    // one member never moves the set past another member's deadline.
    let deadline = deadlineOf({ spec, offerHeight: row.offer_height });
    for (const m of this.store.members(set.id)) deadline = Math.min(deadline, deadlineOf({ spec: rowSpec(m), offerHeight: m.offer_height }));
    const current = live !== undefined ? BigInt(live.feerate) : BigInt(set.start_feerate);
    const start = startRate !== undefined && startRate > current ? startRate : current;
    this.store.updateSet(set.id, {
      deadline: Math.max(this.tip + 1, deadline),
      start_feerate: Number(start),
      start_height: this.tip,
      next_height: this.tip,
      reason: null,
    });
  }

  /**
   * The justice-split hook (SweepInputSpec.alone). Splitting helps only when the node refuses the combined sweep
   * (an input pinned by a conflicting transaction of the counterparty): the other inputs then go out on their own.
   * A combined version the node holds cannot be split (every smaller transaction would have to outbid it, BIP125
   * rule 3); it keeps being bumped. So a published input offered again `alone` leaves its set at once only if the
   * node refused the set's last publication (and the set has other members and has not confirmed); otherwise the
   * flag is recorded and `splitAlone` applies it at the next refusal. Returns true if it moved.
   */
  private leavesSet(row: InputRow, spec: SweepInputSpec): boolean {
    if (row.state !== IN.Published || row.set_id === null) return false;
    if (classKey({ spec: rowSpec(row) }) === classKey({ spec })) return false;
    const set = this.store.set(row.set_id);
    if (set === undefined || set.closed === 1 || this.store.live(set.id)?.status === TX.Confirmed) return false;
    if (!REFUSED.test(set.reason ?? '') || this.store.members(set.id).length < 2) return false;
    this.store.updateInput(spec.outpoint, {
      spec: specToJson(spec, marksFromJson(row.spec)),
      chan_point: spec.chanPoint ?? null,
      state: IN.Pending,
      set_id: null,
      next_height: this.tip,
      // The refused versions' rate never reached the node: the input starts again from the estimate.
      last_feerate: null,
      reason: 'split from its set: the node refused the combined sweep',
    });
    // The set's reason (the refusal) stays: the next member offered alone leaves it too.
    this.store.updateSet(set.id, { next_height: this.tip });
    return true;
  }

  /**
   * After the node refused a set's publication: its members marked `alone` leave it (all but one if every member
   * is), back to pending at `height`, to be clustered again in this block's step; the set retries without them.
   */
  private splitAlone(setId: number, height: number): void {
    const members = this.store.members(setId);
    const alone = members.filter((m) => rowSpec(m).alone === true);
    if (members.length < 2 || alone.length === 0) return;
    for (const m of alone.length === members.length ? alone.slice(1) : alone) {
      this.store.updateInput(m.outpoint, { state: IN.Pending, set_id: null, next_height: height, last_feerate: null, reason: 'split from its set: the node refused the combined sweep' });
    }
  }

  /** True if the rows (and `also`) hold pinnable inputs of more than one channel. */
  private multiChannel(rows: readonly InputRow[], also: readonly SweepInputSpec[] = []): boolean {
    const chans = new Set<string>();
    for (const s of [...rows.map(rowSpec), ...also]) if (s.pinnable) chans.add(channelOf(s));
    return chans.size > 1;
  }

  /**
   * When a set holding several channels' pinnable inputs must be looked at again: at `next`, but every block from
   * `channelSplitBlocks` before its deadline (the near-deadline check in stepSet).
   */
  private nearDeadline(set: SetRow, members: readonly InputRow[], next: number | null | undefined, height: number): number | null {
    const n = next ?? null;
    if (!this.multiChannel(members)) return n;
    const at = Math.max(height + 1, set.deadline - this.splitBlocks);
    return n === null ? at : Math.min(n, at);
  }

  /**
   * Splits an open, unconfirmed set holding pinnable inputs of more than one channel (`also`: an input that just
   * left it, counted too) by channel: each member is marked `channelSplit` (kept with its stored spec, so a
   * restart and a re-offer keep it; core.classKey then clusters it only with its own channel's split inputs) and
   * the set is dissolved (its live version dead and forgotten, its lease released), the members pending at
   * `height`, clustered again in this block. After a refusal (`refused`) the members' last rate is dropped: it
   * never reached the node. Returns true if it split.
   */
  private splitByChannel(setId: number, height: number, why: string, refused: boolean, also: readonly SweepInputSpec[] = []): boolean {
    const set = this.store.set(setId);
    if (set === undefined || set.closed === 1 || this.store.live(setId)?.status === TX.Confirmed) return false;
    const members = this.store.members(setId);
    if (members.length === 0 || !this.multiChannel(members, also)) return false;
    for (const m of members) {
      this.store.updateInput(m.outpoint, {
        spec: specToJson(rowSpec(m), { ...marksFromJson(m.spec), channelSplit: true }),
        ...(refused ? { last_feerate: null } : {}),
      });
    }
    this.dissolve(setId, height, `split by channel: ${why}`);
    for (const m of members) this.store.updateInput(m.outpoint, { reason: `split by channel: ${why}` });
    this.splits++;
    this.logger.warn({ set: setId, inputs: members.length, why }, 'sweep set split by channel');
    return true;
  }

  private known(outpoint: string): InputRow {
    const row = this.store.input(outpoint);
    if (row === undefined) throw new CourtError('COURT_E_SWEEP_UNKNOWN_INPUT', 'no sweep input with that outpoint', { outpoint });
    return row;
  }

  private view(r: InputRow): PendingSweepView {
    const spec = rowSpec(r);
    const set = r.set_id !== null ? this.store.set(r.set_id) : undefined;
    const live = set !== undefined ? this.store.live(set.id) : undefined;
    const reason = r.reason ?? set?.reason ?? undefined;
    return {
      outpoint: r.outpoint,
      ...(r.chan_point !== null ? { chanPoint: r.chan_point } : {}),
      owner: r.owner,
      witnessKind: spec.witness.kind,
      valueSat: spec.valueSat,
      budgetSat: spec.budgetSat,
      deadlineHeight: set?.deadline ?? deadlineOf({ spec, offerHeight: r.offer_height }),
      state: STATE_NAME[r.state] as PendingSweepView['state'],
      ...(r.last_feerate !== null ? { feeRatePerKw: BigInt(r.last_feerate) } : {}),
      ...(live !== undefined ? { sweepTxid: live.txid } : {}),
      publishCount: r.publish_count,
      ...(reason !== undefined && reason !== null ? { reason } : {}),
    };
  }

  private result(r: SweepResult): void {
    if (this.store.insertResult(r)) this.afterCommit.push(() => this.emit(r));
  }

  private emit(r: SweepResult): void {
    for (const l of this.listeners) {
      try {
        l(r);
      } catch (err) {
        this.logger.warn({ err: errFields(err), outpoint: r.outpoint }, 'sweep result listener threw; the result stays unacked');
      }
    }
  }

  private afterCommit: (() => void)[] = [];

  /** One SQLite transaction; then the commit hook, then what must happen only once it is durable. */
  private tx(point: string, fn: () => void): void {
    const outer = this.db.inTransaction;
    try {
      this.db.transaction(fn).immediate();
    } catch (err) {
      if (!outer) this.afterCommit = [];
      throw err;
    }
    if (outer) return;
    this.onCommit(point);
    const after = this.afterCommit;
    this.afterCommit = [];
    for (const f of after) f();
  }
}
