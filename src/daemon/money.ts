/**
 * The money path's wiring, in ONE place: courtd's fee wallet (src/wallet), the sweeper (src/sweep) and the
 * resolver runner (src/resolvers). The daemon builds it after the chain layer and before the ChainArbitrator,
 * hands `resolvers` and `sweeper` (anchor CPFP of our published commitment) to the arbitrator, then calls
 * `attach` with the arbitrator and `subscribe` with the block dispatcher, so each block reaches, in order: the
 * chain watches and broadcaster (createChain), the arbitrator, the wallet, the sweeper (the wallet's new coins and
 * spent coins are known before the sweeper builds a transaction), then the resolvers (the sweeper's results of
 * this block are durable before a resolver steps on them).
 */
import type { ChainArbitrator } from '../arbitrator/chain-arbitrator.js';
import type { ResolverHost } from '../arbitrator/channel-effects.js';
import type { ResolverOutputSource } from '../api/views.js';
import type { Chain } from '../chain/index.js';
import type { KeyRing } from '../keys/keyring.js';
import type { Signer } from '../keys/signer.js';
import type { Db } from '../store/db.js';
import { ResolverRunner } from '../resolvers/runner.js';
import { Sweeper } from '../sweep/sweeper.js';
import type { Logger } from '../util/logger.js';
import { Wallet, type WalletNetwork } from '../wallet/wallet.js';

/** What the money path needs from the daemon. */
export interface MoneyDeps {
  readonly db: Db;
  readonly keyring: KeyRing;
  readonly signer: Signer;
  readonly chain: Chain;
  readonly network: WalletNetwork;
  /** The height blocks were processed to before start (the dispatcher's tip, else the node's). */
  readonly height: number;
  readonly logger: Logger;
  readonly reservePerAnchorSat?: bigint;
}

/** The wallet, the sweeper and the resolver host. */
export interface Money {
  readonly wallet: Wallet;
  readonly sweeper: Sweeper;
  /** What the ChainArbitrator launches a closed channel's resolvers through. */
  readonly resolvers: ResolverHost;
  readonly runner: ResolverRunner;
  /** The resolver runner's view of a channel's outputs, for the API and the metrics. */
  readonly resolverView: ResolverOutputSource;
  /** Connects the parts that need the arbitrator (the resolver runner reports ResolverFinished to it). */
  attach(arb: ChainArbitrator): void;
  /** Subscribes the wallet and the sweeper (and the resolver runner) to the block dispatcher, after the arbitrator. */
  subscribe(): void;
  /** Restart work: the sweeper watches its inputs again and republishes its live sweeps. */
  start(): Promise<void>;
  /** Lets the resolvers' queued work finish (after the chain layer and the arbitrator stopped). */
  stop(): Promise<void>;
}

/** Builds the money path. */
export function buildMoney(d: MoneyDeps): Money {
  const wallet = new Wallet({
    db: d.db,
    account: d.keyring.walletAccountPublic(),
    signer: d.signer,
    network: d.network,
    logger: d.logger,
    ...(d.reservePerAnchorSat === undefined ? {} : { reservePerAnchorSat: d.reservePerAnchorSat }),
  });
  const sweeper = new Sweeper({
    db: d.db,
    signer: d.signer,
    wallet,
    broadcaster: d.chain.broadcaster,
    watches: d.chain.watches,
    fees: d.chain.fees,
    height: d.height,
    logger: d.logger,
  });
  const runner = new ResolverRunner({
    db: d.db,
    sweeper,
    keyring: d.keyring,
    signer: d.signer,
    broadcaster: d.chain.broadcaster,
    watches: d.chain.watches,
    mempool: d.chain.mempool,
    fees: d.chain.fees,
    height: d.height,
    logger: d.logger,
  });
  const resolverView: ResolverOutputSource = (cp) => runner.view(cp);
  return {
    wallet,
    sweeper,
    resolvers: runner,
    runner,
    resolverView,
    attach(arb: ChainArbitrator): void {
      runner.attach(arb);
    },
    subscribe(): void {
      d.chain.dispatcher.subscribe(wallet.onChainEvent);
      d.chain.dispatcher.subscribe(sweeper.onChainEvent);
      d.chain.dispatcher.subscribe(runner.onChainEvent);
    },
    async start(): Promise<void> {
      await sweeper.start();
    },
    async stop(): Promise<void> {
      await runner.stop();
    },
  };
}
