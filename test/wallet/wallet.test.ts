/**
 * The fee wallet over a real SQLite file, fed hand-built blocks: addresses and the lookahead, UTXOs found in
 * blocks and undone by disconnects, leases (deterministic, exclusive, replaced atomically, released, never
 * unconfirmed or immature), signing through the Signer, alerts for spends the wallet did not sign, the anchor
 * reserve, restarts, and refused input that changes nothing.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { address as btcAddress, networks } from 'bitcoinjs-lib';
import { p2wpkhScriptCode, segwitV0Sighash, SIGHASH_ALL } from '../../src/keys/sighash.js';
import { decodeSig } from '../../src/keys/signature.js';
import { secp } from '../../src/keys/secp.js';
import { p2wpkh } from '../../src/ln/scripts.js';
import { hash160, sha256, toHex } from '../../src/util/bytes.js';
import { CourtError } from '../../src/util/errors.js';
import { recordingLogger } from '../helpers/async.js';
import { tempDir } from '../helpers/db.js';
import { execInput } from '../helpers/script-exec.js';
import { ANCHOR_RESERVE_SAT, WALLET_INPUT_WEIGHT, WALLET_LOOKAHEAD, type Wallet } from '../../src/wallet/index.js';
import { BlockFeed, coinbaseOf, openWallet, txOf, type Opened } from './helpers.js';

const isCode = (code: string) => (e: unknown) => e instanceof CourtError && e.code === code;
const FOREIGN = '0014' + '99'.repeat(20);

describe('fee wallet', () => {
  let tmp: ReturnType<typeof tempDir>;
  let o: Opened;
  let w: Wallet;
  let feed: BlockFeed;
  const opened: Opened[] = [];
  const open = (opts: Parameters<typeof openWallet>[1] = {}): Opened => {
    const x = openWallet(tmp.dir, opts);
    opened.push(x);
    return x;
  };
  /** Funds a fresh receive address of `wallet` with `values` in one confirmed block; returns the outpoints. */
  const fund = (values: bigint[], wallet: Wallet = w): string[] => {
    const scripts = values.map(() => btcAddress.toOutputScript(wallet.newAddress(), networks.regtest));
    const tx = txOf([], values.map((value, i) => ({ script: scripts[i] as Uint8Array, value })));
    wallet.onChainEvent(feed.connect([tx]));
    return values.map((_, i) => `${tx.getId()}:${i}`);
  };

  beforeEach(() => {
    tmp = tempDir('wallet');
    o = open();
    w = o.wallet;
    feed = new BlockFeed();
  });
  afterEach(() => {
    for (const x of opened.splice(0)) x.db.close();
    tmp.remove();
  });

  describe('addresses', () => {
    it('hands out BIP84 receive addresses and change scripts of the keyring, each once, recorded as ours', () => {
      const a0 = w.newAddress();
      const a1 = w.newAddress();
      assert.match(a0, /^bcrt1q[0-9a-z]{38}$/);
      assert.notEqual(a0, a1);
      const s0 = btcAddress.toOutputScript(a0, networks.regtest);
      assert.equal(toHex(s0), toHex(p2wpkh(o.ring.walletPublicKey({ chain: 0, index: 0 }))));
      assert.deepEqual(w.pathOf(toHex(s0)), { chain: 0, index: 0 });
      const c0 = w.nextChangeScript();
      assert.equal(c0, toHex(p2wpkh(o.ring.walletPublicKey({ chain: 1, index: 0 }))));
      assert.deepEqual(w.pathOf(c0), { chain: 1, index: 0 });
      assert.notEqual(w.nextChangeScript(), c0);
      assert.equal(w.inputWeight, WALLET_INPUT_WEIGHT);
      assert.equal(WALLET_INPUT_WEIGHT, 273);
    });

    it('finds funds sent to keys within the lookahead, and moves the lookahead when one is used', () => {
      const far = (i: number): Uint8Array => p2wpkh(o.ring.walletPublicKey({ chain: 0, index: i }));
      // Nothing handed out yet: index LOOKAHEAD - 1 is derived, LOOKAHEAD + 5 is not.
      w.onChainEvent(feed.connect([txOf([], [{ script: far(WALLET_LOOKAHEAD + 5), value: 20_000n }])]));
      assert.deepEqual(w.utxos(), [], 'beyond the lookahead');
      w.onChainEvent(feed.connect([txOf([], [{ script: far(WALLET_LOOKAHEAD - 1), value: 10_000n }])]));
      assert.deepEqual(
        w.utxos().map((u) => u.valueSat),
        [10_000n],
      );
      // The lookahead now reaches past LOOKAHEAD + 5: a later payment there is found (an earlier one in the same
      // transaction as well: outputs are matched in order).
      const tx2 = txOf([], [
        { script: far(2 * WALLET_LOOKAHEAD - 1), value: 5_000n },
        { script: far(WALLET_LOOKAHEAD + 5), value: 30_000n },
        { script: far(3 * WALLET_LOOKAHEAD - 2), value: 1_000n },
      ]);
      w.onChainEvent(feed.connect([tx2]));
      assert.deepEqual(
        w.utxos().map((u) => u.valueSat),
        [30_000n, 10_000n, 5_000n, 1_000n],
      );
      // The next address skips the used ones.
      assert.equal(toHex(btcAddress.toOutputScript(w.newAddress(), networks.regtest)), toHex(far(3 * WALLET_LOOKAHEAD - 1)));
    });

    it('continues after a restart where it stopped, and refuses a briefcase of another seed', () => {
      w.newAddress();
      w.newAddress();
      const o2 = open();
      assert.equal(toHex(btcAddress.toOutputScript(o2.wallet.newAddress(), networks.regtest)), toHex(p2wpkh(o.ring.walletPublicKey({ chain: 0, index: 2 }))));
      assert.throws(() => open({ seed: sha256(Uint8Array.of(1)) }), isCode('COURT_E_WALLET_NETWORK'));
    });
  });

  describe('UTXOs from blocks', () => {
    it('records outputs to our scripts as confirmed and ignores the rest; a redelivered block changes nothing', () => {
      const addr = w.newAddress();
      const tx = txOf([], [
        { script: btcAddress.toOutputScript(addr, networks.regtest), value: 50_000n },
        { script: FOREIGN, value: 70_000n },
      ]);
      const ev = feed.connect([tx]);
      w.onChainEvent(ev);
      w.onChainEvent(ev);
      const [u, ...rest] = w.utxos();
      assert.equal(rest.length, 0);
      assert.deepEqual(
        { outpoint: u?.outpoint, valueSat: u?.valueSat, state: u?.state, height: u?.height, address: u?.address },
        { outpoint: `${tx.getId()}:0`, valueSat: 50_000n, state: 'confirmed', height: feed.height, address: addr },
      );
      assert.deepEqual(w.balance(), { confirmed: 50_000n, unconfirmed: 0n, leased: 0n, spentInMempool: 0n, total: 50_000n });
    });

    it('skips zero-value outputs to our scripts instead of failing the block', () => {
      const script = btcAddress.toOutputScript(w.newAddress(), networks.regtest);
      w.onChainEvent(feed.connect([txOf([], [{ script, value: 0n }, { script, value: 5_000n }])]));
      assert.equal(w.balance().total, 5_000n);
    });

    it('a disconnect of the funding block removes the UTXO, and reconnecting restores it', () => {
      const [op] = fund([40_000n]);
      const ev = feed.blocks[feed.blocks.length - 1];
      assert.ok(ev);
      const connected = { type: 'BlockConnected' as const, height: ev.height, hash: ev.hash, block: ev };
      w.onChainEvent(feed.disconnect());
      assert.deepEqual(w.utxos(), []);
      assert.equal(w.balance().total, 0n);
      assert.equal(w.lease('s', 1n), undefined);
      w.onChainEvent(feed.reconnect(connected));
      assert.deepEqual(
        w.utxos().map((u) => [u.outpoint, u.state]),
        [[op, 'confirmed']],
      );
      assert.equal(w.tip()?.height, ev.height);
    });

    it('a spend is recorded at its height, kept while shallow, restored by a disconnect, and forgotten 6 blocks deep', () => {
      const [op] = fund([60_000n]);
      const leased = w.lease('sweep-1', 10_000n);
      assert.deepEqual(leased?.map((u) => u.outpoint), [op]);
      const spend = txOf([op as string], [{ script: FOREIGN, value: 59_000n }]);
      w.onChainEvent(feed.connect([spend]));
      assert.deepEqual(w.utxos(), []);
      const spentRow = () => o.db.prepare('SELECT state, spent_height, lease_id FROM wallet_utxo WHERE outpoint = ?').get(op) as { state: number; spent_height: number; lease_id: string } | undefined;
      assert.deepEqual({ ...spentRow() }, { state: 3, spent_height: feed.height, lease_id: 'sweep-1' });
      // A reorg of the spending block: the UTXO is back, in its lease.
      const spendBlock = feed.blocks[feed.blocks.length - 1];
      assert.ok(spendBlock);
      w.onChainEvent(feed.disconnect());
      assert.deepEqual(
        w.utxos().map((u) => [u.outpoint, u.state, u.leaseId]),
        [[op, 'leased', 'sweep-1']],
      );
      w.onChainEvent(feed.reconnect({ type: 'BlockConnected', height: spendBlock.height, hash: spendBlock.hash, block: spendBlock }));
      for (let i = 0; i < 5; i++) w.onChainEvent(feed.connect());
      assert.ok(spentRow(), 'kept while the spend has fewer than 6 blocks on top');
      w.onChainEvent(feed.connect());
      assert.equal(spentRow(), undefined, 'forgotten once 6 blocks are on top of the spend');
    });

    it('reports a spend the wallet never signed, and one signed for a released lease (a stale sweep)', async () => {
      const log = recordingLogger();
      const o2 = open({ logger: log });
      const w2 = o2.wallet;
      const seen: string[] = [];
      w2.onAlert((a) => seen.push(a.kind));
      const [a, b] = fund([30_000n, 40_000n], w2);
      w2.onChainEvent(feed.connect([txOf([a as string], [{ script: FOREIGN, value: 29_000n }])]));
      // b: leased to s1, signed, then released and leased to s2; the s1 transaction confirms anyway.
      const l1 = w2.lease('s1', 35_000n);
      assert.deepEqual(l1?.map((u) => u.outpoint), [b]);
      const stale = txOf([b as string], [{ script: FOREIGN, value: 39_000n }]);
      await w2.signWalletInputs(stale, [{ index: 0, utxo: (l1 as NonNullable<typeof l1>)[0] as NonNullable<typeof l1>[0] }]);
      w2.release('s1');
      assert.deepEqual(w2.lease('s2', 35_000n)?.map((u) => u.outpoint), [b]);
      w2.onChainEvent(feed.connect([stale]));
      assert.deepEqual(seen, ['spentByOther', 'spentByStaleSweep']);
      assert.deepEqual(
        w2.alerts().map((x) => [x.kind, x.outpoint, x.leaseId]),
        [
          ['spentByOther', a, undefined],
          ['spentByStaleSweep', b, 's2'],
        ],
      );
      assert.equal(log.lines.filter((l) => l.level === 'warn').length, 2);
      assert.deepEqual(w2.leased('s2'), [], 'the lease holds nothing spendable any more');
    });

    it('records our unconfirmed change (never selected), confirms it with its block, and drops it when a conflict confirms', () => {
      const [op] = fund([80_000n]);
      const change = w.nextChangeScript();
      const sweep = txOf([op as string], [{ script: change, value: 70_000n }]);
      w.recordUnconfirmed(sweep);
      w.recordUnconfirmed(sweep);
      assert.deepEqual(w.balance(), { confirmed: 0n, unconfirmed: 70_000n, leased: 0n, spentInMempool: 80_000n, total: 70_000n });
      assert.deepEqual(w.lease('x', 100_000n), undefined, 'unconfirmed change is never selected');
      w.onChainEvent(feed.connect([sweep]));
      assert.deepEqual(w.balance(), { confirmed: 70_000n, unconfirmed: 0n, leased: 0n, spentInMempool: 0n, total: 70_000n });
      // A second sweep of the change, replaced on chain by another spend of the same input: its change is dropped.
      const [op2] = [`${sweep.getId()}:0`];
      const sweep2 = txOf([op2, `${'ab'.repeat(32)}:7`], [{ script: w.nextChangeScript(), value: 60_000n }]);
      w.recordUnconfirmed(sweep2);
      assert.equal(w.balance().unconfirmed, 60_000n);
      const rival = txOf([`${'ab'.repeat(32)}:7`], [{ script: FOREIGN, value: 1_000n }]);
      w.onChainEvent(feed.connect([rival]));
      assert.deepEqual(w.balance(), { confirmed: 70_000n, unconfirmed: 0n, leased: 0n, spentInMempool: 0n, total: 70_000n });
    });
    it('a leased coin a published CPFP child spends is spent in the mempool, not counted beside the change; a conflict restores it', () => {
      const [op] = fund([100_000n]);
      const [coin] = w.lease('sweep-set:1', 50_000n) ?? [];
      assert.equal(coin?.outpoint, op);
      const anchor = `${'aa'.repeat(32)}:0`;
      const child = txOf([anchor, op as string], [{ script: w.nextChangeScript(), value: 80_000n }]);
      w.recordUnconfirmed(child);
      assert.deepEqual(w.balance(), { confirmed: 0n, unconfirmed: 80_000n, leased: 0n, spentInMempool: 100_000n, total: 80_000n });
      // The counterparty's sweep of the anchor confirms: the child is conflicted, the coin is ours again (leased).
      w.onChainEvent(feed.connect([txOf([anchor], [{ script: FOREIGN, value: 300n }])]));
      assert.deepEqual(w.balance(), { confirmed: 0n, unconfirmed: 0n, leased: 100_000n, spentInMempool: 0n, total: 100_000n });
      w.release('sweep-set:1');
      assert.deepEqual(w.balance(), { confirmed: 100_000n, unconfirmed: 0n, leased: 0n, spentInMempool: 0n, total: 100_000n });
    });

    it('a recorded replacement (RBF) drops the outputs of the version it replaces at once, so the balance never counts both', () => {
      const [op] = fund([90_000n]);
      const v1 = txOf([op as string, `${'cd'.repeat(32)}:1`], [{ script: w.nextChangeScript(), value: 85_000n }]);
      w.recordUnconfirmed(v1);
      assert.equal(w.balance().unconfirmed, 85_000n);
      const v2 = txOf([`${'cd'.repeat(32)}:1`, op as string], [{ script: w.nextChangeScript(), value: 84_000n }]);
      w.recordUnconfirmed(v2);
      assert.deepEqual(w.balance(), { confirmed: 0n, unconfirmed: 84_000n, leased: 0n, spentInMempool: 90_000n, total: 84_000n });
      w.recordUnconfirmed(v1);
      assert.equal(w.balance().unconfirmed, 85_000n, 'recording the old version again (its rebroadcast won) swaps back');
      w.onChainEvent(feed.connect([v2]));
      assert.deepEqual(w.balance(), { confirmed: 84_000n, unconfirmed: 0n, leased: 0n, spentInMempool: 0n, total: 84_000n });
    });
  });

  describe('rescan', () => {
    it('reads earlier blocks in order (creations and spends), refuses block events meanwhile, and keeps the tip', async () => {
      const ring = o.ring;
      const key = (i: number): Uint8Array => p2wpkh(ring.walletPublicKey({ chain: 0, index: i }));
      // History the wallet never saw: a payment, a spend of it, and another payment.
      const pay1 = txOf([], [{ script: key(0), value: 10_000n }]);
      const spend1 = txOf([`${pay1.getId()}:0`], [{ script: FOREIGN, value: 9_000n }]);
      const pay2 = txOf([], [{ script: key(3), value: 20_000n }]);
      const history = [feed.connect([pay1]), feed.connect([spend1]), feed.connect([pay2])];
      w.onChainEvent(feed.connect());
      const tip = feed.height;
      let release: () => void = () => undefined;
      const gate = new Promise<void>((r) => (release = r));
      const source = {
        getBlockHash: async (h: number): Promise<string> => (history.find((e) => e.height === h) as (typeof history)[0]).hash,
        getBlock: async (hash: string) => {
          await gate;
          return (history.find((e) => e.hash === hash) as (typeof history)[0]).block;
        },
      };
      await assert.rejects(w.rescan(source, history[0]?.height as number, tip + 1), isCode('COURT_E_WALLET_INVALID_ARGUMENT'));
      const running = w.rescan(source, history[0]?.height as number, history[2]?.height as number);
      const next = feed.connect();
      assert.throws(() => w.onChainEvent(next), isCode('COURT_E_WALLET_RESCANNING'));
      await assert.rejects(w.rescan(source, 1, 2), isCode('COURT_E_WALLET_INVALID_ARGUMENT'));
      release();
      assert.equal(await running, 3);
      assert.equal(w.tip()?.height, tip, 'the tip stays the dispatcher’s');
      w.onChainEvent(next);
      assert.deepEqual(
        w.utxos().map((u) => [u.outpoint, u.height]),
        [[`${pay2.getId()}:0`, history[2]?.height]],
      );
    });
  });

  describe('leases', () => {
    it('select confirmed UTXOs largest first, deterministically, and never lease one UTXO to two ids', () => {
      const ops = fund([10_000n, 50_000n, 20_000n, 50_000n]);
      const l1 = w.lease('a', 60_000n);
      const big = [ops[1], ops[3]].sort() as string[];
      assert.deepEqual(l1?.map((u) => u.outpoint), big, 'the two 50k UTXOs, ties by outpoint');
      assert.deepEqual(l1?.map((u) => u.valueSat), [50_000n, 50_000n]);
      const l2 = w.lease('b', 25_000n);
      assert.deepEqual(l2?.map((u) => u.outpoint), [ops[2], ops[0]]);
      assert.equal(w.lease('c', 1n), undefined, 'everything is leased');
      assert.deepEqual(w.balance(), { confirmed: 0n, unconfirmed: 0n, leased: 130_000n, spentInMempool: 0n, total: 130_000n });
      const states = w.utxos().map((u) => u.leaseId);
      assert.equal(states.filter((x) => x === 'a').length, 2);
      assert.equal(states.filter((x) => x === 'b').length, 2);
    });

    it('leasing again for an id replaces its lease (keeping its UTXOs first); a lease it cannot cover changes nothing', () => {
      const ops = fund([10_000n, 30_000n, 20_000n]);
      assert.deepEqual(w.lease('s', 15_000n)?.map((u) => u.outpoint), [ops[1]]);
      // Replacement needs more: keeps ops[1], adds the largest free one.
      assert.deepEqual(w.lease('s', 45_000n)?.map((u) => u.outpoint), [ops[1], ops[2]]);
      // Replacement needs less: keeps only what it needs, the rest is free again.
      assert.deepEqual(w.lease('s', 5_000n)?.map((u) => u.outpoint), [ops[1]]);
      assert.equal(w.balance().leased, 30_000n);
      const before = w.utxos();
      assert.equal(w.lease('s', 1_000_000n), undefined);
      assert.deepEqual(w.utxos(), before, 'the old lease stands');
      w.release('s');
      w.release('s');
      w.release('never-leased');
      assert.equal(w.balance().leased, 0n);
    });

    it('never selects unconfirmed or immature coinbase outputs', () => {
      const script = btcAddress.toOutputScript(w.newAddress(), networks.regtest);
      w.onChainEvent(feed.connect([], coinbaseOf(feed.startHeight + feed.blocks.length, [{ script, value: 50_0000_0000n }])));
      assert.equal(w.utxos()[0]?.coinbase, true);
      assert.equal(w.lease('s', 1n), undefined, 'immature');
      assert.equal(w.reserveStatus(1).available, 0n);
      for (let i = 0; i < 98; i++) w.onChainEvent(feed.connect());
      assert.equal(w.lease('s', 1n), undefined, '99 confirmations');
      w.onChainEvent(feed.connect());
      assert.equal(w.lease('s', 1n)?.length, 1, '100 confirmations: mature');
    });

    it('survive a restart, with the UTXOs and the key index', () => {
      const ops = fund([11_000n, 22_000n]);
      w.lease('keep', 20_000n);
      const o2 = open();
      assert.deepEqual(o2.wallet.utxos(), w.utxos());
      assert.deepEqual(o2.wallet.leased('keep').map((u) => u.outpoint), [ops[1]]);
      assert.deepEqual(o2.wallet.lease('other', 20_000n), undefined, 'the lease is still held');
      // The restarted wallet still finds spends of its UTXOs (its unspent index was loaded).
      o2.wallet.onChainEvent(feed.connect([txOf([ops[0] as string], [{ script: FOREIGN, value: 10_000n }])]));
      assert.deepEqual(o2.wallet.utxos().map((u) => u.outpoint), [ops[1]]);
    });

    it('are one transaction: a failure in the middle of a replacement leaves the old lease and the indexes intact', () => {
      const ops = fund([10_000n, 30_000n, 20_000n]);
      w.lease('s', 15_000n);
      const before = w.utxos();
      // The briefcase refuses to lease ops[2] (as a crash between two statements would leave it half done).
      o.db.exec(`CREATE TEMP TRIGGER no_lease BEFORE UPDATE OF lease_id ON wallet_utxo WHEN NEW.outpoint = '${ops[2]}' AND NEW.lease_id IS NOT NULL
                 BEGIN SELECT RAISE(ABORT, 'injected failure'); END`);
      assert.throws(() => w.lease('s', 45_000n), /injected failure/);
      assert.deepEqual(w.utxos(), before);
      o.db.exec('DROP TRIGGER no_lease');
      assert.deepEqual(w.lease('s', 45_000n)?.map((u) => u.outpoint), [ops[1], ops[2]]);
    });

    it("inside a caller's transaction that rolls back, change nothing and leave the wallet consistent", () => {
      const ops = fund([10_000n, 30_000n]);
      const outer = o.db.transaction(() => {
        w.lease('s', 35_000n);
        // More than the lookahead: keys derived inside the rolled-back transaction are gone from the briefcase.
        for (let i = 0; i < 3 * WALLET_LOOKAHEAD; i++) w.newAddress();
        w.nextChangeScript();
        throw new Error('caller rolls back');
      });
      assert.throws(() => outer(), /caller rolls back/);
      assert.equal(w.balance().leased, 0n);
      // A later payment to the next address and a spend of a UTXO are still found.
      const [op3] = fund([5_000n]);
      w.onChainEvent(feed.connect([txOf([ops[0] as string], [{ script: FOREIGN, value: 9_000n }])]));
      assert.deepEqual(
        w.utxos().map((u) => u.outpoint),
        [ops[1], op3],
      );
      assert.deepEqual(w.lease('s', 35_000n)?.map((u) => u.outpoint), [ops[1], op3]);
    });

    it('refuse malformed ids and amounts with a coded error', () => {
      fund([10_000n]);
      const bad: Array<[string, bigint]> = [
        ['', 1n],
        ['x'.repeat(201), 1n],
        ['s', 0n],
        ['s', -5n],
        ['s', 21_000_001n * 100_000_000n],
      ];
      for (const [id, t] of bad) assert.throws(() => w.lease(id, t), isCode('COURT_E_WALLET_INVALID_ARGUMENT'));
      assert.throws(() => w.lease('s', 5 as unknown as bigint), isCode('COURT_E_WALLET_INVALID_ARGUMENT'));
      assert.throws(() => w.release(''), isCode('COURT_E_WALLET_INVALID_ARGUMENT'));
      assert.equal(w.balance().leased, 0n);
    });
  });

  describe('signing', () => {
    it('signs leased inputs BIP143 P2WPKH SIGHASH_ALL through the Signer; the script interpreter accepts them', async () => {
      const ops = fund([25_000n, 35_000n]);
      const leased = w.lease('s', 50_000n);
      assert.ok(leased);
      const tx = txOf([`${'cd'.repeat(32)}:0`, ...leased.map((u) => u.outpoint)], [{ script: FOREIGN, value: 59_000n }]);
      await w.signWalletInputs(
        tx,
        leased.map((utxo, i) => ({ index: i + 1, utxo })),
      );
      leased.forEach((u, i) => {
        const [sig, pub] = tx.ins[i + 1]?.witness ?? [];
        assert.ok(sig && pub);
        assert.equal(sig[sig.length - 1], SIGHASH_ALL);
        const digest = segwitV0Sighash(tx, i + 1, p2wpkhScriptCode(hash160(pub)), u.valueSat, SIGHASH_ALL);
        assert.ok(secp().verify(digest, pub, decodeSig(sig).compact));
        assert.deepEqual(execInput(tx, i + 1, { scriptPubKey: Buffer.from(u.scriptPubKey, 'hex'), value: u.valueSat }), { ok: true });
      });
      assert.equal(tx.ins[0]?.witness.length, 0, 'the foreign input is left alone');
      assert.deepEqual(leased.map((u) => u.outpoint).sort(), [...ops].sort());
    });

    it('refuses inputs that are not ours, spent, or do not match, and then records and signs nothing', async () => {
      const [op] = fund([25_000n]);
      const [utxo] = w.lease('s', 1n) ?? [];
      assert.ok(utxo);
      const signedRows = (): number => (o.db.prepare('SELECT COUNT(*) AS n FROM wallet_signed').get() as { n: number }).n;
      const tx = txOf([op as string], [{ script: FOREIGN, value: 20_000n }]);
      const cases: Array<[string, Parameters<Wallet['signWalletInputs']>[1]]> = [
        ['COURT_E_WALLET_INPUT_MISMATCH', [{ index: 0, utxo: { ...utxo, valueSat: 25_001n } }]],
        ['COURT_E_WALLET_INPUT_MISMATCH', [{ index: 0, utxo: { ...utxo, scriptPubKey: FOREIGN } }]],
        ['COURT_E_WALLET_INPUT_MISMATCH', [{ index: 1, utxo }]],
        ['COURT_E_WALLET_INPUT_MISMATCH', [{ index: 0, utxo: { ...utxo, outpoint: `${'ee'.repeat(32)}:0` } }]],
        ['COURT_E_WALLET_INPUT_MISMATCH', [{ index: 0, utxo }, { index: 0, utxo }]],
        ['COURT_E_WALLET_INVALID_ARGUMENT', []],
      ];
      for (const [code, inputs] of cases) await assert.rejects(w.signWalletInputs(tx, inputs), isCode(code), code);
      const notOurs = txOf([`${'ee'.repeat(32)}:0`], [{ script: FOREIGN, value: 1n }]);
      await assert.rejects(w.signWalletInputs(notOurs, [{ index: 0, utxo: { ...utxo, outpoint: `${'ee'.repeat(32)}:0` } }]), isCode('COURT_E_WALLET_NOT_OURS'));
      assert.equal(tx.ins[0]?.witness.length, 0);
      assert.equal(signedRows(), 0);
      // Spent: refused too.
      w.onChainEvent(feed.connect([txOf([op as string], [{ script: FOREIGN, value: 24_000n }])]));
      await assert.rejects(w.signWalletInputs(tx, [{ index: 0, utxo }]), isCode('COURT_E_WALLET_NOT_OURS'));
    });
  });

  describe('reserve and balance', () => {
    it('reports the anchor reserve and its shortfall, warning once when it appears', () => {
      const log = recordingLogger();
      const o2 = open({ logger: log });
      const w2 = o2.wallet;
      fund([15_000n, 7_000n], w2);
      assert.deepEqual(w2.reserveStatus(2), { anchorChannels: 2, required: 2n * ANCHOR_RESERVE_SAT, available: 22_000n, shortfall: 0n, status: 'ok' });
      w2.lease('s', 10_000n);
      const short = w2.reserveStatus(2);
      assert.deepEqual({ available: short.available, shortfall: short.shortfall, status: short.status }, { available: 7_000n, shortfall: 13_000n, status: 'shortfall' });
      w2.reserveStatus(2);
      w2.reserveStatus(3);
      const warns = log.lines.filter((l) => l.level === 'warn');
      assert.equal(warns.length, 1, 'warned once');
      assert.equal(warns[0]?.obj['shortfall'], '13000');
      w2.release('s');
      assert.equal(w2.reserveStatus(2).status, 'ok');
      assert.equal(log.lines.filter((l) => l.level === 'info').length, 1);
      assert.equal(w2.reserveStatus(0).required, 0n);
      assert.throws(() => w2.reserveStatus(-1), isCode('COURT_E_WALLET_INVALID_ARGUMENT'));
      assert.throws(() => w2.reserveStatus(1.5), isCode('COURT_E_WALLET_INVALID_ARGUMENT'));
    });

    it('balance is exact: the sum of the listed UTXOs per state', () => {
      fund([1n * 100_000_000n + 1n, 2_100_000n * 100_000_000n, 333n]);
      w.lease('s', 2_000_000n * 100_000_000n);
      const b = w.balance();
      const sum = (st: string): bigint => w.utxos().filter((u) => u.state === st).reduce((a, u) => a + u.valueSat, 0n);
      assert.deepEqual(b, { confirmed: sum('confirmed'), unconfirmed: sum('unconfirmed'), leased: sum('leased'), spentInMempool: 0n, total: sum('confirmed') + sum('leased') });
      assert.equal(b.total, 2_100_001n * 100_000_000n + 334n);
    });
  });
});
