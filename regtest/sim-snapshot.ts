/**
 * The channel snapshot a node sends courtd (ARCHITECTURE.md "Channel snapshot"), built from the simulator's state
 * for one peer. A plain JSON-ready object: amounts as decimal strings, keys and signatures as hex, no HTTP.
 *
 * Conventions chosen here (the architecture leaves them open):
 *  - Every commitment, local or remote, is described from the snapshot owner's view, as lnd stores them:
 *    `toLocalMsat` is the owner's balance and `toRemoteMsat` the peer's, HTLC `direction` is incoming/outgoing
 *    for the owner. Balances are before commitment fee and anchors (the CommitmentSpec inputs of src/ln).
 *  - Signatures are 64-byte compact (r || s) hex, as BOLT #2 commitment_signed carries them; the sighash type of
 *    HTLC signatures is implied by the commitment type (ALL, or SINGLE|ANYONECANPAY on anchors).
 */
import type { ChannelSnapshotJson, SnapshotCommitmentJson, SnapshotHtlcJson } from '../src/arbitrator/snapshot.js';
import { toHex } from '../src/util/bytes.js';
import { other, type PartyName } from './sim-keys.js';
import type { ChannelSimulator, ChannelState } from './simulator.js';

/** The wire format is courtd's own (src/arbitrator/snapshot.ts), without the `v` the briefcase adds. */
export type SnapshotHtlc = SnapshotHtlcJson;
export type SnapshotCommitment = SnapshotCommitmentJson;
export type ChannelSnapshot = Omit<ChannelSnapshotJson, 'v'>;

/** Fields a node knows and the simulator does not. */
export interface SnapshotExtras {
  /** Height from which to look for the funding spend. Default 0. */
  readonly fundingHeightHint?: number;
  readonly shortChannelId?: string;
  /** The local commitment to describe (default the latest): an older one answers courtd's request for it. */
  readonly localNumber?: number;
}

function commitmentView(sim: ChannelSimulator, owner: PartyName, holder: PartyName, state: ChannelState): SnapshotCommitment {
  return {
    number: state.number,
    perCommitmentPoint: toHex(sim.parties[holder].perCommitmentPoint(state.number)),
    feeratePerKw: state.feeratePerKw,
    toLocalMsat: state.balanceMsat[owner].toString(),
    toRemoteMsat: state.balanceMsat[other(owner)].toString(),
    htlcs: state.htlcs.map((h) => ({
      htlcId: h.htlcId,
      direction: h.offerer === owner ? 'outgoing' : 'incoming',
      amountMsat: h.amountMsat.toString(),
      paymentHash: toHex(h.paymentHash),
      cltvExpiry: h.cltvExpiry,
    })),
  };
}

/**
 * `owner`'s snapshot: its latest commitment with the peer's signatures, and the peer's current (oldest unrevoked)
 * commitment plus the pending one when the peer has not yet revoked the one before it.
 */
export function channelSnapshot(sim: ChannelSimulator, owner: PartyName, extras: SnapshotExtras = {}): ChannelSnapshot {
  const peer = other(owner);
  const me = sim.parties[owner];
  const them = sim.parties[peer];
  const latest = sim.latestNumber;
  const local = extras.localNumber ?? latest;
  const sigs = sim.remoteSignatures(owner, local);
  const snap: ChannelSnapshot = {
    chanPoint: sim.chanPoint,
    capacitySat: sim.capacitySat.toString(),
    commitmentType: sim.format,
    initiator: sim.funder === owner ? 'local' : 'remote',
    fundingHeightHint: extras.fundingHeightHint ?? 0,
    local: {
      keyLocators: { ...me.locators },
      dustLimitSat: sim.dustLimitSat[owner].toString(),
      toSelfDelay: sim.toSelfDelay[owner],
    },
    remote: {
      fundingPubkey: toHex(them.fundingPubkey),
      revocationBasepoint: toHex(them.revocationBasepoint),
      paymentBasepoint: toHex(them.paymentBasepoint),
      delayedPaymentBasepoint: toHex(them.delayedPaymentBasepoint),
      htlcBasepoint: toHex(them.htlcBasepoint),
      dustLimitSat: sim.dustLimitSat[peer].toString(),
      toSelfDelay: sim.toSelfDelay[peer],
    },
    localCommitment: {
      ...commitmentView(sim, owner, owner, sim.state(local)),
      remoteSignature: toHex(sigs.commitment),
      remoteHtlcSignatures: sigs.htlcs.map(toHex),
    },
    remoteCommitments: {
      current: commitmentView(sim, owner, peer, sim.state(sim.currentNumber)),
      ...(sim.hasPending ? { pending: commitmentView(sim, owner, peer, sim.state(latest)) } : {}),
    },
  };
  return extras.shortChannelId === undefined ? snap : { ...snap, shortChannelId: extras.shortChannelId };
}
