/** A courtd chain layer and sweeper on a regtest node, and real P2WSH to_local outputs to sweep. */
import { address as btcAddress, networks, Transaction } from 'bitcoinjs-lib';
import { createChain, type Chain } from '../../src/chain/index.js';
import { p2wsh, toLocalScript } from '../../src/ln/scripts.js';
import { openDatabase, type Db } from '../../src/store/db.js';
import { migrate } from '../../src/store/migrate.js';
import { Sweeper } from '../../src/sweep/sweeper.js';
import type { SweepInputSpec } from '../../src/sweep/types.js';
import type { KeyRing } from '../../src/keys/keyring.js';
import { LocalSigner, type Signer } from '../../src/keys/signer.js';
import { Wallet } from '../../src/wallet/wallet.js';
import { toHex } from '../../src/util/bytes.js';
import type { RegtestChain } from '../../regtest/chain.js';
import { RING } from '../sweep/helpers.js';

const debugLogger = {
  debug: () => undefined,
  info: (o: Record<string, unknown>, m: string) => process.stderr.write(`info ${m} ${JSON.stringify(o, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}\n`),
  warn: (o: Record<string, unknown>, m: string) => process.stderr.write(`warn ${m} ${JSON.stringify(o, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}\n`),
  error: (o: Record<string, unknown>, m: string) => process.stderr.write(`error ${m} ${JSON.stringify(o, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}\n`),
};

export interface SweepCourt {
  readonly db: Db;
  readonly chain: Chain;
  readonly sweeper: Sweeper;
  /** courtd's real fee wallet (src/wallet): fee coins, change and every sweep's output. */
  readonly wallet: Wallet;
  /** Outpoints the test paid to the wallet (the node-side ledger adds every sweep output paying the wallet). */
  readonly funded: Set<string>;
  stop(): Promise<void>;
}

/**
 * courtd's chain layer, fee wallet and sweeper over one briefcase, as the daemon wires them: the wallet
 * subscribed before the sweeper, the wallet's keys from `ring` and its inputs signed by `signer` (the same ring).
 */
export async function startSweepCourt(node: RegtestChain, dbPath: string, ring: KeyRing = RING, signer: Signer = new LocalSigner(ring)): Promise<SweepCourt> {
  const db = openDatabase(dbPath);
  migrate(db);
  const wallet = new Wallet({ db, account: ring.walletAccountPublic(), signer, network: 'regtest' });
  const e = node.endpoint;
  const chain = createChain({
    rpc: { host: `http://${e.host}:${e.port}`, username: e.username, password: e.password, timeoutMs: 5_000 },
    pollMs: 50,
    retry: { attempts: 2, baseDelayMs: 50, maxDelayMs: 200 },
    db,
    fees: { fallbackPerKw: 1000n, cacheMs: 0 },
    ...(process.env.SWEEP_DEBUG ? { logger: debugLogger } : {}),
  });
  const sweeper = new Sweeper({
    db,
    signer,
    wallet,
    broadcaster: chain.broadcaster,
    watches: chain.watches,
    fees: chain.fees,
    height: await node.height(),
    ...(process.env.SWEEP_DEBUG ? { logger: debugLogger } : {}),
  });
  chain.dispatcher.subscribe(wallet.onChainEvent);
  chain.dispatcher.subscribe(sweeper.onChainEvent);
  await sweeper.start();
  await chain.start();
  return {
    db,
    chain,
    sweeper,
    wallet,
    funded: new Set(),
    async stop() {
      await chain.stop();
      db.close();
    },
  };
}

let nextIndex = 1;
export const CSV = 2;

/** Funds `n` to_local-style outputs (CSV 2, real keys of RING) in one block; returns their specs. */
export async function fundToLocal(node: RegtestChain, n: number, valueSat: bigint, over: (i: number) => Partial<SweepInputSpec> = () => ({})): Promise<SweepInputSpec[]> {
  const made: { script: Uint8Array; locator: { family: number; index: number }; txid: string; vout: number }[] = [];
  for (let k = 0; k < n; k++) {
    const index = nextIndex++;
    const locator = { family: 4, index };
    const script = toLocalScript(RING.publicKey({ family: 1, index }), CSV, RING.publicKey(locator));
    const u = await node.fund(p2wsh(script), valueSat, { confirm: false });
    made.push({ script, locator, txid: u.txid, vout: u.vout });
  }
  await node.mine(1);
  const h = await node.height();
  return made.map((m, i) => ({
    outpoint: `${m.txid}:${m.vout}`,
    valueSat,
    scriptPubKey: toHex(p2wsh(m.script)),
    witness: { kind: 'toLocalDelayed' as const, key: { locator: m.locator }, script: toHex(m.script) },
    sequence: CSV,
    matureHeight: h + CSV,
    budgetSat: 5_000n,
    pinnable: false,
    owner: `resolver:test-${i}`,
    ...over(i),
  }));
}

/** fee = inputs - outputs, with every input value read from the node. */
export async function nodeFee(node: RegtestChain, txid: string): Promise<bigint> {
  const tx = Transaction.fromHex(await node.call<string>('getrawtransaction', txid, false));
  let sum = 0n;
  for (const i of tx.ins) {
    const prev = Transaction.fromHex(await node.call<string>('getrawtransaction', Buffer.from(i.hash).reverse().toString('hex'), false));
    sum += (prev.outs[i.index] as { value: bigint }).value;
  }
  return sum - tx.outs.reduce((s, o) => s + o.value, 0n);
}

/** The sweep_tx row of a txid. */
export function sweepRow(db: Db, txid: string): { fee_sat: number; feerate: number; status: number; inputs: string; set_id: number } | undefined {
  return db.prepare('SELECT fee_sat, feerate, status, inputs, set_id FROM sweep_tx WHERE txid = ?').get(txid) as never;
}

/** Live txids of open sets. */
export function liveTxids(db: Db): string[] {
  return (db.prepare('SELECT txid FROM sweep_tx WHERE status = 0 ORDER BY txid').all() as { txid: string }[]).map((r) => r.txid);
}

/** Pays `valueSat` to a fresh address of courtd's wallet in a mined block; returns the outpoint. */
export async function fundWallet(node: RegtestChain, court: SweepCourt, valueSat: bigint): Promise<string> {
  const script = btcAddress.toOutputScript(court.wallet.newAddress(), networks.regtest);
  const u = await node.fund(script, valueSat);
  const op = `${u.txid}:${u.vout}`;
  court.funded.add(op);
  return op;
}

/**
 * The money check of every sweeper scenario, from the node's view: every output that ever paid the wallet (the
 * test's fundings and each recorded sweep's outputs to a wallet script) looked up in the chain's UTXO set with
 * gettxout; they must sum to the wallet's confirmed + leased + spent-in-mempool balance, and the wallet's UTXO list
 * to its total + spent in the mempool.
 */
export async function assertWalletMatchesNode(node: RegtestChain, court: SweepCourt): Promise<void> {
  const scripts = new Set((court.db.prepare('SELECT script FROM wallet_key').all() as { script: string }[]).map((r) => r.script));
  const candidates = new Set(court.funded);
  for (const r of court.db.prepare('SELECT txid, hex FROM sweep_tx').all() as { txid: string; hex: string }[]) {
    Transaction.fromHex(r.hex).outs.forEach((o, vout) => {
      if (scripts.has(toHex(o.script))) candidates.add(`${r.txid}:${vout}`);
    });
  }
  let confirmed = 0n;
  for (const op of candidates) {
    const [txid, vout] = op.split(':') as [string, string];
    // include_mempool false: the chain's UTXO set, whatever the mempool spends
    const out = await node.call<{ value: number; confirmations: number } | null>('gettxout', txid, Number(vout), false);
    if (out !== null) confirmed += BigInt(Math.round(out.value * 1e8));
  }
  const b = court.wallet.balance();
  const list = court.wallet.utxos().reduce((a, u) => a + u.valueSat, 0n);
  if (list !== b.total + b.spentInMempool) throw new Error(`wallet UTXO list ${list} != balance total ${b.total} + spent in the mempool ${b.spentInMempool}`);
  const onChain = b.confirmed + b.leased + b.spentInMempool;
  if (onChain !== confirmed) throw new Error(`wallet confirmed+leased+spentInMempool ${onChain} != node confirmed ${confirmed}`);
}
