/**
 * The API's answers as `court` reads them (the wire contract of src/api; amounts are decimal strings). Only the
 * fields the CLI shows are listed; `--json` prints the daemon's answer as it came, so scripts see every field.
 */

export interface InfoView {
  readonly version: string;
  readonly network: string;
  readonly block_height: number;
  readonly block_hash: string;
  readonly synced_to_chain: boolean;
  /** The node's tip, when known. */
  readonly node_height?: number;
  readonly num_active_channels?: number;
  readonly num_pending_channels: number;
  readonly num_closed_channels: number;
}

export interface OutputView {
  readonly outpoint: string;
  readonly resolver: string;
  readonly stage: string | number;
  readonly amount_sat: string;
  readonly limbo_sat: string;
  readonly recovered_sat: string;
  readonly maturity_height?: number | null;
  readonly blocks_til_maturity?: number | null;
  readonly resolved: boolean;
}

export interface ChannelView {
  readonly chan_point: string;
  readonly state: string;
  readonly close_type?: string | null;
  readonly capacity_sat: string;
  readonly commitment_type: string;
  readonly closing_txid?: string | null;
  readonly close_height?: number | null;
  readonly limbo_balance: string;
  readonly recovered_balance: string;
  /** Error / CloseUnresolved: why. */
  readonly reason?: string | null;
  readonly outputs: readonly OutputView[];
}

export interface ResolutionView {
  readonly outpoint: string;
  readonly resolution_type: string;
  readonly outcome: string;
  readonly amount_sat: string;
  readonly sweep_txid?: string | null;
}

export interface ClosedView {
  readonly chan_point: string;
  readonly close_type: string;
  readonly closing_txid: string;
  readonly close_height: number;
  readonly settled_balance: string;
  readonly resolutions: readonly ResolutionView[];
}

export interface SweepView {
  readonly outpoint: string;
  readonly chan_point?: string | null;
  readonly witness_type: string;
  readonly amount_sat: string;
  readonly budget_sat: string;
  readonly deadline_height?: number | null;
  readonly state: string;
  readonly fee_rate_sat_per_kw?: string | number | null;
  readonly sat_per_vbyte?: string | number | null;
  readonly sweep_txid?: string | null;
  readonly broadcast_attempts: number;
  readonly reason?: string | null;
}

export interface TransitionView {
  readonly seq: number;
  readonly from: string;
  readonly event: string;
  readonly to: string;
  readonly height: number | null;
}

export interface BalanceView {
  readonly confirmed_balance: string;
  readonly unconfirmed_balance: string;
  readonly locked_balance: string;
  readonly total_balance: string;
  readonly reserve_required: string;
  readonly reserve_shortfall: string;
}

export interface PlanOutput {
  readonly kind: string;
  readonly amount_sat: string;
  readonly maturity_height?: number | null;
  readonly csv_delay?: number | null;
}

export interface PlanHtlc {
  readonly htlc_id: number | string;
  readonly direction: string;
  readonly amount_sat: string;
  readonly payment_hash: string;
  readonly cltv_expiry: number;
  readonly deadline_height: number;
  readonly blocks_left: number;
}

export interface PlanFailBack {
  readonly htlc_id: number | string;
  readonly amount_sat: string;
  readonly reason: string;
}

export interface ForceClosePlan {
  readonly fee_sat: string;
  readonly feerate_sat_per_vbyte: string | number;
  readonly commitment_type: string;
  readonly outputs: readonly PlanOutput[];
  readonly htlcs: readonly PlanHtlc[];
  readonly fail_back_now: readonly PlanFailBack[];
}

export interface ForceCloseView {
  readonly chan_point: string;
  readonly commitment_number: number | string;
  readonly closing_txid: string;
  readonly plan: ForceClosePlan;
}

export interface EventView {
  readonly id: number | string;
  readonly type: string;
  readonly chan_point?: string;
  readonly [k: string]: unknown;
}

export interface AlertView {
  readonly id: number;
  /** spentByOther | spentByStaleSweep */
  readonly kind: string;
  readonly outpoint: string;
  readonly lease_id?: string;
  readonly txid: string;
  readonly height: number;
}
