/**
 * Persisted codes: every enum the briefcase stores as an INTEGER, with its explicit, stable numbers (style.md
 * principle 14). migrations/0002_briefcase.sql documents the same numbers beside its columns, and
 * test/store/codes.test.ts pins them: a code is never renumbered or reused. New codes are appended.
 *
 * Where lnd has a persisted number for the same thing (arbitrator states, contract types, chain actions, report
 * types and outcomes) we keep lnd's, so logs read the same.
 */

/** The value type of a frozen code table. */
export type CodeOf<T> = T[keyof T];

/** ChannelArbitrator states (arbitrator_state.state; transition_log from/to of a channel). lnd's bytes. */
export const ARBITRATOR_STATE = Object.freeze({
  Default: 0,
  BroadcastCommit: 1,
  ContractClosed: 2,
  WaitingFullResolution: 3,
  FullyResolved: 4,
  Error: 5,
  CommitmentBroadcasted: 6,
  /** Ours: a funding spend courtd could not resolve alone (our commitment without its snapshot, an unrecognised spend). */
  CloseUnresolved: 7,
} as const);
export type ArbitratorStateCode = CodeOf<typeof ARBITRATOR_STATE>;

/** How a channel's funding output was spent (arbitrator_state.close_type): lnd's ClosureType 0..3, plus remotePending. */
export const CLOSE_TYPE = Object.freeze({
  Coop: 0,
  Local: 1,
  Remote: 2,
  Breach: 3,
  RemotePending: 4,
  /** An unrecognised spend an operator accepted as final (courtd's own). */
  Accepted: 5,
} as const);
export type CloseTypeCode = CodeOf<typeof CLOSE_TYPE>;

/** ChannelArbitrator event kinds (transition_log.event_kind of a channel). */
export const ARBITRATOR_EVENT = Object.freeze({
  BlockConnected: 0,
  BlockDisconnected: 1,
  ChannelUpdated: 2,
  ForceCloseRequested: 3,
  CloseConfirmed: 4,
  ResolverFinished: 5,
  EffectFailed: 6,
  CommitmentPublished: 7,
  Persisted: 8,
  ReclassifyRequested: 9,
  PreimageLearned: 10,
  RevocationAdded: 11,
} as const);
export type ArbitratorEventCode = CodeOf<typeof ARBITRATOR_EVENT>;

/** ChannelArbitrator effect kinds (outbox.kind of a channel's rows). */
export const ARBITRATOR_EFFECT = Object.freeze({
  BroadcastTx: 0,
  WatchSpend: 1,
  WatchConf: 2,
  OfferSweep: 3,
  NotifyNode: 4,
  LaunchResolvers: 5,
  FailHtlcsUpstream: 6,
  ResolveClose: 7,
} as const);
export type ArbitratorEffectCode = CodeOf<typeof ARBITRATOR_EFFECT>;

/** Chain actions for an HTLC (contractcourt-spec.md 1.7; lnd's ChainAction). HtlcClaim is legacy, never produced. */
export const CHAIN_ACTION = Object.freeze({
  NoAction: 0,
  HtlcTimeout: 1,
  HtlcClaim: 2,
  HtlcFailDust: 3,
  HtlcOutgoingWatch: 4,
  HtlcIncomingWatch: 5,
  HtlcIncomingDustFinal: 6,
  HtlcFailDangling: 7,
} as const);
export type ChainActionCode = CodeOf<typeof CHAIN_ACTION>;

/** Contract resolver kinds (resolver.kind): lnd's contract type bytes 0..5, plus anchor, which we persist. */
export const RESOLVER_KIND = Object.freeze({
  HtlcTimeout: 0,
  HtlcSuccess: 1,
  HtlcOutgoingContest: 2,
  HtlcIncomingContest: 3,
  CommitSweep: 4,
  Breach: 5,
  Anchor: 6,
} as const);
export type ResolverKindCode = CodeOf<typeof RESOLVER_KIND>;

/** What a resolution report is about (resolution_report.report_type): lnd's ResolverType 0..3, plus breach. */
export const REPORT_TYPE = Object.freeze({
  Anchor: 0,
  IncomingHtlc: 1,
  OutgoingHtlc: 2,
  Commit: 3,
  Breach: 4,
} as const);
export type ReportTypeCode = CodeOf<typeof REPORT_TYPE>;

/** How an output ended (resolution_report.outcome): lnd's ResolverOutcome. */
export const REPORT_OUTCOME = Object.freeze({
  Claimed: 0,
  Unclaimed: 1,
  Abandoned: 2,
  Timeout: 3,
  FirstStage: 4,
} as const);
export type ReportOutcomeCode = CodeOf<typeof REPORT_OUTCOME>;

/** Outbox row status (outbox.status). */
export const OUTBOX_STATUS = Object.freeze({
  Pending: 0,
  Done: 1,
} as const);
export type OutboxStatusCode = CodeOf<typeof OUTBOX_STATUS>;

/** Chain watch kinds (watch.kind). */
export const WATCH_KIND = Object.freeze({
  Spend: 0,
  Conf: 1,
} as const);
export type WatchKindCode = CodeOf<typeof WATCH_KIND>;

/** Events courtd owes the node (node_event.kind). */
export const NODE_EVENT_KIND = Object.freeze({
  HtlcSettledOnChain: 0,
  HtlcFailedOnChain: 1,
  ChannelClosing: 2,
  BreachDetected: 3,
  JusticeConfirmed: 4,
  ChannelResolved: 5,
  CloseUnresolved: 6,
} as const);
export type NodeEventKindCode = CodeOf<typeof NODE_EVENT_KIND>;

/** Channel commitment formats (channel.commitment_type). */
export const COMMITMENT_TYPE = Object.freeze({
  StaticRemoteKey: 0,
  Anchors: 1,
} as const);
export type CommitmentTypeCode = CodeOf<typeof COMMITMENT_TYPE>;

/** Who opened the channel (channel.initiator). */
export const INITIATOR = Object.freeze({
  Local: 0,
  Remote: 1,
} as const);
export type InitiatorCode = CodeOf<typeof INITIATOR>;

/** Where a preimage was learned (preimage.source). */
export const PREIMAGE_SOURCE = Object.freeze({
  Node: 0,
  Chain: 1,
  Mempool: 2,
} as const);
export type PreimageSourceCode = CodeOf<typeof PREIMAGE_SOURCE>;

/** The broadcaster's rows (broadcast_tx.status, migrations/0004). */
export const BROADCAST_STATUS = Object.freeze({
  Tracked: 0,
  Conflicted: 1,
} as const);
export type BroadcastStatusCode = CodeOf<typeof BROADCAST_STATUS>;

/** The fee wallet's UTXO states (wallet_utxo.state, migrations/0008; src/wallet, D18). */
export const WALLET_UTXO_STATE = Object.freeze({
  Confirmed: 0,
  Unconfirmed: 1,
  Leased: 2,
  Spent: 3,
} as const);
export type WalletUtxoStateCode = CodeOf<typeof WALLET_UTXO_STATE>;

/** What the fee wallet reports about a spend of its UTXOs (wallet_alert.kind, migrations/0008). */
export const WALLET_ALERT = Object.freeze({
  /** Spent by a transaction the wallet never signed (the seed is used elsewhere, or a key leaked). */
  SpentByOther: 0,
  /** Spent by a transaction signed for another lease than the one holding it (a stale sweep confirmed). */
  SpentByStaleSweep: 1,
} as const);
export type WalletAlertCode = CodeOf<typeof WALLET_ALERT>;
/** Sweeper input states (sweep_input.state, migrations/0009); the names are SweepInputState's. */
export const SWEEP_INPUT_STATE = Object.freeze({
  Pending: 0,
  Published: 1,
  Swept: 2,
  SpentByOther: 3,
  Excluded: 4,
  Failed: 5,
} as const);
export type SweepInputStateCode = CodeOf<typeof SWEEP_INPUT_STATE>;

/** Sweeper transaction versions (sweep_tx.status, migrations/0009). */
export const SWEEP_TX_STATUS = Object.freeze({
  /** The set's current transaction: published (or about to be), rebroadcast, bumped. */
  Live: 0,
  /** Replaced by a later version of its set (or refused by the node when it was to replace one). */
  Replaced: 1,
  /** In a block; final once 6 deep. */
  Confirmed: 2,
  /** 6 confirmations: the inputs are swept. */
  Final: 3,
  /** Can never confirm: an input was spent by another transaction, or the set was dissolved. */
  Dead: 4,
} as const);
export type SweepTxStatusCode = CodeOf<typeof SWEEP_TX_STATUS>;
