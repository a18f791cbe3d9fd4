/**
 * MachineRunner over a real SQLite file: mailbox order, one transaction per event, gapless seq, replay equals the
 * state row, outbox replay after a crash at each commit point, effect failures, refusals, lifecycle.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { MachineRunner, replay, type CommitInfo, type EffectFailure } from '../../src/fsm/index.js';
import { openJournal, type SqliteJournal } from '../../src/store/journal.js';
import { CourtError } from '../../src/util/errors.js';
import { recordingLogger } from '../helpers/async.js';
import { copyDatabase, tempDir } from '../helpers/db.js';
import { door, label, type DoorEffect, type DoorEvent, type DoorState } from './toy.js';

const tmp = tempDir('fsm-runner');
after(tmp.remove);
let files = 0;
const freshPath = (): string => join(tmp.dir, `briefcase-${files++}.db`);

interface HarnessOptions {
  readonly id?: string;
  /** Decides whether an effect throws; `attempt` counts this process's attempts at that outbox row from 1. */
  readonly fail?: (effect: DoorEffect, attempt: number) => boolean;
  readonly onCommit?: (info: CommitInfo) => void;
  readonly interpretHook?: (effect: DoorEffect, runner: MachineRunner<DoorState, DoorEvent, DoorEffect>) => void;
}

/** A door runner on `journal` that records effects run, failures, commits and log lines. */
function harness(journal: SqliteJournal, opts: HarnessOptions = {}) {
  const ran: string[] = [];
  const trace: string[] = [];
  const failures: EffectFailure<DoorEffect>[] = [];
  const commits: CommitInfo[] = [];
  const attempts = new Map<number, number>();
  const logger = recordingLogger();
  const chain = { height: 100 };
  const runner: MachineRunner<DoorState, DoorEvent, DoorEffect> = new MachineRunner({
    journal,
    machine: door,
    machineId: opts.id ?? 'door-1',
    env: () => {
      trace.push('transition');
      return { height: chain.height };
    },
    interpret: async (effect, ctx) => {
      const attempt = (attempts.get(ctx.outboxId) ?? 0) + 1;
      attempts.set(ctx.outboxId, attempt);
      trace.push(`start ${label(effect)}`);
      await new Promise((r) => setImmediate(r));
      if (opts.fail?.(effect, attempt)) {
        trace.push(`fail ${label(effect)}`);
        throw new CourtError('COURT_E_CHAIN_UNREACHABLE', `cannot ${label(effect)}`);
      }
      opts.interpretHook?.(effect, runner);
      ran.push(label(effect));
      trace.push(`end ${label(effect)}`);
    },
    onCommit: (info) => {
      commits.push(info);
      opts.onCommit?.(info);
    },
    onEffectFailed: (f) => failures.push(f),
    logger,
  });
  return { runner, ran, trace, failures, commits, logger, chain };
}

function counts(journal: SqliteJournal, id = 'door-1') {
  const one = (sql: string) => (journal.db.prepare(sql).get(id) as { n: number }).n;
  return {
    state: one('SELECT COUNT(*) AS n FROM machine_state WHERE machine_id = ?'),
    log: one('SELECT COUNT(*) AS n FROM transition_log WHERE machine_id = ?'),
    outbox: one('SELECT COUNT(*) AS n FROM outbox WHERE machine_id = ?'),
    pending: one('SELECT COUNT(*) AS n FROM outbox WHERE machine_id = ? AND status = 0'),
  };
}

function storedState(journal: SqliteJournal, id = 'door-1'): { seq: number; state: DoorState } | undefined {
  const row = journal.load(id);
  return row === undefined ? undefined : { seq: row.seq, state: door.state.decode(row.state) };
}

const replayed = (journal: SqliteJournal, id = 'door-1'): DoorState => replay(door, id, journal.history(id), (height) => ({ height }));

describe('MachineRunner: mailbox', () => {
  it('processes events one at a time, in order, each with its effects before the next transition', async () => {
    const journal = openJournal(freshPath());
    const h = harness(journal);
    await h.runner.resume();
    const outcomes = [
      h.runner.enqueue({ kind: 'open' }),
      h.runner.enqueue({ kind: 'close' }),
      h.runner.enqueue({ kind: 'lock', code: '1234' }),
    ];
    assert.equal(h.trace.length, 0, 'enqueue runs nothing in the caller');
    const results = await Promise.all(outcomes);
    assert.deepEqual(
      results.map((r) => r.kind),
      ['accepted', 'accepted', 'accepted'],
    );
    assert.deepEqual(h.trace, [
      'transition',
      'start chime1',
      'end chime1',
      'transition',
      'transition',
      'start chime1',
      'end chime1',
      'start locked',
      'end locked',
    ]);
    assert.equal(h.runner.seq, 3);
    journal.close();
  });

  it('holds events queued before resume until the pending outbox rows have run', async () => {
    const path = freshPath();
    const first = openJournal(path);
    const a = harness(first, { fail: () => true });
    await a.runner.resume();
    const r = await a.runner.enqueue({ kind: 'open' });
    assert.equal(r.kind === 'accepted' && r.effectsFailed, 1);
    await a.runner.close();
    first.close();

    const second = openJournal(path);
    const b = harness(second);
    const queued = b.runner.enqueue({ kind: 'close' });
    await new Promise((res) => setImmediate(res));
    assert.deepEqual(b.trace, [], 'nothing runs before resume');
    await b.runner.resume();
    await queued;
    assert.deepEqual(b.trace, ['start chime1', 'end chime1', 'transition']);
    assert.equal(counts(second).pending, 0);
    second.close();
  });

  it('lets an effect interpreter post result events without awaiting them', async () => {
    const journal = openJournal(freshPath());
    const h = harness(journal, {
      interpretHook: (effect, runner) => {
        if (effect.kind === 'chime') void runner.enqueue({ kind: 'close' });
      },
    });
    await h.runner.resume();
    await h.runner.enqueue({ kind: 'open' });
    await h.runner.idle();
    assert.equal(h.runner.state.kind, 'closed');
    assert.equal(h.runner.seq, 2);
    journal.close();
  });
});

describe('MachineRunner: persistence', () => {
  it('writes state, log and outbox in one transaction: a failing write leaves none of them', async () => {
    const journal = openJournal(freshPath());
    const h = harness(journal);
    await h.runner.resume();
    await h.runner.enqueue({ kind: 'open' });
    const before = counts(journal);
    assert.deepEqual(before, { state: 1, log: 1, outbox: 1, pending: 0 });

    // jam's second effect encodes without "v": the outbox insert (the last write) fails its CHECK.
    const jammed = await h.runner.enqueue({ kind: 'jam' });
    assert.equal(jammed.kind, 'failed');
    assert.match(String((jammed as { error: Error }).error.message), /CHECK constraint failed/);
    assert.deepEqual(counts(journal), before);
    assert.deepEqual(storedState(journal), { seq: 1, state: h.runner.state });
    assert.equal(h.runner.state.opened, 1, 'memory keeps the committed state');
    assert.deepEqual(h.ran, ['chime1'], 'no effect of the failed event ran');
    assert.ok(h.logger.lines.some((l) => l.level === 'error' && /event failed/.test(l.msg)));

    const next = await h.runner.enqueue({ kind: 'close' });
    assert.equal(next.kind === 'accepted' && next.seq, 2, 'the seq continues without a gap');
    journal.close();
  });

  it('keeps seq gapless and the state row equal to the replay of the log', async () => {
    const journal = openJournal(freshPath());
    const h = harness(journal);
    await h.runner.resume();
    const events: DoorEvent[] = [
      { kind: 'open' },
      { kind: 'knock' },
      { kind: 'open' },
      { kind: 'close' },
      { kind: 'close' },
      { kind: 'lock', code: 'x' },
      { kind: 'unlock', code: 'y' },
      { kind: 'unlock', code: 'x' },
      { kind: 'open' },
    ];
    for (const [i, e] of events.entries()) {
      h.chain.height = 200 + i;
      await h.runner.enqueue(e);
    }
    const log = journal.history('door-1');
    assert.deepEqual(
      log.map((r) => r.seq),
      [1, 2, 3, 4, 5],
    );
    assert.deepEqual(
      log.map((r) => [r.fromState, r.eventKind, r.toState, r.height]),
      [
        [0, 0, 1, 200],
        [1, 1, 0, 203],
        [0, 2, 2, 205],
        [2, 3, 0, 207],
        [0, 0, 1, 208],
      ],
    );
    const stored = storedState(journal);
    assert.deepEqual(stored, { seq: 5, state: h.runner.state });
    assert.deepEqual(replayed(journal), h.runner.state);
    assert.equal(h.runner.state.lastOpenedAt, 208);
    journal.close();
  });

  it('refuses events without changing or writing anything, with the machine’s error code', async () => {
    const journal = openJournal(freshPath());
    const h = harness(journal);
    await h.runner.resume();
    await h.runner.enqueue({ kind: 'lock', code: 'c' });
    const before = { counts: counts(journal), state: h.runner.state, commits: h.commits.length };
    const opened = await h.runner.enqueue({ kind: 'open' });
    assert.deepEqual(opened, { kind: 'refused', reason: 'the door is locked', code: 'COURT_E_FSM_REFUSED' });
    const wrong = await h.runner.enqueue({ kind: 'unlock', code: 'nope' });
    assert.deepEqual(wrong, { kind: 'refused', reason: 'wrong code', code: 'COURT_E_INVALID_ARGUMENT' });
    assert.deepEqual({ counts: counts(journal), state: h.runner.state, commits: h.commits.length }, before);
    journal.close();
  });

  it('writes nothing for an accepted event that changes nothing', async () => {
    const journal = openJournal(freshPath());
    const h = harness(journal);
    await h.runner.resume();
    const knock = await h.runner.enqueue({ kind: 'knock' });
    assert.deepEqual(knock, { kind: 'unchanged', state: door.initial('door-1') });
    assert.deepEqual(counts(journal), { state: 0, log: 0, outbox: 0, pending: 0 });
    assert.equal(h.commits.length, 0);
    journal.close();
  });

  it('reports every commit to onCommit, in order', async () => {
    const journal = openJournal(freshPath());
    const h = harness(journal, { fail: (e) => e.kind === 'notify' });
    await h.runner.resume();
    await h.runner.enqueue({ kind: 'lock', code: 'c' });
    const [t, done, failed] = h.commits;
    assert.equal(h.commits.length, 3);
    assert.deepEqual(t, { kind: 'transition', machineId: 'door-1', seq: 1, fromCode: 0, toCode: 2, eventCode: 2, outboxIds: [1, 2] });
    assert.deepEqual(done, { kind: 'effect-done', machineId: 'door-1', outboxId: 1, seq: 1, idx: 0 });
    assert.deepEqual(failed, { kind: 'effect-failed', machineId: 'door-1', outboxId: 2, seq: 1, idx: 1 });
    journal.close();
  });
});

describe('MachineRunner: crash at every commit point', () => {
  it('resumes from a copy taken at each commit: pending effects run once, done ones never, the end state is the same', async () => {
    const events: DoorEvent[] = [{ kind: 'open' }, { kind: 'close' }, { kind: 'lock', code: 'k' }, { kind: 'unlock', code: 'k' }];
    const journal = openJournal(freshPath());
    // At each commit: the copy, how many events were fully or partly processed, and which effects (as
    // positions in the original's run order) were committed but not yet done.
    const copies: { info: CommitInfo; path: string; eventsDone: number; ranBefore: number; committed: number }[] = [];
    let current = 0;
    let committed = 0;
    const h = harness(journal, {
      onCommit: (info) => {
        if (info.kind === 'transition') committed += info.outboxIds.length;
        const path = freshPath();
        copyDatabase(journal.db, path);
        copies.push({ info, path, eventsDone: current + 1, ranBefore: h.ran.length, committed });
      },
    });
    await h.runner.resume();
    for (const [i, e] of events.entries()) {
      current = i;
      await h.runner.enqueue(e);
    }
    const finalState = h.runner.state;
    assert.deepEqual(h.ran, ['chime1', 'chime1', 'locked', 'unlocked']);
    // open: T + done; close: T; lock: T + 2 done; unlock: T + done
    assert.deepEqual(
      copies.map((c) => c.info.kind),
      ['transition', 'effect-done', 'transition', 'transition', 'effect-done', 'effect-done', 'transition', 'effect-done'],
    );

    for (const copy of copies) {
      const j = openJournal(copy.path);
      const r = harness(j);
      await r.runner.resume();
      // Exactly the effects committed but not done at that commit, in order; nothing else.
      const where = `copy at ${copy.info.kind} of seq ${copy.info.seq}`;
      assert.deepEqual(r.ran, h.ran.slice(copy.ranBefore, copy.committed), where);
      assert.equal(counts(j).pending, 0, where);
      for (const e of events.slice(copy.eventsDone)) await r.runner.enqueue(e);
      assert.deepEqual(r.runner.state, finalState);
      assert.deepEqual(replayed(j), finalState);
      await r.runner.close();
      j.close();

      const again = openJournal(copy.path);
      const s = harness(again);
      await s.runner.resume();
      assert.deepEqual(s.ran, [], 'effects marked done are not run again');
      again.close();
    }
    journal.close();
  });
});

describe('MachineRunner: effect failures', () => {
  it('keeps a failed effect pending, reports it, runs the next effects, and retries it on resume', async () => {
    const path = freshPath();
    const journal = openJournal(path);
    const h = harness(journal, { fail: (e) => e.kind === 'chime' });
    await h.runner.resume();
    const r = await h.runner.enqueue({ kind: 'lock', code: 'z' });
    assert.deepEqual(r, { kind: 'accepted', seq: 1, state: h.runner.state, effectsFailed: 1 });
    assert.deepEqual(h.ran, ['locked'], 'the effect after the failed one still ran');
    assert.equal(h.failures.length, 1);
    const f = h.failures[0];
    assert.deepEqual(
      { outboxId: f?.outboxId, seq: f?.seq, idx: f?.idx, effect: f?.effect },
      { outboxId: 1, seq: 1, idx: 0, effect: { kind: 'chime', n: 0 } },
    );
    assert.ok(f?.error instanceof CourtError && f.error.code === 'COURT_E_CHAIN_UNREACHABLE');
    const row = journal.db.prepare('SELECT status, attempts, last_error FROM outbox WHERE id = 1').get();
    assert.deepEqual(row, { status: 0, attempts: 1, last_error: 'COURT_E_CHAIN_UNREACHABLE: cannot chime0' });
    assert.ok(h.logger.lines.some((l) => l.level === 'warn' && /effect failed/.test(l.msg)));

    // The runner keeps going, and retryPending re-runs the row in this process.
    assert.equal((await h.runner.enqueue({ kind: 'unlock', code: 'z' })).kind, 'accepted');
    assert.equal(await h.runner.retryPending(), 1, 'still failing');
    assert.equal((journal.db.prepare('SELECT attempts FROM outbox WHERE id = 1').get() as { attempts: number }).attempts, 2);
    await h.runner.close();
    journal.close();

    const reopened = openJournal(path);
    const again = harness(reopened);
    await again.runner.resume();
    assert.deepEqual(again.ran, ['chime0']);
    assert.equal(counts(reopened).pending, 0);
    reopened.close();
  });

  it('survives hooks that throw', async () => {
    const journal = openJournal(freshPath());
    const logger = recordingLogger();
    const runner = new MachineRunner({
      journal,
      machine: door,
      machineId: 'door-1',
      env: () => ({ height: 1 }),
      interpret: () => {
        throw new Error('boom');
      },
      onCommit: () => {
        throw new Error('commit hook');
      },
      onEffectFailed: () => {
        throw new Error('failure hook');
      },
      logger,
    });
    await runner.resume();
    const r = await runner.enqueue({ kind: 'open' });
    assert.equal(r.kind === 'accepted' && r.effectsFailed, 1);
    assert.ok(logger.lines.some((l) => /onCommit hook threw/.test(l.msg)));
    assert.ok(logger.lines.some((l) => /onEffectFailed hook threw/.test(l.msg)));
    journal.close();
  });

  it('treats a stored effect that no longer decodes as a failure and keeps it pending', async () => {
    const path = freshPath();
    const journal = openJournal(path);
    const h = harness(journal, { fail: () => true });
    await h.runner.resume();
    await h.runner.enqueue({ kind: 'open' });
    journal.db.prepare(`UPDATE outbox SET payload = '{"v":1,"kind":"teleport"}' WHERE id = 1`).run();
    journal.close();

    const reopened = openJournal(path);
    const again = harness(reopened);
    await again.runner.resume();
    assert.equal(again.failures.length, 1);
    assert.equal(again.failures[0]?.effect, undefined);
    assert.ok(again.failures[0]?.error instanceof CourtError && again.failures[0].error.code === 'COURT_E_FSM_DECODE');
    assert.equal(counts(reopened).pending, 1);
    reopened.close();
  });
});

describe('MachineRunner: lifecycle', () => {
  it('refuses to run a machine whose state row and log disagree', async () => {
    const path = freshPath();
    const journal = openJournal(path);
    const h = harness(journal);
    await h.runner.resume();
    await h.runner.enqueue({ kind: 'open' });
    journal.db.prepare("UPDATE machine_state SET seq = 7 WHERE machine_id = 'door-1'").run();
    const b = harness(journal);
    const queued = b.runner.enqueue({ kind: 'close' });
    await assert.rejects(b.runner.resume(), (e: unknown) => e instanceof CourtError && e.code === 'COURT_E_FSM_CORRUPT');
    const r = await queued;
    assert.ok(r.kind === 'failed' && r.error instanceof CourtError && r.error.code === 'COURT_E_FSM_CORRUPT');
    journal.close();
  });

  it('is resumed once, and is not read before', async () => {
    const journal = openJournal(freshPath());
    const h = harness(journal);
    assert.throws(() => h.runner.state, (e: unknown) => e instanceof CourtError && e.code === 'COURT_E_FSM_LIFECYCLE');
    await h.runner.resume();
    await assert.rejects(h.runner.resume(), (e: unknown) => e instanceof CourtError && e.code === 'COURT_E_FSM_LIFECYCLE');
    journal.close();
  });

  it('close() drains queued events, then answers COURT_E_FSM_CLOSED', async () => {
    const journal = openJournal(freshPath());
    const h = harness(journal);
    await h.runner.resume();
    const queued = h.runner.enqueue({ kind: 'open' });
    await h.runner.close();
    assert.equal((await queued).kind, 'accepted');
    const late = await h.runner.enqueue({ kind: 'close' });
    assert.ok(late.kind === 'failed' && late.error instanceof CourtError && late.error.code === 'COURT_E_FSM_CLOSED');

    const never = harness(journal, { id: 'door-2' });
    const waiting = never.runner.enqueue({ kind: 'open' });
    await never.runner.close();
    const r = await waiting;
    assert.ok(r.kind === 'failed' && r.error instanceof CourtError && r.error.code === 'COURT_E_FSM_CLOSED');
    journal.close();
  });

  it('close() during resume waits for it and for the events queued meanwhile', async () => {
    const path = freshPath();
    const first = openJournal(path);
    const a = harness(first, { fail: () => true });
    await a.runner.resume();
    await a.runner.enqueue({ kind: 'open' });
    first.close();

    const journal = openJournal(path);
    const h = harness(journal);
    const resumed = h.runner.resume(); // replays the pending chime (the interpreter yields once)
    const queued = h.runner.enqueue({ kind: 'close' });
    await h.runner.close();
    // When close() resolves, the replay and the queued event are both done.
    assert.deepEqual(h.ran, ['chime1']);
    assert.equal(h.runner.state.kind, 'closed');
    await resumed;
    assert.equal((await queued).kind, 'accepted');
    assert.equal((await h.runner.enqueue({ kind: 'open' })).kind, 'failed');
    journal.close();
  });

  it('keeps machines of one journal apart', async () => {
    const journal = openJournal(freshPath());
    const a = harness(journal, { id: 'door-a' });
    const b = harness(journal, { id: 'door-b' });
    await Promise.all([a.runner.resume(), b.runner.resume()]);
    await Promise.all([a.runner.enqueue({ kind: 'open' }), b.runner.enqueue({ kind: 'lock', code: 'b' }), a.runner.enqueue({ kind: 'close' })]);
    assert.deepEqual(
      journal.history('door-a').map((r) => r.seq),
      [1, 2],
    );
    assert.deepEqual(
      journal.history('door-b').map((r) => r.seq),
      [1],
    );
    assert.equal(storedState(journal, 'door-b')?.state.kind, 'locked');
    journal.close();
  });
});
