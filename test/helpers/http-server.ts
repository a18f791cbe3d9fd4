/** A throw-away local HTTP server for RPC transport tests. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface TestServer {
  readonly url: string;
  /** Requests received (bodies parsed as JSON when they are). */
  readonly requests: unknown[];
  close(): Promise<void>;
}

const open = new Set<TestServer>();

/** Closes every server started and not yet closed (call it from afterEach). */
export async function closeAllServers(): Promise<void> {
  await Promise.all([...open].map((s) => s.close()));
}

/** Starts a server on 127.0.0.1 with an ephemeral port; `handler` gets the parsed JSON body. */
export async function startServer(
  handler: (body: any, req: http.IncomingMessage, res: http.ServerResponse) => void,
): Promise<TestServer> {
  const requests: unknown[] = [];
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (d) => (raw += d));
    req.on('end', () => {
      let body: unknown = raw;
      try {
        body = JSON.parse(raw);
      } catch {
        // keep the raw text
      }
      requests.push(body);
      handler(body, req, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  const ts: TestServer = {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((r) => {
        open.delete(ts);
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
  open.add(ts);
  return ts;
}

/** Writes a JSON-RPC 1.0 reply as bitcoind does (HTTP 200 for results, 500 for errors). */
export function reply(res: http.ServerResponse, id: unknown, result: unknown, error?: { code: number; message: string }): void {
  res.writeHead(error ? 500 : 200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ result: error ? null : result, error: error ?? null, id }));
}

/** A port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
