/** The first snapshot's check against its funding output (src/arbitrator/funding.ts), over a fake OutputSource. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkFundingOutput } from '../../src/arbitrator/funding.js';
import { checkSnapshot, ourBasepointsFrom, parseSnapshot, type CheckedSnapshot } from '../../src/arbitrator/snapshot.js';
import type { OutputInfo, OutputSource } from '../../src/chain/ports.js';
import { KeyRing } from '../../src/keys/keyring.js';
import { p2wpkh, p2wsh } from '../../src/ln/scripts.js';
import { CourtError, type CourtErrorCode } from '../../src/util/errors.js';
import { SIM_COIN_TYPE } from '../../regtest/sim-keys.js';
import { openChannel } from '../simulator/fixture.js';

function checked(): CheckedSnapshot {
  const sim = openChannel('anchors');
  sim.commit();
  const ring = KeyRing.fromSeed(sim.parties.alice.seed, SIM_COIN_TYPE);
  const snap = parseSnapshot(sim.snapshot('alice'));
  return checkSnapshot(
    snap,
    ourBasepointsFrom(snap, (loc) => ring.publicKey(loc)),
  );
}

const source = (out: OutputInfo | undefined, seen: string[] = []): OutputSource => ({
  getOutput: async (op) => {
    seen.push(`${op.txid}:${op.vout}`);
    return out;
  },
});

const refusedWith = (code: CourtErrorCode) => (e: unknown) => e instanceof CourtError && e.code === code;

describe('checkFundingOutput', () => {
  const c = checked();
  // The P2WSH of the 2-of-2, as the funding transaction pays it.
  const spk = (): Uint8Array => p2wsh(c.local.fundingScript);

  it('accepts the output holding the capacity in the 2-of-2, spent or not, and asks for the channel point', async () => {
    const seen: string[] = [];
    assert.deepEqual(await checkFundingOutput(source({ valueSat: c.capacitySat, scriptPubKey: spk(), spent: false }, seen), c), { spent: false });
    assert.deepEqual(await checkFundingOutput(source({ valueSat: c.capacitySat, scriptPubKey: spk(), spent: true }), c), { spent: true });
    assert.deepEqual(seen, [c.snapshot.chanPoint]);
  });

  it('refuses an output holding less (or more) than the capacity', async () => {
    await assert.rejects(checkFundingOutput(source({ valueSat: c.capacitySat - 1n, scriptPubKey: spk(), spent: false }), c), refusedWith('COURT_E_FUNDING_MISMATCH'));
    await assert.rejects(checkFundingOutput(source({ valueSat: c.capacitySat + 1n, scriptPubKey: spk(), spent: true }), c), refusedWith('COURT_E_FUNDING_MISMATCH'));
  });

  it('refuses an output with another script, and an output the node does not know', async () => {
    const other = p2wpkh(c.snapshot.remote.fundingPubkey);
    await assert.rejects(checkFundingOutput(source({ valueSat: c.capacitySat, scriptPubKey: other, spent: false }), c), refusedWith('COURT_E_FUNDING_MISMATCH'));
    await assert.rejects(checkFundingOutput(source(undefined), c), refusedWith('COURT_E_FUNDING_UNKNOWN'));
  });
});
