/** Channels for the simulator tests: a fake funding UTXO (no chain needed) and deterministic keys. */
import type { CommitmentFormat } from '../../src/ln/commitment.js';
import { sha256, toHex } from '../../src/util/bytes.js';
import { walletKey } from '../../regtest/sim-keys.js';
import { ChannelSimulator, type OpenParams } from '../../regtest/simulator.js';
import type { Utxo } from '../../regtest/sim-tx.js';

export const FUNDER_KEY = walletKey('simulator test funder');
export const FEE_KEY = walletKey('simulator test fee input');
export const DEST = walletKey('simulator test destination').scriptPubKey;

/** A UTXO of `amountSat` held by `key`, at a made-up outpoint named by `label`. */
export function fakeUtxo(label: string, amountSat: bigint, key = FUNDER_KEY): Utxo {
  return { txid: toHex(sha256(new TextEncoder().encode(`utxo ${label}`))), vout: 1, amountSat, privkey: key.privkey };
}

export const CAPACITY_SAT = 1_000_000n;

/** alice funds 1,000,000 sat and pushes `pushMsat` to bob. */
export function openChannel(format: CommitmentFormat, over: Partial<OpenParams> = {}): ChannelSimulator {
  return ChannelSimulator.open({
    format,
    funder: 'alice',
    capacitySat: CAPACITY_SAT,
    pushMsat: 300_000_000n,
    toSelfDelay: { alice: 144, bob: 30 },
    dustLimitSat: { alice: 546n, bob: 600n },
    feeratePerKw: 2_500,
    funding: { utxo: fakeUtxo(`${format} funding`, 1_500_000n), satPerVb: 1 },
    ...over,
  });
}
