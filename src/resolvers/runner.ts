/**
 * ResolverRunner: the resolvers' interpreter and the arbitrator's ResolverHost (src/arbitrator/channel-effects.ts).
 *
 * - `launch(chanPoint)` (the arbitrator's LaunchResolvers effect, and start-up for every channel waiting for its
 *   resolvers) reads the channel's resolver rows: an arbitrator record (format v 1) becomes its kind's first value
 *   (`init`), a stored value resumes as is; every live resolver gets a Launch event, which re-emits the idempotent
 *   effects of its stage (offers, watches, broadcasts). A finished row is reported finished to the arbitrator again
 *   (it ignores repeats), so a crash between a resolver's last commit and that call loses nothing.
 * - Events: blocks (only the resolvers whose wake height the block reaches: a heap, so 10,000 waiting resolvers
 *   cost nothing per block), spend watches of the chain layer (confirmed spends and their undo on a reorg), mempool
 *   spends (a preimage before it confirms), sweeper results (by outpoint; acked once taken), preimages (the node's,
 *   or another resolver's learned one, routed by payment hash to every resolver waiting on it on any channel).
 * - One event, one transaction (store.ts commitStep): value, successors, reports, node events and learned
 *   preimages together; then the other effects run, each idempotent. An effect that fails is retried with capped
 *   exponential back-off (timer and every block), its reason visible in `view()`; the resolver and its channel go
 *   on meanwhile (lnd #10668: a resolver never dies).
 * - Everything runs on one serial queue, so steps never interleave.
 */
import { Transaction } from 'bitcoinjs-lib';
import type { PreimageReply, PreimageSource } from '../arbitrator/chain-arbitrator.js';
import type { ResolverHost } from '../arbitrator/channel-effects.js';
import type { Broadcaster, ChainEvent, MempoolSpend, SpendEvent, SpendNotifier, WatchHandle } from '../chain/ports.js';
import { SerialQueue } from '../chain/serial-queue.js';
import { singleTweak } from '../keys/derive.js';
import type { KeyRing } from '../keys/keyring.js';
import { SIGHASH_ALL } from '../keys/sighash.js';
import { encodeSig } from '../keys/signature.js';
import type { Signer } from '../keys/signer.js';
import { htlcSuccessWitness, htlcTimeoutWitness } from '../ln/witness.js';
import type { Db } from '../store/db.js';
import type { KeySpec, SweeperPort, SweepInputSpec, SweepResult, WitnessSpec } from '../sweep/types.js';
import { fromHex, sha256, toHex } from '../util/bytes.js';
import { CourtError } from '../util/errors.js';
import { errFields, silentLogger, type Logger } from '../util/logger.js';
import { WakeQueue } from '../arbitrator/wake-queue.js';
import { loadRevocations } from '../arbitrator/store.js';
import { MAX_SHACHAIN_INDEX } from '../ln/shachain.js';
import { definition, kindOfCode } from './registry.js';
import { channelFormat, channelResolvers, commitStep, isOurSweep, preimageOf, ResolverSuperseded, supersededAmong, viewRows, type StoredResolver } from './store.js';
import {
  DEFAULT_BUDGETS,
  RESOLVER_FORMAT,
  type Budgets,
  type Format,
  type KeyFact,
  type OutputView,
  type PresignedSpend,
  type ResolverBase,
  type ResolverEffect,
  type ResolverEnv,
  type ResolverEvent,
  type ResolverKindDef,
  type SweepOffer,
} from './types.js';

/** What the runner needs from the ChainArbitrator. */
export interface ArbitratorLink {
  resolverFinished(chanPoint: string, outpoint: string): Promise<void>;
  addPreimage(preimage: Uint8Array, source: PreimageSource): Promise<PreimageReply>;
}

/** Mempool spend watches (MempoolWatcher). */
export interface MempoolWatches {
  watchSpend(outpoint: { txid: string; vout: number }, onEvent: (e: MempoolSpend) => void | Promise<void>): { cancel(): void };
}

export interface ResolverRunnerOptions {
  readonly db: Db;
  readonly sweeper: SweeperPort;
  readonly keyring: KeyRing;
  readonly signer: Signer;
  readonly broadcaster: Pick<Broadcaster, 'publish'>;
  readonly watches: Pick<SpendNotifier, 'watchSpend'>;
  readonly mempool?: MempoolWatches;
  readonly fees: { feeRatePerKw(confTarget: number): Promise<bigint> };
  /** Chain height before the first block event. */
  readonly height: number;
  readonly logger?: Logger;
  /** Called after each commit with its name (crash tests copy the database here). */
  readonly onCommit?: (point: string) => void;
  readonly budgets?: Partial<Budgets>;
  /** Effect retry back-off (default 1 s doubling to 60 s). */
  readonly retry?: { readonly baseMs: number; readonly maxMs: number };
}

interface Live {
  readonly id: number;
  /** The outpoint the arbitrator knows the resolver by (its first row's). */
  readonly rootOutpoint: string;
  value: ResolverBase;
  def: ResolverKindDef<ResolverBase>;
  wake?: number;
  waitsOn?: string;
}

/** One event's step, computed before anything is written. */
interface Plan {
  readonly id: number;
  readonly l: Live;
  readonly next: ResolverBase;
  /** The step itself finished the resolver (its row is stored resolved). */
  readonly resolved: boolean;
  readonly successors: readonly { readonly value: ResolverBase; readonly resolved: boolean }[];
  readonly effects: readonly ResolverEffect[];
  /** The last of the chain finished. */
  readonly finished: boolean;
  /** Something to write. */
  readonly write: boolean;
}

interface Failure {
  effects: ResolverEffect[];
  attempts: number;
  nextAt: number;
  reason: string;
  timer?: NodeJS.Timeout;
}

interface Watch {
  id: number;
  chain: WatchHandle;
  mempool?: { cancel(): void };
}

/** The interpreter of every resolver (see the module comment). */
export class ResolverRunner implements ResolverHost {
  readonly #o: ResolverRunnerOptions;
  readonly #log: Logger;
  readonly #budgets: Budgets;
  readonly #queue = new SerialQueue();
  readonly #live = new Map<number, Live>();
  /** Outpoints offered or watched -> the live resolver that owns them. */
  readonly #owner = new Map<string, number>();
  /** The outpoints each live resolver owns (offered or watched): moved on a swap, released on a drop. */
  readonly #ops = new Map<number, Set<string>>();
  readonly #waiting = new Map<string, Set<number>>();
  readonly #wakeQ = new WakeQueue();
  readonly #watches = new Map<string, Watch>();
  readonly #failures = new Map<number, Failure>();
  /** Transactions we published ourselves (pre-signed second-level). */
  readonly #published = new Set<string>();
  #arb: ArbitratorLink | undefined;
  #height: number;
  #feeRate = 253n;
  #feeRateFetched = false;
  #pending = 0;
  #stopped = false;
  /** Channels whose launch is queued (taken together by one job). */
  readonly #toLaunch = new Set<string>();
  #launchQueued = false;

  constructor(o: ResolverRunnerOptions) {
    this.#o = o;
    this.#log = o.logger ?? silentLogger;
    this.#budgets = { ...DEFAULT_BUDGETS, ...(o.budgets ?? {}) };
    this.#height = o.height;
    o.sweeper.onResult((r) => void this.#run(() => this.#onResult(r)));
  }

  /** Connects the ChainArbitrator (finished resolvers, learned preimages). */
  attach(arb: ArbitratorLink): void {
    this.#arb = arb;
  }

  get height(): number {
    return this.#height;
  }

  /** Resolvers held in memory (live, unfinished). */
  get size(): number {
    return this.#live.size;
  }

  /** ResolverHost: start (or keep running) the channel's resolvers. Never throws; work is queued. */
  launch(chanPoint: string): void {
    // Launches that pile up while the runner is busy (a mass close) are taken together: one transaction for all.
    this.#toLaunch.add(chanPoint);
    if (this.#launchQueued) return;
    this.#launchQueued = true;
    void this.#run(async () => {
      this.#launchQueued = false;
      const cps = [...this.#toLaunch];
      this.#toLaunch.clear();
      await this.#launch(cps);
    });
  }

  /** Resolves once every queued job ran. */
  async idle(): Promise<void> {
    while (this.#pending > 0) await this.#queue.run(async () => undefined);
  }

  /** Cancels watches and retry timers (the database stays open). */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.idle();
    for (const w of this.#watches.values()) {
      w.chain.cancel();
      w.mempool?.cancel();
    }
    this.#watches.clear();
    for (const f of this.#failures.values()) if (f.timer !== undefined) clearTimeout(f.timer);
  }

  /** The block dispatcher's subscriber (register after the ChainWatches, the arbitrator and the sweeper). */
  readonly onChainEvent = (event: ChainEvent): Promise<void> => {
    if (event.type === 'BlockConnected') return this.onBlockConnected(event.height);
    return this.onBlockDisconnected(event.height);
  };

  /** A connected block: the resolvers due at its height, then the failed effects due for a retry. */
  onBlockConnected(height: number): Promise<void> {
    return this.#run(async () => {
      this.#height = height;
      await this.#refreshFeeRate();
      // every resolver due at this height steps, all written in one transaction, then each runs its effects
      const plans: Plan[] = [];
      for (const due of this.#wakeQ.popDue(height)) {
        const id = Number(due.id);
        const l = this.#live.get(id);
        if (l === undefined || l.wake !== due.height) continue;
        const plan = this.#plan(id, { kind: 'Block', height }, false);
        if (plan !== undefined) plans.push(plan);
      }
      const ids = this.#commit(plans);
      for (const p of plans) {
        await this.#after(p, ids.get(p));
        // its wake entry was taken: index it again (a resolver that did not move is looked at again next block)
        const l = this.#live.get(p.id);
        if (!p.write && l !== undefined) {
          delete l.wake;
          this.#index(p.id);
        }
      }
      for (const id of [...this.#failures.keys()]) await this.#retry(id);
    });
  }

  /** A disconnected block: resolvers whose rows the arbitrator superseded (their close left the chain) are dropped. */
  onBlockDisconnected(height: number): Promise<void> {
    return this.#run(async () => {
      this.#height = height - 1;
      for (const id of supersededAmong(this.#o.db, [...this.#live.keys()])) this.#drop(id, 'its close was disconnected');
    });
  }

  /** ResolverHost: a stored preimage (the node's POST, a spend) for every resolver waiting on its hash. Queued. */
  preimageLearned(preimage: Uint8Array): void {
    const hex = toHex(preimage);
    void this.#run(() => this.#route(toHex(sha256(preimage)), hex));
  }

  /** The live view per output (limbo, recovered, stage, maturity), unfinished and finished outputs. */
  view(chanPoint?: string): OutputView[] {
    const out: OutputView[] = [];
    for (const row of viewRows(this.#o.db, chanPoint)) {
      const value = this.#live.get(row.id)?.value ?? this.#decode(row);
      if (value === undefined) continue;
      const def = definition(value.kind);
      if (def === undefined) continue;
      const v = def.view(value, this.#height);
      const f = this.#failures.get(row.id);
      out.push({
        chanPoint: row.chanPoint,
        outpoint: row.outpoint,
        kind: value.kind,
        ...v,
        ...(f === undefined ? {} : { reason: `effect failed ${f.attempts}x, retrying: ${f.reason}` }),
      });
    }
    return out;
  }

  // ---- internals ---------------------------------------------------------------------------------------------

  #run(job: () => Promise<void>): Promise<void> {
    this.#pending++;
    return this.#queue
      .run(job)
      .catch((err: unknown) => this.#log.error({ ...errFields(err) }, 'resolvers: a job failed'))
      .finally(() => this.#pending--);
  }

  #env(): ResolverEnv {
    return { height: this.#height, budgets: this.#budgets, feeRatePerKw: this.#feeRate };
  }

  /** The value of a stored row (an arbitrator record becomes its kind's first value). */
  #decode(row: StoredResolver, format?: Format): ResolverBase | undefined {
    const kind = kindOfCode(row.kind);
    const def = kind === undefined ? undefined : definition(kind);
    if (def === undefined) return undefined;
    if (row.state.v === RESOLVER_FORMAT) return row.state as unknown as ResolverBase;
    if (row.state.v === 2) {
      // v 2 named an HTLC resolver's output `res`
      const { res, ...rest } = row.state as Record<string, unknown> & { v: number };
      return { ...rest, ...(res === undefined ? {} : { output: res }), v: RESOLVER_FORMAT } as unknown as ResolverBase;
    }
    const s = row.state as { closeType?: string; closeTxid?: string; closeHeight?: number; output?: unknown; deadline?: number | null };
    return def.init({
      chanPoint: row.chanPoint,
      outpoint: row.outpoint,
      format: format ?? channelFormat(this.#o.db, row.chanPoint),
      closeType: String(s.closeType),
      closeTxid: String(s.closeTxid),
      closeHeight: Number(s.closeHeight),
      output: s.output as never,
      deadline: s.deadline ?? null,
    });
  }

  /** The fee estimate the steps see (env.feeRatePerKw); a failure keeps the last one. */
  async #refreshFeeRate(): Promise<void> {
    try {
      this.#feeRate = await this.#o.fees.feeRatePerKw(6);
      this.#feeRateFetched = true;
    } catch (err) {
      this.#log.warn({ ...errFields(err) }, 'resolvers: no fee estimate; keeping the last one');
    }
  }

  async #launch(chanPoints: readonly string[]): Promise<void> {
    // A launch at start-up comes before any block: steps must not decide on the placeholder rate (found by the
    // breach crash suite: an anchor offered at the relay floor after a restart, never sweepable, never finished).
    if (!this.#feeRateFetched) await this.#refreshFeeRate();
    const plans: Plan[] = [];
    for (const chanPoint of chanPoints) await this.#launchOne(chanPoint, plans);
    // the channels' resolvers are written in one transaction (each a savepoint), then each runs its effects
    const ids = this.#commit(plans);
    for (const p of plans) await this.#after(p, ids.get(p));
  }

  /** Adds the Launch plans of one channel's live resolvers to `plans`; tells the arbitrator of finished ones again. */
  async #launchOne(chanPoint: string, plans: Plan[]): Promise<void> {
    const rows = channelResolvers(this.#o.db, chanPoint);
    const format = channelFormat(this.#o.db, chanPoint);
    for (const row of rows) {
      if (row.resolved) {
        if (!row.replaced) await this.#finished(chanPoint, row.outpoint);
        continue;
      }
      if (this.#live.has(row.id)) continue;
      let value: ResolverBase | undefined;
      try {
        value = this.#decode(row, format);
      } catch (err) {
        this.#log.error({ chanPoint, resolver: row.id, ...errFields(err) }, 'resolvers: a resolver row does not decode; left alone');
        continue;
      }
      if (value === undefined) {
        this.#log.warn({ chanPoint, resolver: row.id, kind: row.kind }, 'resolvers: no definition for this kind in this build; left alone');
        continue;
      }
      const def = definition(value.kind) as ResolverKindDef<ResolverBase>;
      this.#live.set(row.id, { id: row.id, rootOutpoint: row.outpoint, value, def });
      this.#index(row.id);
      const plan = this.#plan(row.id, this.#launchEvent(value), row.state.v !== RESOLVER_FORMAT);
      if (plan !== undefined) plans.push(plan);
    }
  }

  #launchEvent(value: ResolverBase): ResolverEvent {
    const hash = (value as { output?: { htlc?: { paymentHash?: string } } }).output?.htlc?.paymentHash;
    const pre = hash === undefined ? undefined : preimageOf(this.#o.db, hash);
    return { kind: 'Launch', height: this.#height, ...(pre === undefined ? {} : { preimage: pre }) };
  }

  /** Indexes a live resolver's wake height and the hash it waits on. */
  #index(id: number): void {
    const l = this.#live.get(id);
    if (l === undefined) return;
    const wake = l.def.wake(l.value);
    if (wake !== l.wake) {
      l.wake = wake;
      if (wake !== undefined) this.#wakeQ.push(wake, String(id));
    }
    const hash = l.def.waitsOn?.(l.value);
    if (hash !== l.waitsOn) {
      if (l.waitsOn !== undefined) this.#waiting.get(l.waitsOn)?.delete(id);
      l.waitsOn = hash;
      if (hash !== undefined) {
        const set = this.#waiting.get(hash) ?? new Set<number>();
        set.add(id);
        this.#waiting.set(hash, set);
      }
    }
  }

  /**
   * One event for resolver `id`: step, successors (each launched at once), one transaction, then the effects.
   * `force` writes even if nothing changed (an arbitrator record turned into a value).
   */
  async #apply(id: number, event: ResolverEvent, force = false): Promise<void> {
    const plan = this.#plan(id, event, force);
    if (plan === undefined) return;
    const ids = this.#commit([plan]);
    await this.#after(plan, ids.get(plan));
  }

  /** The pure part of an event: the step and the launched successors, nothing written yet. */
  #plan(id: number, event: ResolverEvent, force: boolean): Plan | undefined {
    const l = this.#live.get(id);
    if (l === undefined) return undefined;
    const env = this.#env();
    const res = l.def.step(l.value, event, env);
    const effects: ResolverEffect[] = [...res.effects];
    const successors: { value: ResolverBase; resolved: boolean }[] = [];
    let cur = res.successor;
    let finished = res.finished === true;
    for (let guard = 0; cur !== undefined && guard < 4; guard++) {
      const def = definition(cur.kind);
      if (def === undefined) throw new CourtError('COURT_E_FSM_DECODE', `no definition for successor kind ${cur.kind}`);
      const r2 = def.step(cur, this.#launchEvent(cur), env);
      effects.push(...r2.effects);
      // A successor created finished (the spend it follows was already final when first seen) is stored resolved:
      // its Launch step changes nothing, and an unresolved 'done' row would never be reported again after a restart.
      finished = r2.finished === true || (r2.successor === undefined && r2.next.stage === 'done');
      if (r2.successor !== undefined) {
        successors.push({ value: r2.next, resolved: true });
        cur = r2.successor;
      } else {
        successors.push({ value: r2.next, resolved: finished });
        cur = undefined;
      }
    }
    const write = force || successors.length > 0 || res.next !== l.value || effects.some((e) => IN_TX.has(e.kind) || e.kind === 'ResolverFinished');
    return { id, l, next: res.next, resolved: res.finished === true, successors, effects, finished, write };
  }

  /**
   * Writes the plans that change something, all in ONE transaction (a launch writes a channel's resolvers
   * together; each plan is its own savepoint). Returns the successor ids of each written plan; a plan whose row a
   * reorg superseded is left out (its resolver is dropped in #after).
   */
  #commit(plans: readonly Plan[]): Map<Plan, number[]> {
    const out = new Map<Plan, number[]>();
    const todo = plans.filter((p) => p.write);
    if (todo.length === 0) return out;
    this.#o.db
      .transaction(() => {
        for (const p of todo) {
          try {
            out.set(
              p,
              commitStep(this.#o.db, {
                id: p.id,
                chanPoint: p.l.value.chanPoint,
                value: p.next,
                resolved: p.resolved,
                successors: p.successors,
                effects: p.effects,
                height: this.#height,
                fees: feesOf(p.next),
              }),
            );
          } catch (err) {
            if (!(err instanceof ResolverSuperseded)) throw err;
          }
        }
      })
      .immediate();
    this.#o.onCommit?.('resolver-step');
    return out;
  }

  /** Memory follows the commit, then the effects run. `ids` undefined: not written (unchanged, or superseded). */
  async #after(p: Plan, ids: number[] | undefined): Promise<void> {
    const { id, l, successors, effects } = p;
    if (!p.write) {
      await this.#execute(id, l, effects);
      return;
    }
    if (ids === undefined) {
      this.#drop(id, 'its close was disconnected');
      return;
    }
    let target = id;
    if (successors.length > 0) {
      this.#live.delete(id);
      if (l.waitsOn !== undefined) this.#waiting.get(l.waitsOn)?.delete(id);
      const last = successors[successors.length - 1] as { value: ResolverBase; resolved: boolean };
      target = ids[ids.length - 1] as number;
      const ops = this.#ops.get(id) ?? new Set<string>();
      this.#ops.delete(id);
      for (const op of ops) {
        if (this.#owner.get(op) === id) this.#owner.set(op, target);
        const w = this.#watches.get(op);
        if (w?.id === id) w.id = target;
      }
      this.#ops.set(target, new Set([...(this.#ops.get(target) ?? []), ...ops]));
      this.#moveFailure(id, target);
      if (!last.resolved) {
        this.#live.set(target, { id: target, rootOutpoint: l.rootOutpoint, value: last.value, def: definition(last.value.kind) as ResolverKindDef<ResolverBase> });
        this.#index(target);
      } else this.#release(target);
    } else if (p.finished) {
      this.#live.delete(id);
      if (l.waitsOn !== undefined) this.#waiting.get(l.waitsOn)?.delete(id);
      this.#release(id);
    } else {
      l.value = p.next;
      this.#index(id);
    }
    const holder = this.#live.get(target) ?? { ...l, id: target };
    await this.#execute(target, holder, effects);
  }

  /** Runs the post-commit effects; failures are kept for retry. */
  async #execute(id: number, l: Live, effects: readonly ResolverEffect[]): Promise<void> {
    const failed: ResolverEffect[] = [];
    let reason = '';
    for (const e of effects) {
      if (IN_TX.has(e.kind)) {
        if (e.kind === 'LearnedPreimage') {
          try {
            await this.#learned(e);
          } catch (err) {
            failed.push(e);
            reason = String(errFields(err).message);
          }
        }
        continue;
      }
      try {
        await this.#effect(id, l, e);
      } catch (err) {
        failed.push(e);
        reason = String(errFields(err).message);
        this.#log.warn({ resolver: id, effect: e.kind, ...errFields(err) }, 'resolvers: an effect failed; it is retried with back-off');
      }
    }
    if (failed.length > 0) this.#fail(id, failed, reason);
  }

  async #effect(id: number, l: Live, e: ResolverEffect): Promise<void> {
    switch (e.kind) {
      case 'OfferSweep': {
        const spec = this.#spec(l.value.chanPoint, e.input);
        this.#own(id, spec.outpoint);
        this.#o.sweeper.offer(spec);
        return;
      }
      case 'CancelSweep':
        try {
          this.#o.sweeper.cancel(e.outpoint);
        } catch (err) {
          if (!(err instanceof CourtError) || err.code !== 'COURT_E_SWEEP_UNKNOWN_INPUT') throw err;
        }
        return;
      case 'Broadcast':
        await this.#broadcast(e.spend);
        return;
      case 'WatchSpend':
        this.#watch(id, e.outpoint, e.heightHint, e.mempool);
        return;
      case 'Unwatch': {
        const w = this.#watches.get(e.outpoint);
        if (w !== undefined) {
          w.chain.cancel();
          w.mempool?.cancel();
          this.#watches.delete(e.outpoint);
        }
        return;
      }
      case 'ResolverFinished':
        await this.#finished(l.value.chanPoint, l.rootOutpoint);
        return;
      case 'Report':
      case 'NotifyNode':
      case 'LearnedPreimage':
        return;
    }
  }

  async #finished(chanPoint: string, outpoint: string): Promise<void> {
    if (this.#arb === undefined) throw new CourtError('COURT_E_FSM_LIFECYCLE', 'resolver runner not attached to an arbitrator');
    await this.#arb.resolverFinished(chanPoint, outpoint);
  }

  /** A preimage learned from a spend: routed to the open channels (arbitrator) and to waiting resolvers. */
  async #learned(e: Extract<ResolverEffect, { kind: 'LearnedPreimage' }>): Promise<void> {
    const bytes = fromHex(e.preimage);
    await this.#route(toHex(sha256(bytes)), e.preimage);
    if (this.#arb !== undefined) {
      try {
        await this.#arb.addPreimage(bytes, e.source);
      } catch (err) {
        // stored; the arbitrator retries its own deliveries with every block
        if (!(err instanceof CourtError) || err.code !== 'COURT_E_DELIVERY_FAILED') throw err;
      }
    }
  }

  async #route(paymentHash: string, preimage: string): Promise<void> {
    for (const id of [...(this.#waiting.get(paymentHash) ?? [])]) await this.#apply(id, { kind: 'Preimage', paymentHash, preimage });
  }

  #watch(id: number, outpoint: string, hint: number, mempool: boolean): void {
    const existing = this.#watches.get(outpoint);
    if (existing !== undefined) {
      existing.id = id;
      this.#own(id, outpoint);
      if (mempool && existing.mempool === undefined && this.#o.mempool !== undefined) existing.mempool = this.#mempoolWatch(outpoint);
      return;
    }
    this.#own(id, outpoint);
    const [txid, vout] = splitOutpoint(outpoint);
    const chain = this.#o.watches.watchSpend({ txid, vout }, hint, (ev) => this.#onSpend(outpoint, ev));
    chain.ready.catch(() => undefined);
    const w: Watch = { id, chain };
    if (mempool && this.#o.mempool !== undefined) w.mempool = this.#mempoolWatch(outpoint);
    this.#watches.set(outpoint, w);
  }

  #mempoolWatch(outpoint: string): { cancel(): void } {
    const [txid, vout] = splitOutpoint(outpoint);
    return (this.#o.mempool as MempoolWatches).watchSpend({ txid, vout }, (ev) =>
      this.#run(async () => {
        const w = this.#watches.get(outpoint);
        if (w === undefined) return;
        const witness = (ev.spendingTx.ins[ev.inputIndex]?.witness ?? []).map((b) => toHex(b));
        await this.#apply(w.id, { kind: 'MempoolSpend', outpoint, txid: ev.spenderTxid, witness });
      }),
    );
  }

  /** A chain spend watch event, through the queue; a failure is thrown back so the watch delivers it again. */
  #onSpend(outpoint: string, ev: SpendEvent): Promise<void> {
    let error: unknown;
    const done = this.#run(async () => {
      const w = this.#watches.get(outpoint);
      if (w === undefined) return;
      try {
        if (ev.type === 'spend-undone') {
          await this.#apply(w.id, { kind: 'SpendUndone', outpoint, txid: ev.spenderTxid, height: ev.height });
          return;
        }
        const tx = ev.spendingTx;
        await this.#apply(w.id, {
          kind: 'Spend',
          outpoint,
          txid: ev.spenderTxid,
          height: ev.height,
          inputIndex: ev.inputIndex,
          witness: (tx.ins[ev.inputIndex]?.witness ?? []).map((b) => toHex(b)),
          outputs: tx.outs.map((o) => ({ valueSat: o.value.toString(), script: toHex(o.script) })),
          ours: this.#published.has(ev.spenderTxid) || isOurSweep(this.#o.db, ev.spenderTxid),
        });
      } catch (err) {
        error = err;
      }
    });
    return done.then(() => {
      if (error !== undefined) throw error;
    });
  }

  async #onResult(r: SweepResult): Promise<void> {
    const id = this.#owner.get(r.outpoint);
    if (id === undefined || !this.#live.has(id)) {
      // a result for a resolver that finished (it followed the spend itself) or for a CPFP child: nobody waits
      if (r.owner.startsWith('resolver:') || r.owner.startsWith('cpfp:')) this.#o.sweeper.ack(r.outpoint);
      return;
    }
    const event: ResolverEvent =
      r.type === 'swept'
        ? { kind: 'SweepResult', outpoint: r.outpoint, result: 'swept', txid: r.txid, feeSat: r.feeSat.toString() }
        : r.type === 'spentByOther'
          ? { kind: 'SweepResult', outpoint: r.outpoint, result: 'spentByOther', txid: r.txid }
          : { kind: 'SweepResult', outpoint: r.outpoint, result: 'failed', reason: r.reason };
    await this.#apply(id, event);
    this.#o.sweeper.ack(r.outpoint);
  }

  /** Records that resolver `id` owns `outpoint` (sweep results and spends are routed to it). */
  #own(id: number, outpoint: string): void {
    this.#owner.set(outpoint, id);
    const set = this.#ops.get(id);
    if (set === undefined) this.#ops.set(id, new Set([outpoint]));
    else set.add(outpoint);
  }

  /** Forgets what a finished resolver owned (its Unwatch effects cancel the watches; late results are acked). */
  #release(id: number): void {
    for (const op of this.#ops.get(id) ?? []) if (this.#owner.get(op) === id) this.#owner.delete(op);
    this.#ops.delete(id);
  }

  /** A resolver whose row a reorg superseded: its offers and watches go. */
  #drop(id: number, why: string): void {
    const l = this.#live.get(id);
    if (l === undefined) return;
    this.#live.delete(id);
    if (l.waitsOn !== undefined) this.#waiting.get(l.waitsOn)?.delete(id);
    for (const op of this.#ops.get(id) ?? []) {
      const w = this.#watches.get(op);
      if (w?.id === id) {
        w.chain.cancel();
        w.mempool?.cancel();
        this.#watches.delete(op);
      }
      if (this.#owner.get(op) !== id) continue;
      this.#owner.delete(op);
      try {
        this.#o.sweeper.cancel(op);
      } catch {
        // not offered
      }
    }
    this.#ops.delete(id);
    const f = this.#failures.get(id);
    if (f?.timer !== undefined) clearTimeout(f.timer);
    this.#failures.delete(id);
    this.#log.info({ resolver: id, chanPoint: l.value.chanPoint, why }, 'resolvers: resolver dropped');
  }

  #fail(id: number, effects: ResolverEffect[], reason: string): void {
    const prev = this.#failures.get(id);
    const attempts = (prev?.attempts ?? 0) + 1;
    const retry = this.#o.retry ?? { baseMs: 1_000, maxMs: 60_000 };
    const delay = Math.min(retry.maxMs, retry.baseMs * 2 ** Math.min(attempts - 1, 20));
    if (prev?.timer !== undefined) clearTimeout(prev.timer);
    const f: Failure = { effects, attempts, nextAt: Date.now() + delay, reason: reason.slice(0, 300) };
    if (!this.#stopped) {
      f.timer = setTimeout(() => void this.#run(() => this.#retry(id)), delay);
      f.timer.unref();
    }
    this.#failures.set(id, f);
  }

  #moveFailure(from: number, to: number): void {
    const f = this.#failures.get(from);
    if (f === undefined) return;
    this.#failures.delete(from);
    this.#failures.set(to, f);
  }

  async #retry(id: number): Promise<void> {
    const f = this.#failures.get(id);
    if (f === undefined) return;
    if (f.timer !== undefined) clearTimeout(f.timer);
    const l = this.#live.get(id);
    // a finished resolver keeps only its ResolverFinished (and preimage routing) to retry
    const holder: Live | undefined = l ?? this.#ghost(id, f);
    if (holder === undefined) {
      this.#failures.delete(id);
      return;
    }
    this.#failures.delete(id);
    await this.#execute(id, holder, f.effects);
    const again = this.#failures.get(id);
    if (again !== undefined) again.attempts = Math.max(again.attempts, f.attempts + 1);
  }

  /** The stored value of a finished resolver, for retrying its last effects. */
  #ghost(id: number, _f: Failure): Live | undefined {
    const row = this.#o.db.prepare<[number], { chan_point: string; outpoint: string; kind: number; state: string }>('SELECT chan_point, outpoint, kind, state FROM resolver WHERE id = ?').get(id);
    if (row === undefined) return undefined;
    const kind = kindOfCode(row.kind);
    const def = kind === undefined ? undefined : definition(kind);
    if (def === undefined) return undefined;
    return { id, rootOutpoint: row.outpoint, value: JSON.parse(row.state), def };
  }

  /** A SweepOffer as the sweeper takes it: keys resolved through the keyring, amounts as bigint. */
  #spec(chanPoint: string, o: SweepOffer): SweepInputSpec {
    const key = (k: KeyFact): KeySpec => this.#keySpec(k, chanPoint);
    const w = o.witness;
    let witness: WitnessSpec;
    if (w.kind === 'toRemoteP2wpkh') witness = { kind: 'toRemoteP2wpkh', key: key(w.key), pubkey: toHex(this.#o.keyring.publicKey({ family: w.key.family, index: w.key.index })) };
    else witness = { ...w, key: key(w.key) } as WitnessSpec;
    return {
      outpoint: o.outpoint,
      valueSat: BigInt(o.valueSat),
      scriptPubKey: o.scriptPubKey,
      witness,
      ...(o.sequence === undefined ? {} : { sequence: o.sequence }),
      ...(o.locktime === undefined ? {} : { locktime: o.locktime }),
      ...(o.matureHeight === undefined ? {} : { matureHeight: o.matureHeight }),
      budgetSat: BigInt(o.budgetSat),
      ...(o.deadlineHeight === undefined ? {} : { deadlineHeight: o.deadlineHeight }),
      ...(o.exclusiveGroup === undefined ? {} : { exclusiveGroup: o.exclusiveGroup }),
      pinnable: o.pinnable,
      ...(o.pairedOutput === undefined ? {} : { pairedOutput: { valueSat: BigInt(o.pairedOutput.valueSat), script: o.pairedOutput.script } }),
      ...(o.alone === true ? { alone: true } : {}),
      // stable across successors and across a close re-created after a reorg (new rows, same outpoints)
      owner: o.owner ?? `resolver:${o.outpoint}`,
      chanPoint,
    };
  }

  #keySpec(k: KeyFact, chanPoint: string): KeySpec {
    const locator = { family: k.family, index: k.index };
    if (k.revokedNumber !== undefined) {
      // Justice: the revocation key is our revocation basepoint secret double-tweaked with their per-commitment
      // secret, read from the channel's revocation store now (never kept in a resolver value or an effect).
      const secret = loadRevocations(this.#o.db, chanPoint).lookup(MAX_SHACHAIN_INDEX - k.revokedNumber);
      return { locator, doubleTweak: toHex(secret) };
    }
    if (k.tweakPoint === undefined) return { locator };
    return { locator, singleTweak: toHex(singleTweak(fromHex(k.tweakPoint), this.#o.keyring.publicKey(locator))) };
  }

  /** Signs and publishes a pre-signed second-level transaction (static_remotekey: its fee is inside). */
  async #broadcast(p: PresignedSpend): Promise<void> {
    const sl = p.res.secondLevel;
    if (sl === undefined) throw new CourtError('COURT_E_INVALID_ARGUMENT', 'broadcast of an HTLC output without a second-level transaction');
    const tx = Transaction.fromHex(sl.txHex);
    const script = fromHex(p.res.witnessScript as string);
    const [ours] = await this.#o.signer.signInputs([
      {
        key: { locator: { family: p.res.key.family, index: p.res.key.index }, ...this.#tweak(p.res.key) },
        tx,
        inputIndex: 0,
        scriptCode: script,
        valueSat: BigInt(p.res.amountSat),
        sighashType: SIGHASH_ALL,
      },
    ]);
    const theirs = encodeSig(fromHex(sl.remoteSignature), sl.remoteSighashType);
    tx.setWitness(
      0,
      p.preimage === undefined ? htlcTimeoutWitness(theirs, ours as Uint8Array, script) : htlcSuccessWitness(theirs, ours as Uint8Array, fromHex(p.preimage), script),
    );
    const txid = tx.getId();
    this.#published.add(txid);
    const res = await this.#o.broadcaster.publish(tx, `second-level ${p.res.outpoint}`);
    if (res.kind === 'accepted' || res.kind === 'already-in-mempool' || res.kind === 'already-confirmed') return;
    throw new CourtError('COURT_E_CHAIN_RPC', `second-level ${txid} refused: ${res.kind} (${res.reason})`, { rpcCode: res.rpcCode });
  }

  #tweak(k: KeyFact): { singleTweak?: Uint8Array } {
    if (k.tweakPoint === undefined) return {};
    return { singleTweak: singleTweak(fromHex(k.tweakPoint), this.#o.keyring.publicKey({ family: k.family, index: k.index })) };
  }
}

/** Effects executed inside the step's transaction (and, for a learned preimage, routed after it). */
const IN_TX: ReadonlySet<ResolverEffect['kind']> = new Set(['Report', 'NotifyNode', 'LearnedPreimage']);

function splitOutpoint(op: string): [string, number] {
  const i = op.lastIndexOf(':');
  return [op.slice(0, i), Number(op.slice(i + 1))];
}

/** The fee the sweeper reported for a value's outputs (written with their reports). */
function feesOf(v: ResolverBase): ReadonlyMap<string, string> | undefined {
  const fee = (v as { feeSat?: string }).feeSat;
  if (fee === undefined) return undefined;
  return new Map([[v.outpoint, fee]]);
}
