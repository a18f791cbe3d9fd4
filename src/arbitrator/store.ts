/**
 * The ChannelArbitrator's rows in the briefcase: its state table (arbitrator_state, with the columns operators and
 * the ChainArbitrator read without decoding JSON), the record sink that inserts resolver rows inside the step that
 * enters WaitingFullResolution, and the bulk start-up read (one read transaction for every unresolved channel).
 */
import type { JsonObject } from '../fsm/index.js';
import { ShachainStore } from '../ln/shachain.js';
import { ARBITRATOR_STATE, CLOSE_TYPE, COMMITMENT_TYPE, INITIATOR, NODE_EVENT_KIND, OUTBOX_STATUS, RESOLVER_KIND, type CloseTypeCode } from '../store/codes.js';
import type { Db } from '../store/db.js';
import type { RecordSink } from '../store/journal.js';
import type { StateTable } from '../store/state-table.js';
import { CourtError } from '../util/errors.js';
import { wakeHeight } from './channel/transition.js';
import { logRemoteCommitments } from './revocation-log.js';
import { stateCodec, type ArbState, type ResolverRecord, type SupersedeRecord } from './channel/types.js';
import type { ChannelSnapshot } from './snapshot.js';
import type { CloseType } from './types.js';

const CLOSE_CODE: Readonly<Record<CloseType, CloseTypeCode | null>> = {
  coop: CLOSE_TYPE.Coop,
  local: CLOSE_TYPE.Local,
  remote: CLOSE_TYPE.Remote,
  remotePending: CLOSE_TYPE.RemotePending,
  breach: CLOSE_TYPE.Breach,
  future: CLOSE_TYPE.Remote, // a remote commitment from a state we do not know: lnd files it as a remote close
  accepted: CLOSE_TYPE.Accepted,
};

/** The plain columns derived from a state. */
export function stateColumns(s: ArbState): { closeType: number | null; closeHeight: number | null; reason: string | null; wake: number | null; snapshotSeq: number } {
  const close = 'close' in s ? s.close : undefined;
  const facts = s.kind === 'CloseUnresolved' ? (s.answer ?? s.prior.facts) : 'facts' in s ? s.facts : undefined;
  return {
    closeType: close === undefined ? null : CLOSE_CODE[close.type],
    // An unresolved close's spend height too: start-up watches its funding output from there.
    closeHeight: close?.height ?? (s.kind === 'CloseUnresolved' ? s.spend.height : null),
    reason: reasonOf(s),
    wake: wakeHeight(s) ?? null,
    snapshotSeq: facts?.snapshotSeq ?? 0,
  };
}

/** What an operator reads in arbitrator_state.reason. */
function reasonOf(s: ArbState): string | null {
  switch (s.kind) {
    case 'Error':
      return s.reason;
    case 'BroadcastCommit':
      return s.lastError ?? null;
    case 'CloseUnresolved':
      return `${s.unresolved.reason}; up to ${s.unresolved.valueAtRiskSat} sat at risk`;
    default:
      return null;
  }
}

/** arbitrator_state as the runner's state table (machine id = channel point). */
export const arbitratorStateTable: StateTable = (db) => {
  const select = db.prepare<[string], { seq: number; detail: string }>('SELECT seq, detail FROM arbitrator_state WHERE chan_point = ?');
  const insert = db.prepare(
    `INSERT INTO arbitrator_state (chan_point, state, close_type, close_height, seq, updated_height, reason, detail, wake_height, snapshot_seq)
     VALUES (@id, @code, @closeType, @closeHeight, @seq, @height, @reason, @detail, @wake, @snapshotSeq)
     ON CONFLICT (chan_point) DO NOTHING`,
  );
  const update = db.prepare(
    `UPDATE arbitrator_state
     SET state = @code, close_type = @closeType, close_height = @closeHeight, seq = @seq, updated_height = @height, reason = @reason,
         detail = @detail, wake_height = @wake, snapshot_seq = @snapshotSeq, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
     WHERE chan_point = @id AND seq = @seq - 1`,
  );
  return {
    read(machineId) {
      const row = select.get(machineId);
      return row === undefined ? undefined : { seq: row.seq, state: JSON.parse(row.detail) };
    },
    write(r) {
      const cols = stateColumns(stateCodec.decode(r.state));
      const params = { id: r.machineId, code: r.stateCode, seq: r.seq, height: r.height, detail: JSON.stringify(r.state), ...cols };
      const changes = (r.seq === 1 ? insert : update).run(params).changes;
      if (changes !== 1) throw new CourtError('COURT_E_FSM_SEQ', `arbitrator_state of ${r.machineId} is not at seq ${r.seq - 1}`, { seq: r.seq });
    },
  };
};

const KIND_CODE: Readonly<Record<ResolverRecord['kind'], number>> = {
  htlcTimeout: RESOLVER_KIND.HtlcTimeout,
  htlcSuccess: RESOLVER_KIND.HtlcSuccess,
  htlcOutgoingContest: RESOLVER_KIND.HtlcOutgoingContest,
  htlcIncomingContest: RESOLVER_KIND.HtlcIncomingContest,
  commitSweep: RESOLVER_KIND.CommitSweep,
  breach: RESOLVER_KIND.Breach,
  anchor: RESOLVER_KIND.Anchor,
};

/**
 * Writes the records a step carries (machine id = channel point): resolver rows to insert, or a SupersedeRecord
 * that marks every live resolver row of the channel (those of the close a reorg removed) resolved and superseded.
 */
export const resolverRecordSink: RecordSink = (db) => {
  const insert = db.prepare<[string, string, number, string]>('INSERT INTO resolver (chan_point, outpoint, kind, version, state) VALUES (?, ?, ?, 1, ?)');
  const supersede = db.prepare<[number, string]>(
    `UPDATE resolver SET resolved = 1, superseded_height = ?, version = version + 1, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
     WHERE chan_point = ? AND superseded_height IS NULL`,
  );
  return (at, records) => {
    for (const rec of records as readonly (ResolverRecord | SupersedeRecord)[]) {
      if (rec.kind === 'supersedeResolvers') {
        if (rec.v !== 1) throw new CourtError('COURT_E_FSM_DECODE', 'unknown supersede record version');
        supersede.run(rec.height, at.machineId);
        continue;
      }
      const code = KIND_CODE[rec.kind];
      if (rec.v !== 1 || code === undefined) throw new CourtError('COURT_E_FSM_DECODE', `unknown resolver record ${String(rec.kind)}`);
      insert.run(at.machineId, rec.outpoint, code, JSON.stringify(rec.state));
    }
  };
};

/** A resolver row as stored. */
export interface ResolverRow {
  readonly id: number;
  readonly outpoint: string;
  readonly kind: number;
  readonly state: JsonObject;
  readonly resolved: boolean;
}

/** The channel's live resolver rows in insertion order (rows a reorg superseded are left out). */
export function resolverRows(db: Db, chanPoint: string): ResolverRow[] {
  return db
    .prepare<[string], { id: number; outpoint: string; kind: number; state: string; resolved: number }>(
      'SELECT id, outpoint, kind, state, resolved FROM resolver WHERE chan_point = ? AND superseded_height IS NULL ORDER BY id',
    )
    .all(chanPoint)
    .map((r) => ({ id: r.id, outpoint: r.outpoint, kind: r.kind, state: JSON.parse(r.state), resolved: r.resolved === 1 }));
}

/** Resolver rows a reorg superseded (the close they belonged to left the chain), in insertion order. */
export function supersededResolverRows(db: Db, chanPoint: string): Array<{ outpoint: string; height: number }> {
  return db
    .prepare<[string], { outpoint: string; height: number }>(
      'SELECT outpoint, superseded_height AS height FROM resolver WHERE chan_point = ? AND superseded_height IS NOT NULL ORDER BY id',
    )
    .all(chanPoint);
}

/** One unresolved channel as the ChainArbitrator loads it at start (plain columns only, no JSON decoded). */
export interface StartRow {
  readonly chanPoint: string;
  readonly state: number;
  readonly wake: number | null;
  /** Whether the arbitrator has outbox rows still pending. */
  readonly pending: boolean;
  /** Where to look for the funding spend: the close's height once one is confirmed, else the snapshot's hint. */
  readonly spendHint: number;
  /** arbitrator_state.close_type (null until a close is confirmed). */
  readonly closeType: number | null;
}

/**
 * Every arbitrator not FullyResolved, and FullyResolved ones whose last effects (the channelResolved event) are
 * still pending, in one read transaction: one scan of arbitrator_state and one of the (normally empty) pending
 * outbox index.
 */
export function loadStartRows(db: Db): StartRow[] {
  return db.transaction(() => {
    const pending = new Set(
      db.prepare<[number], { machine_id: string }>('SELECT DISTINCT machine_id FROM outbox WHERE status = ?').all(OUTBOX_STATUS.Pending).map((r) => r.machine_id),
    );
    const rows = db
      .prepare<[], { chan_point: string; state: number; wake_height: number | null; hint: number; close_type: number | null }>(
        `SELECT a.chan_point, a.state, a.wake_height, COALESCE(a.close_height, c.funding_height_hint) AS hint, a.close_type
         FROM arbitrator_state a JOIN channel c ON c.chan_point = a.chan_point`,
      )
      .raw(false)
      .all();
    const out: StartRow[] = [];
    for (const r of rows) {
      const p = pending.has(r.chan_point);
      if (r.state !== ARBITRATOR_STATE.FullyResolved || p) out.push({ chanPoint: r.chan_point, state: r.state, wake: r.wake_height, pending: p, spendHint: r.hint, closeType: r.close_type });
    }
    return out;
  })();
}

/**
 * Channels whose newest stored snapshot the arbitrator has not taken in (a crash between storing it and
 * delivering ChannelUpdated), among those still open or never started. Read after start-up, off its path.
 */
export function staleSnapshots(db: Db): Array<{ chanPoint: string; seq: number }> {
  return db
    .prepare<[number], { chan_point: string; seq: number }>(
      `SELECT s.chan_point, MAX(s.seq) AS seq FROM channel_snapshot s LEFT JOIN arbitrator_state a ON a.chan_point = s.chan_point
       WHERE (a.state IS NULL OR a.state = ?) AND s.answers_close = 0 GROUP BY s.chan_point HAVING MAX(s.seq) > COALESCE(MAX(a.snapshot_seq), 0)`,
    )
    .all(ARBITRATOR_STATE.Default)
    .map((r) => ({ chanPoint: r.chan_point, seq: r.seq }));
}

/** Snapshot row `seq` of a channel (its JSON), or undefined. */
export function snapshotAt(db: Db, chanPoint: string, seq: number): string | undefined {
  return db.prepare<[string, number], { snapshot: string }>('SELECT snapshot FROM channel_snapshot WHERE chan_point = ? AND seq = ?').get(chanPoint, seq)?.snapshot;
}

/** Records a node event owed by an effect (outbox row `outboxId`): running the effect again inserts nothing. */
export function insertNodeEvent(db: Db, chanPoint: string, kind: number, payload: string, height: number, outboxId: number): void {
  db.prepare<[string, number, string, number, number]>(
    'INSERT INTO node_event (chan_point, kind, payload, created_height, outbox_id) VALUES (?, ?, ?, ?, ?) ON CONFLICT (outbox_id) DO NOTHING',
  ).run(chanPoint, kind, payload, height, outboxId);
}

/** The channel's snapshot in force (the newest stored), or undefined if none was accepted. */
export function currentSnapshot(db: Db, chanPoint: string): { seq: number; snapshot: string } | undefined {
  return db.prepare<[string], { seq: number; snapshot: string }>('SELECT seq, snapshot FROM channel_snapshot_current WHERE chan_point = ?').get(chanPoint);
}

/**
 * Stores an accepted snapshot as the channel's next one, in one IMMEDIATE transaction: the `channel` row on the
 * first snapshot, the snapshot row, its remote commitments' HTLC sets in the revocation log (revocation-log.ts); `checkUpdate(previous JSON)` runs inside the transaction against the one in force and may throw
 * (nothing is stored then). Returns the new seq.
 */
export function storeSnapshot(
  db: Db,
  snap: ChannelSnapshot,
  json: object,
  height: number,
  checkUpdate: (previous: unknown) => void,
  opts: { readonly answersClose?: boolean; readonly spendHint?: number } = {},
): number {
  return db
    .transaction(() => {
      const prev = currentSnapshot(db, snap.chanPoint);
      if (prev === undefined) {
        // The channel's first accepted snapshot (a row left by a snapshot refused before is brought up to date).
        db.prepare(
          `INSERT INTO channel (chan_point, short_channel_id, capacity_sat, commitment_type, initiator, funding_height_hint, created_height)
           VALUES (?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (chan_point) DO UPDATE SET short_channel_id = excluded.short_channel_id, capacity_sat = excluded.capacity_sat,
             commitment_type = excluded.commitment_type, initiator = excluded.initiator, funding_height_hint = excluded.funding_height_hint`,
        ).run(
          snap.chanPoint,
          snap.shortChannelId ?? null,
          snap.capacitySat.toString(),
          snap.commitmentType === 'anchors' ? COMMITMENT_TYPE.Anchors : COMMITMENT_TYPE.StaticRemoteKey,
          snap.initiator === 'local' ? INITIATOR.Local : INITIATOR.Remote,
          opts.spendHint ?? snap.fundingHeightHint,
          height,
        );
      } else {
        checkUpdate(JSON.parse(prev.snapshot));
      }
      const last = db.prepare<[string], { seq: number | null }>('SELECT MAX(seq) AS seq FROM channel_snapshot WHERE chan_point = ?').get(snap.chanPoint)?.seq;
      const next = (last ?? 0) + 1;
      db.prepare('INSERT INTO channel_snapshot (chan_point, seq, snapshot, received_height, answers_close) VALUES (?, ?, ?, ?, ?)').run(
        snap.chanPoint,
        next,
        JSON.stringify(json),
        height,
        opts.answersClose === true ? 1 : 0,
      );
      // courtd's revocation log: their commitments' HTLC sets, durable with the snapshot that gave them.
      logRemoteCommitments(db, snap.chanPoint, next);
      reindexPaymentHashes(db, snap.chanPoint);
      return next;
    })
    .immediate();
}

/**
 * Start-up: removes the snapshot rows a broadcasting arbitrator never took in (stored by an update that was refused
 * because the channel was going on chain, with a crash before its removal), so that none stands as the current
 * snapshot. Only BroadcastCommit and CommitmentBroadcasted hold the seq of the snapshot they took in: closed states
 * keep no facts (snapshot_seq 0) and their rows must stay. Default channels' rows are redelivered instead
 * (staleSnapshots).
 */
export function dropUntakenSnapshots(db: Db): number {
  return db.transaction(() => {
    const rows = db
      .prepare<[number, number], { chan_point: string; seq: number }>(
        `SELECT s.chan_point, s.seq FROM channel_snapshot s JOIN arbitrator_state a ON a.chan_point = s.chan_point
         WHERE a.state IN (?, ?) AND a.snapshot_seq > 0 AND s.answers_close = 0 AND s.seq > a.snapshot_seq`,
      )
      .all(ARBITRATOR_STATE.BroadcastCommit, ARBITRATOR_STATE.CommitmentBroadcasted);
    for (const r of rows) dropUntakenSnapshot(db, r.chan_point, r.seq);
    return rows.length;
  })();
}

/**
 * Removes snapshot row `seq` of a channel that the arbitrator did not take in (refused, or not delivered), so it
 * never stands as the current one. Guarded by arbitrator_state.snapshot_seq in the statement itself: a row the
 * arbitrator did take in is never removed.
 */
export function dropUntakenSnapshot(db: Db, chanPoint: string, seq: number): void {
  db.transaction(() => {
    const removed = db
      .prepare(
        `DELETE FROM channel_snapshot WHERE chan_point = @cp AND seq = @seq
           AND @seq > COALESCE((SELECT snapshot_seq FROM arbitrator_state WHERE chan_point = @cp), 0)`,
      )
      .run({ cp: chanPoint, seq }).changes;
    if (removed > 0) reindexPaymentHashes(db, chanPoint);
  }).immediate();
}

/**
 * Stores a preimage by its payment hash (idempotent: the first source is kept) and returns the channels whose
 * current snapshot carries that hash (the payment-hash index), in one transaction.
 */
export function storePreimage(db: Db, paymentHash: string, preimageHex: string, source: number, height: number): string[] {
  return db
    .transaction(() => {
      db.prepare('INSERT INTO preimage (payment_hash, preimage, source, learned_height) VALUES (?, ?, ?, ?) ON CONFLICT (payment_hash) DO NOTHING').run(
        paymentHash,
        preimageHex,
        source,
        height,
      );
      return channelsByPaymentHash(db, paymentHash);
    })
    .immediate();
}

/** Where the channel's funding spend watch starts (the first snapshot's hint, corrected by the funding check). */
export function channelSpendHint(db: Db, chanPoint: string): number | undefined {
  return db.prepare<[string], { h: number }>('SELECT funding_height_hint AS h FROM channel WHERE chan_point = ?').get(chanPoint)?.h;
}

/** The payment hashes among `hashes` whose preimage courtd holds, sorted. */
export function knownPreimages(db: Db, hashes: readonly string[]): string[] {
  const stmt = db.prepare<[string], { payment_hash: string }>('SELECT payment_hash FROM preimage WHERE payment_hash = ?');
  return hashes.filter((h) => stmt.get(h) !== undefined).sort();
}

/** Adds a remote per-commitment secret to the channel's revocation store, in one IMMEDIATE transaction. */
export function addRevocationSecret(db: Db, chanPoint: string, insert: (store: ShachainStore) => void): void {
  db.transaction(() => {
    const store = loadRevocations(db, chanPoint);
    insert(store);
    db.prepare(
      `INSERT INTO revocation_store (chan_point, shachain) VALUES (?, ?)
       ON CONFLICT (chan_point) DO UPDATE SET shachain = excluded.shachain, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')`,
    ).run(chanPoint, JSON.stringify(store.serialize()));
  }).immediate();
}

/** Ids of the channel's outgoing HTLCs already failed back upstream (FailHtlcsUpstream node events), ascending. */
export function failedUpstream(db: Db, chanPoint: string): number[] {
  return db
    .prepare<[string, number], { id: number }>(
      `SELECT DISTINCT json_extract(payload, '$.htlcId') AS id FROM node_event
       WHERE chan_point = ? AND kind = ? AND json_extract(payload, '$.upstream') = 1 AND json_extract(payload, '$.direction') = 'outgoing'
       ORDER BY id`,
    )
    .all(chanPoint, NODE_EVENT_KIND.HtlcFailedOnChain)
    .map((r) => r.id);
}

/** The channel's store of remote per-commitment secrets (empty if none arrived yet). */
export function loadRevocations(db: Db, chanPoint: string): ShachainStore {
  const row = db.prepare<[string], { shachain: string }>('SELECT shachain FROM revocation_store WHERE chan_point = ?').get(chanPoint);
  return row === undefined ? new ShachainStore() : ShachainStore.deserialize(JSON.parse(row.shachain));
}

/** What courtd was told of their commitment `n`: the newest remote number it holds, and n's per-commitment point. */
export interface RemoteCommitmentKnowledge {
  /** Their newest commitment number courtd was given (pending, else current), undefined before any snapshot. */
  readonly newest: number | undefined;
  /** The per-commitment point (hex) a stored snapshot gave for number n, if any did. */
  readonly point: string | undefined;
}

/**
 * Reads what the snapshots say of their commitment `n`. The newest snapshot is read first and numbers only grow,
 * so a revocation for a recent commitment reads one or two rows.
 */
export function remoteCommitmentKnowledge(db: Db, chanPoint: string, n: number): RemoteCommitmentKnowledge {
  // The current snapshot holds their newest commitment (a snapshot answering an unresolved close is never current).
  const newest = db
    .prepare<[string], { n: number | null }>(
      `SELECT COALESCE(json_extract(snapshot, '$.remoteCommitments.pending.number'), json_extract(snapshot, '$.remoteCommitments.current.number')) AS n
       FROM channel_snapshot_current WHERE chan_point = ?`,
    )
    .get(chanPoint)?.n;
  const row = db
    .prepare<[{ n: number; cp: string }], { point: string | null }>(
      `SELECT CASE WHEN json_extract(snapshot, '$.remoteCommitments.current.number') = @n
                   THEN json_extract(snapshot, '$.remoteCommitments.current.perCommitmentPoint')
                   ELSE json_extract(snapshot, '$.remoteCommitments.pending.perCommitmentPoint') END AS point
       FROM channel_snapshot WHERE chan_point = @cp
         AND (json_extract(snapshot, '$.remoteCommitments.current.number') = @n OR json_extract(snapshot, '$.remoteCommitments.pending.number') = @n)
       ORDER BY seq DESC LIMIT 1`,
    )
    .get({ n, cp: chanPoint });
  return { newest: newest ?? undefined, point: row?.point ?? undefined };
}


/**
 * Rewrites the channel's rows of the payment-hash routing index (migrations/0005) from its current snapshot: every
 * payment hash on our commitment and their current and pending ones. Called inside the transaction that stores
 * (or removes) a snapshot, so the index always matches channel_snapshot_current.
 */
export function reindexPaymentHashes(db: Db, chanPoint: string): void {
  db.prepare('DELETE FROM htlc_payment_hash WHERE chan_point = ?').run(chanPoint);
  db.prepare(
    `INSERT OR IGNORE INTO htlc_payment_hash (payment_hash, chan_point)
     SELECT json_extract(h.value, '$.paymentHash'), s.chan_point
     FROM channel_snapshot_current AS s,
          (SELECT '$.localCommitment.htlcs' AS path UNION ALL SELECT '$.remoteCommitments.current.htlcs' UNION ALL SELECT '$.remoteCommitments.pending.htlcs') AS p,
          json_each(s.snapshot, p.path) AS h
     WHERE s.chan_point = ?`,
  ).run(chanPoint);
}

/**
 * Start-up: every (payment hash, open channel) pair whose preimage is stored and whose channel's current snapshot
 * carries that hash (the index join is bounded by the live HTLCs), so a preimage stored just before a crash cut its
 * routing short still reaches its channels.
 */
export function preimagesToRoute(db: Db): Array<{ chanPoint: string; paymentHash: string }> {
  return db
    .prepare<[number], { chan_point: string; payment_hash: string }>(
      `SELECT h.chan_point, h.payment_hash FROM htlc_payment_hash h
       JOIN preimage p ON p.payment_hash = h.payment_hash
       JOIN arbitrator_state a ON a.chan_point = h.chan_point
       WHERE a.state = ? ORDER BY h.chan_point, h.payment_hash`,
    )
    .all(ARBITRATOR_STATE.Default)
    .map((r) => ({ chanPoint: r.chan_point, paymentHash: r.payment_hash }));
}

/** The channels whose current snapshot carries an HTLC with `paymentHash` (hex): one index lookup. */
export function channelsByPaymentHash(db: Db, paymentHash: string): string[] {
  return db
    .prepare<[string], { chan_point: string }>('SELECT chan_point FROM htlc_payment_hash WHERE payment_hash = ? ORDER BY chan_point')
    .all(paymentHash)
    .map((r) => r.chan_point);
}
