/**
 * Fee wallet benchmarks (src/wallet).
 *
 * wallet_block_ms_10k / _100: median ms of Wallet.onChainEvent for a BlockConnected of 500 unrelated transactions
 *   (2 inputs, 2 outputs each: nothing of ours), a wallet holding 10,000 UTXOs and one holding 100 taking
 *   alternate blocks. wallet_block_ratio_10k_100 should be ~1: a block costs O(its inputs + outputs), not O(wallet).
 * wallet_block_ratio_lookups: the 10k figure divided by the same block's bare work measured in the same run (one
 *   hex encoding + Map lookup per input and output, and one empty SQLite transaction): the wallet's overhead over
 *   the primitives it cannot avoid.
 * wallet_lease_us_10k: median µs of lease() + release() of one sweep on the 10k wallet (selection reads the free
 *   confirmed UTXOs from an index, only as far as the target; one transaction each); wallet_lease_ratio_autocommit
 *   divides it by two bare 1-row autocommit UPDATEs on the same database, interleaved (the fsyncs it cannot avoid).
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transaction } from 'bitcoinjs-lib';
import type { ChainBlock, ChainEvent } from '../src/chain/ports.js';
import { KeyRing } from '../src/keys/keyring.js';
import { LocalSigner } from '../src/keys/signer.js';
import { openDatabase, type Db } from '../src/store/db.js';
import { migrate } from '../src/store/migrate.js';
import { fromHex, reversed, sha256, toHex } from '../src/util/bytes.js';
import { Wallet } from '../src/wallet/index.js';
import { emit } from './harness.js';

const nowMs = (): number => Number(process.hrtime.bigint()) / 1e6;
const hex = (s: string): string => createHash('sha256').update(s).digest('hex');
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
const round = (x: number, d: number): number => Number(x.toFixed(d));
const log = (msg: string): void => void process.stderr.write(`wallet.bench: ${msg}\n`);

let blockSeq = 0;
function block(height: number, txs: Transaction[]): ChainEvent {
  const hash = hex(`wallet bench block ${blockSeq++}`);
  const b: ChainBlock = { hash, height, prevHash: '00'.repeat(32), txs, txids: txs.map((t) => t.getId()) };
  return { type: 'BlockConnected', height, hash, block: b };
}

function foreignTx(i: number): Transaction {
  const tx = new Transaction();
  tx.version = 2;
  tx.addInput(reversed(fromHex(hex(`in a ${i}`))), 0, 0xfffffffd);
  tx.addInput(reversed(fromHex(hex(`in b ${i}`))), 1, 0xfffffffd);
  tx.addOutput(fromHex('0014' + hex(`out a ${i}`).slice(0, 40)), 10_000n);
  tx.addOutput(fromHex('0020' + hex(`out b ${i}`)), 20_000n);
  return tx;
}

/** A wallet in `dir` holding `n` confirmed UTXOs (to its first n lookahead keys, in blocks at heights 100, 101, ...). */
function walletWith(dir: string, name: string, n: number): { db: Db; wallet: Wallet; height: number } {
  const db = openDatabase(join(dir, name));
  migrate(db);
  const ring = KeyRing.fromSeed(sha256(new TextEncoder().encode(`wallet bench ${name}`)), 1);
  const wallet = new Wallet({ db, account: ring.walletAccountPublic(), signer: new LocalSigner(ring), network: 'regtest', lookahead: n });
  const scripts = (db.prepare('SELECT script FROM wallet_key WHERE chain = 1 ORDER BY idx').all() as Array<{ script: string }>).map((r) => r.script);
  let height = 100;
  for (let done = 0; done < n; ) {
    const tx = new Transaction();
    tx.version = 2;
    tx.addInput(reversed(fromHex(hex(`${name} funding ${done}`))), 0, 0xfffffffd);
    const k = Math.min(1000, n - done);
    for (let j = 0; j < k; j++) tx.addOutput(fromHex(scripts[done + j] as string), BigInt(10_000 + done + j));
    wallet.onChainEvent(block(height++, [foreignTx(-1 - height), tx]));
    done += k;
  }
  return { db, wallet, height };
}

export function runWalletBenches(): void {
  const dir = mkdtempSync(join(tmpdir(), 'courtd-wallet-bench-'));
  try {
    let t0 = nowMs();
    const big = walletWith(dir, 'big.sqlite', 10_000);
    const small = walletWith(dir, 'small.sqlite', 100);
    log(`seeded in ${(nowMs() - t0).toFixed(0)} ms`);
    if (big.wallet.utxos().length !== 10_000 || small.wallet.utxos().length !== 100) throw new Error('seeding failed');

    const TXS = 500;
    const ROUNDS = 31;
    const bigT: number[] = [];
    const smallT: number[] = [];
    const bareT: number[] = [];
    const index = new Map<string, number>();
    for (let i = 0; i < 10_000; i++) index.set(hex(`script ${i}`).slice(0, 44), i);
    for (let r = 0; r < ROUNDS + 3; r++) {
      const txs = Array.from({ length: TXS }, (_, i) => foreignTx(r * TXS + i));
      const coinbase = foreignTx(-1000 - r);
      const all = [coinbase, ...txs];
      const forBig = block(big.height++, all);
      const forSmall = block(small.height++, all);
      // Alternate which wallet goes first (the first one pays for the lazily computed parts of the block).
      const timed = (w: Wallet, ev: ChainEvent): number => {
        const t = nowMs();
        w.onChainEvent(ev);
        return nowMs() - t;
      };
      let b: number;
      let s: number;
      if (r % 2 === 0) {
        b = timed(big.wallet, forBig);
        s = timed(small.wallet, forSmall);
      } else {
        s = timed(small.wallet, forSmall);
        b = timed(big.wallet, forBig);
      }
      // The primitives: a hex key and a Map lookup per input and output, and one empty transaction.
      t0 = nowMs();
      let hits = 0;
      for (const tx of all) {
        for (const input of tx.ins) if (index.has(`${toHex(input.hash)}:${input.index}`)) hits++;
        for (const out of tx.outs) if (index.has(toHex(out.script))) hits++;
      }
      big.db.transaction(() => undefined)();
      const bare = nowMs() - t0;
      if (hits !== 0) throw new Error('unexpected hit');
      if (r >= 3) {
        bigT.push(b);
        smallT.push(s);
        bareT.push(bare);
      }
    }
    const bigMs = median(bigT);
    const smallMs = median(smallT);
    emit({ bench: 'wallet_block_ms_10k', value: round(bigMs, 3), unit: 'ms/block', utxos: 10_000, txs: TXS, blocks: ROUNDS });
    emit({ bench: 'wallet_block_ms_100', value: round(smallMs, 3), unit: 'ms/block', utxos: 100, txs: TXS, blocks: ROUNDS });
    emit({ bench: 'wallet_block_ratio_10k_100', value: round(bigMs / smallMs, 3), unit: 'ratio', goal: 1 });
    emit({ bench: 'wallet_block_ratio_lookups', value: round(bigMs / median(bareT), 2), unit: 'ratio', note: 'vs hex key + Map lookup per input/output + one empty transaction, same run' });

    const leaseT: number[] = [];
    const commitT: number[] = [];
    const bump = big.db.prepare('UPDATE wallet_tip SET height = height WHERE id = 1');
    for (let r = 0; r < 41; r++) {
      t0 = nowMs();
      const l = big.wallet.lease('bench-sweep', 50_000n);
      big.wallet.release('bench-sweep');
      leaseT.push((nowMs() - t0) * 1000);
      if (l === undefined) throw new Error('lease failed');
      t0 = nowMs();
      bump.run();
      bump.run();
      commitT.push((nowMs() - t0) * 1000);
    }
    const leaseUs = median(leaseT);
    emit({ bench: 'wallet_lease_us_10k', value: round(leaseUs, 1), unit: 'µs', utxos: 10_000, note: 'lease + release, two transactions' });
    emit({ bench: 'wallet_lease_ratio_autocommit', value: round(leaseUs / median(commitT), 2), unit: 'ratio', note: 'vs two bare 1-row autocommit UPDATEs, same db, interleaved' });
    big.db.close();
    small.db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
