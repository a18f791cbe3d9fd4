/** Broadcast classification and the rebroadcast-until-confirmed set. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryBlockLog } from '../../src/chain/block-log.js';
import { classifyBroadcastError, MemoryBroadcastStore, TxBroadcaster } from '../../src/chain/broadcaster.js';
import { BlockDispatcher } from '../../src/chain/dispatcher.js';
import type { BroadcastConflict, PublishOutcome } from '../../src/chain/ports.js';
import { CourtError } from '../../src/util/errors.js';
import { FakeChain, instantSleep } from '../helpers/fake-chain.js';

/** Bitcoin Core 27/28 refusals, as sendrawtransaction words them. */
const TABLE: [number, string, PublishOutcome][] = [
  [-27, 'txn-already-in-mempool', 'already-in-mempool'],
  [-26, 'txn-already-known', 'already-in-mempool'],
  [-26, 'txn-same-nonwitness-data-in-mempool', 'already-in-mempool'],
  [-27, 'Transaction outputs already in utxo set', 'already-confirmed'],
  [-27, 'Transaction already in block chain', 'already-confirmed'],
  [-25, 'bad-txns-inputs-missingorspent', 'missing-inputs'],
  [-25, 'Missing inputs', 'missing-inputs'],
  [-26, 'missing-inputs', 'missing-inputs'],
  [-26, 'min relay fee not met, 100 < 141', 'insufficient-fee'],
  [-26, 'mempool min fee not met, 150 < 1000', 'insufficient-fee'],
  [-26, 'insufficient fee, rejecting replacement 1234; new feerate 0.00001 <= old feerate 0.00002', 'insufficient-fee'],
  [-26, 'non-final', 'non-final'],
  [-26, 'non-BIP68-final', 'non-bip68-final'],
  [-26, 'mandatory-script-verify-flag-failed (Signature must be zero for failed CHECK(MULTI)SIG operation)', 'script-failure'],
  [-26, 'non-mandatory-script-verify-flag (Witness program hash mismatch)', 'script-failure'],
  [-26, 'mempool-script-verify-flag-failed (Locktime requirement not satisfied)', 'script-failure'],
  [-26, 'txn-mempool-conflict', 'rejected'],
  [-26, 'too-long-mempool-chain, too many descendants', 'rejected'],
  [-25, 'Fee exceeds maximum configured by user (e.g. -maxtxfee, maxfeerate)', 'rejected'],
  [-22, 'TX decode failed', 'rejected'],
  // the same words under an unexpected code are not trusted
  [-25, 'non-final', 'rejected'],
  [-1, 'txn-already-in-mempool', 'rejected'],
];

describe('broadcast classification', () => {
  for (const [code, reason, kind] of TABLE) {
    it(`${code} "${reason}" -> ${kind}`, () => assert.equal(classifyBroadcastError(code, reason), kind));
  }
});

function setup() {
  const chain = new FakeChain();
  const { sleep } = instantSleep();
  const dispatcher = new BlockDispatcher({ source: chain, blockLog: new MemoryBlockLog(), startHeight: 1, sleep });
  const broadcaster = new TxBroadcaster({ relay: chain });
  dispatcher.subscribe(broadcaster.onChainEvent);
  return { chain, dispatcher, broadcaster };
}

const sends = (chain: FakeChain, txid: string) => chain.sent.filter((t) => t === txid).length;

describe('broadcaster', () => {
  it('returns the classified result with the RPC code and reason', async () => {
    const { chain, broadcaster } = setup();
    chain.relayRule = () => ({ code: -26, message: 'non-BIP68-final' });
    const tx = chain.makeTx();
    assert.deepEqual(await broadcaster.publish(tx, 'sweep'), {
      kind: 'non-bip68-final',
      txid: tx.getId(),
      rpcCode: -26,
      reason: 'non-BIP68-final',
    });
    chain.relayRule = () => undefined;
    assert.deepEqual(await broadcaster.publish(tx, 'sweep'), { kind: 'accepted', txid: tx.getId() });
  });

  it('rebroadcasts on every block until the transaction confirms, then stops', async () => {
    const { chain, dispatcher, broadcaster } = setup();
    chain.mine(1);
    await dispatcher.poll();
    const tx = chain.makeTx();
    let refusals = 2;
    chain.relayRule = (t) => (t.getId() === tx.getId() && refusals-- > 0 ? { code: -26, message: 'non-BIP68-final' } : undefined);
    assert.equal((await broadcaster.publish(tx, 'htlc-timeout')).kind, 'non-bip68-final');
    assert.deepEqual(broadcaster.tracked(), [{ txid: tx.getId(), label: 'htlc-timeout' }]);
    chain.mine(1);
    await dispatcher.poll(); // refused again (second refusal)
    chain.mine(1);
    await dispatcher.poll(); // accepted
    assert.equal(sends(chain, tx.getId()), 3);
    chain.mine(1, [tx]);
    await dispatcher.poll();
    assert.deepEqual(broadcaster.tracked(), []);
    chain.mine(3);
    await dispatcher.poll();
    assert.equal(sends(chain, tx.getId()), 3, 'no rebroadcast after confirmation');
    assert.equal((await broadcaster.publish(tx, 'again')).kind, 'already-confirmed');
    assert.equal(sends(chain, tx.getId()), 3);
  });

  it('tracks again a transaction whose block is disconnected', async () => {
    const { chain, dispatcher, broadcaster } = setup();
    chain.mine(1);
    await dispatcher.poll();
    const tx = chain.makeTx();
    await broadcaster.publish(tx, 'justice');
    chain.mine(1, [tx]);
    await dispatcher.poll();
    assert.deepEqual(broadcaster.tracked(), []);
    const before = sends(chain, tx.getId());
    chain.reorg(1, 2); // the new branch does not contain tx
    await dispatcher.poll();
    assert.deepEqual(broadcaster.tracked(), [{ txid: tx.getId(), label: 'justice' }]);
    assert.ok(sends(chain, tx.getId()) > before, 'rebroadcast on the new branch');
  });

  it('rebroadcasts in publish order (parents before children)', async () => {
    const { chain, dispatcher, broadcaster } = setup();
    chain.mine(1);
    await dispatcher.poll();
    const parent = chain.makeTx();
    const child = chain.spend({ txid: parent.getId(), vout: 0 });
    await broadcaster.publish(parent, 'parent');
    await broadcaster.publish(child, 'child');
    chain.sent.length = 0;
    chain.mine(1);
    await dispatcher.poll();
    assert.deepEqual(chain.sent, [parent.getId(), child.getId()]);
  });

  it('publish is idempotent per txid and keeps the first label', async () => {
    const { chain, broadcaster } = setup();
    const tx = chain.makeTx();
    await broadcaster.publish(tx, 'first');
    await broadcaster.publish(tx, 'second');
    assert.deepEqual(broadcaster.tracked(), [{ txid: tx.getId(), label: 'first' }]);
  });

  it('stops tracking on already-confirmed and script failures, keeps tracking on fee refusals', async () => {
    const { chain, broadcaster } = setup();
    const [a, b, c] = [chain.makeTx(), chain.makeTx(), chain.makeTx()];
    const replies = new Map([
      [a.getId(), { code: -27, message: 'Transaction outputs already in utxo set' }],
      [b.getId(), { code: -26, message: 'mandatory-script-verify-flag-failed (Script evaluated without error but finished with a false/empty top stack element)' }],
      [c.getId(), { code: -26, message: 'mempool min fee not met, 150 < 1000' }],
    ]);
    chain.relayRule = (t) => replies.get(t.getId());
    assert.equal((await broadcaster.publish(a, 'a')).kind, 'already-confirmed');
    assert.equal((await broadcaster.publish(b, 'b')).kind, 'script-failure');
    assert.equal((await broadcaster.publish(c, 'c')).kind, 'insufficient-fee');
    assert.deepEqual(broadcaster.tracked().map((t) => t.label), ['c']);
    broadcaster.forget(c.getId());
    assert.deepEqual(broadcaster.tracked(), []);
  });

  it('a node outage rejects publish with a typed error but keeps the transaction tracked', async () => {
    const { chain, dispatcher, broadcaster } = setup();
    chain.mine(1);
    await dispatcher.poll();
    const tx = chain.makeTx();
    chain.down = true;
    await assert.rejects(broadcaster.publish(tx, 'x'), (e: unknown) => e instanceof CourtError && e.code === 'COURT_E_CHAIN_UNREACHABLE');
    chain.down = false;
    assert.deepEqual(broadcaster.tracked().map((t) => t.txid), [tx.getId()]);
    chain.mine(1);
    await dispatcher.poll();
    assert.ok(chain.mempool.has(tx.getId()), 'rebroadcast at the next block');
  });
});

describe('broadcaster: conflicts and restarts', () => {
  it('drops a transaction whose input a confirmed conflict spent, reports it, and tracks it again if that block leaves', async () => {
    const { chain, dispatcher } = setup();
    const store = new MemoryBroadcastStore();
    const reported: BroadcastConflict[] = [];
    const broadcaster = new TxBroadcaster({ relay: chain, store, onConflict: (c) => reported.push(c) });
    dispatcher.subscribe(broadcaster.onChainEvent);
    chain.mine(1);
    await dispatcher.poll();
    const parent = chain.makeTx(2);
    chain.mine(1, [parent]);
    await dispatcher.poll();
    const ours = chain.spend({ txid: parent.getId(), vout: 0 });
    const theirs = chain.spend({ txid: parent.getId(), vout: 0 });
    await broadcaster.publish(ours, 'commitment');
    const [b] = chain.mine(1, [theirs]);
    await dispatcher.poll();
    assert.deepEqual(broadcaster.tracked(), [], 'dropped from the rebroadcast set');
    const want = { txid: ours.getId(), label: 'commitment', conflictTxid: theirs.getId(), height: b?.height };
    assert.deepEqual(reported, [want]);
    assert.deepEqual(store.conflicts(), [want]);
    const sent = sends(chain, ours.getId());
    chain.mine(2);
    await dispatcher.poll();
    assert.equal(sends(chain, ours.getId()), sent, 'not offered again');
    chain.reorg(3, 4);
    await dispatcher.poll();
    assert.deepEqual(broadcaster.tracked(), [{ txid: ours.getId(), label: 'commitment' }], 'the conflict left the chain');
  });

  it('a conflict that confirmed before the transaction was published is dropped when its owner reports it (review)', async () => {
    // Before: the conflicting block came before tracking started, so nothing ever dropped it: rebroadcast forever.
    const { chain, dispatcher } = setup();
    const store = new MemoryBroadcastStore();
    const reported: BroadcastConflict[] = [];
    const broadcaster = new TxBroadcaster({ relay: chain, store, onConflict: (c) => reported.push(c) });
    dispatcher.subscribe(broadcaster.onChainEvent);
    const parent = chain.makeTx(2);
    chain.mine(1, [parent]);
    const theirs = chain.spend({ txid: parent.getId(), vout: 0 });
    const [b] = chain.mine(1, [theirs]);
    await dispatcher.poll();
    const ours = chain.spend({ txid: parent.getId(), vout: 0 });
    await broadcaster.publish(ours, 'commitment');
    chain.mine(1);
    await dispatcher.poll();
    assert.equal(broadcaster.tracked().length, 1, 'the broadcaster alone cannot know');
    broadcaster.conflictedBy(ours.getId(), theirs.getId(), b?.height ?? 0);
    assert.deepEqual(broadcaster.tracked(), []);
    assert.deepEqual(store.conflicts(), [{ txid: ours.getId(), label: 'commitment', conflictTxid: theirs.getId(), height: b?.height }]);
    assert.equal(reported.length, 1);
    broadcaster.conflictedBy(ours.getId(), theirs.getId(), b?.height ?? 0);
    assert.equal(reported.length, 1, 'idempotent');
  });

  it('keeps the rebroadcast set in its store: a new broadcaster republishes it', async () => {
    const { chain } = setup();
    const store = new MemoryBroadcastStore();
    const first = new TxBroadcaster({ relay: chain, store });
    const tx = chain.makeTx();
    await first.publish(tx, 'commitment');
    chain.sent.length = 0;
    const second = new TxBroadcaster({ relay: chain, store });
    assert.deepEqual(second.tracked(), [{ txid: tx.getId(), label: 'commitment' }]);
    await second.republish();
    assert.deepEqual(chain.sent, [tx.getId()]);
  });
});
