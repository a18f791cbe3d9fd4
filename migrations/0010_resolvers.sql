-- The contract resolvers (src/resolvers): resolver rows of migrations/0002 hold the resolvers' own JSON values
-- (format "v": 2 once a resolver has run; the arbitrator inserts "v": 1 records) and resolution_report their
-- reports. What this adds:
--   resolver_node_key  the stable key of every node event a resolver emitted (htlc settled on chain with the
--                      preimage, htlc failed on chain), so that the event is inserted once whatever re-runs:
--                      "settled:<outpoint>" for a preimage the peer revealed (first from the mempool, then again
--                      when its spend confirms: one event), "failed:<outpoint>" for a timeout made final.
--   resolution_report.fee_sat  the fee our sweep paid for that output, when the sweeper reported it.
CREATE TABLE resolver_node_key (
  key            TEXT    PRIMARY KEY,
  node_event_id  INTEGER NOT NULL REFERENCES node_event (id),
  created_at     TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT, WITHOUT ROWID;

ALTER TABLE resolution_report ADD COLUMN fee_sat TEXT CHECK (fee_sat IS NULL OR (length(fee_sat) BETWEEN 1 AND 16 AND fee_sat NOT GLOB '*[^0-9]*'));

CREATE INDEX resolver_live ON resolver (chan_point, id) WHERE resolved = 0;
