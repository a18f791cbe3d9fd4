/**
 * Unit-test pieces for the sweeper: a small fee wallet over real keys (P2WPKH coins it signs itself), a recording
 * broadcaster, spend watches the test fires by hand, a fee source with settable answers, and input specs over
 * real BOLT #3 scripts and keyring keys.
 */
import type { Transaction } from 'bitcoinjs-lib';
import type { ChainEvent, ConfEvent, PublishResult, SpendEvent, SpendNotifier, WatchHandle } from '../../src/chain/ports.js';
import { KeyRing } from '../../src/keys/keyring.js';
import { secp } from '../../src/keys/secp.js';
import { p2wpkhScriptCode, segwitV0Sighash, SIGHASH_ALL } from '../../src/keys/sighash.js';
import { encodeSig } from '../../src/keys/signature.js';
import { LocalSigner } from '../../src/keys/signer.js';
import { anchorScript, p2wpkh, p2wsh, toLocalScript } from '../../src/ln/scripts.js';
import { openDatabase, type Db } from '../../src/store/db.js';
import { migrate } from '../../src/store/migrate.js';
import { Sweeper, type SweeperOptions } from '../../src/sweep/sweeper.js';
import type { FeeWalletPort, LeasedUtxo, SweepInputSpec } from '../../src/sweep/types.js';
import { hash160, sha256, toHex } from '../../src/util/bytes.js';
import { CourtError } from '../../src/util/errors.js';

const enc = new TextEncoder();

/** A P2WPKH coin the test wallet holds the key of. */
export interface TestCoin extends LeasedUtxo {
  readonly privkey: Uint8Array;
}

/** FeeWalletPort over coins the test gives it (leases in memory, smallest coins first). */
export class TestWallet implements FeeWalletPort {
  readonly inputWeight = 272;
  readonly coins: TestCoin[] = [];
  readonly leases = new Map<string, string[]>();
  readonly changeScripts: string[] = [];
  private n = 0;

  /** The P2WPKH script of the coin key named `label`. */
  scriptFor(label: string): string {
    return toHex(p2wpkh(secp().pointFromScalar(sha256(enc.encode(`sweep-test wallet ${label}`)))));
  }

  /** Hands the wallet a coin whose key is named by `label`. */
  addCoin(txid: string, vout: number, valueSat: bigint, label = `coin ${txid}:${vout}`): TestCoin {
    const privkey = sha256(enc.encode(`sweep-test wallet ${label}`));
    const c = { outpoint: `${txid}:${vout}`, valueSat, scriptPubKey: toHex(p2wpkh(secp().pointFromScalar(privkey))), privkey };
    this.coins.push(c);
    return c;
  }

  lease(leaseId: string, targetSat: bigint): LeasedUtxo[] | undefined {
    const taken = new Set([...this.leases.entries()].filter(([id]) => id !== leaseId).flatMap(([, ops]) => ops));
    const free = this.coins.filter((c) => !taken.has(c.outpoint)).sort((a, b) => (a.valueSat < b.valueSat ? -1 : 1));
    const out: TestCoin[] = [];
    let sum = 0n;
    for (const c of free) {
      if (sum >= targetSat && out.length > 0) break;
      out.push(c);
      sum += c.valueSat;
    }
    if (sum < targetSat || out.length === 0) return undefined;
    this.leases.set(leaseId, out.map((c) => c.outpoint));
    return out.map(({ outpoint, valueSat, scriptPubKey }) => ({ outpoint, valueSat, scriptPubKey }));
  }

  release(leaseId: string): void {
    this.leases.delete(leaseId);
  }

  nextChangeScript(): string {
    const k = sha256(enc.encode(`sweep-test change ${this.n++}`));
    const s = toHex(p2wpkh(secp().pointFromScalar(k)));
    this.changeScripts.push(s);
    this.changeKeys.set(s, k);
    return s;
  }

  private readonly changeKeys = new Map<string, Uint8Array>();

  /**
   * Block subscriber (regtest): coins spent by a connected block leave the wallet, outputs paying to its change
   * scripts join it. Reorgs are not followed (the tests that use it do not reorg the wallet's coins).
   */
  readonly onChainEvent = (e: ChainEvent): void => {
    if (e.type !== 'BlockConnected') return;
    e.block.txs.forEach((tx, i) => {
      for (const input of tx.ins) {
        const op = `${Buffer.from(input.hash).reverse().toString('hex')}:${input.index}`;
        const k = this.coins.findIndex((c) => c.outpoint === op);
        if (k >= 0) this.coins.splice(k, 1);
      }
      tx.outs.forEach((o, vout) => {
        const key = this.changeKeys.get(toHex(o.script));
        if (key !== undefined) this.coins.push({ outpoint: `${e.block.txids[i]}:${vout}`, valueSat: o.value, scriptPubKey: toHex(o.script), privkey: key });
      });
    });
  };

  /** Sum of the wallet's coins. */
  balance(): bigint {
    return this.coins.reduce((s, c) => s + c.valueSat, 0n);
  }

  async signWalletInputs(tx: Transaction, inputs: readonly { readonly index: number; readonly utxo: LeasedUtxo }[]): Promise<void> {
    for (const { index, utxo } of inputs) {
      const coin = this.coins.find((c) => c.outpoint === utxo.outpoint);
      if (coin === undefined) throw new CourtError('COURT_E_INVALID_ARGUMENT', 'not a coin of this wallet');
      const pub = secp().pointFromScalar(coin.privkey);
      const digest = segwitV0Sighash(tx, index, p2wpkhScriptCode(hash160(pub)), coin.valueSat, SIGHASH_ALL);
      tx.setWitness(index, [encodeSig(secp().sign(digest, coin.privkey), SIGHASH_ALL), pub]);
    }
  }
}

/** Records every publish; answers with `answer` (default accepted). */
export class RecordingBroadcaster {
  readonly published: Transaction[] = [];
  readonly forgotten: string[] = [];
  answer: (tx: Transaction) => PublishResult = (tx) => ({ kind: 'accepted', txid: tx.getId() });

  async publish(tx: Transaction): Promise<PublishResult> {
    this.published.push(tx);
    return this.answer(tx);
  }

  forget(txid: string): void {
    this.forgotten.push(txid);
  }
}

/** Spend watches fired by the test. */
export class ManualWatches implements Pick<SpendNotifier, 'watchSpend' | 'watchConf'> {
  readonly watched = new Map<string, (e: SpendEvent) => void | Promise<void>>();
  readonly confs = new Map<string, (e: ConfEvent) => void | Promise<void>>();

  watchConf(txid: string, _n: number, _hint: number, onEvent: (e: ConfEvent) => void | Promise<void>): WatchHandle {
    this.confs.set(txid, onEvent);
    return { id: 0, ready: Promise.resolve(), cancel: () => this.confs.delete(txid) };
  }

  async confirm(tx: Transaction, height: number): Promise<void> {
    await this.confs.get(tx.getId())?.({ type: 'confirmed', txid: tx.getId(), tx, height, blockHash: 'cd'.repeat(32), txIndex: 1, numConfs: 1 });
  }

  watchSpend(outpoint: { txid: string; vout: number }, _hint: number, onEvent: (e: SpendEvent) => void | Promise<void>): WatchHandle {
    const key = `${outpoint.txid}:${outpoint.vout}`;
    this.watched.set(key, onEvent);
    return { id: 0, ready: Promise.resolve(), cancel: () => this.watched.delete(key) };
  }

  async spend(outpoint: string, tx: Transaction, height: number, blockHash = 'ab'.repeat(32)): Promise<void> {
    const [txid, vout] = outpoint.split(':') as [string, string];
    const cb = this.watched.get(outpoint);
    if (cb === undefined) throw new Error(`no watch on ${outpoint}`);
    await cb({ type: 'spend', outpoint: { txid, vout: Number(vout) }, spendingTx: tx, spenderTxid: tx.getId(), inputIndex: 0, height, blockHash });
  }

  async undo(outpoint: string, spenderTxid: string, height: number, blockHash = 'ab'.repeat(32)): Promise<void> {
    const [txid, vout] = outpoint.split(':') as [string, string];
    await this.watched.get(outpoint)?.({ type: 'spend-undone', outpoint: { txid, vout: Number(vout) }, spenderTxid, height, blockHash });
  }
}

/** Fee source with settable estimate and floor (sat/kw). */
export class TestFees {
  estimate = 1000n;
  floor = 253n;
  byTarget?: (target: number) => bigint;
  async feeRatePerKw(target: number): Promise<bigint> {
    return this.byTarget ? this.byTarget(target) : this.estimate;
  }
  async floorPerKw(): Promise<bigint> {
    return this.floor;
  }
}

export const RING = KeyRing.fromSeed(sha256(enc.encode('sweep unit tests seed')), 1);
export const SIGNER = new LocalSigner(RING);

/** A to_local-style P2WSH input (delay 144) with a real key of the ring at `index`. */
export function toLocalInput(index: number, over: Partial<SweepInputSpec> = {}): SweepInputSpec {
  const locator = { family: 4, index };
  const delayed = RING.publicKey(locator);
  const revocation = RING.publicKey({ family: 1, index });
  const script = toLocalScript(revocation, 144, delayed);
  const txid = toHex(sha256(enc.encode(`parent ${index}`)));
  return {
    outpoint: `${txid}:${index % 7}`,
    valueSat: 100_000n,
    scriptPubKey: toHex(p2wsh(script)),
    witness: { kind: 'toLocalDelayed', key: { locator }, script: toHex(script) },
    sequence: 144,
    budgetSat: 10_000n,
    pinnable: false,
    owner: `resolver:${index}`,
    ...over,
  };
}

/** Our anchor on an unconfirmed commitment `parent` (CPFP). */
export function anchorInput(index: number, parent: { txid: string; weight: number; feeSat: bigint }, over: Partial<SweepInputSpec> = {}): SweepInputSpec {
  const locator = { family: 0, index };
  const script = anchorScript(RING.publicKey(locator));
  return {
    outpoint: `${parent.txid}:${index % 2}`,
    valueSat: 330n,
    scriptPubKey: toHex(p2wsh(script)),
    witness: { kind: 'anchorByKey', key: { locator }, script: toHex(script) },
    budgetSat: 20_000n,
    pinnable: false,
    exclusiveGroup: `chan-${index}`,
    parent,
    owner: `cpfp:${index}`,
    ...over,
  };
}

/** A migrated briefcase (a file when `path` is given). */
export function briefcase(path = ':memory:'): Db {
  const db = openDatabase(path);
  migrate(db);
  return db;
}

/** A sweeper over test parts. */
export function testSweeper(
  db: Db,
  parts: { wallet?: TestWallet; broadcaster?: RecordingBroadcaster; watches?: ManualWatches; fees?: TestFees; height?: number } & Partial<SweeperOptions> = {},
) {
  const wallet = parts.wallet ?? new TestWallet();
  const broadcaster = parts.broadcaster ?? new RecordingBroadcaster();
  const watches = parts.watches ?? new ManualWatches();
  const fees = parts.fees ?? new TestFees();
  const sweeper = new Sweeper({ ...parts, db, signer: SIGNER, wallet, broadcaster, watches, fees, height: parts.height ?? 1000 });
  return { sweeper, wallet, broadcaster, watches, fees };
}
