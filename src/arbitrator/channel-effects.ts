/**
 * The ChannelArbitrator's effect interpreter (style.md principle 3): the one place its effects touch ports.
 * Every case is idempotent in its observable outcome, because the runner may run an outbox row again:
 *   - BroadcastTx rebuilds our commitment from the stored snapshot and signs it deterministically (RFC6979), so
 *     a rerun publishes the same transaction; it is skipped once the channel is past broadcasting;
 *   - NotifyNode and FailHtlcsUpstream insert one node_event per outbox row (outbox_id is UNIQUE);
 *   - LaunchResolvers hands the channel to the resolver host, which must tolerate a second launch;
 *   - ResolveClose classifies the spend again from the same inputs.
 * BroadcastTx and ResolveClose return their result as an event: the runner processes it at once and marks the
 * effect done in that event's transaction, so a crash cannot keep the effect done and lose its answer.
 */
import { Transaction } from 'bitcoinjs-lib';
import type { Broadcaster } from '../chain/ports.js';
import type { EffectContext } from '../fsm/index.js';
import type { KeyRing } from '../keys/keyring.js';
import { SIGHASH_ALL } from '../keys/sighash.js';
import { encodeSig } from '../keys/signature.js';
import type { Signer } from '../keys/signer.js';
import { ANCHOR_OUTPUT_SAT } from '../ln/weights.js';
import { fundingWitness } from '../ln/witness.js';
import { NODE_EVENT_KIND, type NodeEventKindCode } from '../store/codes.js';
import type { Db } from '../store/db.js';
import { equal, toHex } from '../util/bytes.js';
import { reportTotals } from '../resolvers/store.js';
import type { SweeperPort } from '../sweep/types.js';
import { CourtError, assertNever } from '../util/errors.js';
import { classifyClose, type Classification } from '../watcher/classify.js';
import type { ArbEffect, ArbEvent, ArbState, NodeEventName, UnresolvedClose } from './channel/types.js';
import { closeResolutions, unresolvedClaims } from './resolutions.js';
import { loggedCommitment } from './revocation-log.js';
import { currentSnapshot, insertNodeEvent, loadRevocations, snapshotAt } from './store.js';
import { checkSnapshot, classifierView, ourBasepointsFrom, parseSnapshot, staticToRemoteSpk, type CheckedSnapshot } from './snapshot.js';

const NODE_EVENT_CODE: Readonly<Record<NodeEventName, NodeEventKindCode>> = {
  htlcSettledOnChain: NODE_EVENT_KIND.HtlcSettledOnChain,
  htlcFailedOnChain: NODE_EVENT_KIND.HtlcFailedOnChain,
  channelClosing: NODE_EVENT_KIND.ChannelClosing,
  breachDetected: NODE_EVENT_KIND.BreachDetected,
  justiceConfirmed: NODE_EVENT_KIND.JusticeConfirmed,
  channelResolved: NODE_EVENT_KIND.ChannelResolved,
  closeUnresolved: NODE_EVENT_KIND.CloseUnresolved,
};

/** Receives channels whose resolver rows are ready (the resolver runner of the next layer). */
export interface ResolverHost {
  /** Starts (or keeps running) the unresolved resolvers of `chanPoint`; called again after restarts. */
  launch(chanPoint: string): void;
  /**
   * A preimage was stored (ChainArbitrator.addPreimage): resolvers of closed channels waiting on its hash take it.
   * Must not wait for the resolvers (they may be the caller).
   */
  preimageLearned?(preimage: Uint8Array): void;
}

/** What the interpreter needs. */
export interface ChannelEffectsDeps {
  readonly db: Db;
  readonly keyring: KeyRing;
  readonly signer: Signer;
  /** `conflictedBy` (TxBroadcaster's): our commitment stops being rebroadcast once another close confirmed. */
  readonly broadcaster: Pick<Broadcaster, 'publish'> & { conflictedBy?(txid: string, conflictTxid: string, height: number): void };
  readonly resolvers: ResolverHost;
  /** The channel's current state (to skip a stale broadcast). */
  readonly stateOf: (chanPoint: string) => ArbState | undefined;
  /** The height effects are stamped with. */
  readonly height: () => number;
  /**
   * Where our published anchor commitment's CPFP goes (owner `cpfp:<chanPoint>`): every commitment of an anchor
   * channel we publish has its anchor offered, with or without HTLCs (lnd #8837), so a stuck close can be bumped.
   * The sweeper starts no child once the commitment confirmed (lnd #9191); the anchor resolver takes over then.
   */
  readonly sweeper?: Pick<SweeperPort, 'offer'>;
}

/** The interpreter, plus the snapshot loading it shares with the ChainArbitrator. */
export class ChannelEffects {
  readonly #d: ChannelEffectsDeps;

  constructor(deps: ChannelEffectsDeps) {
    this.#d = deps;
  }

  /** The checked snapshot `seq` of a channel (or its newest if seq is undefined). */
  checked(chanPoint: string, seq?: number): CheckedSnapshot {
    const json = seq === undefined ? currentSnapshot(this.#d.db, chanPoint)?.snapshot : snapshotAt(this.#d.db, chanPoint, seq);
    if (json === undefined) throw new CourtError('COURT_E_CHANNEL_UNKNOWN', `no snapshot ${seq ?? '(current)'} for ${chanPoint}`);
    const snap = parseSnapshot(JSON.parse(json));
    return checkSnapshot(
      snap,
      ourBasepointsFrom(snap, (loc) => this.#d.keyring.publicKey(loc)),
    );
  }

  /** Runs one effect of channel `ctx.machineId`. */
  readonly interpret = async (effect: ArbEffect, ctx: EffectContext): Promise<ArbEvent | void> => {
    const chanPoint = ctx.machineId;
    switch (effect.kind) {
      case 'BroadcastTx':
        return this.#broadcast(chanPoint, effect);
      case 'NotifyNode': {
        // channelResolved carries the totals of the resolution reports (written before the last ResolverFinished)
        const payload = effect.event === 'channelResolved' ? { ...effect.payload, totals: reportTotals(this.#d.db, chanPoint) } : effect.payload;
        insertNodeEvent(this.#d.db, chanPoint, NODE_EVENT_CODE[effect.event], JSON.stringify(payload), this.#d.height(), ctx.outboxId);
        return;
      }
      case 'FailHtlcsUpstream':
        insertNodeEvent(
          this.#d.db,
          chanPoint,
          NODE_EVENT_KIND.HtlcFailedOnChain,
          JSON.stringify({ v: 1, ...effect.htlc, reason: effect.reason, upstream: true }),
          this.#d.height(),
          ctx.outboxId,
        );
        return;
      case 'LaunchResolvers':
        this.#d.resolvers.launch(chanPoint);
        return;
      case 'ResolveClose':
        return this.#resolveClose(chanPoint, effect);
      default:
        return assertNever(effect, 'arbitrator effect');
    }
  };

  async #broadcast(chanPoint: string, e: Extract<ArbEffect, { kind: 'BroadcastTx' }>): Promise<ArbEvent | void> {
    const state = this.#d.stateOf(chanPoint);
    if (state === undefined || (state.kind !== 'BroadcastCommit' && state.kind !== 'CommitmentBroadcasted')) return; // closed since: nothing to publish
    const c = this.checked(chanPoint, e.snapshotSeq);
    const tx = await this.#signLocal(c, e.snapshotSeq, e.commitmentNumber);
    const res = await this.#d.broadcaster.publish(tx, `commitment ${chanPoint}`);
    if (res.kind === 'accepted' || res.kind === 'already-in-mempool' || res.kind === 'already-confirmed') {
      if (res.kind !== 'already-confirmed') this.#offerCpfp(chanPoint, c, tx);
      return { kind: 'CommitmentPublished', txid: res.txid };
    }
    throw new CourtError('COURT_E_CHAIN_RPC', `our commitment ${res.txid} was refused: ${res.kind} (${res.reason})`, { rpcCode: res.rpcCode });
  }

  /**
   * The CPFP offer of our published anchor commitment (see ChannelEffectsDeps.sweeper). Budget: 330 sat plus half
   * the value of the HTLCs the commitment protects (spec 3.2 / 1.8), or 1% of our balance when it carries none;
   * deadline: half-way to the earliest HTLC expiry, or 144 blocks. Re-offering is an upsert.
   */
  #offerCpfp(chanPoint: string, c: CheckedSnapshot, tx: Transaction): void {
    const sweeper = this.#d.sweeper;
    if (sweeper === undefined) return;
    if (c.format !== 'anchors') return;
    const anchor = c.local.outputs.find((o) => o.kind === 'local_anchor');
    if (anchor === undefined || anchor.witnessScript === undefined) return;
    const htlcs = c.snapshot.localCommitment.htlcs;
    const atStake = htlcs.reduce((a, h) => a + h.amountMsat / 1000n, 0n);
    const now = this.#d.height();
    const minExpiry = htlcs.reduce((m, h) => Math.min(m, h.cltvExpiry), Number.MAX_SAFE_INTEGER);
    const deadline = htlcs.length === 0 ? now + 144 : Math.max(now + 1, now + Math.floor((minExpiry - now) / 2));
    const budget = ANCHOR_OUTPUT_SAT + (htlcs.length === 0 ? c.snapshot.localCommitment.toLocalMsat / 100_000n : atStake / 2n);
    const outSum = tx.outs.reduce((a, o) => a + o.value, 0n);
    try {
      sweeper.offer({
        outpoint: `${tx.getId()}:${anchor.index}`,
        valueSat: anchor.amountSat,
        scriptPubKey: toHex(anchor.scriptPubKey),
        witness: { kind: 'anchorByKey', key: { locator: c.snapshot.local.keyLocators.funding }, script: toHex(anchor.witnessScript) },
        budgetSat: budget,
        deadlineHeight: deadline,
        exclusiveGroup: `anchor:${chanPoint}`,
        pinnable: false,
        parent: { txid: tx.getId(), weight: tx.weight(), feeSat: c.capacitySat - outSum },
        owner: `cpfp:${chanPoint}`,
        chanPoint,
      });
    } catch (err) {
      // the commitment is out; a refused CPFP offer must not undo that (the anchor resolver offers it again)
      if (!(err instanceof CourtError)) throw err;
    }
  }

  /** Our latest commitment with both funding signatures: what BroadcastTx publishes. */
  async signedLocalCommitment(chanPoint: string, snapshotSeq: number, commitmentNumber: number): Promise<Transaction> {
    return this.#signLocal(this.checked(chanPoint, snapshotSeq), snapshotSeq, commitmentNumber);
  }

  /** Signs our commitment of the checked snapshot `snapshotSeq` (one snapshot check per broadcast, shared with the CPFP offer). */
  async #signLocal(c: CheckedSnapshot, snapshotSeq: number, commitmentNumber: number): Promise<Transaction> {
    if (c.snapshot.localCommitment.number !== commitmentNumber) {
      throw new CourtError('COURT_E_SNAPSHOT_CONFLICT', `snapshot ${snapshotSeq} holds commitment ${c.snapshot.localCommitment.number}, not ${commitmentNumber}`);
    }
    const tx = Transaction.fromBuffer(c.local.tx.toBuffer());
    const [ours] = await this.#d.signer.signInputs([
      {
        key: { locator: c.snapshot.local.keyLocators.funding },
        tx,
        inputIndex: 0,
        scriptCode: c.local.fundingScript,
        valueSat: c.capacitySat,
        sighashType: SIGHASH_ALL,
      },
    ]);
    const theirs = encodeSig(c.snapshot.localCommitment.remoteSignature, SIGHASH_ALL);
    tx.setWitness(0, fundingWitness(c.local.fundingScript, c.ours.funding, ours as Uint8Array, c.snapshot.remote.fundingPubkey, theirs));
    return tx;
  }

  #resolveClose(chanPoint: string, e: Extract<ArbEffect, { kind: 'ResolveClose' }>): ArbEvent {
    const c = this.checked(chanPoint, e.snapshotSeq);
    const store = loadRevocations(this.#d.db, chanPoint);
    const tx = Transaction.fromHex(e.txHex);
    const cls = classifyClose(classifierView(c, store), tx);
    // Any other close makes our commitment invalid for good (a reorg that removes the close publishes it again).
    if (cls.kind !== 'local') this.#d.broadcaster.conflictedBy?.(c.local.tx.getId(), e.txid, e.height);
    if (cls.kind === 'unknown' || cls.kind === 'ourUnknown') {
      return { kind: 'CloseConfirmed', txid: e.txid, height: e.height, unresolved: unresolvedClose(c, cls, tx) };
    }
    // A breach: the revoked commitment's HTLC set from courtd's revocation log (every HTLC output gets its script).
    const logged = cls.kind === 'breach' ? loggedCommitment(this.#d.db, chanPoint, cls.number) : undefined;
    const log = logged === undefined ? {} : { revokedHtlcs: logged.htlcs };
    return { kind: 'CloseConfirmed', txid: e.txid, height: e.height, resolutions: closeResolutions(c, cls, tx, log) };
  };
}

/**
 * What an unresolved close puts at stake, for the operator: on a commitment of ours, every output but the peer's
 * to_remote and the anchors (our to_local and the HTLC outputs, some of which may be theirs to take); otherwise our
 * balance and the HTLCs of our latest commitment, less what we can claim anyway.
 */
function unresolvedClose(c: CheckedSnapshot, cls: Extract<Classification, { kind: 'unknown' | 'ourUnknown' }>, tx: Transaction): UnresolvedClose {
  const claims = unresolvedClaims(c, cls, tx);
  const number = cls.number === undefined ? {} : { commitmentNumber: cls.number };
  if (cls.kind === 'ourUnknown') {
    const theirs = staticToRemoteSpk(c.format, c.snapshot.remote.paymentBasepoint);
    const stake = tx.outs.filter((o) => !equal(o.script, theirs) && (c.format !== 'anchors' || o.value !== ANCHOR_OUTPUT_SAT)).reduce((a, o) => a + o.value, 0n);
    const age = cls.newer ? 'newer than' : 'older than';
    return {
      why: 'ourCommitment',
      reason: `our commitment ${cls.number} (${age} our snapshot's ${c.snapshot.localCommitment.number}) confirmed; its snapshot is needed to sweep it`,
      ...number,
      valueAtRiskSat: stake.toString(),
      claims,
      snapshotWanted: cls.number,
    };
  }
  const lc = c.snapshot.localCommitment;
  const owed = lc.toLocalMsat / 1000n + lc.htlcs.reduce((a, h) => a + h.amountMsat / 1000n, 0n);
  const claimable = claims.reduce((a, r) => a + BigInt(r.amountSat), 0n);
  // A commitment-shaped spend with no to_remote of either side may be ours (the peer's balance below dust): the
  // snapshot of that number tells.
  const wanted = cls.number !== undefined && cls.ourToRemoteVout === undefined ? { snapshotWanted: cls.number } : {};
  return { why: 'unrecognised', reason: cls.reason, ...number, valueAtRiskSat: (owed > claimable ? owed - claimable : 0n).toString(), claims, ...wanted };
}
