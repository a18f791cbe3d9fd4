-- The sweeper (src/sweep): every input an owner offered, with its spec and state, every set of inputs swept
-- together with its fee function and wallet lease, every transaction version published for a set, and the
-- results owed to owners until they ack them. Written before anything is broadcast (record, then publish), so a
-- restart finds every sweep it may have published and continues each set's fee function from its parameters.
--   sweep_input.state: 0 pending, 1 published, 2 swept, 3 spentByOther, 4 excluded, 5 failed
--   sweep_tx.status:   0 live, 1 replaced, 2 confirmed, 3 final, 4 dead
-- Amounts are integer sat, fee rates integer sat/kw. next_height is when the runner must next look at a row
-- (NULL: only an event wakes it), so a block touches only the rows due at its height.
CREATE TABLE sweep_set (
  id              INTEGER PRIMARY KEY,
  lease_id        TEXT    UNIQUE,
  -- the wallet script every version of the set pays its change to (hex scriptPubKey)
  change_script   TEXT    NOT NULL,
  deadline        INTEGER NOT NULL CHECK (deadline >= 0),
  locktime        INTEGER NOT NULL CHECK (locktime >= 0),
  start_feerate   INTEGER NOT NULL CHECK (start_feerate >= 0),
  end_feerate     INTEGER NOT NULL CHECK (end_feerate >= 0),
  start_height    INTEGER NOT NULL CHECK (start_height >= 0),
  -- 0 open (has or will have a live tx), 1 closed (final, dissolved or abandoned)
  closed          INTEGER NOT NULL DEFAULT 0 CHECK (closed IN (0, 1)),
  next_height     INTEGER CHECK (next_height >= 0),
  reason          TEXT,
  -- 1 from just before the wallet is asked for the lease until it is released (start-up releases leftovers)
  lease_held      INTEGER NOT NULL DEFAULT 0 CHECK (lease_held IN (0, 1)),
  created_at      TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;
CREATE INDEX sweep_set_lease ON sweep_set (id) WHERE lease_held = 1 AND closed = 1;
CREATE INDEX sweep_set_next ON sweep_set (next_height) WHERE next_height IS NOT NULL AND closed = 0;

CREATE TABLE sweep_tx (
  txid            TEXT    PRIMARY KEY CHECK (length(txid) = 64 AND txid NOT GLOB '*[^0-9a-f]*'),
  set_id          INTEGER NOT NULL REFERENCES sweep_set (id),
  version         INTEGER NOT NULL CHECK (version >= 0),
  hex             TEXT    NOT NULL CHECK (length(hex) > 0 AND hex NOT GLOB '*[^0-9a-f]*'),
  fee_sat         INTEGER NOT NULL CHECK (fee_sat >= 0),
  feerate         INTEGER NOT NULL CHECK (feerate >= 0),
  weight          INTEGER NOT NULL CHECK (weight > 0),
  -- JSON array of the swept outpoints (wallet inputs excluded), in input order
  inputs          TEXT    NOT NULL,
  -- JSON array of the leased wallet outpoints spent
  wallet_inputs   TEXT    NOT NULL DEFAULT '[]',
  publish_height  INTEGER NOT NULL CHECK (publish_height >= 0),
  status          INTEGER NOT NULL DEFAULT 0 CHECK (status IN (0, 1, 2, 3, 4)),
  confirm_height  INTEGER CHECK (confirm_height >= 0),
  confirm_hash    TEXT,
  UNIQUE (set_id, version)
) STRICT;
CREATE INDEX sweep_tx_set ON sweep_tx (set_id, status);

CREATE TABLE sweep_input (
  outpoint        TEXT    PRIMARY KEY,
  owner           TEXT    NOT NULL,
  chan_point      TEXT,
  spec            TEXT    NOT NULL,
  state           INTEGER NOT NULL DEFAULT 0 CHECK (state IN (0, 1, 2, 3, 4, 5)),
  offer_height    INTEGER NOT NULL CHECK (offer_height >= 0),
  -- operator's starting rate (bump), sat/kw
  start_feerate   INTEGER CHECK (start_feerate >= 0),
  set_id          INTEGER REFERENCES sweep_set (id),
  next_height     INTEGER CHECK (next_height >= 0),
  reason          TEXT,
  spend_txid      TEXT,
  spend_height    INTEGER CHECK (spend_height >= 0),
  spend_hash      TEXT,
  spend_hex       TEXT,
  publish_count   INTEGER NOT NULL DEFAULT 0 CHECK (publish_count >= 0),
  -- fee rate of the last published sweep holding it, sat/kw: where a re-clustered input starts again
  last_feerate    INTEGER CHECK (last_feerate >= 0),
  updated_at      TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;
CREATE INDEX sweep_input_next ON sweep_input (next_height) WHERE next_height IS NOT NULL;
CREATE INDEX sweep_input_set ON sweep_input (set_id) WHERE set_id IS NOT NULL;
CREATE INDEX sweep_input_chan ON sweep_input (chan_point) WHERE chan_point IS NOT NULL;

-- Results owed to owners (SweepResult as JSON), delivered at least once until acked.
CREATE TABLE sweep_result (
  seq             INTEGER PRIMARY KEY AUTOINCREMENT,
  outpoint        TEXT    NOT NULL UNIQUE REFERENCES sweep_input (outpoint),
  owner           TEXT    NOT NULL,
  payload         TEXT    NOT NULL,
  acked           INTEGER NOT NULL DEFAULT 0 CHECK (acked IN (0, 1)),
  created_at      TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;
CREATE INDEX sweep_result_unacked ON sweep_result (owner, seq) WHERE acked = 0;
