-- The broadcaster's rebroadcast set (src/chain/broadcaster.ts SqliteBroadcastStore), so that our unconfirmed
-- transactions (our commitment first of all) are published again after a restart and on every block until they
-- confirm. A row is deleted when its transaction confirms, is refused for good (script failure) or is forgotten
-- by its owner; a transaction whose input a confirmed conflict spent stays as a record with status 1.
--   status: 0 tracked (rebroadcast each block), 1 conflicted (dropped: conflict_txid confirmed at conflict_height)
CREATE TABLE broadcast_tx (
  txid            TEXT    PRIMARY KEY CHECK (length(txid) = 64 AND txid NOT GLOB '*[^0-9a-f]*'),
  hex             TEXT    NOT NULL CHECK (length(hex) > 0 AND hex NOT GLOB '*[^0-9a-f]*'),
  label           TEXT    NOT NULL,
  seq             INTEGER NOT NULL CHECK (seq >= 0),
  status          INTEGER NOT NULL DEFAULT 0 CHECK (status IN (0, 1)),
  conflict_txid   TEXT    CHECK (conflict_txid IS NULL OR (length(conflict_txid) = 64 AND conflict_txid NOT GLOB '*[^0-9a-f]*')),
  conflict_height INTEGER CHECK (conflict_height >= 0),
  created_at      TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  updated_at      TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  CHECK ((status = 0 AND conflict_txid IS NULL) OR (status = 1 AND conflict_txid IS NOT NULL AND conflict_height IS NOT NULL))
) STRICT;

-- Resolver rows of a close that a reorg removed (ChannelArbitrator rollback, ContractClosed/WaitingFullResolution
-- back to watching the funding output): marked superseded (resolved = 1, superseded_height = the disconnected
-- block's height) in the same transaction as the rollback, never deleted (their reports stay).
ALTER TABLE resolver ADD COLUMN superseded_height INTEGER CHECK (superseded_height >= 0);
