/**
 * The channel simulator (regtest/simulator.ts): funding, the update state machine, commitments and signatures,
 * revocation secrets, and the snapshot a node would send courtd. Commitments are checked against src/ln rebuilt
 * independently from the snapshot alone (as courtd will), and every signed transaction through bcoin's
 * interpreter.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Transaction } from 'bitcoinjs-lib';
import { deriveRevocationPubkey, derivePubkey, perCommitmentPoint } from '../../src/keys/derive.js';
import { KeyRing } from '../../src/keys/keyring.js';
import { secp } from '../../src/keys/secp.js';
import { SIGHASH_ALL, SIGHASH_SINGLE_ANYONECANPAY } from '../../src/keys/sighash.js';
import {
  buildCommitment,
  isHtlcTrimmed,
  type CommitmentFormat,
  type CommitmentSpec,
} from '../../src/ln/commitment.js';
import { fundingOutput } from '../../src/ln/funding.js';
import { buildHtlcTxs, commitmentSighash, htlcTxSighash } from '../../src/ln/htlc.js';
import { commitmentNumberFromTx, obscuringFactor } from '../../src/ln/statehint.js';
import { ANCHOR_OUTPUT_SAT, commitmentFee } from '../../src/ln/weights.js';
import { fromHex, sha256, toHex } from '../../src/util/bytes.js';
import { CourtError } from '../../src/util/errors.js';
import { PARTIES, shachainIndex, SIM_COIN_TYPE, type PartyName } from '../../regtest/sim-keys.js';
import type { ChannelSnapshot, SnapshotCommitment } from '../../regtest/sim-snapshot.js';
import { utxoPrevout } from '../../regtest/sim-tx.js';
import type { ChannelSimulator } from '../../regtest/simulator.js';
import { execInput } from '../helpers/script-exec.js';
import { CAPACITY_SAT, fakeUtxo, FUNDER_KEY, openChannel } from './fixture.js';

const isCode = (code: string) => (e: unknown) => e instanceof CourtError && e.code === code;
const other = (p: PartyName): PartyName => (p === 'alice' ? 'bob' : 'alice');
const preimage = (s: string): Uint8Array => sha256(new TextEncoder().encode(`test preimage ${s}`));

/**
 * courtd's view: the CommitmentSpec of a commitment described by `owner`'s snapshot, from the snapshot and the
 * owner's keyring seed only. `holderIsOwner`: the owner's own commitment, else the peer's.
 */
function specFromSnapshot(snap: ChannelSnapshot, seed: Uint8Array, view: SnapshotCommitment, holderIsOwner: boolean): CommitmentSpec {
  const ring = KeyRing.fromSeed(seed, SIM_COIN_TYPE);
  const L = snap.local.keyLocators;
  const R = snap.remote;
  const owner = {
    funding: ring.publicKey(L.funding),
    revocation: ring.publicKey(L.revocationBase),
    htlc: ring.publicKey(L.htlcBase),
    payment: ring.publicKey(L.paymentBase),
    delay: ring.publicKey(L.delayBase),
  };
  const peer = {
    funding: fromHex(R.fundingPubkey),
    revocation: fromHex(R.revocationBasepoint),
    htlc: fromHex(R.htlcBasepoint),
    payment: fromHex(R.paymentBasepoint),
    delay: fromHex(R.delayedPaymentBasepoint),
  };
  const [holder, cp] = holderIsOwner ? [owner, peer] : [peer, owner];
  const [opener, accepter] = snap.initiator === 'local' ? [owner, peer] : [peer, owner];
  const point = fromHex(view.perCommitmentPoint);
  const [txid, vout] = snap.chanPoint.split(':');
  return {
    format: snap.commitmentType,
    fundingTxid: txid as string,
    fundingVout: Number(vout),
    fundingSat: BigInt(snap.capacitySat),
    commitmentNumber: view.number,
    obscuringFactor: obscuringFactor(opener.payment, accepter.payment),
    holderIsFunder: (snap.initiator === 'local') === holderIsOwner,
    toLocalMsat: BigInt(holderIsOwner ? view.toLocalMsat : view.toRemoteMsat),
    toRemoteMsat: BigInt(holderIsOwner ? view.toRemoteMsat : view.toLocalMsat),
    feeratePerKw: view.feeratePerKw,
    dustLimitSat: BigInt(holderIsOwner ? snap.local.dustLimitSat : R.dustLimitSat),
    toSelfDelay: holderIsOwner ? snap.local.toSelfDelay : R.toSelfDelay,
    keys: {
      localFundingPubkey: holder.funding,
      remoteFundingPubkey: cp.funding,
      revocationPubkey: deriveRevocationPubkey(cp.revocation, point),
      localDelayedPubkey: derivePubkey(holder.delay, point),
      localHtlcPubkey: derivePubkey(holder.htlc, point),
      remoteHtlcPubkey: derivePubkey(cp.htlc, point),
      remotePaymentPubkey: cp.payment,
    },
    htlcs: view.htlcs.map((h) => ({
      direction: (h.direction === 'outgoing') === holderIsOwner ? 'offered' : 'received',
      amountMsat: BigInt(h.amountMsat),
      paymentHash: fromHex(h.paymentHash),
      cltvExpiry: h.cltvExpiry,
    })),
  };
}

/** Checks `owner`'s snapshot the way courtd will: rebuild, verify every signature, recognise remote txids. */
function checkSnapshot(sim: ChannelSimulator, owner: PartyName): ChannelSnapshot {
  const snap = sim.snapshot(owner, { fundingHeightHint: 123 });
  const json = JSON.parse(JSON.stringify(snap)) as ChannelSnapshot; // plain data: survives JSON unchanged
  assert.deepEqual(json, snap);
  const seed = sim.parties[owner].seed;

  const local = buildCommitment(specFromSnapshot(json, seed, json.localCommitment, true));
  assert.equal(local.tx.getId(), sim.commitment(owner, json.localCommitment.number).txid);
  assert.equal(local.tx.getId(), sim.signedCommitment(owner, json.localCommitment.number).getId());
  const remoteFunding = fromHex(json.remote.fundingPubkey);
  assert.ok(secp().verify(commitmentSighash(local), remoteFunding, fromHex(json.localCommitment.remoteSignature)), 'remote commitment signature');
  const htlcTxs = buildHtlcTxs(local);
  assert.equal(json.localCommitment.remoteHtlcSignatures.length, htlcTxs.length);
  htlcTxs.forEach((h, i) => {
    assert.equal(h.remoteSighashType, sim.format === 'anchors' ? SIGHASH_SINGLE_ANYONECANPAY : SIGHASH_ALL);
    const sig = fromHex(json.localCommitment.remoteHtlcSignatures[i] as string);
    assert.ok(secp().verify(htlcTxSighash(h, h.remoteSighashType), local.spec.keys.remoteHtlcPubkey, sig), `remote HTLC signature ${i}`);
  });
  for (const view of [json.remoteCommitments.current, json.remoteCommitments.pending]) {
    if (view === undefined) continue;
    const remote = buildCommitment(specFromSnapshot(json, seed, view, false));
    assert.equal(remote.tx.getId(), sim.commitment(other(owner), view.number).txid);
  }
  return json;
}

for (const format of ['static_remotekey', 'anchors'] as const satisfies readonly CommitmentFormat[]) {
  const anchors = format === 'anchors';

  describe(`${format}: opening`, () => {
    it('funds a 2-of-2 P2WSH of both funding keys with change, at no less than the requested sat/vB', () => {
      for (const satPerVb of [1, 3]) {
        const utxo = fakeUtxo('rate test', 1_500_000n);
        const sim = openChannel(format, { funding: { utxo, satPerVb } });
        const tx = sim.fundingTx;
        const expected = fundingOutput(sim.parties.alice.fundingPubkey, sim.parties.bob.fundingPubkey, CAPACITY_SAT);
        assert.equal(tx.version, 2);
        assert.equal(sim.chanPoint, `${tx.getId()}:${sim.fundingVout}`);
        assert.deepEqual(tx.outs[sim.fundingVout]?.script, expected.scriptPubKey);
        assert.equal(tx.outs[sim.fundingVout]?.value, CAPACITY_SAT);
        const fee = utxo.amountSat - tx.outs.reduce((s, o) => s + o.value, 0n);
        assert.equal(fee, sim.fundingFeeSat);
        assert.ok(fee >= BigInt(Math.ceil(tx.virtualSize() * satPerVb)), `fee ${fee} at vsize ${tx.virtualSize()}`);
        assert.ok(fee <= BigInt(Math.ceil((tx.virtualSize() + 1) * satPerVb)), 'fee not far above the rate');
        assert.deepEqual(tx.outs[1]?.script, FUNDER_KEY.scriptPubKey);
        assert.deepEqual(execInput(tx, 0, utxoPrevout(utxo)), { ok: true });
      }
    });

    it('drops change below the dust threshold into the fee, and refuses a UTXO too small', () => {
      const small = fakeUtxo('small', CAPACITY_SAT + 400n);
      const sim = openChannel(format, { funding: { utxo: small, satPerVb: 1 } });
      assert.equal(sim.fundingTx.outs.length, 1);
      assert.equal(sim.fundingFeeSat, 400n);
      assert.throws(() => openChannel(format, { funding: { utxo: fakeUtxo('tiny', CAPACITY_SAT + 10n), satPerVb: 1 } }), isCode('COURT_E_INVALID_AMOUNT'));
    });

    it('a wrong funding key makes the funding input fail the interpreter', () => {
      const utxo = fakeUtxo('other key', 1_500_000n);
      const sim = openChannel(format, { funding: { utxo, satPerVb: 1 } });
      const claimed = { ...utxoPrevout(utxo), scriptPubKey: utxoPrevout(fakeUtxo('x', 1n, { ...FUNDER_KEY, privkey: sha256(utxo.privkey) })).scriptPubKey };
      assert.equal(execInput(sim.fundingTx, 0, claimed).ok, false);
    });

    it('starts both commitments at number 0 with the push, decodable from the state hint', () => {
      const sim = openChannel(format);
      assert.equal(sim.latestNumber, 0);
      assert.equal(sim.hasPending, false);
      assert.deepEqual(sim.state(0).balanceMsat, { alice: CAPACITY_SAT * 1000n - 300_000_000n, bob: 300_000_000n });
      for (const p of PARTIES) {
        const tx = sim.signedCommitment(p, 0);
        assert.equal(commitmentNumberFromTx(tx, sim.obscuringFactor), 0);
        assert.deepEqual(execInput(tx, 0, { scriptPubKey: sim.fundingScriptPubKey, value: sim.capacitySat }), { ok: true });
      }
      checkSnapshot(sim, 'alice');
      checkSnapshot(sim, 'bob');
    });

    it('derives keys from the seed label, so distinct labels make distinct channels', () => {
      const a = openChannel(format);
      const b = openChannel(format, { seeds: { alice: 'carol' } });
      assert.deepEqual(a.parties.bob.fundingPubkey, b.parties.bob.fundingPubkey);
      assert.notDeepEqual(a.parties.alice.fundingPubkey, b.parties.alice.fundingPubkey);
      assert.notEqual(a.fundingTxid, b.fundingTxid);
      const c = openChannel(format, { channelIndex: 7 });
      assert.equal(c.snapshot('alice').local.keyLocators.funding.index, 7);
      assert.notDeepEqual(c.parties.alice.htlcBasepoint, a.parties.alice.htlcBasepoint);
    });
  });

  describe(`${format}: updates move balances`, () => {
    /** Outputs + base fee + trimmed HTLCs (+ msat remainders) = capacity, output amounts recomputed here. */
    function checkCommitment(sim: ChannelSimulator, holder: PartyName, n: number): void {
      const st = sim.state(n);
      const total = st.balanceMsat.alice + st.balanceMsat.bob + st.htlcs.reduce((s, h) => s + h.amountMsat, 0n);
      assert.equal(total, CAPACITY_SAT * 1000n, `state ${n}: balances plus HTLCs = capacity`);
      const c = sim.commitment(holder, n).commitment;
      const dust = sim.dustLimitSat[holder];
      const untrimmed = st.htlcs.filter((h) => !isHtlcTrimmed(format, st.feeratePerKw, dust, h.offerer === holder ? 'offered' : 'received', h.amountMsat));
      const fee = commitmentFee(format, st.feeratePerKw, untrimmed.length);
      const anchorCost = anchors ? 2n * ANCHOR_OUTPUT_SAT : 0n;
      const funderCost = fee + anchorCost;
      const own = st.balanceMsat[holder] / 1000n - (holder === sim.funder ? funderCost : 0n);
      const theirs = st.balanceMsat[other(holder)] / 1000n - (holder === sim.funder ? 0n : funderCost);
      const sumOf = (k: string): bigint => c.outputs.filter((o) => o.kind === k).reduce((s, o) => s + o.amountSat, 0n);
      assert.equal(sumOf('to_local'), own >= dust ? own : 0n, `${holder} ${n} to_local`);
      assert.equal(sumOf('to_remote'), theirs >= dust ? theirs : 0n, `${holder} ${n} to_remote`);
      const htlcSat = sumOf('offered_htlc') + sumOf('received_htlc');
      assert.equal(htlcSat, untrimmed.reduce((s, h) => s + h.amountMsat / 1000n, 0n));
      const anchorsSat = sumOf('local_anchor') + sumOf('remote_anchor');
      assert.equal(anchorsSat, anchors ? anchorCost : 0n);
      const trimmedSat = st.htlcs.filter((h) => !untrimmed.includes(h)).reduce((s, h) => s + h.amountMsat / 1000n, 0n);
      const remainders = (st.balanceMsat.alice % 1000n) + (st.balanceMsat.bob % 1000n) + st.htlcs.reduce((s, h) => s + (h.amountMsat % 1000n), 0n);
      assert.equal(remainders % 1000n, 0n, 'test amounts keep msat remainders whole');
      const dustedBalances = (own >= dust ? 0n : own) + (theirs >= dust ? 0n : theirs);
      assert.equal(
        sumOf('to_local') + sumOf('to_remote') + htlcSat + fee + trimmedSat + anchorsSat + dustedBalances + remainders / 1000n,
        sim.capacitySat,
        `${holder} ${n}: to_local + to_remote + HTLCs + fee + trimmed + anchors = capacity`,
      );
      assert.equal(c.feeSat, fee + trimmedSat + dustedBalances + remainders / 1000n);
    }

    it('add, settle, fail and fee updates: balances, HTLC sets and outputs, on both sides, every number', () => {
      const sim = openChannel(format);
      const x = preimage('x');
      const y = preimage('y');
      const a0 = sim.state(0).balanceMsat;
      const refX = sim.addHtlc('alice', 50_000_000n, 700_000, x);
      const refY = sim.addHtlc('bob', 30_000_000n, 700_010, y);
      const refDust = sim.addHtlc('alice', 500_000n, 700_020); // 500 sat: trimmed on both sides
      const refZ = sim.addHtlc('bob', 20_000_500n, 700_030); // msat part below one sat
      assert.equal(sim.stagedUpdates, 4);
      assert.equal(sim.commit(), 1);
      const s1 = sim.state(1);
      assert.equal(s1.balanceMsat.alice, a0.alice - 50_500_000n);
      assert.equal(s1.balanceMsat.bob, a0.bob - 50_000_500n);
      assert.deepEqual(s1.htlcs.map((h) => h.ref), [refX, refY, refDust, refZ]);
      assert.deepEqual(s1.htlcs.map((h) => `${h.offerer}:${h.htlcId}`), ['alice:0', 'bob:0', 'alice:1', 'bob:1']);
      // Preimages: the receiver knows it, the offerer does not (yet).
      assert.deepEqual(sim.preimage('bob', sha256(x)), x);
      assert.equal(sim.preimage('alice', sha256(x)), undefined);
      assert.ok(sim.preimage('alice', sim.htlc(refZ).paymentHash), 'a generated preimage goes to the receiver');

      sim.settleHtlc(refX, x);
      sim.failHtlc(refY);
      sim.updateFee(5_000);
      assert.equal(sim.commit(), 2);
      const s2 = sim.state(2);
      assert.deepEqual(s2.balanceMsat, { alice: s1.balanceMsat.alice, bob: s1.balanceMsat.bob + 50_000_000n + 30_000_000n });
      assert.deepEqual(s2.htlcs.map((h) => h.ref), [refDust, refZ]);
      assert.equal(s2.feeratePerKw, 5_000);
      assert.deepEqual(sim.preimage('alice', sha256(x)), x, 'the offerer learns the preimage from the fulfil');

      sim.failHtlc(refDust);
      sim.settleHtlc(refZ, sim.preimage('alice', sim.htlc(refZ).paymentHash) as Uint8Array);
      sim.commit();
      const s3 = sim.state(3);
      assert.deepEqual(s3.balanceMsat, { alice: s2.balanceMsat.alice + 500_000n + 20_000_500n, bob: s2.balanceMsat.bob });
      assert.equal(s3.htlcs.length, 0);

      for (let n = 0; n <= sim.latestNumber; n++) {
        for (const p of PARTIES) {
          checkCommitment(sim, p, n);
          const c = sim.commitment(p, n);
          assert.equal(c.revoked, n < 3);
          assert.deepEqual(execInput(sim.signedCommitment(p, n), 0, { scriptPubKey: sim.fundingScriptPubKey, value: sim.capacitySat }), { ok: true });
          assert.equal(commitmentNumberFromTx(c.commitment.tx, sim.obscuringFactor), n);
        }
      }
      // The dust HTLC was trimmed on state 1 and the others were not.
      const c1 = sim.commitment('alice', 1).commitment;
      assert.equal(c1.trimmedHtlcs.length, 1);
      assert.equal(c1.outputs.filter((o) => o.kind.endsWith('_htlc')).length, 3);
    });

    it('keeps every past commitment: old numbers rebuild the same transaction after later updates', () => {
      const sim = openChannel(format);
      sim.addHtlc('alice', 40_000_000n, 800_000);
      sim.commit();
      const before = sim.signedCommitment('bob', 1).toHex();
      sim.updateFee(3_000);
      sim.commit();
      sim.commit();
      assert.equal(sim.signedCommitment('bob', 1).toHex(), before);
      assert.notEqual(sim.commitment('bob', 3).txid, sim.commitment('bob', 1).txid);
    });

    it('refuses misuse with coded errors and leaves the state unchanged', () => {
      const sim = openChannel(format);
      const r = sim.addHtlc('bob', 10_000_000n, 900_000, preimage('r'));
      assert.throws(() => sim.settleHtlc(r, preimage('r')), isCode('COURT_E_SIMULATOR'), 'not committed yet');
      sim.commit();
      assert.throws(() => sim.settleHtlc(r, preimage('not r')), isCode('COURT_E_INVALID_ARGUMENT'));
      assert.throws(() => sim.settleHtlc(999, preimage('r')), isCode('COURT_E_SIMULATOR'));
      sim.failHtlc(r);
      assert.throws(() => sim.settleHtlc(r, preimage('r')), isCode('COURT_E_SIMULATOR'), 'already being removed');
      assert.throws(() => sim.addHtlc('bob', 300_000_001n, 900_000), isCode('COURT_E_SIMULATOR'), 'more than bob has (the staged fail counted)');
      assert.throws(() => sim.addHtlc('bob', 0n, 900_000), isCode('COURT_E_INVALID_AMOUNT'));
      assert.throws(() => sim.addHtlc('bob', 1_000n, 500_000_000), isCode('COURT_E_INVALID_LOCKTIME'));
      assert.throws(() => sim.addHtlc('carol' as PartyName, 1_000n, 1), isCode('COURT_E_SIMULATOR'));
      assert.throws(() => sim.updateFee(-1), isCode('COURT_E_INVALID_FEERATE'));
      assert.throws(() => sim.revokePrevious(), isCode('COURT_E_SIMULATOR'), 'nothing pending');
      assert.throws(() => sim.revocationPrivkey('alice', sim.latestNumber), isCode('COURT_E_SIMULATOR'), 'latest not revoked');
      assert.throws(() => sim.commitment('alice', 5), isCode('COURT_E_SIMULATOR'));
      // A feerate the funder cannot pay: refused by src/ln, nothing changes; discarding the update recovers.
      sim.updateFee(2_000_000);
      const latest = sim.latestNumber;
      assert.throws(() => sim.commit(), isCode('COURT_E_FUNDER_CANNOT_PAY'));
      assert.equal(sim.latestNumber, latest);
      assert.equal(sim.hasPending, false);
      sim.discardStaged();
      sim.failHtlc(r);
      assert.equal(sim.commit(), latest + 1);
      assert.equal(sim.state(latest + 1).htlcs.length, 0);
    });
  });

  describe(`${format}: revocation and pending commitments`, () => {
    it('each peer stores the other\u2019s secrets in a shachain store; they give the revocation keys', () => {
      const sim = openChannel(format);
      for (let i = 0; i < 5; i++) sim.commit();
      for (const p of PARTIES) {
        const store = sim.receivedSecrets(p);
        assert.equal(store.received, sim.latestNumber);
        for (let n = 0; n < sim.latestNumber; n++) {
          const s = store.lookup(shachainIndex(n));
          assert.deepEqual(perCommitmentPoint(s), sim.commitment(other(p), n).perCommitmentPoint);
          const rev = sim.revocationPrivkey(other(p), n);
          assert.deepEqual(secp().pointFromScalar(rev), sim.commitment(other(p), n).commitment.spec.keys.revocationPubkey);
        }
        assert.equal(store.tryLookup(shachainIndex(sim.latestNumber)), undefined);
      }
    });

    it('signCommitments leaves a pending remote commitment until revokePrevious', () => {
      const sim = openChannel(format);
      sim.addHtlc('alice', 25_000_000n, 750_000);
      sim.commit();
      sim.addHtlc('bob', 15_000_000n, 750_100);
      assert.equal(sim.signCommitments(), 2);
      assert.equal(sim.hasPending, true);
      assert.equal(sim.currentNumber, 1);
      assert.equal(sim.commitment('bob', 1).revoked, false, 'both unrevoked while pending');
      assert.throws(() => sim.addHtlc('alice', 1_000_000n, 750_000), isCode('COURT_E_SIMULATOR'));
      assert.throws(() => sim.signCommitments(), isCode('COURT_E_SIMULATOR'));
      for (const p of PARTIES) {
        const snap = checkSnapshot(sim, p);
        assert.equal(snap.localCommitment.number, 2);
        assert.equal(snap.remoteCommitments.current.number, 1);
        assert.equal(snap.remoteCommitments.pending?.number, 2);
        assert.equal(snap.remoteCommitments.pending?.htlcs.length, 2);
        assert.equal(snap.remoteCommitments.current.htlcs.length, 1);
      }
      sim.revokePrevious();
      assert.equal(sim.commitment('bob', 1).revoked, true);
      for (const p of PARTIES) {
        const snap = checkSnapshot(sim, p);
        assert.equal(snap.remoteCommitments.current.number, 2);
        assert.equal(snap.remoteCommitments.pending, undefined);
      }
    });
  });

  describe(`${format}: snapshot`, () => {
    it('describes each peer\u2019s view: initiator, directions, balances, parameters', () => {
      const sim = openChannel(format);
      sim.addHtlc('alice', 12_345_000n, 760_000);
      sim.addHtlc('bob', 23_456_000n, 760_100);
      sim.commit();
      const a = checkSnapshot(sim, 'alice');
      const b = checkSnapshot(sim, 'bob');
      assert.equal(a.initiator, 'local');
      assert.equal(b.initiator, 'remote');
      assert.equal(a.commitmentType, format);
      assert.equal(a.fundingHeightHint, 123);
      assert.equal(a.capacitySat, String(CAPACITY_SAT));
      assert.equal(a.local.toSelfDelay, 144);
      assert.equal(a.remote.toSelfDelay, 30);
      assert.equal(b.local.toSelfDelay, 30);
      assert.equal(a.local.dustLimitSat, '546');
      assert.equal(a.remote.dustLimitSat, '600');
      assert.equal(a.localCommitment.toLocalMsat, b.localCommitment.toRemoteMsat);
      assert.equal(a.localCommitment.toLocalMsat, String(sim.state(1).balanceMsat.alice));
      assert.deepEqual(a.localCommitment.htlcs.map((h) => h.direction), ['outgoing', 'incoming']);
      assert.deepEqual(b.localCommitment.htlcs.map((h) => h.direction), ['incoming', 'outgoing']);
      assert.deepEqual(a.remoteCommitments.current.htlcs, a.localCommitment.htlcs, 'remote commitments in the owner\u2019s view too');
      assert.equal(a.remote.fundingPubkey, toHex(sim.parties.bob.fundingPubkey));
      assert.equal(a.localCommitment.perCommitmentPoint, toHex(sim.parties.alice.perCommitmentPoint(1)));
      assert.equal(a.remoteCommitments.current.perCommitmentPoint, toHex(sim.parties.bob.perCommitmentPoint(1)));
      assert.equal(a.localCommitment.remoteHtlcSignatures.length, 2);
      assert.equal(sim.snapshot('alice', { shortChannelId: '101x1x0' }).shortChannelId, '101x1x0');
    });

    it('a snapshot signature from the wrong peer would not verify (the check above can fail)', () => {
      const sim = openChannel(format);
      const local = sim.commitment('alice', 0).commitment;
      const bySelf = sim.commitmentSignature('alice', 'alice', 0);
      assert.equal(secp().verify(commitmentSighash(local), sim.parties.bob.fundingPubkey, bySelf), false);
      assert.equal(secp().verify(commitmentSighash(local), sim.parties.bob.fundingPubkey, sim.remoteSignatures('alice', 0).commitment), true);
    });
  });
}

describe('the signed commitment fails the interpreter when tampered', () => {
  it('flipping a byte of one funding signature is rejected', () => {
    const sim = openChannel('anchors');
    const tx = sim.signedCommitment('alice');
    const w = tx.ins[0]?.witness as Buffer[];
    const bad = Uint8Array.from(w[1] as Uint8Array);
    bad[bad.length - 2] = (bad[bad.length - 2] as number) ^ 1;
    const t2 = Transaction.fromHex(tx.toHex());
    t2.setWitness(0, [w[0] as Uint8Array, bad, w[2] as Uint8Array, w[3] as Uint8Array]);
    assert.equal(execInput(t2, 0, { scriptPubKey: sim.fundingScriptPubKey, value: sim.capacitySat }).ok, false);
  });
});
