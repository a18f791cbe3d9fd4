-- Routing of preimages (issue 9 item 4): which channels carry an HTLC with a payment hash, so a preimage learned
-- while a channel is quiet reaches it at once without a scan of all channels. Written in the same transaction as
-- each stored snapshot (the channel's rows are replaced by the hashes of its new snapshot: our commitment, their
-- current and their pending one) and rebuilt from the current snapshot when a refused snapshot is removed.
-- Rows of a resolved channel are harmless: routing skips channels the ChainArbitrator no longer holds.
CREATE TABLE htlc_payment_hash (
  payment_hash TEXT NOT NULL CHECK (length(payment_hash) = 64 AND payment_hash NOT GLOB '*[^0-9a-f]*'),
  chan_point   TEXT NOT NULL REFERENCES channel (chan_point),
  PRIMARY KEY (payment_hash, chan_point)
) STRICT, WITHOUT ROWID;
CREATE INDEX htlc_payment_hash_by_channel ON htlc_payment_hash (chan_point);

-- Codes appended since 0003 (open sets, so no table change; src/store/codes.ts pins them):
--   ChannelArbitrator event_kind: 10 PreimageLearned (9 is reserved for another change in flight)
-- Existing channels get their rows from their current snapshot here.
INSERT OR IGNORE INTO htlc_payment_hash (payment_hash, chan_point)
  SELECT json_extract(h.value, '$.paymentHash'), s.chan_point
  FROM channel_snapshot_current AS s,
       (SELECT '$.localCommitment.htlcs' AS path UNION ALL SELECT '$.remoteCommitments.current.htlcs' UNION ALL SELECT '$.remoteCommitments.pending.htlcs') AS p,
       json_each(s.snapshot, p.path) AS h;
