/**
 * courtd with everything a close needs on the regtest node: the chain layer, the fee wallet, the sweeper, the
 * ChainArbitrator (CPFP offers through the sweeper) and the ResolverRunner, wired as the daemon would (block
 * subscribers: watches and broadcaster, wallet, arbitrator, sweeper, resolvers). Plus the money ledger of a
 * resolution computed from the node's blocks only.
 */
import { address as btcAddress, networks, Transaction } from 'bitcoinjs-lib';
import type { RegtestChain } from '../../regtest/chain.js';
import { SIM_COIN_TYPE } from '../../regtest/sim-keys.js';
import { ChainArbitrator } from '../../src/arbitrator/chain-arbitrator.js';
import { createChain, type Chain } from '../../src/chain/index.js';
import { KeyRing } from '../../src/keys/keyring.js';
import { LocalSigner } from '../../src/keys/signer.js';
import { ResolverRunner } from '../../src/resolvers/runner.js';
import { openDatabase, type Db } from '../../src/store/db.js';
import { migrate } from '../../src/store/migrate.js';
import { Sweeper } from '../../src/sweep/sweeper.js';
import { toHex } from '../../src/util/bytes.js';
import { Wallet } from '../../src/wallet/wallet.js';
import { eventually } from '../helpers/async.js';

export interface ResolverCourt {
  readonly db: Db;
  readonly chain: Chain;
  readonly wallet: Wallet;
  readonly sweeper: Sweeper;
  readonly arb: ChainArbitrator;
  readonly runner: ResolverRunner;
  stop(): Promise<void>;
}

const debug = process.env.RESOLVER_DEBUG
  ? {
      debug: () => undefined,
      info: (o: Record<string, unknown>, m: string) => process.stderr.write(`info ${m} ${JSON.stringify(o, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}\n`),
      warn: (o: Record<string, unknown>, m: string) => process.stderr.write(`warn ${m} ${JSON.stringify(o, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}\n`),
      error: (o: Record<string, unknown>, m: string) => process.stderr.write(`error ${m} ${JSON.stringify(o, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}\n`),
    }
  : undefined;

/** Starts courtd (alice's seed) on the briefcase at `dbPath`. `onCommit` sees every commit point (crash tests). */
export async function startResolverCourt(node: RegtestChain, seed: Uint8Array, dbPath: string, onCommit?: (point: string) => void): Promise<ResolverCourt> {
  const db = openDatabase(dbPath);
  migrate(db);
  const ring = KeyRing.fromSeed(seed, SIM_COIN_TYPE);
  const signer = new LocalSigner(ring);
  const e = node.endpoint;
  const chain = createChain({
    rpc: { host: `http://${e.host}:${e.port}`, username: e.username, password: e.password, timeoutMs: 5_000 },
    pollMs: 50,
    retry: { attempts: 2, baseDelayMs: 50, maxDelayMs: 200 },
    db,
    fees: { fallbackPerKw: 1000n, cacheMs: 0 },
    ...(debug === undefined ? {} : { logger: debug }),
  });
  const height = await node.height();
  const wallet = new Wallet({ db, account: ring.walletAccountPublic(), signer, network: 'regtest' });
  const sweeper = new Sweeper({
    db,
    signer,
    wallet,
    broadcaster: chain.broadcaster,
    watches: chain.watches,
    fees: chain.fees,
    height,
    ...(onCommit === undefined ? {} : { onCommit }),
    ...(debug === undefined ? {} : { logger: debug }),
  });
  const runner = new ResolverRunner({
    db,
    sweeper,
    keyring: ring,
    signer,
    broadcaster: chain.broadcaster,
    watches: chain.watches,
    mempool: chain.mempool,
    fees: chain.fees,
    height,
    retry: { baseMs: 50, maxMs: 500 },
    ...(onCommit === undefined ? {} : { onCommit }),
    ...(debug === undefined ? {} : { logger: debug }),
  });
  const arb = new ChainArbitrator({
    db,
    keyring: ring,
    signer,
    broadcaster: chain.broadcaster,
    watches: chain.watches,
    outputs: chain.source,
    resolvers: runner,
    sweeper,
    closeDepth: { min: 1, max: 1 },
    ...(onCommit === undefined ? {} : { onCommit: () => onCommit('arbitrator') }),
    ...(debug === undefined ? {} : { logger: debug }),
  });
  runner.attach(arb);
  chain.dispatcher.subscribe(wallet.onChainEvent);
  chain.dispatcher.subscribe(arb.onChainEvent);
  chain.dispatcher.subscribe(sweeper.onChainEvent);
  chain.dispatcher.subscribe(runner.onChainEvent);
  await sweeper.start();
  arb.start(height);
  await chain.start();
  return {
    db,
    chain,
    wallet,
    sweeper,
    arb,
    runner,
    async stop() {
      await chain.stop();
      await arb.stop();
      await runner.stop();
      db.close();
    },
  };
}

/** Pays `valueSat` to a fresh address of courtd's wallet in a mined block. */
export async function fundCourtWallet(node: RegtestChain, court: ResolverCourt, valueSat: bigint): Promise<void> {
  await node.fund(btcAddress.toOutputScript(court.wallet.newAddress(), networks.regtest), valueSat);
}

/** Waits until courtd has taken the node's tip (every subscriber) and its queues are idle; the sweeper runs again. */
export async function synced(node: RegtestChain, court: ResolverCourt): Promise<void> {
  const h = await node.height();
  await eventually(() => court.chain.dispatcher.tip()?.height === h && court.sweeper.height === h && court.runner.height === h, 20_000, `courtd at ${h}`);
  await court.arb.idle();
  await court.runner.idle();
  await court.sweeper.kick();
  await court.runner.idle();
}

/** The arbitrator state of a channel. */
export function stateOf(court: ResolverCourt, cp: string): string {
  const row = court.db.prepare<[string], { detail: string }>('SELECT detail FROM arbitrator_state WHERE chan_point = ?').get(cp);
  return row === undefined ? 'none' : (JSON.parse(row.detail) as { kind: string }).kind;
}

/** Mines one block at a time (running `each` at every height) until every channel in `cps` is FullyResolved. */
export async function mineUntilResolved(
  node: RegtestChain,
  court: ResolverCourt,
  cps: readonly string[],
  opts: { readonly max?: number; readonly each?: (height: number) => Promise<void> } = {},
): Promise<number> {
  for (let i = 0; i < (opts.max ?? 200); i++) {
    await synced(node, court);
    await opts.each?.(await node.height());
    await synced(node, court);
    if (cps.every((cp) => stateOf(court, cp) === 'FullyResolved')) return i;
    await node.mine(1);
  }
  const views = court.runner.view().filter((v) => cps.includes(v.chanPoint) && v.limboSat > 0n);
  throw new Error(`not resolved: ${cps.map((cp) => `${cp} ${stateOf(court, cp)}`).join(', ')}; ${JSON.stringify(views, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}`);
}

/** One output courtd was owed on the confirmed commitment. */
export interface Owed {
  readonly outpoint: string;
  readonly valueSat: bigint;
  /** The peer may rightly take it (an HTLC the peer settles with its preimage, or times out). */
  readonly peerMay?: boolean;
  /** Owed only if it pays for itself (an anchor on their commitment): left out when nobody of ours spent it. */
  readonly optional?: boolean;
}

export interface Ledger {
  readonly walletReceivedSat: bigint;
  readonly feesPaidSat: bigint;
  readonly peerTookSat: bigint;
  readonly owedSat: bigint;
  readonly limboSat: bigint;
  readonly lostSat: bigint;
  readonly balanced: boolean;
}

/**
 * The money ledger of a resolution from the node's view: every owed output followed through the confirmed blocks
 * from `fromHeight` to the tip. A transaction is ours if it pays courtd's wallet (its scripts) or if an output of
 * it is spent by a transaction of ours (a second-level transaction). wallet received = what our transactions paid
 * to the wallet less the wallet coins they spent; fees = inputs - outputs of our transactions (prevouts read from
 * the node); the peer took = owed outputs spent by other transactions. Balanced when wallet received + fees + peer
 * took = owed, nothing is left unspent (limbo) and the peer took only what it may.
 */
export async function ledger(node: RegtestChain, court: ResolverCourt, fromHeight: number, owed: readonly Owed[]): Promise<Ledger> {
  const walletScripts = new Set((court.db.prepare('SELECT script FROM wallet_key').all() as { script: string }[]).map((r) => r.script));
  const spentBy = new Map<string, Transaction>();
  const tip = await node.height();
  for (let h = fromHeight; h <= tip; h++) {
    const block = await court.chain.source.getBlock(await court.chain.source.getBlockHash(h));
    for (const tx of block.txs) for (const i of tx.ins) spentBy.set(`${toHex(Buffer.from(i.hash).reverse())}:${i.index}`, tx);
  }
  const prevValue = async (tx: Transaction, k: number): Promise<{ value: bigint; script: string }> => {
    const i = tx.ins[k] as Transaction['ins'][number];
    const prev = Transaction.fromHex(await node.call<string>('getrawtransaction', toHex(Buffer.from(i.hash).reverse()), false));
    const o = prev.outs[i.index] as Transaction['outs'][number];
    return { value: o.value, script: toHex(o.script) };
  };
  const paysWallet = (tx: Transaction): boolean => tx.outs.some((o) => walletScripts.has(toHex(o.script)));
  const ours = (tx: Transaction, depth = 0): boolean => {
    if (paysWallet(tx)) return true;
    if (depth > 2) return false;
    const id = tx.getId();
    return tx.outs.some((_, v) => {
      const s = spentBy.get(`${id}:${v}`);
      return s !== undefined && ours(s, depth + 1);
    });
  };
  const counted = new Set<string>();
  let walletReceived = 0n;
  let fees = 0n;
  let peerTook = 0n;
  let limbo = 0n;
  let lost = 0n;
  let owedSat = 0n;
  const follow = async (outpoint: string, value: bigint, o?: Owed): Promise<void> => {
    const tx = spentBy.get(outpoint);
    if (tx === undefined) {
      if (o?.optional !== true) limbo += value;
      return;
    }
    if (!ours(tx)) {
      if (o?.optional === true) return;
      peerTook += value;
      if (o?.peerMay !== true) lost += value;
      return;
    }
    const id = tx.getId();
    if (counted.has(id)) return;
    counted.add(id);
    let inSum = 0n;
    for (let k = 0; k < tx.ins.length; k++) {
      const p = await prevValue(tx, k);
      inSum += p.value;
      if (walletScripts.has(p.script)) walletReceived -= p.value;
    }
    const outSum = tx.outs.reduce((a, x) => a + x.value, 0n);
    fees += inSum - outSum;
    for (let v = 0; v < tx.outs.length; v++) {
      const out = tx.outs[v] as Transaction['outs'][number];
      if (walletScripts.has(toHex(out.script))) walletReceived += out.value;
      else await follow(`${id}:${v}`, out.value);
    }
  };
  for (const o of owed) {
    const tx = spentBy.get(o.outpoint);
    if (o.optional === true && (tx === undefined || !ours(tx))) continue;
    owedSat += o.valueSat;
    await follow(o.outpoint, o.valueSat, o);
  }
  const balanced = walletReceived + fees + peerTook === owedSat && limbo === 0n && lost === 0n;
  return { walletReceivedSat: walletReceived, feesPaidSat: fees, peerTookSat: peerTook, owedSat, limboSat: limbo, lostSat: lost, balanced };
}

/** The running total printed once by the resolver scenarios. */
export const LEDGER = { scenarios: 0, balanced: 0, lostSat: 0n };

export function record(l: Ledger): void {
  LEDGER.scenarios++;
  if (l.balanced) LEDGER.balanced++;
  LEDGER.lostSat += l.lostSat + l.limboSat;
}
