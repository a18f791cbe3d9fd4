/** `npm run bench`: every benchmark, JSON lines on stdout. */
import { runLnBenches } from './ln.bench.js';

runLnBenches();
