/**
 * The generic machine runner: machine definitions (machine.ts), the persistence port (journal.ts), the mailbox,
 * the runner (persist, then act; outbox replay on resume) and log replay. Depends on util/ only; the SQLite
 * Journal is src/store/journal.ts.
 */
export type * from './journal.js';
export * from './machine.js';
export { Mailbox, type Job } from './mailbox.js';
export { replay, type LoggedEvent } from './replay.js';
export {
  MachineRunner,
  type CommitInfo,
  type EffectContext,
  type EffectFailure,
  type EffectInterpreter,
  type EventOutcome,
  type RunnerOptions,
} from './runner.js';
