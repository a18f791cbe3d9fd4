/** Spend and confirmation watches over the fake chain and the real dispatcher. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryBlockLog } from '../../src/chain/block-log.js';
import { BlockDispatcher } from '../../src/chain/dispatcher.js';
import type { ConfEvent, SpendEvent } from '../../src/chain/ports.js';
import { ChainWatches } from '../../src/chain/watches.js';
import { CourtError } from '../../src/util/errors.js';
import { recordingLogger, until } from '../helpers/async.js';
import { FakeChain, instantSleep, outpointOf } from '../helpers/fake-chain.js';

function setup(chain = new FakeChain(), opts: { utxo?: boolean } = {}) {
  const { sleep, delays } = instantSleep();
  const dispatcher = new BlockDispatcher({ source: chain, blockLog: new MemoryBlockLog(), startHeight: 1, sleep });
  const watches = new ChainWatches({
    source: chain,
    utxo: opts.utxo ? chain : undefined,
    view: dispatcher,
    sleep,
    logger: recordingLogger(),
  });
  dispatcher.subscribe(watches.onChainEvent);
  const log: string[] = [];
  const onSpend = (name: string) => (e: SpendEvent) => {
    log.push(e.type === 'spend' ? `${name}:spend@${e.height}` : `${name}:undone@${e.height}`);
  };
  const onConf = (name: string) => (e: ConfEvent) => {
    log.push(e.type === 'confirmed' ? `${name}:conf@${e.height}` : `${name}:unconf@${e.height}`);
  };
  return { chain, dispatcher, watches, log, onSpend, onConf, delays };
}

describe('spend watches', () => {
  it('reports a live spend with the spending transaction and input index', async () => {
    const { chain, dispatcher, watches, log } = setup();
    const funding = chain.makeTx(2);
    chain.mine(1, [funding]);
    await dispatcher.poll();
    const events: SpendEvent[] = [];
    const h = watches.watchSpend(outpointOf(funding, 1), 1, (e) => {
      events.push(e);
    });
    await h.ready;
    const other = chain.makeTx();
    const spender = chain.spend([outpointOf(other, 0), outpointOf(funding, 1)], [Uint8Array.of(0xaa, 0xbb)]);
    chain.mine(2);
    chain.mine(1, [spender]);
    await dispatcher.poll();
    assert.equal(events.length, 1);
    const e = events[0];
    assert.ok(e?.type === 'spend');
    assert.equal(e.spenderTxid, spender.getId());
    assert.equal(e.inputIndex, 1);
    assert.equal(e.height, 4);
    assert.equal(e.blockHash, chain.best[4]?.hash);
    assert.deepEqual([...(e.spendingTx.ins[1]?.witness[0] ?? [])], [0xaa, 0xbb]);
    assert.deepEqual(log, []);
  });

  it('a historical rescan from the height hint finds an old spend', async () => {
    const { chain, dispatcher, watches, log, onSpend } = setup();
    const funding = chain.makeTx();
    chain.mine(1, [funding]); // height 1
    chain.mine(2); // 2, 3
    chain.mine(1, [chain.spend(outpointOf(funding))]); // 4
    chain.mine(4); // 5..8
    await dispatcher.poll();
    const h = watches.watchSpend(outpointOf(funding), 1, onSpend('w'));
    await h.ready;
    assert.deepEqual(log, ['w:spend@4']);
    chain.mine(1);
    await dispatcher.poll();
    assert.deepEqual(log, ['w:spend@4'], 'no second report');
  });

  it('a rescan starts at the hint: a spend below it is not reported', async () => {
    const { chain, dispatcher, watches, log, onSpend } = setup();
    const funding = chain.makeTx();
    chain.mine(1, [funding]);
    chain.mine(1, [chain.spend(outpointOf(funding))]); // 2
    chain.mine(3);
    await dispatcher.poll();
    const fetchesBefore = chain.count('getBlock');
    await watches.watchSpend(outpointOf(funding), 3, onSpend('w')).ready;
    assert.deepEqual(log, []);
    assert.equal(chain.count('getBlock') - fetchesBefore, 3, 'blocks 3..5 only');
  });

  it('skips the rescan for an outpoint the node reports unspent', async () => {
    const { chain, dispatcher, watches, log, onSpend } = setup(new FakeChain(), { utxo: true });
    const funding = chain.makeTx();
    chain.mine(1, [funding]);
    chain.mine(20);
    await dispatcher.poll();
    const fetchesBefore = chain.count('getBlock');
    await watches.watchSpend(outpointOf(funding), 1, onSpend('w')).ready;
    assert.equal(chain.count('getBlock'), fetchesBefore);
    chain.mine(1, [chain.spend(outpointOf(funding))]);
    await dispatcher.poll();
    assert.deepEqual(log, ['w:spend@22']);
  });

  it('a disconnected spend is reported undone, and the watch reports the new branch spend', async () => {
    const { chain, dispatcher, watches, log, onSpend } = setup();
    const funding = chain.makeTx();
    chain.mine(1, [funding]);
    await dispatcher.poll();
    await watches.watchSpend(outpointOf(funding), 1, onSpend('w')).ready;
    chain.mine(1, [chain.spend(outpointOf(funding))]); // 2
    chain.mine(1); // 3
    await dispatcher.poll();
    assert.deepEqual(log, ['w:spend@2']);
    const replacement = chain.spend(outpointOf(funding));
    chain.reorg(2, 3, [[], [replacement]]); // new 2 (empty), 3 (spend), 4
    await dispatcher.poll();
    assert.deepEqual(log, ['w:spend@2', 'w:undone@2', 'w:spend@3']);
  });

  it('delivers events of several watches in chain order, rescan before live', async () => {
    const { chain, dispatcher, watches, log, onSpend } = setup();
    const a = chain.makeTx();
    const b = chain.makeTx();
    const c = chain.makeTx();
    chain.mine(1, [a, b, c]);
    chain.mine(1, [chain.spend(outpointOf(b))]); // 2
    chain.mine(1, [chain.spend(outpointOf(a))]); // 3
    await dispatcher.poll();
    const ha = watches.watchSpend(outpointOf(a), 1, onSpend('a'));
    const hb = watches.watchSpend(outpointOf(b), 1, onSpend('b'));
    const hc = watches.watchSpend(outpointOf(c), 1, onSpend('c'));
    await Promise.all([ha.ready, hb.ready, hc.ready]);
    chain.mine(1, [chain.spend(outpointOf(c))]);
    await dispatcher.poll();
    assert.deepEqual(log, ['b:spend@2', 'a:spend@3', 'c:spend@4']);
  });

  it('delivers nothing after cancel', async () => {
    const { chain, dispatcher, watches, log, onSpend } = setup();
    const funding = chain.makeTx();
    chain.mine(1, [funding]);
    await dispatcher.poll();
    const h = watches.watchSpend(outpointOf(funding), 1, onSpend('w'));
    await h.ready;
    h.cancel();
    chain.mine(1, [chain.spend(outpointOf(funding))]);
    await dispatcher.poll();
    assert.deepEqual(log, []);
    assert.equal(watches.size, 0);
  });

  it('a rescan that fails while the node is down is retried until the watch is live', async () => {
    const { chain, dispatcher, watches, log, onSpend, delays } = setup();
    const funding = chain.makeTx();
    chain.mine(1, [funding]);
    chain.mine(1, [chain.spend(outpointOf(funding))]);
    await dispatcher.poll();
    chain.down = true;
    const h = watches.watchSpend(outpointOf(funding), 1, onSpend('w'));
    let live = false;
    void h.ready.then(() => (live = true));
    await until(() => delays.length >= 3);
    assert.equal(live, false);
    chain.down = false;
    await until(() => live);
    assert.deepEqual(log, ['w:spend@2']);
  });

  it('refuses malformed registrations', () => {
    const { watches } = setup();
    const code = (c: string) => (e: unknown) => e instanceof CourtError && e.code === c;
    assert.throws(() => watches.watchSpend({ txid: 'xy', vout: 0 }, 0, () => {}), code('COURT_E_INVALID_ARGUMENT'));
    assert.throws(() => watches.watchSpend({ txid: '00'.repeat(32), vout: -1 }, 0, () => {}), code('COURT_E_INVALID_ARGUMENT'));
    assert.throws(() => watches.watchConf('00'.repeat(32), 0, 0, () => {}), code('COURT_E_INVALID_ARGUMENT'));
    assert.throws(() => watches.watchConf('00'.repeat(32), 1, -5, () => {}), code('COURT_E_INVALID_ARGUMENT'));
  });
});

describe('confirmation watches', () => {
  it('reports when the depth is reached, not before', async () => {
    const { chain, dispatcher, watches, log, onConf } = setup();
    chain.mine(1);
    await dispatcher.poll();
    const tx = chain.makeTx();
    await watches.watchConf(tx.getId(), 3, 1, onConf('w')).ready;
    chain.mine(1, [tx]); // 2
    chain.mine(1); // 3
    await dispatcher.poll();
    assert.deepEqual(log, []);
    chain.mine(1); // 4: third confirmation
    await dispatcher.poll();
    assert.deepEqual(log, ['w:conf@2']);
  });

  it('reports a confirmation found by the rescan, with its block position', async () => {
    const { chain, dispatcher, watches } = setup();
    const tx = chain.makeTx();
    chain.mine(1);
    chain.mine(1, [chain.makeTx(), tx]); // 2, index 2 after the coinbase and another tx
    chain.mine(5);
    await dispatcher.poll();
    const events: ConfEvent[] = [];
    await watches.watchConf(tx.getId(), 6, 1, (e) => {
      events.push(e);
    }).ready;
    assert.equal(events.length, 1);
    const e = events[0];
    assert.ok(e?.type === 'confirmed');
    assert.equal(e.height, 2);
    assert.equal(e.txIndex, 2);
    assert.equal(e.tx.getId(), tx.getId());
    assert.equal(e.numConfs, 6);
  });

  it('a rescan that finds the tx short of depth reports it live when the depth is reached', async () => {
    const { chain, dispatcher, watches, log, onConf } = setup();
    const tx = chain.makeTx();
    chain.mine(1, [tx]); // 1
    chain.mine(1); // 2
    await dispatcher.poll();
    await watches.watchConf(tx.getId(), 4, 1, onConf('w')).ready;
    assert.deepEqual(log, []);
    chain.mine(1);
    await dispatcher.poll();
    assert.deepEqual(log, []);
    chain.mine(1); // 4
    await dispatcher.poll();
    assert.deepEqual(log, ['w:conf@1']);
  });

  it('a reorg that removes the block reports the confirmation undone, then again on the new branch', async () => {
    const { chain, dispatcher, watches, log, onConf } = setup();
    chain.mine(1);
    await dispatcher.poll();
    const tx = chain.makeTx();
    await watches.watchConf(tx.getId(), 2, 1, onConf('w')).ready;
    chain.mine(1, [tx]); // 2
    chain.mine(1); // 3
    await dispatcher.poll();
    assert.deepEqual(log, ['w:conf@2']);
    chain.reorg(2, 3, [[], [tx]]); // new 2 (empty), 3 (tx), 4
    await dispatcher.poll();
    assert.deepEqual(log, ['w:conf@2', 'w:unconf@2', 'w:conf@3']);
  });

  it('a reorg above the inclusion block does not undo the confirmation', async () => {
    const { chain, dispatcher, watches, log, onConf } = setup();
    chain.mine(1);
    await dispatcher.poll();
    const tx = chain.makeTx();
    await watches.watchConf(tx.getId(), 1, 1, onConf('w')).ready;
    chain.mine(1, [tx]); // 2
    chain.mine(2); // 3, 4
    await dispatcher.poll();
    chain.reorg(2, 3);
    await dispatcher.poll();
    assert.deepEqual(log, ['w:conf@2']);
  });

  it('an unreported depth wait is cancelled by a reorg and restarts from the new inclusion block', async () => {
    const { chain, dispatcher, watches, log, onConf } = setup();
    chain.mine(1);
    await dispatcher.poll();
    const tx = chain.makeTx();
    await watches.watchConf(tx.getId(), 3, 1, onConf('w')).ready;
    chain.mine(1, [tx]); // 2
    await dispatcher.poll();
    chain.reorg(1, 2, [[], [tx]]); // new 2 (empty), 3 (tx)
    await dispatcher.poll();
    chain.mine(1); // 4: would be depth 3 of the old inclusion, depth 2 of the new
    await dispatcher.poll();
    assert.deepEqual(log, []);
    chain.mine(1); // 5
    await dispatcher.poll();
    assert.deepEqual(log, ['w:conf@3']);
  });
});

describe('watch index', () => {
  it('among thousands of watches only the one whose outpoint is spent is reported', async () => {
    const { chain, dispatcher, watches, log, onSpend } = setup();
    const funding = chain.makeTx();
    chain.mine(1, [funding]);
    await dispatcher.poll();
    const handles = [watches.watchSpend(outpointOf(funding), 2, onSpend('target'))];
    for (let i = 0; i < 2000; i++) {
      handles.push(watches.watchSpend({ txid: i.toString(16).padStart(64, '0'), vout: 0 }, 2, onSpend(`w${i}`)));
    }
    await Promise.all(handles.map((h) => h.ready));
    for (let i = 0; i < 20; i++) chain.mine(1, [chain.spend(outpointOf(chain.makeTx()))]);
    chain.mine(1, [chain.spend(outpointOf(funding))]);
    await dispatcher.poll();
    assert.deepEqual(log, ['target:spend@22']);
  });
});

describe('a handler that throws', () => {
  // fails on a1a5213: the event was logged and dropped ("watch handler threw; event dropped"); the outpoint was
  // already marked spent (the confirmation reported), so the watch never reported it again.
  it('gets its spend event again with the next block, once, while the other watches go on', async () => {
    const { chain, dispatcher, watches, log, onSpend } = setup();
    const a = chain.makeTx();
    const b = chain.makeTx();
    chain.mine(1, [a, b]);
    await dispatcher.poll();
    let throws = 1;
    const flaky = (e: SpendEvent): void => {
      if (throws-- > 0) throw new Error('mailbox full');
      onSpend('flaky')(e);
    };
    await watches.watchSpend(outpointOf(a), 1, flaky).ready;
    await watches.watchSpend(outpointOf(b), 1, onSpend('other')).ready;
    chain.mine(1, [chain.spend([outpointOf(a), outpointOf(b)])]); // 2
    await dispatcher.poll();
    assert.deepEqual(log, ['other:spend@2'], 'the other watch was not held up');
    chain.mine(1); // 3
    await dispatcher.poll();
    assert.deepEqual(log, ['other:spend@2', 'flaky:spend@2'], 'redelivered before block 3, with its own height');
    chain.mine(2); // 4, 5
    await dispatcher.poll();
    assert.deepEqual(log, ['other:spend@2', 'flaky:spend@2']);
  });

  it('keeps a confirmation across failing blocks, and its undo comes after it', async () => {
    const { chain, dispatcher, watches, log, onConf } = setup();
    chain.mine(1);
    await dispatcher.poll();
    const tx = chain.makeTx();
    let throws = 2;
    await watches
      .watchConf(tx.getId(), 1, 1, (e) => {
        if (throws-- > 0) throw new Error('busy');
        onConf('w')(e);
      })
      .ready;
    chain.mine(1, [tx]); // 2
    await dispatcher.poll();
    chain.mine(1); // 3: the redelivery throws again
    await dispatcher.poll();
    assert.deepEqual(log, []);
    chain.mine(1); // 4
    await dispatcher.poll();
    assert.deepEqual(log, ['w:conf@2']);
    chain.reorg(3, 4); // drops 2, 3, 4; tx back in no block
    await dispatcher.poll();
    assert.deepEqual(log, ['w:conf@2', 'w:unconf@2']);
  });

  it('a kept spend whose block is disconnected before it was delivered is dropped with its undo', async () => {
    const { chain, dispatcher, watches, log, onSpend } = setup();
    const funding = chain.makeTx();
    chain.mine(1, [funding]);
    await dispatcher.poll();
    let failing = true;
    await watches.watchSpend(outpointOf(funding), 1, (e) => {
      if (failing) throw new Error('down');
      onSpend('w')(e);
    }).ready;
    chain.mine(1, [chain.spend(outpointOf(funding))]); // 2
    await dispatcher.poll();
    const replacement = chain.spend(outpointOf(funding));
    chain.reorg(1, 3, [[], [replacement]]); // new 2 (empty), 3 (replacement), 4
    await dispatcher.poll();
    assert.deepEqual(log, []);
    failing = false;
    chain.mine(1); // 5
    await dispatcher.poll();
    assert.deepEqual(log, ['w:spend@3'], 'only the spend that is on the chain, never the one that left it');
  });
});
