/**
 * Close resolutions over real simulator channels (both formats), from alice's view: for each kind of close the
 * resolutions list exactly the outputs that are ours (outpoints and amounts cross-checked against the commitment
 * src/ln built, or the closing transaction), and every listed output is spent using nothing but the resolution
 * and alice's keyring: the key is derived from the KeyFact by the LocalSigner, the witness comes from
 * src/ln/witness.ts, and bcoin's interpreter must accept the spend (CSV spends with nSequence = csvDelay, and
 * refused one block earlier).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Transaction } from 'bitcoinjs-lib';
import { closeResolutions, unmatchedBreachOutputs, type SecondLevelResolution } from '../../src/arbitrator/resolutions.js';
import { checkSnapshot, classifierView, ourBasepointsFrom, parseSnapshot, type CheckedSnapshot } from '../../src/arbitrator/snapshot.js';
import type { CloseResolutions, HtlcResolution, KeyFact, OutputResolution } from '../../src/arbitrator/types.js';
import { singleTweak } from '../../src/keys/derive.js';
import { KeyRing } from '../../src/keys/keyring.js';
import { p2wpkhScriptCode, SIGHASH_ALL } from '../../src/keys/sighash.js';
import { encodeSig } from '../../src/keys/signature.js';
import { LocalSigner, type KeyDescriptor } from '../../src/keys/signer.js';
import type { CommitmentFormat, CommitmentOutput } from '../../src/ln/commitment.js';
import { secondLevelScript } from '../../src/ln/htlc.js';
import { p2wsh } from '../../src/ln/scripts.js';
import { MAX_SHACHAIN_INDEX, type ShachainStore } from '../../src/ln/shachain.js';
import * as W from '../../src/ln/witness.js';
import { fromHex, hash160, reversed, toHex } from '../../src/util/bytes.js';
import { CourtError } from '../../src/util/errors.js';
import { classifyClose, type Classification } from '../../src/watcher/classify.js';
import { SIM_COIN_TYPE } from '../../regtest/sim-keys.js';
import type { ChannelSimulator } from '../../regtest/simulator.js';
import { execInput } from '../helpers/script-exec.js';
import { DEST, openChannel } from '../simulator/fixture.js';

const OUT = { amountMsat: 50_000_000n, cltv: 500_100 }; // alice -> bob
const IN = { amountMsat: 30_000_000n, cltv: 500_200 }; // bob -> alice (alice knows the preimage)
const DUST = { amountMsat: 500_000n, cltv: 500_300 }; // alice -> bob, trimmed everywhere
const GONE = { amountMsat: 25_000_000n, cltv: 500_400 }; // alice -> bob, on commitment 1 only (failed since)
const LATER = { amountMsat: 40_000_000n, cltv: 500_500 }; // bob -> alice, added after commitment 2

const RBF_SEQUENCE = 0xfffffffd;

/** Commitment 1: OUT, IN, DUST, GONE. Commitment 2 (current, 1 revoked): OUT, IN, DUST. */
function channel(format: CommitmentFormat): ChannelSimulator {
  const sim = openChannel(format);
  sim.addHtlc('alice', OUT.amountMsat, OUT.cltv);
  sim.addHtlc('bob', IN.amountMsat, IN.cltv);
  sim.addHtlc('alice', DUST.amountMsat, DUST.cltv);
  const gone = sim.addHtlc('alice', GONE.amountMsat, GONE.cltv);
  sim.commit();
  sim.failHtlc(gone);
  sim.commit();
  return sim;
}

interface Alice {
  readonly c: CheckedSnapshot;
  readonly revocations: ShachainStore;
  readonly signer: LocalSigner;
  readonly ring: KeyRing;
}

/** alice's courtd: her snapshot (over the wire), checked, her received revocations and her keyring. */
function alice(sim: ChannelSimulator): Alice {
  const ring = KeyRing.fromSeed(sim.parties.alice.seed, SIM_COIN_TYPE);
  const s = parseSnapshot(JSON.parse(JSON.stringify(sim.snapshot('alice'))));
  return { c: checkSnapshot(s, ourBasepointsFrom(s, (l) => ring.publicKey(l))), revocations: sim.receivedSecrets('alice'), signer: new LocalSigner(ring), ring };
}

function resolve(a: Alice, tx: Transaction): { cls: Classification; res: CloseResolutions } {
  const cls = classifyClose(classifierView(a.c, a.revocations), tx);
  return { cls, res: closeResolutions(a.c, cls, tx) };
}

// ---------------------------------------------------------------------------------------------------------------
// Spending from a resolution alone

/** The signer's descriptor for a KeyFact: locator, plus the single tweak or the revocation secret it names. */
function descriptor(a: Alice, k: KeyFact): KeyDescriptor {
  const locator = { family: k.family, index: k.index };
  if (k.tweakPoint !== undefined) return { locator, singleTweak: singleTweak(fromHex(k.tweakPoint), a.ring.publicKey(locator)) };
  if (k.revokedNumber !== undefined) return { locator, doubleTweak: a.revocations.lookup(MAX_SHACHAIN_INDEX - k.revokedNumber) };
  return { locator };
}

interface SpendOpts {
  readonly sequence: number;
  readonly locktime?: number;
}

/** A one-input sweep of `outpoint` to DEST (the fee is irrelevant to the interpreter). */
function sweepTx(outpoint: string, amountSat: bigint, o: SpendOpts): Transaction {
  const [txid, vout] = outpoint.split(':') as [string, string];
  const tx = new Transaction();
  tx.version = 2;
  tx.locktime = o.locktime ?? 0;
  tx.addInput(reversed(fromHex(txid)), Number(vout), o.sequence);
  tx.addOutput(DEST, amountSat / 2n);
  return tx;
}

/** Signs input 0 for `o`'s key: witness-ready (DER || SIGHASH_ALL). */
function sign(a: Alice, tx: Transaction, o: OutputResolution): Uint8Array {
  const key = descriptor(a, o.key);
  const scriptCode = o.witnessScript === undefined ? p2wpkhScriptCode(hash160(a.signer.publicKeySync(key))) : fromHex(o.witnessScript);
  return a.signer.signInputsSync([{ key, tx, inputIndex: 0, scriptCode, valueSat: BigInt(o.amountSat), sighashType: SIGHASH_ALL }])[0] as Uint8Array;
}

type Witness = (a: Alice, tx: Transaction, o: OutputResolution) => Uint8Array[];

/** Builds the sweep with `witness`, runs it through the interpreter; returns the verdict. */
function trySpend(a: Alice, o: OutputResolution, witness: Witness, opts: SpendOpts): { ok: boolean; code?: string } {
  const tx = sweepTx(o.outpoint, BigInt(o.amountSat), opts);
  tx.setWitness(0, witness(a, tx, o));
  const r = execInput(tx, 0, { scriptPubKey: fromHex(o.scriptPubKey), value: BigInt(o.amountSat) });
  return r.ok ? { ok: true } : { ok: false, code: r.code };
}

/** Spends `o` with nSequence = csvDelay (or a non-final sequence); when it has a CSV, one block less must fail. */
function assertSpendable(a: Alice, o: OutputResolution, witness: Witness, opts: Partial<SpendOpts> = {}): void {
  const sequence = o.csvDelay > 0 ? o.csvDelay : RBF_SEQUENCE;
  assert.deepEqual(trySpend(a, o, witness, { sequence, ...opts }), { ok: true }, `spend of ${o.outpoint}`);
  if (o.csvDelay > 0) {
    const early = trySpend(a, o, witness, { ...opts, sequence: o.csvDelay - 1 });
    assert.equal(early.ok, false, `spend of ${o.outpoint} one block before its CSV`);
  }
}

const ws = (o: OutputResolution): Uint8Array => fromHex(o.witnessScript as string);
const delayedWitness: Witness = (a, tx, o) => W.toLocalDelayedWitness(sign(a, tx, o), ws(o));
const anchorWitness: Witness = (a, tx, o) => W.anchorByKeyWitness(sign(a, tx, o), ws(o));
const toRemoteWitness: Witness = (a, tx, o) =>
  o.witnessScript === undefined
    ? W.toRemoteP2wpkhWitness(sign(a, tx, o), a.signer.publicKeySync(descriptor(a, o.key)))
    : W.toRemoteAnchorWitness(sign(a, tx, o), ws(o));
const revokedToLocalWitness: Witness = (a, tx, o) => W.toLocalRevokedWitness(sign(a, tx, o), ws(o));
const revokedHtlcWitness: Witness = (a, tx, o) => W.htlcRevokedWitness(sign(a, tx, o), a.signer.publicKeySync(descriptor(a, o.key)), ws(o));

// ---------------------------------------------------------------------------------------------------------------
// Cross-checks

/** Every listed output is the closing transaction's, with its value, and a P2WSH one pays to its witness script. */
function assertOutputsOfTx(res: CloseResolutions, tx: Transaction): void {
  const listed: OutputResolution[] = [
    ...(res.commitOutput === undefined ? [] : [res.commitOutput]),
    ...(res.anchor === undefined ? [] : [res.anchor]),
    ...res.htlcs,
    ...(res.breach?.outputs ?? []),
  ];
  for (const o of listed) {
    const [txid, vout] = o.outpoint.split(':') as [string, string];
    assert.equal(txid, tx.getId());
    const out = tx.outs[Number(vout)];
    assert.ok(out !== undefined, `${o.outpoint} exists`);
    assert.equal(toHex(out.script), o.scriptPubKey);
    assert.equal(out.value.toString(), o.amountSat);
    if (o.witnessScript !== undefined) assert.equal(toHex(p2wsh(fromHex(o.witnessScript))), o.scriptPubKey);
  }
  assert.equal(new Set(listed.map((o) => o.outpoint)).size, listed.length, 'no output listed twice');
  assert.deepEqual(JSON.parse(JSON.stringify(res)), res, 'resolutions are plain JSON');
}

function outpointOf(txid: string, o: CommitmentOutput): string {
  return `${txid}:${o.index}`;
}

function htlcOutputs(outputs: readonly CommitmentOutput[]): CommitmentOutput[] {
  return outputs.filter((o) => o.kind === 'offered_htlc' || o.kind === 'received_htlc');
}

const isCode = (code: string) => (e: unknown) => e instanceof CourtError && e.code === code;

// ---------------------------------------------------------------------------------------------------------------

for (const format of ['static_remotekey', 'anchors'] as const) {
  const anchors = format === 'anchors';

  describe(`close resolutions (${format})`, () => {
    it('our commitment: to_local after our CSV, our anchor, each HTLC through its pre-signed second-level tx', () => {
      const sim = channel(format);
      const a = alice(sim);
      const n = sim.latestNumber;
      const tx = sim.signedCommitment('alice', n);
      const { cls, res } = resolve(a, tx);
      assert.equal(cls.kind, 'local');
      assert.equal(res.closeType, 'local');
      assert.equal(res.commitmentNumber, n);
      assertOutputsOfTx(res, tx);

      const built = sim.commitment('alice', n);
      const toLocal = built.commitment.outputs.find((o) => o.kind === 'to_local') as CommitmentOutput;
      const commitOutput = res.commitOutput as OutputResolution;
      assert.equal(commitOutput.outpoint, outpointOf(built.txid, toLocal));
      assert.equal(commitOutput.amountSat, toLocal.amountSat.toString());
      assert.equal(commitOutput.csvDelay, sim.toSelfDelay.alice);
      assert.equal(commitOutput.key.tweakPoint, toHex(sim.parties.alice.perCommitmentPoint(n)));
      assertSpendable(a, commitOutput, delayedWitness);

      const localAnchor = built.commitment.outputs.find((o) => o.kind === 'local_anchor');
      assert.equal(res.anchor?.outpoint, localAnchor === undefined ? undefined : outpointOf(built.txid, localAnchor));
      assert.equal(res.anchor !== undefined, anchors);
      if (res.anchor !== undefined) assertSpendable(a, res.anchor, anchorWitness);

      // Every untrimmed HTLC, none of the dust one.
      const htlcOuts = htlcOutputs(built.commitment.outputs);
      assert.equal(htlcOuts.length, 2);
      assert.deepEqual(res.htlcs.map((h) => h.outpoint).sort(), htlcOuts.map((o) => outpointOf(built.txid, o)).sort());
      for (const h of res.htlcs) {
        const idx = Number(h.outpoint.split(':')[1]);
        const simHtlc = sim.htlcOfOutput('alice', n, idx);
        assert.equal(h.htlc.amountMsat, simHtlc.amountMsat.toString());
        assert.equal(h.htlc.paymentHash, toHex(simHtlc.paymentHash));
        assert.equal(h.htlc.direction, simHtlc.offerer === 'alice' ? 'outgoing' : 'incoming');
        assert.equal(h.htlc.dust, false);
        assert.equal(h.csvDelay, anchors ? 1 : 0);
        const second = h.secondLevel as SecondLevelResolution;
        assert.equal(second.kind, simHtlc.offerer === 'alice' ? 'timeout' : 'success');
        assert.equal(second.txHex, sim.htlcTx('alice', n, idx).tx.toHex());
        assert.equal(second.csvDelay, sim.toSelfDelay.alice);
        proveSecondLevel(sim, a, h, second);
      }
    });

    it("their current commitment: to_remote, our anchor, each HTLC claimed directly with their commitment's point", () => {
      const sim = channel(format);
      const a = alice(sim);
      const n = sim.currentNumber;
      const tx = sim.signedCommitment('bob', n);
      const { cls, res } = resolve(a, tx);
      assert.equal(cls.kind, 'remote');
      assertTheirs(sim, a, res, tx, n);
    });

    it('their pending commitment: the same, with the pending HTLC set and point', () => {
      const sim = channel(format);
      sim.addHtlc('bob', LATER.amountMsat, LATER.cltv);
      sim.signCommitments();
      const a = alice(sim);
      const n = sim.latestNumber;
      const tx = sim.signedCommitment('bob', n);
      const { cls, res } = resolve(a, tx);
      assert.equal(cls.kind, 'remotePending');
      assert.equal(res.closeType, 'remotePending');
      assert.equal(res.htlcs.length, 3);
      assert.ok(res.htlcs.some((h) => h.htlc.amountMsat === LATER.amountMsat.toString()));
      assertTheirs(sim, a, res, tx, n);
    });

    it('their revoked commitment: justice data for to_local and the HTLCs we know, our to_remote and anchor', () => {
      const sim = channel(format);
      const a = alice(sim);
      const n = sim.currentNumber - 1;
      const tx = sim.signedCommitment('bob', n);
      const { cls, res } = resolve(a, tx);
      assert.equal(cls.kind, 'breach');
      assert.equal(res.closeType, 'breach');
      assert.equal(res.commitmentNumber, n);
      assert.deepEqual(res.htlcs, []);
      assertOutputsOfTx(res, tx);
      assert.doesNotMatch(JSON.stringify(res), new RegExp(toHex(sim.revealedSecret('bob', n))), 'the secret is never in the resolution');

      const breach = res.breach;
      assert.ok(breach !== undefined);
      const built = sim.commitment('bob', n);
      assert.equal(breach.commitmentNumber, n);
      assert.equal(breach.perCommitmentPoint, toHex(sim.parties.bob.perCommitmentPoint(n)));
      assert.equal(breach.theirToSelfDelay, sim.toSelfDelay.bob);
      assert.equal(breach.secondLevelScript, toHex(secondLevelScript(built.commitment)));

      // to_local and the two HTLCs still on the current commitment; GONE is not in the snapshot any more.
      const goneSat = GONE.amountMsat / 1000n;
      const expected = built.commitment.outputs.filter((o) => o.kind === 'to_local' || (htlcOutputs([o]).length === 1 && o.amountSat !== goneSat));
      assert.deepEqual(
        breach.outputs.map((o) => [o.outpoint, o.kind, o.amountSat]),
        expected.map((o) => [outpointOf(built.txid, o), o.kind, o.amountSat.toString()]),
      );
      const gone = built.commitment.outputs.find((o) => o.amountSat === goneSat) as CommitmentOutput;
      assert.deepEqual(unmatchedBreachOutputs(a.c, cls, tx), [
        { outpoint: outpointOf(built.txid, gone), amountSat: gone.amountSat.toString(), scriptPubKey: toHex(gone.scriptPubKey) },
      ]);
      for (const o of breach.outputs) {
        assert.deepEqual(o.key, { family: 1, index: 0, revokedNumber: n });
        assert.equal(o.csvDelay, 0);
        if (o.kind === 'to_local') {
          assert.equal(o.htlc, undefined);
          assertSpendable(a, o, revokedToLocalWitness);
        } else {
          const simHtlc = sim.htlcOfOutput('bob', n, Number(o.outpoint.split(':')[1]));
          assert.equal(o.htlc?.paymentHash, toHex(simHtlc.paymentHash));
          assert.equal(o.htlc?.direction, simHtlc.offerer === 'alice' ? 'outgoing' : 'incoming');
          assertSpendable(a, o, revokedHtlcWitness);
        }
      }
      // If bob takes an HTLC to the second stage, its output pays the second-level script: spendable by revocation.
      const theirSecond = sim.signedHtlcTx('bob', n, htlcOutputs(built.commitment.outputs).find((o) => o.kind === 'offered_htlc')?.index as number).tx;
      assert.equal(toHex(theirSecond.outs[0]?.script as Uint8Array), toHex(p2wsh(fromHex(breach.secondLevelScript))));
      const secondOut: OutputResolution = {
        outpoint: `${theirSecond.getId()}:0`,
        amountSat: (theirSecond.outs[0]?.value as bigint).toString(),
        scriptPubKey: toHex(theirSecond.outs[0]?.script as Uint8Array),
        witnessScript: breach.secondLevelScript,
        key: { family: 1, index: 0, revokedNumber: n },
        csvDelay: 0,
      };
      assertSpendable(a, secondOut, revokedToLocalWitness);

      const toRemote = built.commitment.outputs.find((o) => o.kind === 'to_remote') as CommitmentOutput;
      assert.equal(res.commitOutput?.outpoint, outpointOf(built.txid, toRemote));
      assertSpendable(a, res.commitOutput as OutputResolution, toRemoteWitness);
      assert.equal(res.anchor !== undefined, anchors);
      if (res.anchor !== undefined) {
        assert.equal(res.anchor.outpoint, outpointOf(built.txid, built.commitment.outputs.find((o) => o.kind === 'remote_anchor') as CommitmentOutput));
        assertSpendable(a, res.anchor, anchorWitness);
      }
    });

    it('a newer commitment of theirs than we know (data loss): our to_remote only', () => {
      const sim = channel(format);
      const a = alice(sim); // the snapshot courtd holds
      sim.addHtlc('bob', LATER.amountMsat, LATER.cltv);
      sim.commit();
      sim.commit();
      const n = sim.latestNumber;
      const tx = sim.signedCommitment('bob', n);
      const { cls, res } = resolve(a, tx);
      assert.equal(cls.kind, 'future');
      assert.equal(res.closeType, 'future');
      assert.equal(res.commitmentNumber, n);
      assert.equal(res.anchor, undefined);
      assert.deepEqual(res.htlcs, []);
      assertOutputsOfTx(res, tx);
      const built = sim.commitment('bob', n);
      const toRemote = built.commitment.outputs.find((o) => o.kind === 'to_remote') as CommitmentOutput;
      assert.equal(res.commitOutput?.outpoint, outpointOf(built.txid, toRemote));
      assert.equal(res.commitOutput?.amountSat, toRemote.amountSat.toString());
      assert.equal(res.commitOutput?.csvDelay, anchors ? 1 : 0);
      assertSpendable(a, res.commitOutput as OutputResolution, toRemoteWitness);
    });

    it('a cooperative close has nothing to resolve; an unknown close and a mismatched transaction are refused', () => {
      const sim = channel(format);
      const a = alice(sim);
      const coop = new Transaction();
      coop.version = 2;
      coop.addInput(reversed(fromHex(sim.fundingTxid)), sim.fundingVout, 0xffffffff);
      // Each side its balance (HTLCs failed back first), alice paying the fee: what a mutual close pays.
      const bal = sim.state(sim.latestNumber).balanceMsat;
      coop.addOutput(DEST, bal.alice / 1000n - 1_000n);
      coop.addOutput(DEST, bal.bob / 1000n);
      const { cls, res } = resolve(a, coop);
      assert.equal(cls.kind, 'coop');
      assert.deepEqual(res, { closeType: 'coop', txid: coop.getId(), htlcs: [] });

      const local = sim.signedCommitment('alice', sim.latestNumber);
      const unknown: Classification = { kind: 'unknown', txid: local.getId(), number: 7, reason: 'test' };
      assert.throws(() => closeResolutions(a.c, unknown, local), isCode('COURT_E_INVALID_ARGUMENT'));
      const localCls = classifyClose(classifierView(a.c, a.revocations), local);
      assert.throws(() => closeResolutions(a.c, localCls, coop), isCode('COURT_E_INVALID_ARGUMENT'));
      // A classification from another snapshot: the remote commitment it names is not this snapshot's.
      const theirs = sim.signedCommitment('bob', sim.latestNumber);
      assert.throws(() => closeResolutions(a.c, { kind: 'remotePending', txid: theirs.getId(), number: sim.latestNumber }, theirs), isCode('COURT_E_INVALID_ARGUMENT'));
      assert.throws(() => closeResolutions(a.c, { kind: 'local', txid: theirs.getId(), number: sim.latestNumber }, theirs), isCode('COURT_E_INVALID_ARGUMENT'));
    });
  });

  /** Their current or pending commitment `n`: to_remote, our anchor, direct HTLC claims, each spent. */
  function assertTheirs(sim: ChannelSimulator, a: Alice, res: CloseResolutions, tx: Transaction, n: number): void {
    assert.equal(res.commitmentNumber, n);
    assert.equal(res.breach, undefined);
    assertOutputsOfTx(res, tx);
    const built = sim.commitment('bob', n);
    const toRemote = built.commitment.outputs.find((o) => o.kind === 'to_remote') as CommitmentOutput;
    const commitOutput = res.commitOutput as OutputResolution;
    assert.equal(commitOutput.outpoint, outpointOf(built.txid, toRemote));
    assert.equal(commitOutput.amountSat, toRemote.amountSat.toString());
    assert.equal(commitOutput.csvDelay, anchors ? 1 : 0);
    assert.equal(commitOutput.witnessScript === undefined, !anchors, 'P2WPKH on static_remotekey, P2WSH on anchors');
    assert.equal(commitOutput.key.tweakPoint, undefined, 'to_remote is never tweaked on these formats');
    assertSpendable(a, commitOutput, toRemoteWitness);

    assert.equal(res.anchor !== undefined, anchors);
    if (res.anchor !== undefined) {
      assert.equal(res.anchor.outpoint, outpointOf(built.txid, built.commitment.outputs.find((o) => o.kind === 'remote_anchor') as CommitmentOutput));
      assertSpendable(a, res.anchor, anchorWitness);
    }

    const htlcOuts = htlcOutputs(built.commitment.outputs);
    assert.deepEqual(res.htlcs.map((h) => h.outpoint).sort(), htlcOuts.map((o) => outpointOf(built.txid, o)).sort());
    for (const h of res.htlcs) {
      const simHtlc = sim.htlcOfOutput('bob', n, Number(h.outpoint.split(':')[1]));
      assert.equal(h.htlc.paymentHash, toHex(simHtlc.paymentHash));
      assert.equal(h.secondLevel, undefined);
      assert.equal(h.csvDelay, anchors ? 1 : 0);
      assert.equal(h.key.tweakPoint, toHex(sim.parties.bob.perCommitmentPoint(n)));
      if (h.htlc.direction === 'outgoing') {
        // We offered it: after its CLTV, by our HTLC key alone.
        const witness: Witness = (x, t, o) => W.htlcTimeoutDirectWitness(sign(x, t, o), ws(o));
        assertSpendable(a, h, witness, { locktime: h.htlc.cltvExpiry });
        const early = trySpend(a, h, witness, { sequence: h.csvDelay > 0 ? h.csvDelay : RBF_SEQUENCE, locktime: h.htlc.cltvExpiry - 1 });
        assert.equal(early.ok, false, 'timeout claim one block before the CLTV');
      } else {
        const preimage = sim.preimage('alice', simHtlc.paymentHash) as Uint8Array;
        assertSpendable(a, h, (x, t, o) => W.htlcSuccessDirectWitness(sign(x, t, o), preimage, ws(o)));
      }
    }
  }
}

/**
 * Our HTLC output through its second-level transaction (remote signature from the resolution, ours from the
 * keyring), then that transaction's CSV output with the key the resolution names.
 */
function proveSecondLevel(sim: ChannelSimulator, a: Alice, h: HtlcResolution, second: SecondLevelResolution): void {
  const tx = Transaction.fromHex(second.txHex);
  assert.equal(tx.ins[0]?.sequence, h.csvDelay, "the second-level input's sequence is the HTLC output's CSV");
  const remoteSig = encodeSig(fromHex(second.remoteSignature), second.remoteSighashType);
  const localSig = sign(a, tx, h);
  const script = ws(h);
  const witness =
    second.kind === 'timeout'
      ? W.htlcTimeoutWitness(remoteSig, localSig, script)
      : W.htlcSuccessWitness(remoteSig, localSig, sim.preimage('alice', fromHex(h.htlc.paymentHash)) as Uint8Array, script);
  tx.setWitness(0, witness);
  assert.deepEqual(execInput(tx, 0, { scriptPubKey: fromHex(h.scriptPubKey), value: BigInt(h.amountSat) }), { ok: true }, `${second.kind} tx`);
  const out = tx.outs[0];
  assert.ok(out !== undefined);
  assert.equal(toHex(out.script), toHex(p2wsh(fromHex(second.outputScript))));
  assert.equal(out.value.toString(), second.outputSat);
  const output: OutputResolution = {
    outpoint: `${tx.getId()}:0`,
    amountSat: second.outputSat,
    scriptPubKey: toHex(out.script),
    witnessScript: second.outputScript,
    key: second.key,
    csvDelay: second.csvDelay,
  };
  assertSpendable(a, output, delayedWitness);
}
