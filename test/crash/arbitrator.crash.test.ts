/**
 * Crash at every checkpoint (style.md principle 13) for the ChainArbitrator. Each scenario runs once to the end
 * while a copy of the briefcase is taken at every commit (transition or effect marked done). Then, for each copy,
 * a fresh ChainArbitrator starts from it (as a new process would), the external inputs are delivered again from
 * the one that was being processed when the copy was taken (the node resends, the dispatcher redelivers from its
 * log: at-least-once), and the run must end in the same final state, with the same node events (same ids, kinds
 * and payloads), and with every transaction it broadcast identical to the reference run's. The node's chain at the
 * crash (every block mined or reorganised away up to the input being processed) is what the fresh arbitrator's
 * funding watches rescan at start; a reorg scenario removes a confirmed close and confirms another one.
 *
 * Prints `crash checkpoints=N resumed=N mismatches=0`.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { Transaction } from 'bitcoinjs-lib';
import type { ChannelSimulator } from '../../regtest/simulator.js';
import { SIM_COIN_TYPE } from '../../regtest/sim-keys.js';
import { ChainArbitrator } from '../../src/arbitrator/chain-arbitrator.js';
import { resolverRows } from '../../src/arbitrator/store.js';
import type { ChainBlock, PublishResult } from '../../src/chain/ports.js';
import { ChainWatches } from '../../src/chain/watches.js';
import { KeyRing } from '../../src/keys/keyring.js';
import { LocalSigner } from '../../src/keys/signer.js';
import { ARBITRATOR_STATE } from '../../src/store/codes.js';
import { openDatabase, type Db } from '../../src/store/db.js';
import { migrate } from '../../src/store/migrate.js';
import { sha256, toHex } from '../../src/util/bytes.js';
import { copyDatabase, tempDir } from '../helpers/db.js';
import { ScenarioChain } from '../helpers/scenario-chain.js';
import { openChannel } from '../simulator/fixture.js';
// the resolver scenarios run first (registered on import); the line below counts them too
import { resolverCrash } from './resolvers.crash.js';

/** One external input: what the node's chain does (idempotent, replayed before a resume) and what courtd is given. */
interface Input {
  readonly chain?: (chain: ScenarioChain) => void;
  readonly deliver: (run: Run) => Promise<void>;
}

interface Run {
  readonly db: Db;
  readonly arb: ChainArbitrator;
  readonly watches: ChainWatches;
  readonly chain: ScenarioChain;
  readonly broadcasts: Map<string, string>;
}

const HEIGHT = 500;

function court(db: Db, sim: ChannelSimulator, chain: ScenarioChain, onCommit?: () => void): Run {
  const ring = KeyRing.fromSeed(sim.parties.alice.seed, SIM_COIN_TYPE);
  const broadcasts = new Map<string, string>();
  const watches = new ChainWatches({ source: chain, utxo: chain, view: chain.view });
  const arb = new ChainArbitrator({
    db,
    watches,
    keyring: ring,
    signer: new LocalSigner(ring),
    broadcaster: {
      publish: async (tx: Transaction): Promise<PublishResult> => {
        broadcasts.set(tx.getId(), tx.toHex());
        return { kind: 'accepted', txid: tx.getId() };
      },
    },
    closeDepth: { min: 2, max: 2 },
    ...(onCommit === undefined ? {} : { onCommit }),
  });
  return { db, arb, watches, chain, broadcasts };
}

function blockAt(height: number, txs: Transaction[], branch = ''): ChainBlock {
  const hash = toHex(sha256(new TextEncoder().encode(`crash block ${height}${branch}`)));
  return { hash, height, prevHash: '00'.repeat(32), txs, txids: txs.map((t) => t.getId()) };
}

/** A block mined by the node, then delivered as the dispatcher does: the watches first (funding spends), then the arbitrator. */
function connect(b: () => ChainBlock): Input {
  return {
    chain: (chain) => chain.add(b()),
    deliver: async (run) => {
      const block = b();
      await run.watches.onChainEvent({ type: 'BlockConnected', height: block.height, hash: block.hash, block });
      await run.arb.onChainEvent({ type: 'BlockConnected', height: block.height, hash: block.hash, block });
    },
  };
}

/** The node's tip block reorganised away, then the disconnect delivered. */
function disconnect(b: () => ChainBlock): Input {
  return {
    chain: (chain) => chain.remove(b().height, b().hash),
    deliver: async (run) => {
      const { height, hash } = b();
      await run.watches.onChainEvent({ type: 'BlockDisconnected', height, hash });
      await run.arb.onChainEvent({ type: 'BlockDisconnected', height, hash });
    },
  };
}

const input = (deliver: (run: Run) => Promise<void>): Input => ({ deliver });

/** What a finished run left: the arbitrator state JSON and the node events. */
function outcome(db: Db, cp: string): { state: unknown; events: unknown[] } {
  const row = db.prepare<[string], { detail: string }>('SELECT detail FROM arbitrator_state WHERE chan_point = ?').get(cp);
  const events = db.prepare<[string], { id: number; kind: number; payload: string }>('SELECT id, kind, payload FROM node_event WHERE chan_point = ? ORDER BY id').all(cp);
  return { state: row === undefined ? null : JSON.parse(row.detail), events };
}

const ignoreRefusal = async (p: Promise<unknown>): Promise<void> => {
  await p.catch(() => undefined);
};

const update = (sim: ChannelSimulator): Input => input(async ({ arb }) => ignoreRefusal(arb.updateChannel(sim.snapshot('alice', { fundingHeightHint: HEIGHT - 5 }))));
const finishAll = (cp: string): Input =>
  input(async ({ arb, db }) => {
    for (const r of resolverRows(db, cp)) await arb.resolverFinished(cp, r.outpoint);
  });

/** The inputs of one scenario, in delivery order; `goOnChain` replaces the force close (e.g. a preimage). */
function scenario(sim: ChannelSimulator, close: () => Transaction, goOnChain?: Input): Input[] {
  const cp = sim.chanPoint;
  return [
    update(sim),
    goOnChain ?? input(async ({ arb }) => ignoreRefusal(arb.forceClose(cp))),
    connect(() => blockAt(HEIGHT + 1, [close()])),
    connect(() => blockAt(HEIGHT + 2, [])),
    finishAll(cp),
  ];
}

/**
 * Their commitment confirms and the channel closes (resolvers recorded), then a reorg removes both blocks and
 * our commitment confirms on the new branch instead: the rollback and the new close at every checkpoint.
 */
function reorgScenario(sim: ChannelSimulator, first: () => Transaction, second: () => Transaction): Input[] {
  const cp = sim.chanPoint;
  const a1 = () => blockAt(HEIGHT + 1, [first()]);
  const a2 = () => blockAt(HEIGHT + 2, []);
  return [
    update(sim),
    connect(a1),
    connect(a2),
    disconnect(a2),
    disconnect(a1),
    connect(() => blockAt(HEIGHT + 1, [second()], "'")),
    connect(() => blockAt(HEIGHT + 2, [], "'")),
    finishAll(cp),
  ];
}

/** Our commitment newer than courtd's snapshot confirms (CloseUnresolved), then the node sends its snapshot. */
function ourUnknown(sim: ChannelSimulator): Input[] {
  const cp = sim.chanPoint;
  const before = sim.snapshot('alice', { fundingHeightHint: HEIGHT - 5 });
  sim.commit();
  const after = sim.snapshot('alice', { fundingHeightHint: HEIGHT - 5 });
  const close = sim.signedCommitment('alice', sim.latestNumber);
  return [
    input(async ({ arb }) => ignoreRefusal(arb.updateChannel(before))),
    connect(() => blockAt(HEIGHT + 1, [close])),
    connect(() => blockAt(HEIGHT + 2, [])),
    input(async ({ arb }) => ignoreRefusal(arb.updateChannel(after))),
    finishAll(cp),
  ];
}

// A preimage past an incoming HTLC's cutoff takes the channel on chain (issue 9 item 4): the node resends its
// unanswered POST after a crash, so addPreimage is redelivered like any other input.
const SOON = sha256(new TextEncoder().encode('in soon'));
const preimagePastCutoff: Input = input(async ({ arb }) => void (await arb.addPreimage(SOON, 'node')));

let checkpoints = 0;
let resumed = 0;
let mismatches = 0;

describe('crash at every checkpoint: ChainArbitrator', () => {
  const tmp = tempDir('courtd-crash-');
  after(() => {
    if (process.env.KEEP_CRASH === undefined) tmp.remove();
    process.stdout.write(
      `crash checkpoints=${checkpoints + resolverCrash.checkpoints} resumed=${resumed + resolverCrash.resumed} mismatches=${mismatches + resolverCrash.mismatches}\n`,
    );
  });

  const cases: Array<[string, (sim: ChannelSimulator) => Input[], string]> = [
    ['our force close', (sim) => scenario(sim, () => sim.signedCommitment('alice', sim.latestNumber)), 'local'],
    ['a preimage past its cutoff', (sim) => scenario(sim, () => sim.signedCommitment('alice', sim.latestNumber), preimagePastCutoff), 'local'],
    ['our commitment newer than the snapshot', ourUnknown, 'local'],
    ['their force close', (sim) => scenario(sim, () => sim.signedCommitment('bob', sim.currentNumber)), 'remote'],
    [
      'their close reorged out after ContractClosed, ours confirmed instead',
      (sim) => reorgScenario(sim, () => sim.signedCommitment('bob', sim.currentNumber), () => sim.signedCommitment('alice', sim.latestNumber)),
      'local',
    ],
  ];
  for (const format of ['static_remotekey', 'anchors'] as const) {
    for (const [name, make, closeType] of cases) {
      it(`${name} (${format}) resumes from every commit to the same end`, async () => {
        const sim = openChannel(format);
        sim.addHtlc('alice', 50_000_000n, HEIGHT + 40, sha256(new TextEncoder().encode('out')));
        sim.addHtlc('alice', 400_000n, HEIGHT + 45, sha256(new TextEncoder().encode('dust')));
        sim.addHtlc('bob', 40_000_000n, HEIGHT + 50, sha256(new TextEncoder().encode('in')));
        const soon = name === 'a preimage past its cutoff';
        if (soon) sim.addHtlc('bob', 30_000_000n, HEIGHT + 16, SOON); // with its preimage: on chain at HEIGHT
        sim.commit();
        const cp = sim.chanPoint;
        const inputs = make(sim);
        const base = join(tmp.dir, `${format}-${name.replace(/[^a-z]+/gi, '-')}`);

        // Reference run, copying the briefcase at every commit and noting which input was being processed.
        const refDb = openDatabase(`${base}-ref.sqlite`);
        migrate(refDb);
        const copies: Array<{ path: string; input: number }> = [];
        let current = 0;
        const ref = court(refDb, sim, new ScenarioChain(HEIGHT), () => {
          const path = `${base}-cp${copies.length}.sqlite`;
          copyDatabase(refDb, path);
          copies.push({ path, input: current });
        });
        ref.arb.start(HEIGHT);
        for (const [i, input] of inputs.entries()) {
          current = i;
          input.chain?.(ref.chain);
          await input.deliver(ref);
          await ref.arb.idle();
        }
        const want = outcome(refDb, cp);
        assert.equal((want.state as { kind: string }).kind, 'FullyResolved', 'the reference run resolves the channel');
        assert.equal((want.state as { close: { type: string } }).close.type, closeType, 'by the close the chain kept');
        assert.ok(copies.length >= 8, `expected many checkpoints, got ${copies.length}`);
        if (soon) assert.ok(ref.broadcasts.has(sim.commitment('alice', sim.latestNumber).txid), 'the preimage took the channel on chain');
        if (make === ourUnknown) {
          const states = refDb.prepare<[string], { to_state: number }>('SELECT to_state FROM transition_log WHERE machine_id = ?').all(cp);
          assert.ok(states.some((r) => r.to_state === ARBITRATOR_STATE.CloseUnresolved), 'the reference run waited in CloseUnresolved');
        }
        await ref.arb.stop();
        await ref.watches.stop();
        refDb.close();

        for (const c of copies) {
          checkpoints++;
          const db = openDatabase(c.path);
          migrate(db);
          // The node's chain when the copy was taken: every input up to the one being processed had reached it.
          const chain = new ScenarioChain(HEIGHT);
          for (const i of inputs.slice(0, c.input + 1)) i.chain?.(chain);
          const run = court(db, sim, chain);
          run.arb.start(HEIGHT);
          await run.arb.watchesReady();
          await run.arb.idle();
          for (const input of inputs.slice(c.input)) {
            input.chain?.(chain);
            await input.deliver(run);
            await run.arb.idle();
          }
          resumed++;
          const got = outcome(db, cp);
          let ok = true;
          try {
            assert.deepEqual(got, want, `resumed from checkpoint ${c.path} (input ${c.input})`);
            for (const [txid, hex] of run.broadcasts) assert.equal(ref.broadcasts.get(txid), hex, `broadcast ${txid} differs from the reference run`);
          } catch (err) {
            ok = false;
            mismatches++;
            throw err;
          } finally {
            await run.arb.stop();
            await run.watches.stop();
            db.close();
            if (!ok) process.stdout.write(`mismatch at ${c.path}\n`);
          }
        }
      });
    }
  }
});
