/**
 * Crash at every checkpoint of a resolution (the crash suite grows): the ChainArbitrator and the ResolverRunner on
 * one briefcase, a scripted chain (ScenarioChain) carrying our commitment, the second-level HTLC transactions and
 * the CSV sweeps at fixed heights, a sweeper that records offers. The reference run copies the briefcase at every
 * commit of either (arbitrator transitions, resolver steps); each copy is opened by a fresh courtd over the chain
 * as it was at that moment, which replays the rest of the inputs. Every resumed run must end as the reference did:
 * FullyResolved, the same resolver rows and values, the same reports, the same node events (kind and payload; the
 * resolvers' keyed ones exactly once).
 *
 * Registered by arbitrator.crash.test.ts, whose `crash checkpoints=N resumed=N mismatches=0` line adds these counts.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Transaction } from 'bitcoinjs-lib';
import type { ChannelSimulator } from '../../regtest/simulator.js';
import { SIM_COIN_TYPE } from '../../regtest/sim-keys.js';
import { ChainArbitrator } from '../../src/arbitrator/chain-arbitrator.js';
import type { ChainBlock, PublishResult } from '../../src/chain/ports.js';
import { ChainWatches } from '../../src/chain/watches.js';
import { KeyRing } from '../../src/keys/keyring.js';
import { LocalSigner } from '../../src/keys/signer.js';
import { ResolverRunner } from '../../src/resolvers/runner.js';
import { openDatabase, type Db } from '../../src/store/db.js';
import { migrate } from '../../src/store/migrate.js';
import type { SweepInputSpec, SweeperPort, SweepResult } from '../../src/sweep/types.js';
import { fromHex, sha256, toHex } from '../../src/util/bytes.js';
import { CourtError } from '../../src/util/errors.js';
import { copyDatabase, tempDir } from '../helpers/db.js';
import { ScenarioChain } from '../helpers/scenario-chain.js';
import { openChannel } from '../simulator/fixture.js';

const HEIGHT = 500;
const CSV = 4;

/** Records offers; nothing is swept by it (the scripted chain carries the spends). */
class RecordingSweeper implements SweeperPort {
  readonly offers = new Map<string, SweepInputSpec>();
  offer(input: SweepInputSpec): void {
    this.offers.set(input.outpoint, input);
  }
  cancel(outpoint: string): void {
    if (!this.offers.delete(outpoint)) throw new CourtError('COURT_E_SWEEP_UNKNOWN_INPUT', 'unknown');
  }
  bump(): void {}
  pending() {
    return [];
  }
  unacked(): SweepResult[] {
    return [];
  }
  ack(): void {}
  onResult(): void {}
}

interface Run {
  readonly db: Db;
  readonly arb: ChainArbitrator;
  readonly runner: ResolverRunner;
  readonly watches: ChainWatches;
  readonly chain: ScenarioChain;
  readonly sweeper: RecordingSweeper;
}

interface Input {
  readonly chain?: (chain: ScenarioChain) => void;
  readonly deliver: (run: Run) => Promise<void>;
}

function court(db: Db, sim: ChannelSimulator, chain: ScenarioChain, height: number, onCommit?: () => void): Run {
  const ring = KeyRing.fromSeed(sim.parties.alice.seed, SIM_COIN_TYPE);
  const signer = new LocalSigner(ring);
  const watches = new ChainWatches({ source: chain, utxo: chain, view: chain.view });
  const broadcaster = { publish: async (tx: Transaction): Promise<PublishResult> => ({ kind: 'accepted', txid: tx.getId() }) };
  const sweeper = new RecordingSweeper();
  const runner = new ResolverRunner({
    db,
    sweeper,
    keyring: ring,
    signer,
    broadcaster,
    watches,
    fees: { feeRatePerKw: async () => 253n },
    height,
    retry: { baseMs: 5, maxMs: 20 },
    ...(onCommit === undefined ? {} : { onCommit }),
  });
  const arb = new ChainArbitrator({
    db,
    watches,
    keyring: ring,
    signer,
    broadcaster,
    resolvers: runner,
    closeDepth: { min: 1, max: 1 },
    ...(onCommit === undefined ? {} : { onCommit }),
  });
  runner.attach(arb);
  return { db, arb, runner, watches, chain, sweeper };
}

async function settle(run: Run): Promise<void> {
  for (let i = 0; i < 4; i++) {
    await run.arb.idle();
    await run.runner.idle();
  }
}

function blockAt(height: number, txs: Transaction[]): ChainBlock {
  const hash = toHex(sha256(new TextEncoder().encode(`resolver crash block ${height}`)));
  return { hash, height, prevHash: '00'.repeat(32), txs, txids: txs.map((t) => t.getId()) };
}

function connect(b: () => ChainBlock): Input {
  return {
    chain: (chain) => chain.add(b()),
    deliver: async (run) => {
      const block = b();
      const ev = { type: 'BlockConnected' as const, height: block.height, hash: block.hash, block };
      await run.watches.onChainEvent(ev);
      await run.arb.onChainEvent(ev);
      await run.runner.onChainEvent(ev);
    },
  };
}

/** A transaction spending `outpoint` to one output of `valueSat` (the scripted chain does not check scripts). */
function spendOf(outpoint: string, valueSat: bigint, witness: Uint8Array[] = []): Transaction {
  const [txid, vout] = outpoint.split(':') as [string, string];
  const tx = new Transaction();
  tx.version = 2;
  tx.addInput(Buffer.from(fromHex(txid)).reverse(), Number(vout), 0xfffffffd);
  tx.addOutput(fromHex(`0014${'77'.repeat(20)}`), valueSat);
  tx.setWitness(0, witness);
  return tx;
}

/** The resolution of our force close with an outgoing HTLC (timeout, second level, CSV) and an incoming one settled late. */
function resolution(sim: ChannelSimulator, inPre: Uint8Array): Input[] {
  const cp = sim.chanPoint;
  const n = sim.latestNumber;
  const c = sim.commitment('alice', n);
  const out = (k: string) => c.commitment.outputs.find((o) => o.kind === k) as { index: number; amountSat: bigint };
  const offered = out('offered_htlc');
  const received = out('received_htlc');
  const toLocal = out('to_local');
  const anchor = c.commitment.outputs.find((o) => o.kind === 'local_anchor');
  const timeoutTx = () => sim.signedHtlcTx('alice', n, offered.index).tx;
  const successTx = () => sim.signedHtlcTx('alice', n, received.index, { preimage: inPre }).tx;
  const cltv = sim.htlcOfOutput('alice', n, offered.index).cltvExpiry;
  const input = (deliver: (run: Run) => Promise<void>): Input => ({ deliver });
  const ignore = async (p: Promise<unknown>): Promise<void> => void (await p.catch(() => undefined));
  const blocks = new Map<number, () => Transaction[]>([
    [HEIGHT + 1, () => [sim.signedCommitment('alice', n)]],
    [HEIGHT + 2, () => [successTx(), ...(anchor === undefined ? [] : [spendOf(`${c.txid}:${anchor.index}`, 0n)])]],
    [HEIGHT + 1 + CSV, () => [spendOf(`${c.txid}:${toLocal.index}`, toLocal.amountSat - 200n)]],
    [HEIGHT + 2 + CSV, () => [spendOf(`${successTx().getId()}:0`, (successTx().outs[0] as { value: bigint }).value - 200n)]],
    [cltv + 1, () => [timeoutTx()]],
    [cltv + 1 + CSV, () => [spendOf(`${timeoutTx().getId()}:0`, (timeoutTx().outs[0] as { value: bigint }).value - 200n)]],
  ]);
  const last = cltv + 1 + CSV + 6;
  const inputs: Input[] = [
    input(async ({ arb }) => ignore(arb.updateChannel(sim.snapshot('alice', { fundingHeightHint: HEIGHT - 5 })))),
    input(async ({ arb }) => ignore(arb.forceClose(cp))),
  ];
  for (let h = HEIGHT + 1; h <= last; h++) {
    const txs = blocks.get(h) ?? (() => []);
    inputs.push(connect(() => blockAt(h, txs())));
    if (h === HEIGHT + 1) inputs.push(input(async ({ arb }) => ignore(arb.addPreimage(inPre, 'node'))));
  }
  return inputs;
}

/** Their force close of their current commitment: to_remote and our anchor, the incoming HTLC claimed directly with a late preimage, the outgoing one timed out directly after its CLTV. */
function theirResolution(sim: ChannelSimulator, inPre: Uint8Array): Input[] {
  const n = sim.currentNumber;
  const c = sim.commitment('bob', n);
  const out = (k: string) => c.commitment.outputs.find((o) => o.kind === k) as { index: number; amountSat: bigint };
  const ourIncoming = out('offered_htlc'); // bob offered it
  const ourOutgoing = out('received_htlc'); // bob received it
  const toRemote = out('to_remote');
  const anchor = c.commitment.outputs.find((o) => o.kind === 'remote_anchor');
  const cltv = sim.htlcOfOutput('bob', n, ourOutgoing.index).cltvExpiry;
  const input = (deliver: (run: Run) => Promise<void>): Input => ({ deliver });
  const ignore = async (p: Promise<unknown>): Promise<void> => void (await p.catch(() => undefined));
  const blocks = new Map<number, () => Transaction[]>([
    [HEIGHT + 1, () => [sim.signedCommitment('bob', n)]],
    [
      HEIGHT + 2,
      () => [
        spendOf(`${c.txid}:${ourIncoming.index}`, ourIncoming.amountSat - 300n, [new Uint8Array(72), inPre, new Uint8Array(40)]),
        spendOf(`${c.txid}:${toRemote.index}`, toRemote.amountSat - 200n),
        ...(anchor === undefined ? [] : [spendOf(`${c.txid}:${anchor.index}`, 0n)]),
      ],
    ],
    [cltv + 1, () => [spendOf(`${c.txid}:${ourOutgoing.index}`, ourOutgoing.amountSat - 300n, [new Uint8Array(72), new Uint8Array(0), new Uint8Array(40)])]],
  ]);
  const last = cltv + 7;
  const inputs: Input[] = [input(async ({ arb }) => ignore(arb.updateChannel(sim.snapshot('alice', { fundingHeightHint: HEIGHT - 5 }))))];
  for (let h = HEIGHT + 1; h <= last; h++) {
    const txs = blocks.get(h) ?? (() => []);
    inputs.push(connect(() => blockAt(h, txs())));
    if (h === HEIGHT + 1) inputs.push(input(async ({ arb }) => ignore(arb.addPreimage(inPre, 'node'))));
  }
  return inputs;
}

/** What a finished run left, without row ids (a resumed run may number rows its own way). */
function outcome(db: Db, cp: string) {
  const state = db.prepare<[string], { detail: string }>('SELECT detail FROM arbitrator_state WHERE chan_point = ?').get(cp);
  const rows = db
    .prepare<[string], { outpoint: string; kind: number; state: string; resolved: number }>(
      'SELECT outpoint, kind, state, resolved FROM resolver WHERE chan_point = ? AND superseded_height IS NULL ORDER BY outpoint, kind, resolved',
    )
    .all(cp)
    .map((r) => ({ ...r, state: JSON.parse(r.state) }));
  const reports = db
    .prepare('SELECT outpoint, stage, report_type, outcome, amount_sat, spend_txid, height FROM resolution_report WHERE chan_point = ? ORDER BY outpoint, stage')
    .all(cp);
  const events = (db.prepare('SELECT kind, payload FROM node_event WHERE chan_point = ?').all(cp) as { kind: number; payload: string }[])
    .map((e) => `${e.kind} ${e.payload}`)
    .sort();
  const keys = db.prepare('SELECT key FROM resolver_node_key ORDER BY key').pluck().all();
  return { state: state === undefined ? null : JSON.parse(state.detail), rows, reports, events, keys };
}

/** This suite's counts (arbitrator.crash.test.ts prints them with its own). */
export const resolverCrash = { checkpoints: 0, resumed: 0, mismatches: 0 };

describe('crash at every checkpoint: resolvers', () => {
  const tmp = tempDir('resolver-crash');
  after(() => tmp.remove());

  const cases = [
    ['our force close resolved (timeout via second level + CSV, late preimage, to_local)', resolution, { anchors: 6, static_remotekey: 5 }],
    ['their force close resolved (direct timeout, direct success with a late preimage, to_remote)', theirResolution, { anchors: 4, static_remotekey: 3 }],
  ] as const;
  for (const [name, make, nReports] of cases) for (const format of ['static_remotekey', 'anchors'] as const) {
    it(`${name} resumes from every commit to the same end (${format})`, async () => {
      const sim = openChannel(format, { toSelfDelay: { alice: CSV, bob: CSV } });
      const inPre = sha256(new TextEncoder().encode(`crash in ${format}`));
      sim.addHtlc('alice', 50_000_000n, HEIGHT + 12, sha256(new TextEncoder().encode(`crash out ${format}`)));
      sim.addHtlc('bob', 40_000_000n, HEIGHT + 60, inPre);
      sim.commit();
      const cp = sim.chanPoint;
      const inputs = make(sim, inPre);
      const base = join(tmp.dir, `${format}-${make === resolution ? 'ours' : 'theirs'}`);

      const refDb = openDatabase(`${base}-ref.sqlite`);
      migrate(refDb);
      const copies: Array<{ path: string; input: number }> = [];
      let current = 0;
      const ref = court(refDb, sim, new ScenarioChain(HEIGHT), HEIGHT, () => {
        const path = `${base}-cp${copies.length}.sqlite`;
        copyDatabase(refDb, path);
        copies.push({ path, input: current });
      });
      ref.arb.start(HEIGHT);
      for (const [i, input] of inputs.entries()) {
        current = i;
        input.chain?.(ref.chain);
        await input.deliver(ref);
        await settle(ref);
      }
      const want = outcome(refDb, cp);
      assert.equal((want.state as { kind: string }).kind, 'FullyResolved', 'the reference run resolves the channel');
      assert.equal(want.reports.length, nReports[format], 'a report for every output and stage');
      assert.ok(copies.length >= 10, `expected many checkpoints, got ${copies.length}`);
      await ref.arb.stop();
      await ref.runner.stop();
      await ref.watches.stop();
      refDb.close();

      for (const c of copies) {
        resolverCrash.checkpoints++;
        const db = openDatabase(c.path);
        migrate(db);
        const chain = new ScenarioChain(HEIGHT);
        for (const i of inputs.slice(0, c.input + 1)) i.chain?.(chain);
        const tip = chain.view.tip().height;
        const run = court(db, sim, chain, tip);
        run.arb.start(tip);
        await run.arb.watchesReady();
        await settle(run);
        for (const input of inputs.slice(c.input)) {
          input.chain?.(chain);
          await input.deliver(run);
          await settle(run);
        }
        resolverCrash.resumed++;
        let ok = true;
        try {
          assert.deepEqual(outcome(db, cp), want, `resumed from checkpoint ${c.path} (input ${c.input})`);
        } catch (err) {
          ok = false;
          resolverCrash.mismatches++;
          throw err;
        } finally {
          await run.arb.stop();
          await run.runner.stop();
          await run.watches.stop();
          db.close();
          if (!ok) process.stdout.write(`mismatch at ${c.path}\n`);
        }
      }
    });
  }
});
