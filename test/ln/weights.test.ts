/** Weights, fees and trimming against BOLT #3 "Fees" and Appendix A. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isHtlcTrimmed } from '../../src/ln/commitment.js';
import { anchorScript, MAX_CLTV_EXPIRY, htlcScriptKeys, offeredHtlcScript, receivedHtlcScript, toRemoteAnchorScript } from '../../src/ln/scripts.js';
import {
  ANCHOR_OUTPUT_SAT,
  commitmentBaseWeight,
  commitmentFee,
  COMMITMENT_WEIGHT_PER_HTLC,
  htlcSuccessFee,
  htlcSuccessWeight,
  htlcTimeoutFee,
  htlcTimeoutWeight,
  WITNESS_WEIGHT,
} from '../../src/ln/weights.js';
import { channel } from '../helpers/bolt3.js';
import { loadVector } from '../helpers/bolt3.js';

const w = loadVector('weights.json');
const fact = (id: string): any => {
  const f = w.facts.find((x: any) => x.id === id);
  assert.ok(f, id);
  return f.value;
};

describe('BOLT #3 weights and fees', () => {
  it('commitment and HTLC transaction weights', () => {
    assert.deepEqual({ base: commitmentBaseWeight('static_remotekey'), per_untrimmed_htlc: COMMITMENT_WEIGHT_PER_HTLC }, fact('commitment_weight_no_anchors'));
    assert.deepEqual({ base: commitmentBaseWeight('anchors'), per_untrimmed_htlc: COMMITMENT_WEIGHT_PER_HTLC }, fact('commitment_weight_anchors'));
    assert.equal(htlcTimeoutWeight('static_remotekey'), fact('htlc_timeout_weight_no_anchors'));
    assert.equal(htlcTimeoutWeight('anchors'), fact('htlc_timeout_weight_anchors'));
    assert.equal(htlcSuccessWeight('static_remotekey'), fact('htlc_success_weight_no_anchors'));
    assert.equal(htlcSuccessWeight('anchors'), fact('htlc_success_weight_anchors'));
    assert.equal(ANCHOR_OUTPUT_SAT, BigInt(fact('anchor_output_amount')));
    assert.equal(htlcTimeoutFee('anchors', 100_000), 0n);
    assert.equal(htlcSuccessFee('anchors', 100_000), 0n);
  });

  it('Appendix A witness weights: funding 222, HTLC-timeout 285/288, HTLC-success 324/327', () => {
    const k = htlcScriptKeys(channel.keys.revocationPubkey, channel.keys.localHtlcPubkey, channel.keys.remoteHtlcPubkey);
    const hash = new Uint8Array(32);
    // Appendix A counts the largest CLTV push (4 bytes); heights below 2^23 push 3 and weigh one less.
    assert.equal(WITNESS_WEIGHT.funding(), fact('a_funding_witness'));
    const offered = fact('a_offered_htlc_script');
    const accepted = fact('a_accepted_htlc_script');
    assert.equal(offeredHtlcScript(k, hash, false).length, offered.no_anchors);
    assert.equal(offeredHtlcScript(k, hash, true).length, offered.anchors);
    assert.equal(receivedHtlcScript(k, hash, MAX_CLTV_EXPIRY, false).length, accepted.no_anchors);
    assert.equal(receivedHtlcScript(k, hash, MAX_CLTV_EXPIRY, true).length, accepted.anchors);
    const tw = fact('a_timeout_witness');
    const sw = fact('a_success_witness');
    assert.equal(WITNESS_WEIGHT.htlcTimeoutSecondLevel(offered.no_anchors), tw.no_anchors);
    assert.equal(WITNESS_WEIGHT.htlcTimeoutSecondLevel(offered.anchors), tw.anchors);
    assert.equal(WITNESS_WEIGHT.htlcSuccessSecondLevel(accepted.no_anchors), sw.no_anchors);
    assert.equal(WITNESS_WEIGHT.htlcSuccessSecondLevel(accepted.anchors), sw.anchors);
    assert.equal(toRemoteAnchorScript(channel.keys.remotePaymentPubkey).length + 1, WITNESS_WEIGHT.toRemoteAnchor() - 1 - 74);
    assert.equal(anchorScript(channel.keys.localFundingPubkey).length + 1, WITNESS_WEIGHT.anchorByAnyone() - 2);
  });

  it('the "Fees" worked example: trimming and base/actual fee', () => {
    const ex = w.fee_example;
    const dust = BigInt(ex.dust_limit_satoshis);
    const f = ex.feerate_per_kw;
    assert.equal(htlcTimeoutFee('static_remotekey', f), BigInt(ex.htlc_timeout_fee_sat));
    assert.equal(htlcSuccessFee('static_remotekey', f), BigInt(ex.htlc_success_fee_sat));
    const offered = ex.offered_htlcs_msat.map((m: number) => isHtlcTrimmed('static_remotekey', f, dust, 'offered', BigInt(m)));
    const received = ex.received_htlcs_msat.map((m: number) => isHtlcTrimmed('static_remotekey', f, dust, 'received', BigInt(m)));
    assert.deepEqual(offered, [false, true]);
    assert.deepEqual(received, [false, true]);
    const base = commitmentFee('static_remotekey', f, 2);
    assert.equal(base, BigInt(ex.base_commitment_fee_sat));
    assert.equal(base + 1000n + 800n, BigInt(ex.actual_commitment_fee_sat));
  });

  it('an HTLC exactly at dust limit + second-level fee is kept, one satoshi less is trimmed', () => {
    const fee = htlcTimeoutFee('static_remotekey', 253);
    const edge = (546n + fee) * 1000n;
    assert.equal(isHtlcTrimmed('static_remotekey', 253, 546n, 'offered', edge), false);
    assert.equal(isHtlcTrimmed('static_remotekey', 253, 546n, 'offered', edge - 1n), true);
    assert.equal(isHtlcTrimmed('anchors', 253, 546n, 'received', 546_000n), false);
    assert.equal(isHtlcTrimmed('anchors', 253, 546n, 'received', 545_999n), true);
  });
});
