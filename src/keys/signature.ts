/**
 * Signatures as they appear in witnesses: DER plus one sighash byte. The secp port works with 64-byte compact
 * signatures; these helpers convert at the edge, through bitcoinjs-lib's BIP66 encoder.
 */
import { script } from 'bitcoinjs-lib';
import { CourtError } from '../util/errors.js';

/** Compact (r || s) plus sighash type -> DER || sighash byte. */
export function encodeSig(compact: Uint8Array, hashType: number): Uint8Array {
  return script.signature.encode(compact, hashType);
}

/** DER || sighash byte -> compact and sighash type; COURT_E_INVALID_SIGNATURE if it is not strict DER. */
export function decodeSig(der: Uint8Array): { compact: Uint8Array; hashType: number } {
  try {
    const d = script.signature.decode(der);
    return { compact: d.signature, hashType: d.hashType };
  } catch {
    throw new CourtError('COURT_E_INVALID_SIGNATURE', 'signature is not strict DER with a sighash byte');
  }
}

/** A DER signature without its sighash byte (the form BOLT messages and the spec vectors use) -> compact. */
export function derToCompact(derNoHashType: Uint8Array): Uint8Array {
  return decodeSig(Uint8Array.from([...derNoHashType, 0x01])).compact;
}
