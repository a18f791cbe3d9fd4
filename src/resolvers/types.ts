/**
 * The contract resolvers' common contract (ARCHITECTURE.md "ContractResolvers"; contractcourt-spec.md section 3).
 *
 * A resolver is a plain JSON value: tagged by `kind`, versioned by `v`, carrying everything it needs to resume
 * (the output with its script and key locator, the HTLC and its deadline, the stage and what the stage saw). Its
 * kind's pure `step(resolver, event, env)` returns the next value, optionally a successor that replaces it (a
 * contest becoming a timeout / success resolver), and effects as data. Nothing here does I/O; the runner
 * (runner.ts) persists the result in one SQLite transaction and then executes the effects.
 *
 * Effects come in two groups:
 *   - written in the step's own transaction (durable with the state, so they happen exactly once): Report
 *     (resolution_report upsert) and NotifyNode (a node_event with a stable key, inserted only once);
 *   - executed after the commit, each idempotent, and re-derived from the value at every launch (so nothing is
 *     lost by a crash after the commit): OfferSweep (upsert), CancelSweep, Broadcast (the same signed tx),
 *     WatchSpend / Unwatch, LearnedPreimage (stored by hash, routed), ResolverFinished (ignored if repeated).
 *
 * Adding a kind = one file exporting a `ResolverKindDef` + one entry in registry.ts (see breach, built apart).
 *
 * Conventions: amounts are decimal strings of sat inside values and effects (JSON), heights numbers, hex
 * lower-case, outpoints "txid:vout". A preimage travels in a value only once learned (never logged).
 */
import type { HtlcResolution, KeyFact, OutputResolution } from '../arbitrator/types.js';


/** Resolver kinds (codes: RESOLVER_KIND in src/store/codes.ts). */
export type ResolverKind = 'htlcTimeout' | 'htlcSuccess' | 'htlcOutgoingContest' | 'htlcIncomingContest' | 'commitSweep' | 'breach' | 'anchor';

/**
 * The format of resolver values written by this module (the arbitrator's initial records are v 1). v 3: HTLC
 * resolvers keep their output under `output` like every other kind (v 2 named it `res`; read and upgraded).
 */
export const RESOLVER_FORMAT = 3;

/** Confirmations after which a spend is final: a disconnect before that rolls the stage back. */
export const FINAL_DEPTH = 6;

/** Channel commitment formats. */
export type Format = 'static_remotekey' | 'anchors';

/** A spend of a resolver's output as the stage saw it. */
export interface SpendSeen {
  readonly txid: string;
  readonly height: number;
  readonly inputIndex: number;
  /** Our own transaction (a sweep of the sweeper, or a transaction we broadcast). */
  readonly ours: boolean;
}

/** The channel and close an output belongs to: in the arbitrator's record and in every resolver value. */
export interface CloseFacts {
  readonly chanPoint: string;
  /** The output it resolves (the commitment output; a successor keeps its predecessor's outpoint). */
  readonly outpoint: string;
  readonly format: Format;
  readonly closeType: string;
  readonly closeTxid: string;
  readonly closeHeight: number;
}

/** Fields every resolver value has. */
export interface ResolverBase extends CloseFacts {
  readonly v: typeof RESOLVER_FORMAT;
  readonly kind: ResolverKind;
  /** Kind-specific stage name (shown to operators). */
  readonly stage: string;
}

/** The sweep input a resolver offers, before keys are resolved (the runner turns KeyFact into a KeySpec). */
export interface SweepOffer {
  readonly outpoint: string;
  readonly valueSat: string;
  readonly scriptPubKey: string;
  readonly witness: OfferWitness;
  readonly sequence?: number;
  readonly locktime?: number;
  readonly matureHeight?: number;
  readonly budgetSat: string;
  readonly deadlineHeight?: number;
  readonly exclusiveGroup?: string;
  readonly pinnable: boolean;
  readonly pairedOutput?: { readonly valueSat: string; readonly script: string };
  /** Owner of the sweep input; default `resolver:<outpoint>` (stable across successors and re-created rows). */
  readonly owner?: string;
  /** Swept in a transaction of its own (the justice split; SweepInputSpec.alone). */
  readonly alone?: boolean;
}

/** SweepInputSpec's WitnessSpec with a KeyFact (toRemoteP2wpkh's pubkey is the key's public key). */
export type OfferWitness =
  | { readonly kind: 'toLocalDelayed' | 'toRemoteAnchor' | 'anchorByKey' | 'htlcTimeoutDirect'; readonly key: KeyFact; readonly script: string }
  | { readonly kind: 'toRemoteP2wpkh'; readonly key: KeyFact }
  | { readonly kind: 'htlcSuccessDirect'; readonly key: KeyFact; readonly script: string; readonly preimage: string }
  | { readonly kind: 'htlcSecondLevel'; readonly key: KeyFact; readonly script: string; readonly remoteSig: string; readonly preimage?: string }
  /** breach (justice): the key's `revokedNumber` names the per-commitment secret the runner reads from the revocation store. */
  | { readonly kind: 'toLocalRevoked'; readonly key: KeyFact; readonly script: string }
  | { readonly kind: 'htlcRevoked'; readonly key: KeyFact; readonly script: string; readonly revocationPubkey: string };

/** A pre-signed second-level transaction of our commitment (static_remotekey: fee included), to sign and publish. */
export interface PresignedSpend {
  readonly res: HtlcResolution;
  /** HTLC-success: the preimage. */
  readonly preimage?: string;
}

/** A report row (resolution_report): one per output and stage. */
export interface ReportRow {
  readonly outpoint: string;
  readonly stage: 1 | 2;
  readonly type: 'anchor' | 'incomingHtlc' | 'outgoingHtlc' | 'commit' | 'breach';
  readonly outcome: 'claimed' | 'unclaimed' | 'abandoned' | 'timeout' | 'firstStage';
  readonly amountSat: string;
  readonly txid?: string;
  readonly height?: number;
}

/** Node event names the resolvers emit. */
export type ResolverNodeEvent = 'htlcSettledOnChain' | 'htlcFailedOnChain' | 'justiceConfirmed';

export type ResolverEffect =
  | { readonly kind: 'OfferSweep'; readonly input: SweepOffer }
  | { readonly kind: 'CancelSweep'; readonly outpoint: string }
  | { readonly kind: 'Broadcast'; readonly spend: PresignedSpend }
  /** Confirmed spends (and, with `mempool`, unconfirmed ones) of `outpoint` come back as events. */
  | { readonly kind: 'WatchSpend'; readonly outpoint: string; readonly heightHint: number; readonly mempool: boolean }
  | { readonly kind: 'Unwatch'; readonly outpoint: string }
  /** In the step's transaction. */
  | { readonly kind: 'Report'; readonly report: ReportRow }
  /** In the step's transaction; `key` makes it exactly-once (a second emission with the same key adds nothing). */
  | { readonly kind: 'NotifyNode'; readonly key: string; readonly event: ResolverNodeEvent; readonly payload: Readonly<Record<string, unknown>> }
  /** A preimage seen on chain or in the mempool: stored, routed to every channel and resolver waiting on its hash. */
  | { readonly kind: 'LearnedPreimage'; readonly preimage: string; readonly source: 'chain' | 'mempool' }
  | { readonly kind: 'ResolverFinished' };

export type ResolverEvent =
  /** Start or restart: re-emit the stage's idempotent effects. `preimage`: known for the HTLC's payment hash. */
  | { readonly kind: 'Launch'; readonly height: number; readonly preimage?: string }
  /** A block at the resolver's wake height or later. */
  | { readonly kind: 'Block'; readonly height: number }
  /** A confirmed spend of a watched outpoint. */
  | {
      readonly kind: 'Spend';
      readonly outpoint: string;
      readonly txid: string;
      readonly height: number;
      readonly inputIndex: number;
      readonly witness: readonly string[];
      readonly outputs: readonly { readonly valueSat: string; readonly script: string }[];
      readonly ours: boolean;
    }
  | { readonly kind: 'SpendUndone'; readonly outpoint: string; readonly txid: string; readonly height: number }
  /** An unconfirmed spend (mempool): only its witness matters (a preimage). */
  | { readonly kind: 'MempoolSpend'; readonly outpoint: string; readonly txid: string; readonly witness: readonly string[] }
  /** A preimage for `paymentHash` became known. */
  | { readonly kind: 'Preimage'; readonly paymentHash: string; readonly preimage: string }
  /** The sweeper's result for an input this resolver offered. */
  | { readonly kind: 'SweepResult'; readonly outpoint: string; readonly result: 'swept' | 'spentByOther' | 'failed'; readonly txid?: string; readonly feeSat?: string; readonly reason?: string };

/** Budget shares, in basis points of the value at stake (contractcourt-spec.md 3.2). */
export interface Budgets {
  /** HTLC outputs with a deadline (timeout / success, direct or second level). Default 5000 (half). */
  readonly htlcBps: number;
  /** Second-level CSV outputs and commitment outputs (no deadline). Default 5000. */
  readonly noDeadlineBps: number;
  /** Blocks a no-deadline input gets as its far deadline. Default 1008. */
  readonly noDeadlineBlocks: number;
}

export const DEFAULT_BUDGETS: Budgets = Object.freeze({ htlcBps: 5000, noDeadlineBps: 5000, noDeadlineBlocks: 1008 });

/** What a step may read besides the value and the event (no clock, no I/O). */
export interface ResolverEnv {
  readonly height: number;
  readonly budgets: Budgets;
  /** The current fee estimate, sat/kw (the anchor resolver's "does it pay for itself"). */
  readonly feeRatePerKw: bigint;
}

/** A step's answer. */
export interface StepResult<R extends ResolverBase = ResolverBase> {
  readonly next: R;
  /** Replaces `next` in the same transaction (next is then stored resolved, with the successor naming it). */
  readonly successor?: ResolverBase;
  readonly effects: readonly ResolverEffect[];
  /** The resolver is done (also emitted as a ResolverFinished effect). */
  readonly finished?: boolean;
}

/** One output's stage, money and maturity: what the API's channel view reads (src/api/views.ts ResolverOutputView). */
export interface OutputState {
  readonly outpoint: string;
  readonly kind: string;
  readonly stage: string;
  readonly amountSat: bigint;
  readonly limboSat: bigint;
  readonly recoveredSat: bigint;
  readonly maturityHeight?: number;
  readonly blocksTilMaturity?: number;
  /** Why it waits, or its last effect's failure (and the next retry). */
  readonly reason?: string;
}

/** One output as the live view shows it (lnd's ContractReport). */
export interface OutputView extends OutputState {
  readonly chanPoint: string;
  readonly kind: ResolverKind;
  readonly type: ReportRow['type'];
  /** 1 before, 2 after a second-level transaction confirmed (HTLCs on our commitment). */
  readonly htlcStage: 1 | 2;
}

/** The definition of one resolver kind. */
export interface ResolverKindDef<R extends ResolverBase = ResolverBase> {
  readonly kind: ResolverKind;
  /** Builds the first value from the arbitrator's record (resolver table, state format v 1). */
  init(record: InitRecord): R;
  step(r: R, event: ResolverEvent, env: ResolverEnv): StepResult;
  /** The next height at which a block means something to it (undefined: only other events wake it). */
  wake(r: R): number | undefined;
  /** Payment hash it waits on for a preimage (incoming contest), if any. */
  waitsOn?(r: R): string | undefined;
  view(r: R, height: number): Omit<OutputView, 'chanPoint' | 'outpoint' | 'kind'>;
}

/** The arbitrator's resolver record (src/arbitrator/channel/records.ts) as the runner hands it to `init`. */
export interface InitRecord extends CloseFacts {
  /** OutputResolution, HtlcResolution or BreachResolution as JSON. */
  readonly output: object;
  readonly deadline: number | null;
}

export type { HtlcResolution, KeyFact, OutputResolution };
