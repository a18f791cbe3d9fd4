/**
 * `courtd`: reads the configuration, starts the daemon, and stops it on SIGTERM or SIGINT (exit 0). Logs are pino
 * JSON lines on stdout; an error at start is logged with its code (never a secret) and exits 2 for a
 * configuration error, 1 for anything else. `main` returns the exit code (bin/courtd.mjs sets it).
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import pino from 'pino';
import { CourtError } from '../util/errors.js';
import { errFields } from '../util/logger.js';
import { loadConfig, usage } from './config.js';
import { startDaemon, VERSION, type Daemon } from './daemon.js';

/** Runs courtd with `argv` (without node and script); resolves with the exit code once it has stopped. */
export async function main(argv: readonly string[]): Promise<number> {
  let loaded: ReturnType<typeof loadConfig>;
  try {
    loaded = loadConfig(argv);
  } catch (err) {
    process.stderr.write(`courtd: ${err instanceof Error ? err.message : String(err)}\n${err instanceof CourtError ? '' : usage()}`);
    return 2;
  }
  if (loaded.help) {
    process.stdout.write(usage());
    return 0;
  }
  if (loaded.version) {
    process.stdout.write(`courtd ${VERSION}\n`);
    return 0;
  }
  const config = loaded.config;
  // Defence in depth: no code path logs these, and pino blanks them if one ever did.
  const redact = ['*.preimage', '*.secret', '*.seed', '*.password', '*.token', '*.authorization', '*.privkey', '*.privateKey', 'headers.authorization'];
  const logger = pino({ level: config['log.level'], base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime, redact: { paths: redact, censor: '<redacted>' } });
  const aborter = new AbortController();
  let daemon: Daemon | undefined;
  let resolveStop: (code: number) => void = () => undefined;
  const stopped = new Promise<number>((r) => (resolveStop = r));
  const onSignal = (sig: NodeJS.Signals): void => {
    logger.info({ signal: sig }, 'courtd: signal received');
    aborter.abort();
    if (daemon === undefined) return; // start-up sees the abort and unwinds
    void daemon.stop().then(
      () => resolveStop(0),
      (err: unknown) => {
        logger.error(errFields(err), 'courtd: stop failed');
        resolveStop(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    daemon = await startDaemon(config, logger, aborter.signal);
  } catch (err) {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    if (aborter.signal.aborted) return 0;
    logger.error(errFields(err), 'courtd: could not start');
    return err instanceof CourtError && err.code === 'COURT_E_CONFIG_INVALID' ? 2 : 1;
  }
  if (aborter.signal.aborted) {
    await daemon.stop();
    return 0;
  }
  const code = await stopped;
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);
  return code;
}

// `node --import tsx src/daemon/main.ts ...` (npm run courtd): run directly.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = await main(process.argv.slice(2));
}
