/**
 * Checking a parsed snapshot (BOLT #3): rebuilds our latest commitment from the parameters with src/ln and verifies
 * the remote's commitment signature and every HTLC signature on it, then builds the remote's current and pending
 * commitments so their txids are known to the classifier. Pure.
 */
import { deriveRevocationPubkey, derivePubkey } from '../../keys/derive.js';
import { checkPubkey, secp } from '../../keys/secp.js';
import { buildCommitment, type Commitment, type CommitmentHtlc, type CommitmentKeys, type CommitmentSpec } from '../../ln/commitment.js';
import { buildHtlcTxs, commitmentSighash, htlcTxSighash } from '../../ln/htlc.js';
import { obscuringFactor } from '../../ln/statehint.js';
import { equal } from '../../util/bytes.js';
import { CourtError } from '../../util/errors.js';
import type { ChannelSnapshot, CheckedSnapshot, OurBasepoints, SignedHtlcTx, SnapshotCommitment, SnapshotKeyLocator } from './types.js';
import { invalid } from './wire.js';

/** Our base public keys from a keyring-like lookup, at the snapshot's locators. */
export function ourBasepointsFrom(s: ChannelSnapshot, publicKey: (loc: SnapshotKeyLocator) => Uint8Array): OurBasepoints {
  const k = s.local.keyLocators;
  return {
    funding: publicKey(k.funding),
    revocationBase: publicKey(k.revocationBase),
    htlcBase: publicKey(k.htlcBase),
    paymentBase: publicKey(k.paymentBase),
    delayBase: publicKey(k.delayBase),
  };
}

/** Splits a chanPoint already validated by parseSnapshot. */
function splitChanPoint(chanPoint: string): { txid: string; vout: number } {
  const [txid, vout] = chanPoint.split(':') as [string, string];
  return { txid, vout: Number(vout) };
}

interface ChannelParams {
  readonly s: ChannelSnapshot;
  readonly ours: OurBasepoints;
  readonly fundingTxid: string;
  readonly fundingVout: number;
  readonly obscuringFactor: number;
}

/** Builds one commitment; a refusal by src/ln becomes COURT_E_SNAPSHOT_INVALID naming the commitment. */
function build(spec: CommitmentSpec, path: string): Commitment {
  try {
    return buildCommitment(spec);
  } catch (e) {
    if (e instanceof CourtError) {
      throw new CourtError('COURT_E_SNAPSHOT_INVALID', `${path} cannot be built (${e.code})`, { field: path, cause: e.code });
    }
    throw e;
  }
}

/** Their base public keys, named as ours are. */
function theirBasepoints(s: ChannelSnapshot): OurBasepoints {
  return {
    funding: s.remote.fundingPubkey,
    revocationBase: s.remote.revocationBasepoint,
    htlcBase: s.remote.htlcBasepoint,
    paymentBase: s.remote.paymentBasepoint,
    delayBase: s.remote.delayedPaymentBasepoint,
  };
}

/**
 * One commitment as its holder sees it: `holder` 'local' is ours (we hold it; the remote's revocation basepoint
 * and our point make its revocation key), 'remote' is theirs (roles swap: our revocation basepoint and THEIR point
 * make its revocation key). The holder's outgoing HTLCs are the offered ones.
 */
function buildFor(p: ChannelParams, holder: 'local' | 'remote', c: SnapshotCommitment, path: string): Commitment {
  const { s, ours } = p;
  const theirs = theirBasepoints(s);
  const [h, o] = holder === 'local' ? [ours, theirs] : [theirs, ours];
  const pt = c.perCommitmentPoint;
  const keys: CommitmentKeys = {
    localFundingPubkey: h.funding,
    remoteFundingPubkey: o.funding,
    revocationPubkey: deriveRevocationPubkey(o.revocationBase, pt),
    localDelayedPubkey: derivePubkey(h.delayBase, pt),
    localHtlcPubkey: derivePubkey(h.htlcBase, pt),
    remoteHtlcPubkey: derivePubkey(o.htlcBase, pt),
    remotePaymentPubkey: o.paymentBase,
  };
  const offered = holder === 'local' ? 'outgoing' : 'incoming';
  const htlcs: CommitmentHtlc[] = c.htlcs.map((x) => ({
    direction: x.direction === offered ? 'offered' : 'received',
    amountMsat: x.amountMsat,
    paymentHash: x.paymentHash,
    cltvExpiry: x.cltvExpiry,
  }));
  const mine = holder === 'local';
  return build(
    {
      ...commonSpec(p, c),
      holderIsFunder: s.initiator === holder,
      toLocalMsat: mine ? c.toLocalMsat : c.toRemoteMsat,
      toRemoteMsat: mine ? c.toRemoteMsat : c.toLocalMsat,
      dustLimitSat: s[holder].dustLimitSat,
      toSelfDelay: s[holder].toSelfDelay,
      keys,
      htlcs,
    },
    path,
  );
}

function commonSpec(p: ChannelParams, c: SnapshotCommitment) {
  return {
    format: p.s.commitmentType,
    fundingTxid: p.fundingTxid,
    fundingVout: p.fundingVout,
    fundingSat: p.s.capacitySat,
    commitmentNumber: c.number,
    obscuringFactor: p.obscuringFactor,
    feeratePerKw: c.feeratePerKw,
    funderShortfall: 'allow' as const,
  };
}

function badSignature(which: string, index?: number): never {
  throw new CourtError('COURT_E_SNAPSHOT_SIGNATURE', `${which} does not verify`, index === undefined ? { field: which } : { field: which, index });
}

/**
 * Checks a parsed snapshot against our base keys: rebuilds our latest commitment and verifies the remote's
 * commitment signature (SIGHASH_ALL, by remote.fundingPubkey) and each HTLC signature in output order (by the
 * remote's HTLC key of that commitment, with the format's sighash type); builds their current and pending
 * commitments. Throws COURT_E_SNAPSHOT_SIGNATURE naming the failing signature, COURT_E_SNAPSHOT_INVALID if a
 * commitment cannot be built, COURT_E_INVALID_PUBKEY if one of `ours` is not a point.
 */
export function checkSnapshot(s: ChannelSnapshot, ours: OurBasepoints): CheckedSnapshot {
  for (const name of ['funding', 'revocationBase', 'htlcBase', 'paymentBase', 'delayBase'] as const) checkPubkey(ours[name], `our ${name} basepoint`);
  // A peer that copies one of our keys makes our scripts and theirs the same (equal payment basepoints: one
  // to_remote script on both commitments, so whose commitment confirmed could not be told): refused.
  const mine = [ours.funding, ours.revocationBase, ours.htlcBase, ours.paymentBase, ours.delayBase];
  for (const k of ['fundingPubkey', 'revocationBasepoint', 'paymentBasepoint', 'delayedPaymentBasepoint', 'htlcBasepoint'] as const) {
    if (mine.some((m) => equal(m, s.remote[k]))) invalid(`remote.${k}`, 'equals one of our own keys');
  }
  const { txid: fundingTxid, vout: fundingVout } = splitChanPoint(s.chanPoint);
  const [opener, accepter] = s.initiator === 'local' ? [ours.paymentBase, s.remote.paymentBasepoint] : [s.remote.paymentBasepoint, ours.paymentBase];
  const p: ChannelParams = { s, ours, fundingTxid, fundingVout, obscuringFactor: obscuringFactor(opener, accepter) };

  const local = buildFor(p, 'local', s.localCommitment, 'localCommitment');
  const lc = s.localCommitment;
  if (!secp().verify(commitmentSighash(local), s.remote.fundingPubkey, lc.remoteSignature)) {
    badSignature('localCommitment.remoteSignature');
  }
  const htlcTxs = buildHtlcTxs(local);
  if (htlcTxs.length !== lc.remoteHtlcSignatures.length) {
    throw new CourtError(
      'COURT_E_SNAPSHOT_SIGNATURE',
      `localCommitment.remoteHtlcSignatures has ${lc.remoteHtlcSignatures.length} signatures for ${htlcTxs.length} untrimmed HTLC outputs`,
      { field: 'localCommitment.remoteHtlcSignatures', signatures: lc.remoteHtlcSignatures.length, outputs: htlcTxs.length },
    );
  }
  const remoteHtlcKey = local.spec.keys.remoteHtlcPubkey;
  const localHtlcTxs: SignedHtlcTx[] = htlcTxs.map((h, i) => {
    const sig = lc.remoteHtlcSignatures[i] as Uint8Array;
    if (!secp().verify(htlcTxSighash(h, h.remoteSighashType), remoteHtlcKey, sig)) {
      badSignature(`localCommitment.remoteHtlcSignatures[${i}]`, i);
    }
    return { htlcTx: h, remoteSignature: sig };
  });

  const remoteCurrent = buildFor(p, 'remote', s.remoteCommitments.current, 'remoteCommitments.current');
  const pending = s.remoteCommitments.pending;
  const remotePending = pending === undefined ? undefined : buildFor(p, 'remote', pending, 'remoteCommitments.pending');
  return {
    snapshot: s,
    fundingTxid,
    fundingVout,
    capacitySat: s.capacitySat,
    format: s.commitmentType,
    obscuringFactor: p.obscuringFactor,
    ours,
    local,
    localHtlcTxs,
    remoteCurrent,
    ...(remotePending === undefined ? {} : { remotePending }),
  };
}

