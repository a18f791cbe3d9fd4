/**
 * The breach resolver kind (src/resolvers/breach.ts), step by step over a real revoked commitment of the simulator
 * (both formats): one resolver per output (the arbitrator's records), offers by revocation, our sweep final at 6
 * confirmations (claimed, justiceConfirmed once by key), the cheater's second-level transaction followed to its
 * output (firstStage + claimed), that transaction reorged out (back to the commitment output), the split after
 * `splitAfterBlocks`, an output the cheater got (unclaimed, no event), the sweeper giving up (offered again), and
 * no secret anywhere in a value or an effect.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Transaction } from 'bitcoinjs-lib';
import { SIM_COIN_TYPE } from '../../regtest/sim-keys.js';
import type { ChannelSimulator } from '../../regtest/simulator.js';
import { resolverRecords } from '../../src/arbitrator/channel/records.js';
import { closeResolutions } from '../../src/arbitrator/resolutions.js';
import { checkSnapshot, classifierView, ourBasepointsFrom, parseSnapshot } from '../../src/arbitrator/snapshot.js';
import { KeyRing } from '../../src/keys/keyring.js';
import type { CommitmentFormat } from '../../src/ln/commitment.js';
import { breach, type Breach } from '../../src/resolvers/breach.js';
import { DEFAULT_JUSTICE_CONFIG, JUSTICE_MIN_LEFT_SAT, spendInfoOf } from '../../src/resolvers/justice.js';
import { DEFAULT_BUDGETS, type InitRecord, type ResolverEffect, type ResolverEnv, type ResolverEvent, type StepResult } from '../../src/resolvers/types.js';
import { toHex } from '../../src/util/bytes.js';
import { classifyClose } from '../../src/watcher/classify.js';
import { openChannel } from '../simulator/fixture.js';

const CLOSE_HEIGHT = 700;

interface Setup {
  readonly sim: ChannelSimulator;
  readonly n: number;
  readonly tx: Transaction;
  readonly records: InitRecord[];
  readonly secret: string;
}

function setup(format: CommitmentFormat): Setup {
  const sim = openChannel(format);
  sim.addHtlc('alice', 50_000_000n, 900);
  sim.addHtlc('bob', 30_000_000n, 800);
  sim.commit();
  const n = sim.currentNumber;
  sim.commit();
  const ring = KeyRing.fromSeed(sim.parties.alice.seed, SIM_COIN_TYPE);
  const s = parseSnapshot(JSON.parse(JSON.stringify(sim.snapshot('alice'))));
  const c = checkSnapshot(s, ourBasepointsFrom(s, (l) => ring.publicKey(l)));
  const tx = sim.signedCommitment('bob', n);
  const cls = classifyClose(classifierView(c, sim.receivedSecrets('alice')), tx);
  const res = closeResolutions(c, cls, tx);
  const { records } = resolverRecords({ type: 'breach', txid: tx.getId(), height: CLOSE_HEIGHT, commitmentNumber: n }, res, []);
  const init = records
    .filter((r) => r.kind === 'breach')
    .map((r) => {
      const st = r.state as unknown as { closeType: string; closeTxid: string; closeHeight: number; output: InitRecord['output']; deadline: number | null };
      return { chanPoint: sim.chanPoint, outpoint: r.outpoint, format, closeType: st.closeType, closeTxid: st.closeTxid, closeHeight: st.closeHeight, output: st.output, deadline: st.deadline };
    });
  return { sim, n, tx, records: init, secret: toHex(sim.revealedSecret('bob', n)) };
}

const env = (height: number): ResolverEnv => ({ height, budgets: DEFAULT_BUDGETS, feeRatePerKw: 1000n });

function run(r: Breach, e: ResolverEvent, height = CLOSE_HEIGHT + 1): { r: Breach; out: StepResult } {
  const out = breach.step(r, e, env(height));
  return { r: out.next as Breach, out };
}

const kinds = (effects: readonly ResolverEffect[]): string[] => effects.map((e) => e.kind);
const offers = (effects: readonly ResolverEffect[]) => effects.flatMap((e) => (e.kind === 'OfferSweep' ? [e.input as unknown as Record<string, unknown> & { witness: { kind: string; key: unknown } }] : []));

function spendEvent(outpoint: string, tx: Transaction, height: number, ours: boolean): ResolverEvent {
  const info = spendInfoOf(tx, outpoint);
  assert.ok(info !== undefined, `${tx.getId()} spends ${outpoint}`);
  return { kind: 'Spend', outpoint, txid: info.txid, height, inputIndex: info.inputIndex, witness: [], outputs: info.outputs, ours };
}

/** A stand-in for our sweep of `outpoint` (only its id and input matter to the resolver). */
function ourSweep(sim: ChannelSimulator, outpoint: string): Transaction {
  const t = sim.signedCommitment('alice', sim.currentNumber).clone();
  const [txid, vout] = outpoint.split(':') as [string, string];
  t.ins[0] = { ...t.ins[0], hash: Buffer.from(txid, 'hex').reverse(), index: Number(vout) } as (typeof t.ins)[number];
  return t;
}

for (const format of ['static_remotekey', 'anchors'] as CommitmentFormat[]) {
  describe(`breach resolver (${format})`, () => {
    it('one resolver per output; launch offers each by revocation, pinnable, due before the cheater, with no secret', () => {
      const s = setup(format);
      assert.equal(s.records.length, 3, 'to_local and two HTLC outputs');
      for (const rec of s.records) {
        const r0 = breach.init(rec);
        assert.equal(r0.outpoint, rec.outpoint);
        const { r, out } = run(r0, { kind: 'Launch', height: CLOSE_HEIGHT + 1 });
        assert.deepEqual(kinds(out.effects), ['WatchSpend', 'OfferSweep']);
        const [offer] = offers(out.effects);
        assert.ok(offer !== undefined);
        assert.equal(offer.outpoint, rec.outpoint);
        assert.equal(offer.pinnable, true);
        assert.equal(offer.witness.kind, r.origin.kind === 'to_local' ? 'toLocalRevoked' : 'htlcRevoked');
        assert.deepEqual(offer.witness.key, { family: 1, index: 0, revokedNumber: s.n });
        assert.equal(offer.budgetSat, (BigInt(r.origin.valueSat) - JUSTICE_MIN_LEFT_SAT).toString(), 'budget: the whole value by default, less dust');
        assert.equal(offer.deadlineHeight, r.origin.deadlineHeight);
        assert.ok((offer.deadlineHeight as number) <= CLOSE_HEIGHT + s.sim.toSelfDelay.bob - 1);
        assert.doesNotMatch(JSON.stringify([r, out.effects]), new RegExp(s.secret), 'no secret in a value or an effect');
        // A restart re-emits the same effects (idempotent upserts).
        assert.deepEqual(run(r, { kind: 'Launch', height: CLOSE_HEIGHT + 5 }).out.effects, out.effects);
        assert.equal(breach.view(r, CLOSE_HEIGHT + 1).limboSat, BigInt(r.origin.valueSat));
      }
    });

    it('our sweep is final at 6 confirmations: claimed, justiceConfirmed by key, finished; a reorg before that offers again', () => {
      const s = setup(format);
      const rec = s.records.find((x) => (x.output as { kind: string }).kind === 'to_local') as InitRecord;
      let { r } = run(breach.init(rec), { kind: 'Launch', height: CLOSE_HEIGHT + 1 });
      const sweep = ourSweep(s.sim, rec.outpoint);
      ({ r } = run(r, spendEvent(rec.outpoint, sweep, CLOSE_HEIGHT + 2, true), CLOSE_HEIGHT + 2));
      assert.equal(r.stage, 'confirming');
      assert.equal(breach.wake(r), CLOSE_HEIGHT + 7);
      // Disconnected before finality: offered again.
      const undone = run(r, { kind: 'SpendUndone', outpoint: rec.outpoint, txid: sweep.getId(), height: CLOSE_HEIGHT + 2 }, CLOSE_HEIGHT + 1);
      assert.equal(undone.r.stage, 'offered');
      assert.ok(kinds(undone.out.effects).includes('OfferSweep'));
      ({ r } = run(r, { kind: 'SweepResult', outpoint: rec.outpoint, result: 'swept', txid: sweep.getId(), feeSat: '1234' }));
      assert.equal(run(r, { kind: 'Block', height: CLOSE_HEIGHT + 6 }, CLOSE_HEIGHT + 6).out.effects.length, 0);
      const end = run(r, { kind: 'Block', height: CLOSE_HEIGHT + 7 }, CLOSE_HEIGHT + 7);
      assert.equal(end.out.finished, true);
      assert.deepEqual(kinds(end.out.effects), ['Report', 'NotifyNode', 'Unwatch', 'ResolverFinished']);
      const report = end.out.effects[0] as Extract<ResolverEffect, { kind: 'Report' }>;
      assert.deepEqual(report.report, { outpoint: rec.outpoint, stage: 1, type: 'breach', outcome: 'claimed', amountSat: end.r.origin.valueSat, txid: sweep.getId(), height: CLOSE_HEIGHT + 2 });
      const note = end.out.effects[1] as Extract<ResolverEffect, { kind: 'NotifyNode' }>;
      assert.equal(note.key, `justice:${rec.outpoint}`);
      assert.equal(note.event, 'justiceConfirmed');
      assert.equal(breach.view(end.r, CLOSE_HEIGHT + 7).recoveredSat, BigInt(end.r.origin.valueSat));
      assert.equal(breach.wake(end.r), undefined);
      assert.deepEqual(run(end.r, { kind: 'Launch', height: CLOSE_HEIGHT + 9 }).out.effects, [], 'done stays done');
    });

    it("follows the cheater's second-level transaction to its output, before their CSV; firstStage + claimed", () => {
      const s = setup(format);
      for (const rec of s.records.filter((x) => (x.output as { kind: string }).kind !== 'to_local')) {
        let { r } = run(breach.init(rec), { kind: 'Launch', height: CLOSE_HEIGHT + 1 });
        const second = s.sim.signedHtlcTx('bob', s.n, Number(rec.outpoint.split(':')[1])).tx;
        const h = CLOSE_HEIGHT + 3;
        const moved = run(r, spendEvent(rec.outpoint, second, h, false), h);
        r = moved.r;
        assert.equal(r.stage, 'secondLevel');
        assert.equal(r.target.outpoint, `${second.getId()}:0`);
        assert.equal(r.target.deadlineHeight, h + s.sim.toSelfDelay.bob - 1);
        assert.deepEqual(kinds(moved.out.effects), ['CancelSweep', 'WatchSpend', 'WatchSpend', 'OfferSweep']);
        const [offer] = offers(moved.out.effects);
        assert.equal(offer?.outpoint, r.target.outpoint);
        assert.equal(offer?.witness.kind, 'toLocalRevoked');
        assert.equal(offer?.valueSat, (second.outs[0]?.value as bigint).toString());
        // The same spend again (a redelivery) changes nothing.
        assert.deepEqual(run(r, spendEvent(rec.outpoint, second, h, false), h).out.effects, []);

        // Their second-level transaction reorged out: back to the commitment output.
        const back = run(r, { kind: 'SpendUndone', outpoint: rec.outpoint, txid: second.getId(), height: h }, h - 1);
        assert.equal(back.r.stage, 'offered');
        assert.equal(back.r.target.outpoint, rec.outpoint);
        assert.deepEqual(kinds(back.out.effects), ['CancelSweep', 'Unwatch', 'WatchSpend', 'OfferSweep']);

        const sweep = ourSweep(s.sim, r.target.outpoint);
        ({ r } = run(r, spendEvent(r.target.outpoint, sweep, h + 1, true), h + 1));
        const end = run(r, { kind: 'Block', height: h + 6 }, h + 6);
        assert.equal(end.out.finished, true);
        const reports = end.out.effects.flatMap((e) => (e.kind === 'Report' ? [e.report] : []));
        assert.deepEqual(
          reports.map((x) => [x.outpoint, x.stage, x.outcome, x.txid]),
          [
            [rec.outpoint, 1, 'firstStage', second.getId()],
            [`${second.getId()}:0`, 2, 'claimed', sweep.getId()],
          ],
        );
        assert.deepEqual(
          end.out.effects.filter((e) => e.kind === 'Unwatch').map((e) => (e as { outpoint: string }).outpoint),
          [rec.outpoint, `${second.getId()}:0`],
        );
      }
    });

    it('split: an output not spent splitAfterBlocks after its offer is offered again alone, once', () => {
      const s = setup(format);
      const rec = s.records[0] as InitRecord;
      let { r } = run(breach.init(rec), { kind: 'Launch', height: CLOSE_HEIGHT + 1 });
      const at = CLOSE_HEIGHT + 1 + DEFAULT_JUSTICE_CONFIG.splitAfterBlocks;
      assert.equal(breach.wake(r), at);
      assert.deepEqual(run(r, { kind: 'Block', height: at - 1 }, at - 1).out.effects, []);
      const split = run(r, { kind: 'Block', height: at }, at);
      r = split.r;
      assert.equal(r.alone, true);
      assert.equal(offers(split.out.effects)[0]?.alone, true);
      assert.equal(breach.wake(r), undefined);
      assert.deepEqual(run(r, { kind: 'Block', height: at + 1 }, at + 1).out.effects, []);
      // A restart keeps offering it alone.
      assert.equal(offers(run(r, { kind: 'Launch', height: at + 2 }).out.effects)[0]?.alone, true);
      // A daemon policy in the env wins over the value's.
      const r2 = run(breach.init(rec), { kind: 'Launch', height: CLOSE_HEIGHT + 1 }).r;
      const e2 = { ...env(CLOSE_HEIGHT + 3), justice: { budgetBps: 5_000, splitAfterBlocks: 2 } } as ResolverEnv;
      const out2 = breach.step(r2, { kind: 'Block', height: CLOSE_HEIGHT + 3 }, e2);
      assert.equal(offers(out2.effects)[0]?.budgetSat, (BigInt(r2.origin.valueSat) / 2n).toString());
    });

    it('an output the cheater spent (not by a second-level transaction) is unclaimed, with no justice event', () => {
      const s = setup(format);
      const rec = s.records.find((x) => (x.output as { kind: string }).kind === 'to_local') as InitRecord;
      let { r } = run(breach.init(rec), { kind: 'Launch', height: CLOSE_HEIGHT + 1 });
      const theirs = ourSweep(s.sim, rec.outpoint);
      ({ r } = run(r, spendEvent(rec.outpoint, theirs, CLOSE_HEIGHT + 40, false), CLOSE_HEIGHT + 40));
      assert.equal(r.stage, 'confirming');
      const end = run(r, { kind: 'Block', height: CLOSE_HEIGHT + 45 }, CLOSE_HEIGHT + 45);
      assert.deepEqual(kinds(end.out.effects), ['Report', 'Unwatch', 'ResolverFinished']);
      assert.equal((end.out.effects[0] as Extract<ResolverEffect, { kind: 'Report' }>).report.outcome, 'unclaimed');
    });

    it('the sweeper giving up never ends justice: the input is offered again', () => {
      const s = setup(format);
      const rec = s.records[1] as InitRecord;
      const { r } = run(breach.init(rec), { kind: 'Launch', height: CLOSE_HEIGHT + 1 });
      const out = run(r, { kind: 'SweepResult', outpoint: rec.outpoint, result: 'failed', reason: 'excluded' });
      assert.deepEqual(kinds(out.out.effects), ['OfferSweep']);
      assert.match(out.r.note as string, /offered again/);
      assert.equal(out.out.finished, undefined);
    });
  });
}
