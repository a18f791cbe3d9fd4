-- courtd's fee wallet (src/wallet, docs/decisions.md D18): BIP84 P2WPKH keys, the UTXOs found in blocks, leases
-- held by sweeps, the transactions the wallet signed inputs of, and alerts (a UTXO spent by a transaction the wallet
-- did not sign for its lease). Amounts are INTEGER sat: at most 21e14, exact in SQLite's 64-bit integers and in a JS
-- number, read into bigint.

-- Every derived key: handed out (issued), or lookahead. The script index (scriptPubKey hex -> path) is loaded from
-- here at start, so no key is derived again.
CREATE TABLE wallet_key (
  chain   INTEGER NOT NULL CHECK (chain IN (0, 1)),           -- 0 receive, 1 change (BIP84)
  idx     INTEGER NOT NULL CHECK (idx >= 0 AND idx < 2147483648),
  pubkey  TEXT    NOT NULL CHECK (length(pubkey) = 66),
  script  TEXT    NOT NULL UNIQUE CHECK (length(script) = 44),  -- P2WPKH scriptPubKey hex
  issued  INTEGER NOT NULL DEFAULT 0 CHECK (issued IN (0, 1)),  -- handed out by newAddress / nextChangeScript
  used    INTEGER NOT NULL DEFAULT 0 CHECK (used IN (0, 1)),    -- an output to it was seen in a block
  PRIMARY KEY (chain, idx)
) WITHOUT ROWID;

-- state: WALLET_UTXO_STATE in src/store/codes.ts: 0 confirmed, 1 unconfirmed, 2 leased, 3 spent.
-- A leased row may be unconfirmed (its block was disconnected); a spent row keeps its lease_id for the record and
-- stays until its spend is 6 blocks deep, so a reorg can restore it.
CREATE TABLE wallet_utxo (
  outpoint     TEXT    PRIMARY KEY,                            -- "txid:vout", display-order txid
  value_sat    INTEGER NOT NULL CHECK (value_sat > 0 AND value_sat <= 2100000000000000),
  script       TEXT    NOT NULL REFERENCES wallet_key (script),
  coinbase     INTEGER NOT NULL DEFAULT 0 CHECK (coinbase IN (0, 1)),
  state        INTEGER NOT NULL CHECK (state IN (0, 1, 2, 3)),
  height       INTEGER,                                        -- block that created it; NULL while unconfirmed
  block_hash   TEXT,
  lease_id     TEXT,
  spent_height INTEGER,
  spent_block  TEXT,
  spent_txid   TEXT,
  CHECK ((height IS NULL) = (block_hash IS NULL)),
  CHECK ((state = 3) = (spent_height IS NOT NULL)),
  CHECK ((spent_height IS NULL) = (spent_block IS NULL) AND (spent_height IS NULL) = (spent_txid IS NULL)),
  CHECK (state <> 0 OR (height IS NOT NULL AND lease_id IS NULL)),
  CHECK (state <> 1 OR (height IS NULL AND lease_id IS NULL)),
  CHECK (state <> 2 OR lease_id IS NOT NULL)
);
CREATE INDEX wallet_utxo_by_state ON wallet_utxo (state, value_sat DESC, outpoint); -- coin selection order
CREATE INDEX wallet_utxo_by_lease ON wallet_utxo (lease_id) WHERE lease_id IS NOT NULL;
CREATE INDEX wallet_utxo_by_height ON wallet_utxo (height) WHERE height IS NOT NULL;
CREATE INDEX wallet_utxo_by_spent ON wallet_utxo (spent_height) WHERE spent_height IS NOT NULL;

-- Every transaction the wallet signed an input of (recorded before signing), with the lease the UTXO was in then:
-- a spend by a txid not here is someone else's; by one signed under another lease, a stale sweep's.
CREATE TABLE wallet_signed (
  outpoint TEXT NOT NULL,
  txid     TEXT NOT NULL,
  lease_id TEXT,
  PRIMARY KEY (outpoint, txid)
) WITHOUT ROWID;

-- Unconfirmed transactions whose outputs the wallet recorded (recordUnconfirmed): the outpoints they spend, so a
-- block confirming a conflicting spend drops their outputs.
CREATE TABLE wallet_pending_tx (
  txid     TEXT NOT NULL,
  spends   TEXT NOT NULL,                                      -- "txid:vout" of one input
  PRIMARY KEY (txid, spends)
) WITHOUT ROWID;
CREATE INDEX wallet_pending_tx_by_spends ON wallet_pending_tx (spends);

-- kind: WALLET_ALERT in src/store/codes.ts: 0 spent by a transaction the wallet never signed, 1 spent by a
-- transaction signed under another (released) lease.
CREATE TABLE wallet_alert (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  kind       INTEGER NOT NULL CHECK (kind IN (0, 1)),
  outpoint   TEXT    NOT NULL,
  lease_id   TEXT,
  txid       TEXT    NOT NULL,
  height     INTEGER NOT NULL,
  block_hash TEXT    NOT NULL,
  UNIQUE (outpoint, txid, block_hash)
);

-- The last block the wallet handled (coinbase maturity, and the depth of spends).
CREATE TABLE wallet_tip (
  id     INTEGER PRIMARY KEY CHECK (id = 1),
  height INTEGER NOT NULL,
  hash   TEXT                                                  -- NULL after a disconnect (the parent's hash is not delivered)
);
