/**
 * Justice inputs (src/resolvers/justice.ts), both formats: from a breach resolution, one sweeper input per output
 * of the revoked commitment (to_local and HTLCs both ways) whose witness, signed by the sweeper's own signing code
 * with the secret as double tweak, passes the script interpreter; deadlines before the cheater's paths open;
 * budget as the configured share; pinnable; the split flag. A second-level transaction of the cheater is followed:
 * its output becomes a toLocalRevoked target, due before their CSV, and spendable.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Transaction } from 'bitcoinjs-lib';
import { SIM_COIN_TYPE } from '../../regtest/sim-keys.js';
import type { ChannelSimulator } from '../../regtest/simulator.js';
import { closeResolutions } from '../../src/arbitrator/resolutions.js';
import { checkSnapshot, classifierView, ourBasepointsFrom, parseSnapshot } from '../../src/arbitrator/snapshot.js';
import type { BreachResolution } from '../../src/arbitrator/types.js';
import { KeyRing } from '../../src/keys/keyring.js';
import { LocalSigner } from '../../src/keys/signer.js';
import type { CommitmentFormat } from '../../src/ln/commitment.js';
import {
  checkJusticeConfig,
  DEFAULT_JUSTICE_CONFIG,
  JUSTICE_MIN_LEFT_SAT,
  justiceInputs,
  justiceTargets,
  revocationPubkeyOf,
  secondLevelTarget,
  spendInfoOf,
  type JusticeContext,
  type JusticeTarget,
  type SpendInfo,
} from '../../src/resolvers/justice.js';
import { signSweep } from '../../src/sweep/sign.js';
import { checkSpec } from '../../src/sweep/input.js';
import type { SweepInputSpec } from '../../src/sweep/types.js';
import { fromHex, reversed, toHex } from '../../src/util/bytes.js';
import { CourtError } from '../../src/util/errors.js';
import { classifyClose } from '../../src/watcher/classify.js';
import { deriveRevocationPubkey } from '../../src/keys/derive.js';
import { p2wsh } from '../../src/ln/scripts.js';
import { execInput } from '../helpers/script-exec.js';
import { DEST, openChannel } from '../simulator/fixture.js';

const OUT = { amountMsat: 50_000_000n, cltv: 500_100 }; // alice -> bob
const IN = { amountMsat: 30_000_000n, cltv: 500_200 }; // bob -> alice
const CLOSE_HEIGHT = 500_000;

interface Breach {
  readonly sim: ChannelSimulator;
  readonly n: number;
  readonly tx: Transaction;
  readonly breach: BreachResolution;
  readonly signer: LocalSigner;
  readonly ring: KeyRing;
  readonly ctx: JusticeContext;
}

/** alice's view of bob publishing his revoked commitment n (OUT and IN on it). */
function breachOf(format: CommitmentFormat, budgetBps = 10_000): Breach {
  const sim = openChannel(format);
  sim.addHtlc('alice', OUT.amountMsat, OUT.cltv);
  sim.addHtlc('bob', IN.amountMsat, IN.cltv);
  sim.commit();
  const n = sim.currentNumber;
  sim.commit();
  const ring = KeyRing.fromSeed(sim.parties.alice.seed, SIM_COIN_TYPE);
  const s = parseSnapshot(JSON.parse(JSON.stringify(sim.snapshot('alice'))));
  const c = checkSnapshot(s, ourBasepointsFrom(s, (l) => ring.publicKey(l)));
  const tx = sim.signedCommitment('bob', n);
  const cls = classifyClose(classifierView(c, sim.receivedSecrets('alice')), tx);
  assert.equal(cls.kind, 'breach');
  const breach = closeResolutions(c, cls, tx).breach as BreachResolution;
  const key = breach.outputs[0]?.key as { family: number; index: number };
  const ctx: JusticeContext = {
    chanPoint: sim.chanPoint,
    owner: 'resolver:breach-test',
    revocationBase: { family: key.family, index: key.index },
    perCommitmentSecret: toHex(sim.revealedSecret('bob', n)),
    toLocalScript: breach.secondLevelScript,
    config: checkJusticeConfig({ ...DEFAULT_JUSTICE_CONFIG, budgetBps }),
  };
  return { sim, n, tx, breach, signer: new LocalSigner(ring), ring, ctx };
}

/** One sweep of `inputs` to DEST, signed by the sweeper's code; every input checked by the interpreter. */
async function assertSpendable(b: Breach, inputs: readonly SweepInputSpec[]): Promise<void> {
  const tx = new Transaction();
  tx.version = 2;
  let sum = 0n;
  for (const s of inputs) {
    const [txid, vout] = s.outpoint.split(':') as [string, string];
    tx.addInput(reversed(fromHex(txid)), Number(vout), s.sequence ?? 0xfffffffd);
    sum += s.valueSat;
  }
  tx.addOutput(DEST, sum - 5_000n);
  await signSweep(tx, inputs, [], b.signer, undefined);
  inputs.forEach((s, i) => {
    const r = execInput(tx, i, { scriptPubKey: fromHex(s.scriptPubKey), value: s.valueSat });
    assert.deepEqual(r, { ok: true }, `input ${s.outpoint} (${s.witness.kind})`);
  });
}

for (const format of ['static_remotekey', 'anchors'] as CommitmentFormat[]) {
  describe(`justice inputs (${format})`, () => {
    it('one input per output of the revoked commitment, each spendable by revocation, due before the cheater can act', async () => {
      const b = breachOf(format);
      const targets = justiceTargets(b.breach, CLOSE_HEIGHT);
      assert.deepEqual(targets.map((t) => t.kind).sort(), ['offered_htlc', 'received_htlc', 'to_local']);
      const delay = b.breach.theirToSelfDelay;
      for (const t of targets) {
        if (t.kind === 'offered_htlc') assert.equal(t.deadlineHeight, Math.min(IN.cltv, CLOSE_HEIGHT + delay - 1), 'their HTLC-timeout opens at cltv + 1');
        else assert.equal(t.deadlineHeight, CLOSE_HEIGHT + delay - 1, `${t.kind}: before their CSV`);
      }
      // A CLTV below the CSV deadline wins.
      const early = justiceTargets(
        { ...b.breach, outputs: b.breach.outputs.map((o) => (o.htlc ? { ...o, htlc: { ...o.htlc, cltvExpiry: CLOSE_HEIGHT + 3 } } : o)) },
        CLOSE_HEIGHT,
      );
      assert.equal(early.find((t) => t.kind === 'offered_htlc')?.deadlineHeight, CLOSE_HEIGHT + 3);

      const inputs = justiceInputs(targets, b.ctx, false);
      for (const s of inputs) {
        checkSpec(s);
        assert.equal(s.pinnable, true);
        assert.equal(s.alone, undefined);
        assert.equal(s.budgetSat, s.valueSat - JUSTICE_MIN_LEFT_SAT, 'budget: the whole value by default, less what keeps the output above dust');
        assert.equal(s.witness.key.doubleTweak, b.ctx.perCommitmentSecret);
        assert.equal(s.witness.kind, s.outpoint === targets.find((t) => t.kind === 'to_local')?.outpoint ? 'toLocalRevoked' : 'htlcRevoked');
      }
      // The revocation pubkey read from the to_local script is the one BOLT #3 derives.
      const ours = b.ring.publicKey(b.ctx.revocationBase);
      assert.equal(revocationPubkeyOf(b.breach.secondLevelScript), toHex(deriveRevocationPubkey(ours, fromHex(b.breach.perCommitmentPoint))));
      await assertSpendable(b, inputs);
      // Split: the same inputs, each alone.
      assert.ok(justiceInputs(targets, b.ctx, true).every((s) => s.alone === true));
    });

    it('budget is the configured share of the value', () => {
      const b = breachOf(format, 4_000);
      for (const s of justiceInputs(justiceTargets(b.breach, CLOSE_HEIGHT), b.ctx, false)) assert.equal(s.budgetSat, (s.valueSat * 40n) / 100n);
      assert.throws(() => checkJusticeConfig({ budgetBps: 0, splitAfterBlocks: 4 }), (e: unknown) => e instanceof CourtError && e.code === 'COURT_E_INVALID_ARGUMENT');
      assert.throws(() => checkJusticeConfig({ budgetBps: 10_001, splitAfterBlocks: 4 }), (e: unknown) => e instanceof CourtError && e.code === 'COURT_E_INVALID_ARGUMENT');
      assert.throws(() => checkJusticeConfig({ budgetBps: 10_000, splitAfterBlocks: 0 }), (e: unknown) => e instanceof CourtError && e.code === 'COURT_E_INVALID_ARGUMENT');
    });

    it("the cheater's second-level transactions: their outputs become revocation targets due before their CSV", async () => {
      const b = breachOf(format);
      const targets = justiceTargets(b.breach, CLOSE_HEIGHT);
      const built = b.sim.commitment('bob', b.n);
      for (const t of targets.filter((x) => x.kind !== 'to_local')) {
        const vout = Number(t.outpoint.split(':')[1]);
        // bob holds the preimage of the HTLC alice offered (he received it): HTLC-success; his own: HTLC-timeout.
        const second = b.sim.signedHtlcTx('bob', b.n, vout).tx;
        const st = secondLevelTarget(b.breach, t, spendInfoOf(second, t.outpoint) as SpendInfo, CLOSE_HEIGHT + 2);
        assert.ok(st !== undefined, `second level of ${t.kind}`);
        assert.equal(st.kind, 'second_level');
        assert.equal(st.from, t.outpoint);
        assert.equal(st.outpoint, `${second.getId()}:0`);
        assert.equal(st.valueSat, (second.outs[0]?.value as bigint).toString());
        assert.equal(st.deadlineHeight, CLOSE_HEIGHT + 2 + b.breach.theirToSelfDelay - 1);
        assert.deepEqual(st.htlc, t.htlc);
        const [input] = justiceInputs([st], b.ctx, false);
        assert.equal(input?.witness.kind, 'toLocalRevoked');
        await assertSpendable(b, [input as SweepInputSpec]);
        // Our own justice sweep of the output is not a second-level transaction.
        const sweep = new Transaction();
        sweep.addInput(reversed(fromHex(built.txid)), vout, 0xfffffffd);
        sweep.addOutput(DEST, 1000n);
        assert.equal(secondLevelTarget(b.breach, t, spendInfoOf(sweep, t.outpoint) as SpendInfo, CLOSE_HEIGHT + 2), undefined);
      }
      const toLocal = targets.find((t) => t.kind === 'to_local') as JusticeTarget;
      const sweepAll = new Transaction();
      sweepAll.addInput(reversed(fromHex(built.txid)), Number(toLocal.outpoint.split(':')[1]), 0xfffffffd);
      sweepAll.addOutput(p2wsh(fromHex(b.breach.secondLevelScript)), 1000n); // even paying that script, to_local has no second stage
      assert.equal(secondLevelTarget(b.breach, toLocal, spendInfoOf(sweepAll, toLocal.outpoint) as SpendInfo, CLOSE_HEIGHT), undefined);
      assert.equal(spendInfoOf(sweepAll, `${built.txid}:99`), undefined);
    });
  });
}
