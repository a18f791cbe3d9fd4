/**
 * The simulator's node adapter against a stand-in API that records every request: it keeps the ordering contract
 * (the snapshot holding the new commitments is sent, and answered, before the previous ones are revoked; the peer's
 * secrets follow in order, each once), sends the bearer token, turns error answers into ApiError with their code,
 * and reads the event stream in id order, resuming after the last id when the stream is cut.
 */
import assert from 'node:assert/strict';
import type http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { ApiError, NodeAdapter } from '../../regtest/node-adapter.js';
import { toHex } from '../../src/util/bytes.js';
import { closeAllServers, startServer, type TestServer } from '../helpers/http-server.js';
import { openChannel } from './fixture.js';

interface Req {
  readonly method: string;
  readonly url: string;
  readonly auth: string | undefined;
  readonly body: any;
}

describe('NodeAdapter over HTTP', () => {
  let server: TestServer;
  let reqs: Req[] = [];
  let streams = 0;

  function handler(body: any, req: http.IncomingMessage, res: http.ServerResponse): void {
    reqs.push({ method: req.method as string, url: req.url as string, auth: req.headers.authorization, body });
    if (req.url?.startsWith('/v1/events')) {
      streams++;
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      if (streams === 1) {
        // Two events, then the stream is cut (a daemon restart).
        res.end('id: 1\ndata: {"id":1,"type":"channelClosing","chan_point":"a:0","height":5}\n\nid: 2\ndata: {"id":2,"type":"channelResolved","height":6}\n\n');
      } else {
        res.write('id: 3\ndata: {"id":3,"type":"htlcFailedOnChain","height":7}\n\n');
      }
      return;
    }
    if (req.url === '/v1/preimages') {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ code: 'COURT_E_INVALID_ARGUMENT', message: 'bad preimage' }));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ chan_point: 'x', state: 'Default' }));
  }

  before(async () => {
    server = await startServer(handler);
  });
  after(closeAllServers);

  it('commit: snapshot with the pending remote commitment, then (after the answer) the revoked snapshot and the secret', async () => {
    const sim = openChannel('anchors');
    const node = new NodeAdapter({ baseUrl: server.url, token: 'tok' });
    await node.register(sim);
    sim.addHtlc('alice', 10_000_000n, 500);
    await node.commit(sim);
    sim.addHtlc('bob', 20_000_000n, 600);
    await node.commit(sim);
    const path = `/v1/channels/${encodeURIComponent(sim.chanPoint)}`;
    assert.deepEqual(
      reqs.map((r) => `${r.method} ${r.url.replace(path, '{cp}')}`),
      ['PUT {cp}', 'PUT {cp}', 'PUT {cp}', 'POST {cp}/revocations', 'PUT {cp}', 'PUT {cp}', 'POST {cp}/revocations'],
    );
    assert.ok(reqs.every((r) => r.auth === 'Bearer tok'));
    // The first PUT of each commit carries their pending commitment (not yet revoked); the second does not.
    assert.equal(reqs[1]?.body.remoteCommitments.pending.number, 1);
    assert.equal(reqs[2]?.body.remoteCommitments.pending, undefined);
    assert.equal(reqs[2]?.body.remoteCommitments.current.number, 1);
    assert.deepEqual(reqs[3]?.body, { number: 0, secret: toHex(sim.revealedSecret('bob', 0)) });
    assert.deepEqual(reqs[6]?.body, { number: 1, secret: toHex(sim.revealedSecret('bob', 1)) });
    assert.equal(reqs[5]?.body.localCommitment.number, 2);
  });

  it('an error answer is an ApiError with its status and code', async () => {
    const node = new NodeAdapter({ baseUrl: server.url, token: 'tok' });
    await assert.rejects(node.preimages([new Uint8Array(32)]), (e: unknown) => e instanceof ApiError && e.status === 400 && e.code === 'COURT_E_INVALID_ARGUMENT');
  });

  it('events: in id order, and after a cut the stream resumes after the last id seen', async () => {
    reqs = [];
    const node = new NodeAdapter({ baseUrl: server.url, token: 'tok' });
    node.follow();
    try {
      await node.waitForEvent((e) => e.id === 3, 5_000);
      assert.deepEqual(
        node.events.map((e) => [e.id, e.type]),
        [
          [1, 'channelClosing'],
          [2, 'channelResolved'],
          [3, 'htlcFailedOnChain'],
        ],
      );
      const urls = reqs.filter((r) => r.url.startsWith('/v1/events')).map((r) => r.url);
      assert.deepEqual(urls.slice(0, 2), ['/v1/events', '/v1/events?after=2']);
      assert.deepEqual(node.violations, []);
      assert.ok(node.connections >= 2);
    } finally {
      node.close();
    }
  });
});
