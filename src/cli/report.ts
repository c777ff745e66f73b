import { isOutreachError, type OutreachError } from '../errors/outreach-error.js';
import type { CliContext } from './command.js';
import { EXIT, failureFor } from './exit-codes.js';

/** Prints "CODE: cause — fix" on one line of stderr and returns the exit code for it. */
export function reportFailure(error: unknown, context: CliContext): number {
  if (isOutreachError(error)) {
    const { exitCode, fix } = failureFor(error.code);
    context.stderr.write(`${error.code}: ${oneLine(inUserTerms(error.message))} — ${fix}\n`);
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

/** The library's message in the command line's words for what the library calls options. */
export function inUserTerms(message: string): string {
  return message
    .replace(/; pass the broker's CA as the ca option$/, '')
    .replace(/: (E[A-Z_]+)$/, (whole, code: string) => (SOCKET_WORDS[code] === undefined ? whole : `: ${SOCKET_WORDS[code]} (${code})`));
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ');
}
