import { OutreachError } from './errors/outreach-error.js';

/**
 * The logging interface the consumer writes to: the subset of pino's that it uses, so a pino
 * logger (or a child of one) can be passed as it is.
 *
 * @remarks The consumer logs connection events, settle outcomes and retries: endpoints (host and
 * port), container ids, message ids, delivery counts and error codes. It never logs a password, a
 * message body, or a student's name, email address or id.
 *
 * A logger is your code, and the consumer treats it as such: a method that throws never reaches
 * the consumer's own work. The first throw is reported once as a Node.js process warning
 * (`process.emitWarning`, code `OUTREACH_LOGGER_THREW`, naming the method and the error's class);
 * that and every later throw are otherwise ignored, and the consumer carries on.
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

const LEVELS = ['debug', 'info', 'warn', 'error'] as const;

/** @internal The code of the process warning emitted when a logger method throws. */
export const LOGGER_THREW_WARNING = 'OUTREACH_LOGGER_THREW';

/**
 * @internal The logger the consumer writes to: {@link silentLogger} when none is given, else the
 * user's logger behind a guard that never lets a throw through (a user's logger is user code, as
 * an event listener is). The first throw is reported once, as a process warning: emitted on a
 * later tick and never through the logger, so a reporting loop is impossible.
 * @throws {@link OutreachError} `INVALID_ARGUMENT` when `logger` lacks one of the four methods
 */
export function resolveLogger(logger: OutreachLogger | undefined): OutreachLogger {
  if (logger === undefined) return silentLogger;
  if (logger === null || typeof logger !== 'object' || LEVELS.some((level) => typeof (logger as Partial<OutreachLogger>)[level] !== 'function')) {
    throw new OutreachError('INVALID_ARGUMENT', 'logger must be an object with debug, info, warn and error methods (a pino logger works)');
  }
  let reported = false;
  const guard =
    (level: (typeof LEVELS)[number]) =>
    (fields: object, message?: string): void => {
      try {
        // Called as a method: pino's methods need their logger as `this`.
        logger[level](fields, message);
      } catch (error) {
        if (reported) return;
        reported = true;
        const kind = error instanceof Error ? error.name : typeof error;
        process.emitWarning(`civitas-outreach: the logger's ${level} method threw (${kind}); this and later logger errors are ignored`, {
          code: LOGGER_THREW_WARNING,
        });
      }
    };
  return { debug: guard('debug'), info: guard('info'), warn: guard('warn'), error: guard('error') };
}
