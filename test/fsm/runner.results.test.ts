/**
 * Runner features the ChannelArbitrator relies on: an effect's result returned as an event is processed at once
 * and marks the effect done in the same transaction; a machine's pulse is taken after a step and on resume; a
 * step's records reach the journal's record sink inside the transition's transaction, and a step with records
 * but no sink writes nothing.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { MachineRunner, step, type Machine } from '../../src/fsm/index.js';
import { openJournal, type RecordSink } from '../../src/store/journal.js';
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

/** a --go--> b (effect ask, answered by 'answer') --answer--> c (pulse) --pulse--> d, with a record. */
const machine: Machine<S, Ev, Ef> = {
  kind: 'toy-results',
  initial: () => ({ kind: 'a', n: 0 }),
  transition: (s, e) => {
    if (s.kind === 'a' && e.kind === 'go') return step({ kind: 'b', n: s.n + 1 }, [{ kind: 'ask' }]);
    if (s.kind === 'b' && e.kind === 'answer') return step({ kind: 'c', n: s.n + 1 });
    if (s.kind === 'c' && e.kind === 'pulse') return step({ kind: 'd', n: s.n + 1 }, [], [{ v: 1, note: 'reached d' }]);
    return step(s);
  },
  pulse: (s) => (s.kind === 'c' ? { kind: 'pulse' } : undefined),
  state: codec<S>(['a', 'b', 'c', 'd']),
  event: codec<Ev>(['go', 'answer', 'pulse']),
  effect: codec<Ef>(['ask']),
};

const tmp = tempDir('fsm-results');
after(() => tmp.remove());

const sink: RecordSink = (db) => {
  db.exec('CREATE TABLE IF NOT EXISTS toy_record (machine_id TEXT, seq INTEGER, note TEXT)');
  const ins = db.prepare('INSERT INTO toy_record VALUES (?, ?, ?)');
  return (at, records) => {
    for (const r of records) ins.run(at.machineId, at.seq, String(r.note));
  };
};

describe('runner: effect results, pulses and records', () => {
  it('processes a returned result at once, marks its effect done in that transaction, then takes the pulse and writes the record', async () => {
    const journal = openJournal(join(tmp.dir, 'one.sqlite'), undefined, sink);
    const seen: string[] = [];
    const r = new MachineRunner({ journal, machine, machineId: 'm', env: () => ({ height: 1 }), interpret: (ef) => (seen.push(ef.kind), { kind: 'answer' as const }) });
    await r.resume();
    await r.enqueue({ kind: 'go' });
    assert.equal(r.state.kind, 'd');
    assert.deepEqual(seen, ['ask']);
    assert.deepEqual(journal.pending('m'), [], 'the ask effect is done');
    assert.deepEqual(journal.history('m').map((h) => h.toState), [1, 2, 3]);
    assert.deepEqual(journal.db.prepare('SELECT seq, note FROM toy_record').all(), [{ seq: 3, note: 'reached d' }]);
    journal.close();
  });

  it('leaves the effect pending when its result cannot commit, and takes the pulse on resume', async () => {
    const path = join(tmp.dir, 'two.sqlite');
    const j1 = openJournal(path, undefined, sink);
    // The answer is lost with the process: the effect stays pending and runs again on resume.
    const r1 = new MachineRunner({ journal: j1, machine, machineId: 'm', env: () => ({ height: 1 }), interpret: () => { throw new Error('node down'); } });
    await r1.resume();
    await r1.enqueue({ kind: 'go' });
    assert.equal(r1.state.kind, 'b');
    assert.equal(j1.pending('m').length, 1);
    j1.close();
    const j2 = openJournal(path, undefined, sink);
    const r2 = new MachineRunner({ journal: j2, machine, machineId: 'm', env: () => ({ height: 2 }), interpret: () => ({ kind: 'answer' as const }) });
    await r2.resume();
    assert.equal(r2.state.kind, 'd', 'resume ran the effect, took its answer and then the pulse');
    assert.deepEqual(j2.pending('m'), []);
    j2.close();
  });

  it('refuses a step with records when the journal has no sink, writing nothing', async () => {
    const journal = openJournal(join(tmp.dir, 'three.sqlite'));
    const r = new MachineRunner({ journal, machine, machineId: 'm', env: () => ({ height: 1 }), interpret: () => ({ kind: 'answer' as const }) });
    await r.resume();
    await r.enqueue({ kind: 'go' });
    assert.equal(r.state.kind, 'c', 'the pulse step failed: state stays at c');
    assert.deepEqual(journal.history('m').map((h) => h.toState), [1, 2]);
    journal.close();
  });
});
