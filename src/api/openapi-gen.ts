/**
 * The OpenAPI 3.1 document, generated from the route schemas (`npm run openapi` writes docs/openapi.json; a test
 * checks the committed copy equals this). The API is built over inert parts: building registers the routes and
 * their schemas only.
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { DEFAULT_DELTAS } from '../arbitrator/actions.js';
import type { Db } from '../store/db.js';
import { CourtError } from '../util/errors.js';
import { EventFeed } from './events.js';
import { buildApi, type ApiDeps } from './server.js';

const inert = (): never => {
  throw new CourtError('COURT_E_API_UNAVAILABLE', 'the OpenAPI generator runs no daemon');
};

/** The document as committed (2-space JSON, trailing newline). */
export async function openApiDocument(): Promise<string> {
  const db = {} as Db;
  const deps: ApiDeps = {
    db,
    version: 'openapi',
    network: 'regtest',
    tokens: { admin: () => 'x', readonly: () => 'y' },
    logger: pino({ level: 'silent' }),
    arbitrator: { height: 0, updateChannel: inert, addRevocation: inert, addPreimage: inert, forceClose: inert },
    checked: inert,
    knownPreimages: inert,
    deltas: DEFAULT_DELTAS,
    chainInfo: inert,
    events: new EventFeed({ db }),
  };
  const app = await buildApi(deps);
  try {
    return `${JSON.stringify(app.swagger(), null, 2)}\n`;
  } finally {
    await app.close();
  }
}

/** `npm run openapi`: writes docs/openapi.json. */
if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const out = fileURLToPath(new URL('../../docs/openapi.json', import.meta.url));
  writeFileSync(out, await openApiDocument());
  process.stdout.write(`wrote ${out}\n`);
}
