/** `npm run bench`: every benchmark, JSON lines on stdout. */
import { runApiBenches } from './api.bench.js';
import { runArbitratorBenches } from './arbitrator.bench.js';
import { runLnBenches } from './ln.bench.js';
import { runSweepBenches } from './sweep.bench.js';
import { runResolverBenches } from './resolvers.bench.js';
import { runWalletBenches } from './wallet.bench.js';

runLnBenches();
await runArbitratorBenches();
runWalletBenches();
await runSweepBenches();
await runResolverBenches();
await runApiBenches();
