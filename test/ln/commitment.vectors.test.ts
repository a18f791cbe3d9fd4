/**
 * BOLT #3 Appendix C (static_remotekey) and Appendix F (anchors): every commitment and every HTLC transaction
 * rebuilt byte for byte, with both parties' signatures.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildCommitment, type CommitmentFormat, type CommitmentSpec } from '../../src/ln/commitment.js';
import { buildHtlcTxs, commitmentSighash, htlcTxSighash } from '../../src/ln/htlc.js';
import { secp } from '../../src/keys/secp.js';
import { encodeSig, derToCompact } from '../../src/keys/signature.js';
import { SIGHASH_ALL } from '../../src/keys/sighash.js';
import { fundingWitness, htlcSuccessWitness, htlcTimeoutWitness } from '../../src/ln/witness.js';
import { fromHex, toHex } from '../../src/util/bytes.js';
import { anchorVectors, channel, htlcsForCase, staticVectors, toCommitmentHtlc, type VectorHtlc } from '../helpers/bolt3.js';
import { CourtError } from '../../src/util/errors.js';

/** DER without sighash byte, as the vectors print signatures. */
function derNoType(compact: Uint8Array): string {
  return toHex(encodeSig(compact, SIGHASH_ALL).slice(0, -1));
}

function specFor(format: CommitmentFormat, c: any, htlcs: VectorHtlc[]): CommitmentSpec {
  return {
    format,
    fundingTxid: channel.fundingTxid,
    fundingVout: channel.fundingVout,
    fundingSat: channel.fundingSat,
    commitmentNumber: channel.commitmentNumber,
    obscuringFactor: channel.obscuringFactor,
    holderIsFunder: true,
    toLocalMsat: BigInt(c.to_local_msat),
    toRemoteMsat: BigInt(c.to_remote_msat),
    feeratePerKw: c.local_feerate_per_kw,
    dustLimitSat: BigInt(c.local_dust_limit_satoshi ?? staticVectors.common.local_dust_limit_satoshi),
    toSelfDelay: channel.toSelfDelay,
    keys: channel.keys,
    htlcs: htlcs.map(toCommitmentHtlc),
    funderShortfall: c.name.includes('fee greater than funder amount') ? 'allow' : 'reject',
  };
}

interface Checked {
  commitments: number;
  htlcTxs: number;
}

function runCase(format: CommitmentFormat, c: any, useHtlcs: boolean, counts: Checked): void {
  const htlcs = htlcsForCase(c.name, useHtlcs);
  const spec = specFor(format, c, htlcs);
  const commit = buildCommitment(spec);
  const s = secp();

  if (c.base_commitment_fee_sat !== undefined) assert.equal(commit.baseFeeSat, BigInt(c.base_commitment_fee_sat), 'base fee');
  if (c.actual_commitment_fee_sat !== undefined) assert.equal(commit.feeSat, BigInt(c.actual_commitment_fee_sat), 'actual fee');

  const digest = commitmentSighash(commit);
  const localSig = s.sign(digest, channel.localFundingPrivkey);
  const remoteSig = s.sign(digest, channel.remoteFundingPrivkey);
  assert.equal(derNoType(remoteSig), c.remote_signature, 'remote commitment signature');
  if (c.local_signature !== undefined) assert.equal(derNoType(localSig), c.local_signature, 'local commitment signature');
  assert.ok(s.verify(digest, channel.keys.remoteFundingPubkey, derToCompact(fromHex(c.remote_signature))));

  const tx = commit.tx.clone();
  tx.setWitness(
    0,
    fundingWitness(
      commit.fundingScript,
      channel.keys.localFundingPubkey,
      encodeSig(localSig, SIGHASH_ALL),
      channel.keys.remoteFundingPubkey,
      encodeSig(remoteSig, SIGHASH_ALL),
    ),
  );
  assert.equal(tx.toHex(), c.commit_tx_hex, 'commitment tx hex');
  counts.commitments++;

  const htlcTxs = buildHtlcTxs(commit);
  assert.equal(htlcTxs.length, c.num_htlcs, 'number of HTLC transactions');
  assert.equal(c.htlc_txs.length, c.num_htlcs);
  htlcTxs.forEach((h, i) => {
    const want = c.htlc_txs[i];
    if (want.commit_output_index !== undefined) assert.equal(h.output.index, want.commit_output_index);
    if (want.type !== undefined) assert.equal(`htlc-${h.kind}`, want.type);
    const rSig = s.sign(htlcTxSighash(h, h.remoteSighashType), channel.remoteHtlcPrivkey);
    const lSig = s.sign(htlcTxSighash(h, SIGHASH_ALL), channel.localHtlcPrivkey);
    assert.equal(derNoType(rSig), want.remote_htlc_signature, `remote htlc signature #${i}`);
    if (want.local_htlc_signature !== undefined) assert.equal(derNoType(lSig), want.local_htlc_signature, `local htlc signature #${i}`);
    const rDer = encodeSig(rSig, h.remoteSighashType);
    const lDer = encodeSig(lSig, SIGHASH_ALL);
    const t = h.tx.clone();
    if (h.kind === 'timeout') {
      t.setWitness(0, htlcTimeoutWitness(rDer, lDer, h.inputScript));
    } else {
      const htlc = htlcs[h.output.htlcIndex as number] as VectorHtlc;
      t.setWitness(0, htlcSuccessWitness(rDer, lDer, fromHex(htlc.payment_preimage), h.inputScript));
    }
    assert.equal(t.toHex(), want.tx_hex, `HTLC tx #${i} hex`);
    counts.htlcTxs++;
  });
}

describe('BOLT #3 Appendix C: static_remotekey commitments', () => {
  const counts: Checked = { commitments: 0, htlcTxs: 0 };
  for (const c of staticVectors.cases) {
    it(c.name, () => runCase('static_remotekey', c, !c.name.startsWith('simple commitment tx with no HTLCs'), counts));
  }
  it('covers all 16 commitments and 33 HTLC transactions', () => {
    assert.equal(counts.commitments, 16);
    assert.equal(counts.htlcTxs, 33);
  });
  it('refuses the "fee greater than funder amount" feerate unless told to build it as the spec does', () => {
    const c = staticVectors.cases.find((x: any) => x.name.includes('fee greater than funder amount'));
    const spec = { ...specFor('static_remotekey', c, htlcsForCase(c.name, true)), funderShortfall: undefined };
    assert.throws(() => buildCommitment(spec), (e: unknown) => e instanceof CourtError && e.code === 'COURT_E_FUNDER_CANNOT_PAY');
  });
});

describe('BOLT #3 Appendix F: anchor commitments (zero-fee HTLC)', () => {
  const counts: Checked = { commitments: 0, htlcTxs: 0 };
  for (const c of anchorVectors.cases) {
    it(c.name, () => runCase('anchors', c, c.use_test_htlcs, counts));
  }
  it('covers all 9 commitments and 15 HTLC transactions', () => {
    assert.equal(counts.commitments, 9);
    assert.equal(counts.htlcTxs, 15);
  });
});
