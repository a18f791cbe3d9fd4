/**
 * Bitcoin Core's mempool acceptance, rebuilt on bcoin's primitives (see ../shared/design/bcoin-regtest.md).
 *
 * Stock bcoin accepts zero-fee transactions by priority, refuses every double-spend (no replacement), keeps
 * orphans silently and reports every script failure as a bare 'non-mandatory-script-verify-flag'. acceptTx runs
 * Core's checks in Core's order (PreChecks, then the policy and consensus script checks) and throws a
 * RejectError carrying Core's RPC code and reason, so callers can match on code and reason prefix as they
 * would with bitcoind:
 *   -26 policy or consensus rejection ('non-final', 'non-BIP68-final', 'dust', 'min relay fee not met, a < b',
 *       'insufficient fee, rejecting replacement ...', 'mandatory-script-verify-flag-failed (...)', ...)
 *   -25 missing inputs ('bad-txns-inputs-missingorspent') or a fee above maxfeerate
 *   -27 'Transaction outputs already in utxo set'
 * Replacement is full-RBF with BIP125 rules 3, 4, 5 and 6 (Core 28 default).
 */

/** Core's minimum relay feerate and incremental relay feerate, sat per kvB (1 sat/vB). */
export const MIN_RELAY_SAT_PER_KVB = 1000;
export const INCREMENTAL_RELAY_SAT_PER_KVB = 1000;
/** Core's default maxfeerate for sendrawtransaction / testmempoolaccept: 0.10 BTC/kvB. */
export const DEFAULT_MAX_FEERATE_SAT_PER_KVB = 10_000_000;
/** BIP125 rule 5 (Core's MAX_REPLACEMENT_CANDIDATES). */
const MAX_REPLACEMENTS = 100;

/** RPC error codes of Bitcoin Core used by the mempool. */
export const RPC_VERIFY_ERROR = -25;
export const RPC_VERIFY_REJECTED = -26;
export const RPC_VERIFY_ALREADY_IN_CHAIN = -27;

/** A Core-style rejection: what sendrawtransaction reports as {code, message}. */
export class RejectError extends Error {
  constructor(
    readonly rpcCode: number,
    readonly reason: string,
  ) {
    super(reason);
    this.name = 'RejectError';
  }
}

/** Core's ScriptErrorString for the bcoin ScriptError codes a BOLT #3 spend can hit. */
const SCRIPT_ERROR_TEXT: Record<string, string> = {
  EVAL_FALSE: 'Script evaluated without error but finished with a false/empty top stack element',
  VERIFY: 'Script failed an OP_VERIFY operation',
  EQUALVERIFY: 'Script failed an OP_EQUALVERIFY operation',
  CHECKMULTISIGVERIFY: 'Script failed an OP_CHECKMULTISIGVERIFY operation',
  CHECKSIGVERIFY: 'Script failed an OP_CHECKSIGVERIFY operation',
  NUMEQUALVERIFY: 'Script failed an OP_NUMEQUALVERIFY operation',
  UNSATISFIED_LOCKTIME: 'Locktime requirement not satisfied',
  NEGATIVE_LOCKTIME: 'Negative locktime',
  NULLFAIL: 'Signature must be zero for failed CHECK(MULTI)SIG operation',
  MINIMALIF: 'OP_IF/NOTIF argument must be minimal',
  MINIMALDATA: 'Data push larger than necessary',
  SIG_DER: 'Non-canonical DER signature',
  SIG_HIGH_S: 'Non-canonical signature: S value is unnecessarily high',
  SIG_HASHTYPE: 'Signature hash type missing or not understood',
  SIG_NULLDUMMY: 'Dummy CHECKMULTISIG argument must be zero',
  PUBKEYTYPE: 'Public key is neither compressed or uncompressed',
  WITNESS_PUBKEYTYPE: 'Using non-compressed keys in segwit',
  CLEANSTACK: 'Stack size must be exactly one after execution',
  INVALID_STACK_OPERATION: 'Operation not valid with the current stack size',
  UNBALANCED_CONDITIONAL: 'Invalid OP_IF construction',
  WITNESS_PROGRAM_MISMATCH: 'Witness program hash mismatch',
  WITNESS_PROGRAM_WITNESS_EMPTY: 'Witness program was passed an empty witness',
  WITNESS_PROGRAM_WRONG_LENGTH: 'Witness program has incorrect length',
  WITNESS_MALLEATED: 'Witness requires empty scriptSig',
  WITNESS_UNEXPECTED: 'Witness provided for non-witness script',
  OP_RETURN: 'OP_RETURN was encountered',
  BAD_OPCODE: 'Opcode missing or not understood',
  DISABLED_OPCODE: 'Attempted to use a disabled opcode',
  PUSH_SIZE: 'Push value size limit exceeded',
  STACK_SIZE: 'Stack size limit exceeded',
  DISCOURAGE_UPGRADABLE_NOPS: 'NOPx reserved for soft-fork upgrades',
  DISCOURAGE_UPGRADABLE_WITNESS_PROGRAM: 'Witness version reserved for soft-fork upgrades',
};

/** What a successful check yields. */
export interface Accepted {
  readonly entry: any;
  readonly view: any;
  readonly feeSat: number;
  readonly vsize: number;
  /** Mempool entries this transaction replaces (direct conflicts; their descendants go with them). */
  readonly conflicts: readonly any[];
}

export interface AcceptOptions {
  /** Sat per kvB; 0 disables the check (Core's maxfeerate=0). */
  readonly maxFeeRateSatPerKvB: number;
  /**
   * Core's bypass_limits, used when transactions of disconnected blocks go back to the mempool: no minimum relay
   * fee (a zero-fee parent mined with its child survives a reorg, as in Core).
   */
  readonly bypassLimits?: boolean;
}

/** The bcoin modules acceptTx needs. */
export interface BcoinLib {
  readonly Script: any;
  readonly MempoolEntry: any;
  readonly policy: any;
  readonly lockFlags: any;
  /** bcoin/lib/mining/template BlockEntry (the miner's template items). */
  readonly BlockEntry: any;
}

/**
 * Runs every check Core's AcceptToMemoryPool runs, without changing the mempool. Throws RejectError.
 * The caller holds the mempool/chain lock.
 */
export async function checkTx(lib: BcoinLib, mp: any, tx: any, opts: AcceptOptions): Promise<Accepted> {
  const reject = (reason: string, code = RPC_VERIFY_REJECTED): never => {
    throw new RejectError(code, reason);
  };
  const chain = mp.chain;
  const height = chain.height + 1;
  const lockFlags = lib.lockFlags.STANDARD_LOCKTIME_FLAGS;

  // PreChecks, in Core's order.
  const [sane, saneReason] = tx.checkSanity();
  if (!sane) reject(saneReason);
  if (tx.isCoinbase()) reject('coinbase');
  const [standard, standardReason] = tx.checkStandard();
  if (!standard) reject(standardReason);
  if (!(await mp.verifyFinal(tx, lockFlags))) reject('non-final');
  if (mp.hasEntry(tx.hash('hex'))) reject('txn-already-in-mempool', RPC_VERIFY_ALREADY_IN_CHAIN);

  const view = await mp.getCoinView(tx);
  for (const input of tx.inputs) {
    if (view.getOutputFor(input)) continue;
    if (await chain.hasCoins(tx)) reject('Transaction outputs already in utxo set', RPC_VERIFY_ALREADY_IN_CHAIN);
    reject('bad-txns-inputs-missingorspent', RPC_VERIFY_ERROR);
  }

  const conflicts = new Map<string, any>();
  for (const { prevout } of tx.inputs) {
    const spender = mp.getSpent(prevout.hash, prevout.index);
    if (spender) conflicts.set(spender.tx.hash('hex'), spender);
  }

  if (!(await mp.verifyLocks(tx, view, lockFlags))) reject('non-BIP68-final');

  const [fee, inputsReason] = tx.checkInputs(view, height);
  if (fee === -1) reject(inputsReason);
  if (!tx.hasStandardInputs(view)) reject('bad-txns-nonstandard-inputs');
  if (!tx.hasStandardWitness(view)) reject('bad-witness-nonstandard');

  const entry = lib.MempoolEntry.fromTX(tx, view, chain.height);
  if (entry.sigops > lib.policy.MAX_TX_SIGOPS_COST) reject('bad-txns-too-many-sigops');
  const vsize: number = entry.size;

  const minFee = Math.ceil((vsize * MIN_RELAY_SAT_PER_KVB) / 1000);
  if (fee < minFee && opts.bypassLimits !== true) reject(`min relay fee not met, ${fee} < ${minFee}`);
  if (opts.maxFeeRateSatPerKvB > 0) {
    const maxFee = Math.ceil((vsize * opts.maxFeeRateSatPerKvB) / 1000);
    if (fee > maxFee) reject('Fee exceeds maximum configured by user (e.g. -maxtxfee, maxfeerate)', RPC_VERIFY_ERROR);
  }

  if (conflicts.size > 0) checkReplacement(mp, tx, fee, vsize, [...conflicts.values()], reject);
  else if (mp.countAncestors(entry) + 1 > mp.options.maxAncestors) reject('too-long-mempool-chain');

  await checkScripts(lib, tx, view, reject);
  return { entry, view, feeSat: fee, vsize, conflicts: [...conflicts.values()] };
}

/** BIP125 rules 3, 4, 5 and 6 as Core 28 applies them (full RBF: no signalling needed). */
function checkReplacement(
  mp: any,
  tx: any,
  fee: number,
  vsize: number,
  conflicts: readonly any[],
  reject: (reason: string) => never,
): void {
  const replaced = new Map<string, any>();
  for (const c of conflicts) {
    replaced.set(c.tx.hash('hex'), c);
    for (const d of mp.getDescendants(c)) replaced.set(d.tx.hash('hex'), d);
  }
  for (const { prevout } of tx.inputs) {
    if (replaced.has(prevout.hash)) reject('bad-txns-spends-conflicting-tx');
  }
  if (replaced.size > MAX_REPLACEMENTS) reject(`too many potential replacements`);
  const txid: string = tx.txid();
  for (const c of conflicts) {
    // Rule 6: a strictly higher feerate than every direct conflict (compared as fee * size cross products).
    if (fee * c.size <= c.fee * vsize) {
      reject(`insufficient fee, rejecting replacement ${txid}; new feerate ${rate(fee, vsize)} <= old feerate ${rate(c.fee, c.size)}`);
    }
  }
  let replacedFees = 0;
  for (const r of replaced.values()) replacedFees += r.fee;
  if (fee < replacedFees) {
    reject(`insufficient fee, rejecting replacement ${txid}, less fees than conflicting txs; ${fee} < ${replacedFees}`);
  }
  const extra = Math.ceil((vsize * INCREMENTAL_RELAY_SAT_PER_KVB) / 1000);
  if (fee - replacedFees < extra) {
    reject(`insufficient fee, rejecting replacement ${txid}, not enough additional fees to relay; ${fee - replacedFees} < ${extra}`);
  }
}

function rate(fee: number, vsize: number): string {
  return `${((fee * 1000) / vsize / 1e8).toFixed(8)} BTC/kvB`;
}

/** Policy (standard) flags first, then consensus-only flags, reported the way Core words them. */
async function checkScripts(lib: BcoinLib, tx: any, view: any, reject: (reason: string) => never): Promise<void> {
  const flags = lib.Script.flags;
  const standard: number = flags.STANDARD_VERIFY_FLAGS;
  if (await tx.verifyAsync(view, standard, null)) return;
  const reason = firstScriptError(tx, view, standard);
  // Core's MANDATORY_SCRIPT_VERIFY_FLAGS (bcoin's own list is P2SH only, which would call every failed segwit
  // spend "non-mandatory").
  const mandatory =
    flags.VERIFY_P2SH | flags.VERIFY_DERSIG | flags.VERIFY_NULLDUMMY | flags.VERIFY_CHECKLOCKTIMEVERIFY | flags.VERIFY_CHECKSEQUENCEVERIFY | flags.VERIFY_WITNESS;
  if (await tx.verifyAsync(view, mandatory, null)) reject(`non-mandatory-script-verify-flag (${reason})`);
  reject(`mandatory-script-verify-flag-failed (${reason})`);
}

function firstScriptError(tx: any, view: any, flags: number): string {
  for (let i = 0; i < tx.inputs.length; i++) {
    const coin = view.getOutputFor(tx.inputs[i]);
    try {
      tx.checkInput(i, coin, flags);
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (typeof code === 'string') return SCRIPT_ERROR_TEXT[code] ?? code.toLowerCase().replace(/_/g, ' ');
      throw err;
    }
  }
  return 'unknown error';
}

/**
 * Adds an accepted transaction: evicts the conflicts it replaces (with their descendants) and indexes it.
 * The caller holds the lock and has just run checkTx against the same mempool state.
 */
export async function addAccepted(mp: any, tx: any, accepted: Accepted): Promise<void> {
  for (const c of accepted.conflicts) {
    if (mp.hasEntry(c.tx.hash('hex'))) mp.evictEntry(c);
  }
  await mp.addEntry(accepted.entry, accepted.view);
  void tx;
}

/** Re-adds transactions (block or earlier mempool contents) in order, dropping those that no longer pass. */
export async function readdAll(lib: BcoinLib, mp: any, txs: readonly any[]): Promise<number> {
  let added = 0;
  for (const tx of txs) {
    if (tx.isCoinbase() || mp.hasEntry(tx.hash('hex'))) continue;
    try {
      const accepted = await checkTx(lib, mp, tx, { maxFeeRateSatPerKvB: 0, bypassLimits: true });
      if (accepted.conflicts.length > 0) continue;
      await mp.addEntry(accepted.entry, accepted.view);
      added++;
    } catch (err) {
      if (!(err instanceof RejectError)) throw err;
    }
  }
  return added;
}

/** Mempool transactions with every parent before its children (the order a block would need). */
export function mempoolInOrder(mp: any): any[] {
  const out: any[] = [];
  const seen = new Set<string>();
  const visit = (entry: any): void => {
    const hash: string = entry.tx.hash('hex');
    if (seen.has(hash)) return;
    seen.add(hash);
    for (const { prevout } of entry.tx.inputs) {
      const parent = mp.getEntry(prevout.hash);
      if (parent) visit(parent);
    }
    out.push(entry.tx);
  };
  for (const entry of mp.map.values()) visit(entry);
  return out;
}

/** The miner's settings that can change while the node runs. */
export interface MinerPolicy {
  /**
   * Core's -blockmintxfee, sat per kvB: block templates leave out every package (a transaction with its unmined
   * mempool ancestors) whose feerate is below it. 0 (the default here) mines every mempool transaction.
   */
  blockMinTxFeeSatPerKvB: number;
}

/** Core's CFeeRate::GetFee: the fee `satPerKvB` asks of `vsize` vbytes, rounded up. */
export function feeAt(satPerKvB: number, vsize: number): number {
  return Math.ceil((satPerKvB * vsize) / 1000);
}

/**
 * Core's BlockAssembler::addPackageTxs, simplified: repeatedly picks the mempool transaction whose package (itself
 * plus its not yet selected mempool ancestors) has the highest feerate, stops once that best package pays less
 * than `minSatPerKvB`, and adds the package parents first. A low-fee parent is therefore mined when a child lifts
 * its package above the minimum, and left out (with its descendants) when nothing does. A package that does not
 * fit the block's weight or sigops, or holds a non-final transaction, is skipped and its members not tried again.
 * Quadratic in the mempool size: meant for regtest mempools of a few hundred transactions.
 */
export function assemblePackages(BlockEntry: any, mp: any, attempt: any, minSatPerKvB: number, maxWeight: number, maxSigops: number): void {
  const selected = new Set<string>();
  const failed = new Set<string>();
  const packageOf = (entry: any): any[] | undefined => {
    const out: any[] = [];
    const seen = new Set<string>();
    let ok = true;
    const visit = (e: any): void => {
      const hash: string = e.tx.hash('hex');
      if (seen.has(hash) || selected.has(hash)) return;
      seen.add(hash);
      if (failed.has(hash)) ok = false;
      for (const { prevout } of e.tx.inputs) {
        const parent = mp.getEntry(prevout.hash);
        if (parent) visit(parent);
      }
      out.push(e);
    };
    visit(entry);
    return ok ? out : undefined;
  };
  for (;;) {
    let best: { pkg: any[]; fee: number; size: number } | undefined;
    for (const entry of mp.map.values()) {
      const hash: string = entry.tx.hash('hex');
      if (selected.has(hash) || failed.has(hash)) continue;
      const pkg = packageOf(entry);
      if (pkg === undefined) {
        failed.add(hash);
        continue;
      }
      let fee = 0;
      let size = 0;
      for (const e of pkg) {
        fee += e.getDeltaFee();
        size += e.size;
      }
      if (best === undefined || fee * best.size > best.fee * size) best = { pkg, fee, size };
    }
    if (best === undefined || best.fee < feeAt(minSatPerKvB, best.size)) break;
    let weight = attempt.weight;
    let sigops = attempt.sigops;
    let fits = true;
    for (const e of best.pkg) {
      weight += e.tx.getWeight();
      sigops += e.sigops;
      if (!e.tx.isFinal(attempt.height, attempt.locktime) || (!attempt.witness && e.tx.hasWitness())) fits = false;
    }
    if (!fits || weight > maxWeight || sigops > maxSigops) {
      for (const e of best.pkg) failed.add(e.tx.hash('hex'));
      continue;
    }
    for (const e of best.pkg) {
      const item = BlockEntry.fromEntry(e, attempt);
      attempt.weight += e.tx.getWeight();
      attempt.sigops += item.sigops;
      attempt.fees += item.fee;
      attempt.items.push(item);
      selected.add(e.tx.hash('hex'));
    }
  }
  attempt.refresh();
}

/**
 * Installs the Core behaviour on a node's mempool and miner: the patched block connect/disconnect/reorg handlers
 * and a miner that includes every mempool transaction (no priority area, no skipped "free" transactions), or,
 * with a block minimum feerate set in `miner`, only the packages that pay it (assemblePackages).
 */
export function installMempoolPolicy(lib: BcoinLib, node: any, miner: MinerPolicy = { blockMinTxFeeSatPerKvB: 0 }): void {
  const mp = node.mempool;
  // Stock returns early when the mempool is empty, dropping the disconnected block's transactions.
  mp._removeBlock = async (block: any, txs: any[]): Promise<void> => {
    await readdAll(lib, mp, txs.slice(1));
    mp.rejects.reset();
    mp.cache.sync(block.prevBlock);
    mp.tip = block.prevBlock;
  };
  // Stock evicts everything with a relative lock or a coinbase input; Core re-validates instead.
  mp._handleReorg = async (): Promise<void> => {
    const txs = mempoolInOrder(mp);
    for (const tx of txs) {
      const entry = mp.getEntry(tx.hash('hex'));
      if (entry) mp.removeEntry(entry);
    }
    await readdAll(lib, mp, txs);
  };
  node.miner.options.priorityWeight = 0;
  node.miner.options.minWeight = Number.MAX_SAFE_INTEGER;
  const stockAssemble = node.miner.assemble.bind(node.miner);
  node.miner.assemble = (attempt: any): void => {
    if (miner.blockMinTxFeeSatPerKvB <= 0 || !node.miner.mempool) {
      stockAssemble(attempt);
      return;
    }
    if (node.mempool.tip !== node.chain.tip.hash) throw new Error('Mempool/chain tip mismatch! Unsafe to create block.');
    const o = node.miner.options;
    assemblePackages(lib.BlockEntry, node.mempool, attempt, miner.blockMinTxFeeSatPerKvB, o.maxWeight, o.maxSigops);
  };
}
