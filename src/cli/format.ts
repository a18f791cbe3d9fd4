/**
 * What `court` prints for people: pure functions from the API's answers to text (tables through cli-table3, colour
 * through a picocolors instance the caller makes, so NO_COLOR and non-terminals get plain text). `--json` bypasses
 * all of this and prints the daemon's answer as it came.
 */
import Table from 'cli-table3';
import type { Colors } from 'picocolors/types.js';
import type {
  AlertView,
  BalanceView,
  ChannelView,
  ClosedView,
  EventView,
  ForceCloseView,
  InfoView,
  OutputView,
  SweepView,
  TransitionView,
} from './views.js';

/** A decimal amount of satoshis with thousands separators ("1234567" -> "1,234,567"); other text is kept as is. */
export function formatSat(value: string | number | bigint | null | undefined): string {
  if (value === null || value === undefined) return '-';
  const s = String(value);
  const m = /^(-?)([0-9]+)$/.exec(s);
  if (m === null) return s;
  return `${m[1]}${(m[2] as string).replace(/\B(?=(\d{3})+(?!\d))/g, ',')}`;
}

/** A txid or outpoint shortened for a table ("abcd1234…ef56:1"), whole when it is short. */
export function shortOutpoint(value: string | null | undefined, keep = 8): string {
  if (value === null || value === undefined || value === '') return '-';
  const [txid, vout] = value.split(':');
  const t = txid as string;
  const short = t.length > keep * 2 + 1 ? `${t.slice(0, keep)}…${t.slice(-4)}` : t;
  return vout === undefined ? short : `${short}:${vout}`;
}

const opt = (v: string | number | null | undefined): string => (v === null || v === undefined ? '-' : String(v));

/** A plain table (no ANSI in borders or headers: colour is applied to cells by the caller). */
export function table(head: readonly string[], rows: readonly (readonly string[])[], align?: readonly ('left' | 'right')[]): string {
  const t = new Table({
    head: [...head],
    style: { head: [], border: [], compact: false },
    // No rule between body rows: one line per row, like lncli's tables.
    chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
    ...(align === undefined ? {} : { colAligns: [...align] }),
  });
  for (const r of rows) t.push([...r]);
  return t.toString();
}

export function formatInfo(info: InfoView, c: Colors): string {
  const rows: [string, string][] = [
    ['version', info.version],
    ['network', info.network],
    ['block_height', String(info.block_height)],
    ['block_hash', info.block_hash],
    ['synced_to_chain', info.synced_to_chain ? c.green('true') : c.yellow('false')],
    ['num_pending_channels', String(info.num_pending_channels)],
    ['num_closed_channels', String(info.num_closed_channels)],
  ];
  return table(['field', 'value'], rows);
}

function stateColor(state: string, c: Colors): string {
  if (state === 'FullyResolved') return c.green(state);
  if (state === 'Error' || state === 'CloseUnresolved') return c.red(state);
  if (state === 'Default') return state;
  return c.yellow(state);
}

function maturity(o: OutputView): string {
  if (o.resolved) return 'resolved';
  if (o.maturity_height === null || o.maturity_height === undefined) return '-';
  const left = o.blocks_til_maturity;
  return left === null || left === undefined ? String(o.maturity_height) : `${o.maturity_height} (${left > 0 ? `in ${left}` : 'mature'})`;
}

/** `court pendingchannels` (and `listchannels`): one summary table of channels, then each channel's outputs. */
export function formatPending(channels: readonly ChannelView[], c: Colors, none = 'no pending channels'): string {
  if (channels.length === 0) return none;
  let limbo = 0n;
  for (const ch of channels) limbo += BigInt(ch.limbo_balance);
  const parts: string[] = [];
  parts.push(
    table(
      ['chan_point', 'state', 'close_type', 'capacity_sat', 'limbo_balance', 'recovered_balance', 'close_height'],
      channels.map((ch) => [
        shortOutpoint(ch.chan_point),
        stateColor(ch.state, c),
        opt(ch.close_type),
        formatSat(ch.capacity_sat),
        formatSat(ch.limbo_balance),
        formatSat(ch.recovered_balance),
        opt(ch.close_height),
      ]),
      ['left', 'left', 'left', 'right', 'right', 'right', 'right'],
    ),
  );
  for (const ch of channels) {
    if (ch.reason) parts.push(`${c.red(ch.state)} ${ch.chan_point}: ${ch.reason}`);
  }
  for (const ch of channels) {
    if (ch.outputs.length === 0) continue;
    parts.push(`${c.bold(ch.chan_point)} outputs:`);
    parts.push(
      table(
        ['outpoint', 'resolver', 'stage', 'amount_sat', 'limbo_sat', 'recovered_sat', 'maturity'],
        ch.outputs.map((o) => [
          shortOutpoint(o.outpoint),
          o.resolver,
          String(o.stage),
          formatSat(o.amount_sat),
          formatSat(o.limbo_sat),
          formatSat(o.recovered_sat),
          o.resolved ? c.green('resolved') : maturity(o),
        ]),
        ['left', 'left', 'left', 'right', 'right', 'right', 'left'],
      ),
    );
  }
  parts.push(`total limbo_balance: ${formatSat(limbo.toString())} sat in ${channels.length} channel${channels.length === 1 ? '' : 's'}`);
  return parts.join('\n');
}

/** `court closedchannels`: the closes and, under each, its resolutions. */
export function formatClosed(channels: readonly ClosedView[], c: Colors): string {
  if (channels.length === 0) return 'no closed channels';
  const rows: string[][] = [];
  for (const ch of channels) {
    rows.push([shortOutpoint(ch.chan_point), ch.close_type, shortOutpoint(ch.closing_txid), opt(ch.close_height), formatSat(ch.settled_balance), '', '', '']);
    for (const r of ch.resolutions) {
      const outcome = r.outcome === 'CLAIMED' ? c.green(r.outcome) : r.outcome === 'ABANDONED' || r.outcome === 'UNCLAIMED' ? c.red(r.outcome) : r.outcome;
      rows.push(['', '', `  ${shortOutpoint(r.outpoint)}`, '', formatSat(r.amount_sat), r.resolution_type, outcome, shortOutpoint(r.sweep_txid)]);
    }
  }
  return table(['chan_point', 'close_type', 'closing_txid / outpoint', 'close_height', 'settled / amount sat', 'resolution_type', 'outcome', 'sweep_txid'], rows, [
    'left',
    'left',
    'left',
    'right',
    'right',
    'left',
    'left',
    'left',
  ]);
}

/** `court pendingsweeps`. */
export function formatSweeps(sweeps: readonly SweepView[], tip: number | undefined, c: Colors): string {
  if (sweeps.length === 0) return 'no pending sweeps';
  return table(
    ['outpoint', 'witness_type', 'amount_sat', 'budget_sat', 'deadline', 'sat/vB', 'state', 'attempts', 'sweep_txid', 'why waiting'],
    sweeps.map((s) => {
      const dl = s.deadline_height;
      const left = dl === null || dl === undefined || tip === undefined ? undefined : dl - tip;
      const deadline = dl === null || dl === undefined ? '-' : left === undefined ? String(dl) : `${dl} (${left} left)`;
      return [
        shortOutpoint(s.outpoint),
        s.witness_type,
        formatSat(s.amount_sat),
        formatSat(s.budget_sat),
        left !== undefined && left <= 6 ? c.red(deadline) : deadline,
        opt(s.sat_per_vbyte),
        s.state,
        String(s.broadcast_attempts),
        shortOutpoint(s.sweep_txid),
        opt(s.reason),
      ];
    }),
    ['left', 'left', 'right', 'right', 'right', 'right', 'left', 'right', 'left', 'left'],
  );
}

/** `court history <chan_point>`: the channel's transition log. */
export function formatHistory(transitions: readonly TransitionView[]): string {
  if (transitions.length === 0) return 'no transitions';
  return table(
    ['seq', 'height', 'from', 'event', 'to'],
    transitions.map((t) => [String(t.seq), opt(t.height), t.from, t.event, t.to]),
    ['right', 'right', 'left', 'left', 'left'],
  );
}

export function formatBalance(b: BalanceView, c: Colors): string {
  const short = BigInt(b.reserve_shortfall) > 0n;
  return table(
    ['balance', 'sat'],
    [
      ['confirmed_balance', formatSat(b.confirmed_balance)],
      ['unconfirmed_balance', formatSat(b.unconfirmed_balance)],
      ['locked_balance', formatSat(b.locked_balance)],
      ['total_balance', formatSat(b.total_balance)],
      ['reserve_required', formatSat(b.reserve_required)],
      ['reserve_shortfall', short ? c.red(formatSat(b.reserve_shortfall)) : formatSat(b.reserve_shortfall)],
    ],
    ['left', 'right'],
  );
}

/** `court wallet alerts`: spends of the fee wallet's coins it did not sign. */
export function formatAlerts(alerts: readonly AlertView[], c: Colors): string {
  if (alerts.length === 0) return 'no wallet alerts';
  return table(
    ['id', 'kind', 'outpoint', 'spent by', 'height', 'lease'],
    alerts.map((a) => [String(a.id), c.red(a.kind), shortOutpoint(a.outpoint), shortOutpoint(a.txid), String(a.height), a.lease_id ?? '-']),
    ['right', 'left', 'left', 'left', 'right', 'left'],
  );
}

/** The total of the HTLCs a force close puts at risk (their amounts) and of what is failed back at once. */
export function planTotals(view: ForceCloseView): { atRiskSat: bigint; failedBackSat: bigint; outputsSat: bigint } {
  let atRiskSat = 0n;
  for (const h of view.plan.htlcs) atRiskSat += BigInt(h.amount_sat);
  let failedBackSat = 0n;
  for (const f of view.plan.fail_back_now) failedBackSat += BigInt(f.amount_sat);
  let outputsSat = 0n;
  for (const o of view.plan.outputs) outputsSat += BigInt(o.amount_sat);
  return { atRiskSat, failedBackSat, outputsSat };
}

/**
 * `court closechannel --force`: what broadcasting our commitment now means. `tip` is the daemon's height (for
 * "matures in N blocks").
 */
export function formatPlan(view: ForceCloseView, tip: number | undefined, c: Colors): string {
  const p = view.plan;
  const totals = planTotals(view);
  const lines: string[] = [];
  lines.push(c.bold(`Force-close plan for ${view.chan_point}`));
  lines.push(`  commitment #${view.commitment_number}, txid ${view.closing_txid}`);
  lines.push(`  commitment type ${p.commitment_type}; fee ${formatSat(p.fee_sat)} sat at ${p.feerate_sat_per_vbyte} sat/vB`);
  lines.push('');
  lines.push('Outputs and when they mature:');
  lines.push(
    table(
      ['kind', 'amount_sat', 'csv_delay', 'maturity_height', 'in blocks'],
      p.outputs.map((o) => {
        const mh = o.maturity_height;
        const left = mh === null || mh === undefined || tip === undefined ? '-' : String(Math.max(0, mh - tip));
        return [o.kind, formatSat(o.amount_sat), opt(o.csv_delay), opt(mh), left];
      }),
      ['left', 'right', 'right', 'right', 'right'],
    ),
  );
  lines.push('');
  if (p.htlcs.length === 0) lines.push('HTLCs on chain: none');
  else {
    lines.push('HTLCs on chain (value at risk until resolved):');
    lines.push(
      table(
        ['htlc_id', 'direction', 'amount_sat', 'payment_hash', 'cltv_expiry', 'deadline_height', 'blocks_left'],
        p.htlcs.map((h) => {
          const left = String(h.blocks_left);
          return [
            String(h.htlc_id),
            h.direction,
            formatSat(h.amount_sat),
            shortOutpoint(h.payment_hash),
            String(h.cltv_expiry),
            String(h.deadline_height),
            h.blocks_left <= 10 ? c.red(left) : h.blocks_left <= 40 ? c.yellow(left) : left,
          ];
        }),
        ['right', 'left', 'right', 'left', 'right', 'right', 'right'],
      ),
    );
  }
  lines.push('');
  if (p.fail_back_now.length === 0) lines.push('Failed back at once: none');
  else {
    lines.push('Failed back at once (upstream HTLCs cancelled when the commitment is broadcast):');
    lines.push(
      table(
        ['htlc_id', 'amount_sat', 'reason'],
        p.fail_back_now.map((f) => [String(f.htlc_id), formatSat(f.amount_sat), f.reason]),
        ['right', 'right', 'left'],
      ),
    );
  }
  lines.push('');
  lines.push(
    `Summary: fee ${formatSat(p.fee_sat)} sat; ${formatSat(totals.outputsSat.toString())} sat in our outputs; ` +
      `${formatSat(totals.atRiskSat.toString())} sat in ${p.htlcs.length} HTLC${p.htlcs.length === 1 ? '' : 's'} at risk; ` +
      `${formatSat(totals.failedBackSat.toString())} sat failed back at once`,
  );
  return lines.join('\n');
}

/** One line per event for `court events` (time-ordered by id). */
export function formatEvent(e: EventView, c: Colors): string {
  const { id, type, chan_point: cp, ...rest } = e;
  const detail = Object.entries(rest)
    .filter(([, v]) => v !== undefined && v !== null)
    .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
    .join(' ');
  return `${c.dim(`#${id}`)} ${c.bold(type)}${cp === undefined ? '' : ` ${cp}`}${detail === '' ? '' : ` ${detail}`}`;
}

export interface TimelineOptions {
  /** Columns of the bar (default 48). */
  readonly width?: number;
}

/**
 * `court timeline <chan_point>`: each output's path to maturity against block heights, from the close to the last
 * maturity. `=` blocks already passed, `-` blocks still to wait, `|` the maturity height, `*` the current height on
 * the axis; resolved outputs are drawn done.
 */
export function renderTimeline(ch: ChannelView, tip: number, c: Colors, opts: TimelineOptions = {}): string {
  const width = Math.max(10, opts.width ?? 48);
  const start = ch.close_height ?? tip;
  let end = tip;
  for (const o of ch.outputs) if (o.maturity_height !== null && o.maturity_height !== undefined) end = Math.max(end, o.maturity_height);
  if (end <= start) end = start + 1;
  const col = (h: number): number => Math.max(0, Math.min(width - 1, Math.round(((h - start) * (width - 1)) / (end - start))));
  const labels = ch.outputs.map((o) => `${shortOutpoint(o.outpoint)} ${o.resolver}`);
  const labelWidth = Math.max(8, ...labels.map((l) => l.length));
  const lines: string[] = [];
  lines.push(c.bold(`${ch.chan_point}  ${ch.state}${ch.close_type ? ` (${ch.close_type})` : ''}`));
  lines.push(`closed at ${ch.close_height ?? '-'}, now ${tip}; limbo ${formatSat(ch.limbo_balance)} sat, recovered ${formatSat(ch.recovered_balance)} sat`);
  if (ch.outputs.length === 0) {
    lines.push('no outputs to resolve');
    return lines.join('\n');
  }
  const now = col(tip);
  ch.outputs.forEach((o, i) => {
    const cells: string[] = [];
    const mh = o.maturity_height ?? undefined;
    const mat = mh === undefined ? undefined : col(mh);
    for (let x = 0; x < width; x++) {
      if (o.resolved) cells.push(x <= now ? '=' : ' ');
      else if (mat !== undefined && x === mat) cells.push('|');
      else if (x <= now) cells.push('=');
      else if (mat !== undefined && x < mat) cells.push('-');
      else cells.push(mat === undefined && x === now + 1 ? '?' : ' ');
    }
    let bar = cells.join('');
    if (o.resolved) bar = c.green(bar);
    else if (mat !== undefined && mat <= now) bar = c.yellow(bar);
    const status = o.resolved
      ? c.green('resolved')
      : mh === undefined
        ? `stage ${o.stage}, no maturity yet`
        : mh <= tip
          ? `stage ${o.stage}, mature since ${mh}`
          : `stage ${o.stage}, matures at ${mh} (in ${mh - tip})`;
    lines.push(`${(labels[i] as string).padEnd(labelWidth)} ${bar} ${formatSat(o.amount_sat)} sat, ${status}`);
  });
  const axis = Array.from({ length: width }, (_, x) => (x === now ? '*' : x === 0 || x === width - 1 ? '+' : '.')).join('');
  lines.push(`${''.padEnd(labelWidth)} ${axis}`);
  const left = String(start);
  const right = String(end);
  const gap = Math.max(1, width - left.length - right.length);
  lines.push(`${''.padEnd(labelWidth)} ${left}${' '.repeat(gap)}${right}  (* = ${tip})`);
  return lines.join('\n');
}
