-- Chain layer: the block dispatcher's log of the last delivered blocks (src/chain/block-log.ts).
-- One row per connected block of our best chain, contiguous heights, pruned to the newest 100.
CREATE TABLE chain_block_log (
  height INTEGER PRIMARY KEY CHECK (height >= 0),
  hash   TEXT    NOT NULL CHECK (length(hash) = 64)
) STRICT;
