/**
 * A P2WPKH test key and signed spends of its coins, for the regtest suites that need plain transactions to feed
 * the node (fees, timelocks, RBF, reorgs) without a channel.
 */
import { Transaction } from 'bitcoinjs-lib';
import type { Utxo } from '../../regtest/chain.js';
import { p2wpkhScriptCode, segwitV0Sighash, SIGHASH_ALL } from '../../src/keys/sighash.js';
import { encodeSig } from '../../src/keys/signature.js';
import { secp } from '../../src/keys/secp.js';
import { p2wpkh } from '../../src/ln/scripts.js';
import { fromHex, hash160, reversed, sha256 } from '../../src/util/bytes.js';

export interface SpendOpts {
  readonly sequence?: number;
  readonly locktime?: number;
  /** Sign with another key (the witness still names the right one): the node must refuse the signature. */
  readonly badSig?: boolean;
}

/** A deterministic P2WPKH key and `spend(coins, fee)`: all of `coins` back to the same key, minus `fee`. */
export function p2wpkhSpender(label: string): {
  readonly script: Uint8Array;
  spend(coins: Utxo | readonly Utxo[], feeSat: bigint, opts?: SpendOpts): Transaction;
} {
  const key = sha256(new TextEncoder().encode(label));
  const pub = secp().pointFromScalar(key);
  const script = p2wpkh(pub);
  const spend = (coinOrCoins: Utxo | readonly Utxo[], feeSat: bigint, opts: SpendOpts = {}): Transaction => {
    const coins: readonly Utxo[] = Array.isArray(coinOrCoins) ? coinOrCoins : [coinOrCoins as Utxo];
    const tx = new Transaction();
    tx.version = 2;
    tx.locktime = opts.locktime ?? 0;
    for (const c of coins) tx.addInput(reversed(fromHex(c.txid)), c.vout, opts.sequence ?? 0xfffffffd);
    tx.addOutput(script, coins.reduce((a, c) => a + c.amountSat, 0n) - feeSat);
    const signer = opts.badSig === true ? sha256(key) : key;
    coins.forEach((c, i) => {
      const digest = segwitV0Sighash(tx, i, p2wpkhScriptCode(hash160(pub)), c.amountSat, SIGHASH_ALL);
      tx.setWitness(i, [encodeSig(secp().sign(digest, signer), SIGHASH_ALL), pub]);
    });
    return tx;
  };
  return { script, spend };
}
