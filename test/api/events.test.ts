/**
 * The event feed under load: events written while a client streams (in batches, with kicks and without) reach it
 * once each, in id order; two clients from different ids each get their own suffix; a stream ends when the feed
 * closes; the ack never goes back.
 */
import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ackedEventId, ackEvents, EventFeed, lastEventId } from '../../src/api/events.js';
import { openDatabase } from '../../src/store/db.js';
import { migrate } from '../../src/store/migrate.js';
import { tempDir } from '../helpers/db.js';

const CP = `${'ab'.repeat(32)}:0`;

describe('event feed', () => {
  const tmp = tempDir('events');
  after(() => tmp.remove());

  it('streams concurrent writes once each, in order, to every client from its own id', async () => {
    const db = openDatabase(join(tmp.dir, 'ev.sqlite'));
    migrate(db);
    db.prepare("INSERT INTO channel (chan_point, capacity_sat, commitment_type, initiator, funding_height_hint) VALUES (?, '1000', 0, 0, 1)").run(CP);
    const ins = db.prepare('INSERT INTO node_event (chan_point, kind, payload, created_height) VALUES (?, 5, ?, 7)');
    const write = (n: number): void => db.transaction(() => {
      for (let i = 0; i < n; i++) ins.run(CP, JSON.stringify({ v: 1, i }));
    })();
    write(50);
    const feed = new EventFeed({ db, pollMs: 10 });
    const server: Server = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      feed.open(res, Number(new URL(req.url ?? '/', 'http://x').searchParams.get('after') ?? 0));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const client = (after: number): { ids: number[]; ended: Promise<void> } => {
      const ids: number[] = [];
      const ended = new Promise<void>((resolve) => {
        const req = request({ host: '127.0.0.1', port, path: `/?after=${after}` }, (res) => {
          let buf = '';
          res.on('data', (c: Buffer) => {
            buf += c.toString('utf8');
            let k: number;
            while ((k = buf.indexOf('\n\n')) >= 0) {
              const m = /^id: (\d+)$/m.exec(buf.slice(0, k));
              buf = buf.slice(k + 2);
              if (m !== null) ids.push(Number(m[1]));
            }
          });
          res.on('end', () => resolve());
          res.on('close', () => resolve());
        });
        req.end();
      });
      return { ids, ended };
    };
    const a = client(0);
    const b = client(30);
    for (let round = 0; round < 20; round++) {
      write(25);
      if (round % 2 === 0) feed.kick(); // the daemon's commit hook; odd rounds rely on the poll
      await new Promise((r) => setTimeout(r, 5));
    }
    const last = lastEventId(db);
    assert.equal(last, 550);
    const deadline = Date.now() + 10_000;
    while ((a.ids.at(-1) ?? 0) < last || (b.ids.at(-1) ?? 0) < last) {
      assert.ok(Date.now() < deadline, `streams caught up (${a.ids.length}, ${b.ids.length})`);
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.deepEqual(a.ids, Array.from({ length: 550 }, (_, i) => i + 1), 'client from 0: every id once, in order');
    assert.deepEqual(b.ids, Array.from({ length: 520 }, (_, i) => i + 31), 'client from 30: its suffix');
    assert.equal(feed.streams, 2);
    feed.close();
    await Promise.all([a.ended, b.ended]);
    assert.equal(feed.streams, 0);
    server.close();

    assert.deepEqual(ackEvents(db, 100), { acked: 100, pruned: 0 });
    assert.deepEqual(ackEvents(db, 40), { acked: 100, pruned: 0 }, 'never goes back');
    assert.equal(ackedEventId(db), 100);
    db.close();
  });
});
