/**
 * Launchers for the two regtest backends, as child processes on loopback with RPC password auth:
 *   - real `bitcoind -regtest` when BITCOIND names a binary (temp datadir, random port, -txindex);
 *   - otherwise the embedded bcoin node of regtest/bcoin/daemon.ts (Core-compatible layer installed).
 * Both expose the same JSON-RPC surface; callers only talk to them through the `bitcoin-core` client.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Client from 'bitcoin-core';
import { CourtError } from '../src/util/errors.js';

const PROJECT_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

export type BackendKind = 'bcoin' | 'bitcoind';

/** How to reach a node's RPC. */
export interface RpcEndpoint {
  readonly host: string;
  readonly port: number;
  readonly username: string;
  readonly password: string;
}

export interface NodeProcessOptions {
  /** Keep the chain on disk so the node can be killed and restarted (always true for bitcoind). */
  readonly persistent?: boolean;
  /** Path of a bitcoind binary; defaults to the BITCOIND environment variable; empty = embedded bcoin. */
  readonly bitcoind?: string;
  /**
   * Core's -blockmintxfee in sat per kvB: generatetoaddress leaves out every package (a transaction with its unmined
   * ancestors) paying less. Absent: the embedded node mines every mempool transaction (bitcoind: its default).
   */
  readonly blockMinTxFeeSatPerKvB?: number;
}

/** bitcoind's -rpcauth value (salted HMAC-SHA256), so the password itself never appears on a command line. */
function rpcAuth(user: string, password: string): string {
  const salt = randomBytes(16).toString('hex');
  return `${user}:${salt}$${createHmac('sha256', salt).update(password).digest('hex')}`;
}

/** Asks the OS for a free loopback TCP port. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => {
        if (addr && typeof addr === 'object') resolve(addr.port);
        else reject(new Error('no port'));
      });
    });
  });
}

/** Sat as a BTC decimal string (8 places), for bitcoind options. */
export function satToBtc(sat: number): string {
  const s = sat.toString().padStart(9, '0');
  return `${s.slice(0, -8)}.${s.slice(-8)}`;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** One regtest node process that can be stopped, killed and started again on the same port and data. */
export class NodeProcess {
  readonly kind: BackendKind;
  readonly endpoint: RpcEndpoint;
  private readonly datadir: string | undefined;
  private readonly bitcoind: string | undefined;
  private readonly blockMinTxFeeSatPerKvB: number | undefined;
  private child: ChildProcess | undefined;
  private stderrTail = '';

  private constructor(
    kind: BackendKind,
    endpoint: RpcEndpoint,
    datadir: string | undefined,
    bitcoind: string | undefined,
    blockMinTxFeeSatPerKvB: number | undefined,
  ) {
    this.kind = kind;
    this.blockMinTxFeeSatPerKvB = blockMinTxFeeSatPerKvB;
    this.endpoint = endpoint;
    this.datadir = datadir;
    this.bitcoind = bitcoind;
  }

  static async create(opts: NodeProcessOptions = {}): Promise<NodeProcess> {
    const bitcoind = opts.bitcoind ?? process.env['BITCOIND'] ?? '';
    const kind: BackendKind = bitcoind !== '' ? 'bitcoind' : 'bcoin';
    const endpoint: RpcEndpoint = {
      host: '127.0.0.1',
      port: await freePort(),
      username: 'courtd',
      password: randomBytes(16).toString('hex'),
    };
    const persistent = kind === 'bitcoind' || opts.persistent === true;
    const datadir = persistent ? mkdtempSync(join(tmpdir(), `courtd-${kind}-`)) : undefined;
    const minFee = opts.blockMinTxFeeSatPerKvB;
    if (minFee !== undefined && (!Number.isSafeInteger(minFee) || minFee < 0)) {
      throw new CourtError('COURT_E_REGTEST', 'blockMinTxFeeSatPerKvB must be a non-negative integer');
    }
    const p = new NodeProcess(kind, endpoint, datadir, kind === 'bitcoind' ? bitcoind : undefined, minFee);
    await p.start();
    return p;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts the process and resolves once it answers RPC. */
  async start(): Promise<void> {
    if (this.running) throw new CourtError('COURT_E_REGTEST', 'node already running');
    this.stderrTail = '';
    if (this.kind === 'bcoin') await this.startBcoin();
    else await this.startBitcoind();
  }

  private spawnChild(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
    // stdin stays an open pipe: the embedded daemon exits when it closes, so a parent killed by a signal
    // (where no 'exit' handler runs) leaves no orphaned node behind.
    const child = spawn(cmd, args, { cwd: PROJECT_ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
    live.add(child);
    child.once('exit', () => live.delete(child));
    child.stderr?.on('data', (d: Buffer) => {
      this.stderrTail = (this.stderrTail + d.toString()).slice(-4000);
    });
    this.child = child;
    return child;
  }

  private async startBcoin(): Promise<void> {
    // The password travels in the environment (readable only by our user), not on the command line (ps).
    const config = JSON.stringify({
      port: this.endpoint.port,
      password: this.endpoint.password,
      datadir: this.datadir,
      blockMinTxFeeSatPerKvB: this.blockMinTxFeeSatPerKvB,
    });
    const child = this.spawnChild(process.execPath, ['--import', 'tsx', join(PROJECT_ROOT, 'regtest/bcoin/daemon.ts')], {
      ...process.env,
      COURTD_REGTEST_NODE: config,
    });
    await new Promise<void>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => fail(new Error('no READY line within 30 s')), 30_000);
      const fail = (err: Error): void => {
        clearTimeout(timer);
        child.kill('SIGKILL');
        reject(new CourtError('COURT_E_REGTEST', `embedded bcoin node did not start: ${err.message}; stderr: ${this.stderrTail.trim()}`));
      };
      child.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
        if (/^READY /m.test(out)) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code, signal) => fail(new Error(`exited with ${code ?? signal}`)));
    });
  }

  private async startBitcoind(): Promise<void> {
    const e = this.endpoint;
    this.spawnChild(this.bitcoind as string, [
      '-regtest',
      `-datadir=${this.datadir as string}`,
      `-rpcport=${e.port}`,
      '-rpcbind=127.0.0.1',
      '-rpcallowip=127.0.0.1',
      `-rpcauth=${rpcAuth(e.username, e.password)}`,
      '-txindex=1',
      '-server=1',
      '-listen=0',
      '-dnsseed=0',
      '-fallbackfee=0.00001',
      '-printtoconsole=0',
      '-disablewallet=1',
      ...(this.blockMinTxFeeSatPerKvB === undefined ? [] : [`-blockmintxfee=${satToBtc(this.blockMinTxFeeSatPerKvB)}`]),
    ]);
    const client = new Client({ host: `http://${e.host}:${e.port}`, username: e.username, password: e.password, timeout: 2000 });
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (!this.running) throw new CourtError('COURT_E_REGTEST', `bitcoind exited during start-up; stderr: ${this.stderrTail.trim()}`);
      try {
        await client.command('getblockchaininfo');
        return;
      } catch {
        if (Date.now() > deadline) throw new CourtError('COURT_E_REGTEST', 'bitcoind did not answer RPC within 60 s');
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  /** Graceful stop (SIGTERM), waiting for the process to exit. */
  async stop(): Promise<void> {
    await this.signal('SIGTERM');
  }

  /** Hard kill (SIGKILL): what a crash or an OOM kill looks like. */
  async kill(): Promise<void> {
    await this.signal('SIGKILL');
  }

  private async signal(sig: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(sig);
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  }

  /** Stops the process and removes its data directory. */
  async destroy(): Promise<void> {
    await this.stop();
    if (this.datadir) rmSync(this.datadir, { recursive: true, force: true });
  }
}
