/**
 * A courtd arbitrator on the real regtest chain: the chain layer polling the node, a ChainArbitrator on a SQLite
 * briefcase file with alice's seed, and helpers to open simulator channels funded on chain. Shared by the
 * arbitrator scenarios.
 */
import { coopCloseTx as mutualClose } from '../../regtest/spends.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transaction } from 'bitcoinjs-lib';
import type { RegtestChain } from '../../regtest/chain.js';
import { walletKey } from '../../regtest/sim-keys.js';
import { ChannelSimulator } from '../../regtest/simulator.js';
import type { CommitmentFormat } from '../../src/ln/commitment.js';
import { ChainArbitrator } from '../../src/arbitrator/chain-arbitrator.js';
import { createChain, type Chain } from '../../src/chain/index.js';
import { KeyRing } from '../../src/keys/keyring.js';
import { LocalSigner } from '../../src/keys/signer.js';
import { openDatabase, type Db } from '../../src/store/db.js';
import { migrate } from '../../src/store/migrate.js';
import { SIM_COIN_TYPE } from '../../regtest/sim-keys.js';
import { eventually } from '../helpers/async.js';

export const CAPACITY_SAT = 1_000_000n;

/** A courtd instance (chain layer + arbitrator) for one peer seed. */
export interface Court {
  readonly db: Db;
  readonly chain: Chain;
  readonly arb: ChainArbitrator;
  stop(): Promise<void>;
}

/** Starts the chain layer and an arbitrator that signs with `seed`, on the briefcase at `dbPath`. */
export async function startCourt(node: RegtestChain, seed: Uint8Array, dbPath: string): Promise<Court> {
  const db = openDatabase(dbPath);
  migrate(db);
  const e = node.endpoint;
  const chain = createChain({
    rpc: { host: `http://${e.host}:${e.port}`, username: e.username, password: e.password, timeoutMs: 5_000 },
    pollMs: 50,
    retry: { attempts: 2, baseDelayMs: 50, maxDelayMs: 200 },
    db,
  });
  const ring = KeyRing.fromSeed(seed, SIM_COIN_TYPE);
  const arb = new ChainArbitrator({
    db,
    keyring: ring,
    signer: new LocalSigner(ring),
    broadcaster: chain.broadcaster,
    watches: chain.watches,
    outputs: chain.source,
    closeDepth: { min: 1, max: 1 },
  });
  // createChain subscribed the watches and the broadcaster already: the arbitrator sees a block's spends first.
  chain.dispatcher.subscribe(arb.onChainEvent);
  arb.start(await node.height());
  await chain.start();
  return {
    db,
    chain,
    arb,
    async stop() {
      await chain.stop();
      await arb.stop();
      db.close();
    },
  };
}

/** A temp directory removed by the returned function. */
export function tempDir(label: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `courtd-${label}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

let channelCount = 0;

/**
 * A channel alice funds on the node (1,000,000 sat, 300,000 sat pushed to bob), its funding confirmed. `dustLimitSat`
 * overrides the 546 sat dust limits (each side's applies to its own commitment).
 */
export async function openOnChain(
  node: RegtestChain,
  format: CommitmentFormat,
  opts: { readonly dustLimitSat?: { readonly alice: bigint; readonly bob: bigint }; readonly pushMsat?: bigint } = {},
): Promise<ChannelSimulator> {
  const funder = walletKey(`arbitrator funder ${format} ${channelCount++}`);
  const u = await node.fund(funder.scriptPubKey, 2n * CAPACITY_SAT, { confirm: false });
  const sim = ChannelSimulator.open({
    format,
    funder: 'alice',
    capacitySat: CAPACITY_SAT,
    pushMsat: opts.pushMsat ?? 300_000_000n,
    toSelfDelay: { alice: 10, bob: 12 },
    dustLimitSat: opts.dustLimitSat ?? { alice: 546n, bob: 546n },
    feeratePerKw: 2_500,
    funding: { utxo: { txid: u.txid, vout: u.vout, amountSat: u.amountSat, privkey: funder.privkey }, satPerVb: 1 },
  });
  await node.send(sim.fundingTx.toHex());
  await node.mine(1);
  return sim;
}

/**
 * A mutual close of `sim` paying each side its balance (minus a fee from alice), both signatures; `shiftSat` moves
 * that much of alice's balance to bob (a close that shortchanges alice).
 */
export function coopCloseTx(sim: ChannelSimulator, feeSat = 1_000n, shiftSat = 0n): Transaction {
  return mutualClose(sim, { feeSat, shiftSat });
}

/** Waits until the arbitrator of `chanPoint` is in `kind`. */
export async function untilState(court: Court, chanPoint: string, kind: string, ms = 20_000): Promise<void> {
  let last = '';
  await eventually(
    () => {
      const row = court.db.prepare<[string], { detail: string }>('SELECT detail FROM arbitrator_state WHERE chan_point = ?').get(chanPoint);
      last = row === undefined ? 'none' : (JSON.parse(row.detail) as { kind: string }).kind;
      return last === kind;
    },
    ms,
    () => `${chanPoint} in ${kind} (last ${last})`,
  );
}

/** The node events courtd wrote for `chanPoint`, in order. */
export function nodeEvents(court: Court, cp: string): Array<{ kind: number; payload: Record<string, unknown> }> {
  return court.db
    .prepare<[string], { kind: number; payload: string }>('SELECT kind, payload FROM node_event WHERE chan_point = ? ORDER BY id')
    .all(cp)
    .map((r) => ({ kind: r.kind, payload: JSON.parse(r.payload) }));
}
