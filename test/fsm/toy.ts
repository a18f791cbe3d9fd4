/**
 * A toy machine for the runner tests: a door with a code lock.
 *
 *   closed --open--> open (chime)      open --close--> closed      closed --lock{code}--> locked (chime, notify)
 *   locked --unlock{same code}--> closed (notify)     knock: accepted everywhere, changes nothing
 *   jam: accepted in closed/open with an effect whose encoding lacks "v", so the briefcase refuses the commit
 * Everything else is refused. `lastOpenedAt` records env.height, so replay must use the logged heights.
 */
import { refuse, step, type CodedCodec, type FsmEnv, type Json, type Machine } from '../../src/fsm/index.js';
import { CourtError } from '../../src/util/errors.js';

export type DoorState = {
  readonly kind: 'closed' | 'open' | 'locked';
  readonly opened: number;
  readonly lastOpenedAt: number | null;
  readonly code: string | null;
};

export type DoorEvent =
  | { readonly kind: 'open' }
  | { readonly kind: 'close' }
  | { readonly kind: 'lock'; readonly code: string }
  | { readonly kind: 'unlock'; readonly code: string }
  | { readonly kind: 'knock' }
  | { readonly kind: 'jam' };

export type DoorEffect =
  | { readonly kind: 'chime'; readonly n: number }
  | { readonly kind: 'notify'; readonly text: string }
  | { readonly kind: 'broken' };

const STATE_CODES = { closed: 0, open: 1, locked: 2 } as const;
const EVENT_CODES = { open: 0, close: 1, lock: 2, unlock: 3, knock: 4, jam: 5 } as const;
const EFFECT_CODES = { chime: 0, notify: 1, broken: 2 } as const;

const bad = (what: string, json: Json): never => {
  throw new CourtError('COURT_E_FSM_DECODE', `not a door ${what}: ${JSON.stringify(json)}`);
};

const obj = (json: Json, what: string): Record<string, Json> =>
  json !== null && typeof json === 'object' && !Array.isArray(json) && (json as Record<string, Json>)['v'] === 1
    ? (json as Record<string, Json>)
    : bad(what, json);

const stateCodec: CodedCodec<DoorState> = {
  code: (s) => STATE_CODES[s.kind],
  encode: (s) => ({ v: 1, kind: s.kind, opened: s.opened, lastOpenedAt: s.lastOpenedAt, code: s.code }),
  decode: (json) => {
    const o = obj(json, 'state');
    const kind = o['kind'];
    if (kind !== 'closed' && kind !== 'open' && kind !== 'locked') return bad('state', json);
    return { kind, opened: Number(o['opened']), lastOpenedAt: o['lastOpenedAt'] as number | null, code: o['code'] as string | null };
  },
};

const eventCodec: CodedCodec<DoorEvent> = {
  code: (e) => EVENT_CODES[e.kind],
  encode: (e) => ({ v: 1, ...e }),
  decode: (json) => {
    const o = obj(json, 'event');
    switch (o['kind']) {
      case 'open':
      case 'close':
      case 'knock':
      case 'jam':
        return { kind: o['kind'] };
      case 'lock':
      case 'unlock':
        return { kind: o['kind'], code: String(o['code']) };
      default:
        return bad('event', json);
    }
  },
};

const effectCodec: CodedCodec<DoorEffect> = {
  code: (e) => EFFECT_CODES[e.kind],
  // 'broken' deliberately encodes without "v": the outbox CHECK refuses it inside the commit transaction.
  encode: (e) => (e.kind === 'broken' ? ({ kind: 'broken' } as never) : { v: 1, ...e }),
  decode: (json) => {
    const o = obj(json, 'effect');
    if (o['kind'] === 'chime') return { kind: 'chime', n: Number(o['n']) };
    if (o['kind'] === 'notify') return { kind: 'notify', text: String(o['text']) };
    return bad('effect', json);
  },
};

/** The door machine. */
export const door: Machine<DoorState, DoorEvent, DoorEffect, FsmEnv> = {
  kind: 'toy-door',
  initial: () => ({ kind: 'closed', opened: 0, lastOpenedAt: null, code: null }),
  transition(s, e, env) {
    switch (e.kind) {
      case 'knock':
        return step(s);
      case 'open':
        if (s.kind === 'open') return step(s);
        if (s.kind === 'locked') return refuse('the door is locked');
        return step({ ...s, kind: 'open', opened: s.opened + 1, lastOpenedAt: env.height }, [{ kind: 'chime', n: s.opened + 1 }]);
      case 'close':
        return s.kind === 'open' ? step({ ...s, kind: 'closed' }) : refuse(`cannot close a ${s.kind} door`);
      case 'lock':
        if (s.kind !== 'closed') return refuse(`cannot lock a ${s.kind} door`);
        return step({ ...s, kind: 'locked', code: e.code }, [
          { kind: 'chime', n: s.opened },
          { kind: 'notify', text: 'locked' },
        ]);
      case 'unlock':
        if (s.kind !== 'locked') return refuse(`cannot unlock a ${s.kind} door`);
        if (e.code !== s.code) return refuse('wrong code', 'COURT_E_INVALID_ARGUMENT');
        return step({ ...s, kind: 'closed', code: null }, [{ kind: 'notify', text: 'unlocked' }]);
      case 'jam':
        if (s.kind === 'locked') return refuse('a locked door does not jam');
        return step({ ...s, opened: s.opened + 100 }, [{ kind: 'notify', text: 'jammed' }, { kind: 'broken' }]);
    }
  },
  state: stateCodec,
  event: eventCodec,
  effect: effectCodec,
};

/** A short label of an effect for traces. */
export const label = (e: DoorEffect): string => (e.kind === 'chime' ? `chime${e.n}` : e.kind === 'notify' ? e.text : 'broken');
