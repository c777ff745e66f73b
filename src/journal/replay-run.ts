import { stat } from 'node:fs/promises';
import type * as t from 'io-ts';
import type { AckStrategy } from '../ack/strategy.js';
import { consumerOverSource } from '../consumer/outreach-consumer.js';
import type { OutreachHandler } from '../consumer/dispatcher.js';
import { DEFAULT_PREFETCH } from '../consumer/settings.js';
import { OutreachError } from '../errors/outreach-error.js';
import type { OutreachLogger } from '../logger.js';
import type { DecodeErrorKind } from '../message/decode-error.js';
import type { Outreach } from '../message/outreach.js';
import { lineOf, type DeadLetterSink } from './journal-link.js';
import { ReplayLog } from './replay-log.js';
import { ReplaySource } from './replay-source.js';
import { replayLines, type ReplayFilter, type ReplayedLine } from './replay.js';

/** Lines read ahead of the engine's prefetch. */
const READ_AHEAD = 64;

/** Options of {@link replay}. */
export interface ReplayOptions<A = Outreach> {
  /**
   * A consumer's journal directory (its segments) or a file `civitas-outreach pull` wrote. A
   * journal may be read while its consumer runs: replay reads its segments only and takes no lock
   * (a line being written is skipped; a segment the consumer deletes meanwhile, past its retention,
   * ends the replay with `JOURNAL_FAILED`).
   */
  readonly from: string;
  /** Only lines received at or after this instant (a `Date` or an ISO 8601 text). */
  readonly since?: Date | string;
  /** Only lines received before this instant. */
  readonly until?: Date | string;
  /** Only the outreach with this id. */
  readonly outreachId?: string;
  /** Only outreach whose `outreachSource` is this (`Advisor`, `Faculty`, `Illume Students`). */
  readonly source?: string;
  /** Your code for one delivery, as for {@link OutreachConsumer.start}. */
  readonly handler: OutreachHandler<A>;
  /** Deliveries your handler works on at once; at most `prefetch`. @defaultValue `1` */
  readonly concurrency?: number;
  /** Lines held at once (a {@link batched} strategy's `size` must not exceed it). @defaultValue `100`, the consumer's ({@link DEFAULT_PREFETCH}) */
  readonly prefetch?: number;
  /** When a line counts as done, as for a consumer (a {@link batched} commit is where your sink writes). @defaultValue `atLeastOnce()` */
  readonly strategy?: NoInfer<AckStrategy<A>>;
  /** @defaultValue `OutreachCodec` */
  readonly codec?: t.Decoder<unknown, A>;
  /** @defaultValue silent */
  readonly logger?: OutreachLogger;
  /** Aborting it stops the replay: work in hand finishes, the rest is `unfinished`. */
  readonly signal?: AbortSignal;
}

/** A replayed line that failed for good (the strategy rejected it): reported here, written nowhere. */
export interface ReplayFailure {
  /** The AMQP message id the line recorded (`null` if the message had none). */
  readonly messageId: string | number | null;
  /** Its outreach id, if it decoded. */
  readonly outreachId: string | undefined;
  /** When the consumer (or `pull`) received it. */
  readonly receivedAt: Date;
  /** The file it came from, and its line number there (from 1). */
  readonly file: string;
  /** Its line number in that file (from 1). */
  readonly line: number;
  /** Why the strategy gave up on it (its rejection's text). */
  readonly reason: string;
}

/** A replayed line that did not decode: never handed to your handler. */
export interface ReplayInvalid {
  /** The AMQP message id the line recorded. */
  readonly messageId: string | number | undefined;
  /** What kind of decode failure it was. */
  readonly kind: DecodeErrorKind;
  /** Why, in the library's words (paths and types, no student data). */
  readonly message: string;
}

/** What {@link replay} did with the lines it selected. */
export interface ReplayReport {
  /** Lines read that passed the filters. */
  readonly selected: number;
  /** Accepted by the strategy (your handler, and a batch's commit, succeeded). */
  readonly handled: number;
  /** Lines the strategy gave up on (rejected): reported here, written nowhere. */
  readonly failed: readonly ReplayFailure[];
  /** Lines that did not decode: never handed to your handler. */
  readonly invalid: readonly ReplayInvalid[];
  /** Lines not settled when the replay stopped (its signal); 0 when `complete`. */
  readonly unfinished: number;
  /** Whether every selected line was read and settled. */
  readonly complete: boolean;
}

/**
 * Runs the outreach of a journal or a `pull` archive through `handler` again, through the same
 * engine and strategies as a live consumer, without a broker: for a sink that lost them, or a new
 * one. Resolves once every selected line is settled. Lines that fail for good are reported in
 * `failed` (nothing is written to the journal or its dead letters); undecodable ones in `invalid`.
 * Outage handling is off: a failing sink spends the strategy's attempts, and the lines are reported.
 *
 * @example
 * ```ts
 * const report = await replay({ from: '/var/lib/outreach/journal', since: '2026-11-30', handler: (d) => crm.upsert(d.outreach) });
 * ```
 * @throws {@link OutreachError} `INVALID_ARGUMENT` naming the option (`from` that cannot be read
 *   included); `JOURNAL_FAILED` (rejects) for a line that is not one of ours, after what was read is settled
 */
export async function replay<A = Outreach>(options: ReplayOptions<A>): Promise<ReplayReport> {
  if (options === null || typeof options !== 'object') throw new OutreachError('INVALID_ARGUMENT', 'replay: options must be an object');
  if (typeof options.from !== 'string' || options.from === '') throw new OutreachError('INVALID_ARGUMENT', 'replay: from must be a journal directory or a pull archive file');
  await stat(options.from).catch((error: unknown) => {
    throw new OutreachError('INVALID_ARGUMENT', `replay: from: ${(error as Error).message}`, { cause: error });
  });
  const filter: ReplayFilter = {
    since: instant(options.since, 'since'),
    until: instant(options.until, 'until'),
    outreachId: text(options.outreachId, 'outreachId'),
    source: text(options.source, 'source'),
  };
  const run = await runLines(replayLines(options.from, filter), options.from, options);
  if (run.log.failure !== undefined) {
    const cause = run.log.failure;
    throw new OutreachError('JOURNAL_FAILED', `replay: ${(cause as Error).message}`, { cause });
  }
  return run.report;
}

/** @internal The engine options of a replay or a re-drive. */
export type RunOptions<A> = Pick<ReplayOptions<A>, 'handler' | 'concurrency' | 'prefetch' | 'strategy' | 'codec' | 'logger' | 'signal'>;

/** @internal What a re-drive needs beyond a replay. */
interface RunHooks {
  /** `reject` (a re-drive): an undecodable line is reported in `failed` with its line, and kept. @defaultValue `accept` */
  readonly invalidPolicy?: 'accept' | 'reject';
  /** Each line (numbered from 1 in the order read) that the strategy accepted. */
  readonly accepted?: (n: number) => void;
}

/** @internal Runs `lines` through the engine into `options.handler`; resolves once all are settled (or the signal stopped it). */
export async function runLines<A>(lines: AsyncIterable<ReplayedLine>, label: string, options: RunOptions<A>, hooks: RunHooks = {}): Promise<{ log: ReplayLog; report: ReplayReport }> {
  if (typeof options.handler !== 'function') throw new OutreachError('INVALID_ARGUMENT', 'handler must be a function');
  const prefetch = options.prefetch ?? DEFAULT_PREFETCH;
  const log = new ReplayLog(label, lines, prefetch + READ_AHEAD);
  const failed: ReplayFailure[] = [];
  const invalid: ReplayInvalid[] = [];
  const sink: DeadLetterSink = {
    add(_text, number, reason) {
      const line = log.line(number);
      if (line !== undefined) {
        failed.push({ messageId: line.messageId, outreachId: line.outreachId, receivedAt: line.receivedAt, file: line.file, line: line.line, reason });
      }
      return Promise.resolve();
    },
  };
  const consumer = consumerOverSource<A>(
    {
      ...(options.prefetch === undefined ? {} : { prefetch: options.prefetch }),
      ...(options.strategy === undefined ? {} : { strategy: options.strategy }),
      ...(options.codec === undefined ? {} : { codec: options.codec }),
      ...(options.logger === undefined ? {} : { logger: options.logger }),
      outage: false,
      // Accepted here means only "done with": the line is reported in `invalid`.
      invalidPolicy: hooks.invalidPolicy ?? 'accept',
    },
    (events) => new ReplaySource(log, sink, events),
  );
  const accepted = hooks.accepted;
  if (accepted !== undefined) consumer.on('settled', (d, outcome) => outcome === 'accepted' && accepted(lineOf(d.token)));
  consumer.on('invalid', (i) => invalid.push({ messageId: i.messageId, kind: i.error.kind, message: i.error.message }));
  const closed = new Promise<void>((resolve) => consumer.once('closed', () => resolve()));
  let finished = false;
  try {
    await consumer.start(options.handler, { ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }), ...(options.signal === undefined ? {} : { signal: options.signal }) });
    await Promise.race([log.whenFinished(), closed]);
    finished = log.finished;
  } catch (error) {
    if (!(error instanceof OutreachError && error.code === 'CLOSED')) {
      await log.stop();
      throw error;
    }
  }
  const counts = await consumer.close();
  await log.stop();
  const unfinished = log.unsettled;
  return {
    log,
    report: {
      selected: log.lines,
      handled: counts.accepted - ((hooks.invalidPolicy ?? 'accept') === 'accept' ? counts.invalid : 0),
      failed,
      invalid,
      unfinished,
      complete: finished && log.failure === undefined,
    },
  };
}

function text(value: string | undefined, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '') throw new OutreachError('INVALID_ARGUMENT', `replay: ${name} must be a non-empty string`);
  return value;
}

function instant(value: Date | string | undefined, name: string): Date | undefined {
  if (value === undefined) return undefined;
  const at = value instanceof Date ? value : typeof value === 'string' ? new Date(value) : new Date(Number.NaN);
  if (Number.isNaN(at.getTime())) throw new OutreachError('INVALID_ARGUMENT', `replay: ${name} must be a Date or an ISO 8601 time`);
  return at;
}
