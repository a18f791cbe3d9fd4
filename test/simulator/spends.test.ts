/**
 * Every spend path of regtest/spends.ts, for both formats and both holders, through bcoin's interpreter: the
 * spend verifies (every input), its timelock data matches the transaction and what BOLT #3 requires, the
 * timelocked field one step early fails, and every fault variant fails.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Transaction } from 'bitcoinjs-lib';
import { SIGHASH_ALL, SIGHASH_SINGLE_ANYONECANPAY } from '../../src/keys/sighash.js';
import { decodeSig } from '../../src/keys/signature.js';
import type { CommitmentFormat } from '../../src/ln/commitment.js';
import { htlcSuccessFee, htlcTimeoutFee } from '../../src/ln/weights.js';
import { fromHex, toHex } from '../../src/util/bytes.js';
import { CourtError } from '../../src/util/errors.js';
import type { PartyName } from '../../regtest/sim-keys.js';
import type { ChannelSimulator } from '../../regtest/simulator.js';
import {
  htlcSuccessTx,
  htlcTimeoutTx,
  spendPaths,
  spendTimeoutOutputDelayed,
  spendToLocalRevoked,
  spendToLocalDelayed,
  type Fault,
  type Spend,
  type SpendOptions,
  type SpendPath,
  type SpendTarget,
  type Timelock,
} from '../../regtest/spends.js';
import { execInput, type ExecResult } from '../helpers/script-exec.js';
import { DEST, FEE_KEY, fakeUtxo, openChannel } from './fixture.js';

const isCode = (code: string) => (e: unknown) => e instanceof CourtError && e.code === code;
const X = { amountMsat: 20_000_000n, cltv: 600_100 };
const Y = { amountMsat: 30_000_000n, cltv: 600_200 };
const FEE_SAT = 2_000n;
const FEE_INPUT = fakeUtxo('fee input', 50_000n, FEE_KEY);

/** alice offered X to bob, bob offered Y to alice; commitment 1 (revoked) and 2 (latest) both carry them. */
function channel(format: CommitmentFormat): ChannelSimulator {
  const sim = openChannel(format);
  sim.addHtlc('alice', X.amountMsat, X.cltv);
  sim.addHtlc('bob', Y.amountMsat, Y.cltv);
  sim.commit();
  sim.commit();
  return sim;
}

function verifyAll(s: Spend): ExecResult[] {
  return s.prevouts.map((p, i) => execInput(s.tx, i, p));
}

/** Needs a fee input: 330-sat anchors, and zero-fee second-level transactions (so a node would relay them). */
function needsFeeInput(path: SpendPath): boolean {
  return path.outputKind.endsWith('_anchor') || (path.format === 'anchors' && path.name.endsWith('_tx'));
}

function optionsFor(path: SpendPath, extra: Partial<SpendOptions> = {}): SpendOptions {
  return { destination: DEST, feeSat: FEE_SAT, ...(needsFeeInput(path) ? { feeInput: FEE_INPUT } : {}), ...extra };
}

/** The timelock each path must carry, from BOLT #3 (independent of spends.ts). */
function expectedTimelock(path: SpendPath, sim: ChannelSimulator, holder: PartyName, commitTxid: string, parent: Transaction | undefined, cltvOf: (kind: string) => number): Timelock {
  const anchors = path.format === 'anchors';
  const one = anchors ? { csv: { blocks: 1, txid: commitTxid } } : {};
  const delay = sim.toSelfDelay[holder];
  switch (path.name) {
    case 'to_local.delayed':
      return { csv: { blocks: delay, txid: commitTxid } };
    case 'timeout_tx_output.delayed':
    case 'success_tx_output.delayed':
      return { csv: { blocks: delay, txid: (parent as Transaction).getId() } };
    case 'local_anchor.anyone':
    case 'remote_anchor.anyone':
      return { csv: { blocks: 16, txid: commitTxid } };
    case 'to_remote':
    case 'received_htlc.success_tx':
    case 'offered_htlc.remote_preimage':
      return one;
    case 'offered_htlc.timeout_tx':
      return { ...one, cltv: cltvOf('offered_htlc') };
    case 'received_htlc.remote_timeout':
      return { ...one, cltv: cltvOf('received_htlc') };
    default:
      return {};
  }
}

const tally = new Map<CommitmentFormat, Set<string>>();
let faultsRejected = 0;
let earlyRejected = 0;

for (const format of ['static_remotekey', 'anchors'] as const) {
  const anchors = format === 'anchors';
  const paths = spendPaths(format);
  tally.set(format, new Set());

  describe(`${format}: every spend path`, () => {
    const sim = channel(format);

    for (const holder of ['alice', 'bob'] as const) {
      for (const path of paths) {
        it(`${path.name} (${holder}'s commitment, by the ${path.spender})`, () => {
          const number = path.needsRevoked ? 1 : 2;
          const c = sim.commitment(holder, number);
          assert.equal(c.revoked, path.needsRevoked);
          const base: SpendTarget = { sim, holder, number };
          let parentTx: Transaction | undefined;
          if (path.spends !== 'commitment') {
            const parentPath = paths.find((p) => p.name === path.spends) as SpendPath;
            const parent = parentPath.build(base, optionsFor(parentPath));
            assert.ok(verifyAll(parent).every((r) => r.ok), 'the parent second-level tx verifies');
            parentTx = parent.tx;
          }
          const target: SpendTarget = { ...base, parentTx };
          const opts = optionsFor(path);
          const spend = path.build(target, opts);

          // It verifies, every input.
          assert.equal(spend.path, path.name);
          assert.equal(spend.tx.version, 2);
          for (const r of verifyAll(spend)) assert.deepEqual(r, { ok: true });
          tally.get(format)?.add(path.name);

          // What it spends.
          const spent = spend.prevouts[0];
          assert.ok(spent);
          const out = c.commitment.outputs.find((o) => o.kind === path.outputKind);
          assert.ok(out);
          if (path.spends === 'commitment') {
            assert.equal(spent.txid, c.txid);
            assert.equal(spent.vout, out.index);
          } else {
            assert.equal(spent.txid, parentTx?.getId());
            assert.equal(spent.vout, 0);
          }

          // Fees and outputs.
          const inSum = spend.prevouts.reduce((s, p) => s + p.value, 0n);
          const outSum = spend.tx.outs.reduce((s, o) => s + o.value, 0n);
          assert.equal(spend.feeSat, inSum - outSum);
          if (path.name.endsWith('_tx')) {
            const htlcSat = out.amountSat;
            const own = path.name === 'offered_htlc.timeout_tx' ? htlcTimeoutFee(format, 2_500) : htlcSuccessFee(format, 2_500);
            assert.equal(spend.tx.outs[0]?.value, htlcSat - own, 'second-level output as pre-signed');
            assert.equal(spend.feeSat, anchors ? FEE_SAT : own);
          } else {
            assert.equal(spend.feeSat, FEE_SAT);
            assert.equal(spend.tx.outs.length, 1);
            assert.deepEqual(spend.tx.outs[0]?.script, DEST);
          }

          // Timelock data: what BOLT #3 requires, and what the transaction carries.
          const cltvOf = (kind: string): number => {
            const o = c.commitment.outputs.find((x) => x.kind === kind);
            return o?.cltvExpiry as number;
          };
          const want = expectedTimelock(path, sim, holder, c.txid, parentTx, cltvOf);
          assert.deepEqual(spend.timelock, want);
          const seq = spend.tx.ins[0]?.sequence as number;
          if (want.csv !== undefined) assert.equal(seq, want.csv.blocks);
          else assert.ok(seq === 0 || (seq & 0x80000000) !== 0, `no relative lock (nSequence ${seq.toString(16)})`);
          if (want.cltv !== undefined) {
            assert.equal(spend.tx.locktime, want.cltv);
            assert.notEqual(seq, 0xffffffff, 'nLockTime enforced');
          } else {
            assert.equal(spend.tx.locktime, 0);
          }

          // One step early fails: single-signature paths at the script's CSV/CLTV, second-level transactions at
          // the counterparty's signature (which committed to the field).
          const secondLevel = path.name.endsWith('_tx');
          const earlyCode = secondLevel ? 'NULLFAIL' : 'UNSATISFIED_LOCKTIME';
          if (want.csv !== undefined) {
            const early = path.build(target, { ...opts, override: { sequence: want.csv.blocks - 1 } });
            const r = execInput(early.tx, 0, early.prevouts[0] as Spend['prevouts'][0]);
            assert.equal(r.ok, false, 'nSequence one lower');
            if (!r.ok) assert.equal(r.code, earlyCode, r.message);
            earlyRejected++;
          }
          if (want.cltv !== undefined) {
            const early = path.build(target, { ...opts, override: { locktime: want.cltv - 1 } });
            const r = execInput(early.tx, 0, early.prevouts[0] as Spend['prevouts'][0]);
            assert.equal(r.ok, false, 'nLockTime one lower');
            if (!r.ok) assert.equal(r.code, earlyCode, r.message);
            earlyRejected++;
          }

          // Every fault fails; faults a path does not have are refused.
          for (const fault of path.faults) {
            const bad = path.build(target, { ...opts, fault });
            const r = execInput(bad.tx, 0, bad.prevouts[0] as Spend['prevouts'][0]);
            assert.equal(r.ok, false, `fault ${fault}`);
            if (!r.ok) assert.equal(r.code, fault === 'wrong_preimage' ? 'EQUALVERIFY' : 'NULLFAIL', r.message);
            faultsRejected++;
          }
          for (const fault of ['wrong_key', 'wrong_remote_key', 'wrong_preimage'] as Fault[]) {
            if (!path.faults.includes(fault)) assert.throws(() => path.build(target, { ...opts, fault }), isCode('COURT_E_SIMULATOR'));
          }
        });
      }
    }

    it('second-level transactions carry the very HTLC signatures the snapshot hands courtd', () => {
      for (const holder of ['alice', 'bob'] as const) {
        const snap = sim.snapshot(holder);
        const c = sim.commitment(holder, 2);
        c.htlcTxs.forEach((h, i) => {
          const build = h.kind === 'timeout' ? htlcTimeoutTx : htlcSuccessTx;
          const s = build({ sim, holder, number: 2, outputIndex: h.output.index }, { destination: DEST, feeSat: FEE_SAT, ...(anchors ? { feeInput: FEE_INPUT } : {}) });
          const remote = decodeSig(s.tx.ins[0]?.witness[1] as Uint8Array);
          assert.equal(remote.hashType, anchors ? SIGHASH_SINGLE_ANYONECANPAY : SIGHASH_ALL);
          assert.equal(toHex(remote.compact), snap.localCommitment.remoteHtlcSignatures[i]);
        });
      }
    });

    if (anchors) {
      it('zero-fee second-level transactions verify without a fee input, and pay the fee from one when given', () => {
        const t: SpendTarget = { sim, holder: 'alice', number: 2 };
        const bare = htlcTimeoutTx(t, { destination: DEST, feeSat: FEE_SAT });
        assert.equal(bare.feeSat, 0n);
        assert.equal(bare.tx.ins.length, 1);
        assert.ok(verifyAll(bare).every((r) => r.ok));
        const funded = htlcTimeoutTx(t, { destination: DEST, feeSat: 1_234n, feeInput: FEE_INPUT });
        assert.equal(funded.tx.ins.length, 2);
        assert.deepEqual(funded.tx.outs[1]?.script, DEST);
        assert.equal(funded.tx.outs[1]?.value, FEE_INPUT.amountSat - 1_234n);
        assert.equal(funded.feeSat, 1_234n);
        assert.deepEqual(funded.tx.outs[0], bare.tx.outs[0]);
        assert.notEqual(funded.tx.getId(), bare.tx.getId());
        // The delayed spend follows the funded parent, not the bare one.
        const child = spendTimeoutOutputDelayed({ ...t, parentTx: funded.tx }, { destination: DEST, feeSat: FEE_SAT });
        assert.equal(child.timelock.csv?.txid, funded.tx.getId());
        assert.ok(verifyAll(child).every((r) => r.ok));
      });
    } else {
      it('refuses a fee input on static_remotekey second-level transactions (SIGHASH_ALL)', () => {
        assert.throws(
          () => htlcTimeoutTx({ sim, holder: 'alice', number: 2 }, { destination: DEST, feeSat: FEE_SAT, feeInput: FEE_INPUT }),
          isCode('COURT_E_SIMULATOR'),
        );
      });
    }

    it('refuses what the channel state does not allow', () => {
      const latest = { sim, holder: 'alice' as const, number: 2 };
      assert.throws(() => spendToLocalRevoked(latest, { destination: DEST, feeSat: FEE_SAT }), isCode('COURT_E_SIMULATOR'), 'not revoked');
      assert.throws(() => spendToLocalDelayed(latest, { destination: DEST, feeSat: 10_000_000n }), isCode('COURT_E_SIMULATOR'), 'fee above value');
      assert.throws(() => spendToLocalDelayed({ ...latest, outputIndex: 99 }, { destination: DEST, feeSat: FEE_SAT }), isCode('COURT_E_SIMULATOR'));
      const wrongParent = spendToLocalDelayed(latest, { destination: DEST, feeSat: FEE_SAT }).tx;
      assert.throws(() => spendTimeoutOutputDelayed({ ...latest, parentTx: wrongParent }, { destination: DEST, feeSat: FEE_SAT }), isCode('COURT_E_SIMULATOR'));
      const otherFormat = spendPaths(anchors ? 'static_remotekey' : 'anchors')[0] as SpendPath;
      assert.throws(() => otherFormat.build(latest, { destination: DEST, feeSat: FEE_SAT }), isCode('COURT_E_SIMULATOR'));
      // Success paths need the preimage: a forwarded HTLC whose receiver does not know it yet.
      const pre = fromHex('11'.repeat(32));
      const sim2 = openChannel(format);
      sim2.addHtlc('bob', Y.amountMsat, Y.cltv, pre, { receiverKnowsPreimage: false });
      sim2.commit();
      const t2 = { sim: sim2, holder: 'bob' as const, number: 1 };
      const direct = spendPaths(format).find((p) => p.name === 'offered_htlc.remote_preimage') as SpendPath;
      assert.throws(() => direct.build(t2, { destination: DEST, feeSat: FEE_SAT }), isCode('COURT_E_SIMULATOR'));
      assert.throws(() => htlcSuccessTx({ ...t2, holder: 'alice' }, { destination: DEST, feeSat: FEE_SAT }), isCode('COURT_E_SIMULATOR'));
      assert.ok(verifyAll(direct.build(t2, { destination: DEST, feeSat: FEE_SAT, preimage: pre })).every((r) => r.ok));
      sim2.learnPreimage('alice', pre);
      assert.ok(verifyAll(direct.build(t2, { destination: DEST, feeSat: FEE_SAT })).every((r) => r.ok));
      assert.ok(verifyAll(htlcSuccessTx({ ...t2, holder: 'alice' }, { destination: DEST, feeSat: FEE_SAT })).every((r) => r.ok));
    });
  });
}

describe('catalogue coverage', () => {
  it('every catalogued path of both formats verified, with its early and fault variants rejected', () => {
    for (const format of ['static_remotekey', 'anchors'] as const) {
      const names = spendPaths(format).map((p) => p.name).sort();
      assert.deepEqual([...(tally.get(format) ?? [])].sort(), names, format);
      assert.equal(new Set(names).size, names.length, 'path names are unique');
    }
    // The anchors catalogue is the static one plus the four anchor paths, with to_remote behind a CSV.
    const s = spendPaths('static_remotekey').map((p) => p.name);
    const a = spendPaths('anchors').map((p) => p.name);
    assert.ok(s.every((n) => a.includes(n)));
    assert.deepEqual(a.filter((n) => !s.includes(n)).sort(), ['local_anchor.anyone', 'local_anchor.key', 'remote_anchor.anyone', 'remote_anchor.key']);
    const expectedFaults = (['static_remotekey', 'anchors'] as const).reduce((n, f) => n + 2 * spendPaths(f).reduce((m, p) => m + p.faults.length, 0), 0);
    assert.equal(faultsRejected, expectedFaults);
    assert.ok(earlyRejected > 0);
  });
});
