/** Commitment construction beyond the vectors: output metadata, script templates, and refusal of bad input. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildCommitment, type CommitmentHtlc, type CommitmentSpec } from '../../src/ln/commitment.js';
import { buildHtlcTx, buildHtlcTxs } from '../../src/ln/htlc.js';
import { fromHex, sha256, toHex } from '../../src/util/bytes.js';
import { CourtError } from '../../src/util/errors.js';
import { channel, htlcsForCase, staticVectors, toCommitmentHtlc } from '../helpers/bolt3.js';

const isCode = (code: string) => (e: unknown) => e instanceof CourtError && e.code === code;

function baseSpec(over: Partial<CommitmentSpec> = {}): CommitmentSpec {
  return {
    format: 'anchors',
    fundingTxid: channel.fundingTxid,
    fundingVout: 0,
    fundingSat: channel.fundingSat,
    commitmentNumber: 42,
    obscuringFactor: channel.obscuringFactor,
    holderIsFunder: true,
    toLocalMsat: 7_000_000_000n,
    toRemoteMsat: 3_000_000_000n,
    feeratePerKw: 253,
    dustLimitSat: 546n,
    toSelfDelay: 144,
    keys: channel.keys,
    htlcs: [],
    ...over,
  };
}

function htlc(i: number, direction: 'offered' | 'received', amountMsat: bigint): CommitmentHtlc {
  return { direction, amountMsat, paymentHash: sha256(Uint8Array.of(i & 0xff, i >> 8)), cltvExpiry: 800_000 + (i % 50) };
}

/** n HTLCs of 10k sat per direction, balances adjusted so the channel adds up. */
function withHtlcs(offered: number, received: number): CommitmentSpec {
  const htlcs: CommitmentHtlc[] = [];
  for (let i = 0; i < offered; i++) htlcs.push(htlc(i, 'offered', 10_000_000n));
  for (let i = 0; i < received; i++) htlcs.push(htlc(1000 + i, 'received', 10_000_000n));
  const inHtlcs = BigInt(offered + received) * 10_000_000n;
  return baseSpec({ fundingSat: 100_000_000n, toLocalMsat: 90_000_000_000n - inHtlcs, toRemoteMsat: 10_000_000_000n, htlcs });
}

describe('buildCommitment', () => {
  it('lists the witness scripts the document lists for each output', () => {
    const c = staticVectors.cases.find((x: any) => x.name.includes('all five HTLCs untrimmed'));
    const htlcs = htlcsForCase(c.name, true);
    const commit = buildCommitment({ ...baseSpec({ format: 'static_remotekey', feeratePerKw: 0, toLocalMsat: BigInt(c.to_local_msat), toRemoteMsat: BigInt(c.to_remote_msat) }), htlcs: htlcs.map(toCommitmentHtlc) });
    for (const listed of c.outputs_listed) {
      const out = commit.outputs.find((o) =>
        listed.kind === 'to_local' ? o.kind === 'to_local'
        : listed.kind === 'to_remote' ? o.kind === 'to_remote'
        : o.htlcIndex !== undefined && htlcs[o.htlcIndex]?.htlc_index === listed.htlc_index,
      );
      assert.ok(out, `output for ${listed.kind} ${listed.htlc_index ?? ''}`);
      assert.equal(out.amountSat, BigInt(listed.amount_sat));
      if (listed.witness_script) assert.equal(toHex(out.witnessScript as Uint8Array), listed.witness_script);
      if (listed.p2wpkh_pubkey) assert.equal(toHex(channel.keys.remotePaymentPubkey), listed.p2wpkh_pubkey);
    }
  });

  it('orders offered HTLCs with the same amount and script by CLTV expiry', () => {
    const hash = sha256(fromHex('05'.repeat(32)));
    const spec = baseSpec({
      format: 'static_remotekey',
      toLocalMsat: 7_000_000_000n - 10_000_000n,
      htlcs: [
        { direction: 'offered', amountMsat: 5_000_000n, paymentHash: hash, cltvExpiry: 506 },
        { direction: 'offered', amountMsat: 5_000_000n, paymentHash: hash, cltvExpiry: 505 },
      ],
    });
    const outs = buildCommitment(spec).outputs.filter((o) => o.kind === 'offered_htlc');
    assert.deepEqual(outs.map((o) => o.cltvExpiry), [505, 506]);
    const txs = buildHtlcTxs(buildCommitment(spec));
    assert.deepEqual(txs.map((t) => t.tx.locktime), [505, 506]);
  });

  it('anchor channels get two 330-sat anchors paid by the funder, and to_remote as P2WSH', () => {
    const c = buildCommitment(withHtlcs(2, 2));
    const kinds = c.outputs.map((o) => o.kind).sort();
    assert.deepEqual(kinds, ['local_anchor', 'offered_htlc', 'offered_htlc', 'received_htlc', 'received_htlc', 'remote_anchor', 'to_local', 'to_remote']);
    const toLocal = c.outputs.find((o) => o.kind === 'to_local');
    assert.equal(toLocal?.amountSat, 89_960_000n - c.baseFeeSat - 660n);
    assert.equal(c.outputs.find((o) => o.kind === 'to_remote')?.scriptPubKey.length, 34);
  });

  it('a non-funder holder keeps its whole balance', () => {
    const c = buildCommitment(baseSpec({ holderIsFunder: false }));
    assert.equal(c.outputs.find((o) => o.kind === 'to_local')?.amountSat, 7_000_000n);
    assert.equal(c.outputs.find((o) => o.kind === 'to_remote')?.amountSat, 3_000_000n - c.baseFeeSat - 660n);
  });

  it('builds 483 HTLCs in each direction and refuses 484 in either', () => {
    assert.equal(buildCommitment(withHtlcs(483, 483)).outputs.length, 966 + 4);
    assert.throws(() => buildCommitment(withHtlcs(484, 0)), isCode('COURT_E_TOO_MANY_HTLCS'));
    assert.throws(() => buildCommitment(withHtlcs(0, 484)), isCode('COURT_E_TOO_MANY_HTLCS'));
  });

  it('refuses commitment numbers of 2^48 and above', () => {
    assert.ok(buildCommitment(baseSpec({ commitmentNumber: 2 ** 48 - 1 })));
    assert.throws(() => buildCommitment(baseSpec({ commitmentNumber: 2 ** 48 })), isCode('COURT_E_COMMITMENT_NUMBER'));
    assert.throws(() => buildCommitment(baseSpec({ commitmentNumber: -1 })), isCode('COURT_E_COMMITMENT_NUMBER'));
  });

  it('refuses negative amounts, amounts above 21M BTC, and balances that do not add up to the funding', () => {
    assert.throws(() => buildCommitment(baseSpec({ toRemoteMsat: -1n })), isCode('COURT_E_INVALID_AMOUNT'));
    assert.throws(() => buildCommitment(baseSpec({ fundingSat: 21_000_000n * 100_000_000n + 1n })), isCode('COURT_E_INVALID_AMOUNT'));
    assert.throws(() => buildCommitment(baseSpec({ toLocalMsat: 7_000_000_001n })), isCode('COURT_E_INVALID_AMOUNT'));
    assert.throws(
      () => buildCommitment(baseSpec({ htlcs: [htlc(1, 'offered', -5n)], toLocalMsat: 7_000_000_005n })),
      isCode('COURT_E_INVALID_AMOUNT'),
    );
  });

  it('refuses keys that are not on the curve', () => {
    const bad = fromHex('02' + '00'.repeat(32));
    for (const name of Object.keys(channel.keys)) {
      assert.throws(() => buildCommitment(baseSpec({ keys: { ...channel.keys, [name]: bad } })), isCode('COURT_E_INVALID_PUBKEY'), name);
    }
  });

  it('refuses a feerate the funder cannot pay, and accepts the highest one it can', () => {
    // Funder has 7,000,000 sat; anchors cost 660; fee = floor(feerate * 1124 / 1000).
    const max = Math.floor(((7_000_000 - 660) * 1000 + 999) / 1124);
    const okSpec = baseSpec({ feeratePerKw: max });
    assert.ok(1124n * BigInt(max) / 1000n + 660n <= 7_000_000n);
    assert.ok(buildCommitment(okSpec));
    assert.throws(() => buildCommitment(baseSpec({ feeratePerKw: max + 1 })), isCode('COURT_E_FUNDER_CANNOT_PAY'));
    assert.throws(() => buildCommitment(baseSpec({ feeratePerKw: -1 })), isCode('COURT_E_INVALID_FEERATE'));
    assert.throws(() => buildCommitment(baseSpec({ feeratePerKw: 1.5 })), isCode('COURT_E_INVALID_FEERATE'));
  });

  it('refuses a commitment whose every output would be dust (a transaction with no outputs)', () => {
    const tiny = baseSpec({ format: 'static_remotekey', fundingSat: 1000n, toLocalMsat: 1_000_000n, toRemoteMsat: 0n, dustLimitSat: 2000n, feeratePerKw: 0 });
    assert.throws(() => buildCommitment(tiny), isCode('COURT_E_INVALID_AMOUNT'));
    const allTrimmed = baseSpec({
      fundingSat: 3000n,
      toLocalMsat: 1_000_000n,
      toRemoteMsat: 1_000_000n,
      dustLimitSat: 1500n,
      feeratePerKw: 0,
      htlcs: [htlc(1, 'offered', 1_000_000n)],
    });
    assert.throws(() => buildCommitment(allTrimmed), isCode('COURT_E_INVALID_AMOUNT'));
  });

  it('never builds anchors the funder cannot pay for, even when a shortfall is allowed', () => {
    for (const holderIsFunder of [true, false]) {
      const funder = 100_000n; // 100 sat: less than the two anchors
      const spec = baseSpec({
        fundingSat: 100_000n,
        toLocalMsat: holderIsFunder ? funder : 99_900_000n,
        toRemoteMsat: holderIsFunder ? 99_900_000n : funder,
        holderIsFunder,
        funderShortfall: 'allow',
      });
      assert.throws(() => buildCommitment(spec), isCode('COURT_E_FUNDER_CANNOT_PAY'));
    }
    // With 660 sat the anchors are paid and the fee shortfall is absorbed: outputs never exceed the input.
    const c = buildCommitment(baseSpec({ fundingSat: 100_000n, toLocalMsat: 660_000n, toRemoteMsat: 99_340_000n, funderShortfall: 'allow' }));
    assert.ok(c.feeSat >= 0n);
  });

  it('refuses a dust limit below 354 sat (zero-value outputs)', () => {
    assert.throws(() => buildCommitment(baseSpec({ dustLimitSat: 0n })), isCode('COURT_E_INVALID_AMOUNT'));
    assert.throws(() => buildCommitment(baseSpec({ dustLimitSat: 353n })), isCode('COURT_E_INVALID_AMOUNT'));
    assert.ok(buildCommitment(baseSpec({ dustLimitSat: 354n })));
  });

  it('refuses flags and collections of the wrong type instead of guessing', () => {
    const isArg = isCode('COURT_E_INVALID_ARGUMENT');
    assert.throws(() => buildCommitment(baseSpec({ funderShortfall: 'REJECT' as never })), isArg);
    assert.throws(() => buildCommitment(baseSpec({ holderIsFunder: 'false' as never })), isArg);
    assert.throws(() => buildCommitment(baseSpec({ htlcs: undefined as never })), isArg);
    assert.throws(() => buildCommitment(baseSpec({ keys: undefined as never })), isArg);
  });

  it('builds a second-level transaction only for an output of the same commitment', () => {
    const c1 = buildCommitment(withHtlcs(1, 1));
    const c2 = buildCommitment({ ...withHtlcs(1, 1), commitmentNumber: 43 });
    const out = c1.outputs.find((o) => o.kind === 'offered_htlc');
    assert.ok(out);
    assert.ok(buildHtlcTx(c1, out));
    assert.throws(() => buildHtlcTx(c2, out), isCode('COURT_E_INVALID_ARGUMENT'));
    assert.throws(() => buildHtlcTx(c1, { ...out, index: 7 }), isCode('COURT_E_INVALID_ARGUMENT'));
  });

  it('refuses bad timelocks and hashes', () => {
    assert.throws(() => buildCommitment(baseSpec({ toSelfDelay: 65_536 })), isCode('COURT_E_INVALID_LOCKTIME'));
    const h = { ...htlc(1, 'received', 5_000_000n), cltvExpiry: 500_000_000 };
    assert.throws(() => buildCommitment(baseSpec({ htlcs: [h], toLocalMsat: 6_995_000_000n })), isCode('COURT_E_INVALID_LOCKTIME'));
    const short = { ...htlc(1, 'received', 5_000_000n), paymentHash: new Uint8Array(31) };
    assert.throws(() => buildCommitment(baseSpec({ htlcs: [short], toLocalMsat: 6_995_000_000n })), isCode('COURT_E_INVALID_ARGUMENT'));
    assert.throws(() => buildCommitment(baseSpec({ fundingTxid: 'zz' })), isCode('COURT_E_INVALID_ARGUMENT'));
  });
});
