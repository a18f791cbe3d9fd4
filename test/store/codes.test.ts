/**
 * Persisted codes never change: every table of src/store/codes.ts is pinned here number by number, and the
 * schema's CHECKs accept exactly the codes of each closed set. Editing an expected value below is a format break
 * that needs a migration, not a test fix.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as codes from '../../src/store/codes.js';
import { openDatabase, type Db } from '../../src/store/db.js';
import { migrate } from '../../src/store/migrate.js';

const PINNED: Record<string, Record<string, number>> = {
  ARBITRATOR_STATE: {
    Default: 0,
    BroadcastCommit: 1,
    ContractClosed: 2,
    WaitingFullResolution: 3,
    FullyResolved: 4,
    Error: 5,
    CommitmentBroadcasted: 6,
    CloseUnresolved: 7,
  },
  CLOSE_TYPE: { Coop: 0, Local: 1, Remote: 2, Breach: 3, RemotePending: 4, Accepted: 5 },
  ARBITRATOR_EVENT: {
    BlockConnected: 0,
    BlockDisconnected: 1,
    ChannelUpdated: 2,
    ForceCloseRequested: 3,
    CloseConfirmed: 4,
    ResolverFinished: 5,
    EffectFailed: 6,
    CommitmentPublished: 7,
    Persisted: 8,
    ReclassifyRequested: 9,
    PreimageLearned: 10,
    RevocationAdded: 11,
  },
  ARBITRATOR_EFFECT: {
    BroadcastTx: 0,
    WatchSpend: 1,
    WatchConf: 2,
    OfferSweep: 3,
    NotifyNode: 4,
    LaunchResolvers: 5,
    FailHtlcsUpstream: 6,
    ResolveClose: 7,
  },
  CHAIN_ACTION: {
    NoAction: 0,
    HtlcTimeout: 1,
    HtlcClaim: 2,
    HtlcFailDust: 3,
    HtlcOutgoingWatch: 4,
    HtlcIncomingWatch: 5,
    HtlcIncomingDustFinal: 6,
    HtlcFailDangling: 7,
  },
  RESOLVER_KIND: {
    HtlcTimeout: 0,
    HtlcSuccess: 1,
    HtlcOutgoingContest: 2,
    HtlcIncomingContest: 3,
    CommitSweep: 4,
    Breach: 5,
    Anchor: 6,
  },
  REPORT_TYPE: { Anchor: 0, IncomingHtlc: 1, OutgoingHtlc: 2, Commit: 3, Breach: 4 },
  REPORT_OUTCOME: { Claimed: 0, Unclaimed: 1, Abandoned: 2, Timeout: 3, FirstStage: 4 },
  OUTBOX_STATUS: { Pending: 0, Done: 1 },
  WATCH_KIND: { Spend: 0, Conf: 1 },
  NODE_EVENT_KIND: {
    HtlcSettledOnChain: 0,
    HtlcFailedOnChain: 1,
    ChannelClosing: 2,
    BreachDetected: 3,
    JusticeConfirmed: 4,
    ChannelResolved: 5,
    CloseUnresolved: 6,
  },
  COMMITMENT_TYPE: { StaticRemoteKey: 0, Anchors: 1 },
  INITIATOR: { Local: 0, Remote: 1 },
  PREIMAGE_SOURCE: { Node: 0, Chain: 1, Mempool: 2 },
  BROADCAST_STATUS: { Tracked: 0, Conflicted: 1 },
  WALLET_UTXO_STATE: { Confirmed: 0, Unconfirmed: 1, Leased: 2, Spent: 3 },
  WALLET_ALERT: { SpentByOther: 0, SpentByStaleSweep: 1 },
  SWEEP_INPUT_STATE: { Pending: 0, Published: 1, Swept: 2, SpentByOther: 3, Excluded: 4, Failed: 5 },
  SWEEP_TX_STATUS: { Live: 0, Replaced: 1, Confirmed: 2, Final: 3, Dead: 4 },
};

const CHAN = `${'ab'.repeat(32)}:1`;

function briefcase(): Db {
  const db = openDatabase(':memory:');
  migrate(db);
  db.prepare("INSERT INTO channel (chan_point, capacity_sat, commitment_type, initiator, funding_height_hint) VALUES (?, '1000000', 1, 0, 100)").run(CHAN);
  return db;
}

/** Whether `insert(code)` succeeds (each attempt rolled back). */
function accepts(db: Db, insert: (code: number) => void, code: number): boolean {
  const probe = db.transaction(() => {
    insert(code);
    throw new Error('rollback');
  });
  try {
    probe();
  } catch (e) {
    if ((e as Error).message === 'rollback') return true;
    if (/CHECK constraint failed/.test((e as Error).message)) return false;
    throw e;
  }
  return true;
}

describe('persisted codes', () => {
  it('keep their numbers', () => {
    const exported = Object.fromEntries(Object.entries(codes).filter(([, v]) => typeof v === 'object'));
    assert.deepEqual(exported, PINNED);
  });

  it('are unique within each table and frozen', () => {
    for (const [name, table] of Object.entries(PINNED)) {
      const values = Object.values(table);
      assert.equal(new Set(values).size, values.length, name);
      assert.ok(Object.isFrozen((codes as Record<string, unknown>)[name]), name);
    }
  });

  it('match the schema’s CHECKs for the closed sets', () => {
    const db = briefcase();
    const cases: [string, Record<string, number>, (code: number) => void][] = [
      [
        'arbitrator_state.state',
        codes.ARBITRATOR_STATE,
        (c) => db.prepare("INSERT INTO arbitrator_state (chan_point, state, seq, detail) VALUES (?, ?, 0, '{\"v\":1}')").run(CHAN, c),
      ],
      [
        'arbitrator_state.close_type',
        codes.CLOSE_TYPE,
        (c) => db.prepare("INSERT INTO arbitrator_state (chan_point, state, close_type, seq, detail) VALUES (?, 2, ?, 0, '{\"v\":1}')").run(CHAN, c),
      ],
      [
        'watch.kind',
        codes.WATCH_KIND,
        (c) => db.prepare("INSERT INTO watch (machine_id, kind, target, height_hint, num_confs) VALUES ('m', ?, 't', 1, ?)").run(c, c === 1 ? 3 : null),
      ],
      [
        'channel.initiator',
        codes.INITIATOR,
        (c) => db.prepare("INSERT INTO channel (chan_point, capacity_sat, commitment_type, initiator, funding_height_hint) VALUES (?, '5', 0, ?, 1)").run(`${'cd'.repeat(32)}:0`, c),
      ],
      [
        'preimage.source',
        codes.PREIMAGE_SOURCE,
        (c) => db.prepare('INSERT INTO preimage (payment_hash, preimage, source) VALUES (?, ?, ?)').run('11'.repeat(32), '22'.repeat(32), c),
      ],
      [
        'wallet_utxo.state',
        codes.WALLET_UTXO_STATE,
        (c) => {
          db.prepare("INSERT OR IGNORE INTO wallet_key (chain, idx, pubkey, script) VALUES (0, 0, ?, ?)").run('02'.repeat(33), '00'.repeat(22));
          db.prepare(
            'INSERT INTO wallet_utxo (outpoint, value_sat, script, state, height, block_hash, lease_id, spent_height, spent_block, spent_txid) VALUES (?, 1000, ?, ?, ?, ?, ?, ?, ?, ?)',
          ).run(
            `${'ee'.repeat(32)}:0`,
            '00'.repeat(22),
            c,
            c === 1 ? null : 5,
            c === 1 ? null : 'ff'.repeat(32),
            c === 2 ? 'sweep:1' : null,
            c === 3 ? 6 : null,
            c === 3 ? 'ff'.repeat(32) : null,
            c === 3 ? 'dd'.repeat(32) : null,
          );
        },
      ],
      [
        'wallet_alert.kind',
        codes.WALLET_ALERT,
        (c) => db.prepare('INSERT INTO wallet_alert (kind, outpoint, txid, height, block_hash) VALUES (?, ?, ?, 1, ?)').run(c, 'o', 't', 'h'),
      ],
    ];
    for (const [what, table, insert] of cases) {
      const values = Object.values(table);
      for (const v of values) assert.ok(accepts(db, insert, v), `${what} accepts ${v}`);
      assert.ok(!accepts(db, insert, Math.max(...values) + 1), `${what} refuses ${Math.max(...values) + 1}`);
      assert.ok(!accepts(db, insert, -1), `${what} refuses -1`);
    }
    db.close();
  });
});
