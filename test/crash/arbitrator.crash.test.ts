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
import { KeyRing } from '../../src/keys/keyring.js';
import { LocalSigner } from '../../src/keys/signer.js';
import { ARBITRATOR_STATE } from '../../src/store/codes.js';
import { openDatabase, type Db } from '../../src/store/db.js';
import { migrate } from '../../src/store/migrate.js';
import { sha256, toHex } from '../../src/util/bytes.js';
import { copyDatabase, tempDir } from '../helpers/db.js';
import { openChannel } from '../simulator/fixture.js';

type Input = (arb: ChainArbitrator, db: Db) => Promise<void>;

interface Run {
  readonly db: Db;
  readonly arb: ChainArbitrator;
  readonly broadcasts: Map<string, string>;
}

const HEIGHT = 500;

function court(db: Db, sim: ChannelSimulator, onCommit?: () => void): Run {
  const ring = KeyRing.fromSeed(sim.parties.alice.seed, SIM_COIN_TYPE);
  const broadcasts = new Map<string, string>();
  const arb = new ChainArbitrator({
    db,
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
  return { db, arb, broadcasts };
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
function scenario(sim: ChannelSimulator, close: () => Transaction, goOnChain?: Input): Input[] {
  const cp = sim.chanPoint;
  const inputs: Input[] = [
    async (arb) => ignoreRefusal(arb.updateChannel(sim.snapshot('alice'))),
  ];
  return [
    ...inputs,
    goOnChain ?? (async (arb) => ignoreRefusal(arb.forceClose(cp))),
    async (arb) => arb.onChainEvent(block(HEIGHT + 1, [close()])),
    async (arb) => arb.onChainEvent(block(HEIGHT + 2, [])),
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

  // A preimage past an incoming HTLC's cutoff takes the channel on chain (issue 9 item 4): the node resends its
  // unanswered POST after a crash, so addPreimage is redelivered like any other input.
  const SOON = sha256(new TextEncoder().encode('in soon'));
  /** Our commitment newer than courtd's snapshot confirms (CloseUnresolved), then the node sends its snapshot. */
  const ourUnknown = (sim: ChannelSimulator): Input[] => {
    const cp = sim.chanPoint;
    const before = sim.snapshot('alice');
    sim.commit();
    const after = sim.snapshot('alice');
    const close = sim.signedCommitment('alice', sim.latestNumber);
    return [
      async (arb) => ignoreRefusal(arb.updateChannel(before)),
      async (arb) => arb.onChainEvent(block(HEIGHT + 1, [close])),
      async (arb) => arb.onChainEvent(block(HEIGHT + 2, [])),
      async (arb) => ignoreRefusal(arb.updateChannel(after)),
      async (arb, db) => {
        for (const r of resolverRows(db, cp)) await arb.resolverFinished(cp, r.outpoint);
      },
    ];
  };
  const preimagePastCutoff: Input = async (arb) => void (await arb.addPreimage(SOON, 'node'));
  const cases: Array<[string, (sim: ChannelSimulator) => Input[], boolean]> = [
    ['our force close', (sim) => scenario(sim, () => sim.signedCommitment('alice', sim.latestNumber)), false],
    ['their force close', (sim) => scenario(sim, () => sim.signedCommitment('bob', sim.currentNumber)), false],
    ['a preimage past its cutoff', (sim) => scenario(sim, () => sim.signedCommitment('alice', sim.latestNumber), preimagePastCutoff), true],
    ['our commitment newer than the snapshot', ourUnknown, false],
  ];
  for (const format of ['static_remotekey', 'anchors'] as const) {
    for (const [name, inputsOf, soon] of cases) {
      it(`${name} (${format}) resumes from every commit to the same end`, async () => {
        const sim = openChannel(format);
        sim.addHtlc('alice', 50_000_000n, HEIGHT + 40, sha256(new TextEncoder().encode('out')));
        sim.addHtlc('alice', 400_000n, HEIGHT + 45, sha256(new TextEncoder().encode('dust')));
        sim.addHtlc('bob', 40_000_000n, HEIGHT + 50, sha256(new TextEncoder().encode('in')));
        if (soon) sim.addHtlc('bob', 30_000_000n, HEIGHT + 16, SOON); // with its preimage: on chain at HEIGHT
        sim.commit();
        const cp = sim.chanPoint;
        const inputs = inputsOf(sim);
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
          await input(ref.arb, refDb);
          await ref.arb.idle();
        }
        const want = outcome(refDb, cp);
        assert.equal((want.state as { kind: string }).kind, 'FullyResolved', 'the reference run resolves the channel');
        assert.ok(copies.length >= 8, `expected many checkpoints, got ${copies.length}`);
        if (inputsOf === ourUnknown) {
          const states = refDb.prepare<[string], { to_state: number }>('SELECT to_state FROM transition_log WHERE machine_id = ?').all(cp);
          assert.ok(states.some((r) => r.to_state === ARBITRATOR_STATE.CloseUnresolved), 'the reference run waited in CloseUnresolved');
        }
        if (soon) assert.ok(ref.broadcasts.has(sim.commitment('alice', sim.latestNumber).txid), 'the preimage took the channel on chain');
        await ref.arb.stop();
        refDb.close();

        for (const c of copies) {
          checkpoints++;
          const db = openDatabase(c.path);
          migrate(db);
          const run = court(db, sim);
          run.arb.start(HEIGHT);
          await run.arb.idle();
          for (const input of inputs.slice(c.input)) {
            await input(run.arb, db);
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
            db.close();
            if (!ok) process.stdout.write(`mismatch at ${c.path}\n`);
          }
        }
      });
    }
  }
});
