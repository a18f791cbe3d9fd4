/**
 * Resolver benchmarks.
 *
 * resolver_block_ms_10k: one block handled by a ResolverRunner holding 10,000 launched, waiting resolvers (1,000
 *   channels x 10 HTLC contest resolvers, CLTVs far ahead) of which none matures at that height: the median time
 *   of onBlockConnected over 50 consecutive blocks (after 10 warm-up blocks). Goal <= 5 ms: the runner pops due
 *   resolvers from a heap keyed by wake height and touches nothing else.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeyRing } from '../src/keys/keyring.js';
import { LocalSigner } from '../src/keys/signer.js';
import { ResolverRunner } from '../src/resolvers/runner.js';
import { RESOLVER_KIND } from '../src/store/codes.js';
import { openDatabase } from '../src/store/db.js';
import { migrate } from '../src/store/migrate.js';
import { sha256, toHex } from '../src/util/bytes.js';
import { emit } from './harness.js';

const ring = KeyRing.fromSeed(sha256(new TextEncoder().encode('resolver bench')), 1);
const signer = new LocalSigner(ring);
const noWatch = { id: 0, ready: Promise.resolve(), cancel: () => undefined };

const hex = (label: string, bytes = 32): string => toHex(sha256(new TextEncoder().encode(label))).slice(0, bytes * 2);

async function blockMs10k(): Promise<{ ms: number; resolvers: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'courtd-resolver-bench-'));
  try {
    const db = openDatabase(join(dir, 'court.db'));
    migrate(db);
    const height = 800_000;
    const insertChan = db.prepare("INSERT INTO channel (chan_point, capacity_sat, commitment_type, initiator, funding_height_hint) VALUES (?, '1000000', 1, 0, 1)");
    const insertRow = db.prepare('INSERT INTO resolver (chan_point, outpoint, kind, version, state) VALUES (?, ?, ?, 1, ?)');
    const chans: string[] = [];
    db.transaction(() => {
      for (let c = 0; c < 1000; c++) {
        const cp = `${hex(`chan ${c}`)}:0`;
        chans.push(cp);
        insertChan.run(cp);
        const closeTxid = hex(`close ${c}`);
        for (let k = 0; k < 10; k++) {
          const outgoing = k % 2 === 0;
          const outpoint = `${closeTxid}:${k}`;
          const output = {
            outpoint,
            amountSat: '50000',
            scriptPubKey: `0020${hex(`spk ${c} ${k}`)}`,
            witnessScript: hex(`ws ${c} ${k}`, 40),
            key: { family: 2, index: c, tweakPoint: `02${hex(`point ${c}`)}` },
            csvDelay: 1,
            htlc: { htlcId: k, direction: outgoing ? 'outgoing' : 'incoming', amountMsat: '50000000', paymentHash: hex(`hash ${c} ${k}`), cltvExpiry: height + 200 + k, dust: false },
          };
          const state = { v: 1, closeType: 'remote', closeTxid, closeHeight: height - 1, output, deadline: null, stage: 'launched' };
          insertRow.run(cp, outpoint, outgoing ? RESOLVER_KIND.HtlcOutgoingContest : RESOLVER_KIND.HtlcIncomingContest, JSON.stringify(state));
        }
      }
    })();
    const runner = new ResolverRunner({
      db,
      sweeper: { offer: () => undefined, cancel: () => undefined, bump: () => undefined, pending: () => [], unacked: () => [], ack: () => undefined, onResult: () => undefined },
      keyring: ring,
      signer,
      broadcaster: { publish: async (tx) => ({ kind: 'accepted', txid: tx.getId() }) },
      watches: { watchSpend: () => noWatch },
      fees: { feeRatePerKw: async () => 1000n },
      height,
    });
    runner.attach({ resolverFinished: async () => undefined, addPreimage: async () => ({ paymentHash: '', channels: [] }) });
    for (const cp of chans) runner.launch(cp);
    await runner.idle();
    if (runner.size !== 10_000) throw new Error(`bench setup: ${runner.size} resolvers live`);
    const times: number[] = [];
    for (let k = 1; k <= 60; k++) {
      const t0 = process.hrtime.bigint();
      await runner.onBlockConnected(height + k);
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    if (runner.size !== 10_000) throw new Error('bench: a resolver moved');
    await runner.stop();
    db.close();
    const tail = times.slice(10).sort((a, b) => a - b);
    return { ms: tail[Math.floor(tail.length / 2)] as number, resolvers: 10_000 };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function runResolverBenches(): Promise<void> {
  const b = await blockMs10k();
  emit({ bench: 'resolver_block_ms_10k', value: Number(b.ms.toFixed(3)), unit: 'ms', goal: 5, resolvers: b.resolvers });
}

if (import.meta.url === `file://${process.argv[1]}`) await runResolverBenches();
