/**
 * The stage machine shared by htlcTimeout and htlcSuccess (contractcourt-spec.md 3.6, 3.8): claiming one HTLC
 * output of a confirmed commitment, directly (their commitment) or through our pre-signed second-level
 * transaction and then its CSV output (our commitment).
 *
 *   offered ──our direct spend / their spend──► firstConfirming ──6 confirmations──► done
 *      │ ▲
 *      │ └──────────── SpendUndone (before 6 confirmations: the stage is rolled back and offered again)
 *      └──our second-level tx──► secondLevel ──(6 confs: firstStage report; timeout: HTLC failed upstream)
 *                                  │   ▲
 *                                  │   └── SpendUndone of the CSV sweep
 *                                  └──CSV output swept──► secondConfirming ──6 confirmations──► done
 *
 * First stage: on anchor channels the second-level transaction is an input offered to the sweeper (zero-fee,
 * SIGHASH_SINGLE|ANYONECANPAY: paired with its output, fee from the wallet); on static_remotekey channels it is
 * pre-signed with its fee and published as is (Broadcast) once valid. On their commitment the HTLC output is
 * swept directly (CSV 1 on anchor channels, the CLTV for a timeout). Everything is offered at the first block it
 * is valid at (the sweeper waits for matureHeight / locktime; Broadcast waits for the CLTV in `wake`).
 *
 * A spend of the HTLC output by the peer ends the resolver with the peer's outcome; if its witness reveals the
 * preimage (our offered HTLC claimed by them) the preimage is learned (LearnedPreimage: stored, routed to every
 * channel and resolver waiting on it) and the node is told once (htlcSettledOnChain, key settled:<outpoint>),
 * from the mempool already if the spend shows up there first.
 */
import { encodeSig } from '../keys/signature.js';
import { p2wsh } from '../ln/scripts.js';
import { fromHex, toHex } from '../util/bytes.js';
import { farDeadline, finalAt, findPreimage, finish, outpointOf, same, seen, share } from './common.js';
import type { HtlcResolution, ReportRow, ResolverBase, ResolverEffect, ResolverEnv, ResolverEvent, SpendSeen, StepResult, SweepOffer } from './types.js';

export type ClaimStage = 'offered' | 'firstConfirming' | 'secondLevel' | 'secondConfirming' | 'done';

/** Fields of htlcTimeout / htlcSuccess (and of their contest predecessors, which carry the same data). */
export interface HtlcClaim extends ResolverBase {
  readonly kind: 'htlcTimeout' | 'htlcSuccess';
  readonly stage: ClaimStage;
  readonly output: HtlcResolution;
  /** Height by which our claim must confirm (outgoing: the upstream HTLC's expiry; incoming: the HTLC's). */
  readonly deadline: number | null;
  /** HTLC-success: the preimage (hex). */
  readonly preimage?: string;
  /** The spend of the commitment's HTLC output. */
  readonly first?: SpendSeen;
  /** The spend was the peer's (a preimage claim of our offered HTLC, or a timeout of our received one). */
  readonly byPeer?: boolean;
  /** Our second-level output once its transaction confirmed. */
  readonly second?: { readonly outpoint: string; readonly valueSat: string };
  /** The spend of the second-level output. */
  readonly secondSpend?: SpendSeen;
  /** The first stage reached 6 confirmations (its report written). */
  readonly firstFinal?: boolean;
  readonly feeSat?: string;
  readonly note?: string;
}

const timeoutKind = (r: HtlcClaim): boolean => r.kind === 'htlcTimeout';

/** The CLTV of the HTLC. */
export function cltvOf(r: { readonly output: HtlcResolution }): number {
  return r.output.htlc.cltvExpiry;
}

/** Our commitment (a second-level transaction is needed). */
const secondLevel = (r: HtlcClaim): boolean => r.output.secondLevel !== undefined;

/** Pre-signed with its fee (static_remotekey): published as is rather than offered to the sweeper. */
const presigned = (r: HtlcClaim): boolean => secondLevel(r) && r.format !== 'anchors';

/** First height our first-stage spend may be mined at. */
export function firstMaturity(r: HtlcClaim): number {
  const csv = r.closeHeight + r.output.csvDelay;
  return timeoutKind(r) ? Math.max(csv, cltvOf(r) + 1) : csv;
}

function deadlineOf(r: HtlcClaim, env: ResolverEnv): number {
  if (r.deadline !== null) return r.deadline;
  return timeoutKind(r) ? farDeadline(cltvOf(r), env.budgets) : cltvOf(r);
}

/** The first-stage sweep input (direct claim, or the zero-fee second-level transaction's input). */
export function firstOffer(r: HtlcClaim, env: ResolverEnv): SweepOffer {
  const res = r.output;
  const script = res.witnessScript as string;
  const common = {
    outpoint: res.outpoint,
    valueSat: res.amountSat,
    scriptPubKey: res.scriptPubKey,
    ...(res.csvDelay > 0 ? { sequence: res.csvDelay } : {}),
    ...(timeoutKind(r) ? { locktime: cltvOf(r) } : {}),
    matureHeight: firstMaturity(r),
    budgetSat: share(res.amountSat, env.budgets.htlcBps),
    deadlineHeight: Math.max(deadlineOf(r, env), firstMaturity(r)),
    // the peer can spend it too (preimage or timeout path) before our deadline
    pinnable: true,
  };
  const sl = res.secondLevel;
  if (sl !== undefined) {
    return {
      ...common,
      witness: {
        kind: 'htlcSecondLevel',
        key: res.key,
        script,
        remoteSig: sigWithType(sl.remoteSignature, sl.remoteSighashType),
        ...(r.preimage === undefined ? {} : { preimage: r.preimage }),
      },
      pairedOutput: { valueSat: sl.outputSat, script: p2wshHex(sl) },
    };
  }
  if (timeoutKind(r)) return { ...common, witness: { kind: 'htlcTimeoutDirect', key: res.key, script } };
  return { ...common, witness: { kind: 'htlcSuccessDirect', key: res.key, script, preimage: r.preimage as string } };
}

/** DER signature hex with its sighash byte (what the witness carries) from the 64-byte compact signature. */
function sigWithType(compact: string, sighashType: number): string {
  return toHex(encodeSig(fromHex(compact), sighashType));
}

/** The P2WSH scriptPubKey (hex) of a second-level output. */
function p2wshHex(sl: NonNullable<HtlcResolution['secondLevel']>): string {
  return toHex(p2wsh(fromHex(sl.outputScript)));
}

/** The second-level output's CSV sweep (same script shape as to_local). */
export function secondOffer(r: HtlcClaim, env: ResolverEnv): SweepOffer {
  const sl = r.output.secondLevel as NonNullable<HtlcResolution['secondLevel']>;
  const second = r.second as NonNullable<HtlcClaim['second']>;
  const first = r.first as SpendSeen;
  const mature = first.height + sl.csvDelay;
  return {
    outpoint: second.outpoint,
    valueSat: second.valueSat,
    scriptPubKey: p2wshHex(sl),
    witness: { kind: 'toLocalDelayed', key: sl.key, script: sl.outputScript },
    sequence: sl.csvDelay,
    matureHeight: mature,
    budgetSat: share(second.valueSat, env.budgets.noDeadlineBps),
    deadlineHeight: farDeadline(mature, env.budgets),
    pinnable: false,
  };
}

function watchFirst(r: HtlcClaim): ResolverEffect {
  // our offered HTLC may be claimed with the preimage: watch the mempool too
  return { kind: 'WatchSpend', outpoint: r.output.outpoint, heightHint: r.closeHeight, mempool: timeoutKind(r) };
}

/** The idempotent effects of the current stage (re-run at every launch). */
export function ensure(r: HtlcClaim, env: ResolverEnv): ResolverEffect[] {
  switch (r.stage) {
    case 'offered': {
      if (!presigned(r)) return [{ kind: 'OfferSweep', input: firstOffer(r, env) }, watchFirst(r)];
      const valid = !timeoutKind(r) || env.height >= cltvOf(r);
      return valid ? [{ kind: 'Broadcast', spend: { res: r.output, ...(r.preimage === undefined ? {} : { preimage: r.preimage }) } }, watchFirst(r)] : [watchFirst(r)];
    }
    case 'firstConfirming':
      return [watchFirst(r)];
    case 'secondLevel': {
      const second = r.second as NonNullable<HtlcClaim['second']>;
      return [watchFirst(r), { kind: 'OfferSweep', input: secondOffer(r, env) }, { kind: 'WatchSpend', outpoint: second.outpoint, heightHint: (r.first as SpendSeen).height, mempool: false }];
    }
    case 'secondConfirming': {
      const second = r.second as NonNullable<HtlcClaim['second']>;
      return [watchFirst(r), { kind: 'WatchSpend', outpoint: second.outpoint, heightHint: (r.first as SpendSeen).height, mempool: false }];
    }
    case 'done':
      return [];
  }
}

const reportType = (r: HtlcClaim): ReportRow['type'] => (timeoutKind(r) ? 'outgoingHtlc' : 'incomingHtlc');

/** The node events of a preimage revealed by the peer's spend of our offered HTLC (once per output). */
export function preimageEffects(r: { readonly chanPoint: string; readonly output: HtlcResolution }, preimage: string, source: 'chain' | 'mempool', txid: string): ResolverEffect[] {
  return [
    {
      kind: 'NotifyNode',
      key: `settled:${r.output.outpoint}`,
      event: 'htlcSettledOnChain',
      payload: { v: 1, htlcId: r.output.htlc.htlcId, direction: r.output.htlc.direction, paymentHash: r.output.htlc.paymentHash, amountMsat: r.output.htlc.amountMsat, preimage, source, txid },
    },
    { kind: 'LearnedPreimage', preimage, source },
  ];
}

/** The node event of an outgoing HTLC whose timeout is final on chain: fail it upstream (once). */
function failedUpstream(r: HtlcClaim, txid: string): ResolverEffect {
  return {
    kind: 'NotifyNode',
    key: `failed:${r.output.outpoint}`,
    event: 'htlcFailedOnChain',
    payload: { v: 1, htlcId: r.output.htlc.htlcId, direction: 'outgoing', paymentHash: r.output.htlc.paymentHash, amountMsat: r.output.htlc.amountMsat, reason: 'timeout', txid },
  };
}

function rollbackToOffered(r: HtlcClaim, env: ResolverEnv): StepResult<HtlcClaim> {
  const { first: _f, second, secondSpend: _s, byPeer: _b, firstFinal: _ff, ...rest } = r;
  const next: HtlcClaim = { ...rest, stage: 'offered' };
  const undo: ResolverEffect[] = second === undefined ? [] : [{ kind: 'CancelSweep', outpoint: second.outpoint }, { kind: 'Unwatch', outpoint: second.outpoint }];
  return { next, effects: [...undo, ...ensure(next, env)] };
}

/** The first stage's spend reached 6 confirmations. */
function firstFinal(r: HtlcClaim): StepResult<HtlcClaim> {
  const first = r.first as SpendSeen;
  const amount = r.output.amountSat;
  const base = { outpoint: r.output.outpoint, amountSat: amount, txid: first.txid, height: first.height };
  if (r.byPeer === true) {
    // the peer took it: their preimage claim of our offered HTLC, or their timeout of our received one
    const report: ReportRow = { ...base, stage: 1, type: reportType(r), outcome: timeoutKind(r) ? 'claimed' : 'timeout' };
    return { next: { ...r, stage: 'done', firstFinal: true }, effects: finish([report], [r.output.outpoint]), finished: true };
  }
  if (r.stage === 'firstConfirming') {
    // our direct claim from their commitment: one stage
    const report: ReportRow = { ...base, stage: 1, type: reportType(r), outcome: timeoutKind(r) ? 'timeout' : 'claimed' };
    const extra = timeoutKind(r) ? [failedUpstream(r, first.txid)] : [];
    return { next: { ...r, stage: 'done', firstFinal: true }, effects: [...extra, ...finish([report], [r.output.outpoint])], finished: true };
  }
  // our second-level transaction is final: report the first stage; a timeout fails the HTLC upstream now
  const report: ReportRow = { ...base, stage: 1, type: reportType(r), outcome: 'firstStage' };
  const extra = timeoutKind(r) ? [failedUpstream(r, first.txid)] : [];
  return { next: { ...r, firstFinal: true }, effects: [{ kind: 'Report', report }, ...extra] };
}

export function claimStep(r: HtlcClaim, e: ResolverEvent, env: ResolverEnv): StepResult<HtlcClaim> {
  if (r.stage === 'done') return same(r);
  switch (e.kind) {
    case 'Launch':
      return { next: r, effects: ensure(r, env) };
    case 'Block':
      return onBlock(r, env);
    case 'MempoolSpend': {
      if (!timeoutKind(r) || e.outpoint !== r.output.outpoint) return same(r);
      const pre = findPreimage(e.witness, r.output.htlc.paymentHash);
      return pre === undefined ? same(r) : { next: r, effects: preimageEffects(r, pre, 'mempool', e.txid) };
    }
    case 'Spend':
      return onSpend(r, e, env);
    case 'SpendUndone': {
      if (r.first !== undefined && e.txid === r.first.txid && e.outpoint === r.output.outpoint) return rollbackToOffered(r, env);
      if (r.secondSpend !== undefined && r.second !== undefined && e.outpoint === r.second.outpoint && e.txid === r.secondSpend.txid) {
        const { secondSpend: _s, ...rest } = r;
        const next: HtlcClaim = { ...rest, stage: 'secondLevel' };
        return { next, effects: ensure(next, env) };
      }
      return same(r);
    }
    case 'Preimage':
      // a success resolver already has its preimage; a timeout resolver's HTLC is ours to time out
      return same(r);
    case 'SweepResult':
      if (e.result === 'swept' && e.feeSat !== undefined) return { next: { ...r, feeSat: (BigInt(r.feeSat ?? '0') + BigInt(e.feeSat)).toString() }, effects: [] };
      if (e.result === 'failed') return { next: { ...r, note: `sweeper gave up on ${e.outpoint}: ${e.reason ?? 'unknown'}` }, effects: [] };
      return same(r);
  }
}

function onBlock(r: HtlcClaim, env: ResolverEnv): StepResult<HtlcClaim> {
  switch (r.stage) {
    case 'offered':
      // a pre-signed timeout becomes valid at its CLTV
      return presigned(r) && timeoutKind(r) && env.height >= cltvOf(r) ? { next: r, effects: ensure(r, env) } : same(r);
    case 'firstConfirming':
    case 'secondLevel':
      return r.first !== undefined && r.firstFinal !== true && env.height >= finalAt(r.first) ? firstFinal(r) : same(r);
    case 'secondConfirming': {
      let cur = r;
      const effects: ResolverEffect[] = [];
      if (r.firstFinal !== true && r.first !== undefined && env.height >= finalAt(r.first)) {
        const f = firstFinal(r);
        cur = f.next as HtlcClaim;
        effects.push(...f.effects);
      }
      const s = cur.secondSpend as SpendSeen;
      if (env.height < finalAt(s) || cur.firstFinal !== true) return { next: cur, effects };
      const second = cur.second as NonNullable<HtlcClaim['second']>;
      const report: ReportRow = {
        outpoint: second.outpoint,
        stage: 2,
        type: reportType(cur),
        outcome: s.ours ? (timeoutKind(cur) ? 'timeout' : 'claimed') : 'unclaimed',
        amountSat: second.valueSat,
        txid: s.txid,
        height: s.height,
      };
      return { next: { ...cur, stage: 'done' }, effects: [...effects, ...finish([report], [cur.output.outpoint, second.outpoint])], finished: true };
    }
    case 'done':
      return same(r);
  }
}

function onSpend(r: HtlcClaim, e: Extract<ResolverEvent, { kind: 'Spend' }>, env: ResolverEnv): StepResult<HtlcClaim> {
  if (e.outpoint === r.output.outpoint) {
    if (r.first?.txid === e.txid) return same(r);
    if (r.first !== undefined) return same(r); // a second spend of one output cannot happen without an undo first
    const spend = seen(e);
    const effects: ResolverEffect[] = [];
    let byPeer: boolean;
    if (timeoutKind(r)) {
      const pre = findPreimage(e.witness, r.output.htlc.paymentHash);
      byPeer = pre !== undefined;
      if (pre !== undefined) effects.push(...preimageEffects(r, pre, 'chain', e.txid));
    } else {
      // our success spend carries the preimage; anything else is their timeout
      byPeer = r.preimage === undefined || findPreimage(e.witness, r.output.htlc.paymentHash) === undefined;
    }
    const sl = r.output.secondLevel;
    if (!byPeer && sl !== undefined) {
      // our second-level transaction: its output at our input's index (SINGLE|ANYONECANPAY pairs them)
      const out = e.outputs[e.inputIndex];
      if (out === undefined || out.valueSat !== sl.outputSat) {
        // not the transaction we expected (lnd PR #10869): treat as the peer's
        const next: HtlcClaim = { ...r, stage: 'firstConfirming', first: spend, byPeer: true, note: `unexpected spend ${e.txid}` };
        return { next, effects: [{ kind: 'CancelSweep', outpoint: r.output.outpoint }] };
      }
      const next: HtlcClaim = { ...r, stage: 'secondLevel', first: { ...spend, ours: true }, second: { outpoint: outpointOf(e.txid, e.inputIndex), valueSat: out.valueSat } };
      return { next, effects: [...effects, ...ensure(next, env)] };
    }
    const next: HtlcClaim = { ...r, stage: 'firstConfirming', first: { ...spend, ours: !byPeer }, byPeer };
    if (env.height >= finalAt(spend)) {
      const f = firstFinal(next);
      return { ...f, effects: [...effects, ...f.effects] };
    }
    return { next, effects: byPeer ? [...effects, { kind: 'CancelSweep', outpoint: r.output.outpoint }] : effects };
  }
  if (r.second !== undefined && e.outpoint === r.second.outpoint && r.secondSpend?.txid !== e.txid && r.stage === 'secondLevel') {
    return { next: { ...r, stage: 'secondConfirming', secondSpend: seen(e) }, effects: [] };
  }
  return same(r);
}

/** The wake height of a claim. */
export function claimWake(r: HtlcClaim): number | undefined {
  switch (r.stage) {
    case 'offered':
      return presigned(r) && timeoutKind(r) ? cltvOf(r) : undefined;
    case 'firstConfirming':
    case 'secondLevel':
      return r.first !== undefined && r.firstFinal !== true ? finalAt(r.first) : undefined;
    case 'secondConfirming':
      return r.secondSpend === undefined ? undefined : Math.max(finalAt(r.secondSpend), r.first === undefined ? 0 : finalAt(r.first));
    case 'done':
      return undefined;
  }
}

/** Limbo, recovered, stage and maturity of a claim, for the live view. */
export function claimView(r: HtlcClaim, height: number) {
  const amount = BigInt(r.output.amountSat);
  const sl = r.output.secondLevel;
  let limbo = amount;
  let recovered = 0n;
  let maturity = firstMaturity(r);
  let htlcStage: 1 | 2 = 1;
  if (r.stage === 'done') {
    limbo = 0n;
    if (r.byPeer !== true) recovered = r.second !== undefined ? BigInt(r.second.valueSat) : amount;
  } else if (r.second !== undefined && sl !== undefined && r.first !== undefined) {
    limbo = BigInt(r.second.valueSat);
    maturity = r.first.height + sl.csvDelay;
    htlcStage = 2;
  }
  return {
    type: reportType(r),
    stage: r.stage,
    htlcStage,
    amountSat: amount,
    limboSat: limbo,
    recoveredSat: recovered,
    maturityHeight: maturity,
    blocksTilMaturity: maturity - height,
    ...(r.note === undefined ? {} : { reason: r.note }),
  };
}
