/**
 * Loads the BOLT #3 vectors (test/fixtures/bolt3, copied from ../shared/vectors/bolt3) and derives the
 * Appendix C channel's keys from its secrets, so the vector tests also exercise key derivation.
 */
import { readFileSync } from 'node:fs';
import { fromHex } from '../../src/util/bytes.js';
import { derivePrivkey, derivePubkey, deriveRevocationPubkey } from '../../src/keys/derive.js';
import type { CommitmentHtlc, CommitmentKeys } from '../../src/ln/commitment.js';
import { obscuringFactor } from '../../src/ln/statehint.js';
import { sha256 } from '../../src/util/bytes.js';

export function loadVector<T = any>(name: string): T {
  return JSON.parse(readFileSync(new URL(`../fixtures/bolt3/${name}`, import.meta.url), 'utf8')) as T;
}

export interface VectorHtlc {
  htlc_index: number;
  direction: 'remote->local' | 'local->remote';
  amount_msat: number;
  cltv_expiry: number;
  payment_preimage: string;
}

export const staticVectors = loadVector('commitment-static-remotekey.json');
export const anchorVectors = loadVector('commitment-anchors.json');
const common = staticVectors.common;
const derived = common.derivation_values_from_html_comment;

const pcp = fromHex(derived.local_per_commitment_point);
const localPaymentBasepoint = fromHex(common.local_payment_basepoint);
const remotePaymentBasepoint = fromHex(common.remote_payment_basepoint);

/** The Appendix C channel, with keys derived from the basepoints and the per-commitment point. */
export const channel = {
  fundingTxid: common.funding_tx_id as string,
  fundingVout: common.funding_output_index as number,
  fundingSat: BigInt(common.funding_amount_satoshi),
  commitmentNumber: common.commitment_number as number,
  toSelfDelay: common.local_delay as number,
  dustLimitSat: BigInt(common.local_dust_limit_satoshi),
  obscuringFactor: obscuringFactor(localPaymentBasepoint, remotePaymentBasepoint),
  localFundingPrivkey: fromHex(common.local_funding_privkey),
  remoteFundingPrivkey: fromHex(derived.remote_funding_privkey),
  /** local_htlc privkey (the htlc basepoint is the payment basepoint in the vectors). */
  localHtlcPrivkey: derivePrivkey(fromHex(derived.local_payment_basepoint_secret), pcp),
  remoteHtlcPrivkey: derivePrivkey(fromHex(derived.remote_payment_basepoint_secret), pcp),
  keys: {
    localFundingPubkey: fromHex(common.local_funding_pubkey),
    remoteFundingPubkey: fromHex(common.remote_funding_pubkey),
    revocationPubkey: deriveRevocationPubkey(fromHex(derived.remote_revocation_basepoint), pcp),
    localDelayedPubkey: derivePubkey(fromHex(derived.local_delayed_payment_basepoint), pcp),
    localHtlcPubkey: derivePubkey(fromHex(common.local_htlc_basepoint), pcp),
    remoteHtlcPubkey: derivePubkey(fromHex(common.remote_htlc_basepoint), pcp),
    remotePaymentPubkey: remotePaymentBasepoint,
  } satisfies CommitmentKeys,
};

export const vectorHtlcs: VectorHtlc[] = common.htlcs;

/** Converts a vector HTLC (the document's view: local holds the commitment) into a CommitmentHtlc. */
export function toCommitmentHtlc(h: VectorHtlc): CommitmentHtlc {
  return {
    direction: h.direction === 'local->remote' ? 'offered' : 'received',
    amountMsat: BigInt(h.amount_msat),
    paymentHash: sha256(fromHex(h.payment_preimage)),
    cltvExpiry: h.cltv_expiry,
  };
}

/** The HTLC set a case uses: none, the "same amount" trio (1, 5, 6), or the five standard ones (0-4). */
export function htlcsForCase(name: string, useHtlcs: boolean): VectorHtlc[] {
  if (!useHtlcs) return [];
  if (name.includes('same amount and preimage')) return vectorHtlcs.filter((h) => [1, 5, 6].includes(h.htlc_index));
  return vectorHtlcs.filter((h) => h.htlc_index <= 4);
}
