/**
 * Every witness builder of src/ln/witness.ts, executed by an independent interpreter (bcoin, standard verify
 * flags) against the scripts courtd puts on commitments: the right spend verifies, the wrong key / preimage /
 * branch is rejected, and timelocked paths are rejected one block early and accepted exactly on time.
 *
 * The channel is between "alice" (us, the funder) and "bob". Both parties' commitments are built for each
 * commitment format: alice's (holder = alice) for the paths she spends from her own commitment, bob's
 * (holder = bob) for the direct HTLC claims, the to_remote and the revocation paths (bob's commitment treated
 * as revoked: alice knows his per-commitment secret).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Transaction } from 'bitcoinjs-lib';
import {
  buildCommitment,
  type Commitment,
  type CommitmentFormat,
  type CommitmentHtlc,
  type CommitmentKeys,
  type CommitmentOutput,
} from '../../src/ln/commitment.js';
import { buildHtlcTxs, commitmentSighash, htlcTxSighash, type HtlcTx } from '../../src/ln/htlc.js';
import {
  derivePrivkey,
  derivePubkey,
  deriveRevocationPrivkey,
  deriveRevocationPubkey,
  perCommitmentPoint,
} from '../../src/keys/derive.js';
import { fundingScript, p2wpkh, p2wsh } from '../../src/ln/scripts.js';
import { secp } from '../../src/keys/secp.js';
import { p2wpkhScriptCode, segwitV0Sighash, SIGHASH_ALL, SIGHASH_SINGLE_ANYONECANPAY } from '../../src/keys/sighash.js';
import { encodeSig } from '../../src/keys/signature.js';
import { obscuringFactor } from '../../src/ln/statehint.js';
import { ANCHOR_ANYONE_CSV, WITNESS_WEIGHT } from '../../src/ln/weights.js';
import * as W from '../../src/ln/witness.js';
import { CourtError } from '../../src/util/errors.js';
import { equal, hash160, sha256, toHex } from '../../src/util/bytes.js';
import { channel as bolt3Channel, staticVectors } from '../helpers/bolt3.js';
import { execInput, hasFlag, VERIFY_FLAGS, type SpentOutput } from '../helpers/script-exec.js';

// ---------------------------------------------------------------------------------------------------------------
// Deterministic keys

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const label = (s: string): Uint8Array => sha256(utf8(`courtd witness.exec.test/${s}`));
const pub = (secret: Uint8Array): Uint8Array => secp().pointFromScalar(secret);

interface Party {
  readonly fundingSecret: Uint8Array;
  readonly revocationBaseSecret: Uint8Array;
  readonly paymentBaseSecret: Uint8Array;
  readonly delayedBaseSecret: Uint8Array;
  readonly htlcBaseSecret: Uint8Array;
  /** The secret of the commitment this test builds for the party. */
  readonly perCommitmentSecret: Uint8Array;
}

function party(name: string): Party {
  return {
    fundingSecret: label(`${name}/funding`),
    revocationBaseSecret: label(`${name}/revocation basepoint`),
    paymentBaseSecret: label(`${name}/payment basepoint`),
    delayedBaseSecret: label(`${name}/delayed payment basepoint`),
    htlcBaseSecret: label(`${name}/htlc basepoint`),
    perCommitmentSecret: label(`${name}/per-commitment secret 42`),
  };
}

const alice = party('alice');
const bob = party('bob');

/** Private keys able to spend the outputs of one commitment, each matching a key of CommitmentKeys. */
interface CommitmentPrivkeys {
  readonly holderFunding: Uint8Array;
  readonly counterpartyFunding: Uint8Array;
  /** revocationprivkey: the counterparty's, once the holder revealed its per-commitment secret. */
  readonly revocation: Uint8Array;
  readonly holderDelayed: Uint8Array;
  readonly holderHtlc: Uint8Array;
  readonly counterpartyHtlc: Uint8Array;
  readonly counterpartyPayment: Uint8Array;
}

function commitmentKeys(holder: Party, counterparty: Party): { keys: CommitmentKeys; priv: CommitmentPrivkeys } {
  const point = perCommitmentPoint(holder.perCommitmentSecret);
  const keys: CommitmentKeys = {
    localFundingPubkey: pub(holder.fundingSecret),
    remoteFundingPubkey: pub(counterparty.fundingSecret),
    revocationPubkey: deriveRevocationPubkey(pub(counterparty.revocationBaseSecret), point),
    localDelayedPubkey: derivePubkey(pub(holder.delayedBaseSecret), point),
    localHtlcPubkey: derivePubkey(pub(holder.htlcBaseSecret), point),
    remoteHtlcPubkey: derivePubkey(pub(counterparty.htlcBaseSecret), point),
    remotePaymentPubkey: pub(counterparty.paymentBaseSecret),
  };
  const priv: CommitmentPrivkeys = {
    holderFunding: holder.fundingSecret,
    counterpartyFunding: counterparty.fundingSecret,
    revocation: deriveRevocationPrivkey(counterparty.revocationBaseSecret, holder.perCommitmentSecret),
    holderDelayed: derivePrivkey(holder.delayedBaseSecret, point),
    holderHtlc: derivePrivkey(holder.htlcBaseSecret, point),
    counterpartyHtlc: derivePrivkey(counterparty.htlcBaseSecret, point),
    counterpartyPayment: counterparty.paymentBaseSecret,
  };
  return { keys, priv };
}

// ---------------------------------------------------------------------------------------------------------------
// The channel: alice funded it; one HTLC in each direction

const FUNDING_SAT = 1_000_000n;
const ALICE_SAT = 600_000n;
const BOB_SAT = 350_000n;
/** HTLC "x": alice offered it to bob. HTLC "y": bob offered it to alice. */
const X = { amountSat: 20_000n, cltv: 600_100, preimage: label('preimage x') };
const Y = { amountSat: 30_000n, cltv: 600_200, preimage: label('preimage y') };
const WRONG_PREIMAGE = label('not the preimage');
/** to_self_delay on alice's commitment (imposed by bob) and on bob's (imposed by alice): distinct on purpose. */
const DELAY_ON_ALICE = 144;
const DELAY_ON_BOB = 720;

interface Side {
  readonly commit: Commitment;
  readonly priv: CommitmentPrivkeys;
  readonly htlcTxs: HtlcTx[];
  /** Position of HTLC x and y in spec.htlcs. */
  readonly xIndex: number;
  readonly yIndex: number;
}

function htlc(direction: 'offered' | 'received', h: typeof X): CommitmentHtlc {
  return { direction, amountMsat: h.amountSat * 1000n, paymentHash: sha256(h.preimage), cltvExpiry: h.cltv };
}

function buildSide(format: CommitmentFormat, holderIsAlice: boolean): Side {
  const [holder, counterparty] = holderIsAlice ? [alice, bob] : [bob, alice];
  const { keys, priv } = commitmentKeys(holder, counterparty);
  const commit = buildCommitment({
    format,
    fundingTxid: toHex(label('funding txid')),
    fundingVout: 1,
    fundingSat: FUNDING_SAT,
    commitmentNumber: 42,
    obscuringFactor: obscuringFactor(pub(alice.paymentBaseSecret), pub(bob.paymentBaseSecret)),
    holderIsFunder: holderIsAlice,
    toLocalMsat: (holderIsAlice ? ALICE_SAT : BOB_SAT) * 1000n,
    toRemoteMsat: (holderIsAlice ? BOB_SAT : ALICE_SAT) * 1000n,
    feeratePerKw: 2_500,
    dustLimitSat: 546n,
    toSelfDelay: holderIsAlice ? DELAY_ON_ALICE : DELAY_ON_BOB,
    keys,
    // From the holder's view: alice offered x, bob offered y.
    htlcs: holderIsAlice ? [htlc('offered', X), htlc('received', Y)] : [htlc('received', X), htlc('offered', Y)],
  });
  return { commit, priv, htlcTxs: buildHtlcTxs(commit), xIndex: 0, yIndex: 1 };
}

// ---------------------------------------------------------------------------------------------------------------
// Spending: a prevout, a one-input one-output version-2 sweep, signatures over its BIP143 digest

interface Prevout extends SpentOutput {
  readonly txHash: Uint8Array;
  readonly index: number;
  /** BIP143 script code: the witness script (P2WSH) or p2wpkhScriptCode (P2WPKH). */
  readonly scriptCode: Uint8Array;
}

function outputOf(c: Commitment, pick: (o: CommitmentOutput) => boolean, what: string): Prevout {
  const o = c.outputs.find(pick);
  assert.ok(o, `the commitment has a ${what} output`);
  const scriptCode = o.witnessScript ?? p2wpkhScriptCode(hash160(c.spec.keys.remotePaymentPubkey));
  return { txHash: c.tx.getHash(), index: o.index, value: o.amountSat, scriptPubKey: o.scriptPubKey, scriptCode };
}
const kindOf = (c: Commitment, kind: CommitmentOutput['kind']): Prevout => outputOf(c, (o) => o.kind === kind, kind);
const htlcOutput = (c: Commitment, htlcIndex: number): Prevout =>
  outputOf(c, (o) => o.htlcIndex === htlcIndex, `HTLC #${htlcIndex}`);

/** The second-level output of an HTLC transaction. */
function secondLevelOutput(h: HtlcTx): Prevout {
  return { txHash: h.tx.getHash(), index: 0, value: h.outputSat, scriptPubKey: p2wsh(h.outputScript), scriptCode: h.outputScript };
}

const SWEEP_SPK = p2wpkh(pub(label('sweep destination')));

function sweepTx(prev: Prevout, sequence: number, locktime = 0): Transaction {
  const tx = new Transaction();
  tx.version = 2;
  tx.locktime = locktime;
  tx.addInput(prev.txHash, prev.index, sequence);
  tx.addOutput(SWEEP_SPK, prev.value - prev.value / 10n);
  return tx;
}

function sigFor(tx: Transaction, prev: Prevout, privkey: Uint8Array, hashType = SIGHASH_ALL): Uint8Array {
  return encodeSig(secp().sign(segwitV0Sighash(tx, 0, prev.scriptCode, prev.value, hashType), privkey), hashType);
}

/** A signed sweep: `witness` receives a signer bound to the sweep transaction. */
function sweep(
  prev: Prevout,
  timelock: { sequence: number; locktime?: number },
  witness: (sign: (privkey: Uint8Array) => Uint8Array) => Uint8Array[],
): Transaction {
  const tx = sweepTx(prev, timelock.sequence, timelock.locktime);
  tx.setWitness(0, witness((k) => sigFor(tx, prev, k)));
  return tx;
}

/** Flips the lowest bit of the last S byte of a DER signature: still strict DER and low-S, no longer valid. */
function corruptSig(sig: Uint8Array): Uint8Array {
  const out = Uint8Array.from(sig);
  out[out.length - 2] = (out[out.length - 2] as number) ^ 1;
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Expectations, counted so a skipped case makes the final test fail

type Builder = Exclude<keyof typeof W, 'witnessBytes'>;
const tally = { accepted: 0, rejected: 0, weightChecks: 0, acceptedBy: new Set<Builder>() };

/** `builder`: the witness.ts function that built the witness, or 'vector' for a spec transaction. */
function expectAccepted(tx: Transaction, prev: SpentOutput, builder: Builder | 'vector'): void {
  const r = execInput(tx, 0, prev);
  assert.deepEqual(r, { ok: true }, `${builder} spend must verify`);
  tally.accepted++;
  if (builder !== 'vector') tally.acceptedBy.add(builder);
}

function expectRejected(tx: Transaction, prev: SpentOutput, code: string): void {
  const r = execInput(tx, 0, prev);
  assert.equal(r.ok, false, `spend must be rejected with ${code}`);
  if (!r.ok) assert.equal(r.code, code, r.message);
  tally.rejected++;
}

/**
 * A real witness is at most its WITNESS_WEIGHT estimate (which counts every signature at 73 bytes), and short
 * of it only by signature encoding: a low-S DER signature plus sighash byte is 71 or 72 bytes, so at most two
 * bytes per signature (so within 2 bytes for one-signature witnesses, exact for the anchor spent by anyone).
 */
function expectWeight(witness: Uint8Array[], estimate: number, signatures: number): void {
  const size = W.witnessBytes(witness);
  assert.ok(size <= estimate, `witness of ${size} bytes exceeds its estimate ${estimate}`);
  assert.ok(estimate - size <= 2 * signatures, `witness of ${size} bytes is ${estimate - size} short of ${estimate}`);
  tally.weightChecks++;
}

const witnessOf = (tx: Transaction): Uint8Array[] => tx.ins[0]?.witness ?? [];

// ---------------------------------------------------------------------------------------------------------------

describe('script-execution harness (bcoin)', () => {
  it('runs with the standard verify flags, including witness, CSV, CLTV, MINIMALIF and NULLFAIL', () => {
    for (const f of [
      'VERIFY_P2SH',
      'VERIFY_WITNESS',
      'VERIFY_CHECKSEQUENCEVERIFY',
      'VERIFY_CHECKLOCKTIMEVERIFY',
      'VERIFY_MINIMALIF',
      'VERIFY_NULLFAIL',
      'VERIFY_NULLDUMMY',
      'VERIFY_LOW_S',
      'VERIFY_DERSIG',
      'VERIFY_STRICTENC',
      'VERIFY_MINIMALDATA',
      'VERIFY_CLEANSTACK',
      'VERIFY_WITNESS_PUBKEYTYPE',
      'VERIFY_DISCOURAGE_UPGRADABLE_NOPS',
    ]) {
      assert.ok(hasFlag(f), `${f} is set (flags ${VERIFY_FLAGS.toString(2)})`);
    }
  });

  const vector = staticVectors.cases[0];
  const funding: SpentOutput = {
    scriptPubKey: p2wsh(fundingScript(bolt3Channel.keys.localFundingPubkey, bolt3Channel.keys.remoteFundingPubkey)),
    value: bolt3Channel.fundingSat,
  };

  it('accepts the signed BOLT #3 Appendix C commitment transaction against its funding output', () => {
    expectAccepted(Transaction.fromHex(vector.commit_tx_hex), funding, 'vector');
  });

  it('rejects that transaction once one bit of a signature is flipped', () => {
    const tx = Transaction.fromHex(vector.commit_tx_hex);
    const w = witnessOf(tx);
    tx.setWitness(0, [w[0] as Uint8Array, corruptSig(w[1] as Uint8Array), w[2] as Uint8Array, w[3] as Uint8Array]);
    expectRejected(tx, funding, 'NULLFAIL');
  });
});

for (const format of ['static_remotekey', 'anchors'] as const) {
  const anchors = format === 'anchors';
  /** Input nSequence of the non-revocation HTLC and to_remote paths: 1-block CSV on anchor channels only. */
  const htlcSequence = anchors ? 1 : 0;

  describe(`${format}: script execution of every witness`, () => {
    const ours = buildSide(format, true);
    const theirs = buildSide(format, false);

    it('derives private keys that match every commitment key (revocationprivkey included)', () => {
      for (const s of [ours, theirs]) {
        const k = s.commit.spec.keys;
        assert.deepEqual(pub(s.priv.holderFunding), k.localFundingPubkey);
        assert.deepEqual(pub(s.priv.counterpartyFunding), k.remoteFundingPubkey);
        assert.deepEqual(pub(s.priv.revocation), k.revocationPubkey);
        assert.deepEqual(pub(s.priv.holderDelayed), k.localDelayedPubkey);
        assert.deepEqual(pub(s.priv.holderHtlc), k.localHtlcPubkey);
        assert.deepEqual(pub(s.priv.counterpartyHtlc), k.remoteHtlcPubkey);
        assert.deepEqual(pub(s.priv.counterpartyPayment), k.remotePaymentPubkey);
      }
      assert.equal(ours.commit.outputs.filter((o) => o.kind.endsWith('_htlc')).length, 2, 'both HTLCs untrimmed');
    });

    describe('commitment input (funding 2-of-2)', () => {
      const c = ours.commit;
      const funding: Prevout = {
        txHash: new Uint8Array(32),
        index: 0,
        value: c.spec.fundingSat,
        scriptPubKey: p2wsh(c.fundingScript),
        scriptCode: c.fundingScript,
      };
      const digest = commitmentSighash(c);
      const sig = (k: Uint8Array): Uint8Array => encodeSig(secp().sign(digest, k), SIGHASH_ALL);
      const signed = (sigLocal: Uint8Array, sigRemote: Uint8Array): Transaction => {
        const tx = c.tx.clone();
        tx.setWitness(0, W.fundingWitness(c.fundingScript, c.spec.keys.localFundingPubkey, sigLocal, c.spec.keys.remoteFundingPubkey, sigRemote));
        return tx;
      };

      it('verifies with both funding signatures, whichever key is passed first', () => {
        const tx = signed(sig(ours.priv.holderFunding), sig(ours.priv.counterpartyFunding));
        expectAccepted(tx, funding, 'fundingWitness');
        expectWeight(witnessOf(tx), WITNESS_WEIGHT.funding(), 2);
        const k = c.spec.keys;
        const [local, remote] = [sig(ours.priv.holderFunding), sig(ours.priv.counterpartyFunding)];
        const swapped = W.fundingWitness(c.fundingScript, k.remoteFundingPubkey, remote, k.localFundingPubkey, local);
        assert.deepEqual(swapped, witnessOf(tx));
      });

      it('rejects a signature by a key other than the funding key', () => {
        expectRejected(signed(sig(ours.priv.holderFunding), sig(ours.priv.counterpartyHtlc)), funding, 'NULLFAIL');
      });

      it('rejects a corrupted signature (the harness can fail on our own transactions)', () => {
        expectRejected(signed(corruptSig(sig(ours.priv.holderFunding)), sig(ours.priv.counterpartyFunding)), funding, 'NULLFAIL');
      });
    });

    describe('to_local', () => {
      const delay = DELAY_ON_ALICE;

      it('verifies the delayed-key spend with nSequence = to_self_delay', () => {
        const prev = kindOf(ours.commit, 'to_local');
        const tx = sweep(prev, { sequence: delay }, (sign) => W.toLocalDelayedWitness(sign(ours.priv.holderDelayed), prev.scriptCode));
        expectAccepted(tx, prev, 'toLocalDelayedWitness');
        expectWeight(witnessOf(tx), WITNESS_WEIGHT.toLocalDelayed(prev.scriptCode.length), 1);
      });

      it('rejects the delayed-key spend with nSequence = to_self_delay - 1', () => {
        const prev = kindOf(ours.commit, 'to_local');
        const tx = sweep(prev, { sequence: delay - 1 }, (sign) => W.toLocalDelayedWitness(sign(ours.priv.holderDelayed), prev.scriptCode));
        expectRejected(tx, prev, 'UNSATISFIED_LOCKTIME');
      });

      it('rejects the revocation key on the delayed branch', () => {
        const prev = kindOf(ours.commit, 'to_local');
        const tx = sweep(prev, { sequence: delay }, (sign) => W.toLocalDelayedWitness(sign(ours.priv.revocation), prev.scriptCode));
        expectRejected(tx, prev, 'NULLFAIL');
      });

      it('verifies the revocation spend of a revoked commitment at once (nSequence 0)', () => {
        const prev = kindOf(theirs.commit, 'to_local');
        const tx = sweep(prev, { sequence: 0 }, (sign) => W.toLocalRevokedWitness(sign(theirs.priv.revocation), prev.scriptCode));
        expectAccepted(tx, prev, 'toLocalRevokedWitness');
        expectWeight(witnessOf(tx), WITNESS_WEIGHT.toLocalRevoked(prev.scriptCode.length), 1);
      });

      it('rejects the delayed key on the revocation branch (selector 1)', () => {
        const prev = kindOf(theirs.commit, 'to_local');
        const tx = sweep(prev, { sequence: DELAY_ON_BOB }, (sign) => W.toLocalRevokedWitness(sign(theirs.priv.holderDelayed), prev.scriptCode));
        expectRejected(tx, prev, 'NULLFAIL');
      });
    });

    describe('to_remote (ours, on their commitment)', () => {
      if (!anchors) {
        it('verifies the P2WPKH spend by the payment basepoint key', () => {
          const prev = kindOf(theirs.commit, 'to_remote');
          const key = theirs.commit.spec.keys.remotePaymentPubkey;
          const tx = sweep(prev, { sequence: 0 }, (sign) => W.toRemoteP2wpkhWitness(sign(theirs.priv.counterpartyPayment), key));
          expectAccepted(tx, prev, 'toRemoteP2wpkhWitness');
          expectWeight(witnessOf(tx), WITNESS_WEIGHT.toRemoteP2wpkh(), 1);
        });

        it('rejects a P2WPKH signature by another key', () => {
          const prev = kindOf(theirs.commit, 'to_remote');
          const key = theirs.commit.spec.keys.remotePaymentPubkey;
          const tx = sweep(prev, { sequence: 0 }, (sign) => W.toRemoteP2wpkhWitness(sign(theirs.priv.counterpartyHtlc), key));
          expectRejected(tx, prev, 'NULLFAIL');
        });
      } else {
        it('verifies the anchor-channel to_remote spend with nSequence 1', () => {
          const prev = kindOf(theirs.commit, 'to_remote');
          const tx = sweep(prev, { sequence: 1 }, (sign) => W.toRemoteAnchorWitness(sign(theirs.priv.counterpartyPayment), prev.scriptCode));
          expectAccepted(tx, prev, 'toRemoteAnchorWitness');
          expectWeight(witnessOf(tx), WITNESS_WEIGHT.toRemoteAnchor(), 1);
        });

        it('rejects it with nSequence 0', () => {
          const prev = kindOf(theirs.commit, 'to_remote');
          const tx = sweep(prev, { sequence: 0 }, (sign) => W.toRemoteAnchorWitness(sign(theirs.priv.counterpartyPayment), prev.scriptCode));
          expectRejected(tx, prev, 'UNSATISFIED_LOCKTIME');
        });

        it('rejects a signature by another key', () => {
          const prev = kindOf(theirs.commit, 'to_remote');
          const tx = sweep(prev, { sequence: 1 }, (sign) => W.toRemoteAnchorWitness(sign(theirs.priv.counterpartyHtlc), prev.scriptCode));
          expectRejected(tx, prev, 'NULLFAIL');
        });
      }
    });

    if (anchors) {
      describe('anchors', () => {
        it('verifies each anchor spent by its own funding key, at once', () => {
          for (const [kind, key] of [
            ['local_anchor', ours.priv.holderFunding],
            ['remote_anchor', ours.priv.counterpartyFunding],
          ] as const) {
            const prev = kindOf(ours.commit, kind);
            const tx = sweep(prev, { sequence: 0 }, (sign) => W.anchorByKeyWitness(sign(key), prev.scriptCode));
            expectAccepted(tx, prev, 'anchorByKeyWitness');
            expectWeight(witnessOf(tx), WITNESS_WEIGHT.anchorByKey(), 1);
          }
        });

        it("rejects the other party's funding key", () => {
          const prev = kindOf(ours.commit, 'local_anchor');
          const tx = sweep(prev, { sequence: 0 }, (sign) => W.anchorByKeyWitness(sign(ours.priv.counterpartyFunding), prev.scriptCode));
          expectRejected(tx, prev, 'NULLFAIL');
        });

        it('verifies the spend by anyone with nSequence 16', () => {
          const prev = kindOf(ours.commit, 'local_anchor');
          const tx = sweep(prev, { sequence: ANCHOR_ANYONE_CSV }, () => W.anchorByAnyoneWitness(prev.scriptCode));
          expectAccepted(tx, prev, 'anchorByAnyoneWitness');
          expectWeight(witnessOf(tx), WITNESS_WEIGHT.anchorByAnyone(), 0);
        });

        it('rejects the spend by anyone with nSequence 15', () => {
          const prev = kindOf(ours.commit, 'local_anchor');
          const tx = sweep(prev, { sequence: ANCHOR_ANYONE_CSV - 1 }, () => W.anchorByAnyoneWitness(prev.scriptCode));
          expectRejected(tx, prev, 'UNSATISFIED_LOCKTIME');
        });
      });
    }

    describe('second-level HTLC transactions (our commitment)', () => {
      const timeout = ours.htlcTxs.find((h) => h.kind === 'timeout' && h.output.htlcIndex === ours.xIndex);
      const success = ours.htlcTxs.find((h) => h.kind === 'success' && h.output.htlcIndex === ours.yIndex);
      assert.ok(timeout && success);
      const spent = (h: HtlcTx): SpentOutput => ({ scriptPubKey: h.output.scriptPubKey, value: h.inputSat });
      const htlcSig = (h: HtlcTx, tx: Transaction, key: Uint8Array, hashType: number): Uint8Array =>
        encodeSig(secp().sign(segwitV0Sighash(tx, 0, h.inputScript, h.inputSat, hashType), key), hashType);
      /** The remote's signature (with its sighash type) over `tx`, by default the HTLC tx as built. */
      const remoteSig = (h: HtlcTx, tx = h.tx, key = ours.priv.counterpartyHtlc): Uint8Array =>
        htlcSig(h, tx, key, h.remoteSighashType);
      /** Our SIGHASH_ALL signature over `tx`. */
      const localSig = (h: HtlcTx, tx = h.tx, key = ours.priv.holderHtlc): Uint8Array => htlcSig(h, tx, key, SIGHASH_ALL);
      const withWitness = (tx: Transaction, w: Uint8Array[]): Transaction => {
        const t = tx.clone();
        t.setWitness(0, w);
        return t;
      };
      /** The same HTLC tx with another nSequence, both parties signing it anew. */
      const resequenced = (h: HtlcTx, sequence: number): Transaction => {
        const t = h.tx.clone();
        (t.ins[0] as { sequence: number }).sequence = sequence;
        return t;
      };

      it('builds them as version 2, HTLC-timeout locked to the cltv_expiry, HTLC-success not locked', () => {
        assert.equal(timeout.tx.version, 2);
        assert.equal(timeout.tx.locktime, X.cltv);
        assert.equal(success.tx.locktime, 0);
        assert.equal(timeout.tx.ins[0]?.sequence, htlcSequence);
        assert.equal(timeout.remoteSighashType, anchors ? SIGHASH_SINGLE_ANYONECANPAY : SIGHASH_ALL);
        // The sighash helper signs exactly what the interpreter checks.
        assert.ok(equal(htlcTxSighash(timeout, SIGHASH_ALL), segwitV0Sighash(timeout.tx, 0, timeout.inputScript, timeout.inputSat, SIGHASH_ALL)));
      });

      it('verifies HTLC-timeout with the remote and local HTLC signatures', () => {
        const tx = withWitness(timeout.tx, W.htlcTimeoutWitness(remoteSig(timeout), localSig(timeout), timeout.inputScript));
        expectAccepted(tx, spent(timeout), 'htlcTimeoutWitness');
        expectWeight(witnessOf(tx), WITNESS_WEIGHT.htlcTimeoutSecondLevel(timeout.inputScript.length), 2);
      });

      it('rejects HTLC-timeout whose nLockTime was lowered to cltv_expiry - 1 (both signatures commit to it)', () => {
        // The offered-HTLC script has no CLTV on this path: the timeout is enforced by the signed nLockTime.
        const early = timeout.tx.clone();
        early.locktime = X.cltv - 1;
        const w = W.htlcTimeoutWitness(remoteSig(timeout), localSig(timeout), timeout.inputScript);
        expectRejected(withWitness(early, w), spent(timeout), 'NULLFAIL');
      });

      it('rejects HTLC-timeout with a local signature by the wrong key', () => {
        const w = W.htlcTimeoutWitness(remoteSig(timeout), localSig(timeout, timeout.tx, ours.priv.holderDelayed), timeout.inputScript);
        expectRejected(withWitness(timeout.tx, w), spent(timeout), 'NULLFAIL');
      });

      it('verifies HTLC-success with the payment preimage', () => {
        const tx = withWitness(success.tx, W.htlcSuccessWitness(remoteSig(success), localSig(success), Y.preimage, success.inputScript));
        expectAccepted(tx, spent(success), 'htlcSuccessWitness');
        expectWeight(witnessOf(tx), WITNESS_WEIGHT.htlcSuccessSecondLevel(success.inputScript.length), 2);
      });

      it('rejects HTLC-success with a wrong preimage (the builder refuses it; a hand-made stack fails the script)', () => {
        assert.throws(
          () => W.htlcSuccessWitness(remoteSig(success), localSig(success), WRONG_PREIMAGE, success.inputScript),
          (e: unknown) => e instanceof CourtError && e.code === 'COURT_E_INVALID_ARGUMENT',
        );
        const w = W.htlcSuccessWitness(remoteSig(success), localSig(success), Y.preimage, success.inputScript);
        w[3] = WRONG_PREIMAGE;
        expectRejected(withWitness(success.tx, w), spent(success), 'EQUALVERIFY');
      });

      it('rejects HTLC-success with a remote signature by the wrong key', () => {
        const bad = remoteSig(success, success.tx, ours.priv.counterpartyFunding);
        const w = W.htlcSuccessWitness(bad, localSig(success), Y.preimage, success.inputScript);
        expectRejected(withWitness(success.tx, w), spent(success), 'NULLFAIL');
      });

      if (anchors) {
        it('rejects both second-level transactions re-signed with nSequence 0 (1-block CSV)', () => {
          const t = resequenced(timeout, 0);
          const tw = W.htlcTimeoutWitness(remoteSig(timeout, t), localSig(timeout, t), timeout.inputScript);
          expectRejected(withWitness(t, tw), spent(timeout), 'UNSATISFIED_LOCKTIME');
          const s = resequenced(success, 0);
          const sw = W.htlcSuccessWitness(remoteSig(success, s), localSig(success, s), Y.preimage, success.inputScript);
          expectRejected(withWitness(s, sw), spent(success), 'UNSATISFIED_LOCKTIME');
        });

        it("keeps the remote's SINGLE|ANYONECANPAY signature valid once a fee input and change are attached", () => {
          const remote = remoteSig(timeout);
          const bumped = timeout.tx.clone();
          bumped.addInput(label('fee input'), 3, 0xfffffffd);
          bumped.addOutput(SWEEP_SPK, 50_000n);
          const ok = withWitness(bumped, W.htlcTimeoutWitness(remote, localSig(timeout, bumped), timeout.inputScript));
          expectAccepted(ok, spent(timeout), 'htlcTimeoutWitness');
          // Our SIGHASH_ALL signature over the unbumped transaction does not carry over.
          const stale = withWitness(bumped, W.htlcTimeoutWitness(remote, localSig(timeout), timeout.inputScript));
          expectRejected(stale, spent(timeout), 'NULLFAIL');
        });
      }
    });

    describe('second-level output', () => {
      it('verifies the delayed spend of our HTLC-timeout output with nSequence = to_self_delay', () => {
        const h = ours.htlcTxs.find((x) => x.kind === 'timeout');
        assert.ok(h);
        const prev = secondLevelOutput(h);
        const tx = sweep(prev, { sequence: DELAY_ON_ALICE }, (sign) => W.toLocalDelayedWitness(sign(ours.priv.holderDelayed), prev.scriptCode));
        expectAccepted(tx, prev, 'toLocalDelayedWitness');
        expectWeight(witnessOf(tx), WITNESS_WEIGHT.toLocalDelayed(prev.scriptCode.length), 1);
      });

      it('rejects it with nSequence = to_self_delay - 1', () => {
        const h = ours.htlcTxs.find((x) => x.kind === 'timeout');
        assert.ok(h);
        const prev = secondLevelOutput(h);
        const tx = sweep(prev, { sequence: DELAY_ON_ALICE - 1 }, (sign) => W.toLocalDelayedWitness(sign(ours.priv.holderDelayed), prev.scriptCode));
        expectRejected(tx, prev, 'UNSATISFIED_LOCKTIME');
      });

      it('verifies the revocation spend of their HTLC-success output', () => {
        const h = theirs.htlcTxs.find((x) => x.kind === 'success');
        assert.ok(h);
        const prev = secondLevelOutput(h);
        const tx = sweep(prev, { sequence: 0 }, (sign) => W.toLocalRevokedWitness(sign(theirs.priv.revocation), prev.scriptCode));
        expectAccepted(tx, prev, 'toLocalRevokedWitness');
        expectWeight(witnessOf(tx), WITNESS_WEIGHT.toLocalRevoked(prev.scriptCode.length), 1);
      });

      it('rejects their delayed key on the revocation branch', () => {
        const h = theirs.htlcTxs.find((x) => x.kind === 'success');
        assert.ok(h);
        const prev = secondLevelOutput(h);
        const tx = sweep(prev, { sequence: DELAY_ON_BOB }, (sign) => W.toLocalRevokedWitness(sign(theirs.priv.holderDelayed), prev.scriptCode));
        expectRejected(tx, prev, 'NULLFAIL');
      });
    });

    describe('direct HTLC claims from their commitment', () => {
      // HTLC x: we offered it, so on their commitment it is a received_htlc whose remote_htlcpubkey is ours.
      const ourHtlcKey = theirs.priv.counterpartyHtlc;

      it('verifies the timeout claim of our HTLC with nLockTime = cltv_expiry', () => {
        const prev = htlcOutput(theirs.commit, theirs.xIndex);
        const tx = sweep(prev, { sequence: htlcSequence, locktime: X.cltv }, (sign) => W.htlcTimeoutDirectWitness(sign(ourHtlcKey), prev.scriptCode));
        expectAccepted(tx, prev, 'htlcTimeoutDirectWitness');
        expectWeight(witnessOf(tx), WITNESS_WEIGHT.htlcTimeoutDirect(prev.scriptCode.length), 1);
      });

      it('rejects it with nLockTime = cltv_expiry - 1', () => {
        const prev = htlcOutput(theirs.commit, theirs.xIndex);
        const early = { sequence: htlcSequence, locktime: X.cltv - 1 };
        const tx = sweep(prev, early, (sign) => W.htlcTimeoutDirectWitness(sign(ourHtlcKey), prev.scriptCode));
        expectRejected(tx, prev, 'UNSATISFIED_LOCKTIME');
      });

      it(anchors ? 'rejects it with nSequence 0 (1-block CSV)' : 'rejects it with a final nSequence (nLockTime disabled)', () => {
        const prev = htlcOutput(theirs.commit, theirs.xIndex);
        const sequence = anchors ? 0 : 0xffffffff;
        const tx = sweep(prev, { sequence, locktime: X.cltv }, (sign) => W.htlcTimeoutDirectWitness(sign(ourHtlcKey), prev.scriptCode));
        expectRejected(tx, prev, 'UNSATISFIED_LOCKTIME');
      });

      it("rejects the timeout claim signed with the holder's HTLC key", () => {
        const prev = htlcOutput(theirs.commit, theirs.xIndex);
        const onTime = { sequence: htlcSequence, locktime: X.cltv };
        const tx = sweep(prev, onTime, (sign) => W.htlcTimeoutDirectWitness(sign(theirs.priv.holderHtlc), prev.scriptCode));
        expectRejected(tx, prev, 'NULLFAIL');
      });

      // HTLC y: they offered it, an offered_htlc on their commitment; we claim it with the preimage.
      it('verifies the preimage claim of their HTLC', () => {
        const prev = htlcOutput(theirs.commit, theirs.yIndex);
        const tx = sweep(prev, { sequence: htlcSequence }, (sign) => W.htlcSuccessDirectWitness(sign(ourHtlcKey), Y.preimage, prev.scriptCode));
        expectAccepted(tx, prev, 'htlcSuccessDirectWitness');
        expectWeight(witnessOf(tx), WITNESS_WEIGHT.htlcSuccessDirect(prev.scriptCode.length), 1);
      });

      it('rejects the preimage claim with a wrong preimage (the builder refuses it; a hand-made stack fails the script)', () => {
        const prev = htlcOutput(theirs.commit, theirs.yIndex);
        assert.throws(
          () => sweep(prev, { sequence: htlcSequence }, (sign) => W.htlcSuccessDirectWitness(sign(ourHtlcKey), WRONG_PREIMAGE, prev.scriptCode)),
          (e: unknown) => e instanceof CourtError && e.code === 'COURT_E_INVALID_ARGUMENT',
        );
        const tx = sweep(prev, { sequence: htlcSequence }, (sign) => {
          const w = W.htlcSuccessDirectWitness(sign(ourHtlcKey), Y.preimage, prev.scriptCode);
          w[1] = WRONG_PREIMAGE;
          return w;
        });
        expectRejected(tx, prev, 'EQUALVERIFY');
      });

      it('rejects the preimage claim signed with another key', () => {
        const prev = htlcOutput(theirs.commit, theirs.yIndex);
        const tx = sweep(prev, { sequence: htlcSequence }, (sign) =>
          W.htlcSuccessDirectWitness(sign(theirs.priv.holderHtlc), Y.preimage, prev.scriptCode),
        );
        expectRejected(tx, prev, 'NULLFAIL');
      });

      if (anchors) {
        it('rejects the preimage claim with nSequence 0 (1-block CSV)', () => {
          const prev = htlcOutput(theirs.commit, theirs.yIndex);
          const tx = sweep(prev, { sequence: 0 }, (sign) => W.htlcSuccessDirectWitness(sign(ourHtlcKey), Y.preimage, prev.scriptCode));
          expectRejected(tx, prev, 'UNSATISFIED_LOCKTIME');
        });
      }
    });

    describe('revocation of HTLC outputs (their revoked commitment)', () => {
      const revocationPubkey = theirs.commit.spec.keys.revocationPubkey;
      for (const [name, index] of [
        ['offered', theirs.yIndex],
        ['received', theirs.xIndex],
      ] as const) {
        it(`verifies the revocation spend of the ${name} HTLC output at once (nSequence 0)`, () => {
          const prev = htlcOutput(theirs.commit, index);
          const tx = sweep(prev, { sequence: 0 }, (sign) => W.htlcRevokedWitness(sign(theirs.priv.revocation), revocationPubkey, prev.scriptCode));
          expectAccepted(tx, prev, 'htlcRevokedWitness');
          expectWeight(witnessOf(tx), WITNESS_WEIGHT.htlcRevoked(prev.scriptCode.length), 1);
        });

        it(`rejects a ${name} HTLC revocation spend signed with another key`, () => {
          const prev = htlcOutput(theirs.commit, index);
          const tx = sweep(prev, { sequence: 0 }, (sign) =>
            W.htlcRevokedWitness(sign(theirs.priv.counterpartyHtlc), revocationPubkey, prev.scriptCode),
          );
          expectRejected(tx, prev, 'NULLFAIL');
        });
      }
    });
  });
}

describe('coverage', () => {
  it('ran every expected case: 29 spends accepted, 46 rejected, 27 witness sizes checked', () => {
    // harness: 1 accepted (BOLT #3 vector), 1 rejected.
    // static_remotekey: accepted 12 = funding 1, to_local 2, to_remote 1, HTLC txs 2, second-level output 2,
    //   direct claims 2, HTLC revocation 2; rejected 19 = 2 + 3 + 1 + 4 + 2 + 5 + 2.
    // anchors: accepted 16 = funding 1, to_local 2, to_remote 1, anchors 3, HTLC txs 3 (one fee-bumped),
    //   second-level output 2, direct claims 2, HTLC revocation 2; rejected 26 = 2 + 3 + 2 + 2 + 7 + 2 + 6 + 2.
    // Sizes: every accepted spend built here except the fee-bumped HTLC-timeout (12 + 15).
    assert.deepEqual(
      { accepted: tally.accepted, rejected: tally.rejected, weightChecks: tally.weightChecks },
      { accepted: 1 + 12 + 16, rejected: 1 + 19 + 26, weightChecks: 12 + 15 },
    );
  });

  it('verified a spend built by every witness builder of src/ln/witness.ts', () => {
    const builders = Object.keys(W).filter((k) => k !== 'witnessBytes').sort();
    assert.deepEqual([...tally.acceptedBy].sort(), builders);
  });
});
