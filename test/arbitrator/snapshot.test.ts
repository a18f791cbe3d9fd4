/**
 * Channel snapshots over real simulator channels (both formats): alice's and bob's snapshots parse, round-trip
 * through their canonical JSON, and check (our commitment rebuilt, the remote's signatures verified, their
 * commitments' txids equal to the simulator's); tampered signatures, malformed fields and contradicting updates
 * are refused with their codes and the field path; the commit set marks trimmed HTLCs as dust.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KeyRing } from '../../src/keys/keyring.js';
import {
  checkSnapshot,
  checkSnapshotUpdate,
  classifierView,
  commitSetFacts,
  ourBasepointsFrom,
  parseSnapshot,
  snapshotJson,
  type ChannelSnapshot,
  type CheckedSnapshot,
} from '../../src/arbitrator/snapshot.js';
import type { CommitmentFormat } from '../../src/ln/commitment.js';
import { classifyClose } from '../../src/watcher/classify.js';
import { CourtError, type CourtErrorCode } from '../../src/util/errors.js';
import { SIM_COIN_TYPE, type PartyName } from '../../regtest/sim-keys.js';
import type { ChannelSimulator } from '../../regtest/simulator.js';
import { openChannel } from '../simulator/fixture.js';

/** HTLCs of the scenario, in the order the simulator lists them on the commitments. */
const OUT_50K = { amountMsat: 50_000_000n, cltv: 500_100 }; // alice -> bob
const IN_30K = { amountMsat: 30_000_000n, cltv: 500_200 }; // bob -> alice
const DUST = { amountMsat: 500_000n, cltv: 500_300 }; // alice -> bob, 500 sat: trimmed on every commitment
const IN_40K = { amountMsat: 40_000_000n, cltv: 500_400 }; // bob -> alice, only on the pending commitments
/**
 * alice -> bob, trimmed on bob's commitments only: above alice's dust threshold (546 sat + HTLC-timeout fee),
 * below bob's (600 sat + HTLC-success fee; the fees are zero on anchor channels, 1657 / 1757 sat at 2500 sat/kw).
 */
const EDGE = { static_remotekey: 2_300_000n, anchors: 570_000n } as const;

/**
 * Commitment 1 carries four HTLCs (one dust everywhere, one dust on bob's side only); commitment 2 adds a fifth and is signed but commitment 1 is not
 * revoked yet, so each peer's snapshot has a pending remote commitment.
 */
function scenario(format: CommitmentFormat): ChannelSimulator {
  const sim = openChannel(format);
  sim.addHtlc('alice', OUT_50K.amountMsat, OUT_50K.cltv);
  sim.addHtlc('bob', IN_30K.amountMsat, IN_30K.cltv);
  sim.addHtlc('alice', DUST.amountMsat, DUST.cltv);
  sim.addHtlc('alice', EDGE[format], 500_350);
  sim.commit();
  sim.addHtlc('bob', IN_40K.amountMsat, IN_40K.cltv);
  sim.signCommitments();
  return sim;
}

/** The snapshot as it arrives over the wire (plain JSON). */
function wire(sim: ChannelSimulator, party: PartyName): any {
  return JSON.parse(JSON.stringify(sim.snapshot(party, { fundingHeightHint: 101, shortChannelId: '101x1x0' })));
}

/** `party`'s keyring, as courtd would open it from the shared seed. */
function ringOf(sim: ChannelSimulator, party: PartyName): KeyRing {
  return KeyRing.fromSeed(sim.parties[party].seed, SIM_COIN_TYPE);
}

function checked(sim: ChannelSimulator, party: PartyName): CheckedSnapshot {
  const s = parseSnapshot(wire(sim, party));
  const ring = ringOf(sim, party);
  return checkSnapshot(s, ourBasepointsFrom(s, (l) => ring.publicKey(l)));
}

function refuses(code: CourtErrorCode, field: string) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof CourtError, `expected a CourtError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.ok(e.message.includes(field), `message "${e.message}" should name ${field}`);
    // Never a key, point, hash or signature in a message: no long hex run.
    assert.doesNotMatch(e.message, /[0-9a-fA-F]{32,}/);
    return true;
  };
}

function mutated(json: any, f: (j: any) => void): any {
  const j = structuredClone(json);
  f(j);
  return j;
}

/** Flips one bit of a hex byte string at byte `at`. */
function flip(hex: string, at: number): string {
  const b = Buffer.from(hex, 'hex');
  b[at] = (b[at] as number) ^ 0x01;
  return b.toString('hex');
}

for (const format of ['static_remotekey', 'anchors'] as const) {
  describe(`channel snapshot (${format})`, () => {
    const sim = scenario(format);
    const latest = sim.latestNumber;
    const current = sim.currentNumber;

    it('parses what the node sends and round-trips through its canonical JSON', () => {
      const json = wire(sim, 'alice');
      const s = parseSnapshot(json);
      assert.equal(s.capacitySat, 1_000_000n);
      assert.equal(s.localCommitment.htlcs.length, 5);
      assert.equal(s.remoteCommitments.pending?.number, latest);
      const back = snapshotJson(s);
      assert.deepEqual(back, { v: 1, ...json });
      assert.deepEqual(JSON.parse(JSON.stringify(back)), back, 'canonical JSON is plain JSON');
      assert.deepEqual(parseSnapshot(back), s);
      assert.deepEqual(parseSnapshot(JSON.parse(JSON.stringify(back))), s);
    });

    it("checks alice's snapshot: our commitment and both of theirs equal the simulator's", () => {
      const c = checked(sim, 'alice');
      assert.equal(c.local.tx.getId(), sim.commitment('alice', latest).txid);
      assert.equal(c.remoteCurrent.tx.getId(), sim.commitment('bob', current).txid);
      assert.equal(c.remotePending?.tx.getId(), sim.commitment('bob', latest).txid);
      assert.equal(c.fundingTxid, sim.fundingTxid);
      assert.equal(c.fundingVout, sim.fundingVout);
      assert.equal(c.obscuringFactor, sim.obscuringFactor);
      // Four untrimmed HTLCs on alice's latest commitment, each second-level tx paired with bob's signature.
      const expected = sim.commitment('alice', latest).htlcTxs;
      assert.equal(c.localHtlcTxs.length, 4);
      // Bob's commitments trim EDGE (his dust limit): one HTLC output fewer.
      assert.equal(c.remotePending?.trimmedHtlcs.length, 2);
      assert.equal(c.local.trimmedHtlcs.length, 1);
      assert.deepEqual(c.localHtlcTxs.map((h) => h.htlcTx.tx.toHex()), expected.map((h) => h.tx.toHex()));
      assert.deepEqual(c.localHtlcTxs.map((h) => Buffer.from(h.remoteSignature).toString('hex')), wire(sim, 'alice').localCommitment.remoteHtlcSignatures);
    });

    it("checks bob's snapshot (the side that did not open the channel)", () => {
      const c = checked(sim, 'bob');
      assert.equal(c.snapshot.initiator, 'remote');
      assert.equal(c.local.tx.getId(), sim.commitment('bob', latest).txid);
      assert.equal(c.remoteCurrent.tx.getId(), sim.commitment('alice', current).txid);
      assert.equal(c.remotePending?.tx.getId(), sim.commitment('alice', latest).txid);
      assert.equal(c.obscuringFactor, sim.obscuringFactor);
    });

    it('gives the classifier every commitment it must recognise', () => {
      const c = checked(sim, 'alice');
      const view = classifierView(c, sim.receivedSecrets('alice'));
      assert.equal(classifyClose(view, sim.signedCommitment('alice', latest)).kind, 'local');
      assert.equal(classifyClose(view, sim.signedCommitment('bob', current)).kind, 'remote');
      assert.equal(classifyClose(view, sim.signedCommitment('bob', latest)).kind, 'remotePending');
      assert.equal(classifyClose(view, sim.signedCommitment('bob', current - 1)).kind, 'breach');
    });

    it('refuses a peer key equal to one of ours (review: equal payment basepoints hid every breach)', () => {
      const ring = ringOf(sim, 'alice');
      const ourPayment = Buffer.from(ring.publicKey(sim.parties.alice.locators.paymentBase)).toString('hex');
      for (const field of ['paymentBasepoint', 'revocationBasepoint'] as const) {
        const s = parseSnapshot(mutated(wire(sim, 'alice'), (j) => (j.remote[field] = ourPayment)));
        assert.throws(() => checkSnapshot(s, ourBasepointsFrom(s, (l) => ring.publicKey(l))), refuses('COURT_E_SNAPSHOT_INVALID', `remote.${field}`));
      }
    });

    it('refuses a commitment signature with one flipped byte', () => {
      const json = mutated(wire(sim, 'alice'), (j) => (j.localCommitment.remoteSignature = flip(j.localCommitment.remoteSignature, 40)));
      const s = parseSnapshot(json);
      const ring = ringOf(sim, 'alice');
      assert.throws(() => checkSnapshot(s, ourBasepointsFrom(s, (l) => ring.publicKey(l))), refuses('COURT_E_SNAPSHOT_SIGNATURE', 'localCommitment.remoteSignature'));
    });

    it('refuses an HTLC signature with one flipped byte, naming its index', () => {
      const json = mutated(wire(sim, 'alice'), (j) => (j.localCommitment.remoteHtlcSignatures[1] = flip(j.localCommitment.remoteHtlcSignatures[1], 50)));
      const s = parseSnapshot(json);
      const ring = ringOf(sim, 'alice');
      assert.throws(
        () => checkSnapshot(s, ourBasepointsFrom(s, (l) => ring.publicKey(l))),
        (e) => refuses('COURT_E_SNAPSHOT_SIGNATURE', 'localCommitment.remoteHtlcSignatures[1]')(e) && (e as CourtError).details['index'] === 1,
      );
    });

    it('refuses HTLC signatures given in the wrong order, a missing one, and the wrong key set', () => {
      const ring = ringOf(sim, 'alice');
      const check = (json: any, keys: KeyRing = ring) => {
        const s = parseSnapshot(json);
        return checkSnapshot(s, ourBasepointsFrom(s, (l) => keys.publicKey(l)));
      };
      const swapped = mutated(wire(sim, 'alice'), (j) => j.localCommitment.remoteHtlcSignatures.reverse());
      assert.throws(() => check(swapped), refuses('COURT_E_SNAPSHOT_SIGNATURE', 'localCommitment.remoteHtlcSignatures[0]'));
      const short = mutated(wire(sim, 'alice'), (j) => j.localCommitment.remoteHtlcSignatures.pop());
      assert.throws(() => check(short), refuses('COURT_E_SNAPSHOT_SIGNATURE', 'localCommitment.remoteHtlcSignatures'));
      // Bob's keys at alice's locators: our keys would equal the peer's, refused before any signature is checked.
      assert.throws(() => check(wire(sim, 'alice'), ringOf(sim, 'bob')), refuses('COURT_E_SNAPSHOT_INVALID', 'remote.fundingPubkey'));
      // A balance moved between the peers (still adding up): another transaction than the one signed.
      const moved = mutated(wire(sim, 'alice'), (j) => {
        j.localCommitment.toLocalMsat = String(BigInt(j.localCommitment.toLocalMsat) - 1000n);
        j.localCommitment.toRemoteMsat = String(BigInt(j.localCommitment.toRemoteMsat) + 1000n);
      });
      assert.throws(() => check(moved), refuses('COURT_E_SNAPSHOT_SIGNATURE', 'localCommitment.remoteSignature'));
    });

    it('refuses malformed fields, naming the field path', () => {
      const json = wire(sim, 'alice');
      const cases: Array<[string, (j: any) => void]> = [
        ['localCommitment.htlcs[2].cltvExpiry', (j) => (j.localCommitment.htlcs[2].cltvExpiry = -1)],
        ['localCommitment.htlcs[2].cltvExpiry', (j) => (j.localCommitment.htlcs[2].cltvExpiry = '500300')],
        ['localCommitment.htlcs[0].amountMsat', (j) => (j.localCommitment.htlcs[0].amountMsat = '50000000.5')],
        ['localCommitment.htlcs[0].amountMsat', (j) => (j.localCommitment.htlcs[0].amountMsat = '050000000')],
        ['localCommitment.htlcs[1].direction', (j) => (j.localCommitment.htlcs[1].direction = 'sideways')],
        ['localCommitment.htlcs[4].htlcId', (j) => (j.localCommitment.htlcs[4].htlcId = j.localCommitment.htlcs[1].htlcId)],
        ['remoteCommitments.current.htlcs[0].paymentHash', (j) => (j.remoteCommitments.current.htlcs[0].paymentHash = 'ab'.repeat(31))],
        ['localCommitment.htlcs[0].upstream.cltvExpiry', (j) => (j.localCommitment.htlcs[0].upstream = { chanPoint: `${'11'.repeat(32)}:0`, htlcId: 1, cltvExpiry: 5e8 })],
        ['localCommitment.htlcs[0].upstream.chanPoint', (j) => (j.localCommitment.htlcs[0].upstream = { chanPoint: 'nope', htlcId: 1, cltvExpiry: 1 })],
        ['localCommitment.htlcs[1].upstream', (j) => (j.localCommitment.htlcs[1].upstream = { chanPoint: `${'11'.repeat(32)}:0`, htlcId: 1, cltvExpiry: 1 })],
        ['capacitySat', (j) => (j.capacitySat = 1_000_000)],
        ['capacitySat', (j) => (j.capacitySat = '0')],
        ['chanPoint', (j) => (j.chanPoint = 'abc:0')],
        ['chanPoint', (j) => (j.chanPoint = `${'ab'.repeat(32)}:4294967296`)],
        ['shortChannelId', (j) => (j.shortChannelId = '101x1')],
        ['fundingHeightHint', (j) => (j.fundingHeightHint = 1.5)],
        ['commitmentType', (j) => (j.commitmentType = 'legacy')],
        ['initiator', (j) => (j.initiator = 'both')],
        ['remote.fundingPubkey', (j) => (j.remote.fundingPubkey = '02' + '00'.repeat(32))],
        ['remote.htlcBasepoint', (j) => delete j.remote.htlcBasepoint],
        ['remote.toSelfDelay', (j) => (j.remote.toSelfDelay = 70_000)],
        ['local.keyLocators.htlcBase.index', (j) => (j.local.keyLocators.htlcBase.index = -1)],
        ['local.dustLimitSat', (j) => (j.local.dustLimitSat = '353')],
        ['localCommitment.remoteSignature', (j) => (j.localCommitment.remoteSignature = 'zz'.repeat(64))],
        ['localCommitment.remoteHtlcSignatures[1]', (j) => (j.localCommitment.remoteHtlcSignatures[1] = 'ab'.repeat(63))],
        ['localCommitment.remoteHtlcSignatures', (j) => (j.localCommitment.remoteHtlcSignatures = 'none')],
        ['localCommitment.perCommitmentPoint', (j) => (j.localCommitment.perCommitmentPoint = j.localCommitment.perCommitmentPoint.slice(2))],
        ['localCommitment.feeratePerKw', (j) => (j.localCommitment.feeratePerKw = 2 ** 32)],
        ['localCommitment.number', (j) => (j.localCommitment.number = 2 ** 48)],
        ['remoteCommitments.current', (j) => (j.remoteCommitments.current.toLocalMsat = String(BigInt(j.remoteCommitments.current.toLocalMsat) + 1n))],
        ['remoteCommitments.pending.number', (j) => (j.remoteCommitments.pending.number += 1)],
        ['remoteCommitments.current', (j) => delete j.remoteCommitments.current],
        ['localCommitment.remoteSignatures', (j) => (j.localCommitment.remoteSignatures = [])],
        ['v', (j) => (j.v = 2)],
        ['extra', (j) => (j.extra = 1)],
      ];
      for (const [field, f] of cases) {
        assert.throws(() => parseSnapshot(mutated(json, f)), refuses('COURT_E_SNAPSHOT_INVALID', field), `case ${field}`);
      }
      assert.throws(() => parseSnapshot(null), refuses('COURT_E_SNAPSHOT_INVALID', 'snapshot'));
      assert.throws(() => parseSnapshot([]), refuses('COURT_E_SNAPSHOT_INVALID', 'snapshot'));
    });

    it('marks the trimmed HTLC as dust in every commit set, and carries the upstream deadline', () => {
      const json = mutated(wire(sim, 'alice'), (j) => {
        j.localCommitment.htlcs[0].upstream = { chanPoint: `${'11'.repeat(32)}:3`, htlcId: 7, cltvExpiry: 500_050 };
      });
      const s = parseSnapshot(json);
      const ring = ringOf(sim, 'alice');
      const facts = commitSetFacts(checkSnapshot(s, ourBasepointsFrom(s, (l) => ring.publicKey(l))));
      const pending = facts.remotePending;
      assert.ok(pending !== undefined);
      assert.equal(facts.local.length, 5);
      assert.equal(facts.remote.length, 4);
      assert.equal(pending.length, 5);
      const dustOn = (theirs: boolean) => (h: { amountMsat: string }) =>
        h.amountMsat === DUST.amountMsat.toString() || (theirs && h.amountMsat === EDGE[format].toString());
      assert.deepEqual(facts.local.map((h) => h.dust), facts.local.map(dustOn(false)));
      assert.equal(facts.local.filter((h) => h.dust).length, 1);
      for (const set of [facts.remote, pending]) {
        assert.deepEqual(set.map((h) => h.dust), set.map(dustOn(true)));
        assert.equal(set.filter((h) => h.dust).length, 2);
      }
      const out = facts.local[0];
      assert.deepEqual(out, {
        htlcId: 0,
        direction: 'outgoing',
        amountMsat: OUT_50K.amountMsat.toString(),
        paymentHash: json.localCommitment.htlcs[0].paymentHash,
        cltvExpiry: OUT_50K.cltv,
        dust: false,
        upstreamExpiry: 500_050,
      });
      assert.equal(facts.local[1]?.direction, 'incoming');
      assert.equal(facts.local[1]?.upstreamExpiry, undefined);
      assert.equal(facts.local[4]?.amountMsat, IN_40K.amountMsat.toString());
      assert.deepEqual(JSON.parse(JSON.stringify(facts)), facts, 'commit set facts are plain JSON');
    });

    it('builds a remote commitment whose funder cannot pay the fee, as BOLT #3 does (funderShortfall allow)', () => {
      // alice (the funder) pays; at this feerate the fee exceeds her balance on bob's commitment.
      const json = mutated(wire(sim, 'alice'), (j) => (j.remoteCommitments.current.feeratePerKw = 2_000_000));
      const s = parseSnapshot(json);
      const ring = ringOf(sim, 'alice');
      const c = checkSnapshot(s, ourBasepointsFrom(s, (l) => ring.publicKey(l)));
      assert.ok(!c.remoteCurrent.outputs.some((o) => o.kind === 'to_remote'), 'the funder output went to zero');
      assert.ok(c.remoteCurrent.outputs.some((o) => o.kind === 'to_local'));
    });
  });
}

describe('snapshot updates', () => {
  const sim = openChannel('anchors');
  sim.addHtlc('alice', OUT_50K.amountMsat, OUT_50K.cltv);
  sim.commit();
  const older: ChannelSnapshot = parseSnapshot(wire(sim, 'alice'));
  sim.addHtlc('bob', IN_30K.amountMsat, IN_30K.cltv);
  sim.signCommitments();
  const pending: ChannelSnapshot = parseSnapshot(wire(sim, 'alice'));
  sim.revokePrevious();
  const newer: ChannelSnapshot = parseSnapshot(wire(sim, 'alice'));

  it('accepts the same snapshot again, and newer states in order', () => {
    checkSnapshotUpdate(older, older);
    checkSnapshotUpdate(older, pending);
    checkSnapshotUpdate(pending, newer);
    checkSnapshotUpdate(older, newer);
  });

  it('refuses an older state', () => {
    assert.throws(() => checkSnapshotUpdate(newer, pending), refuses('COURT_E_SNAPSHOT_CONFLICT', 'remoteCommitments.current.number'));
    // Review: a snapshot that forgets their pending commitment (same current, no pending) is an older state too.
    const forgot = parseSnapshot(mutated(snapshotJson(pending), (j) => delete j.remoteCommitments.pending));
    assert.throws(() => checkSnapshotUpdate(pending, forgot), refuses('COURT_E_SNAPSHOT_CONFLICT', 'remoteCommitments'));
    assert.throws(() => checkSnapshotUpdate(pending, older), refuses('COURT_E_SNAPSHOT_CONFLICT', 'localCommitment.number'));
  });

  it('refuses other channel parameters, and a known commitment number with other contents', () => {
    const other = (f: (j: any) => void): ChannelSnapshot => parseSnapshot(mutated(snapshotJson(newer), f));
    assert.throws(() => checkSnapshotUpdate(newer, other((j) => (j.remote.toSelfDelay = 31))), refuses('COURT_E_SNAPSHOT_CONFLICT', 'remote.toSelfDelay'));
    assert.throws(() => checkSnapshotUpdate(newer, other((j) => (j.local.keyLocators.delayBase.index = 9))), refuses('COURT_E_SNAPSHOT_CONFLICT', 'local.keyLocators.delayBase.index'));
    assert.throws(() => checkSnapshotUpdate(newer, other((j) => (j.shortChannelId = '102x1x0'))), refuses('COURT_E_SNAPSHOT_CONFLICT', 'shortChannelId'));
    /** Moves 1 sat from us to them on one commitment (balances still add up). */
    const shift = (c: any): void => {
      c.toLocalMsat = String(BigInt(c.toLocalMsat) - 1000n);
      c.toRemoteMsat = String(BigInt(c.toRemoteMsat) + 1000n);
    };
    assert.throws(() => checkSnapshotUpdate(newer, other((j) => shift(j.localCommitment))), refuses('COURT_E_SNAPSHOT_CONFLICT', 'localCommitment'));
    // pending's pending commitment is newer's current: the same number must carry the same contents.
    assert.throws(() => checkSnapshotUpdate(pending, other((j) => shift(j.remoteCommitments.current))), refuses('COURT_E_SNAPSHOT_CONFLICT', 'remoteCommitments.current'));
    // The height hint and a newly learnt upstream may change.
    checkSnapshotUpdate(newer, other((j) => (j.fundingHeightHint = 5)));
  });
});
