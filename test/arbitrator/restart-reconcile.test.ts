/**
 * The start-up reconciliation of a closed channel (chain-arbitrator.ts #watch) when courtd restarts with its block
 * log behind the close: a crash after the close's block was taken in but before the dispatcher logged it (found by
 * the breach crash suite). The rescan reaches only the log's tip, so it cannot see the spend; the close must not be
 * rolled back for that (no channelClosing "closeDisconnected", no second breachDetected), and once the dispatcher
 * delivers the close's block the channel is where it was. A close really gone (its block replaced while courtd was
 * down) is still rolled back when the dispatcher reaches that height.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { Transaction } from 'bitcoinjs-lib';
import { SIM_COIN_TYPE } from '../../regtest/sim-keys.js';
import type { ChannelSimulator } from '../../regtest/simulator.js';
import { ChainArbitrator } from '../../src/arbitrator/chain-arbitrator.js';
import type { ChainBlock, PublishResult } from '../../src/chain/ports.js';
import { ChainWatches } from '../../src/chain/watches.js';
import { KeyRing } from '../../src/keys/keyring.js';
import { LocalSigner } from '../../src/keys/signer.js';
import { NODE_EVENT_KIND } from '../../src/store/codes.js';
import { openDatabase, type Db } from '../../src/store/db.js';
import { migrate } from '../../src/store/migrate.js';
import { sha256, toHex } from '../../src/util/bytes.js';
import { tempDir } from '../helpers/db.js';
import { ScenarioChain } from '../helpers/scenario-chain.js';
import { openChannel } from '../simulator/fixture.js';

const HEIGHT = 700;
const tmp = tempDir('restart-reconcile');
after(() => tmp.remove());

interface Run {
  readonly arb: ChainArbitrator;
  readonly watches: ChainWatches;
}

function court(db: Db, sim: ChannelSimulator, chain: ScenarioChain): Run {
  const ring = KeyRing.fromSeed(sim.parties.alice.seed, SIM_COIN_TYPE);
  const watches = new ChainWatches({ source: chain, utxo: chain, view: chain.view });
  const arb = new ChainArbitrator({
    db,
    watches,
    keyring: ring,
    signer: new LocalSigner(ring),
    broadcaster: { publish: async (tx: Transaction): Promise<PublishResult> => ({ kind: 'accepted', txid: tx.getId() }) },
    closeDepth: { min: 1, max: 1 },
  });
  return { arb, watches };
}

function block(height: number, txs: Transaction[], salt = ''): ChainBlock {
  const hash = toHex(sha256(new TextEncoder().encode(`restart-reconcile ${height} ${salt}`)));
  return { hash, height, prevHash: '00'.repeat(32), txs, txids: txs.map((t) => t.getId()) };
}

async function deliver(run: Run, b: ChainBlock): Promise<void> {
  const ev = { type: 'BlockConnected' as const, height: b.height, hash: b.hash, block: b };
  await run.watches.onChainEvent(ev);
  await run.arb.onChainEvent(ev);
  await run.arb.idle();
}

async function stop(run: Run): Promise<void> {
  await run.arb.stop();
  await run.watches.stop();
}

const stateKind = (db: Db, cp: string): string =>
  (JSON.parse(db.prepare<[string], { detail: string }>('SELECT detail FROM arbitrator_state WHERE chan_point = ?').get(cp)?.detail ?? '{}') as { kind: string }).kind;
const eventKinds = (db: Db, cp: string): number[] => db.prepare<[string], { kind: number }>('SELECT kind FROM node_event WHERE chan_point = ? ORDER BY id').all(cp).map((r) => r.kind);

/** A breach confirmed at HEIGHT + 1 and taken in; returns the briefcase and the close's block. */
async function closedAt(label: string): Promise<{ db: Db; sim: ChannelSimulator; closeBlock: ChainBlock }> {
  const sim = openChannel('anchors');
  sim.addHtlc('alice', 50_000_000n, HEIGHT + 100);
  sim.commit();
  const n = sim.currentNumber;
  sim.commit();
  const db = openDatabase(join(tmp.dir, `${label}.sqlite`));
  migrate(db);
  const chain = new ScenarioChain(HEIGHT);
  const run = court(db, sim, chain);
  run.arb.start(HEIGHT);
  await run.arb.updateChannel(sim.snapshot('alice', { fundingHeightHint: HEIGHT - 5 }));
  for (let k = 0; k < sim.currentNumber; k++) run.arb.addRevocation(sim.chanPoint, sim.revealedSecret('bob', k), k);
  await run.arb.watchesReady();
  const closeBlock = block(HEIGHT + 1, [sim.signedCommitment('bob', n)]);
  chain.add(closeBlock);
  await deliver(run, closeBlock);
  assert.equal(stateKind(db, sim.chanPoint), 'WaitingFullResolution');
  await stop(run);
  return { db, sim, closeBlock };
}

describe('start-up reconciliation with the block log behind the close', () => {
  it('keeps a close above the log tip; its block delivered again changes nothing', async () => {
    const { db, sim, closeBlock } = await closedAt('kept');
    const before = eventKinds(db, sim.chanPoint);
    assert.equal(before.filter((k) => k === NODE_EVENT_KIND.BreachDetected).length, 1);
    // The node has the close's block; courtd's log ends one block below it.
    const chain = new ScenarioChain(HEIGHT);
    const run = court(db, sim, chain);
    run.arb.start(HEIGHT);
    await run.arb.watchesReady();
    await run.arb.idle();
    assert.equal(stateKind(db, sim.chanPoint), 'WaitingFullResolution', 'not rolled back at start');
    chain.add(closeBlock);
    await deliver(run, closeBlock);
    assert.equal(stateKind(db, sim.chanPoint), 'WaitingFullResolution');
    assert.deepEqual(eventKinds(db, sim.chanPoint), before, 'no closeDisconnected, no second breachDetected');
    await stop(run);
    db.close();
  });

  it('rolls back a close whose block was replaced while courtd was down, once the dispatcher reaches its height', async () => {
    const { db, sim } = await closedAt('gone');
    const chain = new ScenarioChain(HEIGHT);
    const run = court(db, sim, chain);
    run.arb.start(HEIGHT);
    await run.arb.watchesReady();
    await run.arb.idle();
    assert.equal(stateKind(db, sim.chanPoint), 'WaitingFullResolution', 'undecided until that height is delivered');
    const other = block(HEIGHT + 1, [], 'replacement');
    chain.add(other);
    await deliver(run, other);
    assert.equal(stateKind(db, sim.chanPoint), 'Default', 'the close left the chain: rolled back');
    assert.ok(eventKinds(db, sim.chanPoint).includes(NODE_EVENT_KIND.ChannelClosing));
    await stop(run);
    db.close();
  });
});
