/**
 * Witness stacks for every spend path courtd builds (BOLT #3). Signatures are DER || sighash byte (see
 * signature.ts). The expected weight of each, for fee estimation, is in weights.ts WITNESS_WEIGHT.
 *
 * Who spends what:
 *  - our commitment: to_local after the CSV (delayed key), HTLC outputs by second-level transactions, our anchor;
 *  - their commitment: to_remote (P2WPKH, or P2WSH after 1 block on anchor channels), HTLC outputs directly
 *    (timeout after the CLTV for HTLCs we offered, preimage for HTLCs they offered), our anchor;
 *  - a revoked commitment: to_local, every HTLC output and every second-level output with the revocation key.
 */
import { equal, ripemd160, sha256 } from '../util/bytes.js';
import { CourtError } from '../util/errors.js';
import { witnessSize } from './weights.js';

const EMPTY = new Uint8Array(0);
const TRUE = Uint8Array.of(1);

function need(b: Uint8Array, len: number, what: string): Uint8Array {
  if (!(b instanceof Uint8Array) || b.length !== len) throw new CourtError('COURT_E_INVALID_ARGUMENT', `${what} must be ${len} bytes`);
  return b;
}

/** Refuses a preimage whose RIPEMD160(SHA256(.)) is not the one the HTLC script commits to. */
function checkPreimage(preimage: Uint8Array, script: Uint8Array): Uint8Array {
  need(preimage, 32, 'preimage');
  const h = ripemd160(sha256(preimage));
  // The script pushes the 20-byte hash right after OP_HASH160 (0xa9 0x14 <h>).
  for (let i = 0; i + 22 <= script.length; i++) {
    if (script[i] === 0xa9 && script[i + 1] === 0x14 && equal(script.subarray(i + 2, i + 22), h)) return preimage;
  }
  throw new CourtError('COURT_E_INVALID_ARGUMENT', 'preimage does not match the HTLC script');
}

/** Commitment input: 0 <sig for the first key> <sig for the second key> <2-of-2 script>. */
export function fundingWitness(
  fundingScript: Uint8Array,
  keyA: Uint8Array,
  sigA: Uint8Array,
  keyB: Uint8Array,
  sigB: Uint8Array,
): Uint8Array[] {
  const aFirst = Buffer.compare(keyA, keyB) <= 0;
  return aFirst ? [EMPTY, sigA, sigB, fundingScript] : [EMPTY, sigB, sigA, fundingScript];
}

/** to_local, or a second-level output, after its CSV: <local_delayedsig> <> <script>. Input nSequence = delay. */
export function toLocalDelayedWitness(sig: Uint8Array, script: Uint8Array): Uint8Array[] {
  return [sig, EMPTY, script];
}

/** to_local, or a second-level output, by revocation: <revocation_sig> 1 <script>. */
export function toLocalRevokedWitness(sig: Uint8Array, script: Uint8Array): Uint8Array[] {
  return [sig, TRUE, script];
}

/** to_remote on a static_remotekey commitment (P2WPKH): <sig> <payment_basepoint>. */
export function toRemoteP2wpkhWitness(sig: Uint8Array, pubkey: Uint8Array): Uint8Array[] {
  return [sig, need(pubkey, 33, 'pubkey')];
}

/** to_remote on an anchor commitment, input nSequence >= 1: <sig> <script>. */
export function toRemoteAnchorWitness(sig: Uint8Array, script: Uint8Array): Uint8Array[] {
  return [sig, script];
}

/** Anchor by its funding key (CPFP, any time): <sig> <script>. */
export function anchorByKeyWitness(sig: Uint8Array, script: Uint8Array): Uint8Array[] {
  return [sig, script];
}

/** Anchor by anyone once the commitment has 16 confirmations (input nSequence >= 16): <> <script>. */
export function anchorByAnyoneWitness(script: Uint8Array): Uint8Array[] {
  return [EMPTY, script];
}

/** HTLC-timeout (second level, our commitment): 0 <remotehtlcsig> <localhtlcsig> <> <offered script>. */
export function htlcTimeoutWitness(remoteSig: Uint8Array, localSig: Uint8Array, script: Uint8Array): Uint8Array[] {
  return [EMPTY, remoteSig, localSig, EMPTY, script];
}

/** HTLC-success (second level, our commitment): 0 <remotehtlcsig> <localhtlcsig> <preimage> <received script>. */
export function htlcSuccessWitness(
  remoteSig: Uint8Array,
  localSig: Uint8Array,
  preimage: Uint8Array,
  script: Uint8Array,
): Uint8Array[] {
  return [EMPTY, remoteSig, localSig, checkPreimage(preimage, script), script];
}

/**
 * Direct timeout claim, from their commitment, of an HTLC we offered (a received HTLC in their script):
 * <our htlc sig> <> <script>. Locktime = cltv_expiry, and the input's nSequence must not be final (0xffffffff
 * disables the locktime): 1 on anchor channels, below 0xffffffff otherwise.
 */
export function htlcTimeoutDirectWitness(sig: Uint8Array, script: Uint8Array): Uint8Array[] {
  return [sig, EMPTY, script];
}

/**
 * Direct preimage claim, from their commitment, of an HTLC they offered (an offered HTLC in their script):
 * <our htlc sig> <preimage> <script>. nSequence 1 on anchor channels.
 */
export function htlcSuccessDirectWitness(sig: Uint8Array, preimage: Uint8Array, script: Uint8Array): Uint8Array[] {
  return [sig, checkPreimage(preimage, script), script];
}

/** Revocation spend of an HTLC output of a revoked commitment: <revocation_sig> <revocationpubkey> <script>. */
export function htlcRevokedWitness(sig: Uint8Array, revocationPubkey: Uint8Array, script: Uint8Array): Uint8Array[] {
  return [sig, need(revocationPubkey, 33, 'revocation pubkey'), script];
}

/** Serialised witness size (what weights.ts WITNESS_WEIGHT estimates from above). */
export function witnessBytes(w: readonly Uint8Array[]): number {
  return witnessSize(...w.map((i) => i.length));
}
