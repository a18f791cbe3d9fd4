/**
 * courtd as a user runs it, for end-to-end scenarios and the demo: the daemon is a child process (`bin/courtd.mjs`)
 * on a temp datadir with a `courtd.conf` pointing at the regtest node, and `court` is spawned per command
 * (`bin/court.mjs`). Nothing here calls into courtd's code: everything goes through the process boundary, the
 * token files and the HTTP API.
 *
 * Test infrastructure. The seed written into the datadir is a simulator peer's (so courtd can sign for it); the
 * tokens are read from the files the daemon created and never printed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { toHex } from '../src/util/bytes.js';
import type { RegtestChain } from './chain.js';
import { freePort } from './node-process.js';

export const PROJECT_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const COURTD = join(PROJECT_ROOT, 'bin', 'courtd.mjs');
export const COURT = join(PROJECT_ROOT, 'bin', 'court.mjs');
export const NETWORK = 'regtest';

export interface CourtdOptions {
  /** The keyring seed (32 bytes) courtd signs with: a simulator peer's. */
  readonly seed: Uint8Array;
  /** Extra courtd.conf lines (key=value). */
  readonly conf?: Readonly<Record<string, string | number>>;
  /** Keep the daemon's stdout/stderr (pino JSON lines) here; default: collected in memory. */
  readonly logFile?: string;
  /** Reuse a datadir (a restart); default a new temp dir, removed by stop({ remove: true }). */
  readonly datadir?: string;
  readonly apiPort?: number;
  /** Called with every `court` run's result (a test scans them for secrets). */
  readonly onCourt?: (r: CourtResult) => void;
}

/** What `court` printed and its exit code. */
export interface CourtResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** The courtd.conf a regtest scenario uses (keys of src/daemon's config schema). */
export function regtestConf(chain: RegtestChain, apiPort: number, extra: Readonly<Record<string, string | number>> = {}): string {
  const e = chain.endpoint;
  const conf: Record<string, string | number> = {
    network: NETWORK,
    'bitcoind.rpchost': e.host,
    'bitcoind.rpcport': e.port,
    'bitcoind.rpcuser': e.username,
    'bitcoind.rpcpassword': e.password,
    'bitcoind.pollms': 50,
    'api.listen': `127.0.0.1:${apiPort}`,
    'arbitrator.closedepth': 1,
    ...extra,
  };
  return `${Object.entries(conf)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n')}\n`;
}

export class CourtdProcess {
  readonly datadir: string;
  readonly apiPort: number;
  readonly baseUrl: string;
  #child: ChildProcess | undefined;
  #log: string[] = [];
  readonly #chain: RegtestChain;
  readonly #opts: CourtdOptions;

  private constructor(chain: RegtestChain, opts: CourtdOptions, datadir: string, apiPort: number) {
    this.#chain = chain;
    this.#opts = opts;
    this.datadir = datadir;
    this.apiPort = apiPort;
    this.baseUrl = `http://127.0.0.1:${apiPort}`;
  }

  /** Writes the datadir (conf, seed 0600) and starts the daemon; resolves once its API answers /healthz. */
  static async start(chain: RegtestChain, opts: CourtdOptions): Promise<CourtdProcess> {
    const datadir = opts.datadir ?? mkdtempSync(join(tmpdir(), 'courtd-e2e-'));
    const apiPort = opts.apiPort ?? (await freePort());
    const p = new CourtdProcess(chain, opts, datadir, apiPort);
    mkdirSync(join(datadir, NETWORK), { recursive: true, mode: 0o700 });
    writeFileSync(join(datadir, 'courtd.conf'), regtestConf(chain, apiPort, opts.conf));
    try {
      writeFileSync(join(datadir, NETWORK, 'seed'), `${toHex(opts.seed)}\n`, { mode: 0o600, flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    await p.#spawn();
    return p;
  }

  async #spawn(): Promise<void> {
    const child = spawn(process.execPath, [COURTD, '--datadir', this.datadir, '--network', NETWORK], {
      cwd: PROJECT_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1' },
    });
    this.#child = child;
    const keep = (d: Buffer): void => {
      const s = d.toString();
      this.#log.push(s);
      if (this.#opts.logFile !== undefined) writeFileSync(this.#opts.logFile, s, { flag: 'a' });
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const exited = new Promise<never>((_, reject) =>
      child.once('exit', (code, sig) => reject(new Error(`courtd exited during start (code ${code}, signal ${sig}): ${this.logTail()}`))),
    );
    exited.catch(() => undefined);
    await Promise.race([this.#waitHealthy(60_000), exited]);
  }

  async #waitHealthy(timeoutMs: number): Promise<void> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      try {
        const res = await fetch(`${this.baseUrl}/healthz`, { signal: AbortSignal.timeout(2_000) });
        await res.text();
        if (res.status < 500 && this.#tokenExists()) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > until) throw new Error(`courtd did not answer /healthz within ${timeoutMs} ms: ${this.logTail()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  #tokenExists(): boolean {
    try {
      return readFileSync(this.tokenFile('admin'), 'utf8').trim() !== '';
    } catch {
      return false;
    }
  }

  tokenFile(scope: 'admin' | 'readonly'): string {
    return join(this.datadir, NETWORK, `${scope}.token`);
  }

  token(scope: 'admin' | 'readonly' = 'admin'): string {
    return readFileSync(this.tokenFile(scope), 'utf8').trim();
  }

  /** Everything the daemon wrote to stdout and stderr so far. */
  get log(): string {
    return this.#log.join('');
  }

  logTail(chars = 2_000): string {
    return this.log.slice(-chars);
  }

  /** The daemon's height as it reports it. */
  async height(): Promise<number> {
    const res = await fetch(`${this.baseUrl}/v1/info`, { headers: { authorization: `Bearer ${this.token('readonly')}` } });
    if (!res.ok) throw new Error(`GET /v1/info: ${res.status}`);
    return ((await res.json()) as { block_height: number }).block_height;
  }

  /** Waits until courtd has processed the node's tip. */
  async caughtUp(timeoutMs = 30_000): Promise<number> {
    const target = await this.#chain.height();
    const until = Date.now() + timeoutMs;
    for (;;) {
      const h = await this.height().catch(() => -1);
      if (h >= target) return h;
      if (Date.now() > until) throw new Error(`courtd at ${h}, node at ${target} after ${timeoutMs} ms: ${this.logTail()}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** Runs `court` as a user would, against this daemon. */
  async court(args: readonly string[], opts: { readonly input?: string; readonly env?: NodeJS.ProcessEnv } = {}): Promise<CourtResult> {
    const r = await runCourt(['--datadir', this.datadir, '--network', NETWORK, '--rpcserver', `127.0.0.1:${this.apiPort}`, ...args], opts);
    this.#opts.onCourt?.(r);
    return r;
  }

  /** SIGTERM, and the exit code (a clean stop is 0). */
  async stop(opts: { readonly remove?: boolean; readonly signal?: NodeJS.Signals } = {}): Promise<number | null> {
    const child = this.#child;
    let code: number | null = null;
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      code = await new Promise<number | null>((resolve) => {
        child.once('exit', (c) => resolve(c));
        child.kill(opts.signal ?? 'SIGTERM');
      });
    } else if (child !== undefined) code = child.exitCode;
    this.#child = undefined;
    if (opts.remove === true) rmSync(this.datadir, { recursive: true, force: true });
    return code;
  }

  /** Stops (SIGTERM) and starts the daemon again on the same datadir and port; resolves the stop's exit code. */
  async restart(): Promise<number | null> {
    const code = await this.stop();
    await this.#spawn();
    return code;
  }
}

/** Spawns `bin/court.mjs` with `args`; resolves its exit code and output. */
export function runCourt(args: readonly string[], opts: { readonly input?: string; readonly env?: NodeJS.ProcessEnv } = {}): Promise<CourtResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [COURT, ...args], {
      cwd: PROJECT_ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1', ...opts.env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(opts.input ?? '');
  });
}
