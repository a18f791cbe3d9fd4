/**
 * The keyring: every private key courtd holds, derived from one 32-byte seed with lnd's layout
 * m/1017'/coin_type'/key_family'/0/index, so the node and courtd can share a seed and name keys by locator, and
 * the keys of courtd's own fee wallet at BIP84's m/84'/coin_type'/0'/chain/index (src/wallet derives its addresses
 * from the account's public node, walletAccountPublic(), and has them signed through the Signer).
 *
 * The seed and private keys live in private fields; the keyring renders as "[KeyRing redacted]" in logs,
 * util.inspect and JSON, and no error it raises carries key material.
 */
import { inspect } from 'node:util';
import { CourtError } from '../util/errors.js';
import { derivePath, HARDENED, masterFromSeed, neuter, type HdNode, type HdPublicNode } from './bip32.js';
import { secp } from './secp.js';

/** lnd's key families (keychain.KeyFamily). */
export const KeyFamily = Object.freeze({
  MultiSig: 0,
  RevocationBase: 1,
  HtlcBase: 2,
  PaymentBase: 3,
  DelayBase: 4,
  RevocationRoot: 5,
  NodeKey: 6,
} as const);
export type KeyFamilyName = keyof typeof KeyFamily;

/** Names a key: its family and index within it. */
export interface KeyLocator {
  readonly family: number;
  readonly index: number;
}

/** The purpose field of lnd's derivation path. */
export const LND_PURPOSE = 1017;
/** BIP84's purpose field: courtd's own P2WPKH fee wallet at m/84'/coin'/0'/chain/index. */
export const BIP84_PURPOSE = 84;

/** The BIP84 chains: receive (external, 0) and change (internal, 1). */
export type WalletChain = 0 | 1;

/** Names a key of courtd's BIP84 wallet: m/84'/coin'/0'/chain/index. */
export interface WalletKeyPath {
  readonly chain: WalletChain;
  readonly index: number;
}

/** Throws COURT_E_INVALID_KEY_LOCATOR unless chain is 0 or 1 and index a non-hardened 31-bit integer. */
export function checkWalletPath(p: WalletKeyPath): WalletKeyPath {
  const okIndex = typeof p?.index === 'number' && Number.isInteger(p.index) && p.index >= 0 && p.index < HARDENED;
  if (typeof p !== 'object' || p === null || (p.chain !== 0 && p.chain !== 1) || !okIndex) {
    throw new CourtError('COURT_E_INVALID_KEY_LOCATOR', 'wallet key path needs chain 0 or 1 and an integer index in 0..2^31-1');
  }
  return p;
}
/** SLIP-44 coin types: 0 on mainnet, 1 on testnet, signet and regtest. */
export type CoinType = 0 | 1;

/** Throws COURT_E_INVALID_KEY_LOCATOR unless family and index are non-hardened 31-bit integers. */
export function checkLocator(loc: KeyLocator): KeyLocator {
  const ok = (n: unknown): boolean => typeof n === 'number' && Number.isInteger(n) && n >= 0 && n < HARDENED;
  if (typeof loc !== 'object' || loc === null || !ok(loc.family) || !ok(loc.index)) {
    throw new CourtError('COURT_E_INVALID_KEY_LOCATOR', 'key locator needs integer family and index in 0..2^31-1');
  }
  return loc;
}

/** The BIP32 path of a locator. */
export function locatorPath(coinType: CoinType, loc: KeyLocator): number[] {
  checkLocator(loc);
  return [LND_PURPOSE + HARDENED, coinType + HARDENED, loc.family + HARDENED, 0, loc.index];
}

export class KeyRing {
  readonly coinType: CoinType;
  readonly #master: HdNode;
  /** m/1017'/coin'/family'/0 per family: every index is then one normal derivation. */
  readonly #branches = new Map<number, HdNode>();
  readonly #cache = new Map<string, { readonly priv: Uint8Array; readonly pub: Uint8Array }>();
  /** m/84'/coin'/0'/chain per BIP84 chain. */
  readonly #walletChains = new Map<WalletChain, HdNode>();
  readonly #walletCache = new Map<string, { readonly priv: Uint8Array; readonly pub: Uint8Array }>();

  private constructor(master: HdNode, coinType: CoinType) {
    this.#master = master;
    this.coinType = coinType;
  }

  /** A keyring from a 32-byte seed. */
  static fromSeed(seed: Uint8Array, coinType: CoinType = 0): KeyRing {
    if (!(seed instanceof Uint8Array) || seed.length !== 32) throw new CourtError('COURT_E_INVALID_SEED', 'seed must be 32 bytes');
    if (coinType !== 0 && coinType !== 1) throw new CourtError('COURT_E_INVALID_ARGUMENT', 'coin type must be 0 or 1');
    return new KeyRing(masterFromSeed(seed), coinType);
  }

  #branch(family: number): HdNode {
    let b = this.#branches.get(family);
    if (b === undefined) {
      b = derivePath(this.#master, [LND_PURPOSE + HARDENED, this.coinType + HARDENED, family + HARDENED, 0]);
      this.#branches.set(family, b);
    }
    return b;
  }

  /** The key pair at a locator, derived once and cached. */
  #entry(loc: KeyLocator): { readonly priv: Uint8Array; readonly pub: Uint8Array } {
    checkLocator(loc);
    const id = `${loc.family}/${loc.index}`;
    let e = this.#cache.get(id);
    if (e === undefined) {
      const priv = derivePath(this.#branch(loc.family), [loc.index]).privateKey;
      e = { priv, pub: secp().pointFromScalar(priv) };
      this.#cache.set(id, e);
    }
    return e;
  }

  /** The private key at a locator (a copy). Only the Signer calls this; never log what it returns. */
  privateKey(loc: KeyLocator): Uint8Array {
    return this.#entry(loc).priv.slice();
  }

  /** The public key at a locator (a copy). */
  publicKey(loc: KeyLocator): Uint8Array {
    return this.#entry(loc).pub.slice();
  }

  /** m/84'/coin'/0' */
  #walletAccount(): HdNode {
    return derivePath(this.#master, [BIP84_PURPOSE + HARDENED, this.coinType + HARDENED, HARDENED]);
  }

  /**
   * The public node of the wallet's account m/84'/coin'/0' (what its xpub holds): the wallet derives its
   * addresses from it without any private key.
   */
  walletAccountPublic(): HdPublicNode {
    return neuter(this.#walletAccount());
  }

  #walletEntry(p: WalletKeyPath): { readonly priv: Uint8Array; readonly pub: Uint8Array } {
    checkWalletPath(p);
    const id = `${p.chain}/${p.index}`;
    let e = this.#walletCache.get(id);
    if (e === undefined) {
      let chain = this.#walletChains.get(p.chain);
      if (chain === undefined) {
        chain = derivePath(this.#walletAccount(), [p.chain]);
        this.#walletChains.set(p.chain, chain);
      }
      const priv = derivePath(chain, [p.index]).privateKey;
      e = { priv, pub: secp().pointFromScalar(priv) };
      this.#walletCache.set(id, e);
    }
    return e;
  }

  /** The private key of a wallet path (a copy). Only the Signer calls this; never log what it returns. */
  walletPrivateKey(p: WalletKeyPath): Uint8Array {
    return this.#walletEntry(p).priv.slice();
  }

  /** The public key of a wallet path (a copy). */
  walletPublicKey(p: WalletKeyPath): Uint8Array {
    return this.#walletEntry(p).pub.slice();
  }

  toJSON(): string {
    return '[KeyRing redacted]';
  }

  toString(): string {
    return '[KeyRing redacted]';
  }

  [inspect.custom](): string {
    return '[KeyRing redacted]';
  }
}
