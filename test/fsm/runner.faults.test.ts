/**
 * Fault injection at the runner's commit points (issue 9 item 10): an effect's result event whose commit fails
 * leaves the effect pending (its result is lost with that transaction, so the effect must run again); an effect
 * whose row cannot be marked done stays pending; a pulse step whose commit fails is taken again by
 * retryPending(), not only by a restart. In each case the machine still reaches the state it would have
 * reached without the fault, and every outbox row ends done.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { MachineRunner, step, type Journal, type Machine } from '../../src/fsm/index.js';
import { openJournal, type SqliteJournal } from '../../src/store/journal.js';
import { tempDir } from '../helpers/db.js';

type S = { readonly kind: 'a' | 'b' | 'c' | 'd'; readonly n: number };
type Ev = { readonly kind: 'go' | 'answer' | 'pulse' };
type Ef = { readonly kind: 'ask' };

const codec = <T extends { kind: string }>(kinds: readonly string[]) => ({
  encode: (x: T) => ({ v: 1, ...(x as object) }) as never,
  decode: (j: unknown) => {
    const { v: _v, ...rest } = j as Record<string, unknown>;
    return rest as unknown as T;
  },
  code: (x: T) => kinds.indexOf(x.kind),
});

const EVENT = { go: 0, answer: 1, pulse: 2 } as const;

/** a --go--> b (effect ask, answered by 'answer') --answer--> c (pulse) --pulse--> d. */
const machine: Machine<S, Ev, Ef> = {
  kind: 'toy-faults',
  initial: () => ({ kind: 'a', n: 0 }),
  transition: (s, e) => {
    if (s.kind === 'a' && e.kind === 'go') return step({ kind: 'b', n: s.n + 1 }, [{ kind: 'ask' }]);
    if (s.kind === 'b' && e.kind === 'answer') return step({ kind: 'c', n: s.n + 1 });
    if (s.kind === 'c' && e.kind === 'pulse') return step({ kind: 'd', n: s.n + 1 });
    return step(s);
  },
  pulse: (s) => (s.kind === 'c' ? { kind: 'pulse' } : undefined),
  state: codec<S>(['a', 'b', 'c', 'd']),
  event: codec<Ev>(['go', 'answer', 'pulse']),
  effect: codec<Ef>(['ask']),
};

const tmp = tempDir('fsm-faults');
after(() => tmp.remove());
let files = 0;

/** The SQLite journal with faults: `commitFails(eventCode)` and `markDoneFails()` each throw while they return true. */
function faulty(j: SqliteJournal, f: { commitFails?: (eventCode: number) => boolean; markDoneFails?: () => boolean }): Journal {
  return {
    load: (id) => j.load(id),
    pending: (id) => j.pending(id),
    markFailed: (id, e) => j.markFailed(id, e),
    commit: (r) => {
      if (f.commitFails?.(r.eventCode) === true) throw Object.assign(new Error('SQLITE_IOERR: injected disk I/O error'), { code: 'SQLITE_IOERR' });
      return j.commit(r);
    },
    markDone: (id) => {
      if (f.markDoneFails?.() === true) throw Object.assign(new Error('SQLITE_BUSY: injected'), { code: 'SQLITE_BUSY' });
      j.markDone(id);
    },
  };
}

/** Fails the first `n` calls that match. */
const times = (n: number) => (): boolean => n-- > 0;

function run(journal: Journal, answer: boolean) {
  let asked = 0;
  const runner = new MachineRunner({
    journal,
    machine,
    machineId: 'm',
    env: () => ({ height: 1 }),
    interpret: () => {
      asked++;
      return answer ? { kind: 'answer' as const } : undefined;
    },
  });
  return { runner, asked: () => asked };
}

describe('runner fault injection', () => {
  it("an effect whose result event fails to commit stays pending; the next retryPending() runs it and takes its result", async () => {
    // fails on a1a5213: the result's commit failed, yet the effect was marked done (0 pending rows), so the
    // answer was lost for good and the machine stayed in b.
    const sqlite = openJournal(join(tmp.dir, `f${files++}.sqlite`));
    const failAnswer = times(1);
    const { runner, asked } = run(faulty(sqlite, { commitFails: (code) => code === EVENT.answer && failAnswer() }), true);
    await runner.resume();
    const out = await runner.enqueue({ kind: 'go' });
    assert.equal(out.kind, 'accepted');
    assert.equal(out.kind === 'accepted' ? out.effectsFailed : -1, 1, 'the effect counts as failed');
    assert.equal(runner.state.kind, 'b');
    assert.equal(sqlite.pending('m').length, 1, 'the effect is not marked done');
    assert.equal(await runner.retryPending(), 0);
    assert.equal(runner.state.kind, 'd', 'the rerun produced the answer, then the pulse was taken');
    assert.equal(asked(), 2);
    assert.deepEqual(sqlite.pending('m'), []);
    assert.deepEqual(sqlite.history('m').map((h) => h.eventKind), [EVENT.go, EVENT.answer, EVENT.pulse]);
    sqlite.close();
  });

  it('an effect that cannot be marked done stays pending and is counted as failed', async () => {
    // fails on a1a5213: the failure to mark it done was reported as success (effectsFailed 0), so a supervisor
    // never retried it before a restart.
    const sqlite = openJournal(join(tmp.dir, `f${files++}.sqlite`));
    const { runner, asked } = run(faulty(sqlite, { markDoneFails: times(1) }), false);
    await runner.resume();
    const out = await runner.enqueue({ kind: 'go' });
    assert.equal(out.kind === 'accepted' ? out.effectsFailed : -1, 1);
    assert.equal(sqlite.pending('m').length, 1);
    assert.equal(await runner.retryPending(), 0);
    assert.equal(asked(), 2);
    assert.deepEqual(sqlite.pending('m'), []);
    sqlite.close();
  });

  it('a pulse whose commit fails is due; retryPending() takes it without a restart', async () => {
    // fails on a1a5213: retryPending() ignored the due pulse and answered 0, so the machine stayed in c until a
    // restart.
    const sqlite = openJournal(join(tmp.dir, `f${files++}.sqlite`));
    const failPulse = times(3); // two attempts in enqueue (after the answer, after the event), one in the first retry
    const { runner } = run(faulty(sqlite, { commitFails: (code) => code === EVENT.pulse && failPulse() }), true);
    await runner.resume();
    await runner.enqueue({ kind: 'go' });
    assert.equal(runner.state.kind, 'c');
    assert.equal(runner.pulseDue, true);
    assert.equal(await runner.retryPending(), 1, 'the second attempt fails too: still due');
    assert.equal(runner.state.kind, 'c');
    assert.equal(await runner.retryPending(), 0);
    assert.equal(runner.state.kind, 'd');
    assert.equal(runner.pulseDue, false);
    sqlite.close();
  });
});
