/**
 * Builds the API's dependencies from the daemon's parts (the daemon and the API tests use the same function, so
 * the tests exercise the production wiring).
 */
import type { Transaction } from 'bitcoinjs-lib';
import type { Logger as PinoLogger } from 'pino';
import { DEFAULT_DELTAS, type ChainDeltas } from '../arbitrator/actions.js';
import type { ChainArbitrator } from '../arbitrator/chain-arbitrator.js';
import { checkSnapshot, ourBasepointsFrom, parseSnapshot, type CheckedSnapshot } from '../arbitrator/snapshot.js';
import { currentSnapshot, knownPreimages } from '../arbitrator/store.js';
import type { KeyRing } from '../keys/keyring.js';
import { ARBITRATOR_STATE } from '../store/codes.js';
import type { Db } from '../store/db.js';
import type { TokenSource } from './auth.js';
import type { EventFeed } from './events.js';
import type { ApiDeps } from './server.js';
import type { ResolverOutputSource } from './views.js';

/** The daemon's parts the API needs. */
export interface ApiParts {
  readonly db: Db;
  readonly version: string;
  readonly network: string;
  readonly tokens: TokenSource;
  readonly logger: PinoLogger;
  readonly arbitrator: ChainArbitrator;
  readonly keyring: KeyRing;
  readonly events: EventFeed;
  readonly deltas?: ChainDeltas;
  /** Last block processed (hash) and the node's tip height, when known. */
  readonly chainInfo: () => { readonly height: number; readonly hash: string; readonly nodeHeight?: number };
  readonly publish?: (tx: Transaction, label: string) => Promise<boolean>;
  readonly sweeper?: ApiDeps['sweeper'];
  readonly wallet?: ApiDeps['wallet'];
  readonly rotateToken?: (scope: 'admin' | 'readonly') => string;
  readonly resolverView?: ResolverOutputSource;
  readonly rescanWallet?: (fromHeight: number, toHeight?: number) => Promise<number>;
  readonly onError?: (status: number) => void;
}

/** ApiDeps over the daemon's parts. */
export function apiDeps(p: ApiParts): ApiDeps {
  const db = p.db;
  return {
    db,
    version: p.version,
    network: p.network,
    tokens: p.tokens,
    logger: p.logger,
    arbitrator: p.arbitrator,
    deltas: p.deltas ?? DEFAULT_DELTAS,
    events: p.events,
    chainInfo: p.chainInfo,
    checked(chanPoint: string): CheckedSnapshot | undefined {
      const state = db.prepare<[string], { state: number }>('SELECT state FROM arbitrator_state WHERE chan_point = ?').get(chanPoint)?.state;
      if (state !== undefined && state !== ARBITRATOR_STATE.Default) return undefined;
      const cur = currentSnapshot(db, chanPoint);
      if (cur === undefined) return undefined;
      const snap = parseSnapshot(JSON.parse(cur.snapshot));
      return checkSnapshot(
        snap,
        ourBasepointsFrom(snap, (loc) => p.keyring.publicKey(loc)),
      );
    },
    knownPreimages: (hashes) => new Set(hashes.length === 0 ? [] : knownPreimages(db, [...new Set(hashes)])),
    ...(p.publish === undefined ? {} : { publish: p.publish }),
    ...(p.sweeper === undefined ? {} : { sweeper: p.sweeper }),
    ...(p.wallet === undefined ? {} : { wallet: p.wallet }),
    ...(p.rotateToken === undefined ? {} : { rotateToken: p.rotateToken }),
    ...(p.resolverView === undefined ? {} : { resolverView: p.resolverView }),
    ...(p.rescanWallet === undefined ? {} : { rescanWallet: p.rescanWallet }),
    ...(p.onError === undefined ? {} : { onError: p.onError }),
  };
}
