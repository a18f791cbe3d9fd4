/** Refusing a snapshot that contradicts the one in force (COURT_E_SNAPSHOT_CONFLICT). Pure. */
import { equal } from '../../util/bytes.js';
import { CourtError } from '../../util/errors.js';
import type { ChannelSnapshot, SnapshotCommitment, SnapshotHtlc } from './types.js';

function sameCommitment(a: SnapshotCommitment, b: SnapshotCommitment): boolean {
  return (
    a.number === b.number &&
    equal(a.perCommitmentPoint, b.perCommitmentPoint) &&
    a.feeratePerKw === b.feeratePerKw &&
    a.toLocalMsat === b.toLocalMsat &&
    a.toRemoteMsat === b.toRemoteMsat &&
    a.htlcs.length === b.htlcs.length &&
    a.htlcs.every((h, i) => {
      const g = b.htlcs[i] as SnapshotHtlc;
      return (
        h.htlcId === g.htlcId &&
        h.direction === g.direction &&
        h.amountMsat === g.amountMsat &&
        equal(h.paymentHash, g.paymentHash) &&
        h.cltvExpiry === g.cltvExpiry
      );
    })
  );
}

function conflict(field: string, what: string): never {
  throw new CourtError('COURT_E_SNAPSHOT_CONFLICT', `${field} ${what}`, { field });
}

/**
 * Refuses `next` if it contradicts `prev`, the snapshot in force: other channel parameters (funding, capacity,
 * type, initiator, keys, dust limits, delays, a changed short channel id), an older local or remote commitment, or
 * a commitment number both know with different contents. Signatures may differ (ECDSA nonces are the signer's
 * choice), and an HTLC's `upstream` may be learnt later. `fundingHeightHint` may change (it is a hint).
 * `closed`: the funding output is already spent by a commitment courtd could not resolve, and the node answers
 * with that commitment's snapshot, which may be older than the one in force; its parameters must still match
 * (and its signatures verify, checkSnapshot), so only the "older" checks are lifted.
 */
export function checkSnapshotUpdate(prev: ChannelSnapshot, next: ChannelSnapshot, opts: { readonly closed?: boolean } = {}): void {
  const same = (field: string, a: string | bigint | number, b: string | bigint | number): void => {
    if (a !== b) conflict(field, 'differs from the channel in force');
  };
  same('chanPoint', prev.chanPoint, next.chanPoint);
  same('capacitySat', prev.capacitySat, next.capacitySat);
  same('commitmentType', prev.commitmentType, next.commitmentType);
  same('initiator', prev.initiator, next.initiator);
  if (prev.shortChannelId !== undefined) same('shortChannelId', prev.shortChannelId, next.shortChannelId ?? prev.shortChannelId);
  for (const k of ['funding', 'revocationBase', 'htlcBase', 'paymentBase', 'delayBase'] as const) {
    same(`local.keyLocators.${k}.family`, prev.local.keyLocators[k].family, next.local.keyLocators[k].family);
    same(`local.keyLocators.${k}.index`, prev.local.keyLocators[k].index, next.local.keyLocators[k].index);
  }
  same('local.dustLimitSat', prev.local.dustLimitSat, next.local.dustLimitSat);
  same('local.toSelfDelay', prev.local.toSelfDelay, next.local.toSelfDelay);
  for (const k of ['fundingPubkey', 'revocationBasepoint', 'paymentBasepoint', 'delayedPaymentBasepoint', 'htlcBasepoint'] as const) {
    if (!equal(prev.remote[k], next.remote[k])) conflict(`remote.${k}`, 'differs from the channel in force');
  }
  same('remote.dustLimitSat', prev.remote.dustLimitSat, next.remote.dustLimitSat);
  same('remote.toSelfDelay', prev.remote.toSelfDelay, next.remote.toSelfDelay);

  const closed = opts.closed === true;
  if (!closed && next.localCommitment.number < prev.localCommitment.number) conflict('localCommitment.number', 'is older than the commitment in force');
  if (next.localCommitment.number === prev.localCommitment.number && !sameCommitment(prev.localCommitment, next.localCommitment)) {
    conflict('localCommitment', 'has the number of the commitment in force but other contents');
  }
  const nr = next.remoteCommitments;
  const pr = prev.remoteCommitments;
  // Their newest commitment (pending, else current) must not go back: a snapshot that forgets their pending
  // commitment would let a dust fail-back miss an HTLC it carries, and its close be taken for an unknown state.
  const newest = (r: ChannelSnapshot['remoteCommitments']): number => r.pending?.number ?? r.current.number;
  if (!closed && newest(nr) < newest(pr)) conflict('remoteCommitments', 'forgets their newer (pending) commitment');
  if (!closed && nr.current.number < pr.current.number) conflict('remoteCommitments.current.number', 'is older than the commitment in force');
  const known = [pr.current, ...(pr.pending === undefined ? [] : [pr.pending])];
  const incoming: Array<[string, SnapshotCommitment]> = [['remoteCommitments.current', nr.current]];
  if (nr.pending !== undefined) incoming.push(['remoteCommitments.pending', nr.pending]);
  for (const [path, c] of incoming) {
    const k = known.find((x) => x.number === c.number);
    if (k !== undefined && !sameCommitment(k, c)) conflict(path, 'has the number of a known commitment but other contents');
  }
}

