/**
 * The block dispatcher over the fake chain: ordering, reorgs, restarts, node outages, subscriber failures; and
 * its persistence port, both BlockLog implementations (kept in this file to spare a test process).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { MemoryBlockLog, SqliteBlockLog } from '../../src/chain/block-log.js';
import { CourtError } from '../../src/util/errors.js';
import { BlockDispatcher } from '../../src/chain/dispatcher.js';
import type { BlockLog, ChainEvent } from '../../src/chain/ports.js';
import { openDatabase } from '../../src/store/db.js';
import { migrate } from '../../src/store/migrate.js';
import { FakeChain, instantSleep } from '../helpers/fake-chain.js';
import { recordingLogger, until } from '../helpers/async.js';

/** "C5" for BlockConnected at 5, "D5" for BlockDisconnected at 5. */
const label = (e: ChainEvent): string => `${e.type === 'BlockConnected' ? 'C' : 'D'}${e.height}`;

function setup(opts: { startHeight?: number; log?: MemoryBlockLog | SqliteBlockLog; chain?: FakeChain } = {}) {
  const chain = opts.chain ?? new FakeChain();
  const blockLog = opts.log ?? new MemoryBlockLog();
  const { sleep, delays } = instantSleep();
  const logger = recordingLogger();
  const dispatcher = new BlockDispatcher({ source: chain, blockLog, startHeight: opts.startHeight, sleep, logger });
  const events: ChainEvent[] = [];
  dispatcher.subscribe((e) => {
    events.push(e);
  });
  return { chain, blockLog, dispatcher, events, delays, logger, labels: () => events.map(label) };
}

describe('block dispatcher: ordered delivery', () => {
  it('delivers every block from the start height in height order, with the parsed block', async () => {
    const chain = new FakeChain();
    chain.mine(5);
    const { dispatcher, events, labels } = setup({ chain, startHeight: 1 });
    await dispatcher.poll();
    assert.deepEqual(labels(), ['C1', 'C2', 'C3', 'C4', 'C5']);
    for (const e of events) {
      assert.equal(e.type, 'BlockConnected');
      if (e.type !== 'BlockConnected') continue;
      assert.equal(e.hash, chain.best[e.height]?.hash);
      assert.equal(e.block.hash, e.hash);
      assert.equal(e.block.txids.length, e.block.txs.length);
    }
    assert.deepEqual(dispatcher.tip(), { height: 5, hash: chain.tip.hash });
  });

  it('starts at the node tip on a first start without a start height', async () => {
    const chain = new FakeChain();
    chain.mine(7);
    const { dispatcher, labels } = setup({ chain });
    await dispatcher.poll();
    assert.deepEqual(labels(), ['C7']);
  });

  it('waits for a node that is below the start height', async () => {
    const chain = new FakeChain();
    chain.mine(3);
    const { dispatcher, labels } = setup({ chain, startHeight: 5 });
    await dispatcher.poll();
    assert.deepEqual(labels(), []);
    chain.mine(2);
    await dispatcher.poll();
    assert.deepEqual(labels(), ['C5']);
  });

  it('awaits each subscriber before the next subscriber and the next block', async () => {
    const chain = new FakeChain();
    chain.mine(3);
    const dispatcher = new BlockDispatcher({ source: chain, blockLog: new MemoryBlockLog(), startHeight: 1 });
    const trace: string[] = [];
    dispatcher.subscribe(async (e) => {
      trace.push(`a-start-${e.height}`);
      for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
      trace.push(`a-end-${e.height}`);
    });
    dispatcher.subscribe((e) => {
      trace.push(`b-${e.height}`);
    });
    await dispatcher.poll();
    assert.deepEqual(trace, [
      'a-start-1', 'a-end-1', 'b-1',
      'a-start-2', 'a-end-2', 'b-2',
      'a-start-3', 'a-end-3', 'b-3',
    ]);
  });

  it('fetches each block once and does nothing while the tip is unchanged', async () => {
    const chain = new FakeChain();
    chain.mine(4);
    const { dispatcher, labels } = setup({ chain, startHeight: 1 });
    await dispatcher.poll();
    await dispatcher.poll();
    chain.mine(2);
    await dispatcher.poll();
    assert.deepEqual(labels(), ['C1', 'C2', 'C3', 'C4', 'C5', 'C6']);
    for (const b of chain.best.slice(1)) assert.equal(chain.blockFetches.get(b.hash), 1, `block ${b.height}`);
  });
});

describe('block dispatcher: reorgs', () => {
  it('a 3-block reorg delivers disconnects newest first, then the new branch in order', async () => {
    const chain = new FakeChain();
    chain.mine(10);
    const { dispatcher, events, labels } = setup({ chain, startHeight: 1 });
    await dispatcher.poll();
    const orphaned = chain.best.slice(8).map((b) => b.hash);
    events.length = 0;
    const branch = chain.reorg(3, 4);
    await dispatcher.poll();
    assert.deepEqual(labels(), ['D10', 'D9', 'D8', 'C8', 'C9', 'C10', 'C11']);
    assert.deepEqual(events.slice(0, 3).map((e) => e.hash), orphaned.reverse());
    assert.deepEqual(events.slice(3).map((e) => e.hash), branch.map((b) => b.hash));
    for (const b of branch) assert.equal(chain.blockFetches.get(b.hash), 1, `new block ${b.height} fetched once`);
    assert.deepEqual(dispatcher.tip(), { height: 11, hash: chain.tip.hash });
  });

  it('a reorg to a shorter chain only disconnects', async () => {
    const chain = new FakeChain();
    chain.mine(6);
    const { dispatcher, events, labels } = setup({ chain, startHeight: 1 });
    await dispatcher.poll();
    events.length = 0;
    chain.reorg(2, 1);
    await dispatcher.poll();
    assert.deepEqual(labels(), ['D6', 'D5', 'C5']);
  });

  it('refuses a reorg deeper than its log without delivering anything', async () => {
    const chain = new FakeChain();
    chain.mine(8);
    const { dispatcher, events } = setup({ chain, startHeight: 5 });
    await dispatcher.poll();
    events.length = 0;
    chain.reorg(7, 8);
    await assert.rejects(dispatcher.poll(), (e: unknown) => e instanceof CourtError && e.code === 'COURT_E_CHAIN_DEEP_REORG');
    assert.deepEqual(events, []);
  });
});

describe('block dispatcher: restart from the block log', () => {
  function sqliteLog() {
    const db = openDatabase(':memory:');
    migrate(db);
    return new SqliteBlockLog(db);
  }

  it('resumes exactly after the persisted tip', async () => {
    const chain = new FakeChain();
    chain.mine(10);
    const log = sqliteLog();
    const first = setup({ chain, log, startHeight: 1 });
    await first.dispatcher.poll();
    await first.dispatcher.stop();
    chain.mine(2);
    const second = setup({ chain, log });
    assert.deepEqual(second.dispatcher.tip(), { height: 10, hash: chain.best[10]?.hash });
    await second.dispatcher.poll();
    assert.deepEqual(second.labels(), ['C11', 'C12']);
  });

  it('detects a reorg that happened while it was stopped', async () => {
    const chain = new FakeChain();
    chain.mine(10);
    const log = sqliteLog();
    const first = setup({ chain, log, startHeight: 1 });
    await first.dispatcher.poll();
    await first.dispatcher.stop();
    const stale = [chain.best[10]?.hash, chain.best[9]?.hash];
    chain.reorg(2, 3);
    const second = setup({ chain, log });
    await second.dispatcher.poll();
    assert.deepEqual(second.labels(), ['D10', 'D9', 'C9', 'C10', 'C11']);
    assert.deepEqual(second.events.slice(0, 2).map((e) => e.hash), stale);
    assert.deepEqual(log.load().slice(-3).map((r) => r.hash), chain.best.slice(9).map((b) => b.hash));
  });

  it('keeps only the newest 100 refs', async () => {
    const chain = new FakeChain();
    chain.mine(120);
    const log = sqliteLog();
    const { dispatcher } = setup({ chain, log, startHeight: 1 });
    await dispatcher.poll();
    const refs = log.load();
    assert.equal(refs.length, 100);
    assert.equal(refs[0]?.height, 21);
    assert.equal(refs[99]?.height, 120);
  });
});

describe('block dispatcher: failures', () => {
  it('backs off while the node is down, without crashing, and catches up when it returns', async () => {
    const chain = new FakeChain();
    chain.mine(3);
    const { dispatcher, labels, delays, logger } = setup({ chain, startHeight: 1 });
    chain.down = true;
    dispatcher.start();
    await until(() => delays.length >= 5);
    assert.deepEqual(labels(), []);
    assert.deepEqual(delays.slice(0, 5), [500, 1000, 2000, 4000, 8000]);
    assert.ok(logger.lines.some((l) => l.level === 'warn' && /node unavailable/.test(l.msg)));
    chain.down = false;
    await until(() => labels().length === 3);
    assert.deepEqual(labels(), ['C1', 'C2', 'C3']);
    await dispatcher.stop();
  });

  it('redelivers an event to a failing subscriber only, and persists the block after it succeeds', async () => {
    const chain = new FakeChain();
    chain.mine(3);
    const blockLog = new MemoryBlockLog();
    const { sleep, delays } = instantSleep();
    const dispatcher = new BlockDispatcher({ source: chain, blockLog, startHeight: 1, sleep, logger: recordingLogger() });
    const trace: string[] = [];
    let failures = 2;
    dispatcher.subscribe((e) => {
      trace.push(`a${e.height}`);
    });
    dispatcher.subscribe((e) => {
      trace.push(`b${e.height}`);
      if (e.height === 2 && failures-- > 0) {
        assert.equal(blockLog.load().length, 1, 'block 2 not persisted while a subscriber fails');
        throw new Error('boom');
      }
    });
    await dispatcher.poll();
    assert.deepEqual(trace, ['a1', 'b1', 'a2', 'b2', 'b2', 'b2', 'a3', 'b3']);
    assert.deepEqual(delays, [500, 1000]);
    assert.equal(blockLog.load().length, 3);
  });

  it('stop() resolves promptly and leaves no timer', async () => {
    const chain = new FakeChain();
    const timersBefore = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const dispatcher = new BlockDispatcher({ source: chain, blockLog: new MemoryBlockLog(), pollMs: 10_000 });
    dispatcher.start();
    await until(() => dispatcher.tip() !== undefined);
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    await until(() => timers() > timersBefore); // the loop is now waiting out its 10 s poll interval
    const t0 = performance.now();
    await dispatcher.stop();
    assert.ok(performance.now() - t0 < 100, 'stop waited for the poll interval');
    assert.equal(timers(), timersBefore);
  });
});

const dir = mkdtempSync(join(tmpdir(), 'courtd-blocklog-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const ref = (height: number) => ({ height, hash: height.toString(16).padStart(64, '0') });

function sqlite(path = ':memory:', retain?: number): SqliteBlockLog {
  const db = openDatabase(path);
  migrate(db);
  return new SqliteBlockLog(db, retain);
}

for (const [name, make] of [
  ['memory', (retain?: number): BlockLog => new MemoryBlockLog([], retain)],
  ['sqlite', (retain?: number): BlockLog => sqlite(':memory:', retain)],
] as const) {
  describe(`${name} block log`, () => {
    it('appends, prunes to the retention and removes the tip', () => {
      const log = make(3);
      for (let h = 1; h <= 5; h++) log.append(ref(h));
      assert.deepEqual(log.load(), [ref(3), ref(4), ref(5)]);
      log.remove(ref(5));
      assert.deepEqual(log.load(), [ref(3), ref(4)]);
    });

    it('refuses to remove a block that is not the stored tip', () => {
      const log = make();
      log.append(ref(1));
      assert.throws(() => log.remove({ height: 1, hash: 'ff'.repeat(32) }));
      assert.throws(() => log.remove(ref(2)));
    });
  });
}

describe('sqlite block log durability', () => {
  it('survives closing and reopening the database', () => {
    const path = join(dir, 'log.db');
    const db = openDatabase(path);
    migrate(db);
    const log = new SqliteBlockLog(db);
    log.append(ref(10));
    log.append(ref(11));
    db.close();
    assert.deepEqual(sqlite(path).load(), [ref(10), ref(11)]);
  });
});
