/**
 * Property test of MachineRunner over random event sequences (refusals, no-ops, failing commits, failing
 * effects, rising heights): the log's seq is 1..n without gaps, n is the number of accepted events, the stored
 * state equals the in-memory state and the replay of the log, and a resumed runner finishes every pending effect.
 * The seed is printed as a test diagnostic; FC_SEED=n replays a run.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, it } from 'node:test';
import fc from 'fast-check';
import { MachineRunner, replay } from '../../src/fsm/index.js';
import { openJournal } from '../../src/store/journal.js';
import { tempDir } from '../helpers/db.js';
import { door, type DoorEvent } from './toy.js';

const tmp = tempDir('fsm-prop');
after(tmp.remove);

const eventArb: fc.Arbitrary<DoorEvent> = fc.oneof(
  fc.constant<DoorEvent>({ kind: 'open' }),
  fc.constant<DoorEvent>({ kind: 'close' }),
  fc.constant<DoorEvent>({ kind: 'knock' }),
  fc.constant<DoorEvent>({ kind: 'jam' }),
  fc.constantFrom('a', 'b').map((code): DoorEvent => ({ kind: 'lock', code })),
  fc.constantFrom('a', 'b').map((code): DoorEvent => ({ kind: 'unlock', code })),
);

const stepArb = fc.record({ event: eventArb, blocks: fc.nat({ max: 3 }), effectsFail: fc.boolean() });

it('seq is gapless and the stored state equals the replay of the log, over random event sequences', async (t) => {
  const seed = Number(process.env['FC_SEED'] ?? 4);
  t.diagnostic(`fast-check seed ${seed} (FC_SEED=${seed} replays it)`);
  const journal = openJournal(join(tmp.dir, 'prop.db'));
  let run = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(stepArb, { maxLength: 25 }), async (steps) => {
      const machineId = `door-${run++}`;
      const chain = { height: 500 };
      let failNow = false;
      let failures = 0;
      const runner = new MachineRunner({
        journal,
        machine: door,
        machineId,
        env: () => ({ height: chain.height }),
        interpret: () => {
          if (failNow) throw new Error('effect failed');
        },
        onEffectFailed: () => failures++,
      });
      await runner.resume();
      let accepted = 0;
      let effects = 0;
      for (const s of steps) {
        chain.height += s.blocks;
        failNow = s.effectsFail;
        const before = runner.state;
        const out = await runner.enqueue(s.event);
        if (out.kind === 'accepted') {
          accepted++;
          const result = door.transition(before, s.event, { height: chain.height });
          effects += 'effects' in result ? result.effects.length : 0;
        } else {
          assert.deepEqual(runner.state, before, `${out.kind} must not change the state`);
        }
      }
      const log = journal.history(machineId);
      assert.deepEqual(
        log.map((r) => r.seq),
        Array.from({ length: accepted }, (_, i) => i + 1),
      );
      const stored = journal.load(machineId);
      assert.equal(stored?.seq ?? 0, accepted);
      const fromRow = stored === undefined ? door.initial(machineId) : door.state.decode(stored.state);
      assert.deepEqual(fromRow, runner.state);
      assert.deepEqual(
        replay(door, machineId, log, (height) => ({ height })),
        runner.state,
      );
      assert.equal(journal.pending(machineId).length, failures);
      const outboxRows = (journal.db.prepare('SELECT COUNT(*) AS n FROM outbox WHERE machine_id = ?').get(machineId) as { n: number }).n;
      assert.equal(outboxRows, effects);
      await runner.close();

      // A restart finishes every pending effect and leaves the state as it was.
      const resumed = new MachineRunner({ journal, machine: door, machineId, env: () => ({ height: chain.height }), interpret: () => {} });
      await resumed.resume();
      assert.deepEqual(resumed.state, runner.state);
      assert.equal(resumed.seq, accepted);
      assert.equal(journal.pending(machineId).length, 0);
    }),
    { seed, numRuns: 60 },
  );
  journal.close();
});
