/**
 * courtd's configuration: `<datadir>/courtd.conf` in key=value form (as bitcoind and lnd read theirs: `#` comments,
 * blank lines, dotted keys such as `bitcoind.rpchost`), every key also a command-line flag (`--bitcoind.rpchost=HOST`
 * or `--bitcoind.rpchost HOST`); flags win over the file. The merged values are checked against one typebox schema;
 * an unknown key or a bad value is refused with COURT_E_CONFIG_INVALID naming the key (and the file line).
 *
 * Defaults work against a local bitcoind of the chosen network: 127.0.0.1 at the network's RPC port, cookie
 * authentication from ~/.bitcoin/<network dir>/.cookie unless rpcuser/rpcpassword or rpccookie are given.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { Type, type Static } from 'typebox';
import { Compile } from 'typebox/compile';
import { firstProblem } from '../arbitrator/snapshot/wire.js';
import { CourtError } from '../util/errors.js';

export const NETWORKS = ['regtest', 'signet', 'testnet', 'mainnet'] as const;
export type Network = (typeof NETWORKS)[number];

const LISTEN = '^(?:[0-9]{1,3}(?:\\.[0-9]{1,3}){3}|localhost|\\[[0-9a-fA-F:]+\\]):[0-9]{1,5}$';

/** Every key, its schema and what it means (README "Configuration" lists the same). */
export const ConfigSchema = Type.Object(
  {
    datadir: Type.String({ minLength: 1, description: 'where courtd keeps its briefcase, seed, tokens and lock (flag only)' }),
    network: Type.Union(NETWORKS.map((n) => Type.Literal(n)), { description: 'regtest | signet | testnet | mainnet' }),
    'bitcoind.rpchost': Type.String({ minLength: 1, maxLength: 253, pattern: '^[A-Za-z0-9.\\-\\[\\]:]+$', description: 'bitcoind RPC host' }),
    'bitcoind.rpcport': Type.Integer({ minimum: 1, maximum: 65535, description: "bitcoind RPC port (default: the network's)" }),
    'bitcoind.rpcuser': Type.Optional(Type.String({ minLength: 1 })),
    'bitcoind.rpcpassword': Type.Optional(Type.String({ minLength: 1 })),
    'bitcoind.rpccookie': Type.Optional(Type.String({ minLength: 1, description: 'path of the .cookie file (used when no rpcuser is given)' })),
    'bitcoind.pollms': Type.Integer({ minimum: 10, maximum: 60_000, description: 'tip polling interval, ms (1000; regtest 100)' }),
    'bitcoind.timeoutms': Type.Integer({ minimum: 100, maximum: 600_000, description: 'per-call RPC timeout, ms' }),
    'api.listen': Type.String({ pattern: LISTEN, description: 'HOST:PORT of the HTTP API (127.0.0.1:9736; port 0: any free port, logged)' }),
    'metrics.listen': Type.Optional(Type.String({ pattern: LISTEN, description: 'HOST:PORT of the Prometheus listener (off unless set)' })),
    'log.level': Type.Union(['debug', 'info', 'warn', 'error'].map((l) => Type.Literal(l)), { description: 'pino log level' }),
    'arbitrator.closedepth': Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: 'confirmations before a close is acted on (default 3..6 by capacity; regtest 1)' })),
    'wallet.reserveperanchor': Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000_000, description: 'fee wallet reserve per anchor channel, sat (10000)' })),
  },
  { additionalProperties: false },
);

export type Config = Static<typeof ConfigSchema>;

const compiled = Compile(ConfigSchema);

/** Keys that hold integers (file and flag values are text). */
const INTEGER_KEYS = new Set(['bitcoind.rpcport', 'bitcoind.pollms', 'bitcoind.timeoutms', 'arbitrator.closedepth', 'wallet.reserveperanchor']);

/** Keys whose values are secrets: never echoed in errors or logs. */
export const SECRET_KEYS: ReadonlySet<string> = new Set(['bitcoind.rpcpassword']);

export const KNOWN_KEYS: readonly string[] = Object.keys(ConfigSchema.properties);

const RPC_PORT: Readonly<Record<Network, number>> = { mainnet: 8332, testnet: 18332, signet: 38332, regtest: 18443 };
const BITCOIN_DIR: Readonly<Record<Network, string>> = { mainnet: '', testnet: 'testnet3', signet: 'signet', regtest: 'regtest' };

function bad(key: string, what: string, where?: string): never {
  throw new CourtError('COURT_E_CONFIG_INVALID', `${where === undefined ? '' : `${where}: `}${key} ${what}`, { key });
}

/** Parses courtd.conf text into key -> value (with each key's line for errors). */
export function parseConfFile(text: string, file = 'courtd.conf'): Map<string, { value: string; where: string }> {
  const out = new Map<string, { value: string; where: string }>();
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) return;
    const where = `${file} line ${i + 1}`;
    const eq = line.indexOf('=');
    if (eq <= 0) bad(line.slice(0, 40), 'is not a key=value line', where);
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    if (!KNOWN_KEYS.includes(key) || key === 'datadir') bad(key, `is not a courtd.conf key (known: ${KNOWN_KEYS.filter((k) => k !== 'datadir').join(', ')})`, where);
    if (out.has(key)) bad(key, 'is set twice', where);
    out.set(key, { value, where });
  });
  return out;
}

/** Parses `--key=value` / `--key value` flags (every config key, plus --help and --version). */
export function parseFlags(argv: readonly string[]): { values: Map<string, string>; help: boolean; version: boolean } {
  const values = new Map<string, string>();
  let help = false;
  let version = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--help' || a === '-h') {
      help = true;
      continue;
    }
    if (a === '--version') {
      version = true;
      continue;
    }
    if (!a.startsWith('--')) bad(a.slice(0, 40), 'is not a flag (flags look like --key=value)', 'command line');
    const body = a.slice(2);
    const eq = body.indexOf('=');
    const key = eq >= 0 ? body.slice(0, eq) : body;
    if (!KNOWN_KEYS.includes(key)) bad(`--${key}`, `is not a courtd flag (known: ${KNOWN_KEYS.map((k) => `--${k}`).join(', ')})`, 'command line');
    let value: string;
    if (eq >= 0) value = body.slice(eq + 1);
    else {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) bad(`--${key}`, 'needs a value', 'command line');
      value = next;
      i++;
    }
    if (values.has(key)) bad(`--${key}`, 'is given twice', 'command line');
    values.set(key, value);
  }
  return { values, help, version };
}

/** Files the config names: the briefcase, seed, tokens and lock live under `<datadir>/<network>/`. */
export interface ConfigPaths {
  readonly datadir: string;
  readonly netdir: string;
  readonly conf: string;
  readonly db: string;
  readonly seed: string;
  readonly adminToken: string;
  readonly readonlyToken: string;
  readonly lock: string;
}

export function configPaths(c: Pick<Config, 'datadir' | 'network'>): ConfigPaths {
  const datadir = resolve(c.datadir);
  const netdir = join(datadir, c.network);
  return {
    datadir,
    netdir,
    conf: join(datadir, 'courtd.conf'),
    db: join(netdir, 'courtd.db'),
    seed: join(netdir, 'seed'),
    adminToken: join(netdir, 'admin.token'),
    readonlyToken: join(netdir, 'readonly.token'),
    lock: join(netdir, 'courtd.lock'),
  };
}

/**
 * The configuration from the command line and `<datadir>/courtd.conf` (if present): flags over file over
 * defaults, checked against ConfigSchema. `--datadir` is required.
 */
export function loadConfig(argv: readonly string[], env: { readonly home?: string } = {}): { config: Config; help: boolean; version: boolean } {
  const flags = parseFlags(argv);
  if (flags.help || flags.version) return { config: undefined as unknown as Config, help: flags.help, version: flags.version };
  const datadir = flags.values.get('datadir');
  if (datadir === undefined || datadir === '') bad('--datadir', 'is required', 'command line');
  let file = new Map<string, { value: string; where: string }>();
  const confPath = join(resolve(datadir), 'courtd.conf');
  let text: string | undefined;
  try {
    text = readFileSync(confPath, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') bad('courtd.conf', `cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`, confPath);
  }
  if (text !== undefined) file = parseConfFile(text, confPath);
  const raw = new Map<string, { value: string; where: string }>(file);
  for (const [k, v] of flags.values) raw.set(k, { value: v, where: 'command line' });
  const network = (raw.get('network')?.value ?? 'mainnet') as Network;
  const home = env.home ?? homedir();
  const defaults: Record<string, string> = {
    network: 'mainnet',
    'bitcoind.rpchost': '127.0.0.1',
    'bitcoind.rpcport': String(RPC_PORT[network] ?? 8332),
    'bitcoind.pollms': network === 'regtest' ? '100' : '1000',
    'bitcoind.timeoutms': '30000',
    'api.listen': '127.0.0.1:9736',
    'log.level': 'info',
  };
  const merged: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(defaults)) merged[k] = v;
  for (const [k, v] of raw) merged[k] = v.value;
  for (const k of INTEGER_KEYS) {
    const v = merged[k];
    if (typeof v !== 'string') continue;
    if (!/^(0|[1-9][0-9]{0,9})$/.test(v)) bad(k, 'must be a non-negative integer', raw.get(k)?.where);
    merged[k] = Number(v);
  }
  if (merged['bitcoind.rpcuser'] === undefined && merged['bitcoind.rpccookie'] === undefined) {
    const dir = BITCOIN_DIR[network] ?? '';
    merged['bitcoind.rpccookie'] = join(home, '.bitcoin', dir, '.cookie');
  }
  if ((merged['bitcoind.rpcuser'] === undefined) !== (merged['bitcoind.rpcpassword'] === undefined)) {
    bad('bitcoind.rpcuser', 'and bitcoind.rpcpassword must be given together', raw.get('bitcoind.rpcuser')?.where ?? raw.get('bitcoind.rpcpassword')?.where);
  }
  if (!compiled.Check(merged)) {
    const p = firstProblem([...compiled.Errors(merged)] as never);
    const key = p.path === '' ? 'config' : p.path;
    bad(key, SECRET_KEYS.has(key) ? 'is invalid' : p.what, raw.get(key)?.where);
  }
  return { config: merged as Config, help: false, version: false };
}

/** The config as it may be logged (secrets replaced). */
export function loggableConfig(c: Config): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(c)) out[k] = SECRET_KEYS.has(k) ? '<redacted>' : v;
  return out;
}

/** Splits HOST:PORT. */
export function hostPort(listen: string): { host: string; port: number } {
  const i = listen.lastIndexOf(':');
  const host = listen.slice(0, i).replace(/^\[(.*)\]$/, '$1');
  const port = Number(listen.slice(i + 1));
  if (port > 65535) bad(listen, 'has a port above 65535');
  return { host, port };
}

/** The usage text of `courtd --help`. */
export function usage(): string {
  const lines = ['usage: courtd --datadir DIR [--network regtest|signet|testnet|mainnet] [--KEY=VALUE ...]', '', 'Every key below may also be set in <datadir>/courtd.conf as KEY=VALUE:', ''];
  for (const [k, s] of Object.entries(ConfigSchema.properties)) lines.push(`  --${k.padEnd(26)} ${(s as { description?: string }).description ?? ''}`);
  return `${lines.join('\n')}\n`;
}
