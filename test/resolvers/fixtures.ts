/** Resolver fixtures for the step-function unit tests: records as the arbitrator writes them (hex is fake but well formed). */
import { sha256, toHex } from '../../src/util/bytes.js';
import { DEFAULT_BUDGETS, type Format, type InitRecord, type ResolverEnv, type ResolverEvent } from '../../src/resolvers/types.js';

export const CHAN = `${'c'.repeat(64)}:0`;
export const CLOSE_TXID = 'a'.repeat(64);
export const CLOSE_HEIGHT = 500;
export const PREIMAGE = toHex(sha256(new TextEncoder().encode('fixture preimage')));
export const PAYMENT_HASH = toHex(sha256(Buffer.from(PREIMAGE, 'hex')));
export const SECOND_TXID = 'b'.repeat(64);
export const SWEEP_TXID = 'd'.repeat(64);
export const PEER_TXID = 'e'.repeat(64);

const KEY = { family: 2, index: 0, tweakPoint: `02${'11'.repeat(32)}` };
// a 33-byte-ish P2WSH witness script stand-in and its (fake) scriptPubKey
const SCRIPT = `76a914${'22'.repeat(20)}88ac`;
const SPK = `0020${'33'.repeat(32)}`;

export function env(height: number, feeRatePerKw = 253n): ResolverEnv {
  return { height, budgets: DEFAULT_BUDGETS, feeRatePerKw };
}

export function commitRecord(closeType: 'local' | 'remote', format: Format, csvDelay: number, amountSat = '600000'): InitRecord {
  const output = {
    outpoint: `${CLOSE_TXID}:3`,
    amountSat,
    scriptPubKey: closeType === 'remote' && format === 'static_remotekey' ? `0014${'44'.repeat(20)}` : SPK,
    ...(closeType === 'remote' && format === 'static_remotekey' ? {} : { witnessScript: SCRIPT }),
    key: closeType === 'local' ? { family: 4, index: 0, tweakPoint: KEY.tweakPoint } : { family: 3, index: 0 },
    csvDelay,
  };
  return { chanPoint: CHAN, outpoint: output.outpoint, format, closeType, closeTxid: CLOSE_TXID, closeHeight: CLOSE_HEIGHT, output, deadline: null };
}

export function anchorRecord(): InitRecord {
  const output = { outpoint: `${CLOSE_TXID}:0`, amountSat: '330', scriptPubKey: SPK, witnessScript: SCRIPT, key: { family: 0, index: 0 }, csvDelay: 0 };
  return { chanPoint: CHAN, outpoint: output.outpoint, format: 'anchors', closeType: 'local', closeTxid: CLOSE_TXID, closeHeight: CLOSE_HEIGHT, output, deadline: null };
}

/** An HTLC output record: `direction` from our view; `local` adds the second-level transaction. */
export function htlcRecord(o: {
  readonly direction: 'incoming' | 'outgoing';
  readonly closeType: 'local' | 'remote';
  readonly format: Format;
  readonly cltvExpiry: number;
  readonly deadline?: number | null;
  readonly amountSat?: string;
}): InitRecord {
  const amountSat = o.amountSat ?? '50000';
  const anchors = o.format === 'anchors';
  const secondLevel =
    o.closeType === 'local'
      ? {
          kind: o.direction === 'outgoing' ? 'timeout' : 'success',
          txHex: '02000000000000000000',
          remoteSignature: '55'.repeat(64),
          remoteSighashType: anchors ? 0x83 : 0x01,
          outputScript: SCRIPT,
          outputSat: anchors ? amountSat : String(BigInt(amountSat) - 1_700n),
          csvDelay: 144,
          key: { family: 4, index: 0, tweakPoint: KEY.tweakPoint },
        }
      : undefined;
  const output = {
    outpoint: `${CLOSE_TXID}:${o.direction === 'outgoing' ? 1 : 2}`,
    amountSat,
    scriptPubKey: SPK,
    witnessScript: SCRIPT,
    key: KEY,
    csvDelay: anchors ? 1 : 0,
    htlc: { htlcId: 7, direction: o.direction, amountMsat: `${amountSat}000`, paymentHash: PAYMENT_HASH, cltvExpiry: o.cltvExpiry, dust: false },
    ...(secondLevel === undefined ? {} : { secondLevel }),
  };
  return {
    chanPoint: CHAN,
    outpoint: output.outpoint,
    format: o.format,
    closeType: o.closeType,
    closeTxid: CLOSE_TXID,
    closeHeight: CLOSE_HEIGHT,
    output,
    deadline: o.deadline === undefined ? (o.direction === 'incoming' ? o.cltvExpiry : null) : o.deadline,
  };
}

/** A confirmed spend event. */
export function spend(
  outpoint: string,
  txid: string,
  height: number,
  o: { readonly ours?: boolean; readonly witness?: string[]; readonly inputIndex?: number; readonly outputs?: { valueSat: string; script: string }[] } = {},
): ResolverEvent {
  return { kind: 'Spend', outpoint, txid, height, inputIndex: o.inputIndex ?? 0, witness: o.witness ?? [], outputs: o.outputs ?? [], ours: o.ours ?? true };
}
