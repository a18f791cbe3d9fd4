-- courtd's own revocation log (ARCHITECTURE.md "Channel snapshot"; issue 11, breach): the HTLC set of every remote
-- commitment (current and pending) any stored snapshot gave, by commitment number, kept when that commitment is
-- revoked, so that justice on a revoked commitment's HTLC outputs never depends on the node still knowing those
-- HTLCs (an HTLC output's witness script commits to its payment hash and, for HTLCs they received, its CLTV).
-- Written in the transaction that stores the snapshot (src/arbitrator/store.ts storeSnapshot) and never rewritten:
-- a commitment seen twice adds only what is new (a union; the breach resolution matches outputs by script and
-- amount, so a candidate that is not on the commitment is never claimed). Rows are kept when a snapshot row is
-- removed again (refused or not taken in): they describe commitments the node signed or was about to.
--   direction: our view (outgoing = we offered), as in the snapshot.
CREATE TABLE revocation_log (
  chan_point           TEXT    NOT NULL REFERENCES channel (chan_point),
  commitment_number    INTEGER NOT NULL CHECK (commitment_number >= 0),
  -- their per-commitment point for that number (hex), as the snapshot gave it
  per_commitment_point TEXT    NOT NULL CHECK (length(per_commitment_point) = 66),
  -- the snapshot seq that first gave it
  first_seq            INTEGER NOT NULL CHECK (first_seq >= 1),
  PRIMARY KEY (chan_point, commitment_number)
) STRICT, WITHOUT ROWID;

CREATE TABLE revocation_log_htlc (
  chan_point        TEXT    NOT NULL,
  commitment_number INTEGER NOT NULL,
  direction         TEXT    NOT NULL CHECK (direction IN ('incoming', 'outgoing')),
  htlc_id           INTEGER NOT NULL CHECK (htlc_id >= 0),
  payment_hash      TEXT    NOT NULL CHECK (length(payment_hash) = 64),
  -- decimal msat (bigint)
  amount_msat       TEXT    NOT NULL,
  cltv_expiry       INTEGER NOT NULL CHECK (cltv_expiry >= 0),
  -- a forwarded outgoing HTLC's upstream {chanPoint, htlcId, cltvExpiry} (JSON), if the snapshot gave one
  upstream          TEXT    CHECK (upstream IS NULL OR json_valid(upstream)),
  PRIMARY KEY (chan_point, commitment_number, direction, htlc_id, payment_hash, amount_msat, cltv_expiry),
  FOREIGN KEY (chan_point, commitment_number) REFERENCES revocation_log (chan_point, commitment_number)
) STRICT, WITHOUT ROWID;

-- Backfill from the snapshots already stored (the same statements storeSnapshot runs for one new row).
INSERT OR IGNORE INTO revocation_log (chan_point, commitment_number, per_commitment_point, first_seq)
  SELECT s.chan_point, json_extract(s.snapshot, p.path || '.number'), json_extract(s.snapshot, p.path || '.perCommitmentPoint'), s.seq
  FROM channel_snapshot AS s,
       (SELECT '$.remoteCommitments.current' AS path UNION ALL SELECT '$.remoteCommitments.pending') AS p
  WHERE json_type(s.snapshot, p.path) = 'object'
  ORDER BY s.chan_point, s.seq;

INSERT OR IGNORE INTO revocation_log_htlc
  (chan_point, commitment_number, direction, htlc_id, payment_hash, amount_msat, cltv_expiry, upstream)
  SELECT s.chan_point, json_extract(s.snapshot, p.path || '.number'), json_extract(h.value, '$.direction'),
         json_extract(h.value, '$.htlcId'), json_extract(h.value, '$.paymentHash'), json_extract(h.value, '$.amountMsat'),
         json_extract(h.value, '$.cltvExpiry'), json_extract(h.value, '$.upstream')
  FROM channel_snapshot AS s,
       (SELECT '$.remoteCommitments.current' AS path UNION ALL SELECT '$.remoteCommitments.pending') AS p,
       json_each(s.snapshot, p.path || '.htlcs') AS h
  WHERE json_type(s.snapshot, p.path) = 'object';
