-- What the ChainArbitrator needs to route blocks and reconcile at start without decoding every arbitrator's JSON
-- (restart of 10,000 arbitrators is one SELECT of plain columns):
--   wake_height   the next height at which a block means something to this arbitrator (an HTLC reaching its
--                 go-to-chain cutoff, a seen close reaching its confirmation depth); NULL: only a funding spend
--                 or a node request can wake it.
--   snapshot_seq  the channel_snapshot seq the arbitrator last took in (ChannelUpdated); a newer snapshot row
--                 means the update was stored but not yet delivered (a crash in between), and start-up redelivers it.
ALTER TABLE arbitrator_state ADD COLUMN wake_height INTEGER CHECK (wake_height >= 0);
ALTER TABLE arbitrator_state ADD COLUMN snapshot_seq INTEGER NOT NULL DEFAULT 0 CHECK (snapshot_seq >= 0);
CREATE INDEX arbitrator_state_unresolved ON arbitrator_state (chan_point) WHERE state <> 4;

-- Codes appended since 0002 (open sets, so no table change; src/store/codes.ts pins them):
--   ChannelArbitrator event_kind: 7 CommitmentPublished, 8 Persisted
--   ChannelArbitrator outbox kind: 7 ResolveClose
