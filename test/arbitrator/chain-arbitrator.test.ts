/**
 * The ChainArbitrator and the chain layer's funding watches (one owner for spends and reorgs), over a fake chain
 * with the real dispatcher and ChainWatches: a reorg that removes a seen funding spend clears it, both when the
 * spend was seen in this process and after a restart (the watch's rescan from the height hint finds the spend
 * again, so its reorg is reported), and no other channel is touched; a channel registered after its funding
 * output was spent finds the spend through the rescan.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { SIM_COIN_TYPE } from '../../regtest/sim-keys.js';
import type { ChannelSimulator } from '../../regtest/simulator.js';
import { ChainArbitrator } from '../../src/arbitrator/chain-arbitrator.js';
import { MemoryBlockLog } from '../../src/chain/block-log.js';
import { BlockDispatcher } from '../../src/chain/dispatcher.js';
import type { BlockRef } from '../../src/chain/ports.js';
import { ChainWatches } from '../../src/chain/watches.js';
import { KeyRing } from '../../src/keys/keyring.js';
import { LocalSigner } from '../../src/keys/signer.js';
import { openDatabase, type Db } from '../../src/store/db.js';
import { migrate } from '../../src/store/migrate.js';
import { tempDir } from '../helpers/db.js';
import { FakeChain, instantSleep } from '../helpers/fake-chain.js';
import { openChannel } from '../simulator/fixture.js';

interface Court {
  readonly arb: ChainArbitrator;
  readonly dispatcher: BlockDispatcher;
  readonly watches: ChainWatches;
  readonly log: MemoryBlockLog;
}

/** Dispatcher -> watches -> arbitrator over `chain`, resuming from `refs` (a restart) if given. */
function court(db: Db, chain: FakeChain, sim: ChannelSimulator, refs: readonly BlockRef[] = []): Court {
  const ring = KeyRing.fromSeed(sim.parties.alice.seed, SIM_COIN_TYPE);
  const log = new MemoryBlockLog(refs);
  const dispatcher = new BlockDispatcher({ source: chain, blockLog: log, startHeight: 0, sleep: instantSleep().sleep });
  const watches = new ChainWatches({ source: chain, utxo: chain, view: dispatcher });
  const arb = new ChainArbitrator({
    db,
    keyring: ring,
    signer: new LocalSigner(ring),
    watches,
    broadcaster: { publish: async () => assert.fail('nothing is broadcast here') },
    closeDepth: { min: 3, max: 3 },
  });
  dispatcher.subscribe(watches.onChainEvent);
  dispatcher.subscribe(arb.onChainEvent);
  return { arb, dispatcher, watches, log };
}

async function stop(c: Court): Promise<void> {
  await c.arb.stop();
  await c.dispatcher.stop();
  await c.watches.stop();
}

const spendOf = (arb: ChainArbitrator, cp: string) => arb.state(cp).then((s) => ('spend' in s ? s.spend : undefined));

describe('ChainArbitrator with the chain layer watches', () => {
  const tmp = tempDir('chain-arbitrator');
  after(() => tmp.remove());

  it('clears a seen funding spend when its block is disconnected, before and after a restart', async () => {
    const db = openDatabase(join(tmp.dir, 'reorg.sqlite'));
    migrate(db);
    const chain = new FakeChain();
    chain.mine(5);
    const a = openChannel('anchors');
    const b = openChannel('static_remotekey');
    a.commit();
    b.commit();
    let c = court(db, chain, a);
    c.arb.start(0);
    await c.dispatcher.poll();
    await c.arb.updateChannel(a.snapshot('alice'));
    await c.arb.updateChannel(b.snapshot('alice'));
    await c.arb.watchesReady();
    const [spendBlock] = chain.mine(1, [a.signedCommitment('bob', a.currentNumber)]);
    await c.dispatcher.poll();
    assert.equal((await spendOf(c.arb, a.chanPoint))?.height, spendBlock?.height);
    chain.reorg(1, 2);
    await c.dispatcher.poll();
    assert.equal(await spendOf(c.arb, a.chanPoint), undefined, 'the spend left with its block');

    const [again] = chain.mine(1, [a.signedCommitment('bob', a.currentNumber)]);
    const [bBlock] = chain.mine(1, [b.signedCommitment('bob', b.currentNumber)]);
    await c.dispatcher.poll();
    assert.equal((await spendOf(c.arb, b.chanPoint))?.height, bBlock?.height);
    await stop(c);
    c = court(db, chain, a, c.log.load());
    c.arb.start(bBlock?.height ?? 0);
    await c.arb.watchesReady();
    chain.reorg(1, 1);
    await c.dispatcher.poll();
    assert.equal(await spendOf(c.arb, b.chanPoint), undefined, 'after a restart, the spend in the disconnected block is cleared');
    assert.equal((await spendOf(c.arb, a.chanPoint))?.height, again?.height, 'a spend below the disconnected block stays');
    await stop(c);
    db.close();
  });

  it('a channel registered after its funding output was spent finds the spend (rescan from its height hint)', async () => {
    const db = openDatabase(join(tmp.dir, 'late.sqlite'));
    migrate(db);
    const chain = new FakeChain();
    chain.mine(3);
    const a = openChannel('static_remotekey');
    a.commit();
    const [spent] = chain.mine(1, [a.signedCommitment('bob', a.currentNumber)]);
    chain.mine(1);
    const c = court(db, chain, a);
    c.arb.start(0);
    await c.dispatcher.poll();
    await c.arb.updateChannel(a.snapshot('alice', { fundingHeightHint: 2 }));
    await c.arb.watchesReady();
    await c.arb.idle();
    assert.equal((await spendOf(c.arb, a.chanPoint))?.height, spent?.height);
    await stop(c);
    db.close();
  });
});
