/**
 * The embedded regtest node: bcoin 1.0.2 made Bitcoin Core-compatible, run as its own process.
 *
 *   COURTD_REGTEST_NODE='{"port":18443,"password":"...","datadir":"/tmp/x"}' node --import tsx regtest/bcoin/daemon.ts
 *
 * (The configuration comes from the environment so the RPC password is not visible to other users in `ps`.)
 *
 * Listens for JSON-RPC on 127.0.0.1:port with HTTP basic auth (any user name, the given password). Without
 * `datadir` the chain lives in memory and is lost on exit; with it, the chain survives a restart. Prints one line
 * `READY {"port":..,"pid":..,"height":..}` on stdout once it answers RPC; exits 0 on SIGTERM or SIGINT, or
 * when its stdin closes (the parent died).
 *
 * `blockMinTxFeeSatPerKvB` (optional, default 0 = off) is Core's -blockmintxfee: generatetoaddress leaves out every
 * package (a transaction with its unmined ancestors) paying less; the RPC `setblockmintxfee` (ours, BTC/kvB)
 * changes it while the node runs.
 */
import { createRequire } from 'node:module';
import { configureCoreRegtest } from './network.js';
import { installMempoolPolicy, type MinerPolicy } from './policy.js';
import { installCoreRpc, type CoreRpcLib } from './rpc.js';

interface DaemonConfig {
  readonly port: number;
  readonly password: string;
  readonly datadir?: string;
  readonly blockMinTxFeeSatPerKvB?: number;
}

function parseConfig(arg: string | undefined): DaemonConfig {
  const c = JSON.parse(arg ?? '{}') as Partial<DaemonConfig>;
  if (typeof c.port !== 'number' || !Number.isInteger(c.port) || c.port <= 0 || c.port > 65535) throw new Error('config.port: a TCP port');
  if (typeof c.password !== 'string' || c.password.length < 8) throw new Error('config.password: at least 8 characters');
  if (c.datadir !== undefined && typeof c.datadir !== 'string') throw new Error('config.datadir: a directory path');
  const minFee = c.blockMinTxFeeSatPerKvB;
  if (minFee !== undefined && (typeof minFee !== 'number' || !Number.isSafeInteger(minFee) || minFee < 0)) {
    throw new Error('config.blockMinTxFeeSatPerKvB: a non-negative integer (sat per kvB)');
  }
  return c as DaemonConfig;
}

async function main(): Promise<void> {
  const config = parseConfig(process.env['COURTD_REGTEST_NODE']);
  const require = createRequire(import.meta.url);
  const bcoin = require('bcoin');
  configureCoreRegtest(bcoin);
  const lib: CoreRpcLib = {
    Script: bcoin.Script,
    MempoolEntry: bcoin.MempoolEntry,
    policy: bcoin.policy,
    lockFlags: require('bcoin/lib/blockchain/common').lockFlags,
    BlockEntry: require('bcoin/lib/mining/template').BlockEntry,
    TX: bcoin.TX,
    Address: bcoin.Address,
    CoinView: bcoin.CoinView,
  };
  const node = new bcoin.FullNode({
    network: 'regtest',
    memory: config.datadir === undefined,
    prefix: config.datadir,
    workers: false,
    listen: false,
    selfish: true,
    indexTX: true,
    httpHost: '127.0.0.1',
    httpPort: config.port,
    apiKey: config.password,
    requireStandard: true,
    replaceByFee: true,
    rejectAbsurdFees: false,
    logLevel: 'error',
    logConsole: false,
  });
  const miner: MinerPolicy = { blockMinTxFeeSatPerKvB: config.blockMinTxFeeSatPerKvB ?? 0 };
  installMempoolPolicy(lib, node, miner);
  installCoreRpc(lib, node, Date.now(), miner);
  node.on('error', (err: Error) => process.stderr.write(`bcoin error: ${err.stack ?? err.message}\n`));

  await node.ensure();
  await node.open();
  await node.connect();
  node.startSync();

  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    node
      .close()
      .catch((err: Error) => process.stderr.write(`close: ${err.message}\n`))
      .finally(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // The parent holds our stdin open; when it dies (even by SIGKILL) the pipe closes and we follow.
  process.stdin.on('end', stop);
  process.stdin.on('close', stop);
  process.stdin.resume();
  process.stdout.write(`READY ${JSON.stringify({ port: config.port, pid: process.pid, height: node.chain.height })}\n`);
}

main().catch((err: Error) => {
  process.stderr.write(`regtest daemon failed: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
