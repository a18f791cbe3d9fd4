/**
 * Error catalogue: every error courtd raises on purpose carries a stable `COURT_E_*` code.
 *
 * Messages and details never carry secret material (seeds, private keys, unrevealed preimages, per-commitment
 * secrets): callers pass only names, sizes, indexes and amounts into them.
 */

/** Stable error codes with a one-line meaning each. Codes are never renamed once landed. */
export const ERROR_CODES = Object.freeze({
  COURT_E_INVALID_ARGUMENT: 'an argument has the wrong shape or size',
  COURT_E_INVALID_PUBKEY: 'a public key is not a valid compressed secp256k1 point',
  COURT_E_INVALID_PRIVKEY: 'a private key or tweak is not a valid secp256k1 scalar',
  COURT_E_INVALID_AMOUNT: 'an amount is negative, above 21M BTC, or the channel balances do not add up',
  COURT_E_COMMITMENT_NUMBER: 'a commitment number is outside 0 .. 2^48-1',
  COURT_E_TOO_MANY_HTLCS: 'more than 483 HTLCs in one direction on a commitment',
  COURT_E_FUNDER_CANNOT_PAY: 'the funder balance cannot pay the commitment fee (and anchors) at this feerate',
  COURT_E_INVALID_FEERATE: 'a feerate is negative or absurd',
  COURT_E_INVALID_LOCKTIME: 'a CSV or CLTV value is outside its allowed range',
  COURT_E_SHACHAIN_INDEX: 'a per-commitment secret arrived out of order',
  COURT_E_SHACHAIN_MISMATCH: 'a per-commitment secret is inconsistent with those already stored',
  COURT_E_SHACHAIN_UNKNOWN: 'the per-commitment secret for that index is not derivable from the store',
  COURT_E_REVOCATION_UNKNOWN: 'a revocation names a commitment courtd was never given',
  COURT_E_REVOCATION_MISMATCH: "a revocation secret does not match the commitment's per-commitment point",
  COURT_E_SHACHAIN_CORRUPT: 'a serialised shachain store does not decode',
  COURT_E_INVALID_SEED: 'a keyring seed has the wrong size or yields an invalid master key',
  COURT_E_INVALID_KEY_LOCATOR: 'a key family or index is outside its allowed range',
  COURT_E_INVALID_SIGNATURE: 'a signature does not verify',
  COURT_E_CRYPTO_BACKEND: 'the secp256k1 backend failed its self-test',
  COURT_E_CHAIN_UNREACHABLE: 'the bitcoind RPC endpoint cannot be reached (connection refused, reset or timed out)',
  COURT_E_CHAIN_AUTH: 'bitcoind refused the RPC credentials (HTTP 401/403)',
  COURT_E_CHAIN_BAD_REPLY: 'bitcoind replied with something that is not the expected JSON-RPC answer',
  COURT_E_CHAIN_RPC: 'bitcoind answered a call with an RPC error',
  COURT_E_CHAIN_NOT_FOUND: 'a block or transaction the chain layer needs is not known to bitcoind',
  COURT_E_CHAIN_STOPPED: 'the chain layer was stopped while a call was in flight',
  COURT_E_CHAIN_DEEP_REORG: 'the node reorganised deeper than the retained block log: cannot unwind safely',
  COURT_E_STORE_SCHEMA: 'the database schema is newer than this courtd or does not match its migrations',
  COURT_E_REGTEST: 'the regtest node could not be started or driven',
  COURT_E_SIMULATOR: 'the channel simulator was asked for something its channel state does not allow',
  COURT_E_FSM_REFUSED: 'the machine refused the event in its current state; nothing changed',
  COURT_E_FSM_CLOSED: 'the machine runner is closed: the event was not processed',
  COURT_E_FSM_LIFECYCLE: 'a machine runner was used out of order (resumed twice, or read before resume)',
  COURT_E_FSM_SEQ: 'a transition is not the next one of its machine (two writers on one machine, or a damaged log)',
  COURT_E_FSM_CORRUPT: "a machine's stored state row and its transition log disagree",
  COURT_E_FSM_DECODE: 'a stored state, event or effect payload does not decode',
  COURT_E_SNAPSHOT_INVALID: 'a channel snapshot is malformed (a field is missing, of the wrong type or out of range)',
  COURT_E_SNAPSHOT_SIGNATURE: "a channel snapshot's remote commitment or HTLC signature does not verify",
  COURT_E_SNAPSHOT_CONFLICT: 'a channel snapshot contradicts the channel courtd already holds (other funding, older state)',
  COURT_E_CHANNEL_UNKNOWN: 'no channel with that channel point is registered',
  COURT_E_CHANNEL_CLOSING: 'the channel is already closing or closed: it takes no more updates or force-close requests',
  COURT_E_CLOSE_NOT_UNRESOLVED: 'only a channel in CloseUnresolved can be reclassified',
  COURT_E_CLOSE_NOT_ACCEPTABLE: 'a close of our own commitment is swept with its snapshot; it cannot be accepted as it is',
  COURT_E_DELIVERY_FAILED: 'what the call brought is stored, but a channel could not take it yet: it is retried with every block, and the call may be repeated',
  COURT_E_ARBITRATOR_ERROR: 'the channel arbitrator is in its Error state; an operator must look at it',
  COURT_E_FUNDING_MISMATCH: "a channel's funding output on chain does not hold the snapshot's capacity or 2-of-2 funding script",
  COURT_E_FUNDING_UNKNOWN: "the node knows no transaction for a channel's funding output (not confirmed, not in the mempool)",
  COURT_E_WALLET_INVALID_ARGUMENT: 'a fee wallet call got a malformed lease id, amount, count or option',
  COURT_E_WALLET_NOT_OURS: 'an input to sign is not an unspent UTXO of the fee wallet',
  COURT_E_WALLET_INPUT_MISMATCH: "an input to sign does not match the transaction or the wallet's record of the UTXO",
  COURT_E_WALLET_NETWORK: 'the fee wallet was opened for another network than its keys or its briefcase',
  COURT_E_WALLET_RESCANNING: 'the fee wallet is rescanning: a block event is refused and delivered again later',
  COURT_E_SWEEP_INVALID_INPUT: 'a sweep input spec is malformed (a field is missing, of the wrong type or out of range)',
  COURT_E_SWEEP_UNKNOWN_INPUT: 'the sweeper holds no input with that outpoint',
  COURT_E_SWEEP_INPUT_DONE: 'the sweep input is already swept, spent by another transaction, excluded or failed',
  COURT_E_SWEEP_OWNER_CONFLICT: 'the outpoint is already offered to the sweeper by another owner',
  // -- daemon and HTTP API (src/daemon, src/api)
  COURT_E_API_UNAUTHORIZED: 'the request carries no bearer token, or one courtd does not know',
  COURT_E_API_FORBIDDEN: 'the readonly token was used on an admin route',
  COURT_E_API_INVALID_REQUEST: 'a request body, query or path parameter does not match its schema',
  COURT_E_API_NOT_FOUND: 'no route with that method and path',
  COURT_E_API_UNSUPPORTED_MEDIA: 'a request body is not application/json',
  COURT_E_API_BODY_TOO_LARGE: 'a request body is larger than the API accepts',
  COURT_E_API_UNAVAILABLE: 'the daemon is starting, stopping, or the part of it the route needs is not running',
  COURT_E_API_INTERNAL: 'an unexpected failure inside courtd (logged with its code; no details are returned)',
  COURT_E_EVENT_UNKNOWN: 'an event id beyond the last event courtd wrote',
  COURT_E_COOP_CLOSE_INVALID: 'a cooperative closing transaction does not decode or does not spend the channel funding output',
  COURT_E_CONFIG_INVALID: 'a courtd.conf key or command-line flag is unknown or has an invalid value',
  COURT_E_DAEMON_LOCKED: 'another courtd holds the lock file of this datadir',
  COURT_E_TOKEN_FILE: 'an API token file is unreadable, malformed or readable by others than its mode allows',
  // court (src/cli): failures on the client's side of the API; the daemon never answers with these.
  COURT_E_CLI_UNREACHABLE: 'court could not reach the courtd API (not running, wrong --rpcserver, or a timeout)',
  COURT_E_CLI_BAD_REPLY: 'courtd answered court with something that is not the JSON the API promises',
  COURT_E_CLI_DECLINED: 'the force close was not confirmed at the prompt: nothing was broadcast',
  COURT_E_CLI_TIMEOUT: 'court waitsync gave up before courtd caught up with the chain',
} as const);

export type CourtErrorCode = keyof typeof ERROR_CODES;

/** Primitive values that may appear in error details (never key material). */
export type ErrorDetail = string | number | bigint | boolean;

/** The one error class courtd throws for expected bad input. `code` is what callers branch on. */
export class CourtError extends Error {
  readonly code: CourtErrorCode;
  readonly details: Readonly<Record<string, ErrorDetail>>;

  constructor(code: CourtErrorCode, message: string, details: Record<string, ErrorDetail> = {}) {
    super(`${code}: ${message}`);
    this.name = 'CourtError';
    this.code = code;
    this.details = Object.freeze({ ...details });
  }
}

/** Throws a CourtError with `code` unless `cond` holds. */
export function ensure(
  cond: boolean,
  code: CourtErrorCode,
  message: string,
  details?: Record<string, ErrorDetail>,
): asserts cond {
  if (!cond) throw new CourtError(code, message, details);
}

/** Exhaustiveness guard for switches over closed unions. */
export function assertNever(x: never, what = 'value'): never {
  throw new Error(`unexpected ${what}: ${JSON.stringify(x)}`);
}
