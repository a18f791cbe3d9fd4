/**
 * courtd as a process, as an operator runs it: `node bin/courtd.mjs --datadir DIR --network regtest` against a
 * regtest node's RPC, with its JSON log lines collected (for the log scan) and its API address read from the
 * "API listening" line. Also a small SSE reader for GET /v1/events.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import type { RegtestChain } from '../../regtest/chain.js';
import { toHex } from '../../src/util/bytes.js';
import { collectLogLine, collectSecrets } from './log-scan.js';

const BIN = new URL('../../bin/courtd.mjs', import.meta.url).pathname;

/** Writes `<datadir>/courtd.conf` for `node` and (optionally) the regtest seed file. */
export function prepareDatadir(datadir: string, node: RegtestChain, seed?: Uint8Array, extra: Record<string, string> = {}): void {
  mkdirSync(join(datadir, 'regtest'), { recursive: true, mode: 0o700 });
  const e = node.endpoint;
  const conf: Record<string, string> = {
    network: 'regtest',
    'bitcoind.rpchost': e.host,
    'bitcoind.rpcport': String(e.port),
    'bitcoind.rpcuser': e.username,
    'bitcoind.rpcpassword': e.password,
    'bitcoind.pollms': '50',
    'api.listen': '127.0.0.1:0',
    'log.level': 'debug',
    ...extra,
  };
  writeFileSync(join(datadir, 'courtd.conf'), `# written by the test\n${Object.entries(conf).map(([k, v]) => `${k}=${v}`).join('\n')}\n`);
  if (seed !== undefined) writeFileSync(join(datadir, 'regtest', 'seed'), `${toHex(seed)}\n`, { mode: 0o600 });
}

/** A running courtd process. */
export interface CourtdProcess {
  readonly child: ChildProcess;
  /** "http://host:port" of its API. */
  readonly url: string;
  readonly admin: string;
  readonly readonly: string;
  /** Resolves with the exit code (or the signal name). */
  readonly exited: Promise<number | string>;
}

/** Every log line of every courtd process the test started (stdout and stderr). */
export const courtdLogLines: string[] = [];

/** Starts courtd on `datadir`; resolves once its API listens. */
export async function startCourtd(datadir: string, args: readonly string[] = []): Promise<CourtdProcess> {
  const child = spawn(process.execPath, [BIN, '--datadir', datadir, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const url = await new Promise<string>((resolve, reject) => {
    let buf = '';
    const onLine = (line: string): void => {
      courtdLogLines.push(line);
      collectLogLine(line);
      if (line.includes('"courtd: API listening"')) {
        const j = JSON.parse(line) as { listen: string };
        resolve(`http://${j.listen}`);
      }
    };
    child.stdout?.on('data', (c: Buffer) => {
      buf += c.toString('utf8');
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        onLine(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
    });
    child.stderr?.on('data', (c: Buffer) => {
      for (const l of c.toString('utf8').split('\n')) {
        if (l === '') continue;
        courtdLogLines.push(l);
        collectLogLine(l);
      }
    });
    void exited.then((code) => reject(new Error(`courtd exited (${code}) before listening: ${courtdLogLines.slice(-5).join('\n')}`)));
  });
  const token = (name: string): string => readFileSync(join(datadir, 'regtest', name), 'utf8').trim();
  collectSecrets([
    ['admin token', token('admin.token')],
    ['readonly token', token('readonly.token')],
    ['courtd seed', readFileSync(join(datadir, 'regtest', 'seed'), 'utf8').trim()],
  ]);
  return { child, url, admin: token('admin.token'), readonly: token('readonly.token'), exited };
}

/** A JSON call to the API. */
export async function call(p: CourtdProcess, method: string, path: string, token: string, body?: unknown): Promise<{ status: number; json: any }> {
  const r = await fetch(`${p.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: r.status, json: await r.json() };
}

/** An open SSE stream: events as they arrive. */
export interface SseStream {
  readonly events: Array<{ id: number; type: string; chan_point: string }>;
  close(): void;
}

/** Opens GET /v1/events with `lastEventId` (if given). The stream ends when the daemon goes away. */
export function openEvents(p: CourtdProcess, lastEventId?: number): SseStream {
  const u = new URL(`${p.url}/v1/events`);
  const events: SseStream['events'] = [];
  const req = request(
    { host: u.hostname, port: u.port, path: u.pathname, headers: { authorization: `Bearer ${p.readonly}`, ...(lastEventId === undefined ? {} : { 'last-event-id': String(lastEventId) }) } },
    (res) => {
      let buf = '';
      res.on('data', (c: Buffer) => {
        buf += c.toString('utf8');
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const msg = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const id = /^id: (\d+)$/m.exec(msg);
          const data = /^data: (.*)$/m.exec(msg);
          if (id !== null && data !== null) events.push(JSON.parse(data[1] as string));
        }
      });
      res.on('error', () => undefined);
    },
  );
  req.on('error', () => undefined);
  req.end();
  return { events, close: () => req.destroy() };
}
