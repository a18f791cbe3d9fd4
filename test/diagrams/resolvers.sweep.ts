/**
 * The contract resolvers' (state, event) sweep for `npm run diagrams`: every kind of src/resolvers/registry.ts,
 * started from the arbitrator's records of a local and a remote close (both formats where it matters), run through
 * its real, pure `step`. A node is "kind_stage"; a contest that hands over to its successor (htlcTimeout,
 * htlcSuccess) is drawn as an edge to the successor's first stage.
 *
 * The events are described relative to the value they are applied to (its outpoint, its HTLC's CLTV, the height of
 * the spend it saw), so that every sample meets a spend of its own output, a block at its maturity and a block at
 * finality: "SpendOurs" is our claim (a second-level transaction of ours carries its paired output), "SpendTheirs"
 * the peer's (revealing the preimage of an HTLC we offered), "BlockFinal" the block at 6 confirmations of
 * everything seen so far.
 */
import { definition, RESOLVER_KINDS } from '../../src/resolvers/registry.js';
import { DEFAULT_BUDGETS, type HtlcResolution, type ResolverBase, type ResolverEnv, type ResolverEvent, type ResolverKind, type SpendSeen } from '../../src/resolvers/types.js';
import { p2wsh, toLocalScript } from '../../src/ln/scripts.js';
import { fromHex, sha256, toHex } from '../../src/util/bytes.js';
import { closeResolutions, htlc, htlcResolution, SPEND_TXID } from '../arbitrator/channel/fixtures.js';
import type { SweepDescription, SweepOutcome } from './sweep.js';

const CLOSE_HEIGHT = 1000;
const PREIMAGE = toHex(sha256(new TextEncoder().encode('diagrams preimage')));
const PAYMENT_HASH = toHex(sha256(Buffer.from(PREIMAGE, 'hex')));
const OUR_TXID = 'a1'.repeat(32);
const THEIR_TXID = 'b2'.repeat(32);
const SPEND_HEIGHT = CLOSE_HEIGHT + 10;

type Format = 'anchors' | 'static_remotekey';

interface Res {
  readonly kind: ResolverKind;
  readonly stage: string;
  readonly outpoint: string;
  readonly closeHeight: number;
  readonly res?: HtlcResolution;
  readonly output?: { readonly csvDelay: number };
  readonly spend?: SpendSeen;
  readonly first?: SpendSeen;
  readonly second?: { readonly outpoint: string; readonly valueSat: string };
  readonly secondSpend?: SpendSeen;
  /** breach: the output it takes back now (the origin, or the cheater's second-level output). */
  readonly target?: { readonly outpoint: string };
  readonly secondLevelScript?: string;
}

/** A resolver value as the runner would hold it, and the name of the sample. */
interface Sample {
  readonly name: string;
  readonly state: ResolverBase;
}

function record(kind: ResolverKind, closeType: 'local' | 'remote' | 'breach', format: Format, output: object, deadline: number | null) {
  const outpoint = (output as { outpoint: string }).outpoint;
  return { chanPoint: `${'11'.repeat(32)}:0`, outpoint, format, closeType, closeTxid: SPEND_TXID, closeHeight: CLOSE_HEIGHT, output, deadline, kind };
}

function init(kind: ResolverKind, closeType: 'local' | 'remote' | 'breach', format: Format, output: object, deadline: number | null = null): ResolverBase {
  const def = definition(kind);
  if (def === undefined) throw new Error(`no resolver kind ${kind}`);
  return def.init(record(kind, closeType, format, output, deadline));
}

function samples(): Sample[] {
  const out: Sample[] = [];
  const outgoing = htlc('outgoing', 1, CLOSE_HEIGHT + 40, { paymentHash: PAYMENT_HASH });
  const incoming = htlc('incoming', 2, CLOSE_HEIGHT + 60, { paymentHash: PAYMENT_HASH });
  for (const closeType of ['local', 'remote'] as const) {
    const close = closeResolutions(closeType, { anchor: true });
    const formats: Format[] = closeType === 'local' ? ['anchors', 'static_remotekey'] : ['anchors'];
    for (const format of formats) {
      const tag = `${closeType}/${format}`;
      if (format === 'anchors') {
        out.push({ name: `commitSweep ${tag}`, state: init('commitSweep', closeType, format, close.commitOutput as object) });
        out.push({ name: `anchor ${tag}`, state: init('anchor', closeType, format, close.anchor as object) });
      }
      const out1 = htlcResolution(closeType, outgoing, `${SPEND_TXID}:2`);
      const in2 = htlcResolution(closeType, incoming, `${SPEND_TXID}:3`);
      out.push({ name: `htlcOutgoingContest ${tag}`, state: init('htlcOutgoingContest', closeType, format, out1, CLOSE_HEIGHT + 80) });
      out.push({ name: `htlcTimeout ${tag}`, state: init('htlcTimeout', closeType, format, out1, CLOSE_HEIGHT + 80) });
      out.push({ name: `htlcIncomingContest ${tag}`, state: init('htlcIncomingContest', closeType, format, in2, incoming.cltvExpiry) });
      out.push({ name: `htlcSuccess ${tag}`, state: init('htlcSuccess', closeType, format, { ...in2, preimage: PREIMAGE }, incoming.cltvExpiry) });
    }
  }
  // The breach kind, when this build registers it: one resolver per output of the revoked commitment, its record
  // the output with the facts of the breach (as the arbitrator writes it).
  if (RESOLVER_KINDS.breach !== undefined) {
    const b = closeResolutions('breach').breach;
    // Real to_local-shaped scripts (the justice code reads the revocation key out of them); any valid key will do.
    const G = fromHex('0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798');
    const toLocal = toHex(toLocalScript(G, b?.theirToSelfDelay ?? 144, G));
    for (const o of b?.outputs ?? []) {
      const rec = {
        ...o,
        ...(o.kind === 'to_local' ? { witnessScript: toLocal } : {}),
        commitmentNumber: b?.commitmentNumber,
        secondLevelScript: toLocal,
        theirToSelfDelay: b?.theirToSelfDelay,
      };
      out.push({ name: `breach ${o.kind}`, state: init('breach', 'breach', 'anchors', rec) });
    }
  }
  return out;
}

/** An event made for the value it is applied to, and the height the step sees. */
interface AbstractEvent {
  readonly name: string;
  make(r: Res): { readonly event: ResolverEvent; readonly height: number };
}

/** The HTLC resolution an HTLC resolver carries (format 3: `output`; format 2: `res`), if it is one. */
function hres(r: Res): HtlcResolution | undefined {
  const o = (r.res ?? r.output) as Partial<HtlcResolution> | undefined;
  return o !== undefined && o.htlc !== undefined ? (o as HtlcResolution) : undefined;
}

/** The outpoint a claim of `r` spends next: the second-level output once there is one, else its own. */
function target(r: Res): string {
  if (r.target !== undefined) return r.target.outpoint;
  return r.stage === 'secondLevel' && r.second !== undefined ? r.second.outpoint : (hres(r)?.outpoint ?? r.outpoint);
}

/** The height at which something is due: an HTLC's CLTV, else the close plus the CSV (anchors: 16, anyone-can-spend). */
function due(r: Res): number {
  const h = hres(r);
  if (h !== undefined) return h.htlc.cltvExpiry;
  return r.closeHeight + Math.max(16, r.output?.csvDelay ?? 0);
}

function lastSpendHeight(r: Res): number {
  return Math.max(r.spend?.height ?? 0, r.first?.height ?? 0, r.secondSpend?.height ?? 0, SPEND_HEIGHT);
}

function spend(r: Res, ours: boolean): { event: ResolverEvent; height: number } {
  const outpoint = target(r);
  const second = r.stage === 'secondLevel';
  const height = second ? lastSpendHeight(r) + 2 : SPEND_HEIGHT;
  const sl = hres(r)?.secondLevel;
  const witness = ours ? (r.kind === 'htlcSuccess' ? [PREIMAGE] : []) : r.kind === 'htlcTimeout' || r.kind === 'htlcOutgoingContest' ? [PREIMAGE] : [];
  // Our second-level transaction carries its paired output; the cheater's (breach) pays the revocable second-level script.
  const outputs =
    ours && !second && sl !== undefined
      ? [{ valueSat: sl.outputSat, script: '0020' + 'ab'.repeat(32) }]
      : !ours && r.secondLevelScript !== undefined && r.stage === 'offered'
        ? [{ valueSat: '30000', script: toHex(p2wsh(fromHex(r.secondLevelScript))) }]
        : [{ valueSat: '1000', script: '0014' + 'cd'.repeat(20) }];
  return {
    event: { kind: 'Spend', outpoint, txid: ours ? (second ? 'a3'.repeat(32) : OUR_TXID) : THEIR_TXID, height, inputIndex: 0, witness, outputs, ours },
    height,
  };
}

const EVENTS: readonly AbstractEvent[] = [
  { name: 'Launch', make: (r) => ({ event: { kind: 'Launch', height: r.closeHeight + 1 }, height: r.closeHeight + 1 }) },
  { name: 'LaunchWithPreimage', make: (r) => ({ event: { kind: 'Launch', height: r.closeHeight + 1, preimage: PREIMAGE }, height: r.closeHeight + 1 }) },
  { name: 'BlockEarly', make: (r) => ({ event: { kind: 'Block', height: r.closeHeight + 1 }, height: r.closeHeight + 1 }) },
  { name: 'BlockDue', make: (r) => ({ event: { kind: 'Block', height: due(r) }, height: due(r) }) },
  { name: 'BlockFinal', make: (r) => ({ event: { kind: 'Block', height: lastSpendHeight(r) + 5 }, height: lastSpendHeight(r) + 5 }) },
  { name: 'SpendOurs', make: (r) => spend(r, true) },
  { name: 'SpendTheirs', make: (r) => spend(r, false) },
  {
    name: 'SpendUndone',
    make: (r) => {
      const s = r.secondSpend ?? r.first ?? r.spend;
      const outpoint = r.secondSpend !== undefined && r.second !== undefined ? r.second.outpoint : (hres(r)?.outpoint ?? r.outpoint);
      return { event: { kind: 'SpendUndone', outpoint, txid: s?.txid ?? OUR_TXID, height: s?.height ?? SPEND_HEIGHT }, height: (s?.height ?? SPEND_HEIGHT) + 1 };
    },
  },
  { name: 'MempoolSpend', make: (r) => ({ event: { kind: 'MempoolSpend', outpoint: hres(r)?.outpoint ?? r.outpoint, txid: THEIR_TXID, witness: [PREIMAGE] }, height: r.closeHeight + 2 }) },
  { name: 'Preimage', make: (r) => ({ event: { kind: 'Preimage', paymentHash: PAYMENT_HASH, preimage: PREIMAGE }, height: r.closeHeight + 2 }) },
  { name: 'SweepSwept', make: (r) => ({ event: { kind: 'SweepResult', outpoint: target(r), result: 'swept', txid: OUR_TXID, feeSat: '500' }, height: r.closeHeight + 3 }) },
];

const nodeOf = (r: ResolverBase): string => `${r.kind}_${r.stage}`;

function step(r: ResolverBase, e: AbstractEvent): SweepOutcome {
  const def = definition(r.kind);
  if (def === undefined) throw new Error(`no resolver kind ${r.kind}`);
  const { event, height } = e.make(r as unknown as Res);
  const env: ResolverEnv = { height, budgets: DEFAULT_BUDGETS, feeRatePerKw: 2_500n };
  const result = def.step(r, event, env);
  const to = result.successor ?? result.next;
  const same = JSON.stringify(to) === JSON.stringify(r);
  if (same && result.effects.length === 0) return { outcome: 'ignored' };
  return { outcome: 'step', to, effects: result.effects.map((x) => x.kind) };
}

const STAGES: Readonly<Record<string, readonly string[]>> = {
  commitSweep: ['waiting', 'confirming', 'done'],
  anchor: ['waiting', 'confirming', 'done'],
  htlcOutgoingContest: ['contest', 'done'],
  htlcIncomingContest: ['contest', 'done'],
  htlcTimeout: ['offered', 'firstConfirming', 'secondLevel', 'secondConfirming', 'done'],
  htlcSuccess: ['offered', 'firstConfirming', 'secondLevel', 'secondConfirming', 'done'],
  breach: ['offered', 'secondLevel', 'confirming', 'done'],
};

const KINDS = Object.keys(RESOLVER_KINDS);
// (STAGES names a kind's stages in their order; a kind missing from it still gets its rows, after the others.)
const all = samples();

export const sweep: SweepDescription<ResolverBase, AbstractEvent> = {
  machine: 'ContractResolvers',
  source: 'src/resolvers/*.ts (step of each kind in registry.ts)',
  summary:
    'One per output of a confirmed close: each kind claims its output (offer to the sweeper or a pre-signed broadcast), follows the spend to 6 confirmations, and rolls a stage back when a reorg undoes the spend; a contest hands over to its successor (htlcTimeout at the CLTV, htlcSuccess once the preimage is known)',
  states: all,
  events: EVENTS,
  step,
  kindOf: nodeOf,
  eventName: (e) => e.name,
  kinds: KINDS.flatMap((k) => (STAGES[k] ?? []).map((s) => `${k}_${s}`)),
  initial: [...new Set(all.map((s) => nodeOf(s.state)))],
  terminal: KINDS.map((k) => `${k}_done`),
  depth: 4,
};
