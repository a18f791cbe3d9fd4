/**
 * Deterministic keys for the channel simulator: each peer is a keyring (src/keys/keyring.ts, lnd's key families,
 * regtest coin type 1) seeded from a label, so a courtd started with the same 32-byte seed derives the same channel
 * keys from the key locators in the snapshot. The per-commitment seed (never given to courtd) hangs off the
 * revocation-root family.
 *
 * Test infrastructure: the private keys are plain fields here.
 */
import { derivePrivkey, perCommitmentPoint } from '../src/keys/derive.js';
import { KeyFamily, KeyRing, type KeyLocator } from '../src/keys/keyring.js';
import { secp } from '../src/keys/secp.js';
import { p2wpkh } from '../src/ln/scripts.js';
import { MAX_SHACHAIN_INDEX, secretFromSeed } from '../src/ln/shachain.js';
import { sha256 } from '../src/util/bytes.js';
import { CourtError } from '../src/util/errors.js';

/** The two peers the simulator plays. */
export type PartyName = 'alice' | 'bob';
export const PARTIES: readonly PartyName[] = Object.freeze(['alice', 'bob']);

/** The other peer. */
export function other(p: PartyName): PartyName {
  return p === 'alice' ? 'bob' : 'alice';
}

/** Throws COURT_E_SIMULATOR unless `p` names a peer. */
export function checkParty(p: unknown, what = 'party'): PartyName {
  if (p !== 'alice' && p !== 'bob') throw new CourtError('COURT_E_SIMULATOR', `${what} must be 'alice' or 'bob'`);
  return p;
}

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

/** The locators of a channel's five base keys (what the snapshot's `local.keyLocators` carries). */
export interface ChannelKeyLocators {
  readonly funding: KeyLocator;
  readonly revocationBase: KeyLocator;
  readonly htlcBase: KeyLocator;
  readonly paymentBase: KeyLocator;
  readonly delayBase: KeyLocator;
}

/** Regtest uses coin type 1 (m/1017'/1'/family'/0/index). */
export const SIM_COIN_TYPE = 1;

/** One peer's keys for one channel. */
export class PartyKeys {
  readonly name: PartyName;
  /** The 32-byte keyring seed (write it, hex, into courtd's seed file to let courtd sign for this peer). */
  readonly seed: Uint8Array;
  readonly ring: KeyRing;
  readonly locators: ChannelKeyLocators;
  readonly fundingSecret: Uint8Array;
  readonly revocationBaseSecret: Uint8Array;
  readonly htlcBaseSecret: Uint8Array;
  readonly paymentBaseSecret: Uint8Array;
  readonly delayBaseSecret: Uint8Array;
  readonly fundingPubkey: Uint8Array;
  readonly revocationBasepoint: Uint8Array;
  readonly htlcBasepoint: Uint8Array;
  readonly paymentBasepoint: Uint8Array;
  readonly delayedPaymentBasepoint: Uint8Array;
  readonly #perCommitmentSeed: Uint8Array;

  /**
   * Keys of peer `name` from the seed label `seedLabel`; `channelIndex` is the key index used in every family
   * (one index per channel, so several channels can share a peer seed).
   */
  constructor(name: PartyName, seedLabel: string, channelIndex = 0) {
    this.name = checkParty(name);
    if (typeof seedLabel !== 'string' || seedLabel.length === 0) {
      throw new CourtError('COURT_E_SIMULATOR', 'a peer seed label must be a non-empty string');
    }
    this.seed = sha256(utf8(`courtd-sim/seed/${seedLabel}`));
    this.ring = KeyRing.fromSeed(this.seed, SIM_COIN_TYPE);
    const loc = (family: number): KeyLocator => ({ family, index: channelIndex });
    this.locators = Object.freeze({
      funding: loc(KeyFamily.MultiSig),
      revocationBase: loc(KeyFamily.RevocationBase),
      htlcBase: loc(KeyFamily.HtlcBase),
      paymentBase: loc(KeyFamily.PaymentBase),
      delayBase: loc(KeyFamily.DelayBase),
    });
    this.fundingSecret = this.ring.privateKey(this.locators.funding);
    this.revocationBaseSecret = this.ring.privateKey(this.locators.revocationBase);
    this.htlcBaseSecret = this.ring.privateKey(this.locators.htlcBase);
    this.paymentBaseSecret = this.ring.privateKey(this.locators.paymentBase);
    this.delayBaseSecret = this.ring.privateKey(this.locators.delayBase);
    this.fundingPubkey = this.ring.publicKey(this.locators.funding);
    this.revocationBasepoint = this.ring.publicKey(this.locators.revocationBase);
    this.htlcBasepoint = this.ring.publicKey(this.locators.htlcBase);
    this.paymentBasepoint = this.ring.publicKey(this.locators.paymentBase);
    this.delayedPaymentBasepoint = this.ring.publicKey(this.locators.delayBase);
    this.#perCommitmentSeed = sha256(utf8('courtd-sim/per-commitment seed'), this.ring.privateKey(loc(KeyFamily.RevocationRoot)));
  }

  /** The per-commitment secret of this peer's commitment number `n` (shachain index 2^48-1-n). */
  perCommitmentSecret(n: number): Uint8Array {
    return secretFromSeed(this.#perCommitmentSeed, shachainIndex(n));
  }

  /** The per-commitment point of this peer's commitment number `n`. */
  perCommitmentPoint(n: number): Uint8Array {
    return perCommitmentPoint(this.perCommitmentSecret(n));
  }

  /** delayedprivkey / htlcprivkey for a per-commitment point. */
  delayedPrivkey(point: Uint8Array): Uint8Array {
    return derivePrivkey(this.delayBaseSecret, point, this.delayedPaymentBasepoint);
  }
  htlcPrivkey(point: Uint8Array): Uint8Array {
    return derivePrivkey(this.htlcBaseSecret, point, this.htlcBasepoint);
  }

  toJSON(): string {
    return `[PartyKeys ${this.name}]`;
  }
}

/** The shachain index of commitment number `n`. */
export function shachainIndex(n: number): number {
  if (!Number.isSafeInteger(n) || n < 0 || n > MAX_SHACHAIN_INDEX) {
    throw new CourtError('COURT_E_COMMITMENT_NUMBER', 'commitment number outside 0 .. 2^48-1', { value: String(n) });
  }
  return MAX_SHACHAIN_INDEX - n;
}

/** A P2WPKH wallet key (for funding UTXOs, fee inputs, destinations). */
export interface WalletKey {
  readonly privkey: Uint8Array;
  readonly pubkey: Uint8Array;
  /** OP_0 <hash160(pubkey)>. */
  readonly scriptPubKey: Uint8Array;
}

/** A deterministic P2WPKH key named by `label` (the same label always gives the same key). */
export function walletKey(label: string): WalletKey {
  const privkey = sha256(utf8(`courtd-sim/wallet/${label}`));
  const pubkey = secp().pointFromScalar(privkey);
  return { privkey, pubkey, scriptPubKey: p2wpkh(pubkey) };
}

/** The key the 'wrong_key' fault signs with: valid, but no script on any channel names it. */
export const WRONG_KEY: Uint8Array = sha256(utf8('courtd-sim/wrong key'));
/** The preimage the 'wrong_preimage' fault puts in a witness: 32 bytes that hash to no payment hash. */
export const WRONG_PREIMAGE: Uint8Array = sha256(utf8('courtd-sim/wrong preimage'));
