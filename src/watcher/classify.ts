/**
 * Close classification (spec section 2, ARCHITECTURE.md "watcher/"): given the confirmed transaction that spent
 * a channel's funding output, decide what kind of close it is, with the data the resolvers need.
 *
 *   coop           not commitment-shaped (no state hint in locktime/sequence): a mutual close
 *   local          our current commitment (txid match)
 *   remote         their current commitment (txid match)
 *   remotePending  their next commitment, signed by us but not yet revoked-for (txid match)
 *   breach         a commitment whose number we hold the revocation secret for: justice
 *   future         their commitment from a state newer than any we know: we lost data; claim to_remote only
 *   unknown        commitment-shaped but none of the above (e.g. an old local state): report, never guess
 *
 * Pure: no I/O, no clock. The breach secret is returned to the caller (the justice resolver needs it) and must
 * never be logged.
 */
import type { Transaction } from 'bitcoinjs-lib';
import type { ShachainStore } from '../ln/shachain.js';
import { MAX_SHACHAIN_INDEX } from '../ln/shachain.js';
import { commitmentNumberFromTx } from '../ln/statehint.js';
import { reversed, toHex } from '../util/bytes.js';
import { CourtError } from '../util/errors.js';

/** A commitment courtd knows by number and txid. */
export interface KnownCommitment {
  readonly number: number;
  readonly txid: string;
}

/** What the classifier needs to know about the channel. */
export interface ClassifierView {
  readonly fundingTxid: string;
  readonly fundingVout: number;
  /** From the two payment basepoints (statehint.obscuringFactor). */
  readonly obscuringFactor: number;
  readonly local: KnownCommitment;
  readonly remoteCurrent: KnownCommitment;
  readonly remotePending?: KnownCommitment;
  /** The remote's per-commitment secrets we received (revocations). */
  readonly revocations: ShachainStore;
}

export type Classification =
  | { readonly kind: 'coop'; readonly txid: string }
  | { readonly kind: 'local' | 'remote' | 'remotePending'; readonly txid: string; readonly number: number }
  | { readonly kind: 'breach'; readonly txid: string; readonly number: number; readonly perCommitmentSecret: Uint8Array }
  | { readonly kind: 'future'; readonly txid: string; readonly number: number }
  | { readonly kind: 'unknown'; readonly txid: string; readonly number: number; readonly reason: string };

/** Classifies `tx`, which must spend the channel's funding output. */
export function classifyClose(view: ClassifierView, tx: Transaction): Classification {
  const spendsFunding = tx.ins.some((i) => toHex(reversed(i.hash)) === view.fundingTxid && i.index === view.fundingVout);
  if (!spendsFunding) {
    throw new CourtError('COURT_E_INVALID_ARGUMENT', 'transaction does not spend the channel funding output', { txid: tx.getId() });
  }
  const txid = tx.getId();
  if (txid === view.local.txid) return { kind: 'local', txid, number: view.local.number };
  if (txid === view.remoteCurrent.txid) return { kind: 'remote', txid, number: view.remoteCurrent.number };
  if (view.remotePending !== undefined && txid === view.remotePending.txid) {
    return { kind: 'remotePending', txid, number: view.remotePending.number };
  }
  const number = commitmentNumberFromTx(tx, view.obscuringFactor);
  if (number === undefined) return { kind: 'coop', txid };
  const secret = view.revocations.tryLookup(MAX_SHACHAIN_INDEX - number);
  if (secret !== undefined) return { kind: 'breach', txid, number, perCommitmentSecret: secret };
  const newest = view.remotePending?.number ?? view.remoteCurrent.number;
  if (number > newest) return { kind: 'future', txid, number };
  return { kind: 'unknown', txid, number, reason: 'commitment-shaped spend matching no known or revoked remote state' };
}

/** Options for the close confirmation depth. */
export interface CloseDepthOptions {
  readonly min?: number;
  readonly max?: number;
  /** The capacity at and above which `max` applies (default 16,777,215 sat, the pre-wumbo channel limit). */
  readonly fullAtSat?: bigint;
}

/**
 * How many confirmations a close needs before courtd acts on it: 3 to 6, scaling linearly with capacity (a reorg
 * of a big channel's close costs more). `min = max = 1` is allowed for regtest.
 */
export function closeConfirmationDepth(capacitySat: bigint, opts: CloseDepthOptions = {}): number {
  const min = opts.min ?? 3;
  const max = opts.max ?? 6;
  const fullAt = opts.fullAtSat ?? 16_777_215n;
  if (!Number.isInteger(min) || !Number.isInteger(max) || min < 1 || max < min || fullAt <= 0n || capacitySat < 0n) {
    throw new CourtError('COURT_E_INVALID_ARGUMENT', 'close depth needs 1 <= min <= max and a positive capacity scale', { min, max });
  }
  const capped = capacitySat > fullAt ? fullAt : capacitySat;
  return min + Number((BigInt(max - min) * capped) / fullAt);
}
