/**
 * BOLT #3 key derivation ("Key Derivation"): per-commitment keys from basepoints and per-commitment points.
 *
 *   pubkey            = basepoint + SHA256(per_commitment_point || basepoint) * G
 *   privkey           = basepoint_secret + SHA256(per_commitment_point || basepoint)
 *   revocationpubkey  = revocation_basepoint * SHA256(revocation_basepoint || per_commitment_point)
 *                     + per_commitment_point * SHA256(per_commitment_point || revocation_basepoint)
 *   revocationprivkey = revocation_basepoint_secret * SHA256(revocation_basepoint || per_commitment_point)
 *                     + per_commitment_secret * SHA256(per_commitment_point || revocation_basepoint)
 *
 * Pure. Points are validated by the secp port, which throws COURT_E_INVALID_PUBKEY / COURT_E_INVALID_PRIVKEY.
 */
import { sha256 } from '../util/bytes.js';
import { scalarAdd, scalarMul, secp } from './secp.js';

/** per_commitment_point = per_commitment_secret * G. */
export function perCommitmentPoint(perCommitmentSecret: Uint8Array): Uint8Array {
  return secp().pointFromScalar(perCommitmentSecret);
}

/** The single tweak SHA256(per_commitment_point || basepoint) that turns a basepoint key into a commitment key. */
export function singleTweak(perCommitmentPoint: Uint8Array, basepoint: Uint8Array): Uint8Array {
  return sha256(perCommitmentPoint, basepoint);
}

/** localpubkey / htlcpubkey / delayedpubkey for one commitment. */
export function derivePubkey(basepoint: Uint8Array, perCommitmentPoint: Uint8Array): Uint8Array {
  return secp().pointAddScalar(basepoint, singleTweak(perCommitmentPoint, basepoint));
}

/** The private key matching derivePubkey, from the basepoint secret (and the basepoint, derived if omitted). */
export function derivePrivkey(
  basepointSecret: Uint8Array,
  perCommitmentPoint: Uint8Array,
  basepoint: Uint8Array = secp().pointFromScalar(basepointSecret),
): Uint8Array {
  return scalarAdd(basepointSecret, singleTweak(perCommitmentPoint, basepoint));
}

/** revocationpubkey for one commitment. */
export function deriveRevocationPubkey(revocationBasepoint: Uint8Array, perCommitmentPoint: Uint8Array): Uint8Array {
  const s = secp();
  const a = s.pointMultiply(revocationBasepoint, sha256(revocationBasepoint, perCommitmentPoint));
  const b = s.pointMultiply(perCommitmentPoint, sha256(perCommitmentPoint, revocationBasepoint));
  return s.pointAdd(a, b);
}

/**
 * revocationprivkey, known only once the counterparty revealed `perCommitmentSecret` (the "double tweak").
 * Basepoint and point are derived from the secrets when not supplied.
 */
export function deriveRevocationPrivkey(
  revocationBasepointSecret: Uint8Array,
  perCommitmentSecret: Uint8Array,
  revocationBasepoint: Uint8Array = secp().pointFromScalar(revocationBasepointSecret),
  point: Uint8Array = secp().pointFromScalar(perCommitmentSecret),
): Uint8Array {
  const a = scalarMul(revocationBasepointSecret, sha256(revocationBasepoint, point));
  const b = scalarMul(perCommitmentSecret, sha256(point, revocationBasepoint));
  return scalarAdd(a, b);
}
