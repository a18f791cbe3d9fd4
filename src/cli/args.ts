/**
 * Argument parsing for `court`: pure checks of what a user typed, before anything is sent to the daemon. A bad value
 * throws commander's InvalidArgumentError, which the program turns into exit code 2 (usage error) without a request.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { InvalidArgumentError } from '@commander-js/extra-typings';

export const NETWORKS = ['mainnet', 'testnet', 'signet', 'regtest'] as const;
export type Network = (typeof NETWORKS)[number];

/** The API's default listener (the daemon's `api.listen` default). */
export const DEFAULT_RPCSERVER = '127.0.0.1:9736';

const OUTPOINT_RE = /^[0-9a-fA-F]{64}:(0|[1-9][0-9]{0,9})$/;

/** A channel point or outpoint `txid:vout` (64 hex digits, a vout below 2^32), lower-cased. */
export function parseOutpoint(value: string): string {
  const v = value.trim();
  if (!OUTPOINT_RE.test(v) || Number(v.slice(65)) > 0xffffffff) {
    throw new InvalidArgumentError(`expected txid:vout (64 hex digits, a colon, an output index), got "${value}"`);
  }
  return v.toLowerCase();
}

/** An amount in satoshis: a non-negative decimal integer below 21M BTC, kept as a decimal string (the API's form). */
export function parseSats(value: string): string {
  const v = value.trim();
  if (!/^(0|[1-9][0-9]*)$/.test(v) || BigInt(v) > 2_100_000_000_000_000n) {
    throw new InvalidArgumentError(`expected a whole number of satoshis, got "${value}"`);
  }
  return v;
}

/** A positive whole number of blocks (deadline deltas): 1 .. 100,000. */
export function parseBlocks(value: string): number {
  const v = value.trim();
  if (!/^[1-9][0-9]{0,5}$/.test(v) || Number(v) > 100_000) {
    throw new InvalidArgumentError(`expected a number of blocks from 1 to 100000, got "${value}"`);
  }
  return Number(v);
}

/** A deadline delta for a bump: 1 .. 10,000 blocks (the API's range). */
export function parseDeadlineDelta(value: string): number {
  const n = parseBlocks(value);
  if (n > 10_000) throw new InvalidArgumentError(`expected a number of blocks from 1 to 10000, got "${value}"`);
  return n;
}

/** A starting fee rate for a bump in whole sat/vbyte: 1 .. 1,000 (the API's range, as lncli's integer sat_per_vbyte). */
export function parseSatPerVbyte(value: string): number {
  const v = value.trim();
  if (!/^[1-9][0-9]{0,3}$/.test(v) || Number(v) > 1_000) {
    throw new InvalidArgumentError(`expected a whole fee rate in sat/vbyte from 1 to 1000, got "${value}"`);
  }
  return Number(v);
}

/** A block height: 0 .. 2^31-1. */
export function parseHeight(value: string): number {
  const v = value.trim();
  if (!/^(0|[1-9][0-9]{0,9})$/.test(v) || Number(v) > 0x7fffffff) throw new InvalidArgumentError(`expected a block height, got "${value}"`);
  return Number(v);
}

/** An SSE event id to resume after: a non-negative integer. */
export function parseEventId(value: string): number {
  const v = value.trim();
  if (!/^(0|[1-9][0-9]{0,15})$/.test(v)) throw new InvalidArgumentError(`expected an event id (a whole number), got "${value}"`);
  return Number(v);
}

export function parseNetwork(value: string): Network {
  const v = value.trim().toLowerCase();
  if (!(NETWORKS as readonly string[]).includes(v)) throw new InvalidArgumentError(`expected one of ${NETWORKS.join(', ')}, got "${value}"`);
  return v as Network;
}

/**
 * The API base URL from `--rpcserver`: `host:port`, `:port`, a bare port, or a full http(s) URL. Hosts without a
 * scheme get http (the daemon listens on loopback by default).
 */
export function parseRpcServer(value: string): string {
  const v = value.trim();
  let url: URL;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(v) && !/^https?:\/\//i.test(v)) throw new InvalidArgumentError(`expected host:port or an http(s) URL, got "${value}"`);
  try {
    if (/^[0-9]{1,5}$/.test(v)) url = new URL(`http://127.0.0.1:${v}`);
    else if (v.startsWith(':')) url = new URL(`http://127.0.0.1${v}`);
    else url = new URL(/^https?:\/\//.test(v) ? v : `http://${v}`);
  } catch {
    throw new InvalidArgumentError(`expected host:port or a URL, got "${value}"`);
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '' || url.username !== '' || url.search !== '' || url.hash !== '') {
    throw new InvalidArgumentError(`expected host:port or a URL, got "${value}"`);
  }
  return `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}`;
}

/** Close types of `closedchannels`, by flag, with lncli's enum strings (lnrpc ChannelCloseSummary.ClosureType). */
export const CLOSE_TYPE_FLAGS = {
  cooperative: 'COOPERATIVE_CLOSE',
  local_force: 'LOCAL_FORCE_CLOSE',
  remote_force: 'REMOTE_FORCE_CLOSE',
  breach: 'BREACH_CLOSE',
} as const;

export type CloseTypeFlag = keyof typeof CLOSE_TYPE_FLAGS;

/** The close types a `closedchannels` call asks for (empty: all), from its boolean flags, in flag order. */
export function closeTypeFilter(flags: Partial<Record<CloseTypeFlag, boolean | undefined>>): string[] {
  return (Object.keys(CLOSE_TYPE_FLAGS) as CloseTypeFlag[]).filter((f) => flags[f] === true).map((f) => CLOSE_TYPE_FLAGS[f]);
}

/** Does a closed channel's `close_type` match a requested lncli close type? Also takes courtd's own short names. */
export function closeTypeMatches(closeType: string, wanted: string): boolean {
  const norm = (s: string): string => s.toUpperCase().replace(/[^A-Z]/g, '');
  const aliases: Record<string, readonly string[]> = {
    COOPERATIVECLOSE: ['COOP', 'COOPERATIVE', 'COOPERATIVECLOSE'],
    LOCALFORCECLOSE: ['LOCAL', 'LOCALFORCE', 'LOCALFORCECLOSE'],
    REMOTEFORCECLOSE: ['REMOTE', 'REMOTEPENDING', 'REMOTEFORCE', 'REMOTEFORCECLOSE', 'FUTURE'],
    BREACHCLOSE: ['BREACH', 'BREACHCLOSE'],
  };
  const have = norm(closeType);
  const want = norm(wanted);
  return have === want || (aliases[want] ?? []).includes(have);
}

export interface Paths {
  readonly datadir: string;
  readonly network: Network;
  /** The token file to read: `--tokenfile`, else admin.token, else readonly.token of `<datadir>/<network>/`. */
  readonly tokenFiles: readonly string[];
}

/** Where to look for the token, as lncli looks for its macaroon: an explicit file, else admin then readonly. */
export function tokenPaths(opts: { datadir?: string | undefined; network?: Network | undefined; tokenfile?: string | undefined }, env: NodeJS.ProcessEnv = {}): Paths {
  const datadir = opts.datadir ?? env.COURTD_DATADIR ?? join(homedir(), '.courtd');
  const network = opts.network ?? 'mainnet';
  const dir = join(datadir, network);
  return {
    datadir,
    network,
    tokenFiles: opts.tokenfile !== undefined ? [opts.tokenfile] : [join(dir, 'admin.token'), join(dir, 'readonly.token')],
  };
}

/** Whether to colour stdout: NO_COLOR (any non-empty value) wins, then FORCE_COLOR, then "is it a terminal". */
export function useColor(env: NodeJS.ProcessEnv, isTTY: boolean): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '' && env.FORCE_COLOR !== '0') return true;
  return isTTY && env.TERM !== 'dumb';
}
