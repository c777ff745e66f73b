import { isLeft } from 'fp-ts/lib/Either.js';
import type { Arrival } from '../../connection/transport.js';
import { browseQueue, type BrowseResult } from '../../connection/queue-browser.js';
import { isOutreachError, type OutreachError } from '../../errors/outreach-error.js';
import { decodeOutreach } from '../../message/decode.js';
import { archiveLine } from '../../journal/line.js';
import { positiveInteger, type CliCommand } from '../command.js';
import { EXIT } from '../exit-codes.js';
import { emptyQueueNote } from './check.js';
import { mostTelling, reportFailure } from '../report.js';
import { CONNECTION_HELP, CONNECTION_OPTIONS, linkSettings, resolveConnection } from '../settings.js';

/**
 * ActiveMQ's default `maxBrowsePageSize`: a queue browser is shown at most this many messages,
 * however many the queue holds (measured on 5.18.3: 1000 queued, 400 shown).
 */
const ACTIVEMQ_BROWSE_PAGE = 400;

/** Messages shown when `--limit` is not given. */
const DEFAULT_PEEK_LIMIT = 10;

/** `peek`: messages as JSON lines, left on the queue. */
export const peek: CliCommand = {
  name: 'peek',
  summary: 'print messages as JSON lines without consuming them (a queue browser)',
  help: `Usage: civitas-outreach peek [--limit N] [settings]

Prints up to N messages (default ${DEFAULT_PEEK_LIMIT}) from the head of the queue as JSON lines on stdout,
in the same format as pull's file, and leaves them on the queue: the link asks for
distribution-mode "copy", which ActiveMQ serves with a queue browser. A summary goes to stderr.
Messages another consumer holds at that moment may not be shown, and ActiveMQ shows a browser
at most maxBrowsePageSize messages (${ACTIVEMQ_BROWSE_PAGE} by default) of a longer queue.

Options:
  --limit N        show at most N messages (default ${DEFAULT_PEEK_LIMIT})

${CONNECTION_HELP}

Exit codes as for check (0 ok, 2 settings, 3 connection, 4 TLS, 5 login, 6 queue).`,
  graceful: true,
  options: { ...CONNECTION_OPTIONS, limit: { type: 'string' } },
  async run(values, context) {
    const limit = positiveInteger(values.limit, '--limit') ?? DEFAULT_PEEK_LIMIT;
    const settings = await resolveConnection(values, context);
    const errors: OutreachError[] = [];
    for (const endpoint of settings.endpoints) {
      let result: BrowseResult;
      try {
        result = await browseQueue(endpoint, linkSettings(settings), {
          limit,
          signal: context.interrupted,
          onMessage: (message) => context.stdout.write(lineOf(message)),
        });
      } catch (error) {
        if (!isOutreachError(error)) throw error;
        errors.push(error);
        continue;
      }
      const why = result.reason === 'end' ? 'the broker has no more to show' : result.reason === 'limit' ? `--limit ${limit} reached` : 'interrupted';
      context.stderr.write(`peeked ${result.count} message(s) from ${settings.queue} at ${endpoint.label} (${why}); none taken\n`);
      if (result.reason === 'end' && result.count === 0) context.stderr.write(`note: ${emptyQueueNote(settings.queue)}\n`);
      if (result.reason === 'end' && result.count >= ACTIVEMQ_BROWSE_PAGE) {
        context.stderr.write(
          `note: ActiveMQ shows a browser at most maxBrowsePageSize messages (${ACTIVEMQ_BROWSE_PAGE} by default), so the queue may hold more than were shown\n`,
        );
      }
      return EXIT.ok;
    }
    return reportFailure(mostTelling(errors), context);
  },
};

function lineOf(message: Arrival): string {
  const decoded = decodeOutreach(message.body);
  return archiveLine(
    {
      messageId: message.messageId,
      deliveryCount: message.deliveryCount,
      receivedAt: new Date(),
      subject: message.subject,
      applicationProperties: message.applicationProperties,
      ...(isLeft(decoded) ? { invalid: { kind: decoded.left.kind, message: decoded.left.message } } : { outreachId: decoded.right.outreachId }),
    },
    message.body,
  );
}
