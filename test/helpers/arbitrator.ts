/**
 * A ChainArbitrator for unit tests: alice's keys of a simulator channel, the given spend watches, and a broadcaster
 * that accepts every transaction and records its txid (or the `publish` given).
 */
import type { Transaction } from 'bitcoinjs-lib';
import type { ChannelSimulator } from '../../regtest/simulator.js';
import { SIM_COIN_TYPE } from '../../regtest/sim-keys.js';
import { ChainArbitrator } from '../../src/arbitrator/chain-arbitrator.js';
import type { PublishResult, SpendNotifier } from '../../src/chain/ports.js';
import { KeyRing } from '../../src/keys/keyring.js';
import { LocalSigner } from '../../src/keys/signer.js';
import type { Db } from '../../src/store/db.js';
import type { Logger } from '../../src/util/logger.js';

export interface TestArbitratorOptions {
  readonly watches: Pick<SpendNotifier, 'watchSpend'>;
  /** Close confirmation depth (min = max). */
  readonly closeDepth: number;
  readonly publish?: (tx: Transaction) => Promise<PublishResult>;
  readonly logger?: Logger;
}

export function aliceArbitrator(db: Db, sim: ChannelSimulator, o: TestArbitratorOptions): { arb: ChainArbitrator; published: string[] } {
  const ring = KeyRing.fromSeed(sim.parties.alice.seed, SIM_COIN_TYPE);
  const published: string[] = [];
  const arb = new ChainArbitrator({
    db,
    watches: o.watches,
    keyring: ring,
    signer: new LocalSigner(ring),
    broadcaster: {
      publish:
        o.publish ??
        (async (tx: Transaction): Promise<PublishResult> => {
          published.push(tx.getId());
          return { kind: 'accepted', txid: tx.getId() };
        }),
    },
    closeDepth: { min: o.closeDepth, max: o.closeDepth },
    ...(o.logger === undefined ? {} : { logger: o.logger }),
  });
  return { arb, published };
}
