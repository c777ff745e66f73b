import { AmqpLink } from '../../connection/amqp-link.js';
import type { BrokerEndpoint } from '../../connection/endpoints.js';
import { browseQueue } from '../../connection/queue-browser.js';
import { isOutreachError, type OutreachError } from '../../errors/outreach-error.js';
import type { CliCommand } from '../command.js';
import { EXIT } from '../exit-codes.js';
import { inUserTerms, mostTelling, reportFailure } from '../report.js';
import { CONNECTION_HELP, CONNECTION_OPTIONS, linkSettings, resolveConnection, type ConnectionSettings } from '../settings.js';

/** `check`: URL, TLS, login and queue permission, without taking a message. */
export const check: CliCommand = {
  name: 'check',
  summary: 'verify URL, TLS, login and queue permission without taking a message',
  help: `Usage: civitas-outreach check [--url URL] [--username NAME] [--queue NAME] [--ca FILE]

Connects to each endpoint (TLS verified), logs in, and attaches a receiver to the queue with no
credit, so that no message is taken, then disconnects. Then it looks at the head of the queue as
peek does (nothing is taken) to say whether the queue holds messages: ActiveMQ creates a queue the
first time a client names it, so a misspelled name shows up as an empty queue. Exits 0 when one
endpoint accepts all of it (the standby of an active/standby pair refuses connections: that is
normal). Otherwise prints one line "CODE: cause — fix" on stderr and exits with:
  2  a setting is missing or malformed      5  the username or password was refused
  3  the broker could not be reached        6  the queue was refused (permission, name)
  4  TLS: certificate not trusted, wrong host name, expired; or a port that does not speak TLS

${CONNECTION_HELP}`,
  options: { ...CONNECTION_OPTIONS },
  async run(values, context) {
    const settings = await resolveConnection(values, context);
    const errors: OutreachError[] = [];
    for (const endpoint of settings.endpoints) {
      try {
        const link = await AmqpLink.open(endpoint, linkSettings(settings), { arrived() {}, down() {}, drained() {} });
        await link.close(5_000);
        const others = errors.map((e) => `; ${inUserTerms(e.message)}`).join('');
        context.stdout.write(
          `ok: ${endpoint.label}: ${transportOf(endpoint)}, logged in as ${settings.username}, queue ${settings.queue} may be read (no message taken)${others}\n`,
        );
        const held = await holdsMessages(endpoint, settings);
        if (held === false) context.stdout.write(`note: ${emptyQueueNote(settings.queue)}\n`);
        else if (held === true) context.stdout.write(`queue ${settings.queue} holds messages (peek shows them)\n`);
        return EXIT.ok;
      } catch (error) {
        if (!isOutreachError(error)) throw error;
        errors.push(error);
      }
    }
    return reportFailure(mostTelling(errors), context);
  },
};

/** What protects the connection: TLS, or nothing (plain `amqp://`, which the commands take only for this machine). */
export function transportOf(endpoint: BrokerEndpoint): string {
  return endpoint.tls ? 'TLS verified' : 'plain AMQP, no TLS (fine for the dev queue; Amazon MQ needs amqps://)';
}

/** Said of a queue with nothing in it: the name may be wrong, and ActiveMQ would not tell. */
export function emptyQueueNote(queue: string): string {
  return `queue ${queue} is empty: if you expected messages, check the name; ActiveMQ creates a queue the first time a client names it`;
}

/**
 * Whether the queue holds a message, seen through a queue browser of one message (as peek shows
 * it: nothing is taken, no delivery count is raised); `undefined` when that cannot be told.
 */
async function holdsMessages(endpoint: BrokerEndpoint, settings: ConnectionSettings): Promise<boolean | undefined> {
  try {
    const { count } = await browseQueue(endpoint, linkSettings(settings), { limit: 1, batch: 1, onMessage() {} });
    return count > 0;
  } catch (error) {
    if (!isOutreachError(error)) throw error;
    return undefined;
  }
}
