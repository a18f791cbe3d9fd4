/**
 * `court`: the admin CLI of courtd (ARCHITECTURE.md "Sidecar link and admin surface"), with lncli's habits: flat
 * subcommands, snake_case flags, tables for people and `--json` for scripts (the daemon's answer, unchanged).
 *
 * Exit codes: 0 done; 1 the daemon answered an error (or could not be reached, or the user declined); 2 usage error
 * (bad flag or argument, no token file), nothing sent.
 */
import { createInterface } from 'node:readline/promises';
import { Command, CommanderError, Option } from '@commander-js/extra-typings';
import pc from 'picocolors';
import type { Colors } from 'picocolors/types.js';
import {
  closeTypeFilter,
  closeTypeMatches,
  DEFAULT_RPCSERVER,
  NETWORKS,
  parseBlocks,
  parseDeadlineDelta,
  parseEventId,
  parseHeight,
  parseNetwork,
  parseOutpoint,
  parseRpcServer,
  parseSatPerVbyte,
  parseSats,
  tokenPaths,
  useColor,
} from './args.js';
import { CourtClient, DaemonError, readToken, UsageError } from './client.js';
import {
  formatAlerts,
  formatBalance,
  formatSat,
  formatClosed,
  formatEvent,
  formatHistory,
  formatInfo,
  formatPending,
  formatPlan,
  formatSweeps,
  renderTimeline,
} from './format.js';
import { progressBar } from './progress.js';
import type { AlertView, BalanceView, ChannelView, ClosedView, EventView, ForceCloseView, InfoView, SweepView, TransitionView } from './views.js';

export interface CliIo {
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  readonly env: NodeJS.ProcessEnv;
  /** Aborts `events --follow` (SIGINT in the real process). */
  readonly signal?: AbortSignal;
}

const VERSION = '0.1.0';

/** Builds the program; `run` parses and executes it. Exposed for tests of argument parsing. */
export function buildProgram(io: CliIo): Command<[], { datadir?: string; network: (typeof NETWORKS)[number]; rpcserver: string; tokenfile?: string; json?: true }> {
  const colors: Colors = pc.createColors(useColor(io.env, io.stdout.isTTY === true));
  const out = (text: string): void => {
    io.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  };
  const json = (value: unknown): void => out(JSON.stringify(value, null, 2));

  const program = new Command()
    .name('court')
    .description('admin CLI of courtd, the Lightning channel arbitrator')
    .version(VERSION)
    .addOption(new Option('--datadir <dir>', 'courtd data directory (default ~/.courtd, or $COURTD_DATADIR)'))
    .addOption(new Option('--network <net>', `network: ${NETWORKS.join(', ')}`).argParser(parseNetwork).default('mainnet' as const))
    .addOption(new Option('--rpcserver <host:port>', 'courtd API address').argParser(parseRpcServer).default(parseRpcServer(io.env.COURT_RPCSERVER ?? DEFAULT_RPCSERVER)))
    .addOption(new Option('--tokenfile <file>', 'token file (default <datadir>/<network>/admin.token, then readonly.token)'))
    .option('--json', 'print the daemon answer as JSON (stable fields, for scripts)')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    })
    .showHelpAfterError('(run with --help for usage)');

  const g = (): ReturnType<typeof program.opts> => program.opts();
  let clientP: Promise<CourtClient> | undefined;
  const client = (): Promise<CourtClient> => {
    clientP ??= (async () => {
      const o = g();
      const paths = tokenPaths({ datadir: o.datadir, network: o.network, tokenfile: o.tokenfile }, io.env);
      const { token } = await readToken(paths.tokenFiles);
      return new CourtClient({ baseUrl: o.rpcserver, token });
    })();
    return clientP;
  };
  const tipOf = async (cl: CourtClient): Promise<number | undefined> => {
    try {
      return (await cl.get<InfoView>('/v1/info')).block_height;
    } catch {
      return undefined;
    }
  };

  program
    .command('getinfo')
    .description("the daemon's version, network, chain tip and channel counts")
    .action(async () => {
      const info = await (await client()).get<InfoView>('/v1/info');
      if (g().json) json(info);
      else out(formatInfo(info, colors));
    });

  program
    .command('listchannels')
    .description('every channel courtd watches and has not fully resolved: open ones and closing ones')
    .action(async () => {
      const { channels } = await (await client()).get<{ channels: ChannelView[] }>('/v1/channels');
      const live = channels.filter((ch) => ch.state !== 'FullyResolved');
      if (g().json) json({ channels: live });
      else out(formatPending(live, colors, 'no channels'));
    });

  program
    .command('pendingchannels')
    .description('closing channels (as lncli: not open any more, not yet fully resolved): state, limbo, each output and its maturity')
    .action(async () => {
      const { channels } = await (await client()).get<{ channels: ChannelView[] }>('/v1/channels');
      const pending = channels.filter(isPending);
      if (g().json) json({ channels: pending });
      else out(formatPending(pending, colors));
    });

  program
    .command('closedchannels')
    .description('closed channels with their resolutions (filter by close type)')
    .option('--cooperative', 'cooperative closes')
    .option('--local_force', 'our force closes')
    .option('--remote_force', "the peer's force closes")
    .option('--breach', 'breaches (revoked states published)')
    .action(async (opts) => {
      const wanted = closeTypeFilter(opts);
      const q = wanted.length === 1 ? `?close_type=${encodeURIComponent(wanted[0] as string)}` : '';
      const { channels } = await (await client()).get<{ channels: ClosedView[] }>(`/v1/closed${q}`);
      const shown = wanted.length === 0 ? channels : channels.filter((ch) => wanted.some((w) => closeTypeMatches(ch.close_type, w)));
      if (g().json) json({ channels: shown });
      else out(formatClosed(shown, colors));
    });

  program
    .command('closechannel')
    .description('force-close a channel: shows the plan (fees, HTLC deadlines, maturities, fail-backs), then asks')
    .argument('[chan_point]', 'channel point txid:vout', parseOutpoint)
    .addOption(new Option('--chan_point <txid:vout>', 'channel point (instead of the argument)').argParser(parseOutpoint))
    .option('--force', 'broadcast our latest commitment (courtd only force-closes; cooperative closes are the node’s)')
    .option('--yes', 'do not ask for confirmation')
    .option('--dry_run', 'show the plan only')
    .action(async (pos, opts) => {
      const chanPoint = pos ?? opts.chan_point;
      if (chanPoint === undefined) throw new UsageError('closechannel needs a channel point (argument or --chan_point)');
      if (opts.force !== true) throw new UsageError('closechannel needs --force: courtd only broadcasts our commitment; a cooperative close is negotiated by the node');
      const cl = await client();
      const path = `/v1/channels/${encodeURIComponent(chanPoint)}/force-close`;
      const plan = await cl.post<ForceCloseView>(path, { dry_run: true });
      const asJson = g().json === true;
      if (opts.dry_run === true) {
        if (asJson) json(plan);
        else out(formatPlan(plan, await tipOf(cl), colors));
        return;
      }
      if (!asJson) out(formatPlan(plan, await tipOf(cl), colors));
      if (opts.yes !== true) {
        if (io.stdin.isTTY !== true) throw new UsageError('refusing to force-close without --yes when stdin is not a terminal');
        const rl = createInterface({ input: io.stdin, output: io.stderr });
        const answer = (await rl.question(`Broadcast commitment #${plan.commitment_number} of ${chanPoint}? [y/N] `)).trim().toLowerCase();
        rl.close();
        if (answer !== 'y' && answer !== 'yes') throw new DaemonError('COURT_E_CLI_DECLINED', 'not confirmed: nothing was broadcast');
      }
      const done = await cl.post<ForceCloseView>(path, { dry_run: false });
      if (asJson) json(done);
      else out(`${colors.green('force close requested')}: commitment #${done.commitment_number}, closing_txid ${done.closing_txid}`);
    });

  const wallet = program.command('wallet').description("courtd's fee wallet and fee bumping");
  wallet
    .command('balance')
    .description('confirmed, unconfirmed and locked balance, and the anchor reserve')
    .action(async () => {
      const b = await (await client()).get<BalanceView>('/v1/wallet/balance');
      if (g().json) json(b);
      else out(formatBalance(b, colors));
    });
  wallet
    .command('newaddress')
    .description('a fresh P2WPKH address of the fee wallet')
    .action(async () => {
      const a = await (await client()).post<{ address: string }>('/v1/wallet/address', {});
      if (g().json) json(a);
      else out(a.address);
    });
  wallet
      .command('bumpfee')
      .description('raise the fee of a pending sweep input: a new budget, an earlier deadline or a fee rate')
      .argument('<outpoint>', 'the input txid:vout', parseOutpoint)
      .addOption(new Option('--budget <sat>', 'the most this input may pay in fees').argParser(parseSats))
      .addOption(new Option('--deadline_delta <blocks>', 'confirm within this many blocks').argParser(parseDeadlineDelta))
      .addOption(new Option('--sat_per_vbyte <rate>', 'start at this fee rate').argParser(parseSatPerVbyte))
      .action(async (outpoint, opts) => {
        const body = bumpBody(opts);
        const r = await (await client()).post<unknown>('/v1/sweeps/bump', { outpoint, ...body });
        if (g().json) json(r);
        else out(`${colors.green('bumped')} ${outpoint}`);
      });
  wallet
    .command('alerts')
    .description("spends of the fee wallet's coins it did not sign (its seed used elsewhere, a key leaked, a stale sweep)")
    .addOption(new Option('--after <id>', 'only alerts after this id').argParser(parseEventId))
    .action(async (opts) => {
      const r = await (await client()).get<{ alerts: AlertView[] }>(`/v1/wallet/alerts${opts.after === undefined ? '' : `?after=${opts.after}`}`);
      if (g().json) json(r);
      else out(formatAlerts(r.alerts, colors));
    });
  wallet
    .command('rescan')
    .description("read earlier blocks through the fee wallet (funds sent before courtd first ran, a restored seed)")
    .addOption(new Option('--from_height <height>', 'first block to read').argParser(parseHeight).makeOptionMandatory())
    .addOption(new Option('--to_height <height>', 'last block to read (default: the last block courtd processed)').argParser(parseHeight))
    .addOption(new Option('--chunk <blocks>', 'blocks per request (the progress bar moves per request)').argParser(parseBlocks).default(500))
    .action(async (opts) => {
      const cl = await client();
      const to = opts.to_height ?? (await cl.get<InfoView>('/v1/info')).block_height;
      if (to < opts.from_height) throw new UsageError(`--to_height ${to} is below --from_height ${opts.from_height}`);
      const bar = progressBar(io.stderr, true);
      let blocks = 0;
      let balance = '0';
      try {
        for (const [a, b] of rescanChunks(opts.from_height, to, opts.chunk)) {
          bar.update(a - opts.from_height, to - opts.from_height + 1, 'rescanning');
          const r = await cl.post<{ blocks: number; confirmed_balance: string }>('/v1/wallet/rescan', { from_height: a, to_height: b });
          blocks += r.blocks;
          balance = r.confirmed_balance;
        }
        bar.update(to - opts.from_height + 1, to - opts.from_height + 1, 'rescanning');
      } finally {
        bar.stop();
      }
      if (g().json) json({ blocks, confirmed_balance: balance, from_height: opts.from_height, to_height: to });
      else out(`rescanned ${blocks} blocks (${opts.from_height}..${to}); confirmed_balance ${formatSat(balance)} sat`);
    });
  wallet
    .command('bumpforceclosefee')
    .description('raise the fee of a force close (the commitment, through its anchor)')
    .addOption(new Option('--chan_point <txid:vout>', 'the channel').argParser(parseOutpoint).makeOptionMandatory())
    .addOption(new Option('--budget <sat>', 'the most the commitment may pay in fees').argParser(parseSats))
    .addOption(new Option('--deadline_delta <blocks>', 'confirm within this many blocks').argParser(parseDeadlineDelta))
    .addOption(new Option('--sat_per_vbyte <rate>', 'start at this fee rate').argParser(parseSatPerVbyte))
    .action(async (opts) => {
      const body = bumpBody(opts);
      const r = await (await client()).post<unknown>(`/v1/channels/${encodeURIComponent(opts.chan_point)}/bump`, body);
      if (g().json) json(r);
      else out(`${colors.green('bumped')} force close of ${opts.chan_point}`);
    });

  program
    .command('pendingsweeps')
    .description('inputs waiting in the sweeper: budget, deadline, fee rate, and why they wait')
    .action(async () => {
      const cl = await client();
      const { sweeps } = await cl.get<{ sweeps: SweepView[] }>('/v1/sweeps');
      if (g().json) json({ sweeps });
      else out(formatSweeps(sweeps, await tipOf(cl), colors));
    });

  program
    .command('history')
    .description("a channel's transition log (its audit history)")
    .argument('<chan_point>', 'channel point txid:vout', parseOutpoint)
    .action(async (chanPoint) => {
      const h = await (await client()).get<{ transitions: TransitionView[] }>(`/v1/channels/${encodeURIComponent(chanPoint)}/history`);
      if (g().json) json(h);
      else out(formatHistory(h.transitions));
    });

  program
    .command('timeline')
    .description("each output's path to maturity, drawn against block heights")
    .argument('<chan_point>', 'channel point txid:vout', parseOutpoint)
    .addOption(new Option('--width <columns>', 'bar width').argParser(parseBlocks))
    .action(async (chanPoint, opts) => {
      const cl = await client();
      const ch = await cl.get<ChannelView>(`/v1/channels/${encodeURIComponent(chanPoint)}`);
      const tip = (await tipOf(cl)) ?? ch.close_height ?? 0;
      if (g().json) json({ ...ch, block_height: tip });
      else out(renderTimeline(ch, tip, colors, { width: opts.width ?? Math.min(60, Math.max(20, (io.stdout.columns ?? 100) - 70)) }));
    });

  program
    .command('events')
    .description('events for the node (closing, HTLCs settled or failed on chain, breach, resolved)')
    .addOption(new Option('--after <id>', 'only events after this id').argParser(parseEventId))
    .option('--follow', 'keep the stream open and print events as they come')
    .action(async (opts) => {
      const cl = await client();
      const asJson = g().json === true;
      await cl.events({ ...(opts.after === undefined ? {} : { after: opts.after }), ...(opts.follow === true ? {} : { idleMs: 750 }), ...(io.signal ? { signal: io.signal } : {}) }, (e) => {
        let view: EventView;
        try {
          view = JSON.parse(e.data) as EventView;
        } catch {
          view = { id: e.id ?? '?', type: e.event ?? 'message', data: e.data };
        }
        out(asJson ? JSON.stringify(view) : formatEvent(view, colors));
      });
    });

  program
    .command('rotatetoken')
    .alias('rotate-token')
    .description('replace a token file with a new random token (the old token stops working at once)')
    .addOption(new Option('--scope <scope>', 'which token').choices(['admin', 'readonly'] as const).makeOptionMandatory())
    .action(async (opts) => {
      const r = await (await client()).post<{ scope: string; path: string }>('/v1/tokens/rotate', { scope: opts.scope });
      if (g().json) json(r);
      else out(`rotated the ${r.scope} token: ${r.path}`);
    });

  program
    .command('waitsync')
    .description('wait until courtd has caught up with the chain (a progress bar on a terminal)')
    .addOption(new Option('--timeout <seconds>', 'give up after this long').argParser(parseBlocks).default(600))
    .action(async (opts) => {
      const cl = await client();
      const bar = progressBar(io.stderr, true);
      const until = Date.now() + opts.timeout * 1000;
      let first: number | undefined;
      try {
        for (;;) {
          const info = await cl.get<InfoView>('/v1/info');
          const target = info.node_height ?? info.block_height;
          first ??= info.block_height;
          bar.update(info.block_height - first, Math.max(1, target - first), 'catching up');
          if (info.synced_to_chain) {
            bar.stop();
            if (g().json) json(info);
            else out(`synced at ${info.block_height}`);
            return;
          }
          if (Date.now() > until) throw new DaemonError('COURT_E_CLI_TIMEOUT', `not synced after ${opts.timeout} s (at ${info.block_height})`);
          await new Promise((r) => setTimeout(r, 250));
        }
      } finally {
        bar.stop();
      }
    });

  return program;
}

/** The [from, to] ranges of a rescan in requests of `chunk` blocks, in height order. */
export function rescanChunks(from: number, to: number, chunk: number): [number, number][] {
  const out: [number, number][] = [];
  for (let a = from; a <= to; a += chunk) out.push([a, Math.min(to, a + chunk - 1)]);
  return out;
}

/** A closing channel: its commitment went (or is going) on chain and it is not fully resolved. */
export function isPending(ch: Pick<ChannelView, 'state'>): boolean {
  return ch.state !== 'Default' && ch.state !== 'FullyResolved';
}

/** The body of a bump call from its flags; at least one is needed. */
export function bumpBody(opts: { budget?: string; deadline_delta?: number; sat_per_vbyte?: number }): Record<string, string | number> {
  const body: Record<string, string | number> = {};
  if (opts.budget !== undefined) body.budget_sat = opts.budget;
  if (opts.deadline_delta !== undefined) body.deadline_delta = opts.deadline_delta;
  if (opts.sat_per_vbyte !== undefined) body.sat_per_vbyte = opts.sat_per_vbyte;
  if (Object.keys(body).length === 0) throw new UsageError('give at least one of --budget, --deadline_delta, --sat_per_vbyte');
  return body;
}

/** Runs `court` with `argv` (without node and script); resolves the exit code. Never throws. */
export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const program = buildProgram(io);
  const json = (): boolean => program.opts().json === true || argv.includes('--json');
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help asked for (`--help`, `help [command]`) and --version exit 0; help shown because a command was missing
      // (`court`, `court wallet`) and every parse error are usage errors.
      return err.exitCode === 0 ? 0 : 2;
    }
    if (err instanceof UsageError) {
      io.stderr.write(`court: ${err.message}\n`);
      return 2;
    }
    if (err instanceof DaemonError) {
      if (json()) io.stderr.write(`${JSON.stringify({ code: err.code, message: err.message })}\n`);
      else io.stderr.write(`court: [${err.code}] ${err.message}\n`);
      return 1;
    }
    io.stderr.write(`court: ${(err as Error).message}\n`);
    return 1;
  }
}
