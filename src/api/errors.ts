/**
 * The API's error catalogue: every refusal is `{code: "COURT_E_...", message}` with a fitting HTTP status; no
 * response ever carries a stack. A CourtError keeps its code (its message names fields, never secrets); fastify's
 * own errors (bad JSON, wrong media type, body too large, schema violations) get API codes; anything else is
 * logged (code and message only) and answered 500 COURT_E_API_INTERNAL without details.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { firstProblem } from '../arbitrator/snapshot/wire.js';
import { CourtError, ERROR_CODES, type CourtErrorCode } from '../util/errors.js';
import { errFields } from '../util/logger.js';

/** HTTP status of each code that is not 400. */
const STATUS: Partial<Record<CourtErrorCode, number>> = {
  COURT_E_API_UNAUTHORIZED: 401,
  COURT_E_API_FORBIDDEN: 403,
  COURT_E_API_NOT_FOUND: 404,
  COURT_E_CHANNEL_UNKNOWN: 404,
  COURT_E_SWEEP_UNKNOWN_INPUT: 404,
  COURT_E_CHANNEL_CLOSING: 409,
  COURT_E_SNAPSHOT_CONFLICT: 409,
  COURT_E_CLOSE_NOT_UNRESOLVED: 409,
  COURT_E_CLOSE_NOT_ACCEPTABLE: 409,
  COURT_E_SWEEP_INPUT_DONE: 409,
  COURT_E_SWEEP_OWNER_CONFLICT: 409,
  COURT_E_FSM_REFUSED: 409,
  COURT_E_ARBITRATOR_ERROR: 409,
  COURT_E_FUNDING_UNKNOWN: 409,
  COURT_E_API_BODY_TOO_LARGE: 413,
  COURT_E_API_UNSUPPORTED_MEDIA: 415,
  COURT_E_SNAPSHOT_SIGNATURE: 422,
  COURT_E_FUNDING_MISMATCH: 422,
  COURT_E_REVOCATION_MISMATCH: 422,
  COURT_E_REVOCATION_UNKNOWN: 422,
  COURT_E_SHACHAIN_MISMATCH: 422,
  COURT_E_SHACHAIN_INDEX: 422,
  COURT_E_API_INTERNAL: 500,
  COURT_E_DELIVERY_FAILED: 503,
  COURT_E_API_UNAVAILABLE: 503,
  COURT_E_FSM_CLOSED: 503,
  COURT_E_WALLET_RESCANNING: 503,
  COURT_E_CHAIN_UNREACHABLE: 503,
  COURT_E_CHAIN_AUTH: 503,
  COURT_E_CHAIN_BAD_REPLY: 503,
  COURT_E_CHAIN_RPC: 503,
  COURT_E_CHAIN_NOT_FOUND: 503,
  COURT_E_CHAIN_STOPPED: 503,
};

/** The HTTP status of a code (400 unless listed). */
export function statusOf(code: CourtErrorCode): number {
  return STATUS[code] ?? 400;
}

/** An error body. */
export interface ErrorJson {
  readonly code: string;
  readonly message: string;
  readonly field?: string;
}

/** Strips the "CODE: " prefix CourtError puts on its message. */
function plain(e: CourtError): string {
  const prefix = `${e.code}: `;
  return (e.message.startsWith(prefix) ? e.message.slice(prefix.length) : e.message).slice(0, 500);
}

/** Route config: which code a schema violation of this route's body gets (default COURT_E_API_INVALID_REQUEST). */
export interface RouteErrorConfig {
  readonly invalidCode?: CourtErrorCode;
}

/** Maps any thrown value to a status and body. */
export function toErrorReply(err: unknown, invalidCode: CourtErrorCode = 'COURT_E_API_INVALID_REQUEST'): { status: number; body: ErrorJson; internal: boolean } {
  if (err instanceof CourtError) {
    const field = err.details['field'];
    return { status: statusOf(err.code), body: { code: err.code, message: plain(err), ...(typeof field === 'string' ? { field } : {}) }, internal: false };
  }
  const fe = err as Partial<FastifyError> & { validation?: unknown[]; validationContext?: string };
  if (Array.isArray(fe.validation)) {
    const p = firstProblem(fe.validation as never);
    const where = fe.validationContext ?? 'body';
    const path = p.path === '' ? where : where === 'body' ? p.path : `${where}.${p.path}`;
    return { status: 400, body: { code: invalidCode, message: `${path} ${p.what}`, field: path }, internal: false };
  }
  switch (fe.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return { status: 415, body: { code: 'COURT_E_API_UNSUPPORTED_MEDIA', message: 'request bodies must be application/json' }, internal: false };
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, body: { code: 'COURT_E_API_BODY_TOO_LARGE', message: 'request body too large' }, internal: false };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { status: 400, body: { code: invalidCode, message: 'the JSON body is empty' }, internal: false };
    case 'FST_ERR_CTP_INVALID_TYPE':
      return { status: 400, body: { code: invalidCode, message: 'the Content-Type header is invalid' }, internal: false };
    default:
      break;
  }
  // fastify's parser errors (bad JSON, bad headers) carry a 4xx statusCode and no secret.
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    const code: CourtErrorCode = fe.statusCode === 404 ? 'COURT_E_API_NOT_FOUND' : fe.statusCode === 413 ? 'COURT_E_API_BODY_TOO_LARGE' : fe.statusCode === 415 ? 'COURT_E_API_UNSUPPORTED_MEDIA' : invalidCode;
    return { status: statusOf(code) === 400 ? fe.statusCode : statusOf(code), body: { code, message: fe.statusCode === 400 ? 'the request is malformed (invalid JSON?)' : ERROR_CODES[code] }, internal: false };
  }
  return { status: 500, body: { code: 'COURT_E_API_INTERNAL', message: ERROR_CODES.COURT_E_API_INTERNAL }, internal: true };
}

/** fastify's error handler. */
export function errorHandler(err: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const cfg = (request.routeOptions?.config ?? {}) as RouteErrorConfig;
  const r = toErrorReply(err, cfg.invalidCode);
  if (r.internal) request.log.error({ route: request.routeOptions?.url, ...errFields(err) }, 'api: unexpected failure');
  else if (r.status >= 500) request.log.warn({ route: request.routeOptions?.url, code: r.body.code }, 'api: unavailable');
  void reply.code(r.status).type('application/json').send(r.body);
}
