/** The mailbox: closed until opened, one job at a time in posting order, never inside the poster's stack. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Mailbox } from '../../src/fsm/index.js';

const tick = () => new Promise<void>((r) => setImmediate(r));

describe('Mailbox', () => {
  it('runs nothing until opened, then every job in posting order, one at a time', async () => {
    const trace: string[] = [];
    const box = new Mailbox(() => assert.fail('no job rejects'));
    const job = (name: string) => async () => {
      trace.push(`${name}+`);
      await tick();
      trace.push(`${name}-`);
    };
    box.post(job('a'));
    box.post(job('b'));
    await tick();
    assert.deepEqual(trace, []);
    assert.equal(box.size, 2);
    box.open();
    box.post(job('c'));
    await box.idle();
    assert.deepEqual(trace, ['a+', 'a-', 'b+', 'b-', 'c+', 'c-']);
    assert.equal(box.size, 0);
  });

  it('never runs a job inside post(), and idle() waits for jobs posted by jobs', async () => {
    const trace: string[] = [];
    const box = new Mailbox(() => {});
    box.open();
    box.post(async () => {
      trace.push('outer');
      box.post(async () => {
        await tick();
        trace.push('inner');
      });
    });
    trace.push('after post');
    await box.idle();
    assert.deepEqual(trace, ['after post', 'outer', 'inner']);
  });

  it('hands a rejecting job to onError and goes on', async () => {
    const errors: unknown[] = [];
    const box = new Mailbox((e) => errors.push(e));
    box.open();
    let ran = false;
    box.post(() => Promise.reject(new Error('bug')));
    box.post(async () => {
      ran = true;
    });
    await box.idle();
    assert.equal(errors.length, 1);
    assert.ok(ran);
  });
});
