/**
 * The fee wallet on the real regtest chain, fed by the real chain layer (block dispatcher over the node's RPC):
 * funded at newAddress() from the node's faucet, the UTXO seen confirmed; leased, spent by a transaction the wallet
 * signs and the node accepts (fee = inputs - outputs, as the node computes it), the change seen; a reorg of the
 * funding block removes the UTXO and reconnecting restores it (a leased one keeps its lease); a restart (a new
 * Wallet and chain layer over the same briefcase) keeps UTXOs and leases and finds funds that arrived meanwhile;
 * after each step the wallet's balance equals the sum of its outputs as the node reports them (gettxout).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { address as btcAddress, networks, Transaction } from 'bitcoinjs-lib';
import { startChain, type RegtestChain } from '../../regtest/chain.js';
import { createChain, type Chain } from '../../src/chain/index.js';
import { KeyRing } from '../../src/keys/keyring.js';
import { LocalSigner } from '../../src/keys/signer.js';
import { openDatabase, type Db } from '../../src/store/db.js';
import { migrate } from '../../src/store/migrate.js';
import { p2wpkhScriptCode, SIGHASH_ALL } from '../../src/keys/sighash.js';
import { p2wpkh } from '../../src/ln/scripts.js';
import { fromHex, hash160, reversed, sha256, toHex } from '../../src/util/bytes.js';
import { Wallet } from '../../src/wallet/index.js';
import type { LeasedUtxo } from '../../src/sweep/types.js';
import { eventually } from '../helpers/async.js';
import { tempDir } from '../helpers/db.js';

const SEED = sha256(new TextEncoder().encode('regtest wallet.test seed'));
const FOREIGN = fromHex('0014' + '42'.repeat(20));

interface Court {
  readonly db: Db;
  readonly chain: Chain;
  readonly wallet: Wallet;
}

describe('fee wallet on the regtest chain', () => {
  let node: RegtestChain;
  let tmp: ReturnType<typeof tempDir>;
  let court: Court;
  /** Every outpoint ever paid to a wallet script, to ask the node about. */
  const ours = new Set<string>();

  const startCourt = async (): Promise<Court> => {
    const db = openDatabase(`${tmp.dir}/briefcase.sqlite`);
    migrate(db);
    const e = node.endpoint;
    const chain = createChain({
      rpc: { host: `http://${e.host}:${e.port}`, username: e.username, password: e.password, timeoutMs: 5_000 },
      pollMs: 50,
      retry: { attempts: 2, baseDelayMs: 50, maxDelayMs: 200 },
      db,
    });
    const ring = KeyRing.fromSeed(SEED, 1);
    const wallet = new Wallet({ db, account: ring.walletAccountPublic(), signer: new LocalSigner(ring), network: 'regtest' });
    chain.dispatcher.subscribe(wallet.onChainEvent);
    await chain.start();
    return { db, chain, wallet };
  };
  const stopCourt = async (c: Court): Promise<void> => {
    await c.chain.stop();
    c.db.close();
  };
  const synced = async (): Promise<void> => {
    const h = await node.height();
    const hash = await node.tipHash();
    await eventually(() => court.wallet.tip()?.height === h && court.wallet.tip()?.hash === hash, 20_000, `wallet at ${h}`);
  };
  /** The node's view: the sum of every output of ours still unspent (gettxout, mempool included or not). */
  const nodeSum = async (includeMempool: boolean): Promise<bigint> => {
    let sum = 0n;
    for (const op of ours) {
      const [txid, vout] = op.split(':') as [string, string];
      const out = await node.call<{ value: number; confirmations: number } | null>('gettxout', txid, Number(vout), includeMempool);
      if (out === null) continue;
      if (!includeMempool && out.confirmations === 0) continue;
      sum += BigInt(Math.round(out.value * 1e8));
    }
    return sum;
  };
  const balanceMatchesNode = async (): Promise<void> => {
    const b = court.wallet.balance();
    assert.equal(b.total + b.spentInMempool, court.wallet.utxos().reduce((a, u) => a + u.valueSat, 0n));
    assert.equal(b.confirmed + b.leased + b.spentInMempool, await nodeSum(false), 'confirmed + leased + spent in the mempool = the node UTXO set');
    assert.equal(b.total, await nodeSum(true), 'total = the node UTXO set with its mempool');
  };
  const fundWallet = async (valueSat: bigint, confirm = true): Promise<string> => {
    const script = btcAddress.toOutputScript(court.wallet.newAddress(), networks.regtest);
    const coin = await node.fund(script, valueSat, { confirm });
    const op = `${coin.txid}:${coin.vout}`;
    ours.add(op);
    return op;
  };

  before(async () => {
    node = await startChain({ persistent: true });
    tmp = tempDir('wallet-regtest');
    court = await startCourt();
    await synced();
  });
  after(async () => {
    if (court) await stopCourt(court);
    await node?.stop();
    tmp?.remove();
  });

  it('is funded at newAddress, leases, signs a spend the node accepts with the exact fee, and sees its change', async () => {
    const a = await fundWallet(200_000n);
    const b = await fundWallet(150_000n);
    await synced();
    assert.deepEqual(
      court.wallet.utxos().map((u) => [u.outpoint, u.state]),
      [
        [a, 'confirmed'],
        [b, 'confirmed'],
      ],
    );
    await balanceMatchesNode();

    const leased = court.wallet.lease('sweep-1', 300_000n) as LeasedUtxo[];
    assert.deepEqual(leased.map((u) => u.outpoint), [a, b]);
    const change = court.wallet.nextChangeScript();
    const build = async (changeSat: bigint): Promise<Transaction> => {
      const tx = new Transaction();
      tx.version = 2;
      for (const u of leased) {
        const [txid, vout] = u.outpoint.split(':') as [string, string];
        tx.addInput(reversed(fromHex(txid)), Number(vout), 0xfffffffd);
      }
      tx.addOutput(FOREIGN, 100_000n);
      tx.addOutput(fromHex(change), changeSat);
      await court.wallet.signWalletInputs(
        tx,
        leased.map((utxo, index) => ({ index, utxo })),
      );
      return tx;
    };
    const inputs = leased.reduce((s, u) => s + u.valueSat, 0n);
    // Unsigned weight + the wallet's input weight estimate must cover the real one (the estimate is a maximum).
    const probe = await build(1n);
    const estimatedWeight = (() => {
      const t = Transaction.fromHex(probe.toHex());
      for (let i = 0; i < t.ins.length; i++) t.setWitness(i, []);
      return t.weight() - 41 * 4 * t.ins.length + 2 + court.wallet.inputWeight * t.ins.length;
    })();
    assert.ok(estimatedWeight >= probe.weight(), `input weight estimate ${estimatedWeight} >= real ${probe.weight()}`);
    const fee = BigInt(probe.virtualSize()) * 3n;
    const tx = await build(inputs - 100_000n - fee);
    // SIGHASH_ALL: the same signatures over a transaction paying one sat more to the foreign output are refused.
    const tampered = Transaction.fromHex(tx.toHex());
    (tampered.outs[0] as { value: bigint }).value = 100_001n;
    const refused = await node.trySend(tampered.toHex());
    assert.ok('error' in refused && refused.error.code === -26 && /^(mandatory|mempool)-script-verify-flag-failed/.test(refused.error.message), JSON.stringify(refused));
    const txid = await node.send(tx.toHex());
    court.wallet.recordUnconfirmed(tx);
    ours.add(`${txid}:1`);
    const entry = await node.call<{ fees: { base: number } }>('getmempoolentry', txid);
    assert.equal(BigInt(Math.round(entry.fees.base * 1e8)), fee, 'the node computes the same fee: inputs - outputs');
    assert.deepEqual(court.wallet.balance(), { confirmed: 0n, unconfirmed: inputs - 100_000n - fee, leased: 0n, spentInMempool: inputs, total: inputs - 100_000n - fee });
    assert.equal(court.wallet.balance().total, await nodeSum(true), 'total = the node UTXO set with its mempool');
    assert.equal(court.wallet.lease('other', 1n), undefined, 'the unconfirmed change is not selectable');

    await node.mine(1);
    await synced();
    assert.deepEqual(
      court.wallet.utxos().map((u) => [u.outpoint, u.state, u.valueSat]),
      [[`${txid}:1`, 'confirmed', inputs - 100_000n - fee]],
    );
    assert.deepEqual(court.wallet.alerts(), [], 'our own sweep: no alert');
    await balanceMatchesNode();
  });

  it('a reorg of the funding block removes the UTXO, reconnecting restores it, and a lease survives both', async () => {
    const op = await fundWallet(90_000n);
    await synced();
    const fundingBlock = await node.tipHash();
    const height = await node.height();
    // The larger change of the first test is held by another lease, so sweep-2 gets the new UTXO.
    assert.equal(court.wallet.lease('hold', 1n)?.length, 1);
    assert.deepEqual(court.wallet.lease('sweep-2', 90_000n)?.map((u) => u.outpoint), [op]);
    const free = await fundWallet(45_000n);
    await synced();
    const freeBlock = await node.tipHash();

    await node.call('invalidateblock', fundingBlock);
    await eventually(() => court.wallet.tip()?.height === height - 1, 20_000, 'the disconnects');
    const after = court.wallet.utxos();
    assert.equal(after.find((u) => u.outpoint === free), undefined, 'the unleased UTXO of a disconnected block is gone');
    const held = after.find((u) => u.outpoint === op);
    assert.deepEqual([held?.state, held?.leaseId, held?.height], ['leased', 'sweep-2', undefined], 'the leased one keeps its lease, unconfirmed');
    assert.equal(court.wallet.lease('other', 1n), undefined, 'nothing confirmed and free is left');

    await node.call('reconsiderblock', fundingBlock);
    await eventually(() => court.wallet.tip()?.hash === freeBlock, 20_000, 'the reconnects');
    const back = court.wallet.utxos();
    assert.deepEqual(
      [back.find((u) => u.outpoint === op)?.state, back.find((u) => u.outpoint === op)?.height],
      ['leased', height],
    );
    assert.equal(back.find((u) => u.outpoint === free)?.state, 'confirmed');
    court.wallet.release('sweep-2');
    court.wallet.release('hold');
    await balanceMatchesNode();
  });

  it('reports a UTXO spent by a transaction it never signed (another wallet on the same seed), and drops it', async () => {
    const op = await fundWallet(70_000n);
    await synced();
    const utxo = court.wallet.utxos().find((u) => u.outpoint === op);
    assert.ok(utxo);
    // Another wallet holding the same seed (lnd's BIP84 wallet would) spends it behind courtd's back.
    const ring = KeyRing.fromSeed(SEED, 1);
    const other = new LocalSigner(ring);
    const pub = ring.walletPublicKey(utxo.path);
    const [txid, vout] = op.split(':') as [string, string];
    const tx = new Transaction();
    tx.version = 2;
    tx.addInput(reversed(fromHex(txid)), Number(vout), 0xfffffffd);
    tx.addOutput(FOREIGN, 69_000n);
    const [sig] = await other.signInputs([
      { key: { wallet: utxo.path }, tx, inputIndex: 0, scriptCode: p2wpkhScriptCode(hash160(pub)), valueSat: 70_000n, sighashType: SIGHASH_ALL },
    ]);
    tx.setWitness(0, [sig as Uint8Array, pub]);
    const seen: string[] = [];
    court.wallet.onAlert((a) => seen.push(`${a.kind} ${a.outpoint} ${a.txid}`));
    await node.send(tx.toHex());
    await node.mine(1);
    await synced();
    assert.deepEqual(seen, [`spentByOther ${op} ${tx.getId()}`]);
    assert.equal(court.wallet.utxos().find((u) => u.outpoint === op), undefined);
    await balanceMatchesNode();
  });

  it('a rescan finds funds mined before the wallet first started (a wallet restored from its seed)', async () => {
    // A second courtd on a fresh briefcase with the same seed: its dispatcher starts at the node's tip.
    const ring = KeyRing.fromSeed(SEED, 1);
    const early = fromHex(toHex(p2wpkh(ring.walletPublicKey({ chain: 0, index: 1 }))));
    const coin = await node.fund(early, 12_345n);
    const fundedAt = await node.height();
    await node.mine(3);
    const other = tempDir('wallet-regtest-restored');
    const db = openDatabase(`${other.dir}/briefcase.sqlite`);
    migrate(db);
    const e = node.endpoint;
    const chain = createChain({ rpc: { host: `http://${e.host}:${e.port}`, username: e.username, password: e.password, timeoutMs: 5_000 }, pollMs: 50, db });
    const restored = new Wallet({ db, account: ring.walletAccountPublic(), signer: new LocalSigner(ring), network: 'regtest' });
    chain.dispatcher.subscribe(restored.onChainEvent);
    try {
      await chain.start();
      const tip = await node.height();
      await eventually(() => restored.tip()?.height === tip, 20_000, 'the restored wallet at the tip');
      assert.equal(restored.utxos().some((u) => u.outpoint === `${coin.txid}:${coin.vout}`), false, 'not seen without a rescan');
      assert.equal(await restored.rescan(chain.source, fundedAt - 2, (chain.dispatcher.tip() as { height: number }).height), tip - fundedAt + 3);
      const found = restored.utxos().find((u) => u.outpoint === `${coin.txid}:${coin.vout}`);
      assert.deepEqual([found?.state, found?.valueSat, found?.height], ['confirmed', 12_345n, fundedAt]);
      assert.equal(restored.tip()?.height, tip);
    } finally {
      await chain.stop();
      db.close();
      other.remove();
    }
    ours.add(`${coin.txid}:${coin.vout}`);
    // The first courtd has the same key in its index (index 1 was handed out in the first test).
    await synced();
    assert.equal(court.wallet.utxos().some((u) => u.outpoint === `${coin.txid}:${coin.vout}`), true);
  });

  it('a restart keeps UTXOs and leases, and finds funds sent meanwhile to an address handed out before', async () => {
    court.wallet.lease('sweep-3', 50_000n);
    const address = court.wallet.newAddress();
    const before = court.wallet.utxos();
    await stopCourt(court);
    const coin = await node.fund(btcAddress.toOutputScript(address, networks.regtest), 33_000n);
    ours.add(`${coin.txid}:${coin.vout}`);
    await node.mine(2);
    court = await startCourt();
    await synced();
    const now = court.wallet.utxos();
    assert.deepEqual(
      now.filter((u) => u.outpoint !== `${coin.txid}:${coin.vout}`),
      before,
    );
    assert.equal(now.find((u) => u.outpoint === `${coin.txid}:${coin.vout}`)?.state, 'confirmed');
    assert.ok(court.wallet.leased('sweep-3').length > 0);
    await balanceMatchesNode();
  });
});
