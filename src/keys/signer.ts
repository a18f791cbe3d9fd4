/**
 * The Signer port: the only way anything in courtd obtains a signature. A key is named by its locator plus,
 * for BOLT #3 commitment keys, either a single tweak (SHA256(per_commitment_point || basepoint)) or the
 * revocation "double tweak" (the counterparty's revealed per-commitment secret); a key of the BIP84 fee wallet is
 * named by its wallet path ({ wallet: { chain, index } }). `signInputs` is the form a
 * remote signer prefers: it sees the transaction and the spent output and computes the digest itself.
 * The port is asynchronous and batched so that one round trip can carry a whole commitment's signatures.
 */
import { inspect } from 'node:util';
import type { Transaction } from 'bitcoinjs-lib';
import { checkSat } from '../util/amount.js';
import { CourtError } from '../util/errors.js';
import { segwitV0Sighash } from './sighash.js';
import { encodeSig } from './signature.js';
import { deriveRevocationPrivkey } from './derive.js';
import { checkLocator, checkWalletPath, type KeyLocator, type KeyRing, type WalletKeyPath } from './keyring.js';
import { scalarAdd, secp } from './secp.js';

/** Names the key to sign with. At most one of the tweaks may be present. */
export interface KeyDescriptor {
  readonly locator: KeyLocator;
  /** Sign with basepoint secret + tweak (BOLT #3 localprivkey/htlcprivkey/delayedprivkey). */
  readonly singleTweak?: Uint8Array;
  /** Sign with the revocation private key for this per-commitment secret (justice transactions). */
  readonly doubleTweak?: Uint8Array;
}

/** A key of courtd's BIP84 fee wallet (m/84'/coin'/0'/chain/index), untweaked. */
export interface WalletKeyDescriptor {
  readonly wallet: WalletKeyPath;
}

/** Any key the signer holds: an lnd-layout locator (optionally tweaked) or a wallet key. */
export type AnyKeyDescriptor = KeyDescriptor | WalletKeyDescriptor;

function isWalletKey(key: AnyKeyDescriptor): key is WalletKeyDescriptor {
  return typeof key === 'object' && key !== null && 'wallet' in key;
}

/** One digest to sign with one key. */
export interface SignRequest {
  readonly key: AnyKeyDescriptor;
  /** 32-byte sighash. */
  readonly digest: Uint8Array;
}

/** One segwit v0 input to sign: the signer computes the BIP143 digest itself from the transaction. */
export interface InputSignRequest {
  readonly key: AnyKeyDescriptor;
  readonly tx: Transaction;
  readonly inputIndex: number;
  /** Witness script of the spent P2WSH output (or the P2PKH-form script code of a P2WPKH output). */
  readonly scriptCode: Uint8Array;
  /** Value of the spent output. */
  readonly valueSat: bigint;
  readonly sighashType: number;
}

/** The port. Digest signatures are 64-byte compact (r || s), low-S, RFC6979. */
export interface Signer {
  /** The public key a descriptor signs for (tweaks applied). */
  publicKey(key: AnyKeyDescriptor): Promise<Uint8Array>;
  /** Signs every digest, in order. */
  signDigests(requests: readonly SignRequest[]): Promise<Uint8Array[]>;
  /** Signs transaction inputs, in order; returns witness-ready signatures (DER || sighash byte). */
  signInputs(requests: readonly InputSignRequest[]): Promise<Uint8Array[]>;
}

function check32(b: Uint8Array | undefined, what: string): void {
  if (b !== undefined && (!(b instanceof Uint8Array) || b.length !== 32)) {
    throw new CourtError('COURT_E_INVALID_ARGUMENT', `${what} must be 32 bytes`);
  }
}

/** The Signer over a local keyring. Its sync methods serve hot loops in the same process. */
export class LocalSigner implements Signer {
  readonly #ring: KeyRing;

  constructor(ring: KeyRing) {
    this.#ring = ring;
  }

  /** The private key of a descriptor. Stays inside this class. */
  #privateKey(key: AnyKeyDescriptor): Uint8Array {
    if (isWalletKey(key)) {
      if (Object.keys(key).length !== 1) throw new CourtError('COURT_E_INVALID_ARGUMENT', 'a wallet key takes no locator or tweak');
      return this.#ring.walletPrivateKey(checkWalletPath(key.wallet));
    }
    checkLocator(key.locator);
    check32(key.singleTweak, 'single tweak');
    check32(key.doubleTweak, 'double tweak');
    if (key.singleTweak !== undefined && key.doubleTweak !== undefined) {
      throw new CourtError('COURT_E_INVALID_ARGUMENT', 'a key descriptor takes a single tweak or a double tweak, not both');
    }
    const base = this.#ring.privateKey(key.locator);
    if (key.singleTweak !== undefined) return scalarAdd(base, key.singleTweak);
    if (key.doubleTweak !== undefined) return deriveRevocationPrivkey(base, key.doubleTweak);
    return base;
  }

  publicKeySync(key: AnyKeyDescriptor): Uint8Array {
    if (isWalletKey(key)) return this.#ring.walletPublicKey(checkWalletPath(key.wallet));
    if (key.singleTweak === undefined && key.doubleTweak === undefined) return this.#ring.publicKey(key.locator);
    return secp().pointFromScalar(this.#privateKey(key));
  }

  /** Signs in order; consecutive requests with the same descriptor reuse one derived key. */
  signDigestsSync(requests: readonly SignRequest[]): Uint8Array[] {
    const s = secp();
    const out: Uint8Array[] = [];
    let lastKey: AnyKeyDescriptor | undefined;
    let lastPriv: Uint8Array | undefined;
    for (const r of requests) {
      if (r.key !== lastKey || lastPriv === undefined) {
        lastPriv = this.#privateKey(r.key);
        lastKey = r.key;
      }
      if (!(r.digest instanceof Uint8Array) || r.digest.length !== 32) {
        throw new CourtError('COURT_E_INVALID_ARGUMENT', 'digest must be 32 bytes');
      }
      out.push(s.sign(r.digest, lastPriv));
    }
    return out;
  }

  /** Signs inputs: BIP143 digest, signature, DER encoding with the sighash byte. */
  signInputsSync(requests: readonly InputSignRequest[]): Uint8Array[] {
    const digests: SignRequest[] = requests.map((r) => {
      const validType = [1, 2, 3, 0x81, 0x82, 0x83].includes(r.sighashType);
      if (!validType) throw new CourtError('COURT_E_INVALID_ARGUMENT', 'unsupported sighash type', { sighashType: r.sighashType });
      if (!Number.isInteger(r.inputIndex) || r.inputIndex < 0 || r.inputIndex >= r.tx.ins.length) {
        throw new CourtError('COURT_E_INVALID_ARGUMENT', 'input index out of range', { inputIndex: r.inputIndex });
      }
      checkSat('valueSat', r.valueSat);
      return { key: r.key, digest: segwitV0Sighash(r.tx, r.inputIndex, r.scriptCode, r.valueSat, r.sighashType) };
    });
    return this.signDigestsSync(digests).map((sig, i) => encodeSig(sig, (requests[i] as InputSignRequest).sighashType));
  }

  publicKey(key: AnyKeyDescriptor): Promise<Uint8Array> {
    return Promise.resolve().then(() => this.publicKeySync(key));
  }

  signInputs(requests: readonly InputSignRequest[]): Promise<Uint8Array[]> {
    return Promise.resolve().then(() => this.signInputsSync(requests));
  }

  signDigests(requests: readonly SignRequest[]): Promise<Uint8Array[]> {
    return Promise.resolve().then(() => this.signDigestsSync(requests));
  }

  toJSON(): string {
    return '[LocalSigner redacted]';
  }

  [inspect.custom](): string {
    return '[LocalSigner redacted]';
  }
}
