/** Mempool spend watches over the fake chain's mempool. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MempoolWatcher } from '../../src/chain/mempool.js';
import type { MempoolSpend } from '../../src/chain/ports.js';
import { recordingLogger, until } from '../helpers/async.js';
import { FakeChain, instantSleep, outpointOf } from '../helpers/fake-chain.js';

function setup() {
  const chain = new FakeChain();
  const { sleep, delays } = instantSleep();
  const logger = recordingLogger();
  const mempool = new MempoolWatcher({ source: chain, sleep, logger });
  const events: MempoolSpend[] = [];
  const record = (e: MempoolSpend) => {
    events.push(e);
  };
  return { chain, mempool, events, record, delays, logger };
}

describe('mempool spend watches', () => {
  it('reports an unconfirmed spend with its witness (the preimage) before it confirms', async () => {
    const { chain, mempool, events, record } = setup();
    const funding = chain.makeTx(2);
    chain.mine(1, [funding]);
    mempool.watchSpend(outpointOf(funding, 1), record);
    await mempool.poll();
    assert.equal(events.length, 0);
    const preimage = new Uint8Array(32).fill(7);
    const spender = chain.spend([outpointOf(chain.makeTx()), outpointOf(funding, 1)], [new Uint8Array(72), preimage]);
    await chain.sendRawTransaction(spender.toHex());
    await mempool.poll();
    assert.equal(events.length, 1);
    const e = events[0];
    assert.equal(e?.spenderTxid, spender.getId());
    assert.equal(e?.inputIndex, 1);
    assert.deepEqual(e?.spendingTx.ins[1]?.witness[1], preimage);
    await mempool.poll();
    assert.equal(events.length, 1, 'reported once');
  });

  it('fetches only transactions that are new since the last poll', async () => {
    const { chain, mempool, record } = setup();
    mempool.watchSpend({ txid: 'ab'.repeat(32), vout: 0 }, record);
    for (let i = 0; i < 3; i++) await chain.sendRawTransaction(chain.makeTx().toHex());
    await mempool.poll();
    assert.equal(chain.count('getMempoolTransaction'), 3);
    await mempool.poll();
    assert.equal(chain.count('getMempoolTransaction'), 3);
    await chain.sendRawTransaction(chain.makeTx().toHex());
    await mempool.poll();
    assert.equal(chain.count('getMempoolTransaction'), 4);
  });

  it('fetches new transactions in batched requests when the source batches (not one request per transaction)', async () => {
    const { chain, record } = setup();
    let batches = 0;
    const source = Object.assign(Object.create(chain) as FakeChain, {
      getMempoolTransactions: async (txids: readonly string[]) => {
        batches++;
        return Promise.all(txids.map((t) => chain.getMempoolTransaction(t)));
      },
      getMempoolTransaction: async () => {
        throw new Error('one request per transaction');
      },
    });
    const { sleep } = instantSleep();
    const mempool = new MempoolWatcher({ source, sleep });
    const funding = chain.makeTx(1);
    chain.mine(1, [funding]);
    const events: MempoolSpend[] = [];
    mempool.watchSpend(outpointOf(funding, 0), (e) => void events.push(e));
    for (let i = 0; i < 1_200; i++) await chain.sendRawTransaction(chain.makeTx().toHex());
    const spender = chain.spend([outpointOf(funding, 0)], [new Uint8Array(32).fill(9)]);
    await chain.sendRawTransaction(spender.toHex());
    await mempool.poll();
    assert.equal(batches, 3, '1,201 new transactions in 3 requests of at most 500');
    assert.equal(events.length, 1);
    assert.equal(events[0]?.spenderTxid, spender.getId());
    void record;
  });

  it('answers a watch registered after its spender entered the mempool', async () => {
    const { chain, mempool, events, record } = setup();
    const funding = chain.makeTx();
    mempool.watchSpend({ txid: 'cd'.repeat(32), vout: 0 }, () => {});
    const spender = chain.spend(outpointOf(funding));
    await chain.sendRawTransaction(spender.toHex());
    await mempool.poll();
    mempool.watchSpend(outpointOf(funding), record);
    await mempool.poll();
    assert.deepEqual(events.map((e) => e.spenderTxid), [spender.getId()]);
  });

  it('reports a replacement spender too', async () => {
    const { chain, mempool, events, record } = setup();
    const funding = chain.makeTx();
    mempool.watchSpend(outpointOf(funding), record);
    const first = chain.spend(outpointOf(funding));
    await chain.sendRawTransaction(first.toHex());
    await mempool.poll();
    chain.mempool.delete(first.getId());
    const second = chain.spend(outpointOf(funding));
    await chain.sendRawTransaction(second.toHex());
    await mempool.poll();
    assert.deepEqual(events.map((e) => e.spenderTxid), [first.getId(), second.getId()]);
  });

  it('does not poll the node while nothing is watched', async () => {
    const { chain, mempool } = setup();
    await mempool.poll();
    assert.equal(chain.count('getRawMempool'), 0);
  });

  it('keeps polling through a node outage and stops cleanly', async () => {
    const { chain, mempool, events, record, delays, logger } = setup();
    const funding = chain.makeTx();
    mempool.watchSpend(outpointOf(funding), record);
    await chain.sendRawTransaction(chain.spend(outpointOf(funding)).toHex());
    chain.down = true;
    mempool.start();
    await until(() => delays.length >= 3);
    assert.deepEqual(delays.slice(0, 3), [500, 1000, 2000]);
    assert.ok(logger.lines.some((l) => l.level === 'warn'));
    chain.down = false;
    await until(() => events.length === 1);
    await mempool.stop();
  });
});
