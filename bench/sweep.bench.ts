/**
 * Sweeper benchmarks.
 *
 * sweep_vbytes_ratio: vbytes of the batched sweeps / vbytes of one transaction per input (CLN and Eclair style) for
 *   the inputs of 1,000 local force closes of anchor channels with 10 HTLCs each: per channel its to_local (CSV),
 *   10 zero-fee second-level HTLC transactions (5 timeout with the CLTV expiry as locktime, spread over 144
 *   heights; 5 success; each needs a wallet input and change) and the 10 CSV outputs of those second-level
 *   transactions. Weights are the sweeper's own upper-bound estimates (witnesses at 73-byte signatures).
 * sweeper_block_ms_10k: one block handled by a Sweeper holding 10,000 published inputs of which none is due
 *   (median of 50 deliveries, ms): the cost of the per-block index scan, not of a pass over every input.
 * sweep_build_overhead_ratio: time to build and sign one 100-input sweep / time of its 100 raw signatures.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeyRing } from '../src/keys/keyring.js';
import { secp } from '../src/keys/secp.js';
import { LocalSigner } from '../src/keys/signer.js';
import { p2wpkh, p2wsh, toLocalScript } from '../src/ln/scripts.js';
import { openDatabase } from '../src/store/db.js';
import { migrate } from '../src/store/migrate.js';
import { clusterInputs, sweepAmounts, sweepWeight, unsignedSweep, orderInputs, type CoreInput } from '../src/sweep/core.js';
import { needsWallet } from '../src/sweep/input.js';
import { signSweep } from '../src/sweep/sign.js';
import { Sweeper } from '../src/sweep/sweeper.js';
import type { FeeWalletPort, SweepInputSpec } from '../src/sweep/types.js';
import { sha256, toHex } from '../src/util/bytes.js';
import { emit, opsPerSecond } from './harness.js';

const ring = KeyRing.fromSeed(sha256(Uint8Array.of(7)), 1);
const signer = new LocalSigner(ring);
const enc = new TextEncoder();
const CHANGE = toHex(p2wpkh(secp().pointFromScalar(sha256(enc.encode('bench change')))));
const WALLET_INPUT_WEIGHT = 272;

function txidOf(label: string): string {
  return toHex(sha256(enc.encode(label)));
}

/** A to_local-style input (also the form of a second-level output after its CSV). */
function delayed(label: string, index: number, value: bigint, over: Partial<SweepInputSpec> = {}): SweepInputSpec {
  const locator = { family: 4, index: index % 1000 };
  const script = toLocalScript(ring.publicKey({ family: 1, index: index % 1000 }), 144, ring.publicKey(locator));
  return {
    outpoint: `${txidOf(label)}:0`,
    valueSat: value,
    scriptPubKey: toHex(p2wsh(script)),
    witness: { kind: 'toLocalDelayed', key: { locator }, script: toHex(script) },
    sequence: 144,
    budgetSat: value / 2n,
    pinnable: false,
    owner: `bench:${label}`,
    ...over,
  };
}

/** The sweep inputs of one closed channel (see the module comment). */
function channelInputs(c: number): SweepInputSpec[] {
  const out: SweepInputSpec[] = [delayed(`c${c} to_local`, c, 500_000n)];
  // an HTLC script of the right size (offered: 133 bytes, received: 139); the key material does not matter for weights
  const offered = '00'.repeat(133);
  const received = '00'.repeat(139);
  for (let h = 0; h < 10; h++) {
    const timeout = h < 5;
    const expiry = 900_000 + ((c * 7 + h * 13) % 144);
    out.push({
      outpoint: `${txidOf(`c${c} commitment`)}:${h + 2}`,
      valueSat: 50_000n,
      scriptPubKey: '0020' + '00'.repeat(32),
      witness: timeout
        ? { kind: 'htlcSecondLevel', key: { locator: { family: 2, index: c } }, script: offered, remoteSig: '30'.repeat(73) }
        : { kind: 'htlcSecondLevel', key: { locator: { family: 2, index: c } }, script: received, remoteSig: '30'.repeat(73), preimage: '11'.repeat(32) },
      sequence: 1,
      ...(timeout ? { locktime: expiry } : {}),
      deadlineHeight: expiry + (timeout ? 40 : 0),
      pairedOutput: { valueSat: 50_000n, script: '0020' + '00'.repeat(32) },
      budgetSat: 25_000n,
      pinnable: true,
      // Pinnable inputs carry their channel: batched across channels until a refusal, a spend by someone else or the
      // node dropping a version near its deadline splits a set by channel (a split the bench never triggers).
      chanPoint: `${txidOf(`c${c} funding`)}:0`,
      owner: `bench:c${c} htlc ${h}`,
    });
    out.push(delayed(`c${c} second-level ${h}`, c * 10 + h, 50_000n));
  }
  return out;
}

function vbytes(w: number): number {
  return Math.ceil(w / 4);
}

function vbytesRatio(): { ratio: number; batched: number; single: number; txs: number } {
  const inputs: CoreInput[] = [];
  for (let c = 0; c < 1000; c++) for (const spec of channelInputs(c)) inputs.push({ spec, offerHeight: 899_990 });
  let single = 0;
  for (const i of inputs) single += vbytes(sweepWeight([i.spec], needsWallet(i.spec) ? 1 : 0, WALLET_INPUT_WEIGHT, 22));
  const clusters = clusterInputs(inputs, { walletInputWeight: WALLET_INPUT_WEIGHT, changeScriptLen: 22 });
  let batched = 0;
  for (const c of clusters) batched += vbytes(sweepWeight(c.inputs.map((i) => i.spec), c.wallet ? 1 : 0, WALLET_INPUT_WEIGHT, 22));
  return { ratio: batched / single, batched, single, txs: clusters.length };
}

const nullWallet: FeeWalletPort = {
  inputWeight: WALLET_INPUT_WEIGHT,
  lease: () => undefined,
  release: () => undefined,
  nextChangeScript: () => CHANGE,
  signWalletInputs: async () => undefined,
};

async function blockMs10k(): Promise<{ ms: number; sets: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'courtd-sweep-bench-'));
  try {
    const db = openDatabase(join(dir, 'court.db'));
    migrate(db);
    const height = 800_000;
    const sweeper = new Sweeper({
      db,
      signer,
      wallet: nullWallet,
      broadcaster: { publish: async (tx) => ({ kind: 'accepted', txid: tx.getId() }), forget: () => undefined },
      watches: { watchSpend: () => ({ id: 0, ready: Promise.resolve(), cancel: () => undefined }), watchConf: () => ({ id: 0, ready: Promise.resolve(), cancel: () => undefined }) },
      fees: { feeRatePerKw: async () => 1000n, floorPerKw: async () => 253n },
      height,
    });
    for (let i = 0; i < 10_000; i++) sweeper.offer(delayed(`block bench ${i}`, i, 100_000n, { budgetSat: 2_000n, sequence: 0xfffffffd }));
    await sweeper.kick();
    const sets = (db.prepare('SELECT COUNT(*) AS n FROM sweep_set').get() as { n: number }).n;
    const due = (db.prepare('SELECT MIN(next_height) AS h FROM sweep_set WHERE closed = 0').get() as { h: number | null }).h;
    if (due !== null && due <= height + 1) throw new Error(`bench setup: a set is due at ${due}`);
    const ev = { type: 'BlockConnected' as const, height: height + 1, hash: '00'.repeat(32), block: { hash: '00'.repeat(32), height: height + 1, prevHash: '00'.repeat(32), txs: [], txids: [] } };
    const times: number[] = [];
    for (let k = 0; k < 60; k++) {
      const t0 = process.hrtime.bigint();
      await sweeper.onChainEvent(ev);
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    const tail = times.slice(10).sort((a, b) => a - b);
    db.close();
    return { ms: tail[Math.floor(tail.length / 2)] as number, sets };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function buildOverhead(): Promise<{ ratio: number; buildMs: number; sigsMs: number }> {
  const specs = orderInputs(Array.from({ length: 100 }, (_, i) => delayed(`build bench ${i}`, i, 100_000n)));
  const build = async (): Promise<void> => {
    const a = sweepAmounts({ inputs: specs, wallet: [], walletInputWeight: WALLET_INPUT_WEIGHT, changeScriptLen: 22, ratePerKw: 2000n, floorPerKw: 253n, maxRatePerKw: 250_000n });
    const tx = unsignedSweep({ inputs: specs, wallet: [], changeScript: CHANGE, changeSat: a.changeSat, locktime: 0 });
    await signSweep(tx, specs, [], signer, undefined);
    tx.toHex();
  };
  const privs = specs.map((s) => ring.privateKey(s.witness.key.locator));
  const digests = specs.map((_, i) => sha256(Uint8Array.of(i)));
  const sigs = (): void => {
    for (let i = 0; i < 100; i++) secp().sign(digests[i] as Uint8Array, privs[i] as Uint8Array);
  };
  // warm up both, then median of rounds
  const timeAsync = async (f: () => Promise<void>, n: number): Promise<number> => {
    const ts: number[] = [];
    for (let k = 0; k < n; k++) {
      const t0 = process.hrtime.bigint();
      await f();
      ts.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    ts.sort((a, b) => a - b);
    return ts[Math.floor(ts.length / 2)] as number;
  };
  await timeAsync(build, 5);
  const buildMs = await timeAsync(build, 15);
  const sigsMs = 1000 / opsPerSecond(sigs, { warmMs: 300, roundMs: 300, rounds: 5 });
  return { ratio: buildMs / sigsMs, buildMs, sigsMs };
}

export async function runSweepBenches(): Promise<void> {
  const v = vbytesRatio();
  emit({ bench: 'sweep_vbytes_ratio', value: Number(v.ratio.toFixed(4)), unit: 'ratio', goal: 0.65, batchedVbytes: v.batched, singleVbytes: v.single, transactions: v.txs });
  const b = await blockMs10k();
  emit({ bench: 'sweeper_block_ms_10k', value: Number(b.ms.toFixed(3)), unit: 'ms', goal: 5, sets: b.sets });
  const o = await buildOverhead();
  emit({ bench: 'sweep_build_overhead_ratio', value: Number(o.ratio.toFixed(3)), unit: 'ratio', goal: 1.5, buildMs: Number(o.buildMs.toFixed(3)), signaturesMs: Number(o.sigsMs.toFixed(3)) });
}
