/** courtd's fee wallet: see wallet.ts. */
export {
  ANCHOR_RESERVE_SAT,
  COINBASE_MATURITY,
  SPENT_KEEP_DEPTH,
  Wallet,
  WALLET_INPUT_WEIGHT,
  WALLET_LOOKAHEAD,
  type ReserveStatus,
  type WalletAlert,
  type WalletBalance,
  type WalletNetwork,
  type WalletOptions,
  type WalletUtxo,
  type WalletUtxoState,
} from './wallet.js';
export { selectCoins, selectionOrder, takeUntil, type Candidate } from './select.js';
