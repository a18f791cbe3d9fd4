/**
 * The RPC transport against a real local HTTP server: how each failure bitcoin-core v5 surfaces is typed,
 * which ones are retried, and that close() ends everything at once.
 */
import assert from 'node:assert/strict';
import { after, afterEach, describe, it } from 'node:test';
import { classifyRpcFailure, RpcClient } from '../../src/chain/rpc.js';
import { CourtError, type CourtErrorCode } from '../../src/util/errors.js';
import { instantSleep } from '../helpers/fake-chain.js';
import { closeAllServers, closedPort, reply, startServer } from '../helpers/http-server.js';

const unhandled: unknown[] = [];
const onUnhandled = (e: unknown) => unhandled.push(e);
process.on('unhandledRejection', onUnhandled);
afterEach(() => closeAllServers()); // also when an assertion failed, so the process can exit
after(() => {
  process.off('unhandledRejection', onUnhandled);
  assert.deepEqual(unhandled, [], 'no unhandled rejections');
});

const isCode = (code: CourtErrorCode) => (e: unknown) => {
  assert.ok(e instanceof CourtError, `expected a CourtError, got ${String(e)}`);
  assert.equal(e.code, code, e.message);
  return true;
};

function client(url: string, opts: { attempts?: number; timeoutMs?: number } = {}) {
  const { sleep, delays } = instantSleep();
  const rpc = new RpcClient(
    { host: url, username: 'user', password: 'pass', timeoutMs: opts.timeoutMs ?? 2000 },
    { retry: { attempts: opts.attempts ?? 3, baseDelayMs: 100, maxDelayMs: 1000 }, sleep },
  );
  return { rpc, delays };
}

describe('RPC transport over HTTP', () => {
  it('sends positional params with basic auth and returns the result', async () => {
    let auth: string | undefined;
    const srv = await startServer((body, req, res) => {
      auth = req.headers.authorization;
      reply(res, body.id, { echo: body.params });
    });
    const { rpc } = client(srv.url);
    assert.deepEqual(JSON.parse(JSON.stringify(await rpc.call('getblock', ['ab'.repeat(32), 0]))), { echo: ['ab'.repeat(32), 0] });
    assert.equal((srv.requests[0] as any).method, 'getblock');
    assert.equal(auth, `Basic ${Buffer.from('user:pass').toString('base64')}`);
  });

  it('HTTP 401 -> COURT_E_CHAIN_AUTH, not retried', async () => {
    const srv = await startServer((_b, _q, res) => {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="jsonrpc"' });
      res.end();
    });
    const { rpc } = client(srv.url);
    await assert.rejects(rpc.call('getblockcount'), isCode('COURT_E_CHAIN_AUTH'));
    assert.equal(srv.requests.length, 1);
  });

  it('HTTP 403 -> COURT_E_CHAIN_AUTH', async () => {
    const srv = await startServer((_b, _q, res) => {
      res.writeHead(403);
      res.end();
    });
    await assert.rejects(client(srv.url).rpc.call('getblockcount'), isCode('COURT_E_CHAIN_AUTH'));
  });

  it('an HTML page -> COURT_E_CHAIN_BAD_REPLY, retried with exponential back-off', async () => {
    const srv = await startServer((_b, _q, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html><body>captive portal</body></html>');
    });
    const { rpc, delays } = client(srv.url);
    await assert.rejects(rpc.call('getblockcount'), isCode('COURT_E_CHAIN_BAD_REPLY'));
    assert.equal(srv.requests.length, 3);
    assert.deepEqual(delays, [100, 200]);
  });

  it('a proxy error page (HTTP 502) -> COURT_E_CHAIN_BAD_REPLY', async () => {
    const srv = await startServer((_b, _q, res) => {
      res.writeHead(502, { 'content-type': 'text/html' });
      res.end('<h1>Bad Gateway</h1>');
    });
    await assert.rejects(client(srv.url, { attempts: 1 }).rpc.call('getblockcount'), isCode('COURT_E_CHAIN_BAD_REPLY'));
  });

  it('JSON of the wrong shape (null, no result) -> COURT_E_CHAIN_BAD_REPLY', async () => {
    const bodies = ['null', '{"error":null,"id":1}', '{"foo":1}'];
    const srv = await startServer((_b, _q, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(bodies.shift());
    });
    const { rpc } = client(srv.url, { attempts: 1 });
    for (let i = 0; i < 3; i++) await assert.rejects(rpc.call('getblockcount'), isCode('COURT_E_CHAIN_BAD_REPLY'));
  });

  it('the server closing the socket -> COURT_E_CHAIN_UNREACHABLE, retried', async () => {
    const srv = await startServer((_b, req) => req.socket.destroy());
    const { rpc } = client(srv.url);
    await assert.rejects(rpc.call('getblockcount'), isCode('COURT_E_CHAIN_UNREACHABLE'));
    assert.equal(srv.requests.length, 3);
  });

  it('a refused port -> COURT_E_CHAIN_UNREACHABLE', async () => {
    const port = await closedPort();
    const { rpc, delays } = client(`http://127.0.0.1:${port}`);
    await assert.rejects(rpc.call('getblockcount'), isCode('COURT_E_CHAIN_UNREACHABLE'));
    assert.equal(delays.length, 2);
  });

  it('no reply within the timeout -> COURT_E_CHAIN_UNREACHABLE', async () => {
    const srv = await startServer(() => {});
    await assert.rejects(client(srv.url, { attempts: 1, timeoutMs: 100 }).rpc.call('getblockcount'), isCode('COURT_E_CHAIN_UNREACHABLE'));
  });

  it('a JSON-RPC error -> COURT_E_CHAIN_RPC with {rpcCode, method}, not retried', async () => {
    const srv = await startServer((body, _q, res) => reply(res, body.id, null, { code: -26, message: 'min relay fee not met, 0 < 141' }));
    const { rpc } = client(srv.url);
    await assert.rejects(rpc.call('sendrawtransaction', ['00']), (e: unknown) => {
      isCode('COURT_E_CHAIN_RPC')(e);
      const ce = e as CourtError;
      assert.equal(ce.details.rpcCode, -26);
      assert.equal(ce.details.method, 'sendrawtransaction');
      assert.equal(ce.details.rpcMessage, 'min relay fee not met, 0 < 141');
      return true;
    });
    assert.equal(srv.requests.length, 1);
  });

  it('-5 and "not found" / "out of range" -> COURT_E_CHAIN_NOT_FOUND', async () => {
    const errors = [
      { code: -5, message: 'Block not found' },
      { code: -5, message: 'No such mempool or blockchain transaction' },
      { code: -8, message: 'Block height out of range' },
    ];
    const srv = await startServer((body, _q, res) => reply(res, body.id, null, errors.shift()));
    const { rpc } = client(srv.url);
    for (let i = 0; i < 3; i++) await assert.rejects(rpc.call('getblock'), isCode('COURT_E_CHAIN_NOT_FOUND'));
  });

  it('an RPC error sent as "application/json; charset=utf-8" is still read as that RPC error', async () => {
    const srv = await startServer((body, _q, res) => {
      res.writeHead(500, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify({ result: null, error: { code: -5, message: 'Block not found' }, id: body.id }));
    });
    await assert.rejects(client(srv.url).rpc.call('getblockheader'), isCode('COURT_E_CHAIN_NOT_FOUND'));
    assert.equal(srv.requests.length, 1);
  });

  it('close() ends a back-off at once with COURT_E_CHAIN_STOPPED', async () => {
    const port = await closedPort();
    const rpc = new RpcClient(
      { host: `http://127.0.0.1:${port}` },
      { retry: { attempts: 10, baseDelayMs: 60_000, maxDelayMs: 60_000 } },
    );
    const t0 = performance.now();
    const p = rpc.call('getblockcount');
    setTimeout(() => rpc.close(), 20);
    await assert.rejects(p, isCode('COURT_E_CHAIN_STOPPED'));
    assert.ok(performance.now() - t0 < 1000);
    await assert.rejects(rpc.call('getblockcount'), isCode('COURT_E_CHAIN_STOPPED'));
  });

  it('close() abandons a request in flight with COURT_E_CHAIN_STOPPED', async () => {
    const srv = await startServer(() => {});
    const rpc = new RpcClient({ host: srv.url, timeoutMs: 30_000 });
    const p = rpc.call('getblockcount');
    await new Promise((r) => setTimeout(r, 20));
    rpc.close();
    await assert.rejects(p, isCode('COURT_E_CHAIN_STOPPED'));
  });
});

describe('RpcClient construction', () => {
  it('refuses a host that is not an http URL', () => {
    for (const host of ['127.0.0.1:18443', 'http://', 'ftp://x:1', 'http://h:1/wallet/x']) {
      assert.throws(() => new RpcClient({ host }), isCode('COURT_E_INVALID_ARGUMENT'), host);
    }
    assert.doesNotThrow(() => new RpcClient({ host: 'http://127.0.0.1:18443' }));
  });
});

describe('classifyRpcFailure', () => {
  it('maps socket error codes to UNREACHABLE and unknown throwables to BAD_REPLY', () => {
    for (const code of ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ESOCKETTIMEDOUT', 'EHOSTUNREACH']) {
      assert.equal(classifyRpcFailure(Object.assign(new Error(code), { code }), 'm').code, 'COURT_E_CHAIN_UNREACHABLE');
    }
    assert.equal(classifyRpcFailure({ name: 'SyntaxError', message: "Unexpected '<'" }, 'm').code, 'COURT_E_CHAIN_BAD_REPLY');
    assert.equal(classifyRpcFailure('weird', 'm').code, 'COURT_E_CHAIN_BAD_REPLY');
  });
});
