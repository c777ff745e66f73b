import { isOutreachError, type OutreachError } from '../errors/outreach-error.js';
import type { CliContext } from './command.js';
import { EXIT, failureFor } from './exit-codes.js';

/** Prints "CODE: cause — fix" on one line of stderr and returns the exit code for it. */
export function reportFailure(error: unknown, context: CliContext): number {
  if (isOutreachError(error)) {
    const { exitCode, fix } = failureFor(error.code);
    const told = error.code === 'TLS_FAILED' ? tlsFix(error.message, fix) : fix;
    context.stderr.write(`${error.code}: ${oneLine(inUserTerms(error.message))} — ${told}\n`);
    return exitCode;
  }
  context.stderr.write(`error: ${oneLine(error instanceof Error ? error.message : String(error))}\n`);
  return EXIT.failure;
}

/** Of several endpoints' errors, the one that says most: a refusal by a broker that answered beats "could not connect". */
export function mostTelling(errors: readonly OutreachError[]): OutreachError | undefined {
  return errors.find((e) => e.code !== 'CONNECTION_FAILED') ?? errors[0];
}

/** Socket error codes the library passes through, with words next to them. */
const SOCKET_WORDS: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  ETIMEDOUT: 'timed out',
  ECONNRESET: 'connection reset',
  EHOSTUNREACH: 'host unreachable',
};

/** The library's TLS advice where it names an option that the command line calls otherwise. */
const CA_OPTION = /; pass the broker's CA as the ca option$/;
const SERVERNAME_OPTION = /, or set servername to it$/;

/**
 * The fix for a `TLS_FAILED`: the library's message names the cause and advice that fits it. Two
 * causes have a setting of the command line: an untrusted certificate (CIVITAS_CA) and a host-name
 * mismatch (the URL's host). For the others (expired, not yet valid, wrong purpose, a client
 * certificate demanded, a plain port) the message itself says what to do.
 */
export function tlsFix(message: string, fallback: string): string {
  if (CA_OPTION.test(message)) return "for a private broker set CIVITAS_CA to its CA certificate (PEM); Amazon MQ's certificates are publicly trusted";
  if (SERVERNAME_OPTION.test(message)) return 'put a host name the certificate names in CIVITAS_URL (for Amazon MQ, the endpoint the AWS console shows, not an IP address)';
  return /\(([A-Z_]+)\)/.test(message) ? 'do as the message says (docs/troubleshooting.md, TLS_FAILED)' : fallback;
}

/** The library's message in the command line's words for what the library calls options. */
export function inUserTerms(message: string): string {
  return message
    .replace(CA_OPTION, '')
    .replace(SERVERNAME_OPTION, '')
    .replace(/: (E[A-Z_]+)$/, (whole, code: string) => (SOCKET_WORDS[code] === undefined ? whole : `: ${SOCKET_WORDS[code]} (${code})`));
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ');
}
