/**
 * The channel snapshot (ARCHITECTURE.md "Channel snapshot"): what the node tells courtd about one channel, and
 * the checks that make courtd trust it. Split by concern under snapshot/:
 *
 *  - snapshot/types.ts: the parsed form, its JSON form, a checked snapshot.
 *  - snapshot/wire.ts: the typebox wire schema (the HTTP API validates PUT /v1/channels/{chanPoint} with it and
 *    documents it in OpenAPI), `parseSnapshot` (schema, then the checks a schema cannot express; refusals are
 *    COURT_E_SNAPSHOT_INVALID naming the field path) and the canonical `snapshotJson`.
 *  - snapshot/check.ts: `checkSnapshot` rebuilds our latest commitment with src/ln and verifies the remote's
 *    commitment signature and every HTLC signature (COURT_E_SNAPSHOT_SIGNATURE naming the one that fails), then
 *    builds the remote's current and pending commitments so their txids are known to the classifier.
 *  - snapshot/update.ts: `checkSnapshotUpdate` refuses a snapshot that contradicts the one in force.
 *  - snapshot/project.ts: `commitSetFacts` / `classifierView` project a checked snapshot into what the
 *    arbitrator and the close classifier consume.
 *
 * View conventions (regtest/sim-snapshot.ts): every commitment is described from OUR view. `toLocalMsat` is our
 * balance and `toRemoteMsat` theirs on every commitment, HTLC directions are ours (outgoing = we offered), and
 * balances are before commitment fee and anchors. Signatures are 64-byte compact (r || s); the sighash type of the
 * HTLC signatures follows from the commitment type (ALL, or SINGLE|ANYONECANPAY on anchor channels).
 *
 * Whose delay is whose: `local.toSelfDelay` is the CSV the peer imposes on OUR to_local (and our second-level
 * outputs), so it goes into our commitment; `remote.toSelfDelay` is the CSV we impose on THEIRS, so it goes into
 * their commitments. Likewise each side's dust limit applies to its own commitment.
 *
 * Assumptions: commitments the peer signed are honoured as BOLT #3 builds them, even when the funder cannot pay
 * the fee (`funderShortfall: 'allow'`, decision D3). Local and remote commitment numbers are independent counters
 * (BOLT #2); only `remoteCommitments.pending.number = current.number + 1` is required.
 *
 * Pure: no I/O, no clock. Error messages name fields, indexes and codes, never keys, points or signatures.
 */
export type * from './snapshot/types.js';
export { checkSnapshot, ourBasepointsFrom } from './snapshot/check.js';
export { checkSnapshotUpdate } from './snapshot/update.js';
export { classifierView, commitSetFacts, htlcFact, staticToRemoteSpk } from './snapshot/project.js';
export { ChannelSnapshotSchema, checkSnapshotShape, parseSnapshot, snapshotJson, type ChannelSnapshotWire } from './snapshot/wire.js';
