/**
 * Crash at every commit point of one sweeper scenario (style.md principle 13). The scenario runs once while the
 * briefcase is copied at every commit of the Sweeper (`onCommit`) and of the wallet (lease, release), and right
 * after every broadcast. Then for each copy a fresh Sweeper starts from
 * it, as a new process would: the blocks the node had mined by then are the node's (replayed into the new run's
 * chain), the input being processed is delivered again (at-least-once), and the run goes on to the end. Each run
 * must end with the same results (type, outpoint, height), no input spent twice on its chain, no wallet lease left
 * behind, and the same wallet balance (coins not spent + change paid to the wallet) as the reference run.
 *
 * The world is small and exact: a mempool that keeps one transaction per spent outpoint (a replacement evicts what
 * it conflicts with), blocks that take the whole mempool or nothing, and a wallet whose leases and address index
 * live in the same database (as the real wallet's do), so a crash copy holds them consistently.
 *
 * Prints `sweeper crash checkpoints=N resumed=N mismatches=0`.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Transaction } from 'bitcoinjs-lib';
import type { PublishResult } from '../../src/chain/ports.js';
import { secp } from '../../src/keys/secp.js';
import { p2wpkhScriptCode, segwitV0Sighash, SIGHASH_ALL } from '../../src/keys/sighash.js';
import { encodeSig } from '../../src/keys/signature.js';
import { p2wpkh } from '../../src/ln/scripts.js';
import { openDatabase, type Db } from '../../src/store/db.js';
import { migrate } from '../../src/store/migrate.js';
import { Sweeper } from '../../src/sweep/sweeper.js';
import type { FeeWalletPort, LeasedUtxo, SweepInputSpec, SweepResult } from '../../src/sweep/types.js';
import { hash160, sha256, toHex } from '../../src/util/bytes.js';
import { copyDatabase, tempDir } from '../helpers/db.js';
import { ManualWatches, SIGNER, TestFees, toLocalInput } from '../sweep/helpers.js';

const HEIGHT = 1000;
const enc = new TextEncoder();
const COIN_KEY = sha256(enc.encode('crash wallet coin'));
const COIN = { outpoint: `${'ee'.repeat(32)}:0`, valueSat: 200_000n, scriptPubKey: toHex(p2wpkh(secp().pointFromScalar(COIN_KEY))) };

/** A fee wallet whose leases and address index are rows of the briefcase (like the real one). */
class DbWallet implements FeeWalletPort {
  readonly inputWeight = 272;
  spent = new Set<string>();
  constructor(
    private readonly db: Db,
    private readonly onCommit?: () => void,
  ) {
    db.exec('CREATE TABLE IF NOT EXISTS test_wallet_lease (lease_id TEXT, outpoint TEXT)');
    db.exec('CREATE TABLE IF NOT EXISTS test_wallet_meta (next INTEGER)');
    if (db.prepare('SELECT COUNT(*) AS n FROM test_wallet_meta').get() === undefined || (db.prepare('SELECT COUNT(*) AS n FROM test_wallet_meta').get() as { n: number }).n === 0) {
      db.prepare('INSERT INTO test_wallet_meta (next) VALUES (0)').run();
    }
  }
  lease(leaseId: string, target: bigint): LeasedUtxo[] | undefined {
    const other = (this.db.prepare('SELECT outpoint FROM test_wallet_lease WHERE lease_id != ?').all(leaseId) as { outpoint: string }[]).map((r) => r.outpoint);
    if (this.spent.has(COIN.outpoint) || other.includes(COIN.outpoint) || COIN.valueSat < target) return undefined;
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM test_wallet_lease WHERE lease_id = ?').run(leaseId);
      this.db.prepare('INSERT INTO test_wallet_lease (lease_id, outpoint) VALUES (?, ?)').run(leaseId, COIN.outpoint);
    })();
    this.onCommit?.();
    return [COIN];
  }
  release(leaseId: string): void {
    this.db.prepare('DELETE FROM test_wallet_lease WHERE lease_id = ?').run(leaseId);
    this.onCommit?.();
  }
  nextChangeScript(): string {
    const n = (this.db.prepare('SELECT next FROM test_wallet_meta').get() as { next: number }).next;
    this.db.prepare('UPDATE test_wallet_meta SET next = next + 1').run();
    return toHex(p2wpkh(secp().pointFromScalar(sha256(enc.encode(`crash change ${n}`)))));
  }
  isChange(script: string): boolean {
    for (let n = 0; n < 100; n++) if (toHex(p2wpkh(secp().pointFromScalar(sha256(enc.encode(`crash change ${n}`))))) === script) return true;
    return false;
  }
  async signWalletInputs(tx: Transaction, inputs: readonly { index: number; utxo: LeasedUtxo }[]): Promise<void> {
    for (const { index } of inputs) {
      const pub = secp().pointFromScalar(COIN_KEY);
      const d = segwitV0Sighash(tx, index, p2wpkhScriptCode(hash160(pub)), COIN.valueSat, SIGHASH_ALL);
      tx.setWitness(index, [encodeSig(secp().sign(d, COIN_KEY), SIGHASH_ALL), pub]);
    }
  }
}

/** Values of every outpoint the scenario's transactions can spend. */
const VALUES = new Map<string, bigint>();

function feeOf(tx: Transaction): bigint {
  let sum = 0n;
  for (let i = 0; i < tx.ins.length; i++) sum += VALUES.get(opOf(tx, i)) as bigint;
  return sum - tx.outs.reduce((a, o) => a + o.value, 0n);
}

function opOf(tx: Transaction, i: number): string {
  const inp = tx.ins[i] as { hash: Uint8Array; index: number };
  return `${Buffer.from(inp.hash).reverse().toString('hex')}:${inp.index}`;
}

/** One run's world: mempool, chain (block tx lists by height) and the sweeper over a briefcase. */
interface Run {
  readonly db: Db;
  readonly sweeper: Sweeper;
  readonly wallet: DbWallet;
  readonly watches: ManualWatches;
  readonly mempool: Map<string, Transaction>;
  readonly chain: Transaction[][];
}

function world(db: Db, onCommit?: () => void, onBroadcast?: () => void): Run {
  const mempool = new Map<string, Transaction>();
  const watches = new ManualWatches();
  const wallet = new DbWallet(db, onCommit);
  const broadcaster = {
    publish: async (tx: Transaction): Promise<PublishResult> => {
      // Core's replacement rules, computed here from the input values (not with the sweeper's own arithmetic)
      const conflicts = new Set<Transaction>();
      for (let i = 0; i < tx.ins.length; i++) {
        const old = mempool.get(opOf(tx, i));
        if (old !== undefined && old.getId() !== tx.getId()) conflicts.add(old);
      }
      for (const old of conflicts) {
        const nf = feeOf(tx);
        const of = feeOf(old);
        if (nf < of + BigInt(tx.virtualSize()) || nf * BigInt(old.virtualSize()) <= of * BigInt(tx.virtualSize())) {
          return { kind: 'insufficient-fee', txid: tx.getId(), rpcCode: -26, reason: 'insufficient fee, rejecting replacement' };
        }
      }
      for (let i = 0; i < tx.ins.length; i++) {
        const old = mempool.get(opOf(tx, i));
        if (old !== undefined && old.getId() !== tx.getId()) for (let k = 0; k < old.ins.length; k++) mempool.delete(opOf(old, k));
      }
      for (let i = 0; i < tx.ins.length; i++) mempool.set(opOf(tx, i), tx);
      onBroadcast?.();
      return { kind: 'accepted', txid: tx.getId() };
    },
    forget: () => undefined,
  };
  const fees = new TestFees();
  const sweeper = new Sweeper({ db, signer: SIGNER, wallet, broadcaster, watches, fees, height: HEIGHT, ...(onCommit ? { onCommit } : {}) });
  return { db, sweeper, wallet, watches, mempool, chain: [] };
}

const SPECS: SweepInputSpec[] = [
  ...[0, 1, 2].map((i) => toLocalInput(100 + i, { deadlineHeight: HEIGHT + 6, budgetSat: 4_000n })),
  // a zero-fee second-level HTLC pair (wallet coin and change pay its fee)
  {
    outpoint: `${'ab'.repeat(32)}:3`,
    valueSat: 50_000n,
    scriptPubKey: '0020' + '11'.repeat(32),
    witness: { kind: 'htlcSecondLevel', key: { locator: { family: 2, index: 7 } }, script: '00'.repeat(133), remoteSig: '30'.repeat(72) },
    sequence: 1,
    deadlineHeight: HEIGHT + 6,
    pairedOutput: { valueSat: 50_000n, script: '0020' + '22'.repeat(32) },
    budgetSat: 6_000n,
    pinnable: true,
    owner: 'resolver:htlc',
  },
];

VALUES.set(COIN.outpoint, COIN.valueSat);
for (const x of SPECS) VALUES.set(x.outpoint, x.valueSat);

/** The scenario's steps: offers, blocks that leave the sweeps out, a block that takes them, a reorg of it, 6 deep. */
type Step = { readonly kind: 'offer' } | { readonly kind: 'block'; readonly take: boolean } | { readonly kind: 'disconnect' };
const STEPS: Step[] = [
  { kind: 'offer' },
  { kind: 'block', take: false },
  { kind: 'block', take: false },
  { kind: 'block', take: true },
  { kind: 'block', take: false },
  { kind: 'disconnect' },
  { kind: 'disconnect' },
  { kind: 'block', take: true },
  ...Array.from({ length: 7 }, () => ({ kind: 'block', take: true }) as Step),
];

/** Delivers step `k`: the node mines (or reorganises) and the watches then the sweeper hear of it. */
async function deliver(run: Run, step: Step, recorded?: Transaction[] | 'pop'): Promise<void> {
  if (step.kind === 'offer') {
    for (const s of SPECS) run.sweeper.offer(s);
    await run.sweeper.kick();
    return;
  }
  if (step.kind === 'disconnect') {
    const height = HEIGHT + run.chain.length;
    const txs = run.chain.pop() ?? [];
    for (const tx of txs) {
      for (let i = 0; i < tx.ins.length; i++) {
        await run.watches.undo(opOf(tx, i), tx.getId(), height, `b${height}`);
        run.mempool.set(opOf(tx, i), tx);
      }
      for (let i = 0; i < tx.ins.length; i++) if (opOf(tx, i) === COIN.outpoint) run.wallet.spent.delete(COIN.outpoint);
    }
    await run.sweeper.onChainEvent({ type: 'BlockDisconnected', height, hash: `b${height}` });
    return;
  }
  const height = HEIGHT + run.chain.length + 1;
  const txs = recorded instanceof Array ? recorded : step.take ? [...new Set(run.mempool.values())] : [];
  run.chain.push(txs);
  for (const tx of txs) for (let i = 0; i < tx.ins.length; i++) run.mempool.delete(opOf(tx, i));
  for (const tx of txs) {
    for (let i = 0; i < tx.ins.length; i++) {
      const op = opOf(tx, i);
      if (op === COIN.outpoint) run.wallet.spent.add(op);
      if (run.watches.watched.has(op)) await run.watches.spend(op, tx, height, `b${height}`);
    }
  }
  const hash = `b${height}`;
  await run.sweeper.onChainEvent({ type: 'BlockConnected', height, hash, block: { hash, height, prevHash: '', txs, txids: txs.map((t) => t.getId()) } });
}

/** What must be the same at the end of every run. */
function outcome(run: Run): { results: string[]; leases: number; balance: bigint; doubleSpends: number; openSets: number } {
  const results = run.sweeper.unacked().map((r: SweepResult) => `${r.type}:${r.outpoint}:${r.type === 'failed' ? r.reason : r.height}`).sort();
  const leases = (run.db.prepare('SELECT COUNT(*) AS n FROM test_wallet_lease').get() as { n: number }).n;
  const spentOnChain = new Map<string, number>();
  let balance = run.wallet.spent.has(COIN.outpoint) ? 0n : COIN.valueSat;
  for (const txs of run.chain) {
    for (const tx of txs) {
      for (let i = 0; i < tx.ins.length; i++) spentOnChain.set(opOf(tx, i), (spentOnChain.get(opOf(tx, i)) ?? 0) + 1);
      for (const o of tx.outs) if (run.wallet.isChange(toHex(o.script))) balance += o.value;
    }
  }
  const doubleSpends = [...spentOnChain.values()].filter((n) => n > 1).length;
  const openSets = (run.db.prepare('SELECT COUNT(*) AS n FROM sweep_set WHERE closed = 0').get() as { n: number }).n;
  return { results, leases, balance, doubleSpends, openSets };
}

let checkpoints = 0;
let resumed = 0;
let mismatches = 0;

describe('crash at every checkpoint: Sweeper', () => {
  const tmp = tempDir('sweep-crash');
  after(() => {
    tmp.remove();
    process.stdout.write(`sweeper crash checkpoints=${checkpoints} resumed=${resumed} mismatches=${mismatches}\n`);
  });

  it('bumping, wallet-funded pairs, a reorg of the confirmed sweeps and finality resume from every commit to the same end', async () => {
    // reference run, copying the briefcase at every commit
    const refDb = openDatabase(join(tmp.dir, 'ref.db'));
    migrate(refDb);
    const copies: { path: string; step: number; chainLen: number; mempool: Transaction[] }[] = [];
    let step = 0;
    const holder: { ref?: Run } = {};
    const copy = (): void => {
      const ref = holder.ref as Run;
      const path = join(tmp.dir, `crash-${copies.length}.db`);
      copyDatabase(refDb, path);
      copies.push({ path, step, chainLen: ref.chain.length, mempool: [...new Set(ref.mempool.values())] });
    };
    // a copy at every commit, and one right after each broadcast (the node has the transaction, nothing else ran)
    const ref = world(refDb, copy, copy);
    holder.ref = ref;
    const blocks: Transaction[][][] = [];
    for (step = 0; step < STEPS.length; step++) {
      await deliver(ref, STEPS[step] as Step);
      blocks.push(ref.chain.map((b) => b.slice()));
    }
    const want = outcome(ref);
    assert.equal(want.results.filter((r) => r.startsWith('swept:')).length, SPECS.length, 'every input swept in the reference run');
    assert.equal(want.leases, 0);
    assert.equal(want.doubleSpends, 0);
    assert.equal(want.openSets, 0);
    checkpoints = copies.length;
    assert.ok(checkpoints > 20, `commit points: ${checkpoints}`);

    for (const c of copies) {
      const db = openDatabase(c.path);
      const run = world(db);
      // the node's chain and mempool at the crash: the blocks mined so far are the node's
      const chainAtCrash = c.step === 0 ? [] : (blocks[c.step - 1] as Transaction[][]);
      for (const txs of chainAtCrash) run.chain.push(txs.slice());
      // and so is its mempool (what was broadcast before the crash stays there)
      for (const tx of c.mempool) for (let i = 0; i < tx.ins.length; i++) run.mempool.set(opOf(tx, i), tx);
      for (const txs of run.chain) for (const tx of txs) for (let i = 0; i < tx.ins.length; i++) if (opOf(tx, i) === COIN.outpoint) run.wallet.spent.add(COIN.outpoint);
      // the watches rescan: spends already on chain are reported to the fresh sweeper at start
      await run.sweeper.start();
      for (let h = 0; h < run.chain.length; h++) {
        for (const tx of run.chain[h] as Transaction[]) {
          for (let i = 0; i < tx.ins.length; i++) if (run.watches.watched.has(opOf(tx, i))) await run.watches.spend(opOf(tx, i), tx, HEIGHT + h + 1, `b${HEIGHT + h + 1}`);
        }
      }
      // the input being processed at the crash is delivered again, then the rest
      const cur = STEPS[c.step] as Step;
      if (cur.kind === 'block' && run.chain.length < (blocks[c.step] as Transaction[][]).length) {
        await deliver(run, cur, (blocks[c.step] as Transaction[][])[run.chain.length]);
      } else if (cur.kind === 'disconnect' && run.chain.length > (blocks[c.step] as Transaction[][]).length) {
        await deliver(run, cur);
      } else {
        // the step's chain change is already done: redeliver the event to the sweeper only
        if (cur.kind === 'offer') await deliver(run, cur);
        else if (cur.kind === 'block') {
          const height = HEIGHT + run.chain.length;
          const txs = run.chain[run.chain.length - 1] as Transaction[];
          await run.sweeper.onChainEvent({ type: 'BlockConnected', height, hash: `b${height}`, block: { hash: `b${height}`, height, prevHash: '', txs, txids: txs.map((t) => t.getId()) } });
        } else await run.sweeper.onChainEvent({ type: 'BlockDisconnected', height: HEIGHT + run.chain.length + 1, hash: `b${HEIGHT + run.chain.length + 1}` });
      }
      for (let k = c.step + 1; k < STEPS.length; k++) await deliver(run, STEPS[k] as Step);
      const got = outcome(run);
      resumed++;
      try {
        assert.deepEqual(got, want);
      } catch (err) {
        mismatches++;
        process.stderr.write(`crash copy ${c.path} (step ${c.step}): ${(err as Error).message.slice(0, 600)}\n`);
      }
      db.close();
    }
    assert.equal(mismatches, 0);
  });
});
