/**
 * Never lose a wake-up, a result or a watch event, on the real node (issue 9 items 10 and 11), both formats. A
 * SQLite error is injected (a trigger on transition_log, for one channel and event kind) at:
 *   - the wake-up at an outgoing HTLC's cutoff: the next block still takes the channel on chain, and the node
 *     accepts the commitment courtd signs;
 *   - the delivery of the block holding their commitment, then ResolveClose's result (twice), then ContractClosed's
 *     pulse (three times): the channel still reaches WaitingFullResolution, dated by the spend's block, without a
 *     restart.
 * Meanwhile a spend watch on the funding outpoint whose handler throws the first time gets the spend again.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startChain, type RegtestChain } from '../../regtest/chain.js';
import type { SpendEvent } from '../../src/chain/ports.js';
import { ARBITRATOR_EVENT } from '../../src/store/codes.js';
import { sha256 } from '../../src/util/bytes.js';
import { eventually } from '../helpers/async.js';
import { openOnChain, startCourt, tempDir, untilState, type Court } from './arbitrator.helpers.js';

/** Arms faults on `court`'s briefcase: the next `times` commits of `eventKind` for `chanPoint` fail. */
function faults(court: Court): { arm: (chanPoint: string, eventKind: number, times: number) => void; fired: (chanPoint: string) => number } {
  const armed = new Map<string, number>();
  const fired = new Map<string, number>();
  court.db.function('court_test_fault', (cp: unknown, kind: unknown) => {
    const key = `${String(cp)}/${String(kind)}`;
    const left = armed.get(key) ?? 0;
    if (left <= 0) return 0;
    armed.set(key, left - 1);
    fired.set(String(cp), (fired.get(String(cp)) ?? 0) + 1);
    return 1;
  });
  court.db.exec(
    `CREATE TEMP TRIGGER court_test_fault BEFORE INSERT ON main.transition_log
     WHEN court_test_fault(NEW.machine_id, NEW.event_kind) BEGIN SELECT RAISE(ABORT, 'injected fault'); END`,
  );
  return { arm: (cp, kind, times) => armed.set(`${cp}/${kind}`, times), fired: (cp) => fired.get(cp) ?? 0 };
}

const kindOf = (court: Court, cp: string): string =>
  (JSON.parse(court.db.prepare<[string], { detail: string }>('SELECT detail FROM arbitrator_state WHERE chan_point = ?').get(cp)?.detail ?? '{}') as { kind?: string }).kind ??
  'none';

describe('ChainArbitrator on regtest: faults lose nothing', () => {
  let node: RegtestChain;
  let court: Court | undefined;
  let f: ReturnType<typeof faults>;
  let tmp: ReturnType<typeof tempDir>;

  before(async () => {
    node = await startChain();
    tmp = tempDir('arbitrator-faults');
  });
  after(async () => {
    await court?.stop();
    await node?.stop();
    tmp?.remove();
  });

  /** Mines one block and waits until the court's chain layer delivered it. */
  const mineOne = async (c: Court): Promise<number> => {
    await node.mine(1);
    const h = await node.height();
    await eventually(() => (c.chain.dispatcher.tip()?.height ?? 0) >= h, 10_000, `block ${h} delivered`);
    await c.arb.idle();
    return h;
  };

  for (const format of ['static_remotekey', 'anchors'] as const) {
    it(`a failed wake-up is armed again: the next block broadcasts our commitment (${format})`, async () => {
      // fails on a1a5213: the wake-up was popped and lost with its failed commit; the channel stayed in Default.
      const sim = await openOnChain(node, format);
      const cutoff = (await node.height()) + 4;
      sim.addHtlc('alice', 30_000_000n, cutoff, sha256(new TextEncoder().encode(`faults wake ${format}`)));
      sim.commit();
      court ??= await startCourt(node, sim.parties.alice.seed, join(tmp.dir, 'briefcase.sqlite'));
      f ??= faults(court);
      const c = court;
      const cp = sim.chanPoint;
      await c.arb.updateChannel(sim.snapshot('alice'));
      f.arm(cp, ARBITRATOR_EVENT.BlockConnected, 1);
      while ((await mineOne(c)) < cutoff);
      assert.equal(f.fired(cp), 1, 'the wake-up at the cutoff failed');
      assert.equal(kindOf(c, cp), 'Default');
      await mineOne(c);
      await untilState(c, cp, 'CommitmentBroadcasted');
      assert.ok(await node.inMempool(sim.commitment('alice', sim.latestNumber).txid), 'the node accepted our commitment');
      await mineOne(c);
      await untilState(c, cp, 'WaitingFullResolution');
    });

    it(`a failed spend delivery, result commit and pulse: still resolved, and a throwing watch handler gets the spend again (${format})`, async () => {
      // fails on a1a5213: the spend's failed delivery was lost (the channel stayed in Default), and the watch
      // handler's event was dropped.
      const sim = await openOnChain(node, format);
      sim.commit();
      court ??= await startCourt(node, sim.parties.alice.seed, join(tmp.dir, 'briefcase.sqlite'));
      f ??= faults(court);
      const c = court;
      const cp = sim.chanPoint;
      await c.arb.updateChannel(sim.snapshot('alice'));
      const seen: SpendEvent[] = [];
      let throws = 1;
      await c.chain.watches.watchSpend({ txid: sim.fundingTxid, vout: sim.fundingVout }, await node.height(), (e) => {
        if (throws-- > 0) throw new Error('consumer busy');
        seen.push(e);
      }).ready;
      f.arm(cp, ARBITRATOR_EVENT.BlockConnected, 1);
      f.arm(cp, ARBITRATOR_EVENT.CloseConfirmed, 2);
      f.arm(cp, ARBITRATOR_EVENT.Persisted, 3);
      const theirs = sim.signedCommitment('bob', sim.currentNumber);
      await node.send(theirs.toHex());
      const spendHeight = await mineOne(c);
      assert.equal(kindOf(c, cp), 'Default', 'the spend delivery failed');
      for (let i = 0; i < 6 && kindOf(c, cp) !== 'WaitingFullResolution'; i++) await mineOne(c);
      assert.equal(kindOf(c, cp), 'WaitingFullResolution');
      assert.equal(f.fired(cp), 6, 'every injected fault fired');
      const s = await c.arb.state(cp);
      assert.equal(s.kind === 'WaitingFullResolution' ? s.close.txid : '', theirs.getId());
      assert.equal(s.kind === 'WaitingFullResolution' ? s.close.height : 0, spendHeight);
      assert.equal(seen.length, 1, 'the watch handler got the spend once it stopped throwing');
      assert.equal(seen[0]?.spenderTxid, theirs.getId());
      assert.equal(seen[0]?.height, spendHeight);
    });
  }
});
