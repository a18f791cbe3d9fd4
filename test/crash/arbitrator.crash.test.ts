/**
 * Crash at every checkpoint (style.md principle 13) for the ChainArbitrator. Each scenario runs once to the end
 * while a copy of the briefcase is taken at every commit (transition or effect marked done). Then, for each copy,
 * a fresh ChainArbitrator starts from it (as a new process would), the external inputs are delivered again from
 * the one that was being processed when the copy was taken (the node resends, the dispatcher redelivers from its
 * log: at-least-once), and the run must end in the same final state, with the same node events (same ids, kinds
 * and payloads), and with every transaction it broadcast identical to the reference run's.
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
import type { ChainEvent, PublishResult } from '../../src/chain/ports.js';
import type { ChainWatches } from '../../src/chain/watches.js';
import { KeyRing } from '../../src/keys/keyring.js';
import { LocalSigner } from '../../src/keys/signer.js';
import { openDatabase, type Db } from '../../src/store/db.js';
import { migrate } from '../../src/store/migrate.js';
import { sha256, toHex } from '../../src/util/bytes.js';
import { copyDatabase, tempDir } from '../helpers/db.js';
import { liveWatches } from '../helpers/watches.js';
import { openChannel } from '../simulator/fixture.js';

type Input = (arb: ChainArbitrator, db: Db, watches: ChainWatches) => Promise<void>;

/** A block event as the dispatcher delivers it: the watches first (funding spends), then the arbitrator. */
async function deliver(arb: ChainArbitrator, watches: ChainWatches, event: ChainEvent): Promise<void> {
  await watches.onChainEvent(event);
  await arb.onChainEvent(event);
}

interface Run {
  readonly db: Db;
  readonly arb: ChainArbitrator;
  readonly watches: ChainWatches;
  readonly broadcasts: Map<string, string>;
}

const HEIGHT = 500;

function court(db: Db, sim: ChannelSimulator, onCommit?: () => void): Run {
  const ring = KeyRing.fromSeed(sim.parties.alice.seed, SIM_COIN_TYPE);
  const broadcasts = new Map<string, string>();
  const watches = liveWatches();
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
  return { db, arb, watches, broadcasts };
}

function block(height: number, txs: Transaction[]): ChainEvent {
  const hash = toHex(sha256(new TextEncoder().encode(`crash block ${height}`)));
  return {
    type: 'BlockConnected',
    height,
    hash,
    block: { hash, height, prevHash: '00'.repeat(32), txs, txids: txs.map((t) => t.getId()) },
  };
}

/** What a finished run left: the arbitrator state JSON and the node events. */
function outcome(db: Db, cp: string): { state: unknown; events: unknown[] } {
  const row = db.prepare<[string], { detail: string }>('SELECT detail FROM arbitrator_state WHERE chan_point = ?').get(cp);
  const events = db.prepare<[string], { id: number; kind: number; payload: string }>('SELECT id, kind, payload FROM node_event WHERE chan_point = ? ORDER BY id').all(cp);
  return { state: row === undefined ? null : JSON.parse(row.detail), events };
}

const ignoreRefusal = async (p: Promise<unknown>): Promise<void> => {
  await p.catch(() => undefined);
};

/** The inputs of one scenario, in delivery order. */
function scenario(sim: ChannelSimulator, close: () => Transaction): Input[] {
  const cp = sim.chanPoint;
  const inputs: Input[] = [
    async (arb) => ignoreRefusal(arb.updateChannel(sim.snapshot('alice'))),
  ];
  return [
    ...inputs,
    async (arb) => ignoreRefusal(arb.forceClose(cp)),
    async (arb, _db, watches) => deliver(arb, watches, block(HEIGHT + 1, [close()])),
    async (arb, _db, watches) => deliver(arb, watches, block(HEIGHT + 2, [])),
    async (arb, db) => {
      for (const r of resolverRows(db, cp)) await arb.resolverFinished(cp, r.outpoint);
    },
  ];
}

let checkpoints = 0;
let resumed = 0;
let mismatches = 0;

describe('crash at every checkpoint: ChainArbitrator', () => {
  const tmp = tempDir('courtd-crash-');
  after(() => {
    if (process.env.KEEP_CRASH === undefined) tmp.remove();
    process.stdout.write(`crash checkpoints=${checkpoints} resumed=${resumed} mismatches=${mismatches}\n`);
  });

  const cases: Array<[string, (sim: ChannelSimulator) => Transaction]> = [
    ['our force close', (sim) => sim.signedCommitment('alice', sim.latestNumber)],
    ['their force close', (sim) => sim.signedCommitment('bob', sim.currentNumber)],
  ];
  for (const format of ['static_remotekey', 'anchors'] as const) {
    for (const [name, closeTx] of cases) {
      it(`${name} (${format}) resumes from every commit to the same end`, async () => {
        const sim = openChannel(format);
        sim.addHtlc('alice', 50_000_000n, HEIGHT + 40, sha256(new TextEncoder().encode('out')));
        sim.addHtlc('alice', 400_000n, HEIGHT + 45, sha256(new TextEncoder().encode('dust')));
        sim.addHtlc('bob', 40_000_000n, HEIGHT + 50, sha256(new TextEncoder().encode('in')));
        sim.commit();
        const cp = sim.chanPoint;
        const inputs = scenario(sim, () => closeTx(sim));
        const base = join(tmp.dir, `${format}-${name.replace(/ /g, '-')}`);

        // Reference run, copying the briefcase at every commit and noting which input was being processed.
        const refDb = openDatabase(`${base}-ref.sqlite`);
        migrate(refDb);
        const copies: Array<{ path: string; input: number }> = [];
        let current = 0;
        const ref = court(refDb, sim, () => {
          const path = `${base}-cp${copies.length}.sqlite`;
          copyDatabase(refDb, path);
          copies.push({ path, input: current });
        });
        ref.arb.start(HEIGHT);
        for (const [i, input] of inputs.entries()) {
          current = i;
          await input(ref.arb, refDb, ref.watches);
          await ref.arb.idle();
        }
        const want = outcome(refDb, cp);
        assert.equal((want.state as { kind: string }).kind, 'FullyResolved', 'the reference run resolves the channel');
        assert.ok(copies.length >= 8, `expected many checkpoints, got ${copies.length}`);
        await ref.arb.stop();
        await ref.watches.stop();
        refDb.close();

        for (const c of copies) {
          checkpoints++;
          const db = openDatabase(c.path);
          migrate(db);
          const run = court(db, sim);
          run.arb.start(HEIGHT);
          await run.arb.idle();
          for (const input of inputs.slice(c.input)) {
            await input(run.arb, db, run.watches);
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
