/**
 * Bearer-token auth with two scopes, as lnd's macaroons have: `admin` (everything) and `readonly` (reads only).
 * Tokens are compared in constant time: both sides are hashed with SHA-256 first, so the comparison neither
 * depends on where they differ nor on their lengths. Tokens never reach a log line or an error.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CourtError } from '../util/errors.js';

export type Scope = 'admin' | 'readonly' | 'none';

/** The tokens in force (hex); read through a function so a rotation takes effect at once. */
export interface TokenSource {
  admin(): string;
  readonly(): string;
}

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** Constant-time equality of two strings. */
export function sameToken(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected)) && expected.length > 0;
}

const BEARER_RE = /^Bearer ([\x21-\x7e]{1,512})$/;

/** The scope the request's token grants, or undefined if it has none / an unknown one. */
export function scopeOf(header: string | string[] | undefined, tokens: TokenSource): 'admin' | 'readonly' | undefined {
  if (typeof header !== 'string') return undefined;
  const m = BEARER_RE.exec(header.trim());
  if (m === null) return undefined;
  const t = m[1] as string;
  // Both comparisons always run: the time taken does not tell which scope matched.
  const admin = sameToken(t, tokens.admin());
  const ro = sameToken(t, tokens.readonly());
  return admin ? 'admin' : ro ? 'readonly' : undefined;
}

/** An onRequest hook enforcing the route's `config.scope` (routes without one need admin). */
export function authHook(tokens: TokenSource) {
  return async (request: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    const need = ((request.routeOptions?.config ?? {}) as { scope?: Scope }).scope ?? 'admin';
    if (need === 'none') return;
    const has = scopeOf(request.headers.authorization, tokens);
    if (has === undefined) throw new CourtError('COURT_E_API_UNAUTHORIZED', 'a valid bearer token is required (Authorization: Bearer <token from the datadir>)');
    if (need === 'admin' && has !== 'admin') throw new CourtError('COURT_E_API_FORBIDDEN', 'this route needs the admin token');
  };
}
