import type { OutreachErrorCode } from '../errors/outreach-error.js';

/**
 * Exit codes of the command line, one per kind of trouble, so that a script can tell a typo from
 * a refused password. Listed in [docs/cli.md](../../docs/cli.md).
 */
export const EXIT = {
  /** Done, or stopped cleanly by SIGINT/SIGTERM. */
  ok: 0,
  /** Anything else: the output file could not be written, a close that timed out, a bug. */
  failure: 1,
  /** A bad command line or a missing or malformed setting (URL, CA file, no password). */
  usage: 2,
  /** The broker could not be reached: host, port, firewall, allow list. */
  connection: 3,
  /** TLS: the broker's certificate is not trusted, does not match the host name, has expired; or the port does not speak TLS. */
  tls: 4,
  /** The broker refused the username or password. */
  authentication: 5,
  /** Logged in, but the broker refused the queue (no permission, or no such queue). */
  queue: 6,
  /** Journal mode: the journal's directory is held by another consumer, or cannot be written. */
  journal: 7,
} as const;

/** What to print and return for an error the library classified. */
export interface Failure {
  readonly exitCode: number;
  /** What to do about it, in the user's terms (settings, not options). */
  readonly fix: string;
}

/** The exit code and the fix for each {@link OutreachErrorCode} a command can meet. */
export function failureFor(code: OutreachErrorCode): Failure {
  switch (code) {
    case 'INVALID_ARGUMENT':
      return { exitCode: EXIT.usage, fix: 'correct the setting named above (see --help)' };
    case 'INSECURE_URL':
      return { exitCode: EXIT.usage, fix: 'use the amqp+ssl://…:5671 endpoint the AWS console shows (Amazon MQ only offers TLS)' };
    case 'CONNECTION_FAILED':
      return {
        exitCode: EXIT.connection,
        fix: "check the host and port in CIVITAS_URL, and that this machine's public IP address is on Civitas' allow list",
      };
    case 'TLS_FAILED':
      return {
        exitCode: EXIT.tls,
        fix: 'for a private broker set CIVITAS_CA to its CA certificate (PEM); for Amazon MQ use the host name the console shows, not an IP address',
      };
    case 'AUTHENTICATION_FAILED':
      return { exitCode: EXIT.authentication, fix: 'check CIVITAS_USERNAME and CIVITAS_PASSWORD against what Civitas gave you' };
    case 'QUEUE_UNAVAILABLE':
      return { exitCode: EXIT.queue, fix: 'check CIVITAS_QUEUE: the user may read only the queue Civitas named for it' };
    case 'JOURNAL_IN_USE':
      return { exitCode: EXIT.journal, fix: 'another consumer holds this journal directory: stop it, or give this one its own directory' };
    case 'JOURNAL_FAILED':
      return { exitCode: EXIT.journal, fix: 'check that the journal directory can be written and its file system has room' };
    // Codes a command should not meet (decoding, settling, the iterator): a bug to report.
    case 'DECODE_FAILED':
    case 'INVALID_PROPERTY_VALUE':
    case 'ALREADY_SETTLED':
    case 'DELIVERY_LOST':
    case 'HANDLER_FAILED':
    case 'ITERATOR_IN_USE':
    case 'CLOSED':
      return { exitCode: EXIT.failure, fix: 'report this with the command you ran' };
  }
  // No default: a new OutreachErrorCode fails to compile here until it has its exit code.
  const unhandled: never = code;
  return unhandled;
}
