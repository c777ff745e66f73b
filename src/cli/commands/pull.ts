import { resolve } from 'node:path';
import { manual } from '../../ack/strategies.js';
import type { OutreachDelivery } from '../../delivery/delivery.js';
import type { CloseReport, InvalidMessage } from '../../consumer/options.js';
import { OutreachConsumer } from '../../consumer/outreach-consumer.js';
import type { OutreachError } from '../../errors/outreach-error.js';
import { archiveLine } from '../../journal/line.js';
import { positiveInteger, UsageError, type CliCommand } from '../command.js';
import { EXIT } from '../exit-codes.js';
import { LineFile, LineFileError } from '../../journal/line-file.js';
import { reportFailure } from '../report.js';
import { CONNECT_TIMEOUT_MS, CONNECTION_HELP, CONNECTION_OPTIONS, resolveConnection } from '../settings.js';

/** Messages held at once (written and fsynced together, then accepted). */
const PULL_PREFETCH = 50;
/** How long closing may wait for lines being written. */
const CLOSE_DEADLINE_MS = 20_000;
/** How often the progress line is redrawn on a terminal. */
const PROGRESS_EVERY_MS = 500;

/** `pull`: a raw archive, each message accepted only after its line is on disk. */
export const pull: CliCommand = {
  name: 'pull',
  summary: 'append each message to a file as a JSON line, accepted only once the line is fsynced',
  help: `Usage: civitas-outreach pull --out FILE [--limit N] [--until-drained] [settings]

Takes messages off the queue and appends each to FILE as one JSON line: the body as Civitas sent
it, with messageId, deliveryCount, receivedAt and, when it decodes, outreachId. A message is
accepted (removed from the queue) only after its line is written and fsynced, so a crash or a
kill loses nothing: a message is in the file or still on the queue (or both: after a crash a
message can be written twice; dedupe by messageId). Undecodable messages are written too, with
"invalid": { kind, message }, and accepted once written. Runs until SIGINT/SIGTERM (then it
finishes the lines in hand and closes), --limit or --until-drained; prints a summary on stderr,
and a progress line while stderr is a terminal.

Options:
  --out FILE       the file to append to (created if missing; an incomplete last line left by
                   a killed run is cut off first: its message was never accepted)
  --limit N        stop after N messages
  --until-drained  stop when the queue has nothing more to send (a job for cron)

${CONNECTION_HELP}

Exit codes: 0 done or stopped by a signal; 1 the file could not be written (messages not written
stay on the queue); 2 settings; 3 connection; 4 TLS; 5 login; 6 queue.`,
  graceful: true,
  options: { ...CONNECTION_OPTIONS, out: { type: 'string' }, limit: { type: 'string' }, 'until-drained': { type: 'boolean' } },
  async run(values, context) {
    const out = values.out;
    if (typeof out !== 'string' || out === '') throw new UsageError('missing --out FILE: the file to append the messages to');
    const limit = positiveInteger(values.limit, '--limit') ?? Number.POSITIVE_INFINITY;
    const untilDrained = values['until-drained'] === true;
    const settings = await resolveConnection(values, context);
    const path = resolve(out);
    // An existing file is opened (and repaired) now; a new one is created only once a connection
    // is up, so that a run that never connects (a wrong password, say) leaves no empty file.
    // Either way a bad --out is reported before any connection is tried.
    let file: LineFile | undefined;
    try {
      file = await LineFile.openExisting(path, context.openFile);
      if (file === undefined) await LineFile.assertCreatable(path);
    } catch (error) {
      if (error instanceof LineFileError) throw new UsageError(error.message);
      throw new UsageError(`cannot open --out ${out}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
    }
    if (file !== undefined && file.repairedBytes > 0) {
      context.stderr.write(`cut off an incomplete last line (${file.repairedBytes} bytes) left by an interrupted run; its message was not accepted and comes again\n`);
    }
    let opening: Promise<LineFile> | undefined;
    /** The file, created on first use (a connection); each line is appended to it and fsynced before its message is accepted. */
    const output = (): Promise<LineFile> => (opening ??= file === undefined ? LineFile.open(path, context.openFile).then((created) => (file = created)) : Promise.resolve(file));

    let taken = 0;
    let written = 0;
    let invalid = 0;
    let writeError: unknown;
    let connected = false;
    let failedAttempts = 0;
    /** The error that ends a run that never connected; once one endpoint answered, the others' earlier errors are no failure. */
    let firstError: OutreachError | undefined;
    let lastConnectionError: OutreachError | undefined;
    const consumer = new OutreachConsumer({
      url: settings.urls,
      username: settings.username,
      password: settings.password,
      queue: settings.queue,
      ...(settings.ca === undefined ? {} : { ca: settings.ca }),
      allowInsecure: settings.allowInsecure,
      prefetch: Math.min(PULL_PREFETCH, limit),
      connectTimeoutMs: CONNECT_TIMEOUT_MS,
      strategy: manual(),
      // An undecodable message is written like any other (with why it failed) and accepted only
      // after that: nothing is dead-lettered where the institution cannot read it.
      invalidPolicy: 'accept',
      onInvalid: async (message: InvalidMessage) => {
        taken++;
        try {
          await (await output()).append(archiveLine({ ...message, invalid: { kind: message.error.kind, message: message.error.message } }, message.body));
        } catch (error) {
          // Not written, so not accepted (the consumer hands it back as the hook threw); stop.
          writeError ??= error;
          void stop();
          throw error;
        }
        written++;
        invalid++;
        if (written >= limit) void stop();
      },
    });

    let stopping: Promise<CloseReport> | undefined;
    let stopRequested: () => void = () => undefined;
    const stopped = new Promise<void>((resolve) => (stopRequested = resolve));
    const stop = (): Promise<CloseReport> => {
      stopRequested();
      return (stopping ??= consumer.close({ deadlineMs: CLOSE_DEADLINE_MS }));
    };
    consumer.on('error', (error, source) => {
      if (source === 'connection') lastConnectionError = error;
      if (!connected && source === 'connection') {
        // Before the first link opened, trouble is a setting or the network: once every endpoint
        // has failed (the standby of a pair refuses connections), say so and stop rather than
        // retry in silence. After it, reconnecting is the right thing.
        firstError ??= error;
        if (!error.retryable || ++failedAttempts >= settings.endpoints.length) void stop();
        return;
      }
      if (source === 'decode') return; // written to the file with its reason, counted in the summary
      context.stderr.write(`[${source}] ${error.code}: ${error.message}\n`);
    });
    consumer.on('connected', ({ endpoint }) => {
      connected = true;
      context.stderr.write(`connected to ${endpoint}, queue ${settings.queue}; appending to ${path}\n`);
      output().catch((error: unknown) => {
        writeError ??= error;
        void stop();
      });
    });
    // Before the first link, the next endpoint of a pair (the first was the standby): no failure yet.
    consumer.on('reconnecting', ({ endpoint, delayMs }) => context.stderr.write(`${connected ? 'reconnecting' : 'connecting'} to ${endpoint} in ${delayMs} ms\n`));
    if (untilDrained) consumer.on('drained', () => void stop());
    // The consumer gave up by itself (e.g. the queue was deleted or permissions were withdrawn).
    consumer.on('closed', () => stopRequested());
    context.interrupted.addEventListener('abort', () => void stop(), { once: true });

    // From the first connection on: a run that never connects prints its error alone.
    const showProgress = (): void => void (connected && context.stderr.write(`\rpulled ${written} (${invalid} undecodable)…`));
    const progress = context.stderr.isTTY === true ? setInterval(showProgress, PROGRESS_EVERY_MS) : undefined;
    const handler = async (delivery: OutreachDelivery): Promise<void> => {
      if (taken >= limit || writeError !== undefined) {
        delivery.release(); // not ours to take: back to the queue unchanged
        return;
      }
      taken++;
      try {
        await (await output()).append(archiveLine({ ...delivery, outreachId: delivery.outreach.outreachId }, delivery.body));
      } catch (error) {
        writeError ??= error;
        delivery.release();
        void stop();
        return;
      }
      delivery.accept();
      written++;
      if (written >= limit) void stop();
    };

    try {
      await consumer.start(handler, { concurrency: Math.min(PULL_PREFETCH, limit) });
    } catch (error) {
      // A fatal error before the first link (wrong password, untrusted certificate, refused
      // queue), or a signal that closed the consumer before it connected (not an error).
      if (!context.interrupted.aborted) firstError ??= error as OutreachError;
      void stop();
    }
    await stopped; // a signal, --limit, --until-drained, a write error, or trouble before the first link
    const report = await stop();
    clearInterval(progress);
    if (progress !== undefined && connected) {
      showProgress();
      context.stderr.write('\n');
    }
    await opening?.catch(() => undefined);
    await file?.close().catch((error: unknown) => void (writeError ??= error));
    if (!connected) {
      // Nothing was pulled and no file was created: the error is the whole story.
      if (firstError !== undefined) return reportFailure(firstError, context);
      context.stderr.write('stopped before a connection was made: nothing pulled\n');
      return EXIT.ok;
    }
    context.stderr.write(summary(written, invalid, path, report));
    if (consumer.state === 'failed' && lastConnectionError !== undefined) return reportFailure(lastConnectionError, context);
    if (writeError !== undefined) {
      context.stderr.write(`error: writing ${path} failed (${(writeError as NodeJS.ErrnoException).code ?? String(writeError)}); messages not written were left on the queue\n`);
      return EXIT.failure;
    }
    if (report.timedOut) return EXIT.failure;
    return EXIT.ok;
  },
};

function summary(written: number, invalid: number, path: string, report: CloseReport): string {
  const back = report.released + report.retried + report.lost + report.unfinished;
  return (
    `pulled ${written} message(s) into ${path}` +
    (invalid > 0 ? ` (${invalid} undecodable, written with the reason)` : '') +
    `; accepted ${report.accepted}` +
    (back > 0 ? `; ${back} handed back to the queue` : '') +
    (report.timedOut ? '; closing timed out: unfinished messages stay on the queue' : '') +
    '\n'
  );
}
