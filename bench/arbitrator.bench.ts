/**
 * ChainArbitrator and ChannelArbitrator costs on a real SQLite file (WAL, synchronous=FULL, migrated schema), with
 * 10,000 (and 1,000) channels seeded directly in SQL: each a `channel` row, a `channel_snapshot` seq-1 row, an
 * `arbitrator_state` row in Default (seq 1, snapshot_seq 1, wake_height NULL, a small encoded state with no HTLCs)
 * and its transition_log seq-1 row.
 *
 * event_commit_us: median time of one ChannelUpdated (snapshotSeq 2) through a MachineRunner with the
 *   channelArbitrator machine and the arbitrator's SqliteJournal: transition + one IMMEDIATE commit (state row,
 *   log row), per channel, over every channel. event_commit_ratio_sqlite divides it by limits.md's WAL+FULL
 *   autocommit p50 latency (63.3 µs, a different day: indicative only); event_commit_ratio_autocommit by a bare
 *   1-row autocommit INSERT on the same connection, interleaved with the events (the same-run baseline).
 * idle_block_ms_10k / _1k: median ms of ChainWatches.onChainEvent (every channel's funding spend watch) then
 *   ChainArbitrator.onChainEvent, as the dispatcher delivers them, for a BlockConnected of 100 unrelated
 *   transactions (nothing spent, nothing due), the two arbitrators taking alternate blocks; their ratio should be
 *   ~1 (routing does not scan channels).
 * restart_ms_10k: `new ChainArbitrator(...)` + `start(h)` over 10,000 rows (median of 7 fresh ones);
 *   restart_ratio_10k divides it by a raw SELECT of the arbitrator_state columns (.all(), median of 7,
 *   interleaved in the same run).
 * heap_bytes_per_channel: heapUsed after start() of 10,000 channels minus before, after full GCs, / 10,000.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Transaction } from 'bitcoinjs-lib';
import type { ChainBlock, ChainEvent } from '../src/chain/ports.js';
import { ChainArbitrator } from '../src/arbitrator/chain-arbitrator.js';
import { ChainWatches } from '../src/chain/watches.js';
import { channelArbitrator } from '../src/arbitrator/channel/machine.js';
import type { ArbEffect, ArbEvent, ArbState, ChannelFacts } from '../src/arbitrator/channel/types.js';
import type { ArbEnv } from '../src/arbitrator/channel/transition.js';
import { arbitratorStateTable, loadStartRows, resolverRecordSink } from '../src/arbitrator/store.js';
import { MachineRunner } from '../src/fsm/index.js';
import { KeyRing } from '../src/keys/keyring.js';
import { LocalSigner } from '../src/keys/signer.js';
import { openDatabase, type Db } from '../src/store/db.js';
import { SqliteJournal } from '../src/store/journal.js';
import { migrate } from '../src/store/migrate.js';
import { emit } from './harness.js';

/** limits.md: SQLite autocommit 1-row INSERT, WAL + synchronous=FULL, latency p50 (median of 7 runs). */
const LIMITS_SQLITE_COMMIT_P50_US = 63.3;

const nowMs = (): number => Number(process.hrtime.bigint()) / 1e6;
const hex = (s: string): string => createHash('sha256').update(s).digest('hex');
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
const round = (x: number, d: number): number => Number(x.toFixed(d));
const log = (msg: string): void => void process.stderr.write(`arbitrator.bench: ${msg}\n`);

const facts = (snapshotSeq: number): ChannelFacts => ({
  snapshotSeq,
  localNumber: snapshotSeq,
  commitSet: { local: [], remote: [] },
  preimages: [],
  closeDepth: 3,
  deltas: { outgoing: 0, incoming: 16 },
});

/** A global.gc: the flag if node was started with --expose-gc, otherwise enabled at run time. */
function gcFn(): () => void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g !== undefined) return g;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/** Opens a fresh migrated database in `dir` and seeds `n` idle channels in one transaction. */
function seed(dir: string, name: string, n: number): { db: Db; chanPoints: string[] } {
  const db = openDatabase(join(dir, name));
  migrate(db);
  const chan = db.prepare(
    `INSERT INTO channel (chan_point, short_channel_id, capacity_sat, commitment_type, initiator, funding_height_hint, created_height)
     VALUES (?, NULL, '1000000', 1, 0, 50, 50)`,
  );
  const snap = db.prepare(`INSERT INTO channel_snapshot (chan_point, seq, snapshot, received_height) VALUES (?, 1, '{"v":1}', 99)`);
  const state = db.prepare(
    `INSERT INTO arbitrator_state (chan_point, state, close_type, close_height, seq, updated_height, reason, detail, wake_height, snapshot_seq)
     VALUES (?, 0, NULL, NULL, 1, 99, NULL, ?, NULL, 1)`,
  );
  const logRow = db.prepare(
    `INSERT INTO transition_log (machine_id, seq, from_state, event_kind, to_state, height, payload) VALUES (?, 1, 0, 2, 0, 99, ?)`,
  );
  const detail = JSON.stringify(channelArbitrator.state.encode({ kind: 'Default', facts: facts(1) }));
  const payload = JSON.stringify(channelArbitrator.event.encode({ kind: 'ChannelUpdated', facts: facts(1) }));
  const chanPoints: string[] = [];
  db.transaction(() => {
    for (let i = 0; i < n; i++) {
      const cp = `${hex(`${name}-chan-${i}`)}:${i % 4}`;
      chanPoints.push(cp);
      chan.run(cp);
      snap.run(cp);
      state.run(cp, detail);
      logRow.run(cp, payload);
    }
  }).immediate();
  return { db, chanPoints };
}

/** The chain layer's watches over a source with no history: every funding outpoint is unspent (no rescan). */
const watchesOf = new WeakMap<ChainArbitrator, ChainWatches>();

function arbitrator(db: Db): ChainArbitrator {
  const ring = KeyRing.fromSeed(new Uint8Array(32).fill(7), 1);
  const unused = async (): Promise<never> => {
    throw new Error('unused');
  };
  const watches = new ChainWatches({
    source: { getTip: unused, getBlockHash: unused, getBlock: unused, getRawTransaction: unused },
    utxo: { isUnspent: async () => true },
  });
  const arb = new ChainArbitrator({
    db,
    keyring: ring,
    signer: new LocalSigner(ring),
    watches,
    broadcaster: {
      publish: async () => {
        throw new Error('unused');
      },
    },
  });
  watchesOf.set(arb, watches);
  return arb;
}

/** A block at `height` of `ntx` transactions whose inputs spend nothing any channel funds. */
function unrelatedBlock(height: number, ntx: number): ChainBlock {
  const txs: Transaction[] = [];
  for (let j = 0; j < ntx; j++) {
    const tx = new Transaction();
    tx.version = 2;
    for (let k = 0; k < 1 + (j % 2); k++) tx.addInput(Buffer.from(hex(`in-${height}-${j}-${k}`), 'hex'), k, 0xfffffffd);
    tx.addOutput(Buffer.concat([Buffer.of(0x00, 0x14), Buffer.from(hex(`out-${height}-${j}`).slice(0, 40), 'hex')]), 10_000n + BigInt(j));
    txs.push(tx);
  }
  return { hash: hex(`block-${height}`), height, prevHash: hex(`block-${height - 1}`), txs, txids: txs.map((t) => t.getId()) };
}

const connected = (b: ChainBlock): ChainEvent => ({ type: 'BlockConnected', height: b.height, hash: b.hash, block: b });

/** Restart: fresh ChainArbitrator + start vs a raw SELECT of the same rows, interleaved, 7 rounds each. */
function restart(db: Db, n: number): { ms: number; rawMs: number; loadMs: number; plainJoinMs: number } {
  const raw = db.prepare('SELECT chan_point, state, wake_height, snapshot_seq FROM arbitrator_state');
  // Diagnostics: the same join as loadStartRows without its two correlated subqueries.
  const plainJoin = db.prepare(
    `SELECT c.chan_point, a.state, a.wake_height, a.snapshot_seq
     FROM channel c LEFT JOIN arbitrator_state a ON a.chan_point = c.chan_point
     WHERE a.state IS NULL OR a.state <> 4`,
  );
  const time = (f: () => void): number => {
    const t0 = nowMs();
    f();
    return nowMs() - t0;
  };
  const full: number[] = [];
  const rawT: number[] = [];
  const load: number[] = [];
  const plain: number[] = [];
  for (let r = -1; r < 7; r++) {
    let arb: ChainArbitrator | undefined;
    const tFull = time(() => {
      arb = arbitrator(db);
      arb.start(100);
    });
    if (arb?.size !== n) throw new Error(`restart loaded ${arb?.size} channels, expected ${n}`);
    const tRaw = time(() => {
      if (raw.all().length !== n) throw new Error('raw select count');
    });
    const tLoad = time(() => void loadStartRows(db));
    const tPlain = time(() => void plainJoin.all());
    if (r < 0) continue; // warm-up
    full.push(tFull);
    rawT.push(tRaw);
    load.push(tLoad);
    plain.push(tPlain);
  }
  return { ms: median(full), rawMs: median(rawT), loadMs: median(load), plainJoinMs: median(plain) };
}

/** heapUsed growth of start() over `n` channels, per channel. */
function heapPerChannel(db: Db, n: number, gc: () => void): number {
  const full = (): number => {
    for (let i = 0; i < 3; i++) gc();
    return process.memoryUsage().heapUsed;
  };
  const before = full();
  const arb = arbitrator(db);
  arb.start(100);
  const after = full();
  if (arb.size !== n) throw new Error('heap: wrong size');
  return (after - before) / n;
}

/** Alternates blocks between the two arbitrators; median ms per block for each. */
async function idleBlocks(big: ChainArbitrator, small: ChainArbitrator, blocks: number, gc: () => void): Promise<{ big: number; small: number }> {
  const warm = 10;
  const tb: number[] = [];
  const ts: number[] = [];
  // Built before timing, so their garbage is not collected inside a timed block.
  const events = Array.from({ length: warm + blocks }, (_, i) => connected(unrelatedBlock(101 + i, 100)));
  gc();
  for (const [i, ev] of events.entries()) {
    for (const [arb, out] of i % 2 === 0 ? ([[big, tb], [small, ts]] as const) : ([[small, ts], [big, tb]] as const)) {
      const t0 = nowMs();
      await watchesOf.get(arb)?.onChainEvent(ev); // the funding spends (dispatcher order: watches first)
      await arb.onChainEvent(ev);
      const dt = nowMs() - t0;
      if (i >= warm) out.push(dt);
      if (arb.activeRunners !== 0) throw new Error('an idle block woke a channel');
    }
  }
  return { big: median(tb), small: median(ts) };
}

/**
 * One ChannelUpdated per channel through its own runner: transition + commit, µs each; interleaved with a bare
 * 1-row autocommit INSERT on the same connection (the in-run durable-commit baseline), µs each.
 */
async function eventCommits(db: Db, chanPoints: readonly string[]): Promise<{ event: number[]; bare: number[] }> {
  const journal = new SqliteJournal(db, arbitratorStateTable, false, resolverRecordSink);
  db.exec('CREATE TABLE bench_autocommit (k INTEGER PRIMARY KEY, v TEXT NOT NULL) STRICT');
  const bareInsert = db.prepare('INSERT INTO bench_autocommit (v) VALUES (?)');
  const filler = 'x'.repeat(100);
  const out: number[] = [];
  const bare: number[] = [];
  for (const cp of chanPoints) {
    const runner = new MachineRunner<ArbState, ArbEvent, ArbEffect, ArbEnv>({
      journal,
      machine: channelArbitrator,
      machineId: cp,
      interpret: () => undefined,
      env: () => ({ height: 120 }),
    });
    await runner.resume();
    const ev: ArbEvent = { kind: 'ChannelUpdated', facts: facts(2) };
    const t0 = nowMs();
    const outcome = await runner.enqueue(ev);
    const dt = nowMs() - t0;
    if (outcome.kind !== 'accepted' || outcome.seq !== 2) throw new Error(`ChannelUpdated on ${cp}: ${JSON.stringify(outcome)}`);
    out.push(dt * 1000);
    await runner.close();
    const b0 = nowMs();
    bareInsert.run(filler);
    bare.push((nowMs() - b0) * 1000);
  }
  return { event: out, bare };
}

export async function runArbitratorBenches(): Promise<void> {
  const N = 10_000;
  const dir = mkdtempSync(join(tmpdir(), 'courtd-arb-bench-'));
  try {
    const gc = gcFn();
    let t0 = nowMs();
    const big = seed(dir, 'big.db', N);
    const small = seed(dir, 'small.db', 1_000);
    log(`seeded ${N} + 1000 channels in ${(nowMs() - t0).toFixed(0)} ms`);

    // Heap first, on a quiet heap.
    const heap = heapPerChannel(big.db, N, gc);
    emit({ bench: 'heap_bytes_per_channel', value: Math.round(heap), unit: 'B/channel', goal: 4096, channels: N });

    const rs = restart(big.db, N);
    emit({ bench: 'restart_ms_10k', value: round(rs.ms, 2), unit: 'ms', channels: N, raw_select_ms: round(rs.rawMs, 2) });
    emit({
      bench: 'restart_ratio_10k',
      value: round(rs.ms / rs.rawMs, 2),
      unit: 'ratio',
      goal: 3,
      load_start_rows_ms: round(rs.loadMs, 2),
      join_without_subqueries_ms: round(rs.plainJoinMs, 2),
    });

    const arbBig = arbitrator(big.db);
    arbBig.start(100);
    const arbSmall = arbitrator(small.db);
    arbSmall.start(100);
    const idle = await idleBlocks(arbBig, arbSmall, 50, gc);
    emit({ bench: 'idle_block_ms_10k', value: round(idle.big, 4), unit: 'ms/block', channels: N, txs: 100, blocks: 50 });
    emit({ bench: 'idle_block_ms_1k', value: round(idle.small, 4), unit: 'ms/block', channels: 1000, txs: 100, blocks: 50 });
    emit({ bench: 'idle_block_ratio_10k_1k', value: round(idle.big / idle.small, 3), unit: 'ratio', goal: 1 });
    await arbBig.stop();
    await arbSmall.stop();

    t0 = nowMs();
    const commits = await eventCommits(big.db, big.chanPoints);
    log(`${commits.event.length} event commits in ${(nowMs() - t0).toFixed(0)} ms`);
    const us = median(commits.event);
    const bareUs = median(commits.bare);
    const sorted = [...commits.event].sort((a, b) => a - b);
    emit({
      bench: 'event_commit_us',
      value: round(us, 1),
      unit: 'µs',
      channels: N,
      p99_us: round(sorted[Math.floor(sorted.length * 0.99)] as number, 1),
      bare_autocommit_us: round(bareUs, 1),
      limits_sqlite_commit_p50_us: LIMITS_SQLITE_COMMIT_P50_US,
    });
    emit({ bench: 'event_commit_ratio_sqlite', value: round(us / LIMITS_SQLITE_COMMIT_P50_US, 2), unit: 'ratio', note: 'vs limits.md WAL+FULL autocommit p50 (other day)' });
    emit({ bench: 'event_commit_ratio_autocommit', value: round(us / bareUs, 2), unit: 'ratio', note: 'vs a bare 1-row autocommit INSERT, same db, interleaved' });

    big.db.close();
    small.db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
