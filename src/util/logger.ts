/**
 * The logging port: a pino-compatible subset. Components that run unattended (pollers, retry loops) report
 * through it instead of the console (lint forbids console in src). Every call passes a context object first
 * and a message second, which is the argument order pino expects, so a pino logger fits as is.
 */

/** One log level: structured context first, a short human message second. */
export type LogFn = (obj: Record<string, unknown>, msg: string) => void;

/** What a component needs from a logger; `pino()` satisfies it. */
export interface Logger {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
}

const noop: LogFn = () => {};

/** A logger that drops everything: the default, so library code never needs a null check. */
export const silentLogger: Logger = Object.freeze({ debug: noop, info: noop, warn: noop, error: noop });

/** The loggable shape of an error: code and message only (never a stack full of context, never secrets). */
export function errFields(err: unknown): Record<string, unknown> {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return code === undefined ? { message: err.message } : { code, message: err.message };
  }
  return { message: String(err) };
}
