import { AmqpLink } from '../../connection/amqp-link.js';
import { isOutreachError, type OutreachError } from '../../errors/outreach-error.js';
import type { CliCommand } from '../command.js';
import { EXIT } from '../exit-codes.js';
import { inUserTerms, mostTelling, reportFailure } from '../report.js';
import { CONNECTION_HELP, CONNECTION_OPTIONS, linkSettings, resolveConnection } from '../settings.js';

/** `check`: URL, TLS, login and queue permission, without taking a message. */
export const check: CliCommand = {
  name: 'check',
  summary: 'verify URL, TLS, login and queue permission without taking a message',
  help: `Usage: civitas-outreach check [--url URL] [--username NAME] [--queue NAME] [--ca FILE]

Connects to each endpoint (TLS verified), logs in, and attaches a receiver to the queue with no
credit, so that no message is taken, then disconnects. Exits 0 when one endpoint accepts all of
it (the standby of an active/standby pair refuses connections: that is normal). Otherwise prints
one line "CODE: cause — fix" on stderr and exits with:
  2  a setting is missing or malformed      5  the username or password was refused
  3  the broker could not be reached        6  the queue was refused (permission, name)
  4  TLS: certificate not trusted / wrong host name

${CONNECTION_HELP}`,
  options: { ...CONNECTION_OPTIONS },
  async run(values, context) {
    const settings = await resolveConnection(values, context);
    const errors: OutreachError[] = [];
    for (const endpoint of settings.endpoints) {
      try {
        const link = await AmqpLink.open(endpoint, linkSettings(settings), { onMessage() {}, onDown() {}, onDrained() {} });
        await link.close(5_000);
        const others = errors.map((e) => `; ${inUserTerms(e.message)}`).join('');
        context.stdout.write(
          `ok: ${endpoint.label}: TLS verified, logged in as ${settings.username}, queue ${settings.queue} may be read (no message taken)${others}\n`,
        );
        return EXIT.ok;
      } catch (error) {
        if (!isOutreachError(error)) throw error;
        errors.push(error);
      }
    }
    return reportFailure(mostTelling(errors), context);
  },
};
