/**
 * The contract between a machine's (state, event) sweep and `npm run diagrams`: a module named `*.sweep.ts` anywhere
 * under test/ that exports `sweep: SweepDescription` is picked up by test/diagrams/generate.ts and drawn into
 * docs/state-machines.md. The description holds sample states and sample events (the same samples the machine's
 * sweep test runs) and a step that runs the real, pure transition function.
 */
import { isDeepStrictEqual } from 'node:util';
import { isRefusal, type TransitionResult } from '../../src/fsm/index.js';

/** What one (state, event) pair did. */
export type SweepOutcome =
  | { readonly outcome: 'step'; readonly to: unknown; readonly effects: readonly string[] }
  | { readonly outcome: 'ignored' }
  | { readonly outcome: 'refused'; readonly code: string };

export interface SweepDescription<S = unknown, E = unknown> {
  /** The machine's name (a heading of the document). */
  readonly machine: string;
  /** The file of its transition function, relative to the repository. */
  readonly source: string;
  /** One line on what the machine is. */
  readonly summary: string;
  /** Named sample states ("Kind/variant"). */
  readonly states: readonly { readonly name: string; readonly state: S }[];
  readonly events: readonly E[];
  /** Further events used only when following reached states (not in the pair table): e.g. each resolver finishing. */
  readonly moreEvents?: readonly E[];
  readonly step: (state: S, event: E) => SweepOutcome;
  /** The node a state is drawn as (its kind). */
  readonly kindOf: (state: S) => string;
  readonly eventName: (event: E) => string;
  /** Every state kind, in the order to list them (kinds no sample reaches are still listed). */
  readonly kinds: readonly string[];
  /** Where the machine starts (one or several entry states). */
  readonly initial: string | readonly string[];
  readonly terminal: readonly string[];
  /** Follow states reached from the samples this many steps further (default 1). */
  readonly depth?: number;
}

/** Classifies a fsm TransitionResult the way the machines' sweep tests do. */
export function outcomeOf<S, Ef extends { kind: string }>(before: S, r: TransitionResult<S, Ef>): SweepOutcome {
  if (isRefusal(r)) return { outcome: 'refused', code: r.code ?? 'COURT_E_FSM_REFUSED' };
  if (isDeepStrictEqual(r.state, before) && r.effects.length === 0 && r.records === undefined) return { outcome: 'ignored' };
  return { outcome: 'step', to: r.state, effects: r.effects.map((e) => e.kind) };
}
