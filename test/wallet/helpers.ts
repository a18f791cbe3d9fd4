/** Test helpers for the fee wallet: a wallet over a real SQLite file, and hand-built blocks fed as chain events. */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { Transaction } from 'bitcoinjs-lib';
import type { ChainBlock, ChainEvent } from '../../src/chain/ports.js';
import { KeyRing } from '../../src/keys/keyring.js';
import { LocalSigner } from '../../src/keys/signer.js';
import { openDatabase, type Db } from '../../src/store/db.js';
import { migrate } from '../../src/store/migrate.js';
import { fromHex, reversed, sha256 } from '../../src/util/bytes.js';
import type { Logger } from '../../src/util/logger.js';
import { Wallet, type WalletOptions } from '../../src/wallet/index.js';

export const SEED = sha256(new TextEncoder().encode('wallet.test seed'));

export interface Opened {
  readonly db: Db;
  readonly ring: KeyRing;
  readonly wallet: Wallet;
}

/** A wallet over the briefcase at `dir`/briefcase.sqlite (created and migrated if new). */
export function openWallet(dir: string, opts: Partial<WalletOptions> & { readonly seed?: Uint8Array; readonly logger?: Logger } = {}): Opened {
  const db = openDatabase(join(dir, 'briefcase.sqlite'));
  migrate(db);
  const ring = KeyRing.fromSeed(opts.seed ?? SEED, 1);
  const wallet = new Wallet({ db, account: ring.walletAccountPublic(), signer: new LocalSigner(ring), network: 'regtest', ...opts });
  return { db, ring, wallet };
}

let salt = 0;
/** A fresh, unique txid-like outpoint source. */
export function fakeOutpoint(): { txid: string; vout: number } {
  salt++;
  return { txid: createHash('sha256').update(`prev ${salt}`).digest('hex'), vout: salt % 3 };
}

/** A transaction spending `inputs` ("txid:vout", or fresh foreign outpoints when empty) to `outputs`. */
export function txOf(inputs: readonly string[], outputs: ReadonlyArray<{ readonly script: Uint8Array | string; readonly value: bigint }>): Transaction {
  const tx = new Transaction();
  tx.version = 2;
  const ins = inputs.length > 0 ? inputs : [(({ txid, vout }) => `${txid}:${vout}`)(fakeOutpoint())];
  for (const op of ins) {
    const [txid, vout] = op.split(':') as [string, string];
    tx.addInput(reversed(fromHex(txid)), Number(vout), 0xfffffffd);
  }
  for (const o of outputs) tx.addOutput(typeof o.script === 'string' ? fromHex(o.script) : o.script, o.value);
  return tx;
}

/** A coinbase paying `outputs`. */
export function coinbaseOf(height: number, outputs: ReadonlyArray<{ readonly script: Uint8Array | string; readonly value: bigint }>): Transaction {
  const tx = new Transaction();
  tx.version = 2;
  tx.addInput(new Uint8Array(32), 0xffffffff, 0xffffffff, Uint8Array.of(3, height & 0xff, (height >> 8) & 0xff, height >> 16));
  for (const o of outputs) tx.addOutput(typeof o.script === 'string' ? fromHex(o.script) : o.script, o.value);
  return tx;
}

/** A linear chain of hand-built blocks; `connect` makes the next block and returns its event. */
export class BlockFeed {
  readonly blocks: ChainBlock[] = [];
  constructor(readonly startHeight = 200) {}

  get height(): number {
    return this.startHeight + this.blocks.length - 1;
  }

  /** The next block, with a dummy coinbase first unless `coinbase` is given. */
  connect(txs: readonly Transaction[] = [], coinbase?: Transaction): ChainEvent & { type: 'BlockConnected' } {
    const height = this.startHeight + this.blocks.length;
    const prev = this.blocks[this.blocks.length - 1];
    const cb = coinbase ?? coinbaseOf(height, [{ script: '0014' + '77'.repeat(20), value: 50_0000_0000n }]);
    const all = [cb, ...txs];
    const hash = createHash('sha256').update(`block ${height} ${prev?.hash ?? ''} ${all.map((t) => t.getId()).join()}`).digest('hex');
    const block: ChainBlock = { hash, height, prevHash: prev?.hash ?? '00'.repeat(32), txs: all, txids: all.map((t) => t.getId()) };
    this.blocks.push(block);
    return { type: 'BlockConnected', height, hash, block };
  }

  /** Connects a block again (after a disconnect): the same block, the same event. */
  reconnect(ev: ChainEvent & { type: 'BlockConnected' }): ChainEvent & { type: 'BlockConnected' } {
    if (ev.height !== this.startHeight + this.blocks.length) throw new Error('not the next height');
    this.blocks.push(ev.block);
    return ev;
  }

  /** Disconnects the tip. */
  disconnect(): ChainEvent & { type: 'BlockDisconnected' } {
    const b = this.blocks.pop();
    if (b === undefined) throw new Error('no block');
    return { type: 'BlockDisconnected', height: b.height, hash: b.hash };
  }
}
