/**
 * courtd's fee wallet (ARCHITECTURE.md "wallet/", docs/decisions.md D18): BIP84 P2WPKH keys, the UTXOs found in
 * connected blocks, coin selection and persisted leases for the sweeper's fee inputs, signing through the Signer,
 * and a reserve per anchor channel.
 *
 * Keys: addresses come from the account's public node (KeyRing.walletAccountPublic(), m/84'/coin'/0'); the wallet
 * never holds a private key and has its inputs signed by the Signer with { wallet: { chain, index } } descriptors.
 * Every derived key is a row of wallet_key; LOOKAHEAD keys beyond the highest handed-out or used index of each
 * chain are always derived, so an output to a recently handed-out address (or one handed out by a restored copy)
 * is found.
 *
 * Blocks: the wallet is a BlockSubscriber (`onChainEvent`). Each connected block is one SQLite transaction; its
 * outputs are looked up in an in-memory script index (scriptPubKey hex -> path) and its inputs in the in-memory
 * set of our unspent outpoints, so a block costs O(its inputs + outputs), not O(wallet). A disconnected block
 * undoes the spends it held and removes the UTXOs it created (a leased one stays leased, unconfirmed, so no other
 * sweep can take a UTXO that a sweep in the mempool spends). Spent rows stay until their spend is SPENT_KEEP_DEPTH
 * blocks deep. Handlers are idempotent: the dispatcher may deliver an event twice across a crash.
 *
 * Leases: lease(id, target) and release(id) are one SQLite transaction each; a UTXO has at most one lease id
 * (a column), leasing again for an id replaces its lease atomically, and a failed lease changes nothing. The
 * transactions the wallet signs are recorded (before signing) with the lease then in force, so a spend of one of
 * our UTXOs by a transaction the wallet never signed, or signed for another lease (a stale sweep), is reported as
 * an alert (wallet_alert, the logger at warn, onAlert listeners).
 */
import { address as btcAddress, type Transaction } from 'bitcoinjs-lib';
import type { BlockConnected, BlockDisconnected, ChainEvent, ChainSource } from '../chain/ports.js';
import { inputKey, inputOutpoint } from '../chain/outpoint.js';
import { derivePublicChild, type HdPublicNode } from '../keys/bip32.js';
import type { WalletChain, WalletKeyPath } from '../keys/keyring.js';
import { p2wpkhScriptCode, SIGHASH_ALL } from '../keys/sighash.js';
import type { InputSignRequest, Signer } from '../keys/signer.js';
import { WITNESS_WEIGHT } from '../ln/weights.js';
import { p2wpkh } from '../ln/scripts.js';
import { WALLET_ALERT, WALLET_UTXO_STATE, type WalletAlertCode, type WalletUtxoStateCode } from '../store/codes.js';
import type { Statement } from 'better-sqlite3';
import type { Db } from '../store/db.js';
import type { FeeWalletPort, LeasedUtxo } from '../sweep/types.js';
import { MAX_MONEY_SAT } from '../util/amount.js';
import { fromHex, hash160, reversed, toHex } from '../util/bytes.js';
import { CourtError } from '../util/errors.js';
import { silentLogger, type Logger } from '../util/logger.js';
import { takeUntil } from './select.js';

/** The networks the wallet encodes addresses for (bech32 HRP bc / tb / tb / bcrt). */
export type WalletNetwork = 'mainnet' | 'testnet' | 'signet' | 'regtest';

const HRP: Readonly<Record<WalletNetwork, string>> = Object.freeze({ mainnet: 'bc', testnet: 'tb', signet: 'tb', regtest: 'bcrt' });

/** Keys derived beyond the highest handed-out or used index of each chain. */
export const WALLET_LOOKAHEAD = 20;
/** A spent UTXO is forgotten once its spend has this many blocks on top of it (a reorg up to it can restore it). */
export const SPENT_KEEP_DEPTH = 6;
/** lnd's reserve per anchor channel (lnd #4808): enough to CPFP one commitment. */
export const ANCHOR_RESERVE_SAT = 10_000n;
/** Blocks before a coinbase output may be spent. */
export const COINBASE_MATURITY = 100;
/** Weight of one P2WPKH wallet input: 41 non-witness bytes * 4 + a witness <sig (73)> <pubkey (33)> of 109. */
export const WALLET_INPUT_WEIGHT = 41 * 4 + WITNESS_WEIGHT.toRemoteP2wpkh();
/** Longest lease id accepted (the sweeper's ids are short). */
const MAX_LEASE_ID = 200;

export interface WalletOptions {
  /** The briefcase, migrated (0008). */
  readonly db: Db;
  /** The account's public node: keyRing.walletAccountPublic(). */
  readonly account: HdPublicNode;
  /** Signs the wallet's inputs (LocalSigner over the same keyring, or a remote signer). */
  readonly signer: Signer;
  readonly network: WalletNetwork;
  readonly logger?: Logger;
  /** Default WALLET_LOOKAHEAD. */
  readonly lookahead?: number;
  /** Default ANCHOR_RESERVE_SAT. */
  readonly reservePerAnchorSat?: bigint;
}

/** The UTXO states a caller sees (spent rows are not listed). */
export type WalletUtxoState = 'confirmed' | 'unconfirmed' | 'leased';

/** One unspent UTXO of the wallet. */
export interface WalletUtxo {
  readonly outpoint: string;
  readonly valueSat: bigint;
  /** Hex scriptPubKey (P2WPKH). */
  readonly scriptPubKey: string;
  readonly address: string;
  readonly path: WalletKeyPath;
  readonly state: WalletUtxoState;
  /** Height of the block that created it; absent while unconfirmed. */
  readonly height?: number;
  readonly leaseId?: string;
  readonly coinbase: boolean;
}

/**
 * Sums of the unspent UTXOs by state, sat. total = confirmed + unconfirmed + leased: the money the wallet has once
 * its recorded unconfirmed transactions confirm (the node's UTXO set with its mempool).
 */
export interface WalletBalance {
  /** Confirmed and not leased (immature coinbase outputs included), not spent in the mempool. */
  readonly confirmed: bigint;
  /** Unconfirmed and not leased: never selected. */
  readonly unconfirmed: bigint;
  /** Leased to a sweep, confirmed or not, not spent in the mempool. */
  readonly leased: bigint;
  /**
   * UTXOs a recorded unconfirmed transaction of ours spends (a published sweep's wallet inputs): not in total (the
   * transaction's change is, as unconfirmed), counted again if that transaction is conflicted.
   */
  readonly spentInMempool: bigint;
  readonly total: bigint;
}

/** The anchor reserve (lnd #4808). */
export interface ReserveStatus {
  readonly anchorChannels: number;
  /** anchorChannels * reserve per anchor. */
  readonly required: bigint;
  /** Confirmed, unleased, spendable (mature) UTXOs. */
  readonly available: bigint;
  /** max(0, required - available). */
  readonly shortfall: bigint;
  readonly status: 'ok' | 'shortfall';
}

/** A spend of one of our UTXOs the wallet did not sign for the lease holding it. */
export interface WalletAlert {
  readonly id: number;
  readonly kind: 'spentByOther' | 'spentByStaleSweep';
  readonly outpoint: string;
  /** The lease the UTXO was in when it was spent (absent: none). */
  readonly leaseId?: string;
  readonly txid: string;
  readonly height: number;
  readonly blockHash: string;
}

const S = WALLET_UTXO_STATE;
const STATE_NAME: Readonly<Record<number, WalletUtxoState>> = { [S.Confirmed]: 'confirmed', [S.Unconfirmed]: 'unconfirmed', [S.Leased]: 'leased' };
const ALERT_NAME: Readonly<Record<number, WalletAlert['kind']>> = {
  [WALLET_ALERT.SpentByOther]: 'spentByOther',
  [WALLET_ALERT.SpentByStaleSweep]: 'spentByStaleSweep',
};

interface UtxoRow {
  outpoint: string;
  value_sat: bigint;
  script: string;
  coinbase: bigint;
  state: bigint;
  height: bigint | null;
  lease_id: string | null;
}

function badArg(message: string, details: Record<string, string | number | bigint | boolean> = {}): never {
  throw new CourtError('COURT_E_WALLET_INVALID_ARGUMENT', message, details);
}

function checkLeaseId(leaseId: unknown): string {
  if (typeof leaseId !== 'string' || leaseId.length === 0 || leaseId.length > MAX_LEASE_ID) {
    badArg(`lease id must be a string of 1 to ${MAX_LEASE_ID} characters`);
  }
  return leaseId;
}

/** Internal-order index key of a display-order "txid:vout". */
function internalKey(outpoint: string): string {
  const i = outpoint.indexOf(':');
  return `${toHex(reversed(fromHex(outpoint.slice(0, i))))}${outpoint.slice(i)}`;
}

const num = (v: bigint | number | null): number | undefined => (v === null ? undefined : Number(v));

export class Wallet implements FeeWalletPort {
  readonly inputWeight = WALLET_INPUT_WEIGHT;
  readonly network: WalletNetwork;
  /** A BlockSubscriber: register it with the block dispatcher before the sweeper's. */
  readonly onChainEvent = (event: ChainEvent): void => this.handleChainEvent(event);

  readonly #db: Db;
  readonly #signer: Signer;
  readonly #logger: Logger;
  readonly #lookahead: number;
  readonly #reservePerAnchor: bigint;
  readonly #chains: readonly [HdPublicNode, HdPublicNode];
  /** scriptPubKey hex -> path. */
  #scripts = new Map<string, WalletKeyPath>();
  /** Internal-order outpoint key -> display outpoint, for every unspent row. */
  #unspent = new Map<string, string>();
  /** Internal-order key of an outpoint a recorded unconfirmed transaction spends -> those txids. */
  #pending = new Map<string, Set<string>>();
  /** Per chain: the next index to hand out (highest issued or used + 1), and how many keys are derived. */
  #next: [number, number] = [0, 0];
  #derived: [number, number] = [0, 0];
  #tip: { height: number; hash?: string } | undefined;
  #shortfallReported = false;
  #rescanning = false;
  readonly #alertListeners: Array<(a: WalletAlert) => void> = [];
  readonly #stmts = new Map<string, Statement>();

  constructor(opts: WalletOptions) {
    if (!(opts.network in HRP)) badArg('network must be mainnet, testnet, signet or regtest');
    const lookahead = opts.lookahead ?? WALLET_LOOKAHEAD;
    if (!Number.isInteger(lookahead) || lookahead < 1 || lookahead > 10_000) badArg('lookahead must be an integer in 1..10000');
    const reserve = opts.reservePerAnchorSat ?? ANCHOR_RESERVE_SAT;
    if (typeof reserve !== 'bigint' || reserve < 0n || reserve > MAX_MONEY_SAT) badArg('reservePerAnchorSat must be a bigint amount');
    this.#db = opts.db;
    this.#signer = opts.signer;
    this.#logger = opts.logger ?? silentLogger;
    this.network = opts.network;
    this.#lookahead = lookahead;
    this.#reservePerAnchor = reserve;
    this.#chains = [derivePublicChild(opts.account, 0), derivePublicChild(opts.account, 1)];
    this.#load();
  }

  /** A prepared statement, compiled once per SQL text. */
  #stmt(sql: string): Statement {
    let st = this.#stmts.get(sql);
    if (st === undefined) this.#stmts.set(sql, (st = this.#db.prepare(sql)));
    return st;
  }

  /** Reads the script index, the unspent set and the pending spends from the briefcase, and tops up the lookahead. */
  #load(): void {
    const db = this.#db;
    const first = this.#stmt('SELECT pubkey FROM wallet_key WHERE chain = 0 AND idx = 0').get() as { pubkey: string } | undefined;
    if (first !== undefined && first.pubkey !== toHex(derivePublicChild(this.#chains[0], 0).publicKey)) {
      throw new CourtError('COURT_E_WALLET_NETWORK', "the briefcase's wallet keys come from another seed or coin type than this keyring's");
    }
    this.#scripts = new Map();
    this.#next = [0, 0];
    this.#derived = [0, 0];
    for (const r of this.#stmt('SELECT chain, idx, script, issued, used FROM wallet_key').all() as Array<{ chain: WalletChain; idx: number; script: string; issued: number; used: number }>) {
      this.#scripts.set(r.script, { chain: r.chain, index: r.idx });
      this.#derived[r.chain] = Math.max(this.#derived[r.chain], r.idx + 1);
      if (r.issued === 1 || r.used === 1) this.#next[r.chain] = Math.max(this.#next[r.chain], r.idx + 1);
    }
    this.#unspent = new Map();
    for (const r of this.#stmt('SELECT outpoint FROM wallet_utxo WHERE state <> ?').all(S.Spent) as Array<{ outpoint: string }>) {
      this.#unspent.set(internalKey(r.outpoint), r.outpoint);
    }
    this.#pending = new Map();
    for (const r of this.#stmt('SELECT txid, spends FROM wallet_pending_tx').all() as Array<{ txid: string; spends: string }>) {
      this.#addPending(internalKey(r.spends), r.txid);
    }
    const tip = this.#stmt('SELECT height, hash FROM wallet_tip WHERE id = 1').get() as { height: number; hash: string | null } | undefined;
    this.#tip = tip === undefined ? undefined : tip.hash === null ? { height: tip.height } : { height: tip.height, hash: tip.hash };
    db.transaction(() => {
      this.#topUp(0);
      this.#topUp(1);
    })();
  }

  #addPending(key: string, txid: string): void {
    let s = this.#pending.get(key);
    if (s === undefined) this.#pending.set(key, (s = new Set()));
    s.add(txid);
  }

  /** Derives and records keys until `lookahead` lie beyond the next index of `chain`. Call inside a transaction. */
  #topUp(chain: WalletChain): void {
    const insert = this.#stmt('INSERT INTO wallet_key (chain, idx, pubkey, script) VALUES (?, ?, ?, ?)');
    while (this.#derived[chain] < this.#next[chain] + this.#lookahead) {
      const index = this.#derived[chain];
      const pub = derivePublicChild(this.#chains[chain], index).publicKey;
      const script = toHex(p2wpkh(pub));
      insert.run(chain, index, toHex(pub), script);
      this.#scripts.set(script, { chain, index });
      this.#derived[chain] = index + 1;
    }
  }

  /** Runs `fn` in one transaction; if it throws, the in-memory indexes are reloaded from the briefcase. */
  #atomically<T>(fn: () => T): T {
    try {
      return this.#db.transaction(fn)();
    } catch (err) {
      this.#load();
      throw err;
    }
  }

  /**
   * Reads the next and derived counts of `chain` from the briefcase (memory may run ahead of it when a caller's
   * outer transaction rolled back a key that was handed out or derived).
   */
  #syncChain(chain: WalletChain): void {
    const r = this.#stmt(
      'SELECT COALESCE(MAX(idx) + 1, 0) AS derived, COALESCE(MAX(CASE WHEN issued = 1 OR used = 1 THEN idx END) + 1, 0) AS next FROM wallet_key WHERE chain = ?',
    ).get(chain) as { derived: number; next: number };
    this.#derived[chain] = r.derived;
    this.#next[chain] = r.next;
  }

  /** Hands out the next key of `chain` (recorded at once) and returns its P2WPKH scriptPubKey. */
  #issue(chain: WalletChain): Uint8Array {
    return this.#atomically(() => {
      this.#syncChain(chain);
      const index = this.#next[chain];
      this.#topUp(chain);
      const row = this.#stmt('SELECT script FROM wallet_key WHERE chain = ? AND idx = ?').get(chain, index) as { script: string };
      this.#stmt('UPDATE wallet_key SET issued = 1 WHERE chain = ? AND idx = ?').run(chain, index);
      this.#next[chain] = index + 1;
      this.#topUp(chain);
      return fromHex(row.script);
    });
  }

  /** A fresh receive address (bech32, the wallet's network), recorded as handed out: fund the wallet here. */
  newAddress(): string {
    return this.addressOf(this.#issue(0));
  }

  /** A fresh change-chain scriptPubKey (hex), recorded at once, so an output of a sweep paying to it is found. */
  nextChangeScript(): string {
    return toHex(this.#issue(1));
  }

  /** The address of a scriptPubKey on the wallet's network. */
  addressOf(script: Uint8Array): string {
    return btcAddress.toBech32(script.subarray(2), 0, HRP[this.network]);
  }

  /** The path of one of our scripts (hex), or undefined. */
  pathOf(scriptHex: string): WalletKeyPath | undefined {
    return this.#scripts.get(scriptHex);
  }

  /** The last block handled (undefined before the first). */
  tip(): { readonly height: number; readonly hash?: string } | undefined {
    return this.#tip;
  }

  // ---- leases -------------------------------------------------------------------------------------------------

  /**
   * Confirmed, mature UTXOs in selection order (select.ts): those leased to `leaseId` first, then the free ones
   * largest first, ties by outpoint, read from the (state, value_sat DESC, outpoint) index and only as far as
   * needed.
   */
  *#candidates(leaseId: string): Generator<{ outpoint: string; valueSat: bigint; script: string }> {
    const matureBelow = this.#tip === undefined ? -1 : this.#tip.height - COINBASE_MATURITY + 1;
    const order = 'ORDER BY value_sat DESC, outpoint';
    const mature = 'height IS NOT NULL AND (coinbase = 0 OR height <= ?)';
    const own = this.#stmt(`SELECT outpoint, value_sat, script FROM wallet_utxo WHERE state = ? AND lease_id = ? AND ${mature} ${order}`)
      .safeIntegers(true)
      .all(S.Leased, leaseId, matureBelow) as Array<{ outpoint: string; value_sat: bigint; script: string }>;
    for (const r of own) yield { outpoint: r.outpoint, valueSat: r.value_sat, script: r.script };
    const free = this.#stmt(`SELECT outpoint, value_sat, script FROM wallet_utxo WHERE state = ? AND ${mature} ${order}`)
      .safeIntegers(true)
      .iterate(S.Confirmed, matureBelow) as IterableIterator<{ outpoint: string; value_sat: bigint; script: string }>;
    for (const r of free) yield { outpoint: r.outpoint, valueSat: r.value_sat, script: r.script };
  }

  /**
   * Releases every unspent UTXO leased to `leaseId`. A leased UTXO whose block was disconnected is unconfirmed: it is
   * kept as unconfirmed if a recorded transaction of ours created it, else forgotten (found again if mined again).
   */
  #releaseRows(leaseId: string): number {
    let n = this.#stmt('UPDATE wallet_utxo SET state = ?, lease_id = NULL WHERE lease_id = ? AND state = ? AND height IS NOT NULL').run(S.Confirmed, leaseId, S.Leased).changes;
    const unconf = this.#stmt('SELECT outpoint FROM wallet_utxo WHERE lease_id = ? AND state = ? AND height IS NULL').all(leaseId, S.Leased) as Array<{ outpoint: string }>;
    for (const { outpoint } of unconf) {
      const txid = outpoint.slice(0, outpoint.indexOf(':'));
      const pending = this.#stmt('SELECT 1 FROM wallet_pending_tx WHERE txid = ? LIMIT 1').get(txid) !== undefined;
      if (pending) this.#stmt('UPDATE wallet_utxo SET state = ?, lease_id = NULL WHERE outpoint = ?').run(S.Unconfirmed, outpoint);
      // The key stays in the unspent index until a block or a restart: if a caller's outer transaction rolls this
      // back, the row must still be found when it is spent (a stale key is skipped by #spend).
      else this.#stmt('DELETE FROM wallet_utxo WHERE outpoint = ?').run(outpoint);
      n++;
    }
    return n;
  }

  /**
   * Leases confirmed UTXOs worth at least `targetSat` to `leaseId` (a sweep), replacing any lease it held, in one
   * transaction. Returns the leased UTXOs, or undefined (and changes nothing) when the wallet cannot cover it.
   */
  lease(leaseId: string, targetSat: bigint): LeasedUtxo[] | undefined {
    checkLeaseId(leaseId);
    if (typeof targetSat !== 'bigint' || targetSat <= 0n || targetSat > MAX_MONEY_SAT) badArg('targetSat must be a positive bigint amount', { leaseId });
    return this.#atomically(() => {
      // takeUntil stops the generator (and closes the index scan) as soon as the target is reached.
      const chosen = takeUntil(this.#candidates(leaseId), targetSat);
      if (chosen === undefined) {
        this.#logger.debug({ leaseId, targetSat: targetSat.toString() }, 'wallet: not enough confirmed funds for a lease');
        return undefined;
      }
      this.#releaseRows(leaseId);
      const take = this.#stmt('UPDATE wallet_utxo SET state = ?, lease_id = ? WHERE outpoint = ? AND state = ?');
      return chosen.map((c) => {
        if (take.run(S.Leased, leaseId, c.outpoint, S.Confirmed).changes !== 1) throw new Error(`wallet: ${c.outpoint} changed during a lease`);
        return { outpoint: c.outpoint, valueSat: c.valueSat, scriptPubKey: c.script };
      });
    });
  }

  /** Releases every UTXO leased to `leaseId` (sweep replaced, failed, or lost its inputs). Unknown ids are a no-op. */
  release(leaseId: string): void {
    checkLeaseId(leaseId);
    const n = this.#atomically(() => this.#releaseRows(leaseId));
    if (n > 0) this.#logger.debug({ leaseId, utxos: n }, 'wallet: lease released');
  }

  /** The unspent UTXOs leased to `leaseId`. */
  leased(leaseId: string): LeasedUtxo[] {
    checkLeaseId(leaseId);
    const rows = this.#stmt('SELECT outpoint, value_sat, script FROM wallet_utxo WHERE lease_id = ? AND state = ? ORDER BY value_sat DESC, outpoint')
      .safeIntegers(true)
      .all(leaseId, S.Leased) as Array<{ outpoint: string; value_sat: bigint; script: string }>;
    return rows.map((r) => ({ outpoint: r.outpoint, valueSat: r.value_sat, scriptPubKey: r.script }));
  }

  // ---- signing ------------------------------------------------------------------------------------------------

  /**
   * Signs the wallet inputs of a finished transaction (BIP143 P2WPKH, SIGHASH_ALL) and sets their witnesses. Every
   * input is checked first (ours, unspent, the outpoint, value and script the transaction and our record agree
   * on); on any mismatch it throws COURT_E_WALLET_* and neither records nor signs anything. The txid is recorded
   * with the lease in force before the Signer is asked.
   */
  async signWalletInputs(tx: Transaction, inputs: readonly { readonly index: number; readonly utxo: LeasedUtxo }[]): Promise<void> {
    if (!Array.isArray(inputs) || inputs.length === 0) badArg('inputs must be a non-empty array');
    const seen = new Set<number>();
    const checked = inputs.map(({ index, utxo }) => {
      if (!Number.isInteger(index) || index < 0 || index >= tx.ins.length || seen.has(index)) {
        throw new CourtError('COURT_E_WALLET_INPUT_MISMATCH', 'input index out of range or repeated', { index });
      }
      seen.add(index);
      const op = inputOutpoint(tx, index);
      const outpoint = `${op.txid}:${op.vout}`;
      if (typeof utxo?.outpoint !== 'string' || utxo.outpoint !== outpoint) {
        throw new CourtError('COURT_E_WALLET_INPUT_MISMATCH', 'the transaction input spends another outpoint than the UTXO given', { index, outpoint });
      }
      const row = this.#stmt('SELECT outpoint, value_sat, script, state, lease_id FROM wallet_utxo WHERE outpoint = ?')
        .safeIntegers(true)
        .get(outpoint) as Pick<UtxoRow, 'outpoint' | 'value_sat' | 'script' | 'state' | 'lease_id'> | undefined;
      if (row === undefined || Number(row.state) === S.Spent) {
        throw new CourtError('COURT_E_WALLET_NOT_OURS', 'the input is not an unspent UTXO of the wallet', { index, outpoint });
      }
      if (row.value_sat !== utxo.valueSat || row.script !== utxo.scriptPubKey) {
        throw new CourtError('COURT_E_WALLET_INPUT_MISMATCH', "the UTXO's value or script differs from the wallet's record", { index, outpoint });
      }
      const path = this.#scripts.get(row.script);
      if (path === undefined) throw new CourtError('COURT_E_WALLET_NOT_OURS', 'no key of the wallet pays to that script', { index, outpoint });
      const { pubkey } = this.#stmt('SELECT pubkey FROM wallet_key WHERE chain = ? AND idx = ?').get(path.chain, path.index) as { pubkey: string };
      return { index, outpoint, valueSat: row.value_sat, path, pubkey: fromHex(pubkey), leaseId: row.lease_id };
    });
    const txid = tx.getId();
    this.#db.transaction(() => {
      const rec = this.#stmt('INSERT OR IGNORE INTO wallet_signed (outpoint, txid, lease_id) VALUES (?, ?, ?)');
      for (const c of checked) rec.run(c.outpoint, txid, c.leaseId);
    })();
    const requests: InputSignRequest[] = checked.map((c) => ({
      key: { wallet: c.path },
      tx,
      inputIndex: c.index,
      scriptCode: p2wpkhScriptCode(hash160(c.pubkey)),
      valueSat: c.valueSat,
      sighashType: SIGHASH_ALL,
    }));
    const sigs = await this.#signer.signInputs(requests);
    if (tx.getId() !== txid) throw new CourtError('COURT_E_WALLET_INPUT_MISMATCH', 'the transaction changed while its inputs were being signed');
    checked.forEach((c, i) => tx.setWitness(c.index, [sigs[i] as Uint8Array, c.pubkey]));
  }

  /**
   * Records the outputs to our scripts of an unconfirmed transaction we published (a sweep's change) as unconfirmed
   * UTXOs: counted in the balance, never selected. A block confirming a conflicting spend of one of its inputs
   * drops them. A recorded transaction that spends an input this one spends was replaced by it (RBF: the node
   * accepted this one, so it evicted that one): its unconfirmed outputs are dropped at once, so the balance never
   * counts two versions of one sweep. Idempotent.
   */
  recordUnconfirmed(tx: Transaction): void {
    const txid = tx.getId();
    const ours = tx.outs.map((o, vout) => ({ vout, value: o.value, script: toHex(o.script) })).filter((o) => this.#scripts.has(o.script));
    const replaced = new Set<string>();
    for (let i = 0; i < tx.ins.length; i++) for (const p of this.#pending.get(inputKey(tx, i)) ?? []) if (p !== txid) replaced.add(p);
    if (ours.length === 0 && replaced.size === 0) return;
    this.#atomically(() => {
      if (replaced.size > 0) this.#settlePending(replaced, txid);
      if (ours.length === 0) return;
      for (let i = 0; i < tx.ins.length; i++) {
        const op = inputOutpoint(tx, i);
        this.#stmt('INSERT OR IGNORE INTO wallet_pending_tx (txid, spends) VALUES (?, ?)').run(txid, `${op.txid}:${op.vout}`);
        this.#addPending(inputKey(tx, i), txid);
      }
      for (const o of ours) {
        const outpoint = `${txid}:${o.vout}`;
        const r = this.#stmt('INSERT OR IGNORE INTO wallet_utxo (outpoint, value_sat, script, state) VALUES (?, ?, ?, ?)')
          .run(outpoint, o.value, o.script, S.Unconfirmed);
        if (r.changes === 1) this.#unspent.set(internalKey(outpoint), outpoint);
      }
    });
  }

  // ---- blocks -------------------------------------------------------------------------------------------------

  /** Applies one block event (idempotent). Throws only if the briefcase fails; the dispatcher then retries. */
  handleChainEvent(event: ChainEvent): void {
    // A block delivered during a rescan could spend a UTXO the rescan has not reached yet: refuse it, and the
    // dispatcher delivers it again after its back-off (it waits for us, in order).
    if (this.#rescanning) throw new CourtError('COURT_E_WALLET_RESCANNING', 'the wallet is rescanning; the block is retried');
    if (event.type === 'BlockConnected') this.#connect(event);
    else this.#disconnect(event);
  }

  #connect(ev: BlockConnected): void {
    const { block, height, hash } = ev;
    const alerts: WalletAlert[] = [];
    this.#atomically(() => {
      const upsert = this.#stmt(
        `INSERT INTO wallet_utxo (outpoint, value_sat, script, coinbase, state, height, block_hash) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (outpoint) DO UPDATE SET height = excluded.height, block_hash = excluded.block_hash,
           state = CASE WHEN state = ${S.Unconfirmed} THEN ${S.Confirmed} ELSE state END`,
      );
      block.txs.forEach((tx, t) => {
        const txid = block.txids[t] as string;
        if (t > 0) {
          for (let i = 0; i < tx.ins.length; i++) {
            const key = inputKey(tx, i);
            const pendingTxids = this.#pending.get(key);
            if (pendingTxids !== undefined) this.#settlePending(pendingTxids, txid);
            const outpoint = this.#unspent.get(key);
            if (outpoint !== undefined) {
              const alert = this.#spend(outpoint, txid, height, hash);
              if (alert !== undefined) alerts.push(alert);
              this.#unspent.delete(key);
            }
          }
        }
        tx.outs.forEach((out, vout) => {
          const script = toHex(out.script);
          const path = this.#scripts.get(script);
          // A zero-value output (consensus-valid, never standard) is nothing to spend: skipped, not a failed block.
          if (path === undefined || out.value <= 0n) return;
          const outpoint = `${txid}:${vout}`;
          upsert.run(outpoint, out.value, script, t === 0 ? 1 : 0, S.Confirmed, height, hash);
          const row = this.#stmt('SELECT state FROM wallet_utxo WHERE outpoint = ?').get(outpoint) as { state: number };
          if (row.state !== S.Spent) this.#unspent.set(internalKey(outpoint), outpoint);
          if (path.index >= this.#next[path.chain]) {
            this.#syncChain(path.chain);
            this.#stmt('UPDATE wallet_key SET used = 1 WHERE chain = ? AND idx = ?').run(path.chain, path.index);
            this.#next[path.chain] = Math.max(this.#next[path.chain], path.index + 1);
            this.#topUp(path.chain);
          } else {
            this.#stmt('UPDATE wallet_key SET used = 1 WHERE chain = ? AND idx = ? AND used = 0').run(path.chain, path.index);
          }
        });
      });
      const forgetBelow = height - SPENT_KEEP_DEPTH;
      this.#stmt('DELETE FROM wallet_signed WHERE outpoint IN (SELECT outpoint FROM wallet_utxo WHERE state = ? AND spent_height <= ?)').run(S.Spent, forgetBelow);
      this.#stmt('DELETE FROM wallet_utxo WHERE state = ? AND spent_height <= ?').run(S.Spent, forgetBelow);
      this.#stmt('INSERT INTO wallet_tip (id, height, hash) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET height = excluded.height, hash = excluded.hash').run(height, hash);
      this.#tip = { height, hash };
    });
    for (const a of alerts) this.#report(a);
  }

  /** A block input spends an outpoint that recorded unconfirmed transactions spend: confirmed, or conflicted. */
  #settlePending(txids: ReadonlySet<string>, spender: string): void {
    for (const p of [...txids]) {
      if (p !== spender) {
        // Conflicted: its unleased unconfirmed outputs can never confirm.
        const rows = this.#stmt("SELECT outpoint FROM wallet_utxo WHERE outpoint LIKE ? || ':%' AND state = ?").all(p, S.Unconfirmed) as Array<{ outpoint: string }>;
        for (const { outpoint } of rows) {
          this.#stmt('DELETE FROM wallet_utxo WHERE outpoint = ?').run(outpoint);
          this.#unspent.delete(internalKey(outpoint));
        }
      }
      const inputs = this.#stmt('SELECT spends FROM wallet_pending_tx WHERE txid = ?').all(p) as Array<{ spends: string }>;
      this.#stmt('DELETE FROM wallet_pending_tx WHERE txid = ?').run(p);
      for (const { spends } of inputs) {
        const k = internalKey(spends);
        const set = this.#pending.get(k);
        set?.delete(p);
        if (set !== undefined && set.size === 0) this.#pending.delete(k);
      }
    }
  }

  /** Marks `outpoint` spent by `txid`; returns the alert to report when the wallet did not sign that for its lease. */
  #spend(outpoint: string, txid: string, height: number, hash: string): WalletAlert | undefined {
    const row = this.#stmt('SELECT lease_id FROM wallet_utxo WHERE outpoint = ? AND state <> ?').get(outpoint, S.Spent) as { lease_id: string | null } | undefined;
    // A key left in the unspent index by a caller's rolled-back outer transaction: nothing to do.
    if (row === undefined) return undefined;
    this.#stmt('UPDATE wallet_utxo SET state = ?, spent_height = ?, spent_block = ?, spent_txid = ? WHERE outpoint = ?').run(S.Spent, height, hash, txid, outpoint);
    const signed = this.#stmt('SELECT lease_id FROM wallet_signed WHERE outpoint = ? AND txid = ?').get(outpoint, txid) as { lease_id: string | null } | undefined;
    let kind: WalletAlertCode | undefined;
    if (signed === undefined) kind = WALLET_ALERT.SpentByOther;
    else if (signed.lease_id !== null && signed.lease_id !== row.lease_id) kind = WALLET_ALERT.SpentByStaleSweep;
    if (kind === undefined) return undefined;
    const r = this.#stmt('INSERT OR IGNORE INTO wallet_alert (kind, outpoint, lease_id, txid, height, block_hash) VALUES (?, ?, ?, ?, ?, ?)')
      .run(kind, outpoint, row.lease_id, txid, height, hash);
    if (r.changes !== 1) return undefined;
    const leaseId = row.lease_id ?? undefined;
    return {
      id: Number(r.lastInsertRowid),
      kind: ALERT_NAME[kind] as WalletAlert['kind'],
      outpoint,
      ...(leaseId === undefined ? {} : { leaseId }),
      txid,
      height,
      blockHash: hash,
    };
  }

  #report(a: WalletAlert): void {
    const msg = a.kind === 'spentByOther' ? 'wallet: a UTXO was spent by a transaction the wallet never signed' : 'wallet: a UTXO was spent by a stale sweep';
    this.#logger.warn({ kind: a.kind, outpoint: a.outpoint, txid: a.txid, height: a.height, leaseId: a.leaseId }, msg);
    for (const l of this.#alertListeners) {
      try {
        l(a);
      } catch (err) {
        this.#logger.error({ message: (err as Error).message }, 'wallet: alert listener threw');
      }
    }
  }

  #disconnect(ev: BlockDisconnected): void {
    const { height } = ev;
    this.#atomically(() => {
      // Spends in the block are undone: leased again if a lease held it, else confirmed (or unconfirmed).
      const spent = this.#stmt('SELECT outpoint, lease_id, height FROM wallet_utxo WHERE state = ? AND spent_height = ?').all(S.Spent, height) as Array<{
        outpoint: string;
        lease_id: string | null;
        height: number | null;
      }>;
      for (const r of spent) {
        const state: WalletUtxoStateCode = r.lease_id !== null ? S.Leased : r.height !== null ? S.Confirmed : S.Unconfirmed;
        this.#stmt('UPDATE wallet_utxo SET state = ?, spent_height = NULL, spent_block = NULL, spent_txid = NULL WHERE outpoint = ?').run(state, r.outpoint);
        this.#unspent.set(internalKey(r.outpoint), r.outpoint);
      }
      // UTXOs the block created: a leased one stays leased, unconfirmed; the others are removed (found again if mined).
      const created = this.#stmt('SELECT outpoint, state FROM wallet_utxo WHERE height = ?').all(height) as Array<{ outpoint: string; state: number }>;
      for (const r of created) {
        if (r.state === S.Leased) {
          this.#stmt('UPDATE wallet_utxo SET height = NULL, block_hash = NULL WHERE outpoint = ?').run(r.outpoint);
        } else {
          this.#stmt('DELETE FROM wallet_utxo WHERE outpoint = ?').run(r.outpoint);
          this.#unspent.delete(internalKey(r.outpoint));
        }
      }
      this.#stmt('INSERT INTO wallet_tip (id, height, hash) VALUES (1, ?, NULL) ON CONFLICT (id) DO UPDATE SET height = excluded.height, hash = NULL').run(height - 1);
      this.#tip = { height: height - 1 };
    });
  }

  /**
   * Reads the blocks fromHeight..toHeight of the node's best chain through the wallet (the funds of a wallet
   * restored from its seed, or sent before courtd first started: the dispatcher starts at the node's tip). Stay at
   * or below the wallet's tip (the last block the dispatcher delivered), which goes on delivering (and reverting) the
   * blocks above: a block the dispatcher never delivered could not be undone by a reorg. While it runs, block events
   * are refused (COURT_E_WALLET_RESCANNING) and the dispatcher retries them after its back-off, so no block is handled
   * out of order. On a first start, `createChain({ startHeight })` is the simpler way. Idempotent. Returns the blocks
   * read.
   */
  async rescan(source: Pick<ChainSource, 'getBlockHash' | 'getBlock'>, fromHeight: number, toHeight: number): Promise<number> {
    if (!Number.isSafeInteger(fromHeight) || !Number.isSafeInteger(toHeight) || fromHeight < 0 || toHeight < fromHeight) {
      badArg('rescan needs 0 <= fromHeight <= toHeight');
    }
    if (this.#tip !== undefined && toHeight > this.#tip.height) badArg('a rescan may not go above the last block the dispatcher delivered', { toHeight, tip: this.#tip.height });
    if (this.#rescanning) badArg('a rescan is already running');
    this.#rescanning = true;
    const tipBefore = this.#tip;
    try {
      for (let h = fromHeight; h <= toHeight; h++) {
        const hash = await source.getBlockHash(h);
        const block = await source.getBlock(hash);
        this.#connect({ type: 'BlockConnected', height: h, hash, block });
      }
    } finally {
      this.#rescanning = false;
      // The tip stays the dispatcher's: a rescan below it does not move it back.
      if (tipBefore !== undefined && (this.#tip === undefined || tipBefore.height > this.#tip.height)) {
        this.#stmt('UPDATE wallet_tip SET height = ?, hash = ? WHERE id = 1').run(tipBefore.height, tipBefore.hash ?? null);
        this.#tip = tipBefore;
      }
    }
    this.#logger.info({ fromHeight, toHeight, utxos: this.#unspent.size }, 'wallet: rescan done');
    return toHeight - fromHeight + 1;
  }

  // ---- status -------------------------------------------------------------------------------------------------

  /** Sums of the unspent UTXOs, exact bigint sat; those a recorded unconfirmed transaction spends apart. */
  balance(): WalletBalance {
    const rows = this.#stmt(
      `SELECT state, (outpoint IN (SELECT spends FROM wallet_pending_tx)) AS mempool, SUM(value_sat) AS sum
       FROM wallet_utxo WHERE state <> ? GROUP BY state, mempool`,
    )
      .safeIntegers(true)
      .all(S.Spent) as Array<{ state: bigint; mempool: bigint; sum: bigint }>;
    const by = (s: number): bigint => rows.reduce((a, r) => (Number(r.state) === s && r.mempool === 0n ? a + r.sum : a), 0n);
    const confirmed = by(S.Confirmed);
    const unconfirmed = by(S.Unconfirmed);
    const leased = by(S.Leased);
    const spentInMempool = rows.reduce((a, r) => (r.mempool === 1n ? a + r.sum : a), 0n);
    return { confirmed, unconfirmed, leased, spentInMempool, total: confirmed + unconfirmed + leased };
  }

  /** Every unspent UTXO, largest first. */
  utxos(): WalletUtxo[] {
    const rows = this.#stmt('SELECT outpoint, value_sat, script, coinbase, state, height, lease_id FROM wallet_utxo WHERE state <> ? ORDER BY value_sat DESC, outpoint')
      .safeIntegers(true)
      .all(S.Spent) as UtxoRow[];
    return rows.map((r) => {
      const height = num(r.height);
      return {
        outpoint: r.outpoint,
        valueSat: r.value_sat,
        scriptPubKey: r.script,
        address: this.addressOf(fromHex(r.script)),
        path: this.#scripts.get(r.script) as WalletKeyPath,
        state: STATE_NAME[Number(r.state)] as WalletUtxoState,
        ...(height === undefined ? {} : { height }),
        ...(r.lease_id === null ? {} : { leaseId: r.lease_id }),
        coinbase: r.coinbase === 1n,
      };
    });
  }

  /**
   * The reserve for `anchorChannels` anchor channels: required = n * reserve per anchor, available = confirmed,
   * unleased, mature UTXOs. A shortfall is logged at warn when it first appears (and at info when it is covered).
   */
  reserveStatus(anchorChannels: number): ReserveStatus {
    if (!Number.isSafeInteger(anchorChannels) || anchorChannels < 0) badArg('anchorChannels must be a non-negative integer');
    const matureBelow = this.#tip === undefined ? -1 : this.#tip.height - COINBASE_MATURITY + 1;
    const row = this.#stmt('SELECT COALESCE(SUM(value_sat), 0) AS sum FROM wallet_utxo WHERE state = ? AND (coinbase = 0 OR height <= ?)')
      .safeIntegers(true)
      .get(S.Confirmed, matureBelow) as { sum: bigint };
    const required = this.#reservePerAnchor * BigInt(anchorChannels);
    const available = row.sum;
    const shortfall = required > available ? required - available : 0n;
    const status = shortfall > 0n ? 'shortfall' : 'ok';
    const fields = { anchorChannels, required: required.toString(), available: available.toString(), shortfall: shortfall.toString() };
    if (status === 'shortfall' && !this.#shortfallReported) {
      this.#shortfallReported = true;
      this.#logger.warn(fields, 'wallet: the anchor reserve is short: fund the wallet (courtd wallet newaddress)');
    } else if (status === 'ok' && this.#shortfallReported) {
      this.#shortfallReported = false;
      this.#logger.info(fields, 'wallet: the anchor reserve is covered again');
    }
    return { anchorChannels, required, available, shortfall, status };
  }

  /** Alerts with an id above `afterId` (default all), oldest first. */
  alerts(afterId = 0): WalletAlert[] {
    const rows = this.#stmt('SELECT id, kind, outpoint, lease_id, txid, height, block_hash FROM wallet_alert WHERE id > ? ORDER BY id')
      .all(afterId) as Array<{ id: number; kind: number; outpoint: string; lease_id: string | null; txid: string; height: number; block_hash: string }>;
    return rows.map((r) => ({
      id: r.id,
      kind: ALERT_NAME[r.kind] as WalletAlert['kind'],
      outpoint: r.outpoint,
      ...(r.lease_id === null ? {} : { leaseId: r.lease_id }),
      txid: r.txid,
      height: r.height,
      blockHash: r.block_hash,
    }));
  }

  /** Called with each new alert after its block is committed. */
  onAlert(listener: (a: WalletAlert) => void): void {
    this.#alertListeners.push(listener);
  }
}
