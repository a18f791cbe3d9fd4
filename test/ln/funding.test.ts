/** BOLT #3 Appendix B: the funding transaction, rebuilt and signed byte for byte. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Transaction } from 'bitcoinjs-lib';
import { fundingOutput } from '../../src/ln/funding.js';
import { feeForWeight } from '../../src/ln/weights.js';
import { secp } from '../../src/keys/secp.js';
import { encodeSig } from '../../src/keys/signature.js';
import { SIGHASH_ALL } from '../../src/keys/sighash.js';
import { concat, fromHex, hash160, reversed, toHex } from '../../src/util/bytes.js';
import { CourtError } from '../../src/util/errors.js';
import { loadVector } from '../helpers/bolt3.js';

const f = loadVector('funding.json').cases[0];

describe('BOLT #3 Appendix B: funding transaction', () => {
  it('the funding witness script is the 2-of-2 of the sorted funding keys', () => {
    const out = fundingOutput(fromHex(f.remote_funding_pubkey), fromHex(f.local_funding_pubkey), BigInt(f.funding_satoshis));
    assert.equal(toHex(out.witnessScript), f.funding_witness_script);
  });

  it('rebuilds the funding transaction, fee from its weight, and signs it to the same bytes and txid', () => {
    const priv = fromHex(f.block1_coinbase_privkey);
    const pub = secp().pointFromScalar(priv);
    const coinbase = Transaction.fromHex(f.block1_coinbase_tx_hex);
    assert.equal(coinbase.getId(), f.input_txid);
    const prevScript = coinbase.outs[f.input_index]?.script as Uint8Array;
    const funding = fundingOutput(fromHex(f.local_funding_pubkey), fromHex(f.remote_funding_pubkey), BigInt(f.funding_satoshis));

    const build = (change: bigint): Transaction => {
      const tx = new Transaction();
      tx.version = 2;
      tx.addInput(reversed(fromHex(f.input_txid)), f.input_index, 0xffffffff);
      tx.addOutput(funding.scriptPubKey, funding.amountSat);
      tx.addOutput(concat(Uint8Array.of(0x00, 0x14), hash160(pub)), change);
      const digest = tx.hashForSignature(0, prevScript, SIGHASH_ALL);
      const sig = encodeSig(secp().sign(digest, priv), SIGHASH_ALL);
      tx.setInputScript(0, concat(Uint8Array.of(sig.length), sig, Uint8Array.of(pub.length), pub));
      return tx;
    };
    const input = BigInt(f.input_satoshis);
    // The fee is feerate x the weight of the signed transaction itself (928 here: a 72-byte signature).
    // Two change values are self-consistent (one gives a 71-byte signature), so check the document's one.
    const change = BigInt(f.change_satoshis);
    const tx = build(change);
    assert.equal(input - funding.amountSat - change, feeForWeight(f.feerate_per_kw, tx.weight()));
    assert.equal(tx.toHex(), f.funding_tx_hex);
    assert.equal(tx.getId(), f.funding_txid);
    assert.equal(tx.outs.findIndex((o) => toHex(o.script) === toHex(funding.scriptPubKey)), f.funding_output_index);
  });

  it('refuses invalid funding keys and amounts', () => {
    const a = fromHex(f.local_funding_pubkey);
    const isCode = (code: string) => (e: unknown) => e instanceof CourtError && e.code === code;
    assert.throws(() => fundingOutput(a, fromHex('02' + '00'.repeat(32)), 1000n), isCode('COURT_E_INVALID_PUBKEY'));
    assert.throws(() => fundingOutput(a, a, -1n), isCode('COURT_E_INVALID_AMOUNT'));
    assert.throws(() => fundingOutput(a, a, 0n), isCode('COURT_E_INVALID_AMOUNT'));
    assert.throws(() => fundingOutput(a, a, 21_000_000n * 100_000_000n + 1n), isCode('COURT_E_INVALID_AMOUNT'));
  });
});
