/**
 * BOLT #3 construction and signing throughput.
 *
 * commit_sign_per_s_hN: per second, for a commitment with N HTLCs (half offered, half received, anchors
 * format): derive the commitment's keys from basepoints and the per-commitment point, build the commitment,
 * build every second-level HTLC transaction, and sign the commitment and every HTLC transaction through the
 * LocalSigner (1 + N signatures). commit_overhead_ratio_h483 divides the time of one 483-HTLC commitment by
 * the time of its 484 raw signatures measured in the same run: the cost of everything but the signatures.
 */
import { buildCommitment, type CommitmentHtlc, type CommitmentSpec } from '../src/ln/commitment.js';
import { buildHtlcTxs, commitmentSighash, htlcTxSighash } from '../src/ln/htlc.js';
import { derivePubkey, deriveRevocationPubkey, perCommitmentPoint, singleTweak } from '../src/keys/derive.js';
import { KeyFamily, KeyRing } from '../src/keys/keyring.js';
import { SECP_BACKENDS, secp, useSecp, type Secp256k1 } from '../src/keys/secp.js';
import { LocalSigner, type SignRequest } from '../src/keys/signer.js';
import { SIGHASH_ALL } from '../src/keys/sighash.js';
import { sha256 } from '../src/util/bytes.js';
import { emit, opsPerSecond } from './harness.js';

const local = KeyRing.fromSeed(sha256(Uint8Array.of(1)), 1);
const remote = KeyRing.fromSeed(sha256(Uint8Array.of(2)), 1);
const signer = new LocalSigner(local);
const loc = (family: number) => ({ family, index: 0 });
const pcp = perCommitmentPoint(sha256(Uint8Array.of(3)));

function htlcs(n: number): CommitmentHtlc[] {
  const out: CommitmentHtlc[] = [];
  for (let i = 0; i < n; i++) {
    out.push({
      direction: i % 2 === 0 ? 'offered' : 'received',
      amountMsat: 20_000_000n + BigInt(i) * 1000n,
      paymentHash: sha256(Uint8Array.of(i & 0xff, i >> 8)),
      cltvExpiry: 850_000 + (i % 144),
    });
  }
  return out;
}

function specFor(n: number): Omit<CommitmentSpec, 'keys'> {
  const hs = htlcs(n);
  const inHtlcs = hs.reduce((a, h) => a + h.amountMsat, 0n);
  return {
    format: 'anchors',
    fundingTxid: 'aa'.repeat(32),
    fundingVout: 0,
    fundingSat: 100_000_000n,
    commitmentNumber: 1000,
    obscuringFactor: 0x1234567890,
    holderIsFunder: true,
    toLocalMsat: 80_000_000_000n - inHtlcs,
    toRemoteMsat: 20_000_000_000n,
    feeratePerKw: 2500,
    dustLimitSat: 354n,
    toSelfDelay: 144,
    htlcs: hs,
  };
}

/** One full commitment: keys, transactions, 1 + N signatures. Returns the signature count. */
function commitAndSign(base: Omit<CommitmentSpec, 'keys'>): number {
  const htlcBase = local.publicKey(loc(KeyFamily.HtlcBase));
  const keys = {
    localFundingPubkey: local.publicKey(loc(KeyFamily.MultiSig)),
    remoteFundingPubkey: remote.publicKey(loc(KeyFamily.MultiSig)),
    revocationPubkey: deriveRevocationPubkey(remote.publicKey(loc(KeyFamily.RevocationBase)), pcp),
    localDelayedPubkey: derivePubkey(local.publicKey(loc(KeyFamily.DelayBase)), pcp),
    localHtlcPubkey: derivePubkey(htlcBase, pcp),
    remoteHtlcPubkey: derivePubkey(remote.publicKey(loc(KeyFamily.HtlcBase)), pcp),
    remotePaymentPubkey: remote.publicKey(loc(KeyFamily.PaymentBase)),
  };
  const c = buildCommitment({ ...base, keys });
  const htlcKey = { locator: loc(KeyFamily.HtlcBase), singleTweak: singleTweak(pcp, htlcBase) };
  const reqs: SignRequest[] = [{ key: { locator: loc(KeyFamily.MultiSig) }, digest: commitmentSighash(c) }];
  for (const h of buildHtlcTxs(c)) reqs.push({ key: htlcKey, digest: htlcTxSighash(h, SIGHASH_ALL) });
  return signer.signDigestsSync(reqs).length;
}

function signRate(b: Secp256k1): number {
  const keys = Array.from({ length: 64 }, (_, i) => sha256(Uint8Array.of(i, 1)));
  const digests = Array.from({ length: 64 }, (_, i) => sha256(Uint8Array.of(i, 2)));
  return opsPerSecond((i) => {
    b.sign(digests[i & 63] as Uint8Array, keys[(i >> 6) & 63] as Uint8Array);
  });
}

/** BOLT #3 revocationpubkey derivations per second (two variable-base multiplications) on the active backend. */
function revocationRate(): number {
  const base = local.publicKey(loc(KeyFamily.RevocationBase));
  const points = Array.from({ length: 64 }, (_, i) => perCommitmentPoint(sha256(Uint8Array.of(i, 3))));
  return opsPerSecond((i) => {
    deriveRevocationPubkey(base, points[i & 63] as Uint8Array);
  }, { warmMs: 300, roundMs: 300 });
}

export function runLnBenches(): void {
  const backend = secp().name;
  for (const name of ['noble', 'tiny'] as const) {
    emit({ bench: `sign_per_s_${name}`, value: Math.round(signRate(SECP_BACKENDS[name])), unit: 'sig/s' });
    useSecp(name);
    emit({ bench: `revocation_derive_per_s_${name}`, value: Math.round(revocationRate()), unit: 'derivation/s' });
  }
  useSecp(backend);
  const signPerS = signRate(secp());
  emit({ bench: 'sign_per_s', value: Math.round(signPerS), unit: 'sig/s', backend });

  let perCommit483 = 0;
  for (const n of [0, 10, 483]) {
    const base = specFor(n);
    const sigs = commitAndSign(base);
    if (sigs !== n + 1) throw new Error(`expected ${n + 1} signatures, got ${sigs}`);
    const rate = opsPerSecond(() => commitAndSign(base), n === 483 ? { warmMs: 1000, roundMs: 800, rounds: 5 } : {});
    emit({ bench: `commit_sign_per_s_h${n}`, value: Number(rate.toFixed(2)), unit: 'commit/s', htlcs: n, signatures: n + 1, backend });
    if (n === 483) perCommit483 = 1 / rate;
  }
  // Re-measure raw signing right after, so the ratio's two halves see the same machine conditions.
  const signAfter = signRate(secp());
  const sigTime = 484 / ((signPerS + signAfter) / 2);
  emit({ bench: 'commit_overhead_ratio_h483', value: Number((perCommit483 / sigTime).toFixed(3)), unit: 'ratio', goal: 1.5, backend });
}
