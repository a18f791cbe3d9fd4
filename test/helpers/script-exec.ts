/**
 * Runs one transaction input through an independent script interpreter: bcoin's (a full-node implementation,
 * devDependency only). Used to check that the witnesses courtd builds really satisfy the BOLT #3 scripts,
 * including OP_CHECKSEQUENCEVERIFY / OP_CHECKLOCKTIMEVERIFY against the spending transaction's fields.
 *
 * bcoin API used: TX.fromRaw(Buffer), TX#toRaw(), Script.fromRaw(Buffer), Output.fromScript(Script, number),
 * TX#checkInput(index, coin, flags) (throws a ScriptError with a `code` on failure), Script.flags.
 */
import { createRequire } from 'node:module';
import type { Transaction } from 'bitcoinjs-lib';

/** The small part of bcoin's (untyped, CommonJS) surface this helper touches. */
interface BcoinScript {
  readonly raw: Buffer;
}
interface BcoinTx {
  toRaw(): Buffer;
  checkInput(index: number, coin: unknown, flags: number): void;
}
interface Bcoin {
  TX: { fromRaw(raw: Buffer): BcoinTx };
  Script: { fromRaw(raw: Buffer): BcoinScript; flags: Record<string, number> };
  Output: { fromScript(script: BcoinScript, value: number): unknown };
}

const bcoin = createRequire(import.meta.url)('bcoin') as Bcoin;

/** bcoin's STANDARD_VERIFY_FLAGS: policy flags of a relaying node (witness, CSV, CLTV, MINIMALIF, NULLFAIL, ...). */
export const VERIFY_FLAGS: number = bcoin.Script.flags['STANDARD_VERIFY_FLAGS'] as number;

/** Whether VERIFY_FLAGS includes the named bcoin flag (e.g. 'VERIFY_CHECKSEQUENCEVERIFY'). */
export function hasFlag(name: string): boolean {
  const bit = bcoin.Script.flags[name];
  if (bit === undefined || bit === 0) throw new Error(`bcoin has no script flag ${name}`);
  return (VERIFY_FLAGS & bit) === bit;
}

/** The output being spent. */
export interface SpentOutput {
  readonly scriptPubKey: Uint8Array;
  readonly value: bigint;
}

export type ExecResult = { readonly ok: true } | { readonly ok: false; readonly code: string; readonly message: string };

/**
 * Verifies input `index` of `tx` (bitcoinjs Transaction or raw bytes) against the output it spends. Returns the
 * interpreter's ScriptError code on rejection; any other error (a harness bug) is thrown.
 */
export function execInput(tx: Transaction | Uint8Array, index: number, spent: SpentOutput): ExecResult {
  const raw = Buffer.from(tx instanceof Uint8Array ? tx : tx.toBuffer());
  const btx = bcoin.TX.fromRaw(raw);
  if (!btx.toRaw().equals(raw)) throw new Error('bcoin did not parse the transaction back to the same bytes');
  const coin = bcoin.Output.fromScript(bcoin.Script.fromRaw(Buffer.from(spent.scriptPubKey)), Number(spent.value));
  try {
    btx.checkInput(index, coin, VERIFY_FLAGS);
    return { ok: true };
  } catch (e) {
    const err = e as { type?: string; code?: string; message?: string };
    if (err.type !== 'ScriptError') throw e;
    return { ok: false, code: String(err.code), message: String(err.message) };
  }
}
