/** Projections of a checked snapshot into what the arbitrator (commit set facts) and the close classifier consume. Pure. */
import type { Commitment, CommitmentFormat } from '../../ln/commitment.js';
import { p2wpkh, p2wsh, toRemoteAnchorScript } from '../../ln/scripts.js';
import type { ShachainStore } from '../../ln/shachain.js';
import { toHex } from '../../util/bytes.js';
import type { ClassifierView } from '../../watcher/classify.js';
import type { CommitSetFacts, HtlcFact } from '../types.js';
import type { CheckedSnapshot, SnapshotCommitment, SnapshotHtlc } from './types.js';

function facts(htlcs: readonly SnapshotHtlc[], c: Commitment): HtlcFact[] {
  const trimmed = new Set(c.trimmedHtlcs);
  return htlcs.map((h, i) => htlcFact(h, trimmed.has(i)));
}

/** The JSON fact of one snapshot HTLC. */
export function htlcFact(h: SnapshotHtlc, dust: boolean): HtlcFact {
  const f: HtlcFact = {
    htlcId: h.htlcId,
    direction: h.direction,
    amountMsat: h.amountMsat.toString(),
    paymentHash: toHex(h.paymentHash),
    cltvExpiry: h.cltvExpiry,
    dust,
  };
  return h.upstream === undefined ? f : { ...f, upstreamExpiry: h.upstream.cltvExpiry };
}

/** The HTLC sets of our commitment and their current / pending ones, `dust` as trimmed on each (lnd's CommitSet). */
export function commitSetFacts(c: CheckedSnapshot): CommitSetFacts {
  const s = c.snapshot;
  const base = {
    local: facts(s.localCommitment.htlcs, c.local),
    remote: facts(s.remoteCommitments.current.htlcs, c.remoteCurrent),
  };
  const pending = s.remoteCommitments.pending;
  if (pending === undefined || c.remotePending === undefined) return base;
  return { ...base, remotePending: facts(pending.htlcs, c.remotePending) };
}

/** The scriptPubKey of a to_remote output paying `paymentBasepoint` (static key: P2WPKH; anchors: P2WSH + CSV 1). */
export function staticToRemoteSpk(format: CommitmentFormat, paymentBasepoint: Uint8Array): Uint8Array {
  return format === 'anchors' ? p2wsh(toRemoteAnchorScript(paymentBasepoint)) : p2wpkh(paymentBasepoint);
}

/** Our balance in sat (rounded down, HTLCs not counted) on a commitment. */
const ourBalanceSat = (c: SnapshotCommitment): bigint => c.toLocalMsat / 1000n;

/** What src/watcher/classify.ts needs to classify a spend of this channel's funding output. */
export function classifierView(c: CheckedSnapshot, revocations: ShachainStore): ClassifierView {
  const s = c.snapshot;
  const pending = s.remoteCommitments.pending;
  const commitments = [s.localCommitment, s.remoteCommitments.current, ...(pending === undefined ? [] : [pending])];
  return {
    fundingTxid: c.fundingTxid,
    fundingVout: c.fundingVout,
    obscuringFactor: c.obscuringFactor,
    local: { number: s.localCommitment.number, txid: c.local.tx.getId() },
    remoteCurrent: { number: s.remoteCommitments.current.number, txid: c.remoteCurrent.tx.getId() },
    ...(pending === undefined || c.remotePending === undefined
      ? {}
      : { remotePending: { number: pending.number, txid: c.remotePending.tx.getId() } }),
    revocations,
    ourToRemoteSpk: staticToRemoteSpk(c.format, c.ours.paymentBase),
    theirToRemoteSpk: staticToRemoteSpk(c.format, s.remote.paymentBasepoint),
    theirToLocal: {
      ourRevocationBasepoint: c.ours.revocationBase,
      theirDelayedBasepoint: s.remote.delayedPaymentBasepoint,
      theirToSelfDelay: s.remote.toSelfDelay,
    },
    coop: {
      capacitySat: c.capacitySat,
      ourBalancesSat: commitments.map(ourBalanceSat),
      ourMostSat: commitments.map((x) => ourBalanceSat(x) + x.htlcs.reduce((a, h) => a + h.amountMsat / 1000n, 0n)).reduce((a, b) => (b > a ? b : a)),
      ourDustLimitSat: s.local.dustLimitSat,
      ...(s.local.shutdownScript === undefined ? {} : { shutdownScript: s.local.shutdownScript }),
    },
  };
}
