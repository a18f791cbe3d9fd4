/**
 * BOLT #3 "Key Derivation" as seen from ln/. The arithmetic lives in keys/derive.ts because the Signer (keys/,
 * a lower layer) needs the same tweaks to sign; this module only re-exports it under the spec's names.
 */
export {
  derivePrivkey,
  derivePubkey,
  deriveRevocationPrivkey,
  deriveRevocationPubkey,
  perCommitmentPoint,
  singleTweak,
} from '../keys/derive.js';
