-- A snapshot the node sends to answer an unresolved close (the snapshot of the commitment of ours that confirmed,
-- possibly older than the one in force) is kept apart: answers_close = 1. It is read by its seq to classify that
-- close, and never stands as the channel's current snapshot, so that a reorg that reopens the channel, the
-- payment-hash index and every later check use the newest snapshot the arbitrator accepted, never an older (and
-- possibly revoked) commitment of ours.
ALTER TABLE channel_snapshot ADD COLUMN answers_close INTEGER NOT NULL DEFAULT 0 CHECK (answers_close IN (0, 1));
DROP VIEW channel_snapshot_current;
CREATE VIEW channel_snapshot_current AS
  SELECT s.* FROM channel_snapshot AS s
  WHERE s.answers_close = 0
    AND s.seq = (SELECT MAX(seq) FROM channel_snapshot WHERE chan_point = s.chan_point AND answers_close = 0);
