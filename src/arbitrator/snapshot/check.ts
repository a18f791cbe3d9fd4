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

/** Our commitment: we hold it; the remote's revocation basepoint and our point make its revocation key. */
function buildLocal(p: ChannelParams): Commitment {
  const { s, ours } = p;
  const c = s.localCommitment;
  const pt = c.perCommitmentPoint;
  const keys: CommitmentKeys = {
    localFundingPubkey: ours.funding,
    remoteFundingPubkey: s.remote.fundingPubkey,
    revocationPubkey: deriveRevocationPubkey(s.remote.revocationBasepoint, pt),
    localDelayedPubkey: derivePubkey(ours.delayBase, pt),
    localHtlcPubkey: derivePubkey(ours.htlcBase, pt),
    remoteHtlcPubkey: derivePubkey(s.remote.htlcBasepoint, pt),
    remotePaymentPubkey: s.remote.paymentBasepoint,
  };
  const htlcs: CommitmentHtlc[] = c.htlcs.map((h) => ({
    direction: h.direction === 'outgoing' ? 'offered' : 'received',
    amountMsat: h.amountMsat,
    paymentHash: h.paymentHash,
    cltvExpiry: h.cltvExpiry,
  }));
  return build(
    {
      ...commonSpec(p, c),
      holderIsFunder: s.initiator === 'local',
      toLocalMsat: c.toLocalMsat,
      toRemoteMsat: c.toRemoteMsat,
      dustLimitSat: s.local.dustLimitSat,
      toSelfDelay: s.local.toSelfDelay,
      keys,
      htlcs,
    },
    'localCommitment',
  );
}

/** Their commitment: roles swap (they hold it; our revocation basepoint and THEIR point make its revocation key). */
function buildRemote(p: ChannelParams, c: SnapshotCommitment, path: string): Commitment {
  const { s, ours } = p;
  const pt = c.perCommitmentPoint;
  const keys: CommitmentKeys = {
    localFundingPubkey: s.remote.fundingPubkey,
    remoteFundingPubkey: ours.funding,
    revocationPubkey: deriveRevocationPubkey(ours.revocationBase, pt),
    localDelayedPubkey: derivePubkey(s.remote.delayedPaymentBasepoint, pt),
    localHtlcPubkey: derivePubkey(s.remote.htlcBasepoint, pt),
    remoteHtlcPubkey: derivePubkey(ours.htlcBase, pt),
    remotePaymentPubkey: ours.paymentBase,
  };
  const htlcs: CommitmentHtlc[] = c.htlcs.map((h) => ({
    direction: h.direction === 'incoming' ? 'offered' : 'received',
    amountMsat: h.amountMsat,
    paymentHash: h.paymentHash,
    cltvExpiry: h.cltvExpiry,
  }));
  return build(
    {
      ...commonSpec(p, c),
      holderIsFunder: s.initiator === 'remote',
      toLocalMsat: c.toRemoteMsat,
      toRemoteMsat: c.toLocalMsat,
      dustLimitSat: s.remote.dustLimitSat,
      toSelfDelay: s.remote.toSelfDelay,
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

  const local = buildLocal(p);
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

  const remoteCurrent = buildRemote(p, s.remoteCommitments.current, 'remoteCommitments.current');
  const pending = s.remoteCommitments.pending;
  const remotePending = pending === undefined ? undefined : buildRemote(p, pending, 'remoteCommitments.pending');
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

