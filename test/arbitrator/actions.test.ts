/**
 * Chain actions (contractcourt-spec.md 1.7): the go-to-chain rule at its boundaries, dust counted, the wake height,
 * and what each close does with every HTLC: our commitment before and after it confirms (dangling outgoing HTLCs),
 * theirs (current or pending: the other set's outgoing HTLCs failed back) and a breach (fail-backs deduplicated).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  breachFailBacks,
  CHAIN_ACTION_CODE,
  checkDeltas,
  cutoffHeight,
  danglingOutgoing,
  DEFAULT_DELTAS,
  localActions,
  mustGoOnChain,
  nextCutoff,
  preBroadcastFailBacks,
  remoteActions,
  shouldGoOnChain,
  type ChainDeltas,
  type HtlcAction,
} from '../../src/arbitrator/actions.js';
import type { CommitSetFacts, HtlcFact } from '../../src/arbitrator/types.js';
import { CHAIN_ACTION } from '../../src/store/codes.js';
import { incoming, outgoing, paymentHash } from './channel/fixtures.js';

const NONE: ReadonlySet<string> = new Set();
const D = DEFAULT_DELTAS;

/** "action direction id" per action, in order: what a table compares. */
const brief = (actions: readonly HtlcAction[]): string[] => actions.map((a) => `${a.action} ${a.htlc.direction} ${a.htlc.htlcId}`);
const ids = (hs: readonly HtlcFact[]): number[] => hs.map((h) => h.htlcId);

describe('go-to-chain rule', () => {
  it('lnd defaults: outgoing at expiry, incoming with preimage 16 blocks before it', () => {
    assert.deepEqual(D, { outgoing: 0, incoming: 16 });
    assert.ok(Object.isFrozen(D));
  });

  it('an outgoing HTLC stays one block before its expiry and goes on chain at it', () => {
    const h = outgoing(0, 500);
    assert.equal(cutoffHeight(h, NONE, D), 500);
    assert.equal(shouldGoOnChain(h, 499, NONE, D), false);
    assert.equal(shouldGoOnChain(h, 500, NONE, D), true);
    assert.equal(shouldGoOnChain(h, 501, NONE, D), true);
  });

  it('an incoming HTLC with its preimage stays at expiry-17 and goes on chain at expiry-16', () => {
    const h = incoming(0, 500);
    const pre = new Set([h.paymentHash]);
    assert.equal(cutoffHeight(h, pre, D), 484);
    assert.equal(shouldGoOnChain(h, 483, pre, D), false);
    assert.equal(shouldGoOnChain(h, 484, pre, D), true);
  });

  it('an incoming HTLC that is dust on our commitment never takes the channel on chain, even with its preimage (review)', () => {
    const h = incoming(0, 500, { dust: true });
    const pre = new Set([h.paymentHash]);
    assert.equal(cutoffHeight(h, pre, D), undefined);
    for (const height of [484, 500, 10_000]) assert.equal(shouldGoOnChain(h, height, pre, D), false);
  });

  it('an incoming HTLC without its preimage never takes the channel on chain', () => {
    const h = incoming(0, 500);
    const other = new Set([paymentHash(99)]);
    assert.equal(cutoffHeight(h, other, D), undefined);
    for (const height of [0, 484, 500, 10_000]) assert.equal(shouldGoOnChain(h, height, other, D), false);
  });

  it('custom deltas move both boundaries, and a cutoff never goes below height 0', () => {
    const d: ChainDeltas = { outgoing: 10, incoming: 40 };
    const out = outgoing(0, 500);
    const inc = incoming(1, 500);
    const pre = new Set([inc.paymentHash]);
    assert.equal(shouldGoOnChain(out, 489, pre, d), false);
    assert.equal(shouldGoOnChain(out, 490, pre, d), true);
    assert.equal(shouldGoOnChain(inc, 459, pre, d), false);
    assert.equal(shouldGoOnChain(inc, 460, pre, d), true);
    assert.equal(cutoffHeight(incoming(2, 10), new Set([paymentHash(2)]), d), 0);
    assert.equal(cutoffHeight(outgoing(3, 5), NONE, d), 0);
  });

  it('checkDeltas accepts integers in 0..65535 and refuses anything else with a RangeError', () => {
    assert.deepEqual(checkDeltas({ outgoing: 0, incoming: 65535 }), { outgoing: 0, incoming: 65535 });
    for (const bad of [{ outgoing: -1, incoming: 16 }, { outgoing: 0, incoming: 1.5 }, { outgoing: 65536, incoming: 0 }, { outgoing: Number.NaN, incoming: 0 }]) {
      assert.throws(() => checkDeltas(bad), RangeError);
    }
  });

  it('a dust HTLC counts: an expired dust HTLC we offered alone takes the channel on chain', () => {
    const set: CommitSetFacts = { local: [outgoing(0, 500, { dust: true })], remote: [] };
    assert.equal(mustGoOnChain(set, 499, NONE, D), false);
    assert.equal(mustGoOnChain(set, 500, NONE, D), true);
  });
});

describe('nextCutoff (the wake height)', () => {
  it('is the lowest cutoff over our set and the dangling outgoing HTLCs', () => {
    const set: CommitSetFacts = {
      local: [outgoing(0, 700), incoming(1, 650)],
      remote: [outgoing(0, 700), incoming(1, 650), outgoing(2, 620)],
      remotePending: [outgoing(3, 610)],
    };
    assert.equal(nextCutoff(set, NONE, D), 610); // dangling 3 (pending only) beats dangling 2 and our outgoing 0
    assert.equal(nextCutoff(set, new Set([paymentHash(1)]), D), 610);
    assert.equal(nextCutoff({ ...set, remotePending: [] }, new Set([paymentHash(1)]), D), 620);
    assert.equal(nextCutoff({ local: set.local, remote: [] }, new Set([paymentHash(1)]), D), 634); // incoming 1: 650 - 16
  });

  it('skips dangling HTLCs whose preimage we know and incoming HTLCs without one; undefined when nothing forces a close', () => {
    const set: CommitSetFacts = { local: [incoming(1, 650)], remote: [incoming(1, 650), outgoing(2, 620)] };
    assert.equal(nextCutoff(set, NONE, D), 620);
    assert.equal(nextCutoff(set, new Set([paymentHash(2)]), D), undefined);
    assert.equal(nextCutoff({ local: [], remote: [] }, NONE, D), undefined);
    assert.equal(mustGoOnChain(set, 10_000, new Set([paymentHash(2)]), D), false);
  });
});

describe('danglingOutgoing', () => {
  it('lists outgoing HTLCs on either remote set but not on ours, once each, skipping known preimages and incoming ones', () => {
    const set: CommitSetFacts = {
      local: [outgoing(0, 700)],
      remote: [outgoing(0, 700), outgoing(2, 620), incoming(3, 600), outgoing(4, 630)],
      remotePending: [outgoing(2, 620), outgoing(5, 640)],
    };
    assert.deepEqual(ids(danglingOutgoing(set, NONE)), [2, 4, 5]);
    assert.deepEqual(ids(danglingOutgoing(set, new Set([paymentHash(4)]))), [2, 5]);
  });

  it('matches by direction and id: an incoming HTLC with the same id does not hide an outgoing one', () => {
    const set: CommitSetFacts = { local: [incoming(2, 700)], remote: [outgoing(2, 620)] };
    assert.deepEqual(ids(danglingOutgoing(set, NONE)), [2]);
  });
});

describe('localActions', () => {
  const set: CommitSetFacts = {
    local: [outgoing(0, 500), outgoing(1, 600), outgoing(2, 500, { dust: true }), incoming(3, 510), incoming(4, 510, { dust: true })],
    remote: [outgoing(0, 500), outgoing(5, 520), outgoing(6, 480, { dust: true })],
    remotePending: [outgoing(7, 900)],
  };

  it('before broadcast: each HTLC of our set gets its action; dangling ones only once past their cutoff', () => {
    assert.deepEqual(brief(localActions(set, 500, NONE, D, false)), [
      'timeout outgoing 0',
      'outgoingWatch outgoing 1',
      'failDust outgoing 2',
      'incomingWatch incoming 3',
      'incomingDustFinal incoming 4',
      'failDust outgoing 6',
    ]);
    // At 520 dangling 5 joins; 7 (900) still waits.
    assert.deepEqual(brief(localActions(set, 520, NONE, D, false)).slice(5), ['failDangling outgoing 5', 'failDust outgoing 6']);
  });

  it('once our commitment confirmed: every dangling outgoing HTLC is failed back, whatever its expiry', () => {
    assert.deepEqual(brief(localActions(set, 400, NONE, D, true)), [
      'outgoingWatch outgoing 0',
      'outgoingWatch outgoing 1',
      'failDust outgoing 2',
      'incomingWatch incoming 3',
      'incomingDustFinal incoming 4',
      'failDangling outgoing 5',
      'failDust outgoing 6',
      'failDangling outgoing 7',
    ]);
  });

  it('a dangling HTLC whose preimage we know is skipped (it is claimed, not failed); an incoming one with preimage stays a watch', () => {
    const pre = new Set([paymentHash(5), paymentHash(7), paymentHash(3)]);
    const actions = brief(localActions(set, 600, pre, D, true));
    assert.ok(!actions.some((a) => a.endsWith('outgoing 5') || a.endsWith('outgoing 7')), actions.join(', '));
    assert.ok(actions.includes('incomingWatch incoming 3'));
  });

  it('an outgoing HTLC is timed out exactly from its cutoff (custom delta)', () => {
    const d = { outgoing: 3, incoming: 16 };
    const one: CommitSetFacts = { local: [outgoing(0, 500)], remote: [] };
    assert.deepEqual(brief(localActions(one, 496, NONE, d, true)), ['outgoingWatch outgoing 0']);
    assert.deepEqual(brief(localActions(one, 497, NONE, d, true)), ['timeout outgoing 0']);
  });
});

describe('remoteActions', () => {
  const set: CommitSetFacts = {
    local: [outgoing(0, 500)],
    remote: [outgoing(0, 500), outgoing(1, 700, { dust: true }), incoming(2, 510), outgoing(3, 520), incoming(9, 510, { dust: true })],
    remotePending: [outgoing(0, 500), incoming(2, 510), outgoing(4, 530), outgoing(5, 540, { dust: true }), incoming(6, 550), outgoing(8, 560)],
  };

  it('their current commitment: its HTLCs get actions, outgoing HTLCs only on the pending one are failed back', () => {
    assert.deepEqual(brief(remoteActions(set, 'remote', 510, NONE, D)), [
      'timeout outgoing 0',
      'failDust outgoing 1',
      'incomingWatch incoming 2',
      'outgoingWatch outgoing 3',
      'incomingDustFinal incoming 9',
      'failDangling outgoing 4',
      'failDust outgoing 5',
      'failDangling outgoing 8',
    ]);
  });

  it('their pending commitment: outgoing HTLCs only on the current one are failed back; incoming ones are not', () => {
    assert.deepEqual(brief(remoteActions(set, 'remotePending', 510, NONE, D)), [
      'timeout outgoing 0',
      'incomingWatch incoming 2',
      'outgoingWatch outgoing 4',
      'failDust outgoing 5',
      'incomingWatch incoming 6',
      'outgoingWatch outgoing 8',
      'failDust outgoing 1',
      'failDangling outgoing 3',
    ]);
  });

  it('an outgoing HTLC only our own commitment carried is failed back when theirs confirms (noted by review)', () => {
    const localOnly: CommitSetFacts = { local: [outgoing(0, 500), outgoing(7, 600)], remote: [outgoing(0, 500)] };
    assert.deepEqual(brief(remoteActions(localOnly, 'remote', 510, NONE, D)), ['timeout outgoing 0', 'failDangling outgoing 7']);
    assert.deepEqual(brief(remoteActions(localOnly, 'remote', 510, new Set([paymentHash(7)]), D)), ['timeout outgoing 0']);
  });

  it('skips the other set outgoing HTLCs whose preimage we know', () => {
    const pre = new Set([paymentHash(4), paymentHash(3)]);
    assert.ok(!brief(remoteActions(set, 'remote', 510, pre, D)).includes('failDangling outgoing 4'));
    assert.ok(!brief(remoteActions(set, 'remotePending', 510, pre, D)).includes('failDangling outgoing 3'));
    assert.ok(brief(remoteActions(set, 'remote', 510, pre, D)).includes('failDangling outgoing 8'));
  });

  it('a pending close without a pending set confirms nothing and fails back every outgoing HTLC of their current one', () => {
    const noPending: CommitSetFacts = { local: set.local, remote: set.remote };
    assert.deepEqual(brief(remoteActions(noPending, 'remotePending', 510, NONE, D)), ['failDangling outgoing 0', 'failDust outgoing 1', 'failDangling outgoing 3']);
    assert.equal(remoteActions(noPending, 'remote', 510, NONE, D).length, 5);
  });
});

describe('preBroadcastFailBacks (issue 9 item 6)', () => {
  // 0: dust on every commitment; 1: dust on ours, an output on their current; 2: dust on ours and their current,
  // an output on their pending; 3: dust on ours, absent from theirs (removed there); 4: dust everywhere, preimage
  // held; 5: dangling dust (theirs only) past its cutoff; 6: dangling dust before its cutoff; 7: dangling, dust on
  // their current, an output on their pending; 8: not dust anywhere.
  const set: CommitSetFacts = {
    local: [0, 1, 2, 3, 4].map((id) => outgoing(id, 500, { dust: true })).concat([outgoing(8, 500)]),
    remote: [
      outgoing(0, 500, { dust: true }),
      outgoing(1, 500),
      outgoing(2, 500, { dust: true }),
      outgoing(4, 500, { dust: true }),
      outgoing(5, 490, { dust: true }),
      outgoing(6, 700, { dust: true }),
      outgoing(7, 490, { dust: true }),
      outgoing(8, 500),
    ],
    remotePending: [
      outgoing(0, 500, { dust: true }),
      outgoing(1, 500),
      outgoing(2, 500),
      outgoing(4, 500, { dust: true }),
      outgoing(7, 490),
      outgoing(8, 500),
    ],
  };

  it('fails back only HTLCs dust (or absent) on ours, their current and their pending, without a known preimage', () => {
    assert.deepEqual(ids(preBroadcastFailBacks(set, 500, new Set([paymentHash(4)]), D)), [0, 3, 5]);
  });

  it('without a pending commitment, dust on ours and their current is enough', () => {
    const noPending: CommitSetFacts = { local: set.local, remote: set.remote };
    assert.deepEqual(ids(preBroadcastFailBacks(noPending, 500, NONE, D)), [0, 2, 3, 4, 5, 7]);
  });

  it('a dangling dust HTLC is failed back only from its cutoff on (one block before: not yet)', () => {
    assert.deepEqual(ids(preBroadcastFailBacks(set, 699, NONE, D)), [0, 3, 4, 5]);
    assert.deepEqual(ids(preBroadcastFailBacks(set, 700, NONE, D)), [0, 3, 4, 5, 6]);
  });
});

describe('breachFailBacks', () => {
  it('fails back every outgoing HTLC of either remote set, once per id, dust included; incoming and local-only ones are not', () => {
    const set: CommitSetFacts = {
      local: [outgoing(0, 500), outgoing(10, 500)],
      remote: [outgoing(0, 500), incoming(1, 500), outgoing(2, 500, { dust: true })],
      remotePending: [outgoing(0, 500), outgoing(3, 520), incoming(4, 520)],
    };
    assert.deepEqual(ids(breachFailBacks(set)), [0, 2, 3]);
    assert.deepEqual(ids(breachFailBacks({ local: [], remote: [] })), []);
  });
});

describe('CHAIN_ACTION_CODE', () => {
  it('persists lnd chain action numbers (HtlcClaim is never produced)', () => {
    assert.deepEqual(CHAIN_ACTION_CODE, {
      timeout: CHAIN_ACTION.HtlcTimeout,
      failDust: CHAIN_ACTION.HtlcFailDust,
      outgoingWatch: CHAIN_ACTION.HtlcOutgoingWatch,
      incomingWatch: CHAIN_ACTION.HtlcIncomingWatch,
      incomingDustFinal: CHAIN_ACTION.HtlcIncomingDustFinal,
      failDangling: CHAIN_ACTION.HtlcFailDangling,
    });
    assert.deepEqual(Object.values(CHAIN_ACTION_CODE).sort(), [1, 3, 4, 5, 6, 7]);
  });
});
