/**
 * courtd's own revocation log (migrations/0011; ARCHITECTURE.md "Channel snapshot"): the HTLC set of every remote
 * commitment a stored snapshot gave (their current and pending ones), by commitment number, kept when that
 * commitment is revoked. A breach on a revoked commitment reads its set here, so every HTLC output of it gets its
 * witness script even when the node has long forgotten the HTLC (lnd keeps the same in its revocation log).
 *
 * `logRemoteCommitments` runs inside the transaction that stores the snapshot row (store.ts storeSnapshot): the log
 * and the snapshot are durable together or not at all. A commitment seen again only adds what is new (a union);
 * see the migration for why that is safe.
 */
import type { Db } from '../store/db.js';
import type { SnapshotHtlc, SnapshotUpstream } from './snapshot.js';
import { fromHex } from '../util/bytes.js';

const PATHS = `(SELECT '$.remoteCommitments.current' AS path UNION ALL SELECT '$.remoteCommitments.pending') AS p`;

/**
 * Logs the remote commitments of snapshot row `seq` of `chanPoint` (already inserted in the same transaction):
 * one row per commitment number not yet logged, one per HTLC not yet logged for that number.
 */
export function logRemoteCommitments(db: Db, chanPoint: string, seq: number): void {
  db.prepare(
    `INSERT OR IGNORE INTO revocation_log (chan_point, commitment_number, per_commitment_point, first_seq)
     SELECT s.chan_point, json_extract(s.snapshot, p.path || '.number'), json_extract(s.snapshot, p.path || '.perCommitmentPoint'), s.seq
     FROM channel_snapshot AS s, ${PATHS}
     WHERE s.chan_point = @cp AND s.seq = @seq AND json_type(s.snapshot, p.path) = 'object'`,
  ).run({ cp: chanPoint, seq });
  db.prepare(
    `INSERT OR IGNORE INTO revocation_log_htlc
       (chan_point, commitment_number, direction, htlc_id, payment_hash, amount_msat, cltv_expiry, upstream)
     SELECT s.chan_point, json_extract(s.snapshot, p.path || '.number'), json_extract(h.value, '$.direction'),
            json_extract(h.value, '$.htlcId'), json_extract(h.value, '$.paymentHash'), json_extract(h.value, '$.amountMsat'),
            json_extract(h.value, '$.cltvExpiry'), json_extract(h.value, '$.upstream')
     FROM channel_snapshot AS s, ${PATHS}, json_each(s.snapshot, p.path || '.htlcs') AS h
     WHERE s.chan_point = @cp AND s.seq = @seq AND json_type(s.snapshot, p.path) = 'object'`,
  ).run({ cp: chanPoint, seq });
}

/** One logged commitment: its per-commitment point (hex) and its HTLC set (our view), in a stable order. */
export interface LoggedCommitment {
  readonly number: number;
  readonly perCommitmentPoint: string;
  readonly htlcs: readonly SnapshotHtlc[];
}

/** Their commitment `n` of `chanPoint` as the log holds it, or undefined if no stored snapshot ever gave it. */
export function loggedCommitment(db: Db, chanPoint: string, n: number): LoggedCommitment | undefined {
  const head = db
    .prepare<[string, number], { point: string }>('SELECT per_commitment_point AS point FROM revocation_log WHERE chan_point = ? AND commitment_number = ?')
    .get(chanPoint, n);
  if (head === undefined) return undefined;
  const rows = db
    .prepare<
      [string, number],
      { direction: 'incoming' | 'outgoing'; htlc_id: number; payment_hash: string; amount_msat: string; cltv_expiry: number; upstream: string | null }
    >(
      `SELECT direction, htlc_id, payment_hash, amount_msat, cltv_expiry, upstream FROM revocation_log_htlc
       WHERE chan_point = ? AND commitment_number = ? ORDER BY direction, htlc_id, payment_hash, amount_msat, cltv_expiry`,
    )
    .all(chanPoint, n);
  return {
    number: n,
    perCommitmentPoint: head.point,
    htlcs: rows.map((r) => ({
      htlcId: r.htlc_id,
      direction: r.direction,
      amountMsat: BigInt(r.amount_msat),
      paymentHash: fromHex(r.payment_hash),
      cltvExpiry: r.cltv_expiry,
      ...(r.upstream === null ? {} : { upstream: JSON.parse(r.upstream) as SnapshotUpstream }),
    })),
  };
}
