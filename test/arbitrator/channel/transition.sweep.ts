/**
 * The ChannelArbitrator's (state, event) sweep for `npm run diagrams`: the sample states and events of fixtures.ts
 * (the ones transition.test.ts sweeps) run through the real transition function.
 */
import { transition } from '../../../src/arbitrator/channel/transition.js';
import { EVENT_KINDS, type ArbEvent, type ArbState } from '../../../src/arbitrator/channel/types.js';
import { outcomeOf, type SweepDescription } from '../../diagrams/sweep.js';
import { EVENT_SAMPLES, HEIGHT, sampleStates, SPEND_TXID, STATE_SAMPLES, UNRESOLVED } from './fixtures.js';

/** The height a sample event is seen at: a block's own, else two above the samples' base (as the sweep test). */
const heightFor = (event: ArbEvent): number => (event.kind === 'BlockConnected' || event.kind === 'BlockDisconnected' ? event.height : HEIGHT + 2);

export const sweep: SweepDescription<ArbState, ArbEvent> = {
  machine: 'ChannelArbitrator',
  source: 'src/arbitrator/channel/transition.ts',
  summary: 'One per channel not yet fully resolved: from the open channel through the close to full resolution',
  states: sampleStates(),
  events: EVENT_KINDS.map((k) => EVENT_SAMPLES[k] as ArbEvent),
  step: (state, event) => outcomeOf(state, transition(state, event, { height: heightFor(event) })),
  kindOf: (s) => s.kind,
  eventName: (e) => e.kind,
  // Lifecycle order (the samples' order), not the persisted codes' order.
  kinds: Object.keys(STATE_SAMPLES),
  // Every unresolved resolver of the WaitingFullResolution sample finishing (so exploring reaches FullyResolved), and
  // a close the classifier could not resolve (the CloseUnresolved sample's own answer).
  moreEvents: [
    ...UNRESOLVED.map((outpoint): ArbEvent => ({ kind: 'ResolverFinished', outpoint })),
    { kind: 'CloseConfirmed', txid: SPEND_TXID, height: HEIGHT + 2, unresolved: STATE_SAMPLES.CloseUnresolved.ourCommitment.unresolved },
  ],
  depth: 2,
  initial: 'Default',
  terminal: ['FullyResolved'],
};
