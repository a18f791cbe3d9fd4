/**
 * What a confirmed close leaves for us (spec section 2.1, lnd's ContractResolutions): for each output of the
 * closing transaction that is ours to claim, the outpoint, amount, script and key a resolver needs to sign and
 * spend it later, with no other data. Built from a checked snapshot (snapshot.ts) and the classifier's verdict
 * (src/watcher/classify.ts).
 *
 *   local          to_local (CSV = our to_self_delay, delayed key), our anchor, every non-dust HTLC output with
 *                  its pre-signed second-level transaction (HTLC-timeout / HTLC-success) and the remote signature
 *   remote         to_remote (P2WPKH of our payment basepoint; P2WSH with CSV 1 on anchor channels), our anchor,
 *   remotePending  every non-dust HTLC output as a direct claim (timeout after the CLTV, or preimage) with our
 *                  HTLC key tweaked by THEIR per-commitment point of that commitment
 *   breach         justice: their to_local and every HTLC output we can identify, each with the revocation key
 *                  (KeyFact.revokedNumber: the secret is read from the revocation store at signing time, never
 *                  carried here), plus our to_remote and our anchor
 *   future         our to_remote only (we lost state; as lnd, the static to_remote key needs no point)
 *   coop           nothing to claim (the settled balance already pays our delivery script)
 *
 * Keys: `KeyFact.tweakPoint` is the per-commitment point P; the signer uses basepoint secret + SHA256(P ||
 * basepoint), the basepoint being the public key at the locator. csvDelay is the relative delay of the path we
 * use: to_local / second-level outputs our to_self_delay; to_remote and HTLC outputs 1 on anchor channels, 0
 * otherwise; anchors and revocation paths 0.
 *
 * Breach HTLC outputs: an HTLC output's witness script commits to the payment hash (and, for HTLCs they received,
 * the CLTV), so each HTLC output of a revoked commitment is matched by script and amount against candidates: first
 * the HTLC set courtd's revocation log (revocation-log.ts, migrations/0011) holds for that commitment number, then
 * every HTLC the snapshot in force knows. With the log's set every HTLC output is matched; without it (a
 * commitment no stored snapshot gave) an output that matches none cannot be swept, because its witness script is
 * unknown. Such outputs are never guessed: they are left out of the resolution and listed by
 * `unmatchedBreachOutputs` so the arbitrator can report the value at risk. Their to_local and our to_remote are
 * always complete.
 *
 * Pure: no I/O, no clock. The per-commitment secret of a breach is used to derive the point and nothing else.
 */
import type { Transaction } from 'bitcoinjs-lib';
import { deriveRevocationPubkey, derivePubkey, perCommitmentPoint } from '../keys/derive.js';
import type { Commitment } from '../ln/commitment.js';
import {
  anchorScript,
  htlcScriptKeys,
  offeredHtlcScript,
  p2wsh,
  receivedHtlcScript,
  toLocalScript,
  toRemoteAnchorScript,
} from '../ln/scripts.js';
import type { Sat } from '../util/amount.js';
import { equal, toHex } from '../util/bytes.js';
import { CourtError, assertNever } from '../util/errors.js';
import type { Classification } from '../watcher/classify.js';
import { commitSetFacts, htlcFact, staticToRemoteSpk, type CheckedSnapshot, type SnapshotHtlc, type SnapshotKeyLocator } from './snapshot.js';
import type {
  BreachResolution,
  CloseResolutions,
  HtlcFact,
  HtlcResolution,
  KeyFact,
  OutputResolution,
  SecondLevelFact,
} from './types.js';

/**
 * A second-level transaction with the key of its CSV output (the delay-base key tweaked by our point of that
 * commitment): what sweeping that output needs. types.ts SecondLevelFact has no key field; resolutions carry it
 * here so they stay self-contained even when our to_local is trimmed.
 */
export interface SecondLevelResolution extends SecondLevelFact {
  readonly key: KeyFact;
}

/** A breach output of the revoked commitment whose witness script could not be derived (see module header). */
export interface UnmatchedOutput {
  readonly outpoint: string;
  readonly amountSat: string;
  readonly scriptPubKey: string;
}

type BreachOutput = BreachResolution['outputs'][number];

interface Out {
  readonly index: number;
  readonly amountSat: Sat;
  readonly scriptPubKey: Uint8Array;
  readonly witnessScript: Uint8Array | undefined;
}

function key(loc: SnapshotKeyLocator, extra: { tweakPoint?: Uint8Array; revokedNumber?: number } = {}): KeyFact {
  return {
    family: loc.family,
    index: loc.index,
    ...(extra.tweakPoint === undefined ? {} : { tweakPoint: toHex(extra.tweakPoint) }),
    ...(extra.revokedNumber === undefined ? {} : { revokedNumber: extra.revokedNumber }),
  };
}

function outputResolution(txid: string, o: Out, k: KeyFact, csvDelay: number): OutputResolution {
  return {
    outpoint: `${txid}:${o.index}`,
    amountSat: o.amountSat.toString(),
    scriptPubKey: toHex(o.scriptPubKey),
    ...(o.witnessScript === undefined ? {} : { witnessScript: toHex(o.witnessScript) }),
    key: k,
    csvDelay,
  };
}

function badArgument(message: string, details: Record<string, string | number> = {}): never {
  throw new CourtError('COURT_E_INVALID_ARGUMENT', message, details);
}

/** The commitment classified as closing must be the one we built (same snapshot) and the transaction given. */
function expectCommitment(built: Commitment | undefined, cls: Classification, what: string): Commitment {
  if (built === undefined) badArgument(`classified as ${what} but the snapshot has no such commitment`, { kind: cls.kind });
  if (built.tx.getId() !== cls.txid) badArgument(`classified ${what} txid differs from the snapshot's commitment`, { kind: cls.kind });
  return built;
}

/** Relative delay of HTLC and to_remote paths on their commitments (BOLT #3 anchors add `1 OP_CSV`). */
function anchorCsv(c: CheckedSnapshot): number {
  return c.format === 'anchors' ? 1 : 0;
}

/** Our to_remote on any of their commitments: the static payment basepoint, P2WPKH or (anchors) P2WSH + CSV 1. */
function ourToRemote(c: CheckedSnapshot): { scriptPubKey: Uint8Array; witnessScript: Uint8Array | undefined } {
  return {
    scriptPubKey: staticToRemoteSpk(c.format, c.ours.paymentBase),
    witnessScript: c.format === 'anchors' ? toRemoteAnchorScript(c.ours.paymentBase) : undefined,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Our commitment

/** A classification naming one of the commitments the snapshot holds. */
type KnownClose = Extract<Classification, { kind: 'local' | 'remote' | 'remotePending' }>;

function localResolutions(c: CheckedSnapshot, cls: KnownClose): CloseResolutions {
  const com = expectCommitment(c.local, cls, 'local');
  const s = c.snapshot;
  const locs = s.local.keyLocators;
  const point = s.localCommitment.perCommitmentPoint;
  const facts = commitSetFacts(c).local;
  const delay = s.local.toSelfDelay;
  let commitOutput: OutputResolution | undefined;
  let anchor: OutputResolution | undefined;
  const htlcs: HtlcResolution[] = [];
  for (const o of com.outputs) {
    if (o.kind === 'to_local') commitOutput = outputResolution(cls.txid, o, key(locs.delayBase, { tweakPoint: point }), delay);
    else if (o.kind === 'local_anchor') anchor = outputResolution(cls.txid, o, key(locs.funding), 0);
    else if (o.kind === 'offered_htlc' || o.kind === 'received_htlc') {
      const signed = c.localHtlcTxs.find((h) => h.htlcTx.output.index === o.index);
      if (signed === undefined) throw new Error('checked snapshot lacks a second-level transaction for an HTLC output');
      const h = signed.htlcTx;
      const secondLevel: SecondLevelResolution = {
        kind: h.kind,
        txHex: h.tx.toHex(),
        remoteSignature: toHex(signed.remoteSignature),
        remoteSighashType: h.remoteSighashType,
        outputScript: toHex(h.outputScript),
        outputSat: h.outputSat.toString(),
        csvDelay: delay,
        key: key(locs.delayBase, { tweakPoint: point }),
      };
      htlcs.push({
        ...outputResolution(cls.txid, o, key(locs.htlcBase, { tweakPoint: point }), anchorCsv(c)),
        htlc: facts[o.htlcIndex as number] as HtlcFact,
        secondLevel,
      });
    }
  }
  return assemble('local', cls.txid, cls.number, commitOutput, anchor, htlcs);
}

// ---------------------------------------------------------------------------------------------------------------
// Their commitment (current or pending)

function remoteResolutions(c: CheckedSnapshot, cls: KnownClose): CloseResolutions {
  const pending = cls.kind === 'remotePending';
  const com = expectCommitment(pending ? c.remotePending : c.remoteCurrent, cls, cls.kind);
  const snapCom = pending ? c.snapshot.remoteCommitments.pending : c.snapshot.remoteCommitments.current;
  if (snapCom === undefined) throw new Error('checked snapshot has a pending commitment the snapshot lacks');
  const locs = c.snapshot.local.keyLocators;
  const sets = commitSetFacts(c);
  const facts = (pending ? sets.remotePending : sets.remote) ?? [];
  const csv = anchorCsv(c);
  let commitOutput: OutputResolution | undefined;
  let anchor: OutputResolution | undefined;
  const htlcs: HtlcResolution[] = [];
  for (const o of com.outputs) {
    if (o.kind === 'to_remote') commitOutput = outputResolution(cls.txid, o, key(locs.paymentBase), csv);
    else if (o.kind === 'remote_anchor') anchor = outputResolution(cls.txid, o, key(locs.funding), 0);
    else if (o.kind === 'offered_htlc' || o.kind === 'received_htlc') {
      htlcs.push({
        ...outputResolution(cls.txid, o, key(locs.htlcBase, { tweakPoint: snapCom.perCommitmentPoint }), csv),
        htlc: facts[o.htlcIndex as number] as HtlcFact,
      });
    }
  }
  return assemble(pending ? 'remotePending' : 'remote', cls.txid, cls.number, commitOutput, anchor, htlcs);
}

function assemble(
  closeType: CloseResolutions['closeType'],
  txid: string,
  commitmentNumber: number,
  commitOutput: OutputResolution | undefined,
  anchor: OutputResolution | undefined,
  htlcs: HtlcResolution[],
  breach?: BreachResolution,
): CloseResolutions {
  return {
    closeType,
    txid,
    commitmentNumber,
    ...(commitOutput === undefined ? {} : { commitOutput }),
    ...(anchor === undefined ? {} : { anchor }),
    htlcs,
    ...(breach === undefined ? {} : { breach }),
  };
}

function txOutputs(tx: Transaction): Out[] {
  return tx.outs.map((o, index) => ({ index, amountSat: o.value, scriptPubKey: o.script, witnessScript: undefined }));
}

// ---------------------------------------------------------------------------------------------------------------
// A revoked commitment of theirs

interface BreachMatch {
  readonly outputs: BreachOutput[];
  readonly toRemote: OutputResolution | undefined;
  readonly anchor: OutputResolution | undefined;
  readonly unmatched: UnmatchedOutput[];
  readonly toLocalScript: Uint8Array;
  readonly point: Uint8Array;
}

/** What the caller read for a breach: the revoked commitment's HTLC set from courtd's revocation log. */
export interface BreachLog {
  /** The HTLC set the log holds for the revoked commitment's number (revocation-log.ts loggedCommitment). */
  readonly revokedHtlcs?: readonly SnapshotHtlc[];
}

/**
 * The candidates for a revoked commitment's HTLC outputs, once each: the log's set for that commitment first, then
 * every HTLC the snapshot knows of.
 */
function knownHtlcs(c: CheckedSnapshot, log: BreachLog): SnapshotHtlc[] {
  const s = c.snapshot;
  const all = [
    ...(log.revokedHtlcs ?? []),
    ...s.localCommitment.htlcs,
    ...s.remoteCommitments.current.htlcs,
    ...(s.remoteCommitments.pending?.htlcs ?? []),
  ];
  const seen = new Set<string>();
  return all.filter((h) => {
    const id = `${h.direction}/${h.htlcId}/${toHex(h.paymentHash)}/${h.amountMsat}/${h.cltvExpiry}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

function matchBreach(c: CheckedSnapshot, cls: Classification & { kind: 'breach' }, closeTx: Transaction, log: BreachLog): BreachMatch {
  const s = c.snapshot;
  const locs = s.local.keyLocators;
  const anchors = c.format === 'anchors';
  const point = perCommitmentPoint(cls.perCommitmentSecret);
  // Their commitment: they are "local" in BOLT #3 terms; our revocation basepoint and their point revoke it.
  const revocationPubkey = deriveRevocationPubkey(c.ours.revocationBase, point);
  const toLocalWs = toLocalScript(revocationPubkey, s.remote.toSelfDelay, derivePubkey(s.remote.delayedPaymentBasepoint, point));
  const toLocalSpk = p2wsh(toLocalWs);
  const toRemote = ourToRemote(c);
  const ourAnchorWs = anchorScript(c.ours.funding);
  const theirAnchorSpk = p2wsh(anchorScript(s.remote.fundingPubkey));
  const hk = htlcScriptKeys(revocationPubkey, derivePubkey(s.remote.htlcBasepoint, point), derivePubkey(c.ours.htlcBase, point));

  // Candidate HTLC scripts keyed by scriptPubKey and amount (the amount pins duplicates of one payment hash).
  const candidates = new Map<string, { kind: 'offered_htlc' | 'received_htlc'; ws: Uint8Array; htlc: SnapshotHtlc }>();
  for (const h of knownHtlcs(c, log)) {
    // Theirs is the holder's view: an HTLC they offered is incoming to us.
    const kind = h.direction === 'incoming' ? 'offered_htlc' : 'received_htlc';
    const ws = kind === 'offered_htlc' ? offeredHtlcScript(hk, h.paymentHash, anchors) : receivedHtlcScript(hk, h.paymentHash, h.cltvExpiry, anchors);
    const id = `${toHex(p2wsh(ws))}/${h.amountMsat / 1000n}`;
    if (!candidates.has(id)) candidates.set(id, { kind, ws, htlc: h });
  }

  const revoked = key(locs.revocationBase, { revokedNumber: cls.number });
  const outputs: BreachOutput[] = [];
  const unmatched: UnmatchedOutput[] = [];
  let toRemoteRes: OutputResolution | undefined;
  let anchor: OutputResolution | undefined;
  for (const o of txOutputs(closeTx)) {
    const spk = o.scriptPubKey;
    if (equal(spk, toLocalSpk)) {
      outputs.push({ ...outputResolution(cls.txid, { ...o, witnessScript: toLocalWs }, revoked, 0), kind: 'to_local' });
    } else if (equal(spk, toRemote.scriptPubKey)) {
      toRemoteRes = outputResolution(cls.txid, { ...o, witnessScript: toRemote.witnessScript }, key(locs.paymentBase), anchorCsv(c));
    } else if (anchors && equal(spk, p2wsh(ourAnchorWs))) {
      anchor = outputResolution(cls.txid, { ...o, witnessScript: ourAnchorWs }, key(locs.funding), 0);
    } else if (anchors && equal(spk, theirAnchorSpk)) {
      // Their anchor: not ours to claim (anyone may after 16 blocks; not worth a justice input).
    } else {
      const m = candidates.get(`${toHex(spk)}/${o.amountSat}`);
      if (m === undefined) {
        unmatched.push({ outpoint: `${cls.txid}:${o.index}`, amountSat: o.amountSat.toString(), scriptPubKey: toHex(spk) });
      } else {
        outputs.push({
          ...outputResolution(cls.txid, { ...o, witnessScript: m.ws }, revoked, 0),
          kind: m.kind,
          htlc: htlcFact(m.htlc, false),
        });
      }
    }
  }
  return { outputs, toRemote: toRemoteRes, anchor, unmatched, toLocalScript: toLocalWs, point };
}

function breachResolutions(c: CheckedSnapshot, cls: Classification & { kind: 'breach' }, closeTx: Transaction, log: BreachLog): CloseResolutions {
  const m = matchBreach(c, cls, closeTx, log);
  const breach: BreachResolution = {
    commitmentNumber: cls.number,
    perCommitmentPoint: toHex(m.point),
    outputs: m.outputs,
    // Their second-level outputs pay the same script as their to_local (same revocation key, delay and key).
    secondLevelScript: toHex(m.toLocalScript),
    theirToSelfDelay: c.snapshot.remote.toSelfDelay,
  };
  return assemble('breach', cls.txid, cls.number, m.toRemote, m.anchor, [], breach);
}

/**
 * Outputs of a revoked commitment that `closeResolutions` could not identify (HTLC outputs whose HTLC neither the
 * revocation log's set in `log` nor the snapshot carries): value we cannot claim by revocation. Empty for every
 * other kind of close, and for a breach whose commitment the log holds.
 */
export function unmatchedBreachOutputs(c: CheckedSnapshot, cls: Classification, closeTx: Transaction, log: BreachLog = {}): UnmatchedOutput[] {
  if (cls.kind !== 'breach') return [];
  checkTx(cls, closeTx);
  return matchBreach(c, cls, closeTx, log).unmatched;
}

// ---------------------------------------------------------------------------------------------------------------
// A newer commitment of theirs than we know (data loss)

/** Our static to_remote on `closeTx`, if it is there: claimable with no per-commitment point. */
function toRemoteClaim(c: CheckedSnapshot, txid: string, closeTx: Transaction): OutputResolution | undefined {
  const toRemote = ourToRemote(c);
  const o = txOutputs(closeTx).find((x) => equal(x.scriptPubKey, toRemote.scriptPubKey));
  if (o === undefined) return undefined;
  return outputResolution(txid, { ...o, witnessScript: toRemote.witnessScript }, key(c.snapshot.local.keyLocators.paymentBase), anchorCsv(c));
}

function futureResolutions(c: CheckedSnapshot, cls: Classification & { kind: 'future' }, closeTx: Transaction): CloseResolutions {
  return assemble('future', cls.txid, cls.number, toRemoteClaim(c, cls.txid, closeTx), undefined, []);
}

// ---------------------------------------------------------------------------------------------------------------

function checkTx(cls: Classification, closeTx: Transaction): void {
  if (closeTx.getId() !== cls.txid) badArgument('the closing transaction is not the one classified', { kind: cls.kind });
}

/**
 * The resolutions of a confirmed close: every output of `closeTx` that is ours to claim, with what a resolver
 * needs to spend it. `cls` must be `classifyClose(classifierView(c, ...), closeTx)`; an 'unknown' close, a
 * classification of another transaction or of a commitment this snapshot does not hold throws
 * COURT_E_INVALID_ARGUMENT. For a breach, `log` carries the revoked commitment's HTLC set from the revocation log.
 */
export function closeResolutions(c: CheckedSnapshot, cls: Classification, closeTx: Transaction, log: BreachLog = {}): CloseResolutions {
  checkTx(cls, closeTx);
  switch (cls.kind) {
    case 'coop':
      return { closeType: 'coop', txid: cls.txid, htlcs: [] };
    case 'local':
    case 'remote':
    case 'remotePending':
      return cls.kind === 'local' ? localResolutions(c, cls) : remoteResolutions(c, cls);
    case 'breach':
      return breachResolutions(c, cls, closeTx, log);
    case 'future':
      return futureResolutions(c, cls, closeTx);
    case 'unknown':
    case 'ourUnknown':
      return badArgument('an unresolved close has no resolutions (see unresolvedClaims)', { kind: cls.kind, number: cls.number ?? -1 });
    default:
      return assertNever(cls, 'classification');
  }
}

/**
 * What an unresolved close still lets us claim on our own: our static to_remote when it is on the spend (an
 * unrecognised commitment of theirs, or a strange mutual close). Its key needs no per-commitment point.
 */
export function unresolvedClaims(c: CheckedSnapshot, cls: Classification, closeTx: Transaction): OutputResolution[] {
  checkTx(cls, closeTx);
  if (cls.kind !== 'unknown' || cls.ourToRemoteVout === undefined) return [];
  const claim = toRemoteClaim(c, cls.txid, closeTx);
  return claim === undefined ? [] : [claim];
}
