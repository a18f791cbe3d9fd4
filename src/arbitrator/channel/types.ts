/**
 * The ChannelArbitrator's closed unions: states, events and effects (style.md principle 1), with their persisted
 * codes (src/store/codes.ts) and versioned JSON codecs. Every value is plain JSON, so the codec only adds and
 * checks the format version `v`.
 *
 *   ChannelUpdated / PreimageLearned / blocks below the cutoff
 *                 ┌──────┐
 *                 ▼      │
 *   ┌─────────── Default ┘ ── coop CloseConfirmed ───────────────────────────────────────┐
 *   │               │ ForceCloseRequested, or a block, snapshot or preimage at a cutoff   │
 *   │               ▼   (dust failed back, commitment durable before it is published)    │
 *   │         BroadcastCommit                                                            │
 *   │               │ CommitmentPublished                                                │
 *   │               ▼                                                                    │
 *   │      CommitmentBroadcasted                                                         │
 *   │               │                                                                    │
 *   └── CloseConfirmed (local | remote | remotePending | breach | future) ──┐             │
 *                   ▼                                                      │             │
 *            ContractClosed  (close type and resolutions durable)  ◄───────┘             │
 *                   │ Persisted (its pulse: also taken on restart, with the stored close type)
 *                   ▼   (resolver rows inserted in the same transaction; dangling/dust failed back)
 *          WaitingFullResolution ── last ResolverFinished ──► FullyResolved ◄────────────┘
 *
 *   Default / BroadcastCommit / CommitmentBroadcasted ── CloseConfirmed that courtd cannot resolve alone ──►
 *   CloseUnresolved (our commitment without its snapshot, or an unrecognised spend: reported with the value at
 *   risk, our static to_remote claimed meanwhile) ── the commitment's snapshot (ChannelUpdated) or an operator's
 *   ReclassifyRequested, classified again ──► ContractClosed; a reorg of its spend goes back to the open state
 *
 *   Any state ── an impossible event (see transition.ts) ──► Error (reason kept, visible to operators)
 *
 * A funding spend seen in a block is kept in the pre-close states (`spend`) until it has its confirmation depth;
 * the ResolveClose effect then classifies it and comes back as CloseConfirmed. A reorg that removes the spend
 * clears it. A reorg that removes the close's block after ContractClosed (ContractClosed, WaitingFullResolution)
 * takes the channel back to BroadcastCommit (our commitment had confirmed: publish it again) or Default, its
 * resolver rows superseded in the same step; the new chain's spend is then classified afresh.
 */
import type { CodedCodec, Json, JsonObject } from '../../fsm/index.js';
import { ARBITRATOR_EFFECT, ARBITRATOR_EVENT, ARBITRATOR_STATE } from '../../store/codes.js';
import { CourtError } from '../../util/errors.js';
import type { ChainDeltas } from '../actions.js';
import type { CloseResolutions, CloseType, CommitSetFacts, HtlcFact, OutputResolution } from '../types.js';

/** What the arbitrator knows of the open channel: taken in with each accepted snapshot (ChannelUpdated). */
export interface ChannelFacts {
  /** channel_snapshot.seq these facts come from. */
  readonly snapshotSeq: number;
  /** Our latest commitment's number (the one we would broadcast). */
  readonly localNumber: number;
  readonly commitSet: CommitSetFacts;
  /** Payment hashes (hex, sorted) of HTLCs on the channel whose preimage we hold (from the snapshot, or PreimageLearned). */
  readonly preimages: readonly string[];
  /** Confirmations a close needs before we act (closeConfirmationDepth of the capacity). */
  readonly closeDepth: number;
  /** The go-to-chain deltas in force when the facts were taken (kept so a replay decides the same). */
  readonly deltas: ChainDeltas;
}

/** A transaction seen spending the funding output, waiting for its confirmation depth. */
export interface SpendSeen {
  readonly txid: string;
  readonly txHex: string;
  readonly height: number;
  readonly depth: number;
  /** Set once the ResolveClose effect was emitted for it. */
  readonly resolving?: true;
  /** Times a revocation arriving meanwhile had it classified again. */
  readonly rechecks?: number;
}

/** The confirmed close. */
export interface CloseInfo {
  readonly type: CloseType;
  readonly txid: string;
  readonly height: number;
  readonly commitmentNumber?: number;
  /**
   * The closing transaction, kept for a close of their commitment that a revocation arriving later can still turn
   * into a breach (classified again from it).
   */
  readonly txHex?: string;
}

/** A confirmed funding spend courtd cannot resolve on its own (ResolveClose's answer when it cannot classify). */
export interface UnresolvedClose {
  /** ourCommitment: a commitment of ours other than the one courtd holds (it needs that commitment's snapshot). */
  readonly why: 'ourCommitment' | 'unrecognised';
  readonly reason: string;
  /** The commitment number from the state hint, if the spend has one. */
  readonly commitmentNumber?: number;
  /** Up to this much of ours (sat, decimal) is on the spend and not yet claimable. */
  readonly valueAtRiskSat: string;
  /** Outputs we can claim meanwhile (our static to_remote). */
  readonly claims: readonly OutputResolution[];
  /**
   * The commitment number whose snapshot the node should send: our own commitment, or a commitment-shaped spend
   * whose side its outputs do not tell (the peer's balance below dust: no to_remote of theirs on ours).
   */
  readonly snapshotWanted?: number;
}

/** The states in which the funding output is not (confirmed) spent yet. */
export type OpenArbState = Extract<ArbState, { kind: 'Default' | 'BroadcastCommit' | 'CommitmentBroadcasted' }>;

export type ArbState =
  | {
      readonly kind: 'Default';
      readonly facts?: ChannelFacts;
      readonly spend?: SpendSeen;
      /** Outgoing HTLCs already failed back by a close a reorg removed (never failed back twice). */
      readonly failed?: readonly number[];
    }
  | {
      readonly kind: 'BroadcastCommit';
      readonly trigger: 'chain' | 'user';
      readonly facts: ChannelFacts;
      /** Ids of the outgoing HTLCs already failed back (dust, before broadcast): never failed back twice. */
      readonly failed: readonly number[];
      readonly spend?: SpendSeen;
      readonly lastError?: string;
    }
  | { readonly kind: 'CommitmentBroadcasted'; readonly facts: ChannelFacts; readonly failed: readonly number[]; readonly commitTxid: string; readonly spend?: SpendSeen }
  | {
      readonly kind: 'ContractClosed';
      readonly facts?: ChannelFacts;
      readonly failed: readonly number[];
      readonly close: CloseInfo;
      readonly resolutions: CloseResolutions;
      /** Outpoints whose resolver rows exist already (claimed while the close was unresolved). */
      readonly claimed?: readonly string[];
      /** Of those, the ones whose resolver has not finished. */
      readonly unfinished?: readonly string[];
      /** Times a late revocation had the close classified again. */
      readonly rechecks?: number;
      /** We had gone on chain (our commitment published) when this close confirmed: a reorg of it goes back there. */
      readonly broadcasting?: true;
    }
  | {
      readonly kind: 'CloseUnresolved';
      /** The open state the spend interrupted (without the spend): facts, failed-back HTLCs, our broadcast. */
      readonly prior: OpenArbState;
      /** The confirmed spend. */
      readonly spend: SpendSeen;
      readonly unresolved: UnresolvedClose;
      /** Outpoints with resolver rows (claims), and those not yet finished. */
      readonly claimed: readonly string[];
      readonly unfinished: readonly string[];
      /** How many times the spend was classified (the first time, then each snapshot or operator retry). */
      readonly attempts: number;
      /**
       * The facts of the snapshot the node sent for the confirmed commitment (possibly older than `prior`'s): used
       * to classify and resolve this close only. `prior` keeps the newest facts, in case a reorg reopens the channel.
       */
      readonly answer?: ChannelFacts;
    }
  | {
      readonly kind: 'WaitingFullResolution';
      readonly close: CloseInfo;
      readonly unresolved: readonly string[];
      /** For a close of their commitment: what a late revocation's breach needs (the HTLCs to fail back). */
      readonly facts?: ChannelFacts;
      readonly failed?: readonly number[];
      /** Times a late revocation had the close classified again. */
      readonly rechecks?: number;
      /** We had gone on chain (our commitment published) when this close confirmed. */
      readonly broadcasting?: true;
    }
  | { readonly kind: 'FullyResolved'; readonly close: CloseInfo }
  | { readonly kind: 'Error'; readonly from: ArbStateKind; readonly reason: string; readonly close?: CloseInfo };

export type ArbStateKind = ArbState['kind'];

export type ArbEvent =
  /** A block, in height order; `spend` when it holds the transaction that spends the funding output. */
  | { readonly kind: 'BlockConnected'; readonly height: number; readonly hash: string; readonly spend?: { readonly txid: string; readonly txHex: string } }
  /**
   * A block removed by a reorg (newest first). `rollback` comes with the disconnect of a confirmed close's block
   * (the funding spend undone after ContractClosed): the channel's facts from its snapshot in force and the
   * outgoing HTLCs already failed back upstream, so that the channel can go back to watching its funding output.
   */
  | { readonly kind: 'BlockDisconnected'; readonly height: number; readonly hash: string; readonly rollback?: CloseRollback }
  /** The node sent a snapshot that passed its checks (its facts read the preimages held at that time). */
  | { readonly kind: 'ChannelUpdated'; readonly facts: ChannelFacts }
  /** An operator or the node asked for a force close. */
  | { readonly kind: 'ForceCloseRequested' }
  /** The funding spend reached its depth and was classified (ResolveClose's answer). */
  | { readonly kind: 'CloseConfirmed'; readonly txid: string; readonly height: number; readonly resolutions?: CloseResolutions; readonly unresolved?: UnresolvedClose }
  /** A resolver reached its end. */
  | { readonly kind: 'ResolverFinished'; readonly outpoint: string }
  /** An effect of ours threw; it stays pending and is retried. */
  | { readonly kind: 'EffectFailed'; readonly outboxId: number; readonly effect: string; readonly error: string }
  /** Our commitment was accepted by the node's mempool (BroadcastTx's answer). */
  | { readonly kind: 'CommitmentPublished'; readonly txid: string }
  /** The pulse of ContractClosed: the previous step is durable, continue (also taken on restart). */
  | { readonly kind: 'Persisted' }
  /**
   * An operator asks courtd to classify an unresolved close again (after fixing what it lacked), or, with
   * `accept`, to take an unrecognised spend as final (claims made meanwhile still finish).
   */
  | { readonly kind: 'ReclassifyRequested'; readonly accept?: true }
  /**
   * A preimage was stored (the node's POST, or another channel's spend) for a payment hash (hex) this channel
   * carries. Only the hash travels: the preimage stays in the preimage table.
   */
  | { readonly kind: 'PreimageLearned'; readonly paymentHash: string }
  /**
   * A revocation secret arrived for their commitment `number` after their close was classified: if that close was
   * commitment `number`, it is classified again (and becomes a breach).
   */
  | { readonly kind: 'RevocationAdded'; readonly number: number };

export type ArbEventKind = ArbEvent['kind'];

/** What a channel whose close was disconnected needs to be open again (see BlockDisconnected). */
export interface CloseRollback {
  readonly facts?: ChannelFacts;
  readonly failed: readonly number[];
}

/** Why an HTLC is failed back before any resolver exists. */
export type FailReason = 'dust' | 'dangling' | 'breach';

/** What courtd tells the node (node_event kinds). */
export type NodeEventName =
  | 'htlcSettledOnChain'
  | 'htlcFailedOnChain'
  | 'channelClosing'
  | 'breachDetected'
  | 'justiceConfirmed'
  | 'channelResolved'
  | 'closeUnresolved';

export type ArbEffect =
  /** Build, sign and publish our latest commitment (from the stored snapshot); answered by CommitmentPublished. */
  | { readonly kind: 'BroadcastTx'; readonly snapshotSeq: number; readonly commitmentNumber: number }
  | { readonly kind: 'NotifyNode'; readonly event: NodeEventName; readonly payload: JsonObject }
  /** Fail the upstream HTLC of an outgoing one that can no longer settle on chain. */
  | { readonly kind: 'FailHtlcsUpstream'; readonly htlc: HtlcFact; readonly reason: FailReason }
  /** Hand the channel's unresolved resolver rows to the resolver host. */
  | { readonly kind: 'LaunchResolvers' }
  /** Classify a funding spend that reached its depth; answered by CloseConfirmed. */
  | { readonly kind: 'ResolveClose'; readonly txid: string; readonly txHex: string; readonly height: number; readonly snapshotSeq?: number };

export type ArbEffectKind = ArbEffect['kind'];

/** Resolver kinds as the arbitrator names them (codes: RESOLVER_KIND). */
export type ResolverKindName = 'htlcTimeout' | 'htlcSuccess' | 'htlcOutgoingContest' | 'htlcIncomingContest' | 'commitSweep' | 'breach' | 'anchor';

/** A resolver row to insert with the step that enters WaitingFullResolution (Step.records). */
export interface ResolverRecord extends JsonObject {
  readonly v: 1;
  readonly kind: ResolverKindName;
  readonly outpoint: string;
  /** The resolver's own versioned state: everything it needs to resume (see records.ts). */
  readonly state: JsonObject & { readonly v: number };
}

/**
 * The durable record of a rollback (Step.records): the resolver rows of the close a reorg removed are marked
 * superseded in the rollback's own transaction.
 */
export interface SupersedeRecord extends JsonObject {
  readonly v: 1;
  readonly kind: 'supersedeResolvers';
  readonly closeTxid: string;
  readonly height: number;
}

export const STATE_CODE: Readonly<Record<ArbStateKind, number>> = ARBITRATOR_STATE;

export const EVENT_CODE: Readonly<Record<ArbEventKind, number>> = ARBITRATOR_EVENT;

export const EFFECT_CODE: Readonly<Record<ArbEffectKind, number>> = Object.freeze({
  BroadcastTx: ARBITRATOR_EFFECT.BroadcastTx,
  NotifyNode: ARBITRATOR_EFFECT.NotifyNode,
  FailHtlcsUpstream: ARBITRATOR_EFFECT.FailHtlcsUpstream,
  LaunchResolvers: ARBITRATOR_EFFECT.LaunchResolvers,
  ResolveClose: ARBITRATOR_EFFECT.ResolveClose,
});

/** Every state, event and effect kind (for sweeps and decoders). */
export const STATE_KINDS = Object.keys(STATE_CODE) as ArbStateKind[];
export const EVENT_KINDS = Object.keys(EVENT_CODE) as ArbEventKind[];
export const EFFECT_KINDS = Object.keys(EFFECT_CODE) as ArbEffectKind[];

/** A codec for a union of plain-JSON values tagged by `kind`: adds `v: 1` and checks it and the kind on decode. */
function taggedCodec<T extends { readonly kind: string }>(what: string, codes: Readonly<Record<string, number>>): CodedCodec<T> {
  return {
    encode: (value) => ({ v: 1, ...(value as unknown as JsonObject) }),
    decode: (json: Json) => {
      if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new CourtError('COURT_E_FSM_DECODE', `${what} is not an object`);
      const { v, ...rest } = json as JsonObject;
      if (v !== 1) throw new CourtError('COURT_E_FSM_DECODE', `${what} has unknown format version ${String(v)}`);
      if (typeof rest.kind !== 'string' || !Object.hasOwn(codes, rest.kind)) throw new CourtError('COURT_E_FSM_DECODE', `${what} has unknown kind ${String(rest.kind)}`);
      return rest as unknown as T;
    },
    code: (value) => codes[value.kind] as number,
  };
}

export const stateCodec = taggedCodec<ArbState>('arbitrator state', STATE_CODE);
export const eventCodec = taggedCodec<ArbEvent>('arbitrator event', EVENT_CODE);
export const effectCodec = taggedCodec<ArbEffect>('arbitrator effect', EFFECT_CODE);
