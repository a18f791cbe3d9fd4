/**
 * The HTTP API's wire types: one typebox schema per type gives the request validation (Ajv, unknown fields are
 * errors), the TypeScript types of the handlers and the OpenAPI document (docs/openapi.json). Response fields use
 * lncli's names and enum strings where the concept is the same (limbo_balance, maturity_height,
 * blocks_til_maturity, stage, resolution_type, outcome, close_type). Amounts are decimal strings of sat.
 *
 * This file is the contract with the `court` CLI and the simulator's node adapter: fields may be added, never
 * renamed or removed.
 */
import { Type, type Static } from 'typebox';
import { DecimalString, HexBytes, Outpoint } from '../arbitrator/snapshot/wire.js';

export { ChannelSnapshotSchema } from '../arbitrator/snapshot/wire.js';

const Sat = (description: string) => DecimalString(`${description} (sat, decimal string)`);
const Height = (description: string) => Type.Integer({ minimum: 0, description });
const Txid = (description: string) => Type.String({ pattern: '^[0-9a-f]{64}$', description });
const closed = { additionalProperties: false } as const;

// ---------------------------------------------------------------------------------------------------------------
// Errors

export const ErrorBody = Type.Object(
  {
    code: Type.String({ pattern: '^COURT_E_[A-Z0-9_]+$', description: 'stable error code (README "Error codes")' }),
    message: Type.String(),
    field: Type.Optional(Type.String({ description: 'the request field at fault, when known' })),
  },
  { $id: 'Error', ...closed },
);

// ---------------------------------------------------------------------------------------------------------------
// Parameters

export const ChanPointParams = Type.Object({ chanPoint: Outpoint('funding outpoint "txid:vout"') }, closed);

export const CloseTypeName = Type.Union(
  [
    Type.Literal('COOPERATIVE_CLOSE'),
    Type.Literal('LOCAL_FORCE_CLOSE'),
    Type.Literal('REMOTE_FORCE_CLOSE'),
    Type.Literal('BREACH_CLOSE'),
    Type.Literal('ABANDONED'),
  ],
  { description: "lncli's close types (their pending or future commitment: REMOTE_FORCE_CLOSE; an unrecognised spend an operator accepted: ABANDONED)" },
);

export const ClosedQuery = Type.Object({ close_type: Type.Optional(CloseTypeName) }, closed);

export const ChannelsQuery = Type.Object(
  { all: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')], { description: 'true: also fully resolved channels' })) },
  closed,
);

export const EventsQuery = Type.Object(
  { after: Type.Optional(Type.String({ pattern: '^(0|[1-9][0-9]{0,15})$', description: 'resume after this event id (Last-Event-ID wins when both are given)' })) },
  closed,
);

// ---------------------------------------------------------------------------------------------------------------
// Node feed (admin)

export const ChannelReplyBody = Type.Object(
  { chan_point: Type.String(), state: Type.String({ description: 'the arbitrator state after the update' }) },
  { $id: 'ChannelReply', ...closed },
);

export const RevocationBody = Type.Object(
  {
    number: Type.Integer({ minimum: 0, maximum: 2 ** 48 - 1, description: 'their commitment number this secret revokes' }),
    secret: HexBytes(32, 'per-commitment secret (hex)'),
  },
  closed,
);

export const RevocationReply = Type.Object({ chan_point: Type.String(), number: Type.Integer() }, closed);

export const PreimagesBody = Type.Object({ preimages: Type.Array(HexBytes(32, 'payment preimage (hex)'), { minItems: 1, maxItems: 1000 }) }, closed);

export const PreimagesReply = Type.Object(
  { routed: Type.Array(Type.Object({ payment_hash: Type.String(), channels: Type.Array(Type.String()) }, closed)) },
  closed,
);

export const ForceCloseBody = Type.Object({ dry_run: Type.Optional(Type.Boolean({ description: 'only compute the plan; nothing changes' })) }, closed);

export const PlanOutput = Type.Object(
  {
    kind: Type.String({ description: 'to_local | to_remote | local_anchor | remote_anchor | offered_htlc | received_htlc' }),
    amount_sat: Sat('output value'),
    maturity_height: Type.Optional(Height('first height our claim can confirm at, if the close confirms in the next block')),
    csv_delay: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  closed,
);

export const PlanHtlc = Type.Object(
  {
    htlc_id: Type.Integer({ minimum: 0 }),
    direction: Type.Union([Type.Literal('incoming'), Type.Literal('outgoing')]),
    amount_sat: Sat('HTLC value'),
    payment_hash: Type.String(),
    cltv_expiry: Height('CLTV expiry'),
    deadline_height: Height('height by which it must be resolved on chain (upstream expiry for a forward)'),
    blocks_left: Type.Integer({ description: 'deadline_height - current height (negative: already late)' }),
  },
  closed,
);

export const ForceClosePlan = Type.Object(
  {
    fee_sat: Sat('fee of our commitment'),
    feerate_sat_per_vbyte: Type.Number({ description: "the commitment's own fee rate" }),
    commitment_type: Type.String(),
    outputs: Type.Array(PlanOutput),
    htlcs: Type.Array(PlanHtlc),
    fail_back_now: Type.Array(
      Type.Object({ htlc_id: Type.Integer({ minimum: 0 }), amount_sat: Sat('HTLC value'), reason: Type.String({ description: 'dust' }) }, closed),
    ),
  },
  { $id: 'ForceClosePlan', ...closed },
);

export const ForceCloseReply = Type.Object(
  {
    chan_point: Type.String(),
    commitment_number: Type.Integer({ minimum: 0 }),
    closing_txid: Txid('txid of the commitment courtd publishes'),
    plan: ForceClosePlan,
    dry_run: Type.Boolean(),
    state: Type.String(),
  },
  closed,
);

export const CoopCloseBody = Type.Object({ tx_hex: Type.String({ pattern: '^([0-9a-fA-F]{2})+$', maxLength: 400_000, description: 'the fully signed closing transaction' }) }, closed);

export const CoopCloseReply = Type.Object({ chan_point: Type.String(), txid: Txid('closing txid'), accepted: Type.Boolean({ description: 'the node took it into its mempool' }) }, closed);

// ---------------------------------------------------------------------------------------------------------------
// Reads (readonly)

export const InfoReply = Type.Object(
  {
    version: Type.String(),
    network: Type.String(),
    block_height: Height('last block courtd processed'),
    block_hash: Type.String(),
    synced_to_chain: Type.Boolean(),
    node_height: Type.Optional(Height("the node's tip, when known")),
    num_active_channels: Type.Integer({ minimum: 0 }),
    num_pending_channels: Type.Integer({ minimum: 0 }),
    num_closed_channels: Type.Integer({ minimum: 0 }),
  },
  closed,
);

export const OutputView = Type.Object(
  {
    outpoint: Type.String(),
    resolver: Type.String({ description: 'resolver kind: commitSweep | anchor | htlcTimeout | htlcSuccess | htlcOutgoingContest | htlcIncomingContest | breach | pending' }),
    stage: Type.String({ description: 'the resolver stage (launched, ..., resolved)' }),
    amount_sat: Sat('output value'),
    limbo_sat: Sat('not yet recovered nor lost'),
    recovered_sat: Sat('swept to us'),
    maturity_height: Type.Optional(Height('first height our claim can confirm at')),
    blocks_til_maturity: Type.Optional(Type.Integer({ description: 'maturity_height - current height (0 once mature)' })),
    resolved: Type.Boolean(),
    reason: Type.Optional(Type.String({ description: 'why it waits, or its last failure (from the resolver runner)' })),
  },
  closed,
);

export const ChannelView = Type.Object(
  {
    chan_point: Type.String(),
    state: Type.String({ description: 'arbitrator state: Default, BroadcastCommit, CommitmentBroadcasted, ContractClosed, WaitingFullResolution, FullyResolved, Error, CloseUnresolved' }),
    close_type: Type.Optional(CloseTypeName),
    capacity_sat: Sat('capacity'),
    commitment_type: Type.String(),
    closing_txid: Type.Optional(Type.String()),
    close_height: Type.Optional(Height('height of the closing transaction')),
    limbo_balance: Sat('ours, on chain, not yet swept'),
    recovered_balance: Sat('ours, swept'),
    reason: Type.Optional(Type.String({ description: 'Error / CloseUnresolved: why' })),
    outputs: Type.Array(OutputView),
  },
  { $id: 'ChannelView', ...closed },
);

export const ChannelsReply = Type.Object({ channels: Type.Array(ChannelView) }, closed);

export const ResolutionView = Type.Object(
  {
    outpoint: Type.String(),
    resolution_type: Type.String({ description: 'ANCHOR | INCOMING_HTLC | OUTGOING_HTLC | COMMIT | BREACH' }),
    outcome: Type.String({ description: 'CLAIMED | UNCLAIMED | ABANDONED | FIRST_STAGE | TIMEOUT' }),
    amount_sat: Sat('amount'),
    sweep_txid: Type.Optional(Type.String()),
  },
  closed,
);

export const ClosedChannel = Type.Object(
  {
    chan_point: Type.String(),
    close_type: CloseTypeName,
    closing_txid: Type.String(),
    close_height: Height('height of the closing transaction'),
    settled_balance: Sat('claimed by us (CLAIMED and TIMEOUT outcomes)'),
    resolutions: Type.Array(ResolutionView),
  },
  closed,
);

export const ClosedReply = Type.Object({ channels: Type.Array(ClosedChannel) }, closed);

export const SweepView = Type.Object(
  {
    outpoint: Type.String(),
    chan_point: Type.Optional(Type.String()),
    witness_type: Type.String(),
    amount_sat: Sat('input value'),
    budget_sat: Sat('most fee this input may pay'),
    deadline_height: Type.Optional(Height('height the sweep must confirm by')),
    state: Type.String({ description: 'pending | published | swept | spentByOther | excluded | failed' }),
    fee_rate_sat_per_kw: Type.Optional(Type.String()),
    sat_per_vbyte: Type.Optional(Type.String()),
    sweep_txid: Type.Optional(Type.String()),
    broadcast_attempts: Type.Integer({ minimum: 0 }),
    reason: Type.Optional(Type.String({ description: 'why it waits (immature, budget cap, ...)' })),
  },
  closed,
);

export const SweepsReply = Type.Object({ sweeps: Type.Array(SweepView) }, closed);

export const HistoryReply = Type.Object(
  {
    transitions: Type.Array(
      Type.Object({ seq: Type.Integer({ minimum: 1 }), from: Type.String(), event: Type.String(), to: Type.String(), height: Height('height at the transition') }, closed),
    ),
  },
  closed,
);

export const BalanceReply = Type.Object(
  {
    confirmed_balance: Sat('confirmed, not leased'),
    unconfirmed_balance: Sat('unconfirmed, not leased'),
    locked_balance: Sat('leased to a sweep'),
    total_balance: Sat('all of the above'),
    reserve_required: Sat('anchor reserve for the anchor channels courtd holds'),
    reserve_shortfall: Sat('how much is missing from the reserve'),
  },
  closed,
);

export const AlertsQuery = Type.Object({ after: Type.Optional(Type.String({ pattern: '^(0|[1-9][0-9]{0,15})$', description: 'alerts after this id' })) }, closed);

export const AlertsReply = Type.Object(
  {
    alerts: Type.Array(
      Type.Object(
        {
          id: Type.Integer({ minimum: 1 }),
          kind: Type.String({ description: 'spentByOther (a spend the wallet never signed) | spentByStaleSweep' }),
          outpoint: Type.String(),
          lease_id: Type.Optional(Type.String()),
          txid: Type.String(),
          height: Height('block of the spend'),
        },
        closed,
      ),
    ),
  },
  closed,
);

export const HealthReply = Type.Object({ synced: Type.Boolean(), block_height: Height('last block processed') }, closed);

// ---------------------------------------------------------------------------------------------------------------
// Admin

export const AddressReply = Type.Object({ address: Type.String() }, closed);

export const RescanBody = Type.Object(
  {
    from_height: Type.Integer({ minimum: 0, maximum: 0x7fffffff, description: 'first block to read' }),
    to_height: Type.Optional(Type.Integer({ minimum: 0, maximum: 0x7fffffff, description: 'last block to read (default: the last block courtd processed)' })),
  },
  closed,
);
export const RescanReply = Type.Object({ blocks: Type.Integer({ minimum: 0 }), confirmed_balance: Sat('confirmed, not leased, after the rescan') }, closed);

export const BumpFields = {
  budget_sat: Type.Optional(Sat('new budget')),
  deadline_delta: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000, description: 'new deadline: current height + this' })),
  sat_per_vbyte: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000, description: 'starting fee rate' })),
};

export const SweepBumpBody = Type.Object({ outpoint: Outpoint('the input to bump'), ...BumpFields }, closed);
export const ChannelBumpBody = Type.Object(BumpFields, closed);
export const BumpReply = Type.Object({ bumped: Type.Array(Type.String({ description: 'outpoints bumped' })) }, closed);

export const AckBody = Type.Object({ id: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'acknowledge every event up to this id' }) }, closed);
export const AckReply = Type.Object({ acked: Type.Integer({ minimum: 0 }), pruned: Type.Integer({ minimum: 0 }) }, closed);

export const RotateBody = Type.Object({ scope: Type.Union([Type.Literal('admin'), Type.Literal('readonly')]) }, closed);
export const RotateReply = Type.Object({ scope: Type.String(), path: Type.String({ description: 'the token file rewritten (the token itself is not returned)' }) }, closed);

/** An event as GET /v1/events sends it in each `data:` line (the payload's fields are added beside these). */
export const NodeEventView = Type.Object(
  {
    id: Type.Integer({ minimum: 1 }),
    type: Type.String({ description: 'htlcSettledOnChain | htlcFailedOnChain | channelClosing | breachDetected | justiceConfirmed | channelResolved | closeUnresolved' }),
    chan_point: Type.Optional(Type.String()),
    height: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: true, $id: 'NodeEvent' },
);

export type RevocationBodyT = Static<typeof RevocationBody>;
export type ChannelViewT = Static<typeof ChannelView>;
export type OutputViewT = Static<typeof OutputView>;
export type ClosedChannelT = Static<typeof ClosedChannel>;
export type SweepViewT = Static<typeof SweepView>;
export type ForceClosePlanT = Static<typeof ForceClosePlan>;
export type CloseTypeNameT = Static<typeof CloseTypeName>;
