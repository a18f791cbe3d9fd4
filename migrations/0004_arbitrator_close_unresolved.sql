-- A close courtd cannot resolve on its own gets a visible, retryable state instead of Error:
--   state 7 CloseUnresolved: the funding output was spent by a transaction courtd could not match to a state it
--   can sweep (our own commitment newer than any snapshot it holds, or an unrecognised spend). The value at
--   stake and the reason are in `reason` / `detail`; a snapshot of that commitment or an operator's retry moves it on.
--   close_type 5 Accepted: such an unrecognised spend that an operator accepted as final.
-- SQLite cannot widen a CHECK in place, so the table is rebuilt with the same columns and rows.
CREATE TABLE arbitrator_state_new (
  chan_point     TEXT    PRIMARY KEY REFERENCES channel (chan_point),
  state          INTEGER NOT NULL CHECK (state IN (0, 1, 2, 3, 4, 5, 6, 7)),
  close_type     INTEGER CHECK (close_type IN (0, 1, 2, 3, 4, 5)),
  close_height   INTEGER CHECK (close_height >= 0),
  seq            INTEGER NOT NULL CHECK (seq >= 0),
  updated_height INTEGER CHECK (updated_height >= 0),
  reason         TEXT,
  detail         TEXT    NOT NULL CHECK (json_valid(detail) AND json_type(detail, '$.v') IS 'integer'),
  updated_at     TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  wake_height    INTEGER CHECK (wake_height >= 0),
  snapshot_seq   INTEGER NOT NULL DEFAULT 0 CHECK (snapshot_seq >= 0)
) STRICT;
INSERT INTO arbitrator_state_new (chan_point, state, close_type, close_height, seq, updated_height, reason, detail, updated_at, wake_height, snapshot_seq)
  SELECT chan_point, state, close_type, close_height, seq, updated_height, reason, detail, updated_at, wake_height, snapshot_seq FROM arbitrator_state;
DROP TABLE arbitrator_state;
ALTER TABLE arbitrator_state_new RENAME TO arbitrator_state;
CREATE INDEX arbitrator_state_unresolved ON arbitrator_state (chan_point) WHERE state <> 4;
