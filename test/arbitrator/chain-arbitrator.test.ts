/**
 * ChainArbitrator routing of reorgs: a disconnected block reaches the channels whose seen funding spend it
 * removes, both when the spend was seen in this process and after a restart (the index is read from the
 * briefcase at the first reorg), and no other channel.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { Transaction } from 'bitcoinjs-lib';
import { SIM_COIN_TYPE } from '../../regtest/sim-keys.js';
import type { ChannelSimulator } from '../../regtest/simulator.js';
import { ChainArbitrator } from '../../src/arbitrator/chain-arbitrator.js';
import type { ChainEvent } from '../../src/chain/ports.js';
import { KeyRing } from '../../src/keys/keyring.js';
import { LocalSigner } from '../../src/keys/signer.js';
import { openDatabase, type Db } from '../../src/store/db.js';
import { migrate } from '../../src/store/migrate.js';
import { sha256, toHex } from '../../src/util/bytes.js';
import { tempDir } from '../helpers/db.js';
import { openChannel } from '../simulator/fixture.js';

const H = 300;
const hashOf = (height: number): string => toHex(sha256(new TextEncoder().encode(`reorg block ${height}`)));
const connected = (height: number, txs: Transaction[]): ChainEvent => ({
  type: 'BlockConnected',
  height,
  hash: hashOf(height),
  block: { hash: hashOf(height), height, prevHash: '00'.repeat(32), txs, txids: txs.map((t) => t.getId()) },
});

function arbitrator(db: Db, sim: ChannelSimulator): ChainArbitrator {
  const ring = KeyRing.fromSeed(sim.parties.alice.seed, SIM_COIN_TYPE);
  return new ChainArbitrator({
    db,
    keyring: ring,
    signer: new LocalSigner(ring),
    broadcaster: { publish: async () => assert.fail('nothing is broadcast here') },
    closeDepth: { min: 3, max: 3 },
  });
}

const spendOf = (arb: ChainArbitrator, cp: string) => arb.state(cp).then((s) => ('spend' in s ? s.spend : undefined));

describe('ChainArbitrator reorg routing', () => {
  const tmp = tempDir('chain-arbitrator');
  after(() => tmp.remove());

  it('clears a seen funding spend when its block is disconnected, before and after a restart', async () => {
    const db = openDatabase(join(tmp.dir, 'reorg.sqlite'));
    migrate(db);
    const a = openChannel('anchors');
    const b = openChannel('static_remotekey');
    a.commit();
    b.commit();
    let arb = arbitrator(db, a);
    arb.start(H);
    await arb.updateChannel(a.snapshot('alice'));
    await arb.updateChannel(b.snapshot('alice'));
    await arb.onChainEvent(connected(H + 1, [a.signedCommitment('bob', a.currentNumber)]));
    assert.equal((await spendOf(arb, a.chanPoint))?.height, H + 1);
    await arb.onChainEvent({ type: 'BlockDisconnected', height: H + 1, hash: hashOf(H + 1) });
    assert.equal(await spendOf(arb, a.chanPoint), undefined, 'the spend left with its block');

    await arb.onChainEvent(connected(H + 1, [a.signedCommitment('bob', a.currentNumber)]));
    await arb.onChainEvent(connected(H + 2, [b.signedCommitment('bob', b.currentNumber)]));
    await arb.stop();
    arb = arbitrator(db, a);
    arb.start(H + 2);
    await arb.onChainEvent({ type: 'BlockDisconnected', height: H + 2, hash: hashOf(H + 2) });
    assert.equal(await spendOf(arb, b.chanPoint), undefined, 'after a restart, the spend at the disconnected height is cleared');
    assert.equal((await spendOf(arb, a.chanPoint))?.height, H + 1, 'a spend below the disconnected block stays');
    await arb.stop();
    db.close();
  });
});
