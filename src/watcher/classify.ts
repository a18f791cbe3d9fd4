/**
 * Close classification (spec section 2, ARCHITECTURE.md "watcher/"): given the confirmed transaction that spent
 * a channel's funding output, decide what kind of close it is, with the data the resolvers need.
 *
 * Whose commitment it is comes from its outputs, not only from its number (lnd's chain watcher does the same):
 * on our commitments the peer's static to_remote script appears, on theirs ours does; their to_local is revocable
 * by a key we can derive once we hold the secret of its number. Local and remote commitment numbers are separate
 * counters, so a number alone never says whose a commitment is.
 *
 *   local          our current commitment (txid match)
 *   breach         a commitment of theirs whose number we hold the revocation secret for, decided BEFORE the txid
 *                  matches below (LDK's order): a revocation that arrived after the last snapshot still wins. It
 *                  must carry an output of ours (their revocable to_local or our to_remote)
 *   remote         their current commitment (txid match)
 *   remotePending  their next commitment, signed by us but not yet revoked-for (txid match)
 *   future         a commitment of theirs (our to_remote on it) from a state newer than any we know: data loss
 *   ourUnknown     a commitment of ours (their to_remote on it) other than the one we hold: newer than our last
 *                  snapshot (the node closed on its own) or older. Sweeping it needs its per-commitment point, so
 *                  the node must send that commitment's snapshot
 *   coop           no state hint, and one output pays us what we are surely owed (or our shutdown script)
 *   unknown        none of the above: reported with the value at risk, never guessed; our static to_remote on it
 *                  (if any) is still claimable
 *
 * Pure: no I/O, no clock. The breach secret is returned to the caller (the justice resolver needs it) and must
 * never be logged.
 */
import type { Transaction } from 'bitcoinjs-lib';
import { deriveRevocationPubkey, derivePubkey, perCommitmentPoint } from '../keys/derive.js';
import { p2wsh, toLocalScript } from '../ln/scripts.js';
import type { ShachainStore } from '../ln/shachain.js';
import { MAX_SHACHAIN_INDEX } from '../ln/shachain.js';
import { commitmentNumberFromTx } from '../ln/statehint.js';
import { equal, reversed, toHex } from '../util/bytes.js';
import { CourtError } from '../util/errors.js';

/** A commitment courtd knows by number and txid. */
export interface KnownCommitment {
  readonly number: number;
  readonly txid: string;
}

/** What a cooperative close must pay us for courtd to call it one. */
export interface CoopExpectation {
  readonly capacitySat: bigint;
  /** Our balance (HTLCs not counted, sat, rounded down) on each commitment that could still have been current. */
  readonly ourBalancesSat: readonly bigint[];
  /** The most we could be owed: our balance plus every HTLC, on the commitment where that is largest. */
  readonly ourMostSat: bigint;
  /** Our dust limit: a balance below it is not owed an output. */
  readonly ourDustLimitSat: bigint;
  /** The script the node told us it closes to, if any. */
  readonly shutdownScript?: Uint8Array;
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
  /** scriptPubKey of our to_remote on their commitments (static payment basepoint). */
  readonly ourToRemoteSpk: Uint8Array;
  /** scriptPubKey of their to_remote on our commitments (their static payment basepoint). */
  readonly theirToRemoteSpk: Uint8Array;
  /** What their revocable to_local is built from (BOLT #3, their commitment): checked on a breach. */
  readonly theirToLocal: {
    readonly ourRevocationBasepoint: Uint8Array;
    readonly theirDelayedBasepoint: Uint8Array;
    readonly theirToSelfDelay: number;
  };
  readonly coop: CoopExpectation;
}

export type Classification =
  | { readonly kind: 'coop'; readonly txid: string }
  | { readonly kind: 'local' | 'remote' | 'remotePending'; readonly txid: string; readonly number: number }
  | { readonly kind: 'breach'; readonly txid: string; readonly number: number; readonly perCommitmentSecret: Uint8Array }
  | { readonly kind: 'future'; readonly txid: string; readonly number: number }
  | { readonly kind: 'ourUnknown'; readonly txid: string; readonly number: number; readonly newer: boolean }
  | { readonly kind: 'unknown'; readonly txid: string; readonly number?: number; readonly reason: string; readonly ourToRemoteVout?: number };

const outputIndex = (tx: Transaction, spk: Uint8Array): number => tx.outs.findIndex((o) => equal(o.script, spk));

/** Classifies `tx`, which must spend the channel's funding output. */
export function classifyClose(view: ClassifierView, tx: Transaction): Classification {
  const spendsFunding = tx.ins.some((i) => toHex(reversed(i.hash)) === view.fundingTxid && i.index === view.fundingVout);
  if (!spendsFunding) {
    throw new CourtError('COURT_E_INVALID_ARGUMENT', 'transaction does not spend the channel funding output', { txid: tx.getId() });
  }
  const txid = tx.getId();
  if (txid === view.local.txid) return { kind: 'local', txid, number: view.local.number };
  const ourToRemote = outputIndex(tx, view.ourToRemoteSpk);
  const claim = ourToRemote >= 0 ? { ourToRemoteVout: ourToRemote } : {};
  const number = commitmentNumberFromTx(tx, view.obscuringFactor);
  if (number === undefined) {
    if (paysUsWhatWeAreOwed(view.coop, tx)) return { kind: 'coop', txid };
    return { kind: 'unknown', txid, reason: 'a spend without state hint that pays us less than our balance', ...claim };
  }
  const theirToRemote = outputIndex(tx, view.theirToRemoteSpk);
  if (theirToRemote >= 0 && ourToRemote >= 0) {
    return { kind: 'unknown', txid, number, reason: 'a commitment-shaped spend paying both static to_remote keys', ...claim };
  }
  if (theirToRemote >= 0) return { kind: 'ourUnknown', txid, number, newer: number > view.local.number };

  // From here on it is theirs or unidentified. Revoked first: a secret for this number means justice, even when
  // the txid is the one the last snapshot called current.
  // Theirs for sure: a txid we built for them, our to_remote on it, or their to_local revocable by the secret.
  const current = txid === view.remoteCurrent.txid;
  const pending = view.remotePending !== undefined && txid === view.remotePending.txid;
  const secret = view.revocations.tryLookup(MAX_SHACHAIN_INDEX - number);
  if (secret !== undefined && (current || pending || ourToRemote >= 0 || outputIndex(tx, theirRevocableToLocal(view, secret)) >= 0)) {
    return { kind: 'breach', txid, number, perCommitmentSecret: secret };
  }
  if (current) return { kind: 'remote', txid, number: view.remoteCurrent.number };
  if (pending && view.remotePending !== undefined) return { kind: 'remotePending', txid, number: view.remotePending.number };
  const newest = view.remotePending?.number ?? view.remoteCurrent.number;
  if (number > newest && ourToRemote >= 0) return { kind: 'future', txid, number };
  if (ourToRemote >= 0) {
    return { kind: 'unknown', txid, number, reason: 'a commitment of theirs matching no state we know, revoked or current', ...claim };
  }
  return { kind: 'unknown', txid, number, reason: 'a commitment-shaped spend with no output of either side we can identify' };
}

function theirRevocableToLocal(view: ClassifierView, secret: Uint8Array): Uint8Array {
  const t = view.theirToLocal;
  const point = perCommitmentPoint(secret);
  const script = toLocalScript(deriveRevocationPubkey(t.ourRevocationBasepoint, point), t.theirToSelfDelay, derivePubkey(t.theirDelayedBasepoint, point));
  return p2wsh(script);
}

/**
 * A mutual close pays us our balance: at least the smallest balance we held on any commitment that could have
 * been current, less the close's fee (either side may pay it: the funder classically, the closer under
 * option_simple_close), and at most our largest balance with every HTLC settled to us. With the node's shutdown
 * script known, that output must pay it; without it, an output of such a value is taken for ours (the node should
 * send `local.shutdownScript`: a peer output of a similar value would pass). A balance below our dust limit is owed
 * no output. The funding output cannot be spent without our node's signature: this guards against our node
 * signing a close that pays us too little, and against taking some other spend for a close.
 */
function paysUsWhatWeAreOwed(c: CoopExpectation, tx: Transaction): boolean {
  if (c.ourBalancesSat.length === 0) return false;
  const owed = c.ourBalancesSat.reduce((a, b) => (b < a ? b : a));
  if (owed < c.ourDustLimitSat) return true;
  const paid = tx.outs.reduce((a, o) => a + o.value, 0n);
  const fee = c.capacitySat > paid ? c.capacitySat - paid : 0n;
  if (c.shutdownScript !== undefined) {
    return tx.outs.some((o) => equal(o.script, c.shutdownScript as Uint8Array) && o.value + fee >= owed);
  }
  return tx.outs.some((o) => o.value + fee >= owed && o.value <= c.ourMostSat);
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
