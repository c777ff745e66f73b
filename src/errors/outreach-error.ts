/**
 * Every error this library creates is an {@link OutreachError}, told apart by its `code`.
 *
 * @remarks
 * The codes are a closed, documented union so that `switch (err.code)` is exhaustive. New codes
 * are added in minor releases and listed in the CHANGELOG. Each code's causes and fixes:
 * [Troubleshooting](../../docs/troubleshooting.md).
 *
 * Decoding and the model:
 * - `DECODE_FAILED`: a message body could not be turned into an outreach (see {@link OutreachDecodeError}).
 * - `INVALID_ARGUMENT`: a function or option was given a value it cannot use; the message names it.
 * - `INVALID_PROPERTY_VALUE`: an outreach property's text does not read as its documented type.
 *
 * The consumer:
 * - `INSECURE_URL`: a plain `amqp://` URL without `allowInsecure: true`.
 * - `CONNECTION_FAILED`: the broker could not be reached or dropped the connection (retryable).
 * - `AUTHENTICATION_FAILED`: the broker refused the username or password.
 * - `TLS_FAILED`: the TLS connection cannot be made as configured: the broker's certificate is not
 *   trusted, does not match its host name, has expired or is for another purpose, the server
 *   demands a client certificate, or the port does not speak TLS. The message says which.
 * - `QUEUE_UNAVAILABLE`: the broker refused or closed the link to the queue (no permission, deleted).
 * - `ALREADY_SETTLED`: a delivery was settled twice.
 * - `DELIVERY_LOST`: a delivery was settled after the connection that carried it was lost; the
 *   broker will deliver the message again.
 * - `HANDLER_FAILED`: the user's handler, hook or sink threw; the original error is the `cause`.
 * - `ITERATOR_IN_USE`: a second async iterator was asked of a consumer.
 * - `JOURNAL_IN_USE`: journal mode: another consumer (process) holds the journal's directory.
 * - `JOURNAL_FAILED`: journal mode: the journal could not be opened, written or fsynced (a full
 *   disk, permissions). Fatal: nothing more is accepted on the broker; what is on disk is kept.
 * - `CLOSED`: the consumer is closed or closing.
 */
export type OutreachErrorCode =
  | 'DECODE_FAILED'
  | 'INVALID_ARGUMENT'
  | 'INVALID_PROPERTY_VALUE'
  | 'INSECURE_URL'
  | 'CONNECTION_FAILED'
  | 'AUTHENTICATION_FAILED'
  | 'TLS_FAILED'
  | 'QUEUE_UNAVAILABLE'
  | 'ALREADY_SETTLED'
  | 'DELIVERY_LOST'
  | 'HANDLER_FAILED'
  | 'ITERATOR_IN_USE'
  | 'JOURNAL_IN_USE'
  | 'JOURNAL_FAILED'
  | 'CLOSED';

/** Options accepted by the {@link OutreachError} constructor. */
export interface OutreachErrorOptions {
  /** The underlying error, kept for debugging. It must not carry student data in its message. */
  readonly cause?: unknown;
  /**
   * Whether trying the same operation again may succeed.
   * @defaultValue `false`
   */
  readonly retryable?: boolean;
}

/**
 * Base class of every error thrown or returned by `civitas-outreach`.
 *
 * @remarks
 * Use {@link isOutreachError} rather than `instanceof`: when an application loads both the ESM and
 * the CommonJS copy of this package, `instanceof` fails across the two copies.
 * Messages name fields, paths and types, never a student's name, email address or id.
 *
 * @example
 * ```ts
 * import { isOutreachError } from 'civitas-outreach';
 *
 * try {
 *   await work();
 * } catch (err) {
 *   if (isOutreachError(err) && err.retryable) scheduleRetry();
 *   else throw err;
 * }
 * ```
 */
export class OutreachError extends Error {
  /** What went wrong, as a stable string you can switch on. */
  readonly code: OutreachErrorCode;
  /** Whether the same operation may succeed if tried again. */
  readonly retryable: boolean;

  /**
   * @param code - the error's {@link OutreachErrorCode}
   * @param message - words a person can act on, free of student data
   * @param options - cause and retryability
   */
  constructor(code: OutreachErrorCode, message: string, options: OutreachErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'OutreachError';
    this.code = code;
    this.retryable = options.retryable ?? false;
  }
}

/**
 * Tells whether a value is an {@link OutreachError} from any loaded copy of this package.
 *
 * @remarks Checks the `name` and `code` fields rather than the prototype chain, so it works when
 * both the ESM and the CommonJS build are loaded in one process.
 *
 * @example
 * ```ts
 * if (isOutreachError(err) && err.code === 'DECODE_FAILED') console.warn(err.message);
 * ```
 */
export function isOutreachError(value: unknown): value is OutreachError {
  return (
    value instanceof Error &&
    typeof (value as { code?: unknown }).code === 'string' &&
    (value.name === 'OutreachError' || value.name === 'OutreachDecodeError')
  );
}
