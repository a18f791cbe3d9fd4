/**
 * Close classification over real simulator channels: every kind of funding spend is recognised from alice's
 * view (her commitment, bob's current, pending and revoked ones, a state newer than she knows, a mutual close).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Transaction } from 'bitcoinjs-lib';
import { classifyClose, closeConfirmationDepth, type ClassifierView } from '../../src/watcher/classify.js';
import { fromHex, reversed } from '../../src/util/bytes.js';
import { CourtError } from '../../src/util/errors.js';
import type { ChannelSimulator } from '../../regtest/simulator.js';
import { DEST, openChannel } from '../simulator/fixture.js';

function aliceView(sim: ChannelSimulator, opts: { pending?: boolean } = {}): ClassifierView {
  const current = sim.currentNumber;
  return {
    fundingTxid: sim.fundingTxid,
    fundingVout: sim.fundingVout,
    obscuringFactor: sim.obscuringFactor,
    local: { number: current, txid: sim.commitment('alice', current).txid },
    remoteCurrent: { number: current, txid: sim.commitment('bob', current).txid },
    ...(opts.pending === true ? { remotePending: { number: sim.latestNumber, txid: sim.commitment('bob', sim.latestNumber).txid } } : {}),
    revocations: sim.receivedSecrets('alice'),
  };
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

    it('recognises their pending commitment, and a state newer than we know as data loss', () => {
      const sim = openChannel(format);
      sim.commit();
      sim.signCommitments(); // bob holds a new commitment; the previous is not yet revoked
      const view = aliceView(sim, { pending: true });
      const pending = classifyClose(view, sim.signedCommitment('bob', sim.latestNumber));
      assert.equal(pending.kind, 'remotePending');
      sim.revokePrevious();
      const stale = aliceView(sim); // alice's view before the next round
      sim.commit();
      const future = classifyClose(stale, sim.signedCommitment('bob', sim.latestNumber));
      assert.equal(future.kind, 'future');
      assert.equal(future.kind === 'future' && future.number, sim.latestNumber);
    });

    it('calls a funding spend without a state hint a cooperative close, and refuses a tx that does not spend funding', () => {
      const sim = openChannel(format);
      sim.commit();
      const view = aliceView(sim);
      const coop = new Transaction();
      coop.version = 2;
      coop.addInput(reversed(fromHex(sim.fundingTxid)), sim.fundingVout, 0xffffffff);
      coop.addOutput(DEST, 900_000n);
      assert.equal(classifyClose(view, coop).kind, 'coop');
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
