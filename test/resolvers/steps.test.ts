/**
 * The resolver kinds' pure step functions: what each offers and when (first valid height), how each stage moves
 * on a spend, rolls back on an undo before 6 confirmations, and finishes at 6 confirmations with its reports and
 * node events; the contest resolvers' swaps; preimages from witnesses (mempool and chain).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { anchor } from '../../src/resolvers/anchor.js';
import { commitSweep } from '../../src/resolvers/commit-sweep.js';
import { findPreimage } from '../../src/resolvers/common.js';
import { htlcIncomingContest } from '../../src/resolvers/htlc-incoming-contest.js';
import { htlcOutgoingContest } from '../../src/resolvers/htlc-outgoing-contest.js';
import { htlcSuccess } from '../../src/resolvers/htlc-success.js';
import { htlcTimeout } from '../../src/resolvers/htlc-timeout.js';
import type { HtlcClaim } from '../../src/resolvers/htlc-claim.js';
import { RESOLVER_KINDS } from '../../src/resolvers/registry.js';
import type { ResolverBase, ResolverEffect, StepResult } from '../../src/resolvers/types.js';
import { anchorRecord, CLOSE_HEIGHT, commitRecord, env, htlcRecord, PAYMENT_HASH, PEER_TXID, PREIMAGE, SECOND_TXID, spend, SWEEP_TXID } from './fixtures.js';

const kinds = (r: StepResult): string[] => r.effects.map((e) => e.kind);
const offer = (r: StepResult) => r.effects.find((e): e is Extract<ResolverEffect, { kind: 'OfferSweep' }> => e.kind === 'OfferSweep')?.input;
const reportsOf = (r: StepResult) => r.effects.flatMap((e) => (e.kind === 'Report' ? [e.report] : []));
const notes = (r: StepResult) => r.effects.flatMap((e) => (e.kind === 'NotifyNode' ? [e] : []));
const launch = (h: number) => ({ kind: 'Launch' as const, height: h });
const block = (h: number) => ({ kind: 'Block' as const, height: h });

describe('commitSweep', () => {
  it('offers to_local with its CSV from the close height, finishes only at 6 confirmations, rolls back on an undo', () => {
    const r0 = commitSweep.init(commitRecord('local', 'anchors', 144));
    const l = commitSweep.step(r0, launch(CLOSE_HEIGHT), env(CLOSE_HEIGHT));
    const o = offer(l);
    assert.equal(o?.witness.kind, 'toLocalDelayed');
    assert.equal(o?.sequence, 144);
    assert.equal(o?.matureHeight, CLOSE_HEIGHT + 144);
    assert.equal(o?.budgetSat, '300000', 'half the value by default');
    assert.ok(kinds(l).includes('WatchSpend'));
    const s = commitSweep.step(r0, spend(r0.outpoint, SWEEP_TXID, 700), env(700));
    assert.equal(s.next.stage, 'confirming');
    assert.equal(commitSweep.wake(s.next as never), 705);
    assert.equal(commitSweep.step(s.next as never, block(704), env(704)).finished, undefined, 'not final at 5 confirmations');
    const undone = commitSweep.step(s.next as never, { kind: 'SpendUndone', outpoint: r0.outpoint, txid: SWEEP_TXID, height: 700 }, env(699));
    assert.equal(undone.next.stage, 'waiting');
    assert.ok(offer(undone) !== undefined, 'offered again after the undo');
    const done = commitSweep.step(s.next as never, block(705), env(705));
    assert.equal(done.finished, true);
    assert.deepEqual(reportsOf(done), [{ outpoint: r0.outpoint, stage: 1, type: 'commit', outcome: 'claimed', amountSat: '600000', txid: SWEEP_TXID, height: 700 }]);
    assert.ok(kinds(done).includes('ResolverFinished'));
    const v = commitSweep.view(done.next as never, 705);
    assert.equal(v.limboSat, 0n);
    assert.equal(v.recoveredSat, 600000n);
  });

  it('to_remote: P2WPKH on static_remotekey (no CSV), P2WSH with CSV 1 on anchors', () => {
    const st = offer(commitSweep.step(commitSweep.init(commitRecord('remote', 'static_remotekey', 0)), launch(CLOSE_HEIGHT), env(CLOSE_HEIGHT)));
    assert.equal(st?.witness.kind, 'toRemoteP2wpkh');
    assert.equal(st?.sequence, undefined);
    assert.equal(st?.matureHeight, CLOSE_HEIGHT);
    const an = offer(commitSweep.step(commitSweep.init(commitRecord('remote', 'anchors', 1)), launch(CLOSE_HEIGHT), env(CLOSE_HEIGHT)));
    assert.equal(an?.witness.kind, 'toRemoteAnchor');
    assert.equal(an?.sequence, 1);
    assert.equal(an?.matureHeight, CLOSE_HEIGHT + 1);
  });

  it('a spend by someone else is reported unclaimed', () => {
    const r0 = commitSweep.init(commitRecord('local', 'anchors', 144));
    const s = commitSweep.step(r0, spend(r0.outpoint, PEER_TXID, 650, { ours: false }), env(650));
    const d = commitSweep.step(s.next as never, block(655), env(655));
    assert.equal(reportsOf(d)[0]?.outcome, 'unclaimed');
    assert.equal(commitSweep.view(d.next as never, 655).recoveredSat, 0n);
  });
});

describe('anchor', () => {
  it('is offered (owner cpfp:<chanPoint>, replacing the CPFP offer) only if it pays for itself', () => {
    const r0 = anchor.init(anchorRecord());
    const cheap = anchor.step(r0, launch(CLOSE_HEIGHT), env(CLOSE_HEIGHT, 253n));
    assert.equal(offer(cheap)?.owner, `cpfp:${r0.chanPoint}`);
    const dear = anchor.step(r0, launch(CLOSE_HEIGHT), env(CLOSE_HEIGHT, 5_000n));
    assert.equal(offer(dear), undefined);
    assert.ok(kinds(dear).includes('CancelSweep'), 'a pending CPFP input is withdrawn');
    assert.equal(anchor.wake(dear.next as never), CLOSE_HEIGHT + 16);
    assert.equal(anchor.step(dear.next as never, block(CLOSE_HEIGHT + 15), env(CLOSE_HEIGHT + 15, 5_000n)).finished, undefined);
    const gone = anchor.step(dear.next as never, block(CLOSE_HEIGHT + 16), env(CLOSE_HEIGHT + 16, 5_000n));
    assert.equal(gone.finished, true);
    assert.equal(reportsOf(gone)[0]?.outcome, 'abandoned');
  });

  it('a CPFP child of ours that spent it is claimed', () => {
    const r0 = anchor.init(anchorRecord());
    const s = anchor.step(r0, spend(r0.outpoint, SWEEP_TXID, CLOSE_HEIGHT), env(CLOSE_HEIGHT + 5));
    assert.equal(s.finished, true, 'already 6 deep when seen');
    assert.equal(reportsOf(s)[0]?.outcome, 'claimed');
  });
});

describe('htlcOutgoingContest', () => {
  const rec = htlcRecord({ direction: 'outgoing', closeType: 'remote', format: 'anchors', cltvExpiry: 600, deadline: 640 });

  it('becomes htlcTimeout at cltv - 1, not before', () => {
    const r0 = htlcOutgoingContest.init(rec);
    assert.equal(htlcOutgoingContest.wake(r0), 599);
    assert.equal(htlcOutgoingContest.step(r0, block(598), env(598)).successor, undefined);
    const s = htlcOutgoingContest.step(r0, block(599), env(599));
    assert.equal(s.successor?.kind, 'htlcTimeout');
    assert.equal(s.next.stage, 'done');
  });

  it('a preimage in a mempool spend goes to the node (stable key) and is learned; the confirmed spend is followed as the peer’s', () => {
    const r0 = htlcOutgoingContest.init(rec);
    const m = htlcOutgoingContest.step(r0, { kind: 'MempoolSpend', outpoint: rec.outpoint, txid: PEER_TXID, witness: ['30'.repeat(71), PREIMAGE, '00'] }, env(550));
    assert.deepEqual(
      notes(m).map((n) => [n.key, n.event, n.payload.source]),
      [[`settled:${rec.outpoint}`, 'htlcSettledOnChain', 'mempool']],
    );
    assert.ok(m.effects.some((e) => e.kind === 'LearnedPreimage' && e.preimage === PREIMAGE && e.source === 'mempool'));
    const c = htlcOutgoingContest.step(r0, spend(rec.outpoint, PEER_TXID, 551, { ours: false, witness: ['30'.repeat(71), PREIMAGE, '00'] }), env(551));
    assert.equal(c.successor?.kind, 'htlcTimeout');
    const t = c.successor as HtlcClaim;
    assert.equal(t.byPeer, true);
    assert.equal(notes(c)[0]?.key, `settled:${rec.outpoint}`, 'the same key: the node hears it once');
    const d = htlcTimeout.step(t as never, block(556), env(556));
    assert.equal(d.finished, true);
    assert.equal(reportsOf(d)[0]?.outcome, 'claimed');
    assert.equal(notes(d).length, 0, 'no failure upstream for an HTLC the peer settled');
  });

  it('a mempool spend without the preimage changes nothing', () => {
    const r0 = htlcOutgoingContest.init(rec);
    assert.deepEqual(htlcOutgoingContest.step(r0, { kind: 'MempoolSpend', outpoint: rec.outpoint, txid: PEER_TXID, witness: ['00'.repeat(32)] }, env(550)).effects, []);
  });
});

describe('htlcTimeout', () => {
  it('their commitment: direct timeout with the CLTV as locktime, the upstream expiry as deadline; failed upstream once final', () => {
    const rec = htlcRecord({ direction: 'outgoing', closeType: 'remote', format: 'anchors', cltvExpiry: 600, deadline: 640 });
    const r0 = htlcTimeout.init(rec);
    const o = offer(htlcTimeout.step(r0, launch(599), env(599)));
    assert.equal(o?.witness.kind, 'htlcTimeoutDirect');
    assert.equal(o?.locktime, 600);
    assert.equal(o?.sequence, 1, 'CSV 1 on anchor channels');
    assert.equal(o?.deadlineHeight, 640, 'the upstream HTLC expiry');
    assert.equal(o?.budgetSat, '25000');
    const s = htlcTimeout.step(r0, spend(rec.outpoint, SWEEP_TXID, 601), env(601));
    assert.equal(s.next.stage, 'firstConfirming');
    const d = htlcTimeout.step(s.next as never, block(606), env(606));
    assert.equal(d.finished, true);
    assert.equal(reportsOf(d)[0]?.outcome, 'timeout');
    assert.deepEqual(notes(d).map((n) => [n.key, n.event]), [[`failed:${rec.outpoint}`, 'htlcFailedOnChain']]);
  });

  it('our commitment (anchors): the zero-fee second-level pair, then its CSV output; rollback before 6 confirmations', () => {
    const rec = htlcRecord({ direction: 'outgoing', closeType: 'local', format: 'anchors', cltvExpiry: 600 });
    const r0 = htlcTimeout.init(rec);
    const o = offer(htlcTimeout.step(r0, launch(599), env(599)));
    assert.equal(o?.witness.kind, 'htlcSecondLevel');
    assert.equal(o?.pairedOutput?.valueSat, '50000');
    assert.equal(o?.locktime, 600);
    assert.ok(o?.witness.kind === 'htlcSecondLevel' && o.witness.remoteSig.endsWith('83'), 'SINGLE|ANYONECANPAY signature');
    const outputs = [
      { valueSat: '1', script: '00' },
      { valueSat: '50000', script: 'ff' },
    ];
    const s = htlcTimeout.step(r0, spend(rec.outpoint, SECOND_TXID, 601, { inputIndex: 1, outputs }), env(601));
    assert.equal(s.next.stage, 'secondLevel');
    const second = offer(s);
    assert.equal(second?.outpoint, `${SECOND_TXID}:1`, 'the output paired with our input');
    assert.equal(second?.witness.kind, 'toLocalDelayed');
    assert.equal(second?.matureHeight, 601 + 144);
    const undo = htlcTimeout.step(s.next as never, { kind: 'SpendUndone', outpoint: rec.outpoint, txid: SECOND_TXID, height: 601 }, env(600));
    assert.equal(undo.next.stage, 'offered');
    assert.ok(undo.effects.some((e) => e.kind === 'CancelSweep' && e.outpoint === `${SECOND_TXID}:1`));
    assert.equal(offer(undo)?.outpoint, rec.outpoint, 'the second-level input offered again');
    const ff = htlcTimeout.step(s.next as never, block(606), env(606));
    assert.deepEqual(reportsOf(ff).map((r) => [r.stage, r.outcome]), [[1, 'firstStage']]);
    assert.equal(notes(ff)[0]?.event, 'htlcFailedOnChain');
    const sw = htlcTimeout.step(ff.next as never, spend(`${SECOND_TXID}:1`, SWEEP_TXID, 745), env(745));
    assert.equal(sw.next.stage, 'secondConfirming');
    assert.equal(htlcTimeout.step(sw.next as never, block(749), env(749)).finished, undefined);
    const done = htlcTimeout.step(sw.next as never, block(750), env(750));
    assert.equal(done.finished, true);
    assert.deepEqual(reportsOf(done).map((r) => [r.stage, r.outcome, r.outpoint]), [[2, 'timeout', `${SECOND_TXID}:1`]]);
    assert.equal(htlcTimeout.view(done.next as never, 750).recoveredSat, 50000n);
  });

  it('our commitment (static_remotekey): the pre-signed transaction is published at the CLTV, not a block before', () => {
    const rec = htlcRecord({ direction: 'outgoing', closeType: 'local', format: 'static_remotekey', cltvExpiry: 600 });
    const r0 = htlcTimeout.init(rec);
    assert.equal(htlcTimeout.wake(r0), 600);
    assert.ok(!kinds(htlcTimeout.step(r0, launch(599), env(599))).includes('Broadcast'));
    assert.ok(!kinds(htlcTimeout.step(r0, block(599), env(599))).includes('Broadcast'));
    assert.ok(kinds(htlcTimeout.step(r0, block(600), env(600))).includes('Broadcast'));
    assert.ok(!kinds(htlcTimeout.step(r0, launch(600), env(600))).includes('OfferSweep'), 'never offered to the sweeper');
  });

  it('the peer claiming it on our commitment with the preimage: learned, settled, the second-level offer withdrawn', () => {
    const rec = htlcRecord({ direction: 'outgoing', closeType: 'local', format: 'anchors', cltvExpiry: 600 });
    const r0 = htlcTimeout.init(rec);
    const s = htlcTimeout.step(r0, spend(rec.outpoint, PEER_TXID, 590, { ours: false, witness: ['30', PREIMAGE, '00'] }), env(590));
    assert.equal((s.next as HtlcClaim).byPeer, true);
    assert.ok(kinds(s).includes('LearnedPreimage'));
    assert.ok(kinds(s).includes('CancelSweep'));
  });
});

describe('htlcIncomingContest and htlcSuccess', () => {
  const remote = htlcRecord({ direction: 'incoming', closeType: 'remote', format: 'static_remotekey', cltvExpiry: 700 });

  it('waits on the payment hash; a preimage swaps in htlcSuccess; the expiry without one is a timeout', () => {
    const r0 = htlcIncomingContest.init(remote);
    assert.equal(htlcIncomingContest.waitsOn?.(r0), PAYMENT_HASH);
    assert.equal(htlcIncomingContest.step(r0, { kind: 'Preimage', paymentHash: '00'.repeat(32), preimage: PREIMAGE }, env(600)).successor, undefined);
    const s = htlcIncomingContest.step(r0, { kind: 'Preimage', paymentHash: PAYMENT_HASH, preimage: PREIMAGE }, env(600));
    assert.equal(s.successor?.kind, 'htlcSuccess');
    assert.equal((s.successor as HtlcClaim).preimage, PREIMAGE);
    const l = htlcIncomingContest.step(r0, { kind: 'Launch', height: 600, preimage: PREIMAGE }, env(600));
    assert.equal(l.successor?.kind, 'htlcSuccess', 'a preimage already held at launch');
    assert.equal(htlcIncomingContest.step(r0, block(699), env(699)).finished, undefined);
    const t = htlcIncomingContest.step(r0, block(700), env(700));
    assert.equal(t.finished, true);
    assert.equal(reportsOf(t)[0]?.outcome, 'timeout');
  });

  it('htlcSuccess from their commitment: direct preimage claim due by the HTLC expiry; a spend without our preimage is their timeout', () => {
    const r0 = htlcSuccess.init({ ...remote, output: { ...remote.output, preimage: PREIMAGE } });
    const o = offer(htlcSuccess.step(r0, launch(600), env(600)));
    assert.equal(o?.witness.kind, 'htlcSuccessDirect');
    assert.equal(o?.deadlineHeight, 700);
    assert.equal(o?.locktime, undefined);
    const theirs = htlcSuccess.step(r0, spend(remote.outpoint, PEER_TXID, 701, { ours: false, witness: ['30', '00'] }), env(701));
    assert.equal((theirs.next as HtlcClaim).byPeer, true);
    const d = htlcSuccess.step(theirs.next as never, block(706), env(706));
    assert.equal(reportsOf(d)[0]?.outcome, 'timeout');
    const ours = htlcSuccess.step(r0, spend(remote.outpoint, SWEEP_TXID, 601, { witness: ['30', PREIMAGE, '00'] }), env(601));
    const d2 = htlcSuccess.step(ours.next as never, block(606), env(606));
    assert.equal(reportsOf(d2)[0]?.outcome, 'claimed');
  });

  it('htlcSuccess on our anchor commitment: the second-level success pair carries the preimage', () => {
    const rec = htlcRecord({ direction: 'incoming', closeType: 'local', format: 'anchors', cltvExpiry: 700 });
    const c = htlcIncomingContest.step(htlcIncomingContest.init(rec), { kind: 'Preimage', paymentHash: PAYMENT_HASH, preimage: PREIMAGE }, env(600));
    const o = offer(htlcSuccess.step(c.successor as never, launch(600), env(600)));
    assert.ok(o?.witness.kind === 'htlcSecondLevel' && o.witness.preimage === PREIMAGE);
    assert.equal(o?.locktime, undefined);
    assert.equal(o?.matureHeight, CLOSE_HEIGHT + 1);
  });
});

describe('helpers and registry', () => {
  it('findPreimage takes only a 32-byte item that hashes to the payment hash', () => {
    assert.equal(findPreimage(['00'.repeat(32), PREIMAGE], PAYMENT_HASH), PREIMAGE);
    assert.equal(findPreimage(['00'.repeat(32)], PAYMENT_HASH), undefined);
    assert.equal(findPreimage([PREIMAGE.slice(2)], PAYMENT_HASH), undefined);
  });

  it('every kind is registered (breach too); a value survives JSON and steps the same', () => {
    assert.deepEqual(Object.keys(RESOLVER_KINDS).sort(), ['anchor', 'breach', 'commitSweep', 'htlcIncomingContest', 'htlcOutgoingContest', 'htlcSuccess', 'htlcTimeout']);
    const rec = htlcRecord({ direction: 'outgoing', closeType: 'local', format: 'anchors', cltvExpiry: 600 });
    const r0 = htlcTimeout.init(rec);
    const copy = JSON.parse(JSON.stringify(r0)) as ResolverBase;
    assert.deepEqual(htlcTimeout.step(copy as never, launch(599), env(599)), htlcTimeout.step(r0, launch(599), env(599)));
  });
});
