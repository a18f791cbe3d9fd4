/**
 * Crash at the checkpoints of the breach scenario (test/regtest/breach.test.ts), both formats, on the regtest node.
 * A reference run records every commit point of courtd (arbitrator, resolvers, sweeper) from the moment bob's
 * revoked commitment confirmed to FullyResolved. Then, for each chosen checkpoint k, the scenario runs again on a
 * new channel: at commit k the briefcase is copied and the process is dead from then on (it publishes nothing
 * more); a new courtd starts from the copy, catches up with the node from its own block log (at-least-once
 * delivery), and the scenario goes on. Every resumed run must end FullyResolved with the same outcomes as the
 * reference (per output of the revoked commitment: the report outcomes; the node events by kind and key, each
 * once), a balanced ledger from the node's view (nothing left, nothing lost), and no input spent twice (the node
 * would refuse it; each breach output has exactly one claimed report).
 *
 * Checkpoints: every point whose name differs from the one before (where the work changes hands), at most
 * `BREACH_CRASH_MAX` (default 10) per format spread over the run; BREACH_CRASH_ALL=1 runs every one.
 * Prints `breach crash checkpoints=N resumed=N mismatches=0`.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Transaction } from 'bitcoinjs-lib';
import { startChain, type RegtestChain } from '../../regtest/chain.js';
import { SIM_COIN_TYPE } from '../../regtest/sim-keys.js';
import { ChainArbitrator } from '../../src/arbitrator/chain-arbitrator.js';
import { createChain, type Chain } from '../../src/chain/index.js';
import type { PublishResult } from '../../src/chain/ports.js';
import { KeyRing } from '../../src/keys/keyring.js';
import { LocalSigner } from '../../src/keys/signer.js';
import { ResolverRunner } from '../../src/resolvers/runner.js';
import { reports } from '../../src/resolvers/store.js';
import { NODE_EVENT_KIND } from '../../src/store/codes.js';
import { openDatabase } from '../../src/store/db.js';
import { migrate } from '../../src/store/migrate.js';
import { Sweeper } from '../../src/sweep/sweeper.js';
import { sha256 } from '../../src/util/bytes.js';
import { Wallet } from '../../src/wallet/wallet.js';
import { copyDatabase } from '../helpers/db.js';
import { nodeEvents, tempDir } from '../regtest/arbitrator.helpers.js';
import { breachLedger, breachUpTo, type BreachRun } from '../regtest/breach.helpers.js';
import { stateOf, synced, type ResolverCourt } from '../regtest/resolvers.helpers.js';

const ALICE_SEED = sha256(new TextEncoder().encode('courtd-sim/seed/alice'));
const MAX = process.env.BREACH_CRASH_ALL ? Number.POSITIVE_INFINITY : Number(process.env.BREACH_CRASH_MAX ?? 10);
const totals = { checkpoints: 0, resumed: 0, mismatches: 0 };

after(() => {
  process.stdout.write(`breach crash checkpoints=${totals.checkpoints} resumed=${totals.resumed} mismatches=${totals.mismatches}\n`);
});

/** A process's fate: armed at commit `at` (counted from `arm()`), it copies its briefcase there and dies. */
interface Fate {
  armed: boolean;
  count: number;
  readonly at: number | undefined;
  readonly points: string[];
  dead: boolean;
  readonly copyTo: string;
}

/** courtd as startResolverCourt wires it, with a publish gate (a dead process publishes nothing) and the fate hook. */
async function startCourt(node: RegtestChain, dbPath: string, fate: Fate): Promise<ResolverCourt> {
  const db = openDatabase(dbPath);
  migrate(db);
  const onCommit = (point: string): void => {
    if (!fate.armed || fate.dead) return;
    fate.count++;
    fate.points.push(point);
    if (fate.count === fate.at) {
      copyDatabase(db, fate.copyTo);
      fate.dead = true;
    }
  };
  const ring = KeyRing.fromSeed(ALICE_SEED, SIM_COIN_TYPE);
  const signer = new LocalSigner(ring);
  const e = node.endpoint;
  const chain: Chain = createChain({
    rpc: { host: `http://${e.host}:${e.port}`, username: e.username, password: e.password, timeoutMs: 5_000 },
    pollMs: 50,
    retry: { attempts: 2, baseDelayMs: 50, maxDelayMs: 200 },
    db,
    fees: { fallbackPerKw: 1000n, cacheMs: 0 },
  });
  const real = chain.broadcaster;
  const broadcaster = new Proxy(real, {
    get(target, prop, receiver) {
      if (prop === 'publish') {
        return async (tx: Transaction, label: string): Promise<PublishResult> =>
          fate.dead ? { kind: 'rejected', txid: tx.getId(), rpcCode: -1, reason: 'the process is dead' } : target.publish(tx, label);
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  // Where this briefcase stopped (its block log), not the node's tip: a process resumed from a crash copy catches up.
  const height = chain.dispatcher.tip()?.height ?? (await node.height());
  const wallet = new Wallet({ db, account: ring.walletAccountPublic(), signer, network: 'regtest' });
  const sweeper = new Sweeper({ db, signer, wallet, broadcaster, watches: chain.watches, fees: chain.fees, height, onCommit });
  const runner = new ResolverRunner({
    db,
    sweeper,
    keyring: ring,
    signer,
    broadcaster,
    watches: chain.watches,
    mempool: chain.mempool,
    fees: chain.fees,
    height,
    retry: { baseMs: 50, maxMs: 500 },
    onCommit,
  });
  const arb = new ChainArbitrator({
    db,
    keyring: ring,
    signer,
    broadcaster,
    watches: chain.watches,
    outputs: chain.source,
    resolvers: runner,
    sweeper,
    closeDepth: { min: 1, max: 1 },
    onCommit: () => onCommit('arbitrator'),
  });
  runner.attach(arb);
  chain.dispatcher.subscribe(wallet.onChainEvent);
  chain.dispatcher.subscribe(arb.onChainEvent);
  chain.dispatcher.subscribe(sweeper.onChainEvent);
  chain.dispatcher.subscribe(runner.onChainEvent);
  await sweeper.start();
  arb.start(height);
  await chain.start();
  return {
    db,
    chain,
    wallet,
    sweeper,
    arb,
    runner,
    async stop() {
      await chain.stop();
      await arb.stop();
      await runner.stop();
      db.close();
    },
  };
}

/** What a run ended with, independent of txids: per output index of the revoked commitment, its report outcomes. */
interface Outcome {
  readonly reports: string[];
  readonly events: string[];
}

function outcomeOf(court: ResolverCourt, run: BreachRun): Outcome {
  const cp = run.sim.chanPoint;
  const name = (outpoint: string): string => {
    const [txid, vout] = outpoint.split(':') as [string, string];
    if (txid === run.revoked.getId()) return `commitment:${vout}`;
    if (txid === run.second.getId()) return `second:${vout}`;
    return 'ours';
  };
  const rep = reports(court.db, cp).map((r) => `${r.type} ${name(r.outpoint)} stage ${r.stage} ${r.outcome}`).sort();
  const ev = nodeEvents(court, cp)
    .filter((e) => e.kind !== NODE_EVENT_KIND.HtlcFailedOnChain && e.kind !== NODE_EVENT_KIND.HtlcSettledOnChain)
    .map((e) => `${e.kind} ${typeof e.payload.outpoint === 'string' ? name(e.payload.outpoint) : ''}`)
    .sort();
  const fails = nodeEvents(court, cp)
    .filter((e) => e.kind === NODE_EVENT_KIND.HtlcFailedOnChain || e.kind === NODE_EVENT_KIND.HtlcSettledOnChain)
    .map((e) => `${e.kind} ${String(e.payload.direction)} ${String(e.payload.htlcId)}`)
    .sort();
  return { reports: rep, events: [...ev, ...fails] };
}

for (const format of ['static_remotekey', 'anchors'] as const) {
  describe(`breach crash suite (${format})`, { timeout: 1_800_000 }, () => {
    let node: RegtestChain;
    let tmp: ReturnType<typeof tempDir>;
    before(async () => {
      node = await startChain();
      tmp = tempDir(`breach-crash-${format}`);
    });
    after(async () => {
      await node?.stop();
      tmp?.remove();
    });

    /** One run of the scenario on a new briefcase; crashing at commit `at` (undefined: never). */
    const scenario = async (label: string, at: number | undefined): Promise<{ outcome: Outcome; points: string[]; resumed: boolean }> => {
      const fate: Fate = { armed: false, count: 0, at, points: [], dead: false, copyTo: join(tmp.dir, `${label}.crash.sqlite`) };
      let court = await startCourt(node, join(tmp.dir, `${label}.sqlite`), fate);
      await synced(node, court);
      const run = await breachUpTo(node, court, format, `crash ${format} ${label}`);
      fate.armed = true;
      let resumed = false;
      /** After each step: a dead process is replaced by a new one started from its copy. */
      const step = async (f: () => Promise<void>): Promise<void> => {
        await f();
        if (fate.dead && !resumed) {
          await court.stop();
          resumed = true;
          court = await startCourt(node, fate.copyTo, { ...fate, armed: false, dead: false, points: [] });
          await court.arb.watchesReady();
          await synced(node, court);
        }
      };
      await step(() => synced(node, court));
      await step(async () => {
        await node.mineOnly([run.second.toHex()]);
        await synced(node, court);
      });
      // One block at a time, so a dead process is replaced before the next block.
      const resolved = (): boolean => stateOf(court, run.sim.chanPoint) === 'FullyResolved';
      for (let i = 0; i < 60 && !resolved(); i++) {
        await step(async () => {
          await node.mine(1);
          await synced(node, court);
        });
      }
      const state = court.db.prepare<[string], { detail: string }>('SELECT detail FROM arbitrator_state WHERE chan_point = ?').get(run.sim.chanPoint);
      const kind = state === undefined ? 'none' : (JSON.parse(state.detail) as { kind: string }).kind;
      if (kind !== 'FullyResolved') {
        const view = court.runner.view().filter((v) => v.chanPoint === run.sim.chanPoint && v.limboSat > 0n);
        assert.fail(`${label}: ${kind}, not FullyResolved; ${JSON.stringify(view, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}`);
      }
      const outcome = outcomeOf(court, run);
      if (process.env.BREACH_CRASH_DEBUG) process.stderr.write(`${label} events ${JSON.stringify(nodeEvents(court, run.sim.chanPoint).filter((e) => e.kind === 2 || e.kind === 3))} points ${fate.points.join(',')}\n`);
      const l = await breachLedger(node, court, run);
      assert.ok(l.balanced, `${label}: ledger ${JSON.stringify(l, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}`);
      const claimed = reports(court.db, run.sim.chanPoint).filter((r) => r.type === 'breach' && r.outcome === 'claimed').map((r) => r.outpoint);
      assert.equal(new Set(claimed).size, claimed.length, 'no output claimed twice');
      await court.stop();
      return { outcome, points: fate.points, resumed };
    };

    it('resumes from every chosen checkpoint with the same outcomes, a balanced ledger and nothing spent twice', async () => {
      const ref = await scenario('reference', undefined);
      const changes = ref.points.map((p, i) => (i === 0 || ref.points[i - 1] !== p ? i + 1 : 0)).filter((k) => k > 0);
      const only = process.env.BREACH_CRASH_AT === undefined ? undefined : [Number(process.env.BREACH_CRASH_AT)];
      const chosen = only ?? (changes.length <= MAX ? changes : Array.from({ length: MAX }, (_, j) => changes[Math.floor((j * changes.length) / MAX)] as number));
      let local = 0;
      for (const k of chosen) {
        totals.checkpoints++;
        const r = await scenario(`crash-${k}`, k);
        if (r.resumed) totals.resumed++;
        try {
          assert.deepEqual(r.outcome, ref.outcome, `crash at commit ${k} (${ref.points[k - 1]})`);
        } catch (err) {
          totals.mismatches++;
          local++;
          throw err;
        }
      }
      assert.equal(local, 0);
    });
  });
}
