/**
 * Replaying a transition log: folds a machine's logged events over its initial state with the pure transition.
 * Because refused and no-op events are never logged and change nothing, the fold of the logged events equals the
 * stored state; `court history --verify` and the property tests rely on that.
 */
import { CourtError } from '../util/errors.js';
import { isRefusal, type FsmEnv, type Json, type Machine } from './machine.js';

/** One logged event as replay needs it: the encoded event and the height it was processed at. */
export interface LoggedEvent {
  readonly seq: number;
  readonly height: number;
  readonly event: Json;
}

/**
 * The state reached by replaying `log` (in seq order, from 1, without gaps) from `machine.initial(machineId)`.
 * `envAt(height)` rebuilds the environment of each event. Throws COURT_E_FSM_CORRUPT if a logged event is
 * refused on replay or the seqs are not 1, 2, 3 ...
 */
export function replay<S, Ev, Ef, Env extends FsmEnv>(
  machine: Machine<S, Ev, Ef, Env>,
  machineId: string,
  log: Iterable<LoggedEvent>,
  envAt: (height: number) => Env,
): S {
  let state = machine.initial(machineId);
  let expected = 1;
  for (const row of log) {
    if (row.seq !== expected) {
      throw new CourtError('COURT_E_FSM_CORRUPT', `log of ${machineId} has seq ${row.seq} where ${expected} was due`);
    }
    const result = machine.transition(state, machine.event.decode(row.event), envAt(row.height));
    if (isRefusal(result)) {
      throw new CourtError('COURT_E_FSM_CORRUPT', `logged event ${row.seq} of ${machineId} is refused on replay: ${result.reason}`);
    }
    state = result.state;
    expected++;
  }
  return state;
}
