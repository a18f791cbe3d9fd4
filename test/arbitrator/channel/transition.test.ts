/**
 * The ChannelArbitrator's pure transition (style.md principle 12): transition tables of named rows, a sweep over
 * every (sample state, sample event) pair against a written-out table of outcome classes, determinism and
 * immutability, and the codecs of every sample state, event and effect.
 *
 * Tests named "regression" pin bugs these tests found in transition.ts and types.ts (a dust HTLC failed back
 * twice on a breach, an HTLC output without a resolver, inherited names decoded as kinds); each failed before its fix.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import { isRefusal, type Refusal, type Step, type TransitionResult } from '../../../src/fsm/index.js';
import { pulse, transition, wakeHeight } from '../../../src/arbitrator/channel/transition.js';
import {
  effectCodec,
  EFFECT_CODE,
  EFFECT_KINDS,
  eventCodec,
  EVENT_CODE,
  EVENT_KINDS,
  stateCodec,
  STATE_CODE,
  STATE_KINDS,
  type ArbEffect,
  type ArbEvent,
  type ArbEventKind,
  type ArbState,
  type ArbStateKind,
  type ChannelFacts,
  type CloseInfo,
  type ResolverRecord,
  type SupersedeRecord,
} from '../../../src/arbitrator/channel/types.js';
import type { CloseType, OutputResolution } from '../../../src/arbitrator/types.js';
import type { CodedCodec, Json } from '../../../src/fsm/index.js';
import { CourtError, type CourtErrorCode } from '../../../src/util/errors.js';
import {
  anchorOutpoint,
  channelFacts,
  DUST_FAILED,
  closeResolutions,
  commitOutpoint,
  deepFreeze,
  EFFECT_SAMPLES,
  EVENT_SAMPLES,
  HEIGHT,
  IN3,
  IN4_DUST,
  incoming,
  LOCAL_CLOSE,
  OTHER_TXID,
  OUT1,
  OUT2_DUST,
  OUT5_DANGLING,
  OUT6_PENDING,
  outgoing,
  RICH_FACTS,
  sampleStates,
  SPEND_HEX,
  SPEND_RESOLVING,
  SPEND_SEEN,
  SPEND_TXID,
  STATE_SAMPLES,
  UNRESOLVED,
} from './fixtures.js';

type ArbStep = Step<ArbState, ArbEffect>;

const short = (txid: string): string => txid.slice(0, 4);

/** A compact, order-preserving label of an effect with its key fields. */
function label(e: ArbEffect): string {
  switch (e.kind) {
    case 'BroadcastTx':
      return `BroadcastTx ${e.snapshotSeq}/${e.commitmentNumber}`;
    case 'NotifyNode': {
      const p = e.payload as { htlcId?: number; direction?: string };
      return p.htlcId === undefined ? `NotifyNode ${e.event}` : `NotifyNode ${e.event} ${String(p.direction)} ${p.htlcId}`;
    }
    case 'FailHtlcsUpstream':
      return `FailHtlcsUpstream ${e.reason} ${e.htlc.direction} ${e.htlc.htlcId}`;
    case 'LaunchResolvers':
      return 'LaunchResolvers';
    case 'ResolveClose':
      return `ResolveClose ${short(e.txid)}@${e.height}`;
  }
}

const recordLabel = (r: ResolverRecord | SupersedeRecord): string =>
  r.kind === 'supersedeResolvers' ? `supersede ${short(r.closeTxid)}@${r.height}` : `${r.kind} ${r.outpoint.replace(SPEND_TXID, short(SPEND_TXID))}`;
const records = (s: ArbStep): ResolverRecord[] => (s.records ?? []) as ResolverRecord[];

/** The env a row runs with: the event's height for blocks, else `height` (HEIGHT + 2 by default). */
function envFor(event: ArbEvent, height?: number): { height: number } {
  if (height !== undefined) return { height };
  return { height: event.kind === 'BlockConnected' || event.kind === 'BlockDisconnected' ? event.height : HEIGHT + 2 };
}

function accepted(r: TransitionResult<ArbState, ArbEffect>): ArbStep {
  assert.ok(!isRefusal(r), `expected a step, got a refusal: ${isRefusal(r) ? r.reason : ''}`);
  return r as ArbStep;
}

function refused(r: TransitionResult<ArbState, ArbEffect>): Refusal {
  assert.ok(isRefusal(r), `expected a refusal, got ${JSON.stringify(r)}`);
  return r;
}

const block = (height: number, spend?: { txid: string; txHex: string }): ArbEvent =>
  spend === undefined ? { kind: 'BlockConnected', height, hash: `${height}`.padStart(64, '0') } : { kind: 'BlockConnected', height, hash: `${height}`.padStart(64, '0'), spend };
const disconnect = (height: number): ArbEvent => ({ kind: 'BlockDisconnected', height, hash: `${height}`.padStart(64, '0') });
const closeConfirmed = (type: CloseType, facts: ChannelFacts = RICH_FACTS, txid = SPEND_TXID, height = HEIGHT + 2): ArbEvent => ({
  kind: 'CloseConfirmed',
  txid,
  height,
  resolutions: closeResolutions(type, { facts, txid }),
});
const closeOf = (type: CloseType, height = HEIGHT + 2): CloseInfo => {
  if (type === 'coop') return { type, txid: SPEND_TXID, height };
  // Their close keeps its transaction (a late revocation reclassifies it).
  if (type === 'remote' || type === 'remotePending') return { type, txid: SPEND_TXID, height, commitmentNumber: 42, txHex: SPEND_HEX };
  return { type, txid: SPEND_TXID, height, commitmentNumber: 42 };
};
function contractClosed(
  type: CloseType,
  o: { facts?: ChannelFacts; height?: number; anchor?: boolean; commitOutput?: boolean; failed?: readonly number[]; broadcasting?: true } = {},
): ArbState {
  const facts = o.facts ?? RICH_FACTS;
  return {
    kind: 'ContractClosed',
    facts,
    failed: o.failed ?? [],
    close: closeOf(type, o.height),
    resolutions: closeResolutions(type, { facts, ...(o.anchor === undefined ? {} : { anchor: o.anchor }), ...(o.commitOutput === undefined ? {} : { commitOutput: o.commitOutput }) }),
    ...(o.broadcasting === undefined ? {} : { broadcasting: o.broadcasting }),
  };
}

/** Facts for the go-to-chain rows: our set OUT1 (1100), OUT2 dust, IN3; theirs adds OUT5 (1150, dangling). */
const FORCE_FACTS = channelFacts({ local: [OUT1, OUT2_DUST, IN3], remote: [OUT1, OUT2_DUST, IN3, OUT5_DANGLING] });

interface Row {
  readonly name: string;
  readonly state: ArbState;
  readonly event: ArbEvent;
  /** env.height; default: the block's height, else HEIGHT + 2. */
  readonly height?: number;
  readonly next: ArbStateKind;
  /** Effect labels, in order. */
  readonly effects: readonly string[];
  /** Resolver record labels, in order (default none). */
  readonly records?: readonly string[];
  /** The next state, when the row pins it exactly ("ignored" rows: the state itself). */
  readonly state2?: ArbState;
  readonly check?: (s: ArbStep) => void;
}

function runRows(rows: readonly Row[]): void {
  for (const row of rows) {
    it(row.name, () => {
      const s = accepted(transition(row.state, row.event, envFor(row.event, row.height)));
      assert.equal(s.state.kind, row.next);
      assert.deepEqual(s.effects.map(label), row.effects);
      assert.deepEqual(records(s).map(recordLabel), row.records ?? []);
      if (row.state2 !== undefined) assert.deepEqual(s.state, row.state2);
      row.check?.(s);
    });
  }
}

const ignoredRow = (name: string, state: ArbState, event: ArbEvent, height?: number): Row => ({
  name,
  state,
  event,
  ...(height === undefined ? {} : { height }),
  next: state.kind,
  effects: [],
  state2: state,
});

describe('transition table: going on chain (Default)', () => {
  runRows([
    {
      name: 'a force close fails dust HTLCs back before our commitment is published',
      state: { kind: 'Default', facts: FORCE_FACTS },
      event: { kind: 'ForceCloseRequested' },
      height: HEIGHT,
      next: 'BroadcastCommit',
      effects: ['FailHtlcsUpstream dust outgoing 2', 'NotifyNode channelClosing', 'BroadcastTx 7/42'],
      state2: { kind: 'BroadcastCommit', trigger: 'user', facts: FORCE_FACTS, failed: [2] },
      check: (s) => {
        const kinds = s.effects.map((e) => e.kind);
        assert.ok(kinds.indexOf('FailHtlcsUpstream') < kinds.indexOf('BroadcastTx'));
        assert.deepEqual(s.effects[1], { kind: 'NotifyNode', event: 'channelClosing', payload: { v: 1, stage: 'broadcasting', trigger: 'user', height: HEIGHT } });
      },
    },
    ignoredRow('a block one below the earliest cutoff is ignored', { kind: 'Default', facts: FORCE_FACTS }, block(1099)),
    {
      name: 'a block at the earliest cutoff goes on chain with trigger chain, dust failed back first',
      state: { kind: 'Default', facts: FORCE_FACTS },
      event: block(1100),
      next: 'BroadcastCommit',
      effects: ['FailHtlcsUpstream dust outgoing 2', 'NotifyNode channelClosing', 'BroadcastTx 7/42'],
      state2: { kind: 'BroadcastCommit', trigger: 'chain', facts: FORCE_FACTS, failed: [2] },
    },
    ignoredRow(
      'an incoming HTLC with its preimage: a block at expiry-17 is ignored',
      { kind: 'Default', facts: channelFacts({ local: [IN3], remote: [IN3], preimages: [IN3.paymentHash] }) },
      block(1183),
    ),
    {
      name: 'an incoming HTLC with its preimage: a block at expiry-16 goes on chain',
      state: { kind: 'Default', facts: channelFacts({ local: [IN3], remote: [IN3], preimages: [IN3.paymentHash] }) },
      event: block(1184),
      next: 'BroadcastCommit',
      effects: ['NotifyNode channelClosing', 'BroadcastTx 7/42'],
    },
    ignoredRow('an incoming HTLC without its preimage never forces a close', { kind: 'Default', facts: channelFacts({ local: [IN3], remote: [IN3] }) }, block(5000)),
    ignoredRow('a block means nothing before the first snapshot', { kind: 'Default' }, block(5000)),
    ignoredRow('BroadcastCommit does not re-step on a block', { kind: 'BroadcastCommit', trigger: 'user', facts: FORCE_FACTS, failed: [2] }, block(1100)),
    {
      name: 'a dangling HTLC past its cutoff is not failed back before the broadcast (their commitment carrying it may confirm)',
      state: { kind: 'Default', facts: channelFacts({ local: [OUT1], remote: [OUT1, outgoing(5, 1050)] }) },
      event: { kind: 'ForceCloseRequested' },
      height: 1100,
      next: 'BroadcastCommit',
      effects: ['NotifyNode channelClosing', 'BroadcastTx 7/42'],
      check: (s) => assert.deepEqual(s.state.kind === 'BroadcastCommit' && s.state.failed, []),
    },
    {
      name: 'an incoming dust HTLC is not declared failed before the broadcast (it may be non-dust on their commitment)',
      state: { kind: 'Default', facts: channelFacts({ local: [OUT1, IN4_DUST], remote: [OUT1, incoming(4, 1200)] }) },
      event: { kind: 'ForceCloseRequested' },
      next: 'BroadcastCommit',
      effects: ['NotifyNode channelClosing', 'BroadcastTx 7/42'],
    },
    {
      name: 'a dangling dust HTLC past its cutoff is failed back before the broadcast and remembered as failed',
      state: { kind: 'Default', facts: channelFacts({ local: [OUT1], remote: [OUT1, outgoing(8, HEIGHT, { dust: true }), outgoing(9, 1300, { dust: true })] }) },
      event: { kind: 'ForceCloseRequested' },
      next: 'BroadcastCommit',
      effects: ['FailHtlcsUpstream dust outgoing 8', 'NotifyNode channelClosing', 'BroadcastTx 7/42'],
      check: (s) => assert.deepEqual(s.state.kind === 'BroadcastCommit' && s.state.failed, [8]),
    },
    {
      name: 'a newer snapshot replaces the facts',
      state: { kind: 'Default', facts: RICH_FACTS },
      event: EVENT_SAMPLES.ChannelUpdated,
      next: 'Default',
      effects: [],
      state2: { kind: 'Default', facts: EVENT_SAMPLES.ChannelUpdated.facts },
    },
  ]);

  it('an older snapshot is refused with COURT_E_SNAPSHOT_CONFLICT; a force close before any snapshot with COURT_E_SNAPSHOT_INVALID', () => {
    const older = refused(transition({ kind: 'Default', facts: RICH_FACTS }, { kind: 'ChannelUpdated', facts: { ...RICH_FACTS, snapshotSeq: 6 } }, { height: HEIGHT }));
    assert.equal(older.code, 'COURT_E_SNAPSHOT_CONFLICT');
    assert.equal(refused(transition({ kind: 'Default' }, { kind: 'ForceCloseRequested' }, { height: HEIGHT })).code, 'COURT_E_SNAPSHOT_INVALID');
  });
});

describe('transition table: broadcasting', () => {
  const bc: ArbState = STATE_SAMPLES.BroadcastCommit.user;
  runRows([
    {
      name: 'CommitmentPublished moves BroadcastCommit to CommitmentBroadcasted with the txid',
      state: bc,
      event: EVENT_SAMPLES.CommitmentPublished,
      next: 'CommitmentBroadcasted',
      effects: [],
      state2: STATE_SAMPLES.CommitmentBroadcasted.published,
    },
    {
      name: 'CommitmentPublished keeps a spend seen while broadcasting',
      state: { ...bc, spend: SPEND_SEEN },
      event: EVENT_SAMPLES.CommitmentPublished,
      next: 'CommitmentBroadcasted',
      effects: [],
      state2: { ...STATE_SAMPLES.CommitmentBroadcasted.published, spend: SPEND_SEEN },
    },
    ignoredRow('the same CommitmentPublished again is ignored', STATE_SAMPLES.CommitmentBroadcasted.published, EVENT_SAMPLES.CommitmentPublished),
    {
      name: 'CommitmentPublished for another txid in CommitmentBroadcasted is an Error',
      state: STATE_SAMPLES.CommitmentBroadcasted.published,
      event: { kind: 'CommitmentPublished', txid: OTHER_TXID },
      next: 'Error',
      effects: [],
      check: (s) => assert.equal(s.state.kind === 'Error' && s.state.from, 'CommitmentBroadcasted'),
    },
    {
      name: 'a failed BroadcastTx is kept as lastError for operators',
      state: bc,
      event: EVENT_SAMPLES.EffectFailed,
      next: 'BroadcastCommit',
      effects: [],
      state2: { ...bc, lastError: EVENT_SAMPLES.EffectFailed.error } as ArbState,
    },
    ignoredRow('another failed effect in BroadcastCommit is ignored', bc, { kind: 'EffectFailed', outboxId: 4, effect: 'NotifyNode', error: 'node away' }),
  ]);
});

describe('transition table: a funding spend and its depth', () => {
  const facts: ArbState = { kind: 'Default', facts: RICH_FACTS };
  const spend = { txid: SPEND_TXID, txHex: SPEND_HEX };
  runRows([
    {
      name: 'a spend with depth 3 is recorded, nothing else',
      state: facts,
      event: block(HEIGHT, spend),
      next: 'Default',
      effects: [],
      state2: STATE_SAMPLES.Default.spendSeen,
    },
    ignoredRow('a block before the depth is reached is ignored', STATE_SAMPLES.Default.spendSeen, block(HEIGHT + 1)),
    {
      name: 'the block that reaches the depth asks for ResolveClose once (resolving)',
      state: STATE_SAMPLES.Default.spendSeen,
      event: block(HEIGHT + 2),
      next: 'Default',
      effects: [`ResolveClose ${short(SPEND_TXID)}@${HEIGHT}`],
      state2: STATE_SAMPLES.Default.spendResolving,
      check: (s) => assert.deepEqual(s.effects[0], { kind: 'ResolveClose', txid: SPEND_TXID, txHex: SPEND_HEX, height: HEIGHT, snapshotSeq: 7 }),
    },
    ignoredRow('a second block does not ask again', STATE_SAMPLES.Default.spendResolving, block(HEIGHT + 3)),
    ignoredRow('the same spend delivered again is ignored', STATE_SAMPLES.Default.spendResolving, block(HEIGHT + 3, spend)),
    {
      name: 'with closeDepth 1 the spend is resolved in its own block',
      state: { kind: 'Default', facts: { ...RICH_FACTS, closeDepth: 1 } },
      event: block(HEIGHT, spend),
      next: 'Default',
      effects: [`ResolveClose ${short(SPEND_TXID)}@${HEIGHT}`],
      state2: { kind: 'Default', facts: { ...RICH_FACTS, closeDepth: 1 }, spend: { ...SPEND_SEEN, depth: 1, resolving: true } },
    },
    {
      name: 'before any snapshot the depth is 1',
      state: { kind: 'Default' },
      event: block(HEIGHT, spend),
      next: 'Default',
      effects: [`ResolveClose ${short(SPEND_TXID)}@${HEIGHT}`],
      state2: { kind: 'Default', spend: { ...SPEND_SEEN, depth: 1, resolving: true } },
    },
    {
      name: 'a spend is recorded in BroadcastCommit too',
      state: STATE_SAMPLES.BroadcastCommit.user,
      event: block(HEIGHT, spend),
      next: 'BroadcastCommit',
      effects: [],
      state2: { ...STATE_SAMPLES.BroadcastCommit.user, spend: SPEND_SEEN },
    },
    {
      name: 'BlockDisconnected at the spend height clears it',
      state: STATE_SAMPLES.Default.spendSeen,
      event: disconnect(HEIGHT),
      next: 'Default',
      effects: [],
      state2: facts,
      check: (s) => assert.ok(!('spend' in s.state), 'the spend key is removed, not set to undefined'),
    },
    {
      name: 'BlockDisconnected at the spend height clears it while it is being resolved',
      state: STATE_SAMPLES.Default.spendResolving,
      event: disconnect(HEIGHT),
      next: 'Default',
      effects: [],
      state2: facts,
    },
    {
      name: 'BlockDisconnected below the spend height clears it (CommitmentBroadcasted)',
      state: STATE_SAMPLES.CommitmentBroadcasted.spendResolving,
      event: disconnect(HEIGHT - 1),
      next: 'CommitmentBroadcasted',
      effects: [],
      state2: STATE_SAMPLES.CommitmentBroadcasted.published,
    },
    ignoredRow('BlockDisconnected above the spend height keeps it', STATE_SAMPLES.Default.spendSeen, disconnect(HEIGHT + 1)),
    ignoredRow('CloseConfirmed for a stale txid is ignored', STATE_SAMPLES.Default.spendResolving, closeConfirmed('local', RICH_FACTS, OTHER_TXID)),
    ignoredRow('CloseConfirmed before ResolveClose was asked is ignored', STATE_SAMPLES.Default.spendSeen, closeConfirmed('local')),
    ignoredRow('CloseConfirmed after the spend was reorged out is ignored', facts, closeConfirmed('local')),
  ]);

  it('wakeHeight: the earliest cutoff, the spend confirmation height, or nothing', () => {
    assert.equal(wakeHeight({ kind: 'Default' }), undefined);
    assert.equal(wakeHeight({ kind: 'Default', facts: FORCE_FACTS }), 1100);
    assert.equal(wakeHeight(STATE_SAMPLES.Default.spendSeen), HEIGHT + 2);
    assert.equal(wakeHeight(STATE_SAMPLES.Default.spendResolving), undefined);
    assert.equal(wakeHeight(STATE_SAMPLES.BroadcastCommit.user), undefined);
    assert.equal(wakeHeight({ ...STATE_SAMPLES.BroadcastCommit.user, spend: SPEND_SEEN }), HEIGHT + 2);
    for (const k of ['ContractClosed', 'WaitingFullResolution', 'FullyResolved', 'Error'] as const) {
      for (const s of Object.values(STATE_SAMPLES[k])) assert.equal(wakeHeight(s), undefined, k);
    }
  });
});

describe('transition table: a confirmed close', () => {
  const closing = ['local', 'remote', 'remotePending', 'breach', 'future'] as const;
  runRows([
    ...closing.map(
      (type): Row => ({
        name: `CloseConfirmed ${type} -> ContractClosed with the close and its resolutions`,
        state: STATE_SAMPLES.Default.spendResolving,
        event: closeConfirmed(type),
        next: 'ContractClosed',
        effects: [type === 'breach' ? 'NotifyNode breachDetected' : 'NotifyNode channelClosing'],
        state2: { kind: 'ContractClosed', facts: RICH_FACTS, failed: [], close: closeOf(type), resolutions: closeResolutions(type) },
      }),
    ),
    {
      name: 'CloseConfirmed coop -> FullyResolved with channelResolved',
      state: STATE_SAMPLES.Default.spendResolving,
      event: closeConfirmed('coop'),
      next: 'FullyResolved',
      effects: ['NotifyNode channelResolved'],
      state2: { kind: 'FullyResolved', close: closeOf('coop') },
      check: (s) => assert.deepEqual(s.effects[0], { kind: 'NotifyNode', event: 'channelResolved', payload: { v: 1, closeType: 'coop', txid: SPEND_TXID, height: HEIGHT + 2 } }),
    },
    {
      name: 'CloseConfirmed local while our commitment is being broadcast -> ContractClosed',
      state: { ...STATE_SAMPLES.BroadcastCommit.user, spend: SPEND_RESOLVING },
      event: closeConfirmed('local'),
      next: 'ContractClosed',
      effects: ['NotifyNode channelClosing'],
      state2: contractClosed('local', { failed: [2], broadcasting: true }),
    },
    {
      name: 'CloseConfirmed remote after our commitment was published -> ContractClosed',
      state: STATE_SAMPLES.CommitmentBroadcasted.spendResolving,
      event: closeConfirmed('remote'),
      next: 'ContractClosed',
      effects: ['NotifyNode channelClosing'],
      state2: contractClosed('remote', { failed: [2], broadcasting: true }),
    },
    {
      name: 'a spend courtd cannot resolve alone -> CloseUnresolved, the node told, our to_remote claimed meanwhile',
      state: STATE_SAMPLES.Default.spendResolving,
      event: {
        kind: 'CloseConfirmed',
        txid: SPEND_TXID,
        height: HEIGHT + 2,
        unresolved: { why: 'unrecognised', reason: 'no state hint matches', valueAtRiskSat: '1000', claims: [closeResolutions('remote').commitOutput as OutputResolution] },
      },
      next: 'CloseUnresolved',
      effects: ['NotifyNode closeUnresolved', 'LaunchResolvers'],
      records: [`commitSweep ${short(SPEND_TXID)}:0`],
      check: (s) => {
        assert.equal(s.state.kind === 'CloseUnresolved' && s.state.prior.kind, 'Default');
        assert.deepEqual(s.state.kind === 'CloseUnresolved' && s.state.unfinished, [commitOutpoint()]);
        assert.deepEqual(s.records?.map((r) => r.outpoint), [commitOutpoint()]);
      },
    },
    {
      name: 'resolutions for another txid are an Error',
      state: STATE_SAMPLES.Default.spendResolving,
      event: { kind: 'CloseConfirmed', txid: SPEND_TXID, height: HEIGHT + 2, resolutions: closeResolutions('local', { txid: OTHER_TXID }) },
      next: 'Error',
      effects: [],
    },
  ]);
});

describe('transition table: ContractClosed + Persisted (resolvers from the stored close type)', () => {
  const s = short(SPEND_TXID);
  runRows([
    {
      name: 'local close, HTLCs far from expiry: each still gets a resolver (trigger = stored close type, not chain: spec 1.7 hazard)',
      state: contractClosed('local', { anchor: true }),
      event: { kind: 'Persisted' },
      next: 'WaitingFullResolution',
      effects: [
        'FailHtlcsUpstream dust outgoing 2',
        'NotifyNode htlcFailedOnChain incoming 4',
        'FailHtlcsUpstream dangling outgoing 5',
        'FailHtlcsUpstream dangling outgoing 6',
        'LaunchResolvers',
      ],
      records: [`commitSweep ${s}:0`, `anchor ${s}:1`, `htlcOutgoingContest ${s}:2`, `htlcIncomingContest ${s}:3`],
      state2: { kind: 'WaitingFullResolution', close: closeOf('local'), unresolved: [commitOutpoint(), anchorOutpoint(), `${SPEND_TXID}:2`, `${SPEND_TXID}:3`] },
      check: (st) => {
        const [sweep, , out1, in3] = records(st);
        assert.deepEqual(sweep?.state, {
          v: 1,
          closeType: 'local',
          closeTxid: SPEND_TXID,
          closeHeight: HEIGHT + 2,
          output: closeResolutions('local').commitOutput as never,
          deadline: null,
          stage: 'launched',
        });
        assert.equal(out1?.state['deadline'], 1140, 'outgoing: the upstream expiry');
        assert.equal(in3?.state['deadline'], 1200, 'incoming: its own expiry');
        assert.deepEqual((out1?.state['output'] as { htlc: unknown }).htlc, OUT1);
        assert.equal((out1?.state['output'] as { secondLevel?: { kind: string } }).secondLevel?.kind, 'timeout');
        assert.ok(records(st).every((r) => r.v === 1));
      },
    },
    {
      name: 'local close at the outgoing HTLC expiry: a timeout resolver',
      state: contractClosed('local', { height: 1100 }),
      event: { kind: 'Persisted' },
      next: 'WaitingFullResolution',
      effects: ['FailHtlcsUpstream dust outgoing 2', 'NotifyNode htlcFailedOnChain incoming 4', 'FailHtlcsUpstream dangling outgoing 5', 'FailHtlcsUpstream dangling outgoing 6', 'LaunchResolvers'],
      records: [`commitSweep ${s}:0`, `htlcTimeout ${s}:2`, `htlcIncomingContest ${s}:3`],
    },
    {
      name: 'local close after our broadcast: the dust HTLC failed back before it is not failed back again',
      state: contractClosed('local', { failed: [2] }),
      event: { kind: 'Persisted' },
      next: 'WaitingFullResolution',
      effects: ['NotifyNode htlcFailedOnChain incoming 4', 'FailHtlcsUpstream dangling outgoing 5', 'FailHtlcsUpstream dangling outgoing 6', 'LaunchResolvers'],
      records: [`commitSweep ${s}:0`, `htlcOutgoingContest ${s}:2`, `htlcIncomingContest ${s}:3`],
    },
    {
      name: 'remote close: their HTLCs get resolvers, outgoing ones only on their pending commitment are failed back',
      state: contractClosed('remote'),
      event: { kind: 'Persisted' },
      next: 'WaitingFullResolution',
      effects: ['FailHtlcsUpstream dust outgoing 2', 'NotifyNode htlcFailedOnChain incoming 4', 'FailHtlcsUpstream dangling outgoing 6', 'LaunchResolvers'],
      records: [`commitSweep ${s}:0`, `htlcOutgoingContest ${s}:2`, `htlcIncomingContest ${s}:3`, `htlcOutgoingContest ${s}:4`],
      check: (st) => assert.equal((records(st)[1]?.state['output'] as { secondLevel?: unknown }).secondLevel, undefined),
    },
    {
      name: 'remote pending close: every HTLC of the pending commitment gets a resolver',
      state: contractClosed('remotePending'),
      event: { kind: 'Persisted' },
      next: 'WaitingFullResolution',
      effects: ['FailHtlcsUpstream dust outgoing 2', 'NotifyNode htlcFailedOnChain incoming 4', 'LaunchResolvers'],
      records: [`commitSweep ${s}:0`, `htlcOutgoingContest ${s}:2`, `htlcIncomingContest ${s}:3`, `htlcOutgoingContest ${s}:4`, `htlcOutgoingContest ${s}:5`],
    },
    {
      name: 'breach: every outgoing HTLC of either remote set failed back once, then one breach resolver per output (D20b)',
      state: contractClosed('breach'),
      event: { kind: 'Persisted' },
      next: 'WaitingFullResolution',
      effects: ['FailHtlcsUpstream breach outgoing 1', 'FailHtlcsUpstream breach outgoing 2', 'FailHtlcsUpstream breach outgoing 5', 'FailHtlcsUpstream breach outgoing 6', 'LaunchResolvers'],
      records: [`commitSweep ${s}:0`, `breach ${s}:2`, `breach ${s}:3`, `breach ${s}:4`, `breach ${s}:5`],
    },
    {
      name: 'future close (data loss): only our main output',
      state: contractClosed('future'),
      event: { kind: 'Persisted' },
      next: 'WaitingFullResolution',
      effects: ['LaunchResolvers'],
      records: [`commitSweep ${s}:0`],
    },
    {
      name: 'nothing to resolve -> FullyResolved',
      state: contractClosed('remote', { facts: channelFacts(), commitOutput: false }),
      event: { kind: 'Persisted' },
      next: 'FullyResolved',
      effects: ['NotifyNode channelResolved'],
      state2: { kind: 'FullyResolved', close: closeOf('remote') },
    },
    {
      name: 'only dust HTLCs: failed back, then FullyResolved',
      state: contractClosed('local', { facts: channelFacts({ local: [OUT2_DUST, IN4_DUST], remote: [OUT2_DUST, IN4_DUST] }), commitOutput: false }),
      event: { kind: 'Persisted' },
      next: 'FullyResolved',
      effects: ['FailHtlcsUpstream dust outgoing 2', 'NotifyNode htlcFailedOnChain incoming 4', 'NotifyNode channelResolved'],
    },
    {
      name: 'a non-dust HTLC without an output resolution -> Error naming it',
      state: { ...contractClosed('local'), resolutions: closeResolutions('local', { htlcs: [] }) } as ArbState,
      event: { kind: 'Persisted' },
      next: 'Error',
      effects: [],
      state2: { kind: 'Error', from: 'ContractClosed', reason: `no output resolution for non-dust HTLC(s) outgoing 1, incoming 3 on ${SPEND_TXID}`, close: closeOf('local') },
    },
    ignoredRow('a block in ContractClosed is ignored', contractClosed('local'), block(HEIGHT + 5)),
    ignoredRow('CloseConfirmed for the same close is ignored', contractClosed('local'), closeConfirmed('local')),
  ]);

  it('the pulse of ContractClosed is Persisted; no other state has one', () => {
    for (const { name, state } of sampleStates()) {
      assert.deepEqual(pulse(state), state.kind === 'ContractClosed' ? { kind: 'Persisted' } : undefined, name);
    }
  });
});

describe('transition table: WaitingFullResolution and after', () => {
  const [a, b] = UNRESOLVED as [string, string];
  const oneLeft: ArbState = { kind: 'WaitingFullResolution', close: LOCAL_CLOSE, unresolved: [b] };
  runRows([
    {
      name: 'a resolver finishing takes its outpoint off the list',
      state: STATE_SAMPLES.WaitingFullResolution.twoLeft,
      event: { kind: 'ResolverFinished', outpoint: a },
      next: 'WaitingFullResolution',
      effects: [],
      state2: oneLeft,
    },
    ignoredRow('a redelivered ResolverFinished is ignored', oneLeft, { kind: 'ResolverFinished', outpoint: a }),
    {
      name: 'the last resolver finishing -> FullyResolved with channelResolved',
      state: oneLeft,
      event: { kind: 'ResolverFinished', outpoint: b },
      next: 'FullyResolved',
      effects: ['NotifyNode channelResolved'],
      state2: { kind: 'FullyResolved', close: LOCAL_CLOSE },
    },
    ignoredRow('a ResolverFinished after FullyResolved is ignored', STATE_SAMPLES.FullyResolved.local, { kind: 'ResolverFinished', outpoint: b }),
    ...(['ContractClosed', 'WaitingFullResolution', 'FullyResolved'] as const).map(
      (k): Row => ({
        name: `CloseConfirmed with another txid in ${k} -> Error, close kept`,
        state: Object.values(STATE_SAMPLES[k])[0] as ArbState,
        event: closeConfirmed('remote', RICH_FACTS, OTHER_TXID),
        next: 'Error',
        effects: [],
        check: (s) => {
          assert.ok(s.state.kind === 'Error');
          assert.equal(s.state.from, k);
          assert.deepEqual(s.state.close, LOCAL_CLOSE);
          assert.match(s.state.reason, new RegExp(`${OTHER_TXID}.*${SPEND_TXID}`));
        },
      }),
    ),
  ]);

  it('ForceCloseRequested is refused with COURT_E_CHANNEL_CLOSING in every non-Default state, COURT_E_ARBITRATOR_ERROR in Error', () => {
    for (const { name, state } of sampleStates()) {
      const r = transition(state, { kind: 'ForceCloseRequested' }, { height: HEIGHT + 2 });
      if (state.kind === 'Default') {
        if (state.spend !== undefined) assert.equal(refused(r).code, 'COURT_E_CHANNEL_CLOSING', name);
        continue;
      }
      assert.equal(refused(r).code, state.kind === 'Error' ? 'COURT_E_ARBITRATOR_ERROR' : 'COURT_E_CHANNEL_CLOSING', name);
    }
  });
});

describe('CloseUnresolved (issue 9 items 2, 3)', () => {
  const unresolvedOurs = STATE_SAMPLES.CloseUnresolved.ourCommitment;
  const env = { height: HEIGHT + 5 };

  it('the snapshot of the confirmed commitment is classified again, and kept apart from the newest facts', () => {
    const older = { ...RICH_FACTS, snapshotSeq: RICH_FACTS.snapshotSeq + 1, localNumber: 43 };
    const s = accepted(transition(unresolvedOurs, { kind: 'ChannelUpdated', facts: older }, env));
    assert.deepEqual(s.effects, [{ kind: 'ResolveClose', txid: SPEND_TXID, txHex: unresolvedOurs.spend.txHex, height: HEIGHT, snapshotSeq: older.snapshotSeq }]);
    assert.equal(s.state.kind === 'CloseUnresolved' && s.state.prior, unresolvedOurs.prior, 'prior facts untouched');
    assert.equal(s.state.kind === 'CloseUnresolved' && s.state.attempts, 2);
    // A reorg of the spend goes back to the prior open state with the newest facts, never the answer's.
    const back = accepted(transition(s.state, { kind: 'BlockDisconnected', height: HEIGHT, hash: 'b0'.repeat(32) }, env));
    assert.deepEqual(back.state, unresolvedOurs.prior);
  });

  it('claims recorded while unresolved carry over: only new outputs get rows, finished ones stay finished', () => {
    const claiming = STATE_SAMPLES.CloseUnresolved.claiming;
    const finished = accepted(transition(claiming, { kind: 'ResolverFinished', outpoint: commitOutpoint() }, env)).state;
    const closed = accepted(transition(finished, closeConfirmed('local'), env));
    assert.equal(closed.state.kind, 'ContractClosed');
    const waiting = accepted(transition(closed.state, { kind: 'Persisted' }, env));
    assert.ok(!(records(waiting).map((r) => r.outpoint) as string[]).includes(commitOutpoint()), 'no second row for the claimed output');
    assert.ok(waiting.state.kind === 'WaitingFullResolution' && !waiting.state.unresolved.includes(commitOutpoint()));
  });

  it('a claim finishing between the classification and the launch is recorded, not an Error (review)', () => {
    const closed = accepted(transition(STATE_SAMPLES.CloseUnresolved.claiming, closeConfirmed('local'), env));
    const finished = accepted(transition(closed.state, { kind: 'ResolverFinished', outpoint: commitOutpoint() }, env));
    assert.equal(finished.state.kind, 'ContractClosed');
    assert.deepEqual(finished.state.kind === 'ContractClosed' && finished.state.unfinished, []);
    const waiting = accepted(transition(finished.state, { kind: 'Persisted' }, env));
    assert.ok(waiting.state.kind === 'WaitingFullResolution' && !waiting.state.unresolved.includes(commitOutpoint()));
  });

  it('an operator accepts an unrecognised spend as final; our own commitment cannot be accepted', () => {
    const accept = { kind: 'ReclassifyRequested', accept: true } as const;
    const closed = accepted(transition(STATE_SAMPLES.CloseUnresolved.claiming, accept, env));
    assert.equal(closed.state.kind === 'ContractClosed' && closed.state.close.type, 'accepted');
    const waiting = accepted(transition(closed.state, { kind: 'Persisted' }, env));
    assert.deepEqual(waiting.state.kind === 'WaitingFullResolution' && waiting.state.unresolved, [commitOutpoint()], 'the claim still finishes');
    assert.deepEqual(records(waiting), []);
    assert.equal(refused(transition(unresolvedOurs, accept, env)).code, 'COURT_E_CLOSE_NOT_ACCEPTABLE');
  });

  it('our older commitment confirmed: outgoing HTLCs only newer commitments carried are failed back, not forgotten (review)', () => {
    const answer = channelFacts({ snapshotSeq: 9, localNumber: 40, local: [OUT1, IN3], remote: [OUT1, IN3] });
    const state = { ...unresolvedOurs, answer };
    const closed = accepted(transition(state, closeConfirmed('local', answer), env));
    assert.equal(closed.state.kind, 'ContractClosed');
    const waiting = accepted(transition(closed.state, { kind: 'Persisted' }, env));
    const failed = waiting.effects.filter((e) => e.kind === 'FailHtlcsUpstream').map((e) => (e.kind === 'FailHtlcsUpstream' ? e.htlc.htlcId : -1));
    // RICH_FACTS (the newest) carry outgoing 2 (dust), 5 and 6; the confirmed commitment has none of them.
    assert.deepEqual(failed.sort(), [OUT2_DUST.htlcId, OUT5_DANGLING.htlcId, OUT6_PENDING.htlcId].sort());
  });

  it('going on chain from new facts keeps the HTLCs already failed back by a close a reorg removed (review)', () => {
    const facts = channelFacts({ local: [OUT1, OUT2_DUST], remote: [OUT1, OUT2_DUST] });
    const after = { height: OUT1.cltvExpiry };
    const s = accepted(transition({ kind: 'Default', facts, failed: [OUT2_DUST.htlcId] }, { kind: 'ChannelUpdated', facts: { ...facts, snapshotSeq: facts.snapshotSeq + 1 } }, after));
    assert.equal(s.state.kind, 'BroadcastCommit');
    assert.ok(!s.effects.some((e) => e.kind === 'FailHtlcsUpstream'), 'outgoing 2 is not failed back a second time');
    assert.deepEqual(s.state.kind === 'BroadcastCommit' && s.state.failed, [OUT2_DUST.htlcId]);
  });

  it('a snapshot with an older local commitment is refused in Default, even with a newer seq', () => {
    const state: ArbState = { kind: 'Default', facts: RICH_FACTS };
    const r = refused(transition(state, { kind: 'ChannelUpdated', facts: { ...RICH_FACTS, snapshotSeq: RICH_FACTS.snapshotSeq + 1, localNumber: RICH_FACTS.localNumber - 1 } }, env));
    assert.equal(r.code, 'COURT_E_SNAPSHOT_CONFLICT');
  });
});

describe('transition table: a reorg removes a confirmed close (back to watching the funding output)', () => {
  const f = RICH_FACTS;
  const rollback = (height: number, failed: readonly number[] = [], facts: ChannelFacts | undefined = f): ArbEvent => ({
    kind: 'BlockDisconnected',
    height,
    hash: `${height}`.padStart(64, '0'),
    rollback: facts === undefined ? { failed } : { facts, failed },
  });
  const closeHeight = HEIGHT + 2;
  const superseded = [`supersede ${short(SPEND_TXID)}@${closeHeight}`];
  runRows([
    {
      name: 'our commitment disconnected in WaitingFullResolution: BroadcastCommit publishes it again, resolvers superseded, node told',
      state: STATE_SAMPLES.WaitingFullResolution.twoLeft,
      event: rollback(closeHeight, DUST_FAILED),
      next: 'BroadcastCommit',
      effects: ['NotifyNode channelClosing', `BroadcastTx ${f.snapshotSeq}/${f.localNumber}`],
      records: superseded,
      state2: { kind: 'BroadcastCommit', trigger: 'chain', facts: f, failed: DUST_FAILED },
    },
    {
      name: 'their commitment disconnected in WaitingFullResolution: Default with the facts and the HTLCs already failed back',
      state: { kind: 'WaitingFullResolution', close: { ...LOCAL_CLOSE, type: 'remote' }, unresolved: UNRESOLVED },
      event: rollback(closeHeight - 1, [7]),
      next: 'Default',
      effects: ['NotifyNode channelClosing'],
      records: [`supersede ${short(SPEND_TXID)}@${closeHeight - 1}`],
      state2: { kind: 'Default', facts: f, failed: [7] },
    },
    {
      name: 'ContractClosed keeps its own failed list and facts when the event brings none',
      state: STATE_SAMPLES.ContractClosed.local,
      event: { kind: 'BlockDisconnected', height: closeHeight, hash: 'cc'.repeat(32) },
      next: 'BroadcastCommit',
      effects: ['NotifyNode channelClosing', `BroadcastTx ${f.snapshotSeq}/${f.localNumber}`],
      records: superseded,
      state2: { kind: 'BroadcastCommit', trigger: 'chain', facts: f, failed: DUST_FAILED },
    },
    ignoredRow('a block above the close is disconnected: the close stays', STATE_SAMPLES.WaitingFullResolution.twoLeft, rollback(closeHeight + 1)),
  ]);

  it('after the rollback, the new close is classified and resolved, and an HTLC failed back before is not failed back again', () => {
    const out = outgoing(9, HEIGHT + 500);
    const facts = { ...channelFacts({ local: [out], remote: [out] }), closeDepth: 1 };
    const before: ArbState = { kind: 'WaitingFullResolution', close: { ...LOCAL_CLOSE, type: 'remote' }, unresolved: UNRESOLVED };
    let st = accepted(transition(before, rollback(closeHeight, [9], facts), { height: closeHeight - 1 })).state;
    assert.deepEqual(st, { kind: 'Default', facts, failed: [9] });
    const spend = { txid: OTHER_TXID, txHex: SPEND_HEX };
    const r = accepted(transition(st, block(closeHeight + 1, spend), { height: closeHeight + 1 }));
    assert.deepEqual(r.effects.map(label), [`ResolveClose ${short(OTHER_TXID)}@${closeHeight + 1}`]);
    st = r.state;
    const closed = accepted(transition(st, closeConfirmed('remote', facts, OTHER_TXID, closeHeight + 1), { height: closeHeight + 1 }));
    assert.equal(closed.state.kind, 'ContractClosed');
    assert.deepEqual((closed.state as Extract<ArbState, { kind: 'ContractClosed' }>).failed, [9], 'the earlier fail-back is remembered');
  });
});

describe('a revocation arriving after their close was classified (review: late secret)', () => {
  const env = { height: HEIGHT + 5 };
  const waitingRemote = (): ArbState => accepted(transition(contractClosed('remote'), { kind: 'Persisted' }, env)).state;

  it('their close keeps its transaction, facts and failed-back HTLCs while resolving', () => {
    const w = waitingRemote();
    assert.equal(w.kind, 'WaitingFullResolution');
    assert.equal(w.kind === 'WaitingFullResolution' && w.close.txHex, SPEND_HEX);
    assert.deepEqual(w.kind === 'WaitingFullResolution' && w.facts, RICH_FACTS);
  });

  it('the secret of that commitment has it classified again; another number changes nothing', () => {
    const w = waitingRemote();
    const r = accepted(transition(w, { kind: 'RevocationAdded', number: 42 }, env));
    assert.deepEqual(r.effects, [{ kind: 'ResolveClose', txid: SPEND_TXID, txHex: SPEND_HEX, height: HEIGHT + 2 }]);
    const other = accepted(transition(w, { kind: 'RevocationAdded', number: 41 }, env));
    assert.equal(other.state, w);
    assert.deepEqual(other.effects, []);
  });

  it('classified a breach: the remote resolvers are superseded, justice resolvers recorded, no HTLC failed back twice', () => {
    const w = waitingRemote();
    const failedBefore = w.kind === 'WaitingFullResolution' ? (w.failed ?? []) : [];
    const up = accepted(transition(w, { kind: 'CloseConfirmed', txid: SPEND_TXID, height: HEIGHT + 2, resolutions: closeResolutions('breach') }, env));
    assert.equal(up.state.kind === 'ContractClosed' && up.state.close.type, 'breach');
    assert.deepEqual(up.effects.map(label), ['NotifyNode breachDetected']);
    assert.deepEqual(records(up).map(recordLabel), [`supersede ${short(SPEND_TXID)}@${HEIGHT + 2}`]);
    const resolved = accepted(transition(up.state, { kind: 'Persisted' }, env));
    assert.equal(resolved.state.kind, 'WaitingFullResolution');
    assert.ok(records(resolved).some((r) => r.kind === 'breach'));
    const failedNow = resolved.effects.flatMap((e) => (e.kind === 'FailHtlcsUpstream' ? [e.htlc.htlcId] : []));
    for (const id of failedNow) assert.ok(!failedBefore.includes(id), `outgoing ${id} failed back twice`);
  });
});

describe('a reorg of a close that confirmed while we were going on chain (review)', () => {
  const env = { height: HEIGHT + 5 };

  it('a late breach of their close keeps broadcasting: its reorg still publishes ours (third review)', () => {
    const closed = accepted(transition(STATE_SAMPLES.CommitmentBroadcasted.spendResolving, closeConfirmed('remote'), env)).state;
    const waiting = accepted(transition(closed, { kind: 'Persisted' }, env)).state;
    const up = accepted(transition(waiting, { kind: 'CloseConfirmed', txid: SPEND_TXID, height: HEIGHT + 2, resolutions: closeResolutions('breach') }, env)).state;
    assert.equal(up.kind === 'ContractClosed' && up.broadcasting, true);
    const breachWaiting = accepted(transition(up, { kind: 'Persisted' }, env)).state;
    const back = accepted(transition(breachWaiting, { kind: 'BlockDisconnected', height: HEIGHT + 2, hash: 'dd'.repeat(32), rollback: { facts: RICH_FACTS, failed: [] } }, env));
    assert.equal(back.state.kind, 'BroadcastCommit');
  });

  it('a revocation arriving while a spend is being classified has it classified again (third review)', () => {
    const s = STATE_SAMPLES.Default.spendResolving;
    const r = accepted(transition(s, { kind: 'RevocationAdded', number: 42 }, env));
    assert.deepEqual(r.effects, [{ kind: 'ResolveClose', txid: SPEND_TXID, txHex: SPEND_HEX, height: HEIGHT, snapshotSeq: RICH_FACTS.snapshotSeq }]);
    assert.equal(accepted(transition(STATE_SAMPLES.Default.facts, { kind: 'RevocationAdded', number: 42 }, env)).state, STATE_SAMPLES.Default.facts);
  });

  it('a rollback from WaitingFullResolution keeps the HTLCs it had failed back (third review)', () => {
    const waiting: ArbState = { kind: 'WaitingFullResolution', close: closeOf('remote'), unresolved: UNRESOLVED, facts: RICH_FACTS, failed: [5] };
    const back = accepted(transition(waiting, { kind: 'BlockDisconnected', height: HEIGHT + 2, hash: 'dd'.repeat(32), rollback: { facts: RICH_FACTS, failed: [] } }, env));
    assert.deepEqual(back.state.kind === 'Default' && back.state.failed, [5]);
  });

  it('their close removed after we had published ours: back to broadcasting ours, not Default', () => {
    const closed = accepted(transition(STATE_SAMPLES.CommitmentBroadcasted.spendResolving, closeConfirmed('remote'), env)).state;
    const waiting = accepted(transition(closed, { kind: 'Persisted' }, env)).state;
    assert.equal(waiting.kind === 'WaitingFullResolution' && waiting.broadcasting, true);
    const back = accepted(transition(waiting, { kind: 'BlockDisconnected', height: HEIGHT + 2, hash: 'dd'.repeat(32), rollback: { facts: RICH_FACTS, failed: [] } }, env));
    assert.equal(back.state.kind, 'BroadcastCommit');
    assert.ok(back.effects.some((e) => e.kind === 'BroadcastTx'));
  });

  it('an unresolved close removed while we were broadcasting: our commitment is published again and the claims superseded', () => {
    const s = STATE_SAMPLES.CloseUnresolved.claiming;
    const back = accepted(transition(s, { kind: 'BlockDisconnected', height: HEIGHT, hash: 'dd'.repeat(32) }, env));
    assert.equal(back.state.kind, 'CommitmentBroadcasted');
    assert.deepEqual(back.effects.map(label), [`BroadcastTx ${RICH_FACTS.snapshotSeq}/${RICH_FACTS.localNumber}`]);
    assert.equal(records(back).length, 1);
  });
});

describe('fixed bugs found by these tests (regressions)', () => {
  it('regression: an HTLC failed back as dust before our broadcast is not failed back again when a breach confirms', () => {
    // types.ts: BroadcastCommit.failed lists "the outgoing HTLCs already failed back (dust, before broadcast): never
    // failed back twice". toResolution() honours it for local/remote closes (failBacks skips them) but the breach
    // branch emits FailHtlcsUpstream 'breach' for every outgoing HTLC of the remote sets without looking at
    // state.failed: outgoing 2 (dust, failed at the broadcast) is failed upstream a second time.
    const broadcast = accepted(transition({ kind: 'Default', facts: RICH_FACTS }, { kind: 'ForceCloseRequested' }, { height: HEIGHT }));
    assert.deepEqual(broadcast.effects.map(label)[0], 'FailHtlcsUpstream dust outgoing 2');
    let state = broadcast.state;
    state = accepted(transition(state, EVENT_SAMPLES.CommitmentPublished, { height: HEIGHT })).state;
    state = accepted(transition(state, block(HEIGHT + 1, { txid: SPEND_TXID, txHex: SPEND_HEX }), { height: HEIGHT + 1 })).state;
    state = accepted(transition(state, block(HEIGHT + 3), { height: HEIGHT + 3 })).state;
    state = accepted(transition(state, closeConfirmed('breach', RICH_FACTS, SPEND_TXID, HEIGHT + 1), { height: HEIGHT + 3 })).state;
    assert.equal(state.kind, 'ContractClosed');
    const resolved = accepted(transition(state, { kind: 'Persisted' }, { height: HEIGHT + 3 }));
    const failedAgain = resolved.effects.filter((e) => e.kind === 'FailHtlcsUpstream' && e.htlc.htlcId === 2);
    assert.deepEqual(failedAgain.map(label), [], 'outgoing 2 was already failed back before the broadcast');
  });

  it('regression: an HTLC output listed in the close resolutions always gets a resolver (or the close is an Error)', () => {
    // ChainArbitrator.updateChannel() stores snapshot 8 as channel_snapshot_current, then queues ChannelUpdated(8).
    // If ResolveClose runs in between, it classifies with snapshot 8 (ChannelEffects.checked() reads the current
    // row) and its CloseConfirmed is processed at once, while the state still holds the facts of snapshot 7. Their
    // commitment carries outgoing 9 (added in snapshot 8): its HtlcResolution (txid:3) is in the resolutions, but
    // toResolution() decides on snapshot 7's set, so no action names it and resolverRecords() skips it: no resolver,
    // no fail-back, no Error; the output is silently abandoned (the opposite mismatch, an action without a
    // resolution, is an Error). Fixed by deciding on the commit set the close was classified with (CloseResolutions
    // says it carries it, but has no such field), or an Error for a resolution no action claims.
    const f7 = channelFacts({ local: [OUT1], remote: [OUT1] });
    const out9 = outgoing(9, 1200);
    const f8 = channelFacts({ snapshotSeq: 8, localNumber: 43, local: [OUT1], remote: [OUT1, out9] });
    let state: ArbState = { kind: 'Default', facts: f7, spend: SPEND_RESOLVING };
    state = accepted(transition(state, closeConfirmed('remote', f8), { height: HEIGHT + 2 })).state;
    assert.equal(state.kind, 'ContractClosed');
    const r = accepted(transition(state, { kind: 'Persisted' }, { height: HEIGHT + 2 }));
    if (r.state.kind === 'Error') return;
    const outpoint = `${SPEND_TXID}:3`;
    assert.equal(closeResolutions('remote', { facts: f8 }).htlcs[1]?.outpoint, outpoint);
    assert.ok(
      records(r).some((x) => x.outpoint === outpoint) || r.effects.some((e) => e.kind === 'FailHtlcsUpstream' && e.htlc.htlcId === 9),
      `the HTLC output ${short(SPEND_TXID)}:3 (outgoing 9) of the confirmed close has no resolver: ${records(r).map(recordLabel).join(', ')}`,
    );
  });
});

describe('issue 9 item 4: a preimage learned while the channel is quiet (PreimageLearned)', () => {
  const LATE = outgoing(1, 1300);
  const quiet = channelFacts({ local: [LATE, IN3], remote: [LATE, IN3] });
  const learned: ArbEvent = { kind: 'PreimageLearned', paymentHash: IN3.paymentHash };
  runRows([
    {
      name: 'one block before the incoming cutoff (expiry - 17): the preimage is kept and the wake height becomes the cutoff',
      state: { kind: 'Default', facts: quiet },
      event: learned,
      height: 1183,
      next: 'Default',
      effects: [],
      state2: { kind: 'Default', facts: { ...quiet, preimages: [IN3.paymentHash] } },
      check: (s) => {
        assert.equal(wakeHeight({ kind: 'Default', facts: quiet }), 1300);
        assert.equal(wakeHeight(s.state), 1184, 'the wake height is recomputed at once');
        const onlyIn = channelFacts({ local: [IN3], remote: [IN3] });
        assert.equal(wakeHeight({ kind: 'Default', facts: onlyIn }), undefined);
        assert.equal(wakeHeight(accepted(transition({ kind: 'Default', facts: onlyIn }, learned, { height: 1183 })).state), 1184);
      },
    },
    {
      name: 'at the incoming cutoff (expiry - 16): BroadcastCommit at once, trigger chain',
      state: { kind: 'Default', facts: quiet },
      event: learned,
      height: 1184,
      next: 'BroadcastCommit',
      effects: ['NotifyNode channelClosing', 'BroadcastTx 7/42'],
      state2: { kind: 'BroadcastCommit', trigger: 'chain', facts: { ...quiet, preimages: [IN3.paymentHash] }, failed: [] },
    },
    ignoredRow('a preimage already held is ignored', { kind: 'Default', facts: { ...quiet, preimages: [IN3.paymentHash] } }, learned, 1184),
    ignoredRow('a hash no HTLC of the facts carries is ignored', { kind: 'Default', facts: quiet }, { kind: 'PreimageLearned', paymentHash: 'ab'.repeat(32) }, 1184),
    ignoredRow('before the first snapshot there is nothing to keep', { kind: 'Default' }, learned, 1184),
    ignoredRow('WaitingFullResolution leaves preimages to its resolvers', STATE_SAMPLES.WaitingFullResolution.twoLeft, learned, 1184),
    {
      name: 'while a funding spend waits for its depth: kept, nothing broadcast',
      state: { kind: 'Default', facts: quiet, spend: SPEND_SEEN },
      event: learned,
      height: 1184,
      next: 'Default',
      effects: [],
    },
  ]);

  it('a preimage learned after our broadcast is kept, and the close then settles (not fails) that dust HTLC', () => {
    const f = channelFacts({ local: [OUT1, OUT2_DUST], remote: [OUT1, OUT2_DUST] });
    const bc: ArbState = { kind: 'CommitmentBroadcasted', facts: f, failed: [], commitTxid: SPEND_TXID, spend: SPEND_RESOLVING };
    const s1 = accepted(transition(bc, { kind: 'PreimageLearned', paymentHash: OUT2_DUST.paymentHash }, { height: HEIGHT + 2 }));
    assert.deepEqual(s1.effects, []);
    const s2 = accepted(transition(s1.state, closeConfirmed('local', f), { height: HEIGHT + 2 }));
    const s3 = accepted(transition(s2.state, { kind: 'Persisted' }, { height: HEIGHT + 2 }));
    const labels = s3.effects.map(label);
    assert.ok(labels.includes('NotifyNode htlcSettledOnChain outgoing 2'), labels.join(', '));
    assert.ok(!labels.includes('FailHtlcsUpstream dust outgoing 2'), labels.join(', '));
  });
});

describe('issue 9 item 5: a snapshot applies the go-to-chain rule in the same step', () => {
  const update = (facts: ChannelFacts): ArbEvent => ({ kind: 'ChannelUpdated', facts: { ...facts, snapshotSeq: 8, localNumber: 43 } });
  runRows([
    {
      name: 'a snapshot taken one block before its earliest cutoff: facts kept, nothing else',
      state: { kind: 'Default', facts: channelFacts({}) },
      event: update(FORCE_FACTS),
      height: 1099,
      next: 'Default',
      effects: [],
      check: (s) => assert.equal(wakeHeight(s.state), 1100),
    },
    {
      name: 'a snapshot taken at its earliest cutoff goes on chain at once with its own seq, dust failed back first',
      state: { kind: 'Default', facts: channelFacts({}) },
      event: update(FORCE_FACTS),
      height: 1100,
      next: 'BroadcastCommit',
      effects: ['FailHtlcsUpstream dust outgoing 2', 'NotifyNode channelClosing', 'BroadcastTx 8/43'],
      check: (s) => assert.equal(s.state.kind === 'BroadcastCommit' && s.state.trigger, 'chain'),
    },
    {
      name: 'the first snapshot, past an incoming HTLC cutoff with its preimage (expiry - 16), goes on chain at once',
      state: { kind: 'Default' },
      event: update(channelFacts({ local: [IN3], remote: [IN3], preimages: [IN3.paymentHash] })),
      height: 1184,
      next: 'BroadcastCommit',
      effects: ['NotifyNode channelClosing', 'BroadcastTx 8/43'],
    },
    {
      name: 'a snapshot past its cutoff while a funding spend waits for its depth: facts kept, nothing broadcast',
      state: { kind: 'Default', facts: channelFacts({}), spend: SPEND_SEEN },
      event: update(FORCE_FACTS),
      height: 1100,
      next: 'Default',
      effects: [],
    },
  ]);
});

describe('issue 9 item 6: dust fail-back before the broadcast, and never a failed report with the preimage held', () => {
  // outgoing 2: dust on ours, an output on their current (their dust limit is lower): it waits for the close.
  const OUT2_OUTPUT = outgoing(2, 1100);
  const split = channelFacts({ local: [OUT1, OUT2_DUST], remote: [OUT1, OUT2_OUTPUT] });
  // outgoing 2 dust everywhere, its preimage held.
  const paid = channelFacts({ local: [OUT1, OUT2_DUST], remote: [OUT1, OUT2_DUST], preimages: [OUT2_DUST.paymentHash] });
  const labels = (r: TransitionResult<ArbState, ArbEffect>): string[] => accepted(r).effects.map(label);

  it('an HTLC dust on ours but an output on their current is not failed back before the broadcast; our close fails it as dust', () => {
    const bc = accepted(transition({ kind: 'Default', facts: split }, { kind: 'ForceCloseRequested' }, { height: HEIGHT }));
    assert.deepEqual(bc.effects.map(label), ['NotifyNode channelClosing', 'BroadcastTx 7/42']);
    assert.deepEqual(bc.state.kind === 'BroadcastCommit' && bc.state.failed, []);
    assert.ok(labels(transition(contractClosed('local', { facts: split }), { kind: 'Persisted' }, { height: HEIGHT + 2 })).includes('FailHtlcsUpstream dust outgoing 2'));
  });

  it('an HTLC dust on ours and their current but an output on their pending waits too', () => {
    const f = channelFacts({ local: [OUT1, OUT2_DUST], remote: [OUT1, OUT2_DUST], remotePending: [OUT1, OUT2_OUTPUT] });
    assert.deepEqual(labels(transition({ kind: 'Default', facts: f }, { kind: 'ForceCloseRequested' }, { height: HEIGHT })), ['NotifyNode channelClosing', 'BroadcastTx 7/42']);
  });

  it('a dust HTLC whose preimage we hold is not failed back before the broadcast, and is reported settled (not failed) at our close', () => {
    assert.deepEqual(labels(transition({ kind: 'Default', facts: paid }, { kind: 'ForceCloseRequested' }, { height: HEIGHT })), ['NotifyNode channelClosing', 'BroadcastTx 7/42']);
    const closed = labels(transition(contractClosed('local', { facts: paid }), { kind: 'Persisted' }, { height: HEIGHT + 2 }));
    assert.ok(closed.includes('NotifyNode htlcSettledOnChain outgoing 2'), closed.join(', '));
    assert.ok(!closed.some((l) => l.endsWith('outgoing 2') && l.includes('ail')), closed.join(', '));
  });

  it('a breach reports an outgoing HTLC whose preimage we hold settled, and fails back the others', () => {
    const f = channelFacts({ local: [OUT1, OUT2_DUST], remote: [OUT1, OUT2_DUST, OUT5_DANGLING], preimages: [OUT1.paymentHash] });
    const closed = labels(transition(contractClosed('breach', { facts: f }), { kind: 'Persisted' }, { height: HEIGHT + 2 }));
    assert.deepEqual(
      closed.filter((l) => l.includes('outgoing')),
      ['NotifyNode htlcSettledOnChain outgoing 1', 'FailHtlcsUpstream breach outgoing 2', 'FailHtlcsUpstream breach outgoing 5'],
    );
  });
});

// ---------------------------------------------------------------------------------------------------------------
// The sweep: every sample state against every sample event.

type Outcome = 'step' | 'ignored' | 'error' | `refused:${CourtErrorCode}`;

const S: Outcome = 'step';
const I: Outcome = 'ignored';
const E: Outcome = 'error';
const RC: Outcome = 'refused:COURT_E_CHANNEL_CLOSING';
const RE: Outcome = 'refused:COURT_E_ARBITRATOR_ERROR';
const RS: Outcome = 'refused:COURT_E_SNAPSHOT_INVALID';
const RU: Outcome = 'refused:COURT_E_CLOSE_NOT_UNRESOLVED';

/** Columns, in this order, for every row of OUTCOMES. */
const COLUMNS = [
  'BlockConnected',
  'BlockDisconnected',
  'ChannelUpdated',
  'ForceCloseRequested',
  'CloseConfirmed',
  'ResolverFinished',
  'EffectFailed',
  'CommitmentPublished',
  'Persisted',
  'ReclassifyRequested',
  'PreimageLearned',
  'RevocationAdded',
] as const satisfies readonly ArbEventKind[];

/**
 * The outcome class of every (sample state, sample event kind) pair, written out in full: a new state sample, state
 * kind or event kind fails the sweep until its row or column is decided here.
 */
// prettier-ignore
const OUTCOMES: Readonly<Record<string, readonly Outcome[]>> = {
  //                                      Block Disc  Upd   Force CloseC ResFin EffF  Publ  Pers  Reclass Preim  Revoc
  'Default/empty':                        [I,   I,    S,    RS,   I,     E,     I,    E,    I,    RU,     I,    I],
  'Default/facts':                        [I,   I,    S,    S,    I,     E,     I,    E,    I,    RU,     S,    I],
  'Default/spendSeen':                    [I,   S,    S,    RC,   I,     E,     I,    E,    I,    RU,     S,    I],
  'Default/spendResolving':               [I,   S,    S,    RC,   S,     E,     I,    E,    I,    RU,     S,    S],
  'BroadcastCommit/user':                 [I,   I,    RC,   RC,   I,     E,     S,    S,    I,    RU,     S,    I],
  'BroadcastCommit/chainFailing':         [I,   I,    RC,   RC,   I,     E,     S,    S,    I,    RU,     S,    I],
  'CommitmentBroadcasted/published':      [I,   I,    RC,   RC,   I,     E,     I,    I,    I,    RU,     S,    I],
  'CommitmentBroadcasted/spendResolving': [I,   S,    RC,   RC,   S,     E,     I,    I,    I,    RU,     S,    S],
  'CloseUnresolved/ourCommitment':        [I,   S,    S,    RC,   S,     I,     I,    I,    I,    S,      S,    I],
  'CloseUnresolved/claiming':             [I,   S,    S,    RC,   S,     S,     I,    I,    I,    S,      S,    I],
  'ContractClosed/local':                 [I,   S,    RC,   RC,   I,     E,     I,    I,    S,    RU,     S,    I],
  'WaitingFullResolution/twoLeft':        [I,   S,    RC,   RC,   I,     S,     I,    I,    I,    RU,     I,    I],
  'FullyResolved/local':                  [I,   I,    RC,   RC,   I,     I,     I,    I,    I,    RU,     I,    I],
  'Error/afterClose':                     [I,   I,    RE,   RE,   RE,    RE,    I,    RE,   I,    RE,     I,    I],
};

function classify(before: ArbState, r: TransitionResult<ArbState, ArbEffect>, what: string): Outcome {
  if (isRefusal(r)) {
    assert.equal(typeof r.code, 'string', `${what}: a refusal carries a code`);
    assert.match(r.code as string, /^COURT_E_/, what);
    assert.ok(r.reason.length > 0, what);
    assert.deepEqual(Object.keys(r).sort(), ['code', 'reason', 'refused'], `${what}: a refusal carries no state`);
    return `refused:${r.code as CourtErrorCode}`;
  }
  if (isDeepStrictEqual(r.state, before)) {
    assert.deepEqual(r.effects, [], `${what}: the same state with effects is neither a step nor ignored`);
    assert.equal(r.records, undefined, what);
    return 'ignored';
  }
  if (r.state.kind === 'Error') {
    assert.equal(r.state.from, before.kind, what);
    assert.ok(r.state.reason.length > 0, what);
    assert.deepEqual(r.effects, [], what);
    return 'error';
  }
  return 'step';
}

/** A structured clone: same value, no shared references. */
const clone = <T>(v: T): T => structuredClone(v);

describe('sweep over every (state, event) sample pair', () => {
  const states = sampleStates();
  const events = EVENT_KINDS.map((k) => EVENT_SAMPLES[k] as ArbEvent);

  it('the samples and the table cover every state kind, every event kind and every sample', () => {
    assert.deepEqual([...new Set(states.map((s) => s.state.kind))].sort(), [...STATE_KINDS].sort());
    assert.deepEqual([...COLUMNS].sort(), [...EVENT_KINDS].sort());
    assert.deepEqual(Object.keys(EVENT_SAMPLES).sort(), [...EVENT_KINDS].sort());
    assert.deepEqual(Object.keys(OUTCOMES).sort(), states.map((s) => s.name).sort());
    for (const [name, row] of Object.entries(OUTCOMES)) assert.equal(row.length, COLUMNS.length, name);
  });

  for (const { name, state } of states) {
    it(`${name}: every event is a step, ignored, refused with a code, or an Error, as the table says`, () => {
      const got: Outcome[] = [];
      for (const event of events) {
        const env = envFor(event);
        const frozenState = deepFreeze(clone(state));
        const frozenEvent = deepFreeze(clone(event));
        const r = transition(frozenState, frozenEvent, deepFreeze({ ...env }));
        // Inputs are untouched (frozen: a write would have thrown) and the result does not alias a frozen input
        // in a way that differs from a fresh run: the same inputs give a deep-equal result.
        assert.deepEqual(frozenState, state);
        assert.deepEqual(frozenEvent, event);
        assert.deepEqual(transition(clone(state), clone(event), { ...env }), r, `${name} + ${event.kind}: deterministic`);
        got.push(classify(state, r, `${name} + ${event.kind}`));
      }
      const want = OUTCOMES[name] as readonly Outcome[];
      const diff = COLUMNS.map((k, i) => (got[EVENT_KINDS.indexOf(k)] === want[i] ? undefined : `${k}: got ${got[EVENT_KINDS.indexOf(k)]}, table says ${want[i]}`)).filter(
        (d) => d !== undefined,
      );
      assert.deepEqual(diff, [], `${name}: ${diff.join('; ')}`);
    });
  }
});

// ---------------------------------------------------------------------------------------------------------------
// Codecs.

function roundTrip<T>(codec: CodedCodec<T>, value: T): T {
  const encoded = codec.encode(value);
  assert.equal(encoded.v, 1);
  return codec.decode(JSON.parse(JSON.stringify(encoded)) as Json);
}

function assertDecodeRefused(codec: CodedCodec<unknown>, json: Json, what: string): void {
  assert.throws(
    () => codec.decode(json),
    (err: unknown) => err instanceof CourtError && err.code === 'COURT_E_FSM_DECODE',
    what,
  );
}

describe('codecs', () => {
  /** Every sample state plus every state and effect the sweep's samples produce. */
  function everything(): { states: ArbState[]; effects: ArbEffect[] } {
    const states: ArbState[] = sampleStates().map((s) => s.state);
    const effects: ArbEffect[] = EFFECT_KINDS.map((k) => EFFECT_SAMPLES[k] as ArbEffect);
    for (const { state } of sampleStates()) {
      for (const k of EVENT_KINDS) {
        const r = transition(state, EVENT_SAMPLES[k], envFor(EVENT_SAMPLES[k]));
        if (isRefusal(r)) continue;
        states.push(r.state);
        effects.push(...r.effects);
      }
    }
    for (const type of ['local', 'remote', 'remotePending', 'breach', 'future'] as const) {
      const r = accepted(transition(contractClosed(type, { anchor: true }), { kind: 'Persisted' }, { height: HEIGHT + 2 }));
      states.push(r.state);
      effects.push(...r.effects);
    }
    return { states, effects };
  }

  it('every sample state, and every state a sample step reaches, round-trips with its code', () => {
    for (const s of everything().states) {
      assert.deepEqual(roundTrip(stateCodec, s), s);
      assert.equal(stateCodec.code(s), STATE_CODE[s.kind]);
    }
  });

  it('every sample event round-trips with its code', () => {
    for (const k of EVENT_KINDS) {
      const e = EVENT_SAMPLES[k] as ArbEvent;
      assert.deepEqual(roundTrip(eventCodec, e), e);
      assert.equal(eventCodec.code(e), EVENT_CODE[k]);
    }
    const withSpend = block(HEIGHT, { txid: SPEND_TXID, txHex: SPEND_HEX });
    assert.deepEqual(roundTrip(eventCodec, withSpend), withSpend);
  });

  it('every sample effect, and every effect a sample step emits, round-trips with its code', () => {
    const { effects } = everything();
    assert.deepEqual([...new Set(effects.map((e) => e.kind))].sort(), [...EFFECT_KINDS].sort());
    for (const e of effects) {
      assert.deepEqual(roundTrip(effectCodec, e), e);
      assert.equal(effectCodec.code(e), EFFECT_CODE[e.kind]);
    }
  });

  it('decode refuses a wrong format version, an unknown kind and a non-object with COURT_E_FSM_DECODE', () => {
    const codecs: [string, CodedCodec<unknown>, Json][] = [
      ['state', stateCodec as CodedCodec<unknown>, stateCodec.encode(STATE_SAMPLES.Default.facts)],
      ['event', eventCodec as CodedCodec<unknown>, eventCodec.encode(EVENT_SAMPLES.BlockConnected)],
      ['effect', effectCodec as CodedCodec<unknown>, effectCodec.encode(EFFECT_SAMPLES.BroadcastTx)],
    ];
    for (const [what, codec, good] of codecs) {
      const obj = good as Record<string, Json>;
      const { v: _v, ...noV } = obj;
      assertDecodeRefused(codec, { ...obj, v: 2 }, `${what}: v 2`);
      assertDecodeRefused(codec, { ...obj, v: '1' }, `${what}: v "1"`);
      assertDecodeRefused(codec, noV, `${what}: no v`);
      assertDecodeRefused(codec, { ...obj, kind: 'Teleported' }, `${what}: unknown kind`);
      assertDecodeRefused(codec, { v: 1 }, `${what}: no kind`);
      for (const bad of [null, [], 'Default', 3] as Json[]) assertDecodeRefused(codec, bad, `${what}: ${JSON.stringify(bad)}`);
    }
  });

  it('regression: decode refuses an inherited property name (toString, constructor) as a kind', () => {
    // taggedCodec() in src/arbitrator/channel/types.ts checks `rest.kind in codes`, which is true for every
    // Object.prototype member: {"v":1,"kind":"toString"} decodes into a value that is no ArbState, and code() of it
    // returns a function instead of a number. Object.hasOwn(codes, kind) would refuse it.
    for (const [what, codec] of [
      ['state', stateCodec],
      ['event', eventCodec],
      ['effect', effectCodec],
    ] as [string, CodedCodec<unknown>][]) {
      for (const kind of ['toString', 'constructor', '__proto__']) assertDecodeRefused(codec, { v: 1, kind }, `${what}: kind ${kind}`);
    }
  });
});
