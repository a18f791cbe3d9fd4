/**
 * Resolver benchmarks.
 *
 * resolver_block_ms_10k: one block handled by a ResolverRunner holding 10,000 launched, waiting resolvers (1,000
 *   channels x 10 HTLC contest resolvers, CLTVs far ahead) of which none matures at that height: the median time
 *   of onBlockConnected over 50 consecutive blocks (after 10 warm-up blocks). Goal <= 5 ms: the runner pops due
 *   resolvers from a heap keyed by wake height and touches nothing else.
 * mass_close_s / mass_close_ratio: 1,000 static_remotekey channels with 10 HTLCs each (5 each way), registered
 *   with a real ChainArbitrator (snapshots checked and stored) on a real SQLite file, are force-closed by their
 *   peers in ONE block. Timed from the block's delivery (ChainWatches, ChainArbitrator, ResolverRunner, as the
 *   dispatcher delivers it) until every channel is in WaitingFullResolution, every resolver row is launched and
 *   persisted (11,000: to_remote + 10 HTLC contests per channel) and the sweeper (real, per its kick) has signed
 *   the first sweeps (every to_remote). The ratio divides that time by the sum of the primitive costs the same
 *   window used, each counted (secp256k1 signatures, verifications and point operations, i.e. key derivations,
 *   through the backend; SQLite commits through every component's onCommit) and each unit cost measured in the
 *   same run on the same file. Goal <= 2.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChannelSimulator } from '../regtest/simulator.js';
import { SIM_COIN_TYPE } from '../regtest/sim-keys.js';
import { ChainArbitrator } from '../src/arbitrator/chain-arbitrator.js';
import type { ChainBlock } from '../src/chain/ports.js';
import { ChainWatches } from '../src/chain/watches.js';
import { secp } from '../src/keys/secp.js';
import { Sweeper } from '../src/sweep/sweeper.js';
import { ScenarioChain } from '../test/helpers/scenario-chain.js';
import { KeyRing } from '../src/keys/keyring.js';
import { LocalSigner } from '../src/keys/signer.js';
import { ResolverRunner } from '../src/resolvers/runner.js';
import { RESOLVER_KIND } from '../src/store/codes.js';
import { openDatabase, type Db } from '../src/store/db.js';
import { migrate } from '../src/store/migrate.js';
import { sha256, toHex } from '../src/util/bytes.js';
import { emit } from './harness.js';

const ring = KeyRing.fromSeed(sha256(new TextEncoder().encode('resolver bench')), 1);
const signer = new LocalSigner(ring);
const noWatch = { id: 0, ready: Promise.resolve(), cancel: () => undefined };

const hex = (label: string, bytes = 32): string => toHex(sha256(new TextEncoder().encode(label))).slice(0, bytes * 2);

async function blockMs10k(): Promise<{ ms: number; resolvers: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'courtd-resolver-bench-'));
  try {
    const db = openDatabase(join(dir, 'court.db'));
    migrate(db);
    const height = 800_000;
    const insertChan = db.prepare("INSERT INTO channel (chan_point, capacity_sat, commitment_type, initiator, funding_height_hint) VALUES (?, '1000000', 1, 0, 1)");
    const insertRow = db.prepare('INSERT INTO resolver (chan_point, outpoint, kind, version, state) VALUES (?, ?, ?, 1, ?)');
    const chans: string[] = [];
    db.transaction(() => {
      for (let c = 0; c < 1000; c++) {
        const cp = `${hex(`chan ${c}`)}:0`;
        chans.push(cp);
        insertChan.run(cp);
        const closeTxid = hex(`close ${c}`);
        for (let k = 0; k < 10; k++) {
          const outgoing = k % 2 === 0;
          const outpoint = `${closeTxid}:${k}`;
          const output = {
            outpoint,
            amountSat: '50000',
            scriptPubKey: `0020${hex(`spk ${c} ${k}`)}`,
            witnessScript: hex(`ws ${c} ${k}`, 40),
            key: { family: 2, index: c, tweakPoint: `02${hex(`point ${c}`)}` },
            csvDelay: 1,
            htlc: { htlcId: k, direction: outgoing ? 'outgoing' : 'incoming', amountMsat: '50000000', paymentHash: hex(`hash ${c} ${k}`), cltvExpiry: height + 200 + k, dust: false },
          };
          const state = { v: 1, closeType: 'remote', closeTxid, closeHeight: height - 1, output, deadline: null, stage: 'launched' };
          insertRow.run(cp, outpoint, outgoing ? RESOLVER_KIND.HtlcOutgoingContest : RESOLVER_KIND.HtlcIncomingContest, JSON.stringify(state));
        }
      }
    })();
    const runner = new ResolverRunner({
      db,
      sweeper: { offer: () => undefined, cancel: () => undefined, bump: () => undefined, pending: () => [], unacked: () => [], ack: () => undefined, onResult: () => undefined },
      keyring: ring,
      signer,
      broadcaster: { publish: async (tx) => ({ kind: 'accepted', txid: tx.getId() }) },
      watches: { watchSpend: () => noWatch },
      fees: { feeRatePerKw: async () => 1000n },
      height,
    });
    runner.attach({ resolverFinished: async () => undefined, addPreimage: async () => ({ paymentHash: '', channels: [] }) });
    for (const cp of chans) runner.launch(cp);
    await runner.idle();
    if (runner.size !== 10_000) throw new Error(`bench setup: ${runner.size} resolvers live`);
    const times: number[] = [];
    for (let k = 1; k <= 60; k++) {
      const t0 = process.hrtime.bigint();
      await runner.onBlockConnected(height + k);
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    if (runner.size !== 10_000) throw new Error('bench: a resolver moved');
    await runner.stop();
    db.close();
    const tail = times.slice(10).sort((a, b) => a - b);
    return { ms: tail[Math.floor(tail.length / 2)] as number, resolvers: 10_000 };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const MASS_CHANNELS = Number(process.env.MASS_CHANNELS ?? 1000);

/** ScenarioChain with an index of spent outpoints (its isUnspent scans every block: quadratic in a mass close). */
class IndexedChain extends ScenarioChain {
  readonly #spent = new Set<string>();
  override add(b: ChainBlock): void {
    super.add(b);
    for (const tx of b.txs) for (const i of tx.ins) this.#spent.add(`${toHex(Buffer.from(i.hash).reverse())}:${i.index}`);
  }
  override async isUnspent(op: { txid: string; vout: number }): Promise<boolean> {
    return !this.#spent.has(`${op.txid}:${op.vout}`);
  }
}

/** Counts calls of the active secp256k1 backend's methods (restored by the returned function). */
function countSecp(): { counts: Record<string, number>; restore: () => void } {
  const s = secp() as unknown as Record<string, (...a: unknown[]) => unknown>;
  const names = ['sign', 'verify', 'pointAddScalar', 'pointMultiply', 'pointFromScalar', 'pointAdd'];
  const counts: Record<string, number> = Object.fromEntries(names.map((n) => [n, 0]));
  const orig = new Map(names.map((n) => [n, s[n] as (...a: unknown[]) => unknown]));
  for (const n of names) {
    const f = orig.get(n) as (...a: unknown[]) => unknown;
    s[n] = (...a: unknown[]) => {
      (counts[n] as number)++;
      return f.apply(s, a);
    };
  }
  return { counts, restore: () => names.forEach((n) => (s[n] = orig.get(n) as (...a: unknown[]) => unknown)) };
}

/**
 * Counts the SQLite commits made on `db`: each outermost transaction, and each write statement run outside one
 * (an implicit autocommit). Statements prepared before the call are not seen: call it before building anything.
 */
function countCommits(db: Db): { n: number } {
  const c = { n: 0 };
  const prepare = db.prepare.bind(db);
  db.prepare = ((sql: string) => {
    const st = prepare(sql);
    if (!st.reader) {
      const run = st.run.bind(st);
      st.run = ((...a: unknown[]) => {
        const outer = !db.inTransaction;
        const r = run(...(a as []));
        if (outer) c.n++;
        return r;
      }) as typeof st.run;
    }
    return st;
  }) as typeof db.prepare;
  const transaction = db.transaction.bind(db);
  db.transaction = ((fn: (...a: unknown[]) => unknown) => {
    const t = transaction(fn);
    const wrap = (f: (...a: unknown[]) => unknown) => (...a: unknown[]) => {
      const outer = !db.inTransaction;
      const r = f(...a);
      if (outer) c.n++;
      return r;
    };
    const w = Object.assign(wrap(t), { deferred: wrap(t.deferred), immediate: wrap(t.immediate), exclusive: wrap(t.exclusive), default: wrap(t.default) });
    return w;
  }) as typeof db.transaction;
  return c;
}

/** Starts the V8 CPU profiler (diagnostics: MASS_PROFILE=<file>); the returned function writes the profile. */
async function startProfile(): Promise<(file: string) => Promise<void>> {
  const { Session } = await import('node:inspector/promises');
  const { writeFileSync } = await import('node:fs');
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return async (file) => {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(file, JSON.stringify(profile));
    session.disconnect();
  };
}

/** Median ms of `f` over `n` runs. */
function medianMs(n: number, f: (i: number) => void): number {
  const ts: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    f(i);
    ts.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  ts.sort((a, b) => a - b);
  return ts[Math.floor(ts.length / 2)] as number;
}

async function massClose(): Promise<Record<string, number>> {
  const dir = mkdtempSync(join(tmpdir(), 'courtd-mass-close-'));
  const HEIGHT = 700_000;
  try {
    const db = openDatabase(join(dir, 'court.db'));
    migrate(db);
    const commitCounter = countCommits(db);
    const sims: ChannelSimulator[] = [];
    for (let i = 0; i < MASS_CHANNELS; i++) {
      const sim = ChannelSimulator.open({
        format: 'static_remotekey',
        funder: 'alice',
        capacitySat: 1_000_000n,
        pushMsat: 400_000_000n,
        toSelfDelay: { alice: 144, bob: 144 },
        feeratePerKw: 2_500,
        channelIndex: i,
        funding: { utxo: { txid: hex(`mass funding ${i}`), vout: 0, amountSat: 1_500_000n, privkey: sha256(new TextEncoder().encode('mass funder')) }, satPerVb: 1 },
      });
      for (let k = 0; k < 5; k++) {
        sim.addHtlc('alice', 20_000_000n, HEIGHT + 100 + k, sha256(new TextEncoder().encode(`mass out ${i} ${k}`)));
        sim.addHtlc('bob', 20_000_000n, HEIGHT + 200 + k, sha256(new TextEncoder().encode(`mass in ${i} ${k}`)));
      }
      sim.commit();
      sims.push(sim);
    }
    const chain = new IndexedChain(HEIGHT);
    const watches = new ChainWatches({ source: chain, utxo: chain, view: chain.view });
    const sweeper = new Sweeper({
      db,
      signer,
      wallet: { inputWeight: 272, lease: () => undefined, release: () => undefined, nextChangeScript: () => `0014${'88'.repeat(20)}`, signWalletInputs: async () => undefined },
      broadcaster: { publish: async (tx) => ({ kind: 'accepted', txid: tx.getId() }), forget: () => undefined },
      watches: { watchSpend: () => noWatch, watchConf: () => noWatch },
      fees: { feeRatePerKw: async () => 1000n, floorPerKw: async () => 253n },
      height: HEIGHT,
    });
    const mkRing = KeyRing.fromSeed(sims[0]?.parties.alice.seed as Uint8Array, SIM_COIN_TYPE);
    const mkSigner = new LocalSigner(mkRing);
    const runner = new ResolverRunner({
      db,
      sweeper,
      keyring: mkRing,
      signer: mkSigner,
      broadcaster: { publish: async (tx) => ({ kind: 'accepted', txid: tx.getId() }) },
      watches,
      fees: { feeRatePerKw: async () => 1000n },
      height: HEIGHT,
    });
    const arb = new ChainArbitrator({
      db,
      keyring: mkRing,
      signer: new LocalSigner(mkRing),
      broadcaster: { publish: async (tx) => ({ kind: 'accepted', txid: tx.getId() }) },
      watches,
      resolvers: runner,
      closeDepth: { min: 1, max: 1 },
    });
    runner.attach(arb);
    arb.start(HEIGHT);
    for (const sim of sims) await arb.updateChannel(sim.snapshot('alice', { fundingHeightHint: HEIGHT - 5 }));
    await arb.watchesReady();
    const closes = sims.map((sim) => sim.signedCommitment('bob', sim.currentNumber));
    const block: ChainBlock = { hash: hex('mass close block'), height: HEIGHT + 1, prevHash: hex('prev'), txs: closes, txids: closes.map((t) => t.getId()) };
    chain.add(block);
    const ev = { type: 'BlockConnected' as const, height: HEIGHT + 1, hash: block.hash, block };
    const expected = MASS_CHANNELS * 11;
    // ---- timed window ----
    commitCounter.n = 0;
    const prof = process.env.MASS_PROFILE === undefined ? undefined : await startProfile();
    const counter = countSecp();
    const t0 = process.hrtime.bigint();
    await watches.onChainEvent(ev);
    await arb.onChainEvent(ev);
    await sweeper.onChainEvent(ev);
    await runner.onChainEvent(ev);
    for (let guard = 0; guard < 100 && (runner.size < expected || arb.activeRunners > 0); guard++) {
      await arb.idle();
      await runner.idle();
    }
    await sweeper.kick();
    const t1 = process.hrtime.bigint();
    counter.restore();
    if (prof !== undefined) await prof(process.env.MASS_PROFILE as string);
    // ---- end ----
    const waiting = db.prepare('SELECT COUNT(*) FROM arbitrator_state WHERE state = 3').pluck().get() as number;
    const rows = db.prepare('SELECT COUNT(*) FROM resolver WHERE resolved = 0').pluck().get() as number;
    const published = db.prepare('SELECT COUNT(*) FROM sweep_input WHERE state = 1').pluck().get() as number;
    const sweepTxs = db.prepare('SELECT COUNT(*) FROM sweep_tx').pluck().get() as number;
    if (waiting !== MASS_CHANNELS || rows !== expected || runner.size !== expected || published !== MASS_CHANNELS) {
      throw new Error(`mass close incomplete: waiting ${waiting}, rows ${rows}, live ${runner.size}, swept inputs published ${published}`);
    }
    const elapsedMs = Number(t1 - t0) / 1e6;
    const counts = { ...counter.counts, commits: commitCounter.n };
    // unit costs, same run, same file
    const digest = sha256(new TextEncoder().encode('unit'));
    const key = sha256(new TextEncoder().encode('unit key'));
    const s = secp();
    const pub = s.pointFromScalar(key);
    const sig = s.sign(digest, key);
    const unit = {
      sign: medianMs(300, () => s.sign(digest, key)),
      verify: medianMs(300, () => s.verify(digest, pub, sig)),
      pointAddScalar: medianMs(300, () => s.pointAddScalar(pub, digest)),
      pointMultiply: medianMs(300, () => s.pointMultiply(pub, digest)),
      pointFromScalar: medianMs(300, () => s.pointFromScalar(digest)),
      pointAdd: medianMs(300, () => s.pointAdd(pub, pub)),
      commits: (() => {
        db.exec('CREATE TABLE IF NOT EXISTS bench_commit (k INTEGER PRIMARY KEY, v TEXT)');
        const ins = db.prepare('INSERT INTO bench_commit (v) VALUES (?)');
        return medianMs(300, (i) => db.transaction(() => ins.run(String(i))).immediate());
      })(),
    };
    const sumMs = Object.entries(counts).reduce((a, [k, n]) => a + n * (unit[k as keyof typeof unit] ?? 0), 0);
    await arb.stop();
    await runner.stop();
    await watches.stop();
    db.close();
    return { elapsedMs, sumMs, sweepTxs, ...Object.fromEntries(Object.entries(counts).map(([k, v]) => [`n_${k}`, v])) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function runResolverBenches(): Promise<void> {
  const b = await blockMs10k();
  emit({ bench: 'resolver_block_ms_10k', value: Number(b.ms.toFixed(3)), unit: 'ms', goal: 5, resolvers: b.resolvers });
  const m = await massClose();
  const { elapsedMs, sumMs, ...counts } = m as { elapsedMs: number; sumMs: number } & Record<string, number>;
  emit({ bench: 'mass_close_s', value: Number((elapsedMs / 1000).toFixed(3)), unit: 's', channels: MASS_CHANNELS, htlcsPerChannel: 10 });
  emit({ bench: 'mass_close_ratio', value: Number((elapsedMs / sumMs).toFixed(3)), unit: 'ratio', goal: 2, primitivesMs: Number(sumMs.toFixed(1)), ...counts });
}

if (import.meta.url === `file://${process.argv[1]}`) await runResolverBenches();
