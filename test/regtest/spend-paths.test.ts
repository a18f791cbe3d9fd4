/**
 * Issue 3 acceptance: every spend path regtest/spends.ts builds with src/ln, on both channel formats, against a
 * validating regtest node (bitcoind when BITCOIND is set). For each path:
 *  - every fault variant (wrong_key, wrong_remote_key, wrong_preimage) is rejected with -26 and a script-failure
 *    reason at the tip where the correct spend is broadcast;
 *  - a timelocked path is rejected one block before its CSV/CLTV allows ('non-BIP68-final' / 'non-final'), 1-block
 *    CSVs while the parent is still unconfirmed in the mempool; a path without timelock is listed below with the
 *    reason, and is accepted with its parent still in the mempool;
 *  - a path whose branch runs an OP_CHECKSEQUENCEVERIFY / OP_CHECKLOCKTIMEVERIFY (SCRIPT_LOCKED below) is, at the
 *    tip the correct spend is accepted at, rejected with -26 and 'Locktime requirement not satisfied' when built
 *    final at transaction level but one below the script's number (nSequence = csv - 1 / nLockTime = cltv - 1):
 *    only the script can refuse it, so a node treating both opcodes as no-ops fails here; the tables are checked
 *    against the opcodes of the witness script each path spends;
 *  - the correct spend is accepted by sendrawtransaction exactly on time and confirms in the next block.
 * The driver (spend-paths.helpers.ts) runs everything on one node and one block timeline; the tests below judge
 * its records, one describe per path. The last test prints the summary lines and checks the counts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startChain, type RegtestChain } from '../../regtest/chain.js';
import { spendPaths, type PathName } from '../../regtest/spends.js';
import {
  earlyReason,
  FORMATS,
  hasTimelock,
  pathKey,
  planFormat,
  readyTip,
  runSpendPaths,
  scriptLocks,
  spentWitnessScript,
  type Format,
  type LockKind,
  type Probe,
  type SuiteRun,
  type Unit,
} from './spend-paths.helpers.js';

const RPC_VERIFY_REJECTED = -26;
/** Core <= 29 says (non-)mandatory-script-verify-flag; Core 30 renamed them mempool-/block-script-verify-flag-failed. */
const SCRIPT_FAILURE = /^(mandatory-script-verify-flag-failed|non-mandatory-script-verify-flag|mempool-script-verify-flag-failed|block-script-verify-flag-failed) \(/;
const EARLY: Readonly<Record<'non-final' | 'non-BIP68-final', RegExp>> = { 'non-final': /^non-final\b/, 'non-BIP68-final': /^non-BIP68-final\b/ };
/** OP_CSV / OP_CLTV failing in the script (Core <= 29: mandatory-..., Core 30: mempool-...). */
const SCRIPT_LOCKTIME = /^(mandatory|mempool)-script-verify-flag-failed \(Locktime requirement not satisfied\)/;

const REVOCATION = 'revocation: the penalty is immediate by design';
const ANCHOR_KEY = 'anchor by its funding key: spendable at once, so its owner can CPFP the commitment';
/** Every path without a CSV or CLTV, and why (BOLT #3). All other paths must carry a timelock. */
const UNTIMELOCKED: Readonly<Record<Format, Readonly<Partial<Record<PathName, string>>>>> = {
  static_remotekey: {
    'to_local.revoked': REVOCATION,
    'offered_htlc.revoked': REVOCATION,
    'received_htlc.revoked': REVOCATION,
    'timeout_tx_output.revoked': REVOCATION,
    'success_tx_output.revoked': REVOCATION,
    to_remote: 'static_remotekey to_remote is a plain P2WPKH (the 1-block CSV came with option_anchors)',
    'offered_htlc.remote_preimage': 'static_remotekey HTLC scripts have no 1-block CSV; the preimage is the only condition',
    'received_htlc.success_tx': 'HTLC-success has nLockTime 0, and static_remotekey HTLC scripts no 1-block CSV',
  },
  anchors: {
    'to_local.revoked': REVOCATION,
    'offered_htlc.revoked': REVOCATION,
    'received_htlc.revoked': REVOCATION,
    'timeout_tx_output.revoked': REVOCATION,
    'success_tx_output.revoked': REVOCATION,
    'local_anchor.key': ANCHOR_KEY,
    'remote_anchor.key': ANCHOR_KEY,
  },
};
/**
 * The OP_CSV / OP_CLTV each path's branch of its witness script runs (BOLT #3, src/ln/scripts.ts): to_local and
 * the second-level output `to_self_delay OP_CSV`; the anchors' to_remote `1 OP_CSV`; an anchor by anyone
 * `16 OP_CSV`; on anchor channels the `1 OP_CSV` every non-revocation branch of both HTLC scripts ends with
 * (HTLC-timeout and HTLC-success included); the received HTLC's remote-timeout branch `cltv_expiry OP_CLTV`.
 * Not here: the HTLC-timeout transaction's nLockTime, which the signatures enforce (the offered script has no
 * CLTV). Every other path runs no lock in its script.
 */
const SCRIPT_LOCKED: Readonly<Record<Format, Readonly<Partial<Record<PathName, readonly LockKind[]>>>>> = {
  static_remotekey: {
    'to_local.delayed': ['csv'],
    'timeout_tx_output.delayed': ['csv'],
    'success_tx_output.delayed': ['csv'],
    'received_htlc.remote_timeout': ['cltv'],
  },
  anchors: {
    'to_local.delayed': ['csv'],
    to_remote: ['csv'],
    'local_anchor.anyone': ['csv'],
    'remote_anchor.anyone': ['csv'],
    'offered_htlc.timeout_tx': ['csv'],
    'received_htlc.success_tx': ['csv'],
    'timeout_tx_output.delayed': ['csv'],
    'success_tx_output.delayed': ['csv'],
    'offered_htlc.remote_preimage': ['csv'],
    'received_htlc.remote_timeout': ['cltv', 'csv'],
  },
};
const REVOKED_BRANCH = 'the revocation branch bypasses the lock of the other branches';
const CLTV_OF_TIMEOUT = 'the CLTV belongs to the remote-timeout branch; the preimage branch has none';
/** Paths whose witness script has an OP_CSV / OP_CLTV that their branch does not run, and why. */
const LOCK_NOT_ON_BRANCH: Readonly<Record<Format, Readonly<Partial<Record<PathName, string>>>>> = {
  static_remotekey: {
    'to_local.revoked': REVOKED_BRANCH,
    'timeout_tx_output.revoked': REVOKED_BRANCH,
    'success_tx_output.revoked': REVOKED_BRANCH,
    'received_htlc.revoked': REVOKED_BRANCH,
    'received_htlc.success_tx': CLTV_OF_TIMEOUT,
  },
  anchors: {
    'to_local.revoked': REVOKED_BRANCH,
    'timeout_tx_output.revoked': REVOKED_BRANCH,
    'success_tx_output.revoked': REVOKED_BRANCH,
    'offered_htlc.revoked': REVOKED_BRANCH,
    'received_htlc.revoked': REVOKED_BRANCH,
    'received_htlc.success_tx': `its 1 OP_CSV is checked; ${CLTV_OF_TIMEOUT}`,
    'local_anchor.key': 'a valid funding signature leaves true for OP_IFDUP, so OP_NOTIF skips the 16 OP_CSV',
    'remote_anchor.key': 'a valid funding signature leaves true for OP_IFDUP, so OP_NOTIF skips the 16 OP_CSV',
  },
};

/** Paths with no fault variant, and why. */
const FAULTLESS: Readonly<Partial<Record<PathName, string>>> = {
  'local_anchor.anyone': 'no signature: after 16 blocks anyone may sweep it',
  'remote_anchor.anyone': 'no signature: after 16 blocks anyone may sweep it',
};

const counts = { accepted: 0, earlyRejected: 0, badRejected: 0, scriptLockRejected: 0, lockTablesChecked: 0 };
let chain: RegtestChain | undefined;
let run: SuiteRun | undefined;

before(async () => {
  chain = await startChain();
  run = await runSpendPaths(chain);
});
after(async () => {
  await chain?.stop();
});

function node(): RegtestChain {
  assert.ok(chain, 'the regtest node did not start');
  return chain;
}

function unitOf(format: Format, name: PathName): Unit {
  assert.ok(run, 'the driver did not run');
  const u = run.byPath.get(pathKey(format, name));
  assert.ok(u, `no unit ran ${format} ${name}`);
  return u;
}

function assertRejected(p: Probe, reason: RegExp, what: string): void {
  assert.equal(p.accept.allowed, false, `${what}: testmempoolaccept allowed it at tip ${p.tip}`);
  assert.match(p.accept.reason ?? '', reason, `${what}: testmempoolaccept reason`);
  assert.ok(p.send !== undefined && 'error' in p.send, `${what}: sendrawtransaction accepted it at tip ${p.tip}`);
  assert.equal(p.send.error.code, RPC_VERIFY_REJECTED, `${what}: ${p.send.error.message}`);
  assert.match(p.send.error.message, reason, `${what}: sendrawtransaction reason`);
}

/** Why a unit was not accepted, for failure messages. */
function describeSent(u: Unit): string {
  const sent = u.sent === undefined ? 'never broadcast' : 'error' in u.sent.result ? `rejected at tip ${u.sent.tip}: ${JSON.stringify(u.sent.result.error)}` : 'accepted';
  return [sent, ...u.problems].join('; ');
}

/** The parent as the node saw it: the tip it was broadcast at and the block it confirmed in (asked now). */
async function parentOf(u: Unit): Promise<{ seen: number; conf: number }> {
  const p = u.parent;
  assert.ok(p?.built !== undefined && p.sent !== undefined && 'txid' in p.sent.result, `its parent was not accepted: ${p?.label ?? 'none'}`);
  const conf = await node().confirmationHeight(p.built.tx.getId());
  assert.equal(conf, p.sent.tip + 1, `parent ${p.label} broadcast at tip ${p.sent.tip} but confirmed at ${conf ?? 'never'}`);
  return { seen: p.sent.tip, conf };
}

for (const format of FORMATS) {
  const catalogue = spendPaths(format);
  const plan = planFormat(format);
  const untimelocked = UNTIMELOCKED[format];
  const scriptLocked = SCRIPT_LOCKED[format];
  const lockNotOnBranch = LOCK_NOT_ON_BRANCH[format];

  describe(`${format}: ${catalogue.length} spend paths on ${plan.channels.length} channels, against the node`, () => {
    for (const path of catalogue) {
      describe(`${path.name} (by the ${path.spender}, ${path.needsRevoked ? 'revoked' : 'latest'} commitment)`, () => {
        if (path.faults.length > 0) {
          it(`rejects ${path.faults.join(', ')} when the correct spend is due`, () => {
            const u = unitOf(format, path.name);
            assert.ok(u.sent !== undefined && u.accepted, `the correct spend was not accepted: ${describeSent(u)}`);
            assert.deepEqual(
              u.faultProbes.map((f) => f.fault),
              [...path.faults],
              `every fault variant was probed (${u.problems.join('; ')})`,
            );
            for (const { fault, probe } of u.faultProbes) {
              assert.equal(probe.tip, u.sent.tip, `${fault}: probed at the tip the correct spend was accepted at`);
              assertRejected(probe, SCRIPT_FAILURE, fault);
            }
            counts.badRejected++;
          });
        } else {
          it(`has no fault variant (${FAULTLESS[path.name] ?? 'unlisted'})`, () => {
            assert.ok(FAULTLESS[path.name] !== undefined, `${path.name} has no fault variant, and FAULTLESS does not say why`);
            assert.equal(unitOf(format, path.name).faultProbes.length, 0);
          });
        }

        const why = untimelocked[path.name];
        if (why === undefined) {
          it('is rejected exactly one block before its CSV/CLTV allows', async () => {
            const u = unitOf(format, path.name);
            assert.ok(u.built, `not built: ${u.problems.join('; ')}`);
            const t = u.built.timelock;
            assert.ok(hasTimelock(t), `spends.ts gives ${path.name} no timelock, and UNTIMELOCKED does not list it`);
            const parent = await parentOf(u);
            const ready = readyTip(t, parent.seen, parent.conf);
            assert.ok(u.early, `no early probe: ${u.problems.join('; ')}`);
            assert.equal(u.early.tip, ready - 1, 'probed exactly one block early');
            const reason = earlyReason(t, parent.conf);
            assertRejected(u.early, EARLY[reason], `one block early (tip ${u.early.tip}, due at ${ready})`);
            if (reason === 'non-BIP68-final' && t.csv?.blocks === 1) {
              assert.ok(u.early.tip < parent.conf, 'a 1-block CSV is probed while its parent is unconfirmed in the mempool');
            }
            counts.earlyRejected++;
          });
        } else {
          it(`has no timelock (${why}): accepted while its parent is unconfirmed`, async () => {
            const u = unitOf(format, path.name);
            assert.ok(u.built, `not built: ${u.problems.join('; ')}`);
            assert.equal(hasTimelock(u.built.timelock), false, `UNTIMELOCKED lists ${path.name}, but spends.ts gives it a timelock`);
            assert.equal(u.early, undefined);
            const parent = await parentOf(u);
            assert.ok(u.sent !== undefined && u.accepted, `not accepted: ${describeSent(u)}`);
            assert.equal(u.sent.tip, parent.seen, 'broadcast at the tip its parent entered the mempool');
            assert.ok(u.sent.tip < parent.conf, 'its parent was still unconfirmed');
          });
        }

        const locks = scriptLocked[path.name] ?? [];
        it(`its witness script's OP_CSV / OP_CLTV match the tables (${locks.length > 0 ? `runs ${locks.join(' + ')}` : 'runs none'})`, () => {
          const u = unitOf(format, path.name);
          assert.ok(u.built, `not built: ${u.problems.join('; ')}`);
          const ws = spentWitnessScript(u.built);
          const inScript = ws === undefined ? [] : scriptLocks(ws);
          const kinds = new Set(inScript.map((l) => l.lock));
          assert.equal(inScript.length, kinds.size, 'at most one OP_CSV and one OP_CLTV per script');
          const t = u.built.timelock;
          for (const lock of locks) {
            const l = inScript.find((x) => x.lock === lock);
            assert.ok(l, `SCRIPT_LOCKED says ${path.name} runs an ${lock}, but its witness script has none`);
            assert.equal(lock === 'csv' ? t.csv?.blocks : t.cltv, l.value, `spends.ts' Timelock ${lock} is the script's number`);
          }
          const offBranch = [...kinds].filter((k) => !locks.includes(k));
          assert.equal(
            offBranch.length > 0,
            lockNotOnBranch[path.name] !== undefined,
            `${path.name}: locks in its script but not in SCRIPT_LOCKED: [${offBranch.join(', ')}]; LOCK_NOT_ON_BRANCH: ${lockNotOnBranch[path.name] ?? 'unlisted'}`,
          );
          counts.lockTablesChecked++;
        });

        if (locks.length > 0) {
          it(`rejects a spend final at transaction level but below its script's ${locks.map((l) => (l === 'csv' ? 'OP_CSV' : 'OP_CLTV')).join(' / ')} (script_early)`, () => {
            const u = unitOf(format, path.name);
            assert.ok(u.built && u.sent !== undefined && u.accepted, `the correct spend was not accepted: ${describeSent(u)}`);
            assert.deepEqual(
              u.scriptProbes.map((p) => p.lock).sort(),
              [...locks].sort(),
              `one probe per lock its branch runs (${u.problems.join('; ')})`,
            );
            for (const p of u.scriptProbes) {
              const what = `${p.lock} ${p.value}, ${p.lock === 'csv' ? `nSequence ${p.sequence}` : `nLockTime ${p.locktime}`}`;
              if (p.lock === 'csv') {
                assert.equal(p.sequence, p.value - 1, `${what}: nSequence = csv - 1`);
                assert.equal(p.locktime, u.built.tx.locktime, `${what}: nLockTime as in the correct spend`);
              } else {
                assert.equal(p.locktime, p.value - 1, `${what}: nLockTime = cltv - 1`);
                assert.equal(p.sequence, u.built.tx.ins[0]?.sequence, `${what}: nSequence as in the correct spend`);
                assert.ok(p.locktime <= p.probe.tip, `${what}: final at tip ${p.probe.tip}`);
              }
              assert.equal(p.probe.tip, u.sent.tip, `${what}: probed at the tip the correct spend was accepted at`);
              assertRejected(p.probe, SCRIPT_LOCKTIME, `below the script's lock (${what})`);
            }
            counts.scriptLockRejected++;
          });
        } else {
          it('runs no OP_CSV / OP_CLTV in its script: no script_early probe', () => {
            assert.deepEqual(unitOf(format, path.name).scriptProbes, []);
          });
        }

        it('is accepted exactly on time by sendrawtransaction and confirms in the next block', async () => {
          const u = unitOf(format, path.name);
          assert.deepEqual(u.problems, [], u.label);
          for (let p = u.parent; p !== undefined; p = p.parent) {
            assert.ok(p.accepted, `ancestor not accepted: ${p.label}`);
            assert.equal(p.confirmedAt, (p.sent?.tip as number) + 1, `ancestor confirmed late: ${p.label}`);
          }
          assert.ok(u.built && u.sent, 'never broadcast');
          const result = u.sent.result;
          assert.ok('txid' in result, `rejected at tip ${u.sent.tip}: ${'error' in result ? JSON.stringify(result.error) : ''}`);
          const txid = u.built.tx.getId();
          assert.equal(result.txid, txid);
          const parent = await parentOf(u);
          assert.equal(u.sent.tip, readyTip(u.built.timelock, parent.seen, parent.conf), 'broadcast exactly when due');
          assert.equal(await node().confirmationHeight(txid), u.sent.tip + 1, 'confirmed in the next block');
          counts.accepted++;
        });
      });
    }
  });
}

it('summary: every path accepted, every timelock enforced, every fault rejected', () => {
  const size = Object.fromEntries(FORMATS.map((f) => [f, spendPaths(f).length])) as Record<Format, number>;
  const paths = FORMATS.reduce((n, f) => n + size[f], 0);
  const timelocked = FORMATS.reduce((n, f) => n + spendPaths(f).filter((p) => UNTIMELOCKED[f][p.name] === undefined).length, 0);
  const faultable = FORMATS.reduce((n, f) => n + spendPaths(f).filter((p) => p.faults.length > 0).length, 0);
  const scriptLockedPaths = FORMATS.reduce((n, f) => n + spendPaths(f).filter((p) => (SCRIPT_LOCKED[f][p.name] ?? []).length > 0).length, 0);
  process.stdout.write(`regtest spend paths: accepted=${counts.accepted} early_rejected=${counts.earlyRejected} bad_rejected=${counts.badRejected}\n`);
  process.stdout.write(
    `regtest spend paths: paths=${paths} timelocked=${timelocked} faultable=${faultable} script_locked=${scriptLockedPaths} ` +
      `script_locktime_rejected=${counts.scriptLockRejected} (static_remotekey=${size.static_remotekey}, anchors=${size.anchors})\n`,
  );
  assert.ok(run, 'the driver did not run');
  const units: readonly Unit[] = run.units;

  // The tables name real paths only, and the run covered each catalogued path exactly once.
  for (const f of FORMATS) {
    const names = spendPaths(f).map((p) => p.name);
    for (const n of Object.keys(UNTIMELOCKED[f])) assert.ok(names.includes(n as PathName), `UNTIMELOCKED.${f} names no path: ${n}`);
    for (const n of Object.keys(SCRIPT_LOCKED[f])) assert.ok(names.includes(n as PathName), `SCRIPT_LOCKED.${f} names no path: ${n}`);
    for (const n of Object.keys(LOCK_NOT_ON_BRANCH[f])) assert.ok(names.includes(n as PathName), `LOCK_NOT_ON_BRANCH.${f} names no path: ${n}`);
    const counted = units.filter((u) => u.step?.counted === true && u.step.format === f).map((u) => u.step?.path.name);
    assert.deepEqual([...counted].sort(), [...names].sort(), `${f}: each path ran once`);
    const built = units.filter((u) => u.step?.counted === true && u.step.format === f && u.built !== undefined);
    assert.equal(built.filter((u) => u.timelocked).length, names.length - Object.keys(UNTIMELOCKED[f]).length, `${f}: timelocks of spends.ts vs the table`);
  }
  for (const n of Object.keys(FAULTLESS)) {
    assert.ok(FORMATS.some((f) => spendPaths(f).some((p) => p.name === n && p.faults.length === 0)), `FAULTLESS names no faultless path: ${n}`);
  }

  // The driver probes the locks it reads from the scripts and spends.ts' Timelock; the table must agree.
  const probed = units.filter((u) => u.step?.counted === true && u.scriptProbes.length > 0).length;
  assert.equal(probed, scriptLockedPaths, 'paths the driver found an in-script lock on vs SCRIPT_LOCKED');

  assert.ok(timelocked > 0 && faultable > 0 && scriptLockedPaths > 0);
  assert.equal(counts.lockTablesChecked, paths, "every path's witness script checked against the lock tables");
  assert.equal(counts.scriptLockRejected, scriptLockedPaths, 'every in-script lock enforced (script_early)');
  assert.equal(counts.accepted, paths, 'accepted on time');
  assert.equal(counts.earlyRejected, timelocked, 'rejected one block early');
  assert.equal(counts.badRejected, faultable, 'every fault variant rejected');
});
