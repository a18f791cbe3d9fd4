/**
 * Makes bcoin's regtest network parameters match Bitcoin Core's regtest (see ../shared/design/bcoin-regtest.md):
 * Core's address and key prefixes, BIP34/65/66 from height 1, and CSV + segwit active after the first blocks
 * (bcoin waits for a 144-block BIP9 window and only enforces CLTV from height 1351).
 *
 * Must run before the FullNode is constructed: bcoin reads these objects at construction time.
 */

export function configureCoreRegtest(bcoin: any): void {
  const rt = bcoin.networks.regtest;
  Object.assign(rt.addressPrefix, { pubkeyhash: 0x6f, scripthash: 0xc4, bech32: 'bcrt' });
  Object.assign(rt.keyPrefix, {
    privkey: 0xef,
    xpubkey: 0x043587cf,
    xprivkey: 0x04358394,
    xpubkey58: 'tpub',
    xprivkey58: 'tprv',
  });
  rt.block.bip34height = 1;
  rt.block.bip65height = 1;
  rt.block.bip66height = 1;
  for (const d of [rt.deployments.csv, rt.deployments.segwit]) {
    d.window = 1;
    d.threshold = 1;
  }
}
