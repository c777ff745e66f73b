import { setTimeout as sleep } from 'node:timers/promises';
import { startDevQueue } from '../../testing/dev-queue/dev-queue.js';
import { UsageError, type CliCommand, type ParsedValues } from '../command.js';
import { EXIT } from '../exit-codes.js';
import { guidePath, helpPointer, RUN } from '../guide.js';

/** The queue `dev-queue` and `demo` seed unless told otherwise. */
export const DEV_QUEUE_NAME = 'civitas.outreach.dev';

/** A whole number option between `min` and `max`, or its default. */
export function countOption(values: ParsedValues, name: string, fallback: number, min: number, max: number): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (typeof raw !== 'string' || !/^\d+$/.test(raw.trim()) || n < min || n > max) {
    throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, not ${JSON.stringify(raw)}`);
  }
  return n;
}

/** `dev-queue`: the embedded development queue in the foreground, until Ctrl-C. */
export const devQueue: CliCommand = {
  name: 'dev-queue',
  summary: 'run a development queue with sample outreach here (a development tool, not a broker)',
  help: `Usage: civitas-outreach dev-queue [--port N] [--queue NAME] [--messages N]

Runs the embedded development queue in the foreground: an AMQP 1.0 endpoint on this machine that
behaves like the Civitas queue as far as a consumer can tell (SASL PLAIN login, credit, the four
outcomes, redelivery, dead letters), seeded with sample outreach. It prints the settings to point
the other commands or your own consumer at it, then runs until Ctrl-C (SIGINT) or SIGTERM.

It is a development tool, not a broker: one user, memory only, plain AMQP on 127.0.0.1 (the
commands take plain amqp:// only for this machine). Details: ${guidePath('dev-queue.md') ?? 'the package\'s docs/dev-queue.md'}.

Options:
  --port N       port to listen on (default: a free one)
  --queue NAME   queue to seed (default: ${DEV_QUEUE_NAME})
  --messages N   sample outreach to put on it (default: 20)

The password is CIVITAS_PASSWORD when set, else a new random one (printed).`,
  options: { port: { type: 'string' }, queue: { type: 'string' }, messages: { type: 'string' } },
  graceful: true,
  async run(values, context) {
    const port = countOption(values, 'port', 0, 0, 65_535);
    const messages = countOption(values, 'messages', 20, 0, 100_000);
    const queue = typeof values.queue === 'string' && values.queue.trim() !== '' ? values.queue.trim() : DEV_QUEUE_NAME;
    const password = context.env.CIVITAS_PASSWORD;
    const q = await startDevQueue({ port, queues: { [queue]: messages }, ...(password === undefined || password === '' ? {} : { password }) });
    try {
      context.stdout.write(
        `dev queue listening (a development tool, not a broker: memory only), ${messages} sample outreach on ${queue}\n` +
          `  export CIVITAS_URL=${q.url}\n` +
          `  export CIVITAS_USERNAME=${q.username}\n` +
          `  export CIVITAS_PASSWORD=${q.password}\n` +
          `  export CIVITAS_QUEUE=${queue}\n` +
          `then, in another terminal with these settings:\n` +
          `  ${RUN} check\n` +
          `  ${RUN} peek\n` +
          `  ${RUN} pull --out outreach.jsonl --until-drained\n` +
          `more: ${helpPointer()}\n` +
          `Ctrl-C stops it.\n`,
      );
      if (!context.interrupted.aborted) await new Promise<void>((resolve) => context.interrupted.addEventListener('abort', () => resolve(), { once: true }));
      context.stderr.write(`dev queue stopping: ${q.depth(queue)} message(s) were still on ${queue}\n`);
    } finally {
      // Give a consumer that is settling right now a moment, then close.
      await sleep(50);
      await q.close();
    }
    return EXIT.ok;
  },
};
