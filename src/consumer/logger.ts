/**
 * The logging interface the consumer writes to: the subset of pino's that it uses, so a pino
 * logger (or a child of one) can be passed as it is.
 *
 * @remarks The consumer logs connection events, settle outcomes and retries: endpoints (host and
 * port), container ids, message ids, delivery counts and error codes. It never logs a password, a
 * message body, or a student's name, email address or id.
 *
 * @example
 * ```ts
 * import pino from 'pino';
 * const consumer = new OutreachConsumer({ ...options, logger: pino({ level: 'info' }) });
 * ```
 */
export interface OutreachLogger {
  /** Detail useful when debugging. */
  debug(fields: object, message?: string): void;
  /** Lifecycle: connected, closed. */
  info(fields: object, message?: string): void;
  /** Something went wrong and was handled: a reconnect, a retry, a lost delivery. */
  warn(fields: object, message?: string): void;
  /** Something went wrong that needs a person. */
  error(fields: object, message?: string): void;
}

const noop = (): void => undefined;

/** @internal The default: logs nothing. */
export const silentLogger: OutreachLogger = { debug: noop, info: noop, warn: noop, error: noop };
