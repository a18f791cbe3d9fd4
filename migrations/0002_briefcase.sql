-- The briefcase: channels and their snapshots, the arbitrators' state, the generic machine runner's transition log
-- and outbox (src/fsm, src/store/journal.ts), resolvers and their reports, preimages, revocation stores, chain
-- watches and the events courtd owes the node.
--
-- Conventions (ARCHITECTURE.md "Durability", style.md principle 14):
-- * Every persisted enum is an INTEGER with explicit codes listed here and in src/store/codes.ts; a code is never
--   renumbered or reused. Closed sets (arbitrator states, close types, outbox status, watch kinds, initiator, flags)
--   are CHECKed here; open sets that grow with new machines or resolver kinds (event and effect kinds, resolver
--   kinds, node event kinds, report types) are only checked to be non-negative, so adding a code needs no table
--   rebuild.
-- * Amounts are canonical decimal strings of satoshis (TEXT, no sign, no leading zero), read as bigint; never REAL.
-- * JSON payloads are versioned: a JSON object with an integer "v" field (checked with IS, because a CHECK that
--   evaluates to NULL would pass).
-- * Heights are block heights (>= 0); *_at columns are UTC wall-clock markers for operators only, never read by logic.
-- * Tables are STRICT; the transition log is append-only (triggers below).

-- A channel courtd arbitrates, registered by the node (PUT /v1/channels/{chanPoint}). Never deleted: resolved
-- channels stay for history.
--   commitment_type: 0 static_remotekey, 1 anchors (open set: taproot may follow)
--   initiator:       0 local, 1 remote
CREATE TABLE channel (
  chan_point          TEXT    PRIMARY KEY CHECK (
                        length(chan_point) BETWEEN 66 AND 75
                        AND substr(chan_point, 65, 1) = ':'
                        AND substr(chan_point, 1, 64) NOT GLOB '*[^0-9a-f]*'
                        AND substr(chan_point, 66) NOT GLOB '*[^0-9]*'),
  short_channel_id    TEXT,
  capacity_sat        TEXT    NOT NULL CHECK (
                        length(capacity_sat) BETWEEN 1 AND 16
                        AND capacity_sat NOT GLOB '*[^0-9]*'
                        AND (capacity_sat = '0' OR capacity_sat NOT GLOB '0*')),
  commitment_type     INTEGER NOT NULL CHECK (commitment_type >= 0),
  initiator           INTEGER NOT NULL CHECK (initiator IN (0, 1)),
  funding_height_hint INTEGER NOT NULL CHECK (funding_height_hint >= 0),
  created_height      INTEGER CHECK (created_height >= 0),
  created_at          TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;

-- Every snapshot of a channel courtd accepted (checked signatures), numbered 1, 2, 3 ... per channel. The current
-- snapshot is the one with the highest seq (view channel_snapshot_current); earlier rows are history. A refused
-- snapshot is never stored, so "newest" and "current" cannot disagree.
CREATE TABLE channel_snapshot (
  chan_point      TEXT    NOT NULL REFERENCES channel (chan_point),
  seq             INTEGER NOT NULL CHECK (seq >= 1),
  snapshot        TEXT    NOT NULL CHECK (json_valid(snapshot) AND json_type(snapshot, '$.v') IS 'integer'),
  received_height INTEGER CHECK (received_height >= 0),
  created_at      TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  PRIMARY KEY (chan_point, seq)
) STRICT;

CREATE VIEW channel_snapshot_current AS
  SELECT s.* FROM channel_snapshot AS s
  WHERE s.seq = (SELECT MAX(seq) FROM channel_snapshot WHERE chan_point = s.chan_point);

-- The ChannelArbitrator's state row (its machine id is its chan_point). seq is the seq of its last transition-log
-- row (0 before the first), written in the same transaction.
--   state (ARCHITECTURE.md, lnd's ArbitratorState bytes):
--     0 Default, 1 BroadcastCommit, 2 ContractClosed, 3 WaitingFullResolution, 4 FullyResolved, 5 Error,
--     6 CommitmentBroadcasted
--   close_type (NULL until a close is confirmed): 0 coop, 1 local, 2 remote, 3 breach, 4 remotePending
CREATE TABLE arbitrator_state (
  chan_point     TEXT    PRIMARY KEY REFERENCES channel (chan_point),
  state          INTEGER NOT NULL CHECK (state IN (0, 1, 2, 3, 4, 5, 6)),
  close_type     INTEGER CHECK (close_type IN (0, 1, 2, 3, 4)),
  close_height   INTEGER CHECK (close_height >= 0),
  seq            INTEGER NOT NULL CHECK (seq >= 0),
  updated_height INTEGER CHECK (updated_height >= 0),
  reason         TEXT,
  detail         TEXT    NOT NULL CHECK (json_valid(detail) AND json_type(detail, '$.v') IS 'integer'),
  updated_at     TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;

-- State rows of machines without a dedicated table (the sweeper; test machines). machine names the machine
-- definition (Machine.kind); state_code is that machine's persisted state code; seq as in arbitrator_state.
CREATE TABLE machine_state (
  machine_id     TEXT    PRIMARY KEY,
  machine        TEXT    NOT NULL,
  state_code     INTEGER NOT NULL CHECK (state_code >= 0),
  state          TEXT    NOT NULL CHECK (json_valid(state) AND json_type(state, '$.v') IS 'integer'),
  seq            INTEGER NOT NULL CHECK (seq >= 0),
  updated_height INTEGER CHECK (updated_height >= 0),
  updated_at     TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;

-- Every accepted event of every machine (a ChannelArbitrator's machine_id is its chan_point): the audit history
-- behind `court history`. seq runs 1, 2, 3 ... per machine without gaps; from_state/to_state are the machine's
-- state codes, event_kind its event code; payload is the encoded event. Refused events and accepted events that
-- change nothing are not logged.
--   ChannelArbitrator event_kind (src/store/codes.ts ARBITRATOR_EVENT): 0 BlockConnected, 1 BlockDisconnected,
--     2 ChannelUpdated, 3 ForceCloseRequested, 4 CloseConfirmed, 5 ResolverFinished, 6 EffectFailed
CREATE TABLE transition_log (
  machine_id TEXT    NOT NULL,
  seq        INTEGER NOT NULL CHECK (seq >= 1),
  from_state INTEGER NOT NULL CHECK (from_state >= 0),
  event_kind INTEGER NOT NULL CHECK (event_kind >= 0),
  to_state   INTEGER NOT NULL CHECK (to_state >= 0),
  height     INTEGER NOT NULL CHECK (height >= 0),
  payload    TEXT    NOT NULL CHECK (json_valid(payload) AND json_type(payload, '$.v') IS 'integer'),
  created_at TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  PRIMARY KEY (machine_id, seq)
) STRICT;

CREATE TRIGGER transition_log_gapless BEFORE INSERT ON transition_log
WHEN NEW.seq <> COALESCE((SELECT MAX(seq) FROM transition_log WHERE machine_id = NEW.machine_id), 0) + 1
BEGIN
  SELECT RAISE(ABORT, 'transition_log: seq must follow the machine''s last seq without a gap');
END;

CREATE TRIGGER transition_log_no_update BEFORE UPDATE ON transition_log
BEGIN
  SELECT RAISE(ABORT, 'transition_log is append-only');
END;

CREATE TRIGGER transition_log_no_delete BEFORE DELETE ON transition_log
BEGIN
  SELECT RAISE(ABORT, 'transition_log is append-only');
END;

-- Effects of accepted transitions, written in the transition's transaction, executed after its commit, in id
-- order per machine. idx is the effect's position in its transition; kind is the machine's effect code.
-- attempts/last_error record failed executions for operators; a failed row stays pending and runs again on the
-- next resume or retry. Every effect must be idempotent (src/fsm/runner.ts states the contract).
--   status: 0 pending, 1 done
--   ChannelArbitrator kind (src/store/codes.ts ARBITRATOR_EFFECT): 0 BroadcastTx, 1 WatchSpend, 2 WatchConf,
--     3 OfferSweep, 4 NotifyNode, 5 LaunchResolvers, 6 FailHtlcsUpstream
CREATE TABLE outbox (
  id             INTEGER PRIMARY KEY AUTOINCREMENT,
  machine_id     TEXT    NOT NULL,
  seq            INTEGER NOT NULL,
  idx            INTEGER NOT NULL CHECK (idx >= 0),
  kind           INTEGER NOT NULL CHECK (kind >= 0),
  payload        TEXT    NOT NULL CHECK (json_valid(payload) AND json_type(payload, '$.v') IS 'integer'),
  status         INTEGER NOT NULL DEFAULT 0 CHECK (status IN (0, 1)),
  attempts       INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  last_error     TEXT,
  created_height INTEGER NOT NULL CHECK (created_height >= 0),
  created_at     TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  done_at        TEXT,
  CHECK ((status = 0 AND done_at IS NULL) OR (status = 1 AND done_at IS NOT NULL)),
  UNIQUE (machine_id, seq, idx),
  FOREIGN KEY (machine_id, seq) REFERENCES transition_log (machine_id, seq)
) STRICT;

CREATE INDEX outbox_pending ON outbox (machine_id, id) WHERE status = 0;

-- Contract resolvers. A successor (contest -> timeout/success) is a new row, with replaces_id naming its
-- predecessor, inserted in the same transaction that marks the predecessor resolved; the chain of a contract
-- stays visible. At most one unresolved resolver per (channel, outpoint). version counts checkpoints of the row (1 on insert, +1 on each
-- state write); the JSON state carries its own format version "v".
--   kind (lnd's contract type bytes, plus ours): 0 htlcTimeout, 1 htlcSuccess, 2 htlcOutgoingContest,
--        3 htlcIncomingContest, 4 commitSweep, 5 breach, 6 anchor
CREATE TABLE resolver (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  chan_point   TEXT    NOT NULL REFERENCES channel (chan_point),
  outpoint     TEXT    NOT NULL,
  kind         INTEGER NOT NULL CHECK (kind >= 0),
  version      INTEGER NOT NULL CHECK (version >= 1),
  state        TEXT    NOT NULL CHECK (json_valid(state) AND json_type(state, '$.v') IS 'integer'),
  resolved     INTEGER NOT NULL DEFAULT 0 CHECK (resolved IN (0, 1)),
  replaces_id  INTEGER UNIQUE REFERENCES resolver (id),
  created_at   TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  updated_at   TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;

CREATE UNIQUE INDEX resolver_unresolved ON resolver (chan_point, outpoint) WHERE resolved = 0;

-- Resolver reports (spec section 3.11): what happened to each output, one row per stage (a two-stage HTLC has
-- two). Written with the resolver checkpoint that produced it; an upsert on (chan_point, outpoint, stage).
--   report_type: 0 anchor, 1 incomingHtlc, 2 outgoingHtlc, 3 commit, 4 breach
--   outcome:     0 claimed, 1 unclaimed, 2 abandoned, 3 timeout, 4 firstStage
CREATE TABLE resolution_report (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  chan_point  TEXT    NOT NULL REFERENCES channel (chan_point),
  resolver_id INTEGER REFERENCES resolver (id),
  outpoint    TEXT    NOT NULL,
  stage       INTEGER NOT NULL CHECK (stage IN (1, 2)),
  report_type INTEGER NOT NULL CHECK (report_type >= 0),
  outcome     INTEGER NOT NULL CHECK (outcome >= 0),
  amount_sat  TEXT    NOT NULL CHECK (
                length(amount_sat) BETWEEN 1 AND 16
                AND amount_sat NOT GLOB '*[^0-9]*'
                AND (amount_sat = '0' OR amount_sat NOT GLOB '0*')),
  spend_txid  TEXT    CHECK (spend_txid IS NULL OR (length(spend_txid) = 64 AND spend_txid NOT GLOB '*[^0-9a-f]*')),
  height      INTEGER CHECK (height >= 0),
  created_at  TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  UNIQUE (chan_point, outpoint, stage)
) STRICT;

-- Preimages courtd knows, by payment hash (hex). Kept forever: an HTLC may be claimable long after learning it.
--   source: 0 node (POST /v1/preimages), 1 chain (witness of a confirmed spend), 2 mempool (witness of an unconfirmed spend)
CREATE TABLE preimage (
  payment_hash   TEXT    PRIMARY KEY CHECK (length(payment_hash) = 64 AND payment_hash NOT GLOB '*[^0-9a-f]*'),
  preimage       TEXT    NOT NULL CHECK (length(preimage) = 64 AND preimage NOT GLOB '*[^0-9a-f]*'),
  source         INTEGER NOT NULL CHECK (source IN (0, 1, 2)),
  learned_height INTEGER CHECK (learned_height >= 0),
  learned_at     TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;

-- The remote's per-commitment secrets of a channel, in BOLT #3 compact storage (src/ln/shachain.ts
-- ShachainStoreJson, which carries "v").
CREATE TABLE revocation_store (
  chan_point TEXT NOT NULL PRIMARY KEY REFERENCES channel (chan_point),
  shachain   TEXT NOT NULL CHECK (json_valid(shachain) AND json_type(shachain, '$.v') IS 'integer'),
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;

-- Chain watches a machine registered (re-registered with the chain layer on start). target is "txid:vout" for a
-- spend watch and a txid for a confirmation watch; registering the same watch twice is an upsert.
--   kind: 0 spend, 1 conf (num_confs required)
CREATE TABLE watch (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  machine_id  TEXT    NOT NULL,
  kind        INTEGER NOT NULL CHECK (kind IN (0, 1)),
  target      TEXT    NOT NULL,
  height_hint INTEGER NOT NULL CHECK (height_hint >= 0),
  num_confs   INTEGER CHECK (num_confs >= 1),
  created_at  TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  CHECK ((kind = 0 AND num_confs IS NULL) OR (kind = 1 AND num_confs IS NOT NULL)),
  UNIQUE (machine_id, kind, target)
) STRICT;

-- Events courtd owes the node (GET /v1/events?after=ID): id is the stable id for at-least-once delivery.
-- outbox_id, when the event comes from an effect, makes re-running that effect insert nothing new.
--   kind: 0 htlcSettledOnChain, 1 htlcFailedOnChain, 2 channelClosing, 3 breachDetected, 4 justiceConfirmed,
--         5 channelResolved
CREATE TABLE node_event (
  id             INTEGER PRIMARY KEY AUTOINCREMENT,
  chan_point     TEXT    NOT NULL REFERENCES channel (chan_point),
  kind           INTEGER NOT NULL CHECK (kind >= 0),
  payload        TEXT    NOT NULL CHECK (json_valid(payload) AND json_type(payload, '$.v') IS 'integer'),
  created_height INTEGER NOT NULL CHECK (created_height >= 0),
  outbox_id      INTEGER UNIQUE REFERENCES outbox (id),
  created_at     TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;
