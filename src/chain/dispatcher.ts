/**
 * The block dispatcher: the one component that follows the node's best chain (style principle 8).
 *
 * It polls the node's tip, fetches each new block once, and delivers BlockConnected strictly in height order to
 * every subscriber, awaiting each subscriber before the next one and the next block. A fork is detected by
 * parent hash: the orphaned blocks are delivered as BlockDisconnected newest first, then the new branch's
 * blocks as BlockConnected.
 *
 * Durability: after every subscriber has handled an event, the dispatcher records it in its BlockLog (the last
 * BLOCK_LOG_RETAIN connected refs). Delivery is therefore at-least-once across a crash: a restart resumes at the
 * persisted tip and may redeliver the event that was in flight. On restart it compares the persisted hashes with
 * the node's, so a reorg that happened while it was down is delivered as disconnects too.
 *
 * Failure: a node error (COURT_E_CHAIN_*) during a poll is logged and retried after an exponential back-off; a
 * subscriber that throws gets the same event again after a back-off (subscribers are idempotent). Nothing here
 * rejects unhandled or ends the process. A reorg deeper than the log stalls the dispatcher with an error logged
 * on every attempt: it cannot be unwound safely and needs an operator.
 */
import { CourtError } from '../util/errors.js';
import { errFields, silentLogger, type Logger } from '../util/logger.js';
import { BLOCK_LOG_RETAIN } from './block-log.js';
import type { BlockHash, BlockLog, BlockRef, BlockSubscriber, ChainBlock, ChainEvent, ChainSource } from './ports.js';
import { SerialQueue } from './serial-queue.js';
import { backoffDelay, PollLoop, realSleep, type Backoff, type Sleep } from './timing.js';

/** Options of BlockDispatcher. */
export interface DispatcherOptions {
  readonly source: ChainSource;
  readonly blockLog: BlockLog;
  /** Tip polling interval in ms: 1000 by default, 100 suits regtest. */
  readonly pollMs?: number;
  /**
   * First height to deliver when the block log is empty (a first start). Default: the node's tip at the first
   * poll, so a new installation starts at the current block instead of replaying history. Nothing is delivered
   * while the node is below it.
   */
  readonly startHeight?: number;
  /** Back-off after a failed poll or subscriber (default 500 ms doubling up to 30 s). */
  readonly backoff?: Backoff;
  readonly sleep?: Sleep;
  readonly logger?: Logger;
}

/** Default back-off of the dispatcher's retry loops. */
export const DISPATCHER_BACKOFF: Backoff = Object.freeze({ baseDelayMs: 500, maxDelayMs: 30_000 });

/** Safety bound on fork-resolution rounds in one poll (each round re-reads the node's tip). */
const MAX_ROUNDS_PER_POLL = 8;

type Pass = 'done' | 'fork';

/** Follows the node's best chain and delivers ordered block events. See the module comment. */
export class BlockDispatcher {
  private readonly source: ChainSource;
  private readonly blockLog: BlockLog;
  private readonly pollMs: number;
  private readonly startHeight: number | undefined;
  private readonly backoff: Backoff;
  private readonly sleep: Sleep;
  private readonly logger: Logger;
  private readonly subscribers: BlockSubscriber[] = [];
  private readonly queue = new SerialQueue();
  /** Delivered refs, ascending and contiguous, mirroring the block log. */
  private refs: BlockRef[];
  /** Blocks fetched during a poll but not yet delivered (a fork found mid-way): never fetched twice. */
  private readonly fetched = new Map<BlockHash, ChainBlock>();
  private readonly loop: PollLoop;

  constructor(opts: DispatcherOptions) {
    this.source = opts.source;
    this.blockLog = opts.blockLog;
    this.pollMs = opts.pollMs ?? 1000;
    this.startHeight = opts.startHeight;
    this.backoff = opts.backoff ?? DISPATCHER_BACKOFF;
    this.sleep = opts.sleep ?? realSleep;
    this.logger = opts.logger ?? silentLogger;
    this.loop = new PollLoop({
      tick: () => this.poll(),
      pollMs: this.pollMs,
      backoff: this.backoff,
      sleep: this.sleep,
      onFailure: (err, failures, retryInMs) => {
        const fields = { err: errFields(err), failures, retryInMs };
        if (err instanceof CourtError && err.code.startsWith('COURT_E_CHAIN_')) {
          this.logger.warn(fields, 'block dispatcher: node unavailable, backing off');
        } else {
          this.logger.error(fields, 'block dispatcher: poll failed, backing off');
        }
      },
    });
    this.refs = opts.blockLog.load();
    for (let i = 1; i < this.refs.length; i++) {
      if ((this.refs[i] as BlockRef).height !== (this.refs[i - 1] as BlockRef).height + 1) {
        throw new Error('block log is not contiguous');
      }
    }
  }

  /** Adds a subscriber after those already registered (delivery order = registration order). Returns an unsubscribe. */
  subscribe(subscriber: BlockSubscriber): () => void {
    this.subscribers.push(subscriber);
    return () => {
      const i = this.subscribers.indexOf(subscriber);
      if (i >= 0) this.subscribers.splice(i, 1);
    };
  }

  /** The last block delivered to every subscriber (the persisted tip), or undefined before the first. */
  tip(): BlockRef | undefined {
    return this.refs[this.refs.length - 1];
  }

  /** Hash of the delivered block at `height` if it is within the retained refs. */
  hashAt(height: number): BlockHash | undefined {
    const first = this.refs[0];
    if (first === undefined) return undefined;
    return this.refs[height - first.height]?.hash;
  }

  /**
   * One catch-up pass: brings the subscribers to the node's current tip. Serialised with the polling loop.
   * Rejects with the node's CourtError if the node fails mid-way (what was delivered stays delivered).
   */
  poll(): Promise<void> {
    return this.queue.run(() => this.syncOnce());
  }

  /** Starts polling every `pollMs`. Idempotent. */
  start(): void {
    this.loop.start();
  }

  /**
   * Stops polling: ends any wait at once, lets a subscriber call in progress finish, and resolves when the loop
   * has exited. Leaves no timer. Idempotent.
   */
  stop(): Promise<void> {
    return this.loop.stop();
  }

  private get stopped(): boolean {
    return this.loop.signal.aborted;
  }

  private async syncOnce(): Promise<void> {
    try {
      for (let round = 0; round < MAX_ROUNDS_PER_POLL && !this.stopped; round++) {
        const nodeTip = await this.source.getTip();
        const ours = this.tip();
        if (ours === undefined) {
          const from = this.startHeight ?? nodeTip.height;
          if (from > nodeTip.height) return; // the node has not reached the start height yet
          if ((await this.connectRange(from, nodeTip)) === 'done') return;
          continue;
        }
        if (ours.hash === nodeTip.hash) return;
        if (nodeTip.height > ours.height && (await this.connectRange(ours.height + 1, nodeTip)) === 'done') return;
        const fork = await this.findForkPoint(nodeTip);
        while ((this.tip() as BlockRef).height > fork.height) await this.disconnectTip();
        if ((await this.connectRange(fork.height + 1, nodeTip)) === 'done') return;
      }
    } finally {
      this.fetched.clear();
    }
  }

  /** Connects heights from..nodeTip.height in order; stops with 'fork' at a block whose parent is not our tip. */
  private async connectRange(from: number, nodeTip: BlockRef): Promise<Pass> {
    for (let h = from; h <= nodeTip.height; h++) {
      if (this.stopped) return 'done';
      const hash = h === nodeTip.height ? nodeTip.hash : await this.source.getBlockHash(h);
      const block = this.fetched.get(hash) ?? (await this.source.getBlock(hash));
      const ours = this.tip();
      if (ours !== undefined && block.prevHash !== ours.hash) {
        this.fetched.set(hash, block);
        return 'fork';
      }
      if (block.height !== h || block.hash !== hash) {
        throw new CourtError('COURT_E_CHAIN_BAD_REPLY', `block ${hash} is not at height ${h}`, { height: h });
      }
      this.fetched.delete(hash);
      await this.deliver({ type: 'BlockConnected', height: h, hash, block });
      this.blockLog.append({ height: h, hash });
      this.refs.push({ height: h, hash });
      if (this.refs.length > BLOCK_LOG_RETAIN) this.refs.shift();
    }
    return 'done';
  }

  /** The newest delivered block that is still on the node's chain. */
  private async findForkPoint(nodeTip: BlockRef): Promise<BlockRef> {
    for (let i = this.refs.length - 1; i >= 0; i--) {
      const ref = this.refs[i] as BlockRef;
      if (ref.height > nodeTip.height) continue;
      const nodeHash = ref.height === nodeTip.height ? nodeTip.hash : await this.source.getBlockHash(ref.height);
      if (nodeHash === ref.hash) return ref;
    }
    throw new CourtError(
      'COURT_E_CHAIN_DEEP_REORG',
      `reorg deeper than the block log (${this.refs.length} blocks from height ${this.refs[0]?.height}): ` +
        'cannot unwind safely; operator attention needed',
      { retained: this.refs.length, fromHeight: this.refs[0]?.height ?? -1 },
    );
  }

  private async disconnectTip(): Promise<void> {
    const ref = this.tip() as BlockRef;
    await this.deliver({ type: 'BlockDisconnected', height: ref.height, hash: ref.hash });
    this.blockLog.remove(ref);
    this.refs.pop();
  }

  /** Delivers one event to every subscriber in order; a failing subscriber gets it again after a back-off. */
  private async deliver(event: ChainEvent): Promise<void> {
    for (const subscriber of this.subscribers.slice()) {
      for (let attempt = 1; ; attempt++) {
        try {
          await subscriber(event);
          break;
        } catch (err) {
          if (this.loop.signal.aborted) {
            throw new CourtError('COURT_E_CHAIN_STOPPED', 'dispatcher stopped while a subscriber was failing');
          }
          const wait = backoffDelay(attempt, this.backoff);
          this.logger.error(
            { err: errFields(err), event: event.type, height: event.height, hash: event.hash, attempt, retryInMs: wait },
            'block dispatcher: subscriber failed, redelivering after back-off',
          );
          await this.sleep(wait, this.loop.signal);
          if (this.loop.signal.aborted) {
            throw new CourtError('COURT_E_CHAIN_STOPPED', 'dispatcher stopped while a subscriber was failing');
          }
        }
      }
    }
  }
}
