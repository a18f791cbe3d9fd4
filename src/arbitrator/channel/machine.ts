/**
 * The ChannelArbitrator as a machine definition for the generic runner (src/fsm): its kind, initial state,
 * transition, pulse and codecs. One instance per channel; its machine id is the channel point.
 */
import type { Machine } from '../../fsm/index.js';
import { pulse, transition, type ArbEnv } from './transition.js';
import { effectCodec, eventCodec, stateCodec, type ArbEffect, type ArbEvent, type ArbState } from './types.js';

/** The machine name stored with generic rows (the arbitrator's own rows live in arbitrator_state). */
export const CHANNEL_ARBITRATOR = 'channelArbitrator';

export const channelArbitrator: Machine<ArbState, ArbEvent, ArbEffect, ArbEnv> = Object.freeze({
  kind: CHANNEL_ARBITRATOR,
  initial: (): ArbState => ({ kind: 'Default' }),
  transition,
  pulse,
  state: stateCodec,
  event: eventCodec,
  effect: effectCodec,
});
