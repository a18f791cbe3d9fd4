/**
 * Bitcoin Core 27/28 JSON shapes for blocks, headers, transactions, scripts and mempool entries, built from
 * bcoin objects. Stock bcoin answers with older shapes (numeric `bits`, `addresses[]`, `type: 'WITNESSSCRIPTHASH'`,
 * null instead of absent `previousblockhash`, priorities in mempool entries).
 */

/** Satoshis as Core prints BTC amounts (a JSON number with at most 8 decimals). */
export function btc(sat: number): number {
  return Number((sat / 1e8).toFixed(8));
}

/** Display (RPC) byte order of one of bcoin's internal little-endian hex hashes. */
export function revHex(hex: string): string {
  return Buffer.from(hex, 'hex').reverse().toString('hex');
}

const CORE_TYPES: Record<string, string> = {
  PUBKEY: 'pubkey',
  PUBKEYHASH: 'pubkeyhash',
  SCRIPTHASH: 'scripthash',
  MULTISIG: 'multisig',
  NULLDATA: 'nulldata',
  WITNESSPUBKEYHASH: 'witness_v0_keyhash',
  WITNESSSCRIPTHASH: 'witness_v0_scripthash',
};

export function scriptPubKeyJson(lib: any, network: any, script: any): Record<string, unknown> {
  const raw: Buffer = script.toRaw();
  let type = CORE_TYPES[lib.Script.typesByVal[script.getType()] as string] ?? 'nonstandard';
  if (type === 'nonstandard' && raw.length >= 4 && raw.length <= 42 && raw[1] === raw.length - 2) {
    const v = raw[0] ?? 0;
    if (v >= 0x51 && v <= 0x60) type = v === 0x51 && raw.length === 34 ? 'witness_v1_taproot' : 'witness_unknown';
  }
  const json: Record<string, unknown> = { asm: script.toASM(), desc: `raw(${raw.toString('hex')})`, hex: raw.toString('hex'), type };
  const addr = script.getAddress();
  if (addr) json['address'] = addr.toString(network);
  return json;
}

/** Core's decoded transaction; `where` is the confirming block (absent when unconfirmed). */
export function txJson(
  lib: any,
  network: any,
  tx: any,
  where?: { blockhash: string; confirmations: number; time: number },
  feeSat?: number,
): Record<string, unknown> {
  const vin = tx.inputs.map((input: any) => {
    const witness = input.witness.items.length > 0 ? { txinwitness: input.witness.items.map((w: Buffer) => w.toString('hex')) } : {};
    if (tx.isCoinbase()) return { coinbase: input.script.toRaw().toString('hex'), ...witness, sequence: input.sequence };
    return {
      txid: revHex(input.prevout.hash),
      vout: input.prevout.index,
      scriptSig: { asm: input.script.toASM(), hex: input.script.toRaw().toString('hex') },
      ...witness,
      sequence: input.sequence,
    };
  });
  const vout = tx.outputs.map((output: any, n: number) => ({
    value: btc(output.value),
    n,
    scriptPubKey: scriptPubKeyJson(lib, network, output.script),
  }));
  const json: Record<string, unknown> = {
    txid: tx.txid(),
    hash: tx.wtxid(),
    version: tx.version,
    size: tx.getSize(),
    vsize: tx.getVirtualSize(),
    weight: tx.getWeight(),
    locktime: tx.locktime,
    vin,
    vout,
  };
  if (feeSat !== undefined) json['fee'] = btc(feeSat);
  json['hex'] = tx.toRaw().toString('hex');
  if (where) {
    json['blockhash'] = where.blockhash;
    json['confirmations'] = where.confirmations;
    json['time'] = where.time;
    json['blocktime'] = where.time;
  }
  return json;
}

function hex32(n: number): string {
  return (n >>> 0).toString(16).padStart(8, '0');
}

/** Header fields shared by getblockheader and getblock. `confirmations` is -1 off the main chain. */
export function headerJson(
  entry: any,
  extra: { confirmations: number; mediantime: number; nextblockhash: string | undefined; nTx: number },
): Record<string, unknown> {
  const json: Record<string, unknown> = {
    hash: entry.rhash(),
    confirmations: extra.confirmations,
    height: entry.height,
    version: entry.version,
    versionHex: hex32(entry.version),
    merkleroot: revHex(entry.merkleRoot),
    time: entry.time,
    mediantime: extra.mediantime,
    nonce: entry.nonce,
    bits: hex32(entry.bits),
    difficulty: 4.656542373906925e-10,
    chainwork: entry.chainwork.toString('hex', 64),
    nTx: extra.nTx,
  };
  if (entry.height > 0) json['previousblockhash'] = revHex(entry.prevBlock);
  if (extra.nextblockhash) json['nextblockhash'] = extra.nextblockhash;
  return json;
}

/** Core's mempool entry (getmempoolentry / getrawmempool true). */
export function mempoolEntryJson(mp: any, entry: any): Record<string, unknown> {
  const ancestors: any[] = mp.getAncestors(entry);
  const descendants: any[] = mp.getDescendants(entry);
  const sum = (xs: any[], f: (e: any) => number): number => xs.reduce((a, e) => a + f(e), 0);
  const spentby: string[] = [];
  const hash: string = entry.tx.hash('hex');
  for (let i = 0; i < entry.tx.outputs.length; i++) {
    const s = mp.getSpent(hash, i);
    if (s) spentby.push(s.txid());
  }
  return {
    vsize: entry.size,
    weight: entry.tx.getWeight(),
    time: entry.time,
    height: entry.height,
    descendantcount: descendants.length + 1,
    descendantsize: entry.size + sum(descendants, (e) => e.size),
    ancestorcount: ancestors.length + 1,
    ancestorsize: entry.size + sum(ancestors, (e) => e.size),
    wtxid: entry.tx.wtxid(),
    fees: {
      base: btc(entry.fee),
      modified: btc(entry.deltaFee),
      ancestor: btc(entry.fee + sum(ancestors, (e) => e.fee)),
      descendant: btc(entry.fee + sum(descendants, (e) => e.fee)),
    },
    depends: mp.getDepends(entry.tx).map(revHex),
    spentby: [...new Set(spentby)],
    'bip125-replaceable': true,
    unbroadcast: false,
  };
}
