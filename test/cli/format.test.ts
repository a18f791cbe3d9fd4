/**
 * `court`'s formatting: pure functions from API answers to text. Checked: amounts and totals, the force-close plan
 * (fee, every HTLC's deadline and value at risk, maturities, fail-backs), the timeline's geometry (where "now" and each
 * maturity fall on the bar), colour only when asked for, and tables that hold every row.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pc from 'picocolors';
import {
  formatAlerts,
  formatBalance,
  formatClosed,
  formatEvent,
  formatHistory,
  formatInfo,
  formatPending,
  formatPlan,
  formatSat,
  formatSweeps,
  planTotals,
  renderTimeline,
  shortOutpoint,
} from '../../src/cli/format.js';
import type { ChannelView, ForceCloseView } from '../../src/cli/views.js';

const plain = pc.createColors(false);
const color = pc.createColors(true);
const ESC = '\u001b[';
const TX = 'c0'.repeat(32);

const channel: ChannelView = {
  chan_point: `${'11'.repeat(32)}:0`,
  state: 'WaitingFullResolution',
  close_type: 'LOCAL_FORCE_CLOSE',
  capacity_sat: '1000000',
  commitment_type: 'anchors',
  closing_txid: TX,
  close_height: 200,
  limbo_balance: '650000',
  recovered_balance: '330',
  outputs: [
    { outpoint: `${TX}:0`, resolver: 'commitSweep', stage: 'csv', amount_sat: '600000', limbo_sat: '600000', recovered_sat: '0', maturity_height: 344, blocks_til_maturity: 134, resolved: false },
    { outpoint: `${TX}:1`, resolver: 'anchor', stage: 'done', amount_sat: '330', limbo_sat: '0', recovered_sat: '330', resolved: true },
    { outpoint: `${TX}:2`, resolver: 'htlcTimeout', stage: 'cltv', amount_sat: '50000', limbo_sat: '50000', recovered_sat: '0', maturity_height: 230, blocks_til_maturity: 20, resolved: false },
    { outpoint: `${TX}:3`, resolver: 'htlcIncomingContest', stage: 'waiting_preimage', amount_sat: '40000', limbo_sat: '40000', recovered_sat: '0', resolved: false },
  ],
};

const plan: ForceCloseView = {
  chan_point: channel.chan_point,
  commitment_number: 7,
  closing_txid: TX,
  plan: {
    fee_sat: '2830',
    feerate_sat_per_vbyte: '10',
    commitment_type: 'anchors',
    outputs: [
      { kind: 'to_local', amount_sat: '600000', maturity_height: 355, csv_delay: 144 },
      { kind: 'anchor', amount_sat: '330' },
    ],
    htlcs: [
      { htlc_id: 0, direction: 'outgoing', amount_sat: '50000', payment_hash: 'aa'.repeat(32), cltv_expiry: 230, deadline_height: 230, blocks_left: 20 },
      { htlc_id: 3, direction: 'incoming', amount_sat: '40000', payment_hash: 'bb'.repeat(32), cltv_expiry: 260, deadline_height: 244, blocks_left: 5 },
    ],
    fail_back_now: [{ htlc_id: 5, amount_sat: '300', reason: 'dust' }],
  },
};

describe('court formatting', () => {
  it('formatSat groups thousands and leaves other text alone', () => {
    assert.equal(formatSat('0'), '0');
    assert.equal(formatSat('999'), '999');
    assert.equal(formatSat('1000'), '1,000');
    assert.equal(formatSat('2100000000000000'), '2,100,000,000,000,000');
    assert.equal(formatSat(-1234567n), '-1,234,567');
    assert.equal(formatSat(undefined), '-');
    assert.equal(formatSat('1.5'), '1.5');
  });

  it('shortOutpoint keeps the vout and the ends of the txid', () => {
    assert.equal(shortOutpoint(`${TX}:12`), 'c0c0c0c0…c0c0:12');
    assert.equal(shortOutpoint('abc:1'), 'abc:1');
    assert.equal(shortOutpoint(null), '-');
  });

  it('formatPending lists every channel and output, and the total limbo', () => {
    const two = [channel, { ...channel, chan_point: `${'22'.repeat(32)}:1`, limbo_balance: '1', outputs: [] }];
    const text = formatPending(two, plain);
    assert.ok(!text.includes(ESC), 'no colour when disabled');
    for (const o of channel.outputs) assert.ok(text.includes(shortOutpoint(o.outpoint)), o.outpoint);
    assert.match(text, /344 \(in 134\)/);
    assert.match(text, /total limbo_balance: 650,001 sat in 2 channels/);
    assert.equal(formatPending([], plain), 'no pending channels');
    const stuck = formatPending([{ ...channel, state: 'CloseUnresolved', reason: 'a commitment of theirs matching no state we know' }], plain);
    assert.match(stuck, /CloseUnresolved 1{64}:0: a commitment of theirs matching no state we know/);
    assert.ok(formatPending([channel], color).includes(ESC), 'colour when enabled');
  });

  it('formatPlan shows the fee, each HTLC with its deadline and blocks left, maturities and fail-backs, with totals', () => {
    const text = formatPlan(plan, 210, plain);
    assert.match(text, /commitment #7, txid c0c0/);
    assert.match(text, /fee 2,830 sat at 10 sat\/vB/);
    assert.match(text, /to_local.*600,000.*144.*355.*145/);
    assert.match(text, /outgoing.*50,000.*230.*230.*20/);
    assert.match(text, /incoming.*40,000.*260.*244.*5/);
    assert.match(text, /dust/);
    assert.match(text, /90,000 sat in 2 HTLCs at risk; 300 sat failed back at once/);
    assert.deepEqual(planTotals(plan), { atRiskSat: 90_000n, failedBackSat: 300n, outputsSat: 600_330n });
    // An HTLC 5 blocks from its deadline is red when colour is on.
    assert.ok(formatPlan(plan, 210, color).includes(`${ESC}31m5${ESC}39m`));
    const none = formatPlan({ ...plan, plan: { ...plan.plan, htlcs: [], fail_back_now: [] } }, undefined, plain);
    assert.match(none, /HTLCs on chain: none/);
    assert.match(none, /Failed back at once: none/);
  });

  it('renderTimeline puts "now" and each maturity where their heights fall between the close and the last maturity', () => {
    const width = 40;
    const text = renderTimeline(channel, 260, plain, { width });
    const lines = text.split('\n');
    // Labels are "<outpoint> <resolver>" padded to the longest; the bar follows after one space.
    const labelWidth = Math.max(...channel.outputs.map((o) => `${shortOutpoint(o.outpoint)} ${o.resolver}`.length));
    const bar = (outpoint: string): string => {
      const line = lines.find((l) => l.startsWith(shortOutpoint(outpoint))) as string;
      return line.slice(labelWidth + 1, labelWidth + 1 + width);
    };
    const col = (h: number): number => Math.round(((h - 200) * (width - 1)) / (344 - 200));
    const toLocal = bar(`${TX}:0`);
    assert.equal(toLocal.length, width);
    assert.equal(toLocal.indexOf('|'), col(344));
    assert.equal(toLocal.lastIndexOf('='), col(260));
    assert.ok(toLocal.slice(col(260) + 1, col(344)).split('').every((ch) => ch === '-'));
    // The HTLC matured at 230 (before now): its marker is inside the elapsed part.
    assert.equal(bar(`${TX}:2`).indexOf('|'), col(230));
    // Unknown maturity: elapsed then a question mark.
    assert.equal(bar(`${TX}:3`).indexOf('?'), col(260) + 1);
    const axis = lines.at(-2) as string;
    assert.equal(axis.trim().indexOf('*'), col(260));
    assert.match(lines.at(-1) as string, /200 +344 +\(\* = 260\)/);
    assert.match(text, /matures at 344 \(in 84\)/);
    assert.match(text, /mature since 230/);
    assert.match(text, /resolved/);
  });

  it('renderTimeline of a channel with no outputs, and of one not closed yet, still draws', () => {
    assert.match(renderTimeline({ ...channel, outputs: [] }, 300, plain), /no outputs to resolve/);
    const open = renderTimeline({ ...channel, close_height: null }, 300, plain, { width: 20 });
    assert.match(open, /closed at -/);
  });

  it('the other tables hold every row and field', () => {
    const info = formatInfo({ version: '0.1.0', network: 'regtest', block_height: 321, block_hash: 'ff'.repeat(32), synced_to_chain: true, num_pending_channels: 2, num_closed_channels: 5 }, plain);
    for (const s of ['regtest', '321', 'true', 'num_closed_channels']) assert.ok(info.includes(s), s);
    const closed = formatClosed(
      [
        {
          chan_point: channel.chan_point,
          close_type: 'BREACH_CLOSE',
          closing_txid: TX,
          close_height: 250,
          settled_balance: '123456',
          resolutions: [{ outpoint: `${TX}:1`, resolution_type: 'BREACH', outcome: 'CLAIMED', amount_sat: '700000', sweep_txid: 'dd'.repeat(32) }],
        },
      ],
      plain,
    );
    for (const s of ['BREACH_CLOSE', '123,456', 'CLAIMED', '700,000', 'dddddddd…dddd']) assert.ok(closed.includes(s), s);
    const sweeps = formatSweeps(
      [{ outpoint: `${TX}:0`, witness_type: 'COMMITMENT_TIME_LOCK', amount_sat: '600000', budget_sat: '30000', deadline_height: 300, state: 'published', sat_per_vbyte: '4.5', broadcast_attempts: 2, reason: null }],
      296,
      plain,
    );
    for (const s of ['COMMITMENT_TIME_LOCK', '30,000', '300 (4 left)', '4.5', 'published']) assert.ok(sweeps.includes(s), s);
    const hist = formatHistory([
      { seq: 1, from: 'Default', event: 'ForceCloseRequested', to: 'BroadcastCommit', height: 200 },
      { seq: 2, from: 'BroadcastCommit', event: 'CommitmentPublished', to: 'CommitmentBroadcasted', height: null },
    ]);
    for (const s of ['ForceCloseRequested', 'CommitmentBroadcasted', ' - ']) assert.ok(hist.includes(s), s);
    const bal = formatBalance({ confirmed_balance: '100000', unconfirmed_balance: '0', locked_balance: '5000', total_balance: '105000', reserve_required: '200000', reserve_shortfall: '95000' }, color);
    assert.ok(bal.includes(`${ESC}31m95,000`), 'a reserve shortfall is red');
    assert.equal(formatEvent({ id: 9, type: 'channel_resolved', chan_point: 'x:0', height: 300 }, plain), '#9 channel_resolved x:0 height=300');
    assert.equal(formatAlerts([], plain), 'no wallet alerts');
    const alerts = formatAlerts([{ id: 3, kind: 'spentByOther', outpoint: `${TX}:1`, txid: 'ee'.repeat(32), height: 410 }], plain);
    for (const x of ['spentByOther', 'c0c0c0c0…c0c0:1', 'eeeeeeee…eeee', '410']) assert.ok(alerts.includes(x), x);
  });
});
