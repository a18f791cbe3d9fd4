/** `npm run bench`: every benchmark, JSON lines on stdout. */
import { runArbitratorBenches } from './arbitrator.bench.js';
import { runLnBenches } from './ln.bench.js';
import { runSweepBenches } from './sweep.bench.js';

runLnBenches();
await runArbitratorBenches();
await runSweepBenches();
