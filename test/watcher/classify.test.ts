/**
 * Close classification over real simulator channels: every kind of funding spend is recognised from alice's
 * view (her commitment, bob's current, pending and revoked ones, a state newer than she knows, a mutual close),
 * built the way courtd builds it (the node's snapshot, checked, projected by classifierView). The cases of issue 9
 * items 1 to 3 (revocations before the next snapshot, our own commitments told apart by their outputs, mutual
 * closes checked by what they pay us) each failed on a1a5213 as noted.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Transaction } from 'bitcoinjs-lib';
import { checkSnapshot, classifierView, ourBasepointsFrom, parseSnapshot } from '../../src/arbitrator/snapshot.js';
import { ShachainStore } from '../../src/ln/shachain.js';
import { classifyClose, closeConfirmationDepth, type ClassifierView } from '../../src/watcher/classify.js';
import { fromHex, reversed } from '../../src/util/bytes.js';
import { CourtError } from '../../src/util/errors.js';
import type { ChannelSimulator } from '../../regtest/simulator.js';
import { DEST, openChannel } from '../simulator/fixture.js';

/** Alice's view now: her node's snapshot as courtd checks it, and a copy of the secrets she received so far. */
function aliceView(sim: ChannelSimulator, shutdownScript?: Uint8Array): ClassifierView {
  const json = sim.snapshot('alice') as unknown as { local: Record<string, unknown> };
  const withShutdown = shutdownScript === undefined ? json : { ...json, local: { ...json.local, shutdownScript: Buffer.from(shutdownScript).toString('hex') } };
  const snap = parseSnapshot(withShutdown);
  const ring = sim.parties.alice.ring;
  const checked = checkSnapshot(
    snap,
    ourBasepointsFrom(snap, (loc) => ring.publicKey(loc)),
  );
  return classifierView(checked, ShachainStore.deserialize(sim.receivedSecrets('alice').serialize()));
}

/** A funding spend without state hint paying `outs`. */
function plainSpend(sim: ChannelSimulator, outs: Array<[Uint8Array, bigint]>): Transaction {
  const tx = new Transaction();
  tx.version = 2;
  tx.addInput(reversed(fromHex(sim.fundingTxid)), sim.fundingVout, 0xffffffff);
  for (const [script, value] of outs) tx.addOutput(script, value);
  return tx;
}

for (const format of ['static_remotekey', 'anchors'] as const) {
  describe(`classifyClose (${format})`, () => {
    it('recognises our commitment, theirs, and a revoked one of theirs with its secret', () => {
      const sim = openChannel(format);
      sim.commit();
      sim.commit();
      const view = aliceView(sim);
      const n = sim.currentNumber;
      assert.deepEqual(classifyClose(view, sim.signedCommitment('alice', n)), { kind: 'local', txid: view.local.txid, number: n });
      assert.deepEqual(classifyClose(view, sim.signedCommitment('bob', n)), { kind: 'remote', txid: view.remoteCurrent.txid, number: n });
      const old = classifyClose(view, sim.signedCommitment('bob', n - 1));
      assert.equal(old.kind, 'breach');
      assert.equal(old.kind === 'breach' && old.number, n - 1);
      assert.deepEqual(old.kind === 'breach' && old.perCommitmentSecret, sim.revealedSecret('bob', n - 1));
    });

    it('recognises their pending commitment, and a state of theirs newer than we know as data loss', () => {
      const sim = openChannel(format);
      sim.commit();
      sim.signCommitments(); // bob holds a new commitment; the previous is not yet revoked
      const view = aliceView(sim);
      const pending = classifyClose(view, sim.signedCommitment('bob', sim.latestNumber));
      assert.equal(pending.kind, 'remotePending');
      sim.revokePrevious();
      const stale = aliceView(sim); // alice's view before the next round
      sim.commit();
      const future = classifyClose(stale, sim.signedCommitment('bob', sim.latestNumber));
      assert.equal(future.kind, 'future');
      assert.equal(future.kind === 'future' && future.number, sim.latestNumber);
    });

    it('item 1: their current commitment whose revocation arrived after the last snapshot is a breach, not remote', () => {
      // Fails on a1a5213: the txid matched remoteCurrent first, so it was classified 'remote' and no justice done.
      const sim = openChannel(format);
      sim.commit();
      const view = aliceView(sim); // bob's current is n, no pending
      const n = sim.currentNumber;
      sim.commit(); // bob moves to n + 1 and revokes n; alice's node passes the secret on before its next snapshot
      const withSecret: ClassifierView = { ...view, revocations: ShachainStore.deserialize(sim.receivedSecrets('alice').serialize()) };
      const cls = classifyClose(withSecret, sim.signedCommitment('bob', n));
      assert.equal(cls.kind, 'breach');
      assert.equal(cls.kind === 'breach' && cls.number, n);
    });

    it('item 2: our commitment newer than our snapshot is ours (snapshot needed), not a future remote state', () => {
      // Fails on a1a5213: classified 'future' (to_remote only, the channel then marked resolved with our to_local lost).
      const sim = openChannel(format);
      sim.commit();
      const view = aliceView(sim);
      sim.commit(); // alice's node force-closes with commitment n + 1 before it sent courtd the snapshot
      const cls = classifyClose(view, sim.signedCommitment('alice', sim.latestNumber));
      assert.deepEqual(cls, { kind: 'ourUnknown', txid: sim.commitment('alice', sim.latestNumber).txid, number: sim.latestNumber, newer: true });
    });

    it('item 2: our own old commitment is never taken for a breach, even with a secret held for its number', () => {
      // Fails on a1a5213: commitment numbers are shared by both sides, so the secret bob revealed for n - 1 made
      // alice's own commitment n - 1 a 'breach' (justice with keys that cannot sign it).
      const sim = openChannel(format);
      sim.commit();
      sim.commit();
      const view = aliceView(sim);
      const n = sim.currentNumber;
      assert.ok(view.revocations.tryLookup(281474976710655 - (n - 1)) !== undefined, 'alice holds the secret for n - 1');
      const cls = classifyClose(view, sim.signedCommitment('alice', n - 1));
      assert.equal(cls.kind, 'ourUnknown');
      assert.equal(cls.kind === 'ourUnknown' && cls.newer, false);
    });

    it('item 3: an old commitment of theirs we hold no secret for is unknown, with our to_remote to claim', () => {
      const sim = openChannel(format);
      sim.commit();
      sim.commit();
      const view: ClassifierView = { ...aliceView(sim), revocations: new ShachainStore() }; // the node never passed the secrets on
      const cls = classifyClose(view, sim.signedCommitment('bob', sim.currentNumber - 1));
      assert.equal(cls.kind, 'unknown');
      const tx = sim.signedCommitment('bob', sim.currentNumber - 1);
      const vout = cls.kind === 'unknown' ? cls.ourToRemoteVout : undefined;
      assert.ok(vout !== undefined && Buffer.from(tx.outs[vout]?.script ?? []).equals(Buffer.from(view.ourToRemoteSpk)));
    });

    it('item 3: a mutual close must pay us our balance (or our shutdown script); one that pays us less is unknown', () => {
      // Fails on a1a5213: any spend without a state hint was 'coop', and the channel was marked resolved.
      const sim = openChannel(format);
      sim.commit();
      const view = aliceView(sim);
      const ours = sim.state(sim.latestNumber).balanceMsat.alice / 1000n;
      const theirs = sim.state(sim.latestNumber).balanceMsat.bob / 1000n;
      const fee = 1_000n;
      const fair = plainSpend(sim, [[DEST, ours - fee], [DEST, theirs]]);
      assert.equal(classifyClose(view, fair).kind, 'coop', 'alice funds: her output plus the fee is her balance');
      const short = plainSpend(sim, [[DEST, ours / 2n], [DEST, theirs + ours / 2n - fee]]);
      assert.equal(classifyClose(view, short).kind, 'unknown', 'no output pays us our balance');
      // Review: their output (everything but 1,000 sat) must not pass for ours: it is more than we could be owed.
      const robbed = plainSpend(sim, [[DEST, 1_000n], [DEST, ours + theirs - 1_000n - fee]]);
      assert.equal(classifyClose(view, robbed).kind, 'unknown', 'an output above anything we could be owed is not ours');
      const shutdown = fromHex('0014' + '11'.repeat(20));
      const strict = aliceView(sim, shutdown);
      assert.equal(classifyClose(strict, plainSpend(sim, [[shutdown, ours - fee], [DEST, theirs]])).kind, 'coop');
      const elsewhere = classifyClose(strict, plainSpend(sim, [[DEST, ours - fee], [DEST, theirs]]));
      assert.equal(elsewhere.kind, 'unknown', 'with our shutdown script known, our balance paid elsewhere is not ours');
    });

    it('refuses a transaction that does not spend the funding output', () => {
      const sim = openChannel(format);
      const view = aliceView(sim);
      const other = new Transaction();
      other.addInput(reversed(fromHex(sim.fundingTxid)), sim.fundingVout + 1, 0xffffffff);
      other.addOutput(DEST, 1_000n);
      assert.throws(() => classifyClose(view, other), (e) => e instanceof CourtError && e.code === 'COURT_E_INVALID_ARGUMENT');
    });
  });
}

describe('closeConfirmationDepth', () => {
  it('scales 3..6 with capacity, caps at the full size, and allows 1 on regtest', () => {
    assert.equal(closeConfirmationDepth(0n), 3);
    assert.equal(closeConfirmationDepth(8_388_607n), 4);
    assert.equal(closeConfirmationDepth(16_777_214n), 5);
    assert.equal(closeConfirmationDepth(16_777_215n), 6);
    assert.equal(closeConfirmationDepth(10n ** 9n), 6);
    assert.equal(closeConfirmationDepth(10n ** 9n, { min: 1, max: 1 }), 1);
    assert.throws(() => closeConfirmationDepth(1n, { min: 0 }), CourtError);
    assert.throws(() => closeConfirmationDepth(1n, { min: 4, max: 3 }), CourtError);
  });
});
