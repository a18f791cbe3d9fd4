/**
 * Signing a sweep: one batched Signer.signInputs call for every swept input (SIGHASH_ALL, BIP143 over the witness
 * script, or the P2WPKH script code for a static to_remote), the witness of each kind from ln/witness.ts, then the
 * wallet signs its own coins (FeeWalletPort.signWalletInputs), so the sweeper never sees a wallet key.
 */
import type { Transaction } from 'bitcoinjs-lib';
import { p2wpkhScriptCode, SIGHASH_ALL } from '../keys/sighash.js';
import type { InputSignRequest, KeyDescriptor, Signer } from '../keys/signer.js';
import {
  anchorByKeyWitness,
  htlcRevokedWitness,
  htlcSuccessDirectWitness,
  htlcSuccessWitness,
  htlcTimeoutDirectWitness,
  htlcTimeoutWitness,
  toLocalDelayedWitness,
  toLocalRevokedWitness,
  toRemoteAnchorWitness,
  toRemoteP2wpkhWitness,
} from '../ln/witness.js';
import { fromHex, hash160 } from '../util/bytes.js';
import type { FeeWalletPort, KeySpec, LeasedUtxo, SweepInputSpec, WitnessSpec } from './types.js';

/** A KeySpec as the Signer takes it. */
export function keyDescriptor(k: KeySpec): KeyDescriptor {
  return {
    locator: k.locator,
    ...(k.singleTweak !== undefined ? { singleTweak: fromHex(k.singleTweak) } : {}),
    ...(k.doubleTweak !== undefined ? { doubleTweak: fromHex(k.doubleTweak) } : {}),
  };
}

function scriptCode(w: WitnessSpec): Uint8Array {
  return w.kind === 'toRemoteP2wpkh' ? p2wpkhScriptCode(hash160(fromHex(w.pubkey))) : fromHex(w.script);
}

/** The witness stack of one input from our signature. */
export function witnessFor(w: WitnessSpec, sig: Uint8Array): Uint8Array[] {
  switch (w.kind) {
    case 'toLocalDelayed':
      return toLocalDelayedWitness(sig, fromHex(w.script));
    case 'toLocalRevoked':
      return toLocalRevokedWitness(sig, fromHex(w.script));
    case 'toRemoteP2wpkh':
      return toRemoteP2wpkhWitness(sig, fromHex(w.pubkey));
    case 'toRemoteAnchor':
      return toRemoteAnchorWitness(sig, fromHex(w.script));
    case 'anchorByKey':
      return anchorByKeyWitness(sig, fromHex(w.script));
    case 'htlcTimeoutDirect':
      return htlcTimeoutDirectWitness(sig, fromHex(w.script));
    case 'htlcSuccessDirect':
      return htlcSuccessDirectWitness(sig, fromHex(w.preimage), fromHex(w.script));
    case 'htlcRevoked':
      return htlcRevokedWitness(sig, fromHex(w.revocationPubkey), fromHex(w.script));
    case 'htlcSecondLevel':
      return w.preimage !== undefined
        ? htlcSuccessWitness(fromHex(w.remoteSig), sig, fromHex(w.preimage), fromHex(w.script))
        : htlcTimeoutWitness(fromHex(w.remoteSig), sig, fromHex(w.script));
  }
}

/** The sign requests of the swept inputs (indexes 0 .. ordered.length - 1 of `tx`). */
export function signRequests(tx: Transaction, ordered: readonly SweepInputSpec[]): InputSignRequest[] {
  return ordered.map((s, inputIndex) => ({
    key: keyDescriptor(s.witness.key),
    tx,
    inputIndex,
    scriptCode: scriptCode(s.witness),
    valueSat: s.valueSat,
    sighashType: SIGHASH_ALL,
  }));
}

/** Signs every input of `tx`: the swept ones (first, in `ordered` order) with `signer`, the wallet's by the wallet. */
export async function signSweep(
  tx: Transaction,
  ordered: readonly SweepInputSpec[],
  walletCoins: readonly LeasedUtxo[],
  signer: Signer,
  wallet: Pick<FeeWalletPort, 'signWalletInputs'> | undefined,
): Promise<void> {
  const sigs = await signer.signInputs(signRequests(tx, ordered));
  ordered.forEach((s, i) => tx.setWitness(i, witnessFor(s.witness, sigs[i] as Uint8Array)));
  if (walletCoins.length > 0) {
    if (wallet === undefined) throw new Error('wallet coins without a wallet');
    await wallet.signWalletInputs(
      tx,
      walletCoins.map((utxo, k) => ({ index: ordered.length + k, utxo })),
    );
  }
}
