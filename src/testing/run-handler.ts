import type { OutreachHandler } from '../consumer/dispatcher.js';
import { atLeastOnce } from '../ack/strategies.js';
import type { CloseReport, ConsumerHealth, InvalidMessage, OutreachConsumerOptions } from '../consumer/options.js';
import type { OutageInfo, RecoveryInfo } from '../consumer/outage.js';
import { OutreachConsumer } from '../consumer/outreach-consumer.js';
import type { ErrorSource } from '../consumer/events.js';
import type { OutreachError, OutreachErrorCode } from '../errors/outreach-error.js';
import type { Outreach } from '../message/outreach.js';
import { startDevQueue } from './dev-queue/dev-queue.js';
import type { DevQueueInput } from './dev-queue/types.js';
import type { DevQueueSettlement } from './dev-queue/queue-state.js';

/**
 * Options of {@link runHandler}: the consumer settings under test (each as the consumer's option
 * of the same name; the defaults are the consumer's, except `strategy` and `outage`, which differ
 * as said there), and how long to wait. The connection settings are the harness's own.
 */
export interface RunHandlerOptions<A = Outreach> {
  /**
   * The acknowledgement strategy under test.
   * @defaultValue `atLeastOnce({ retryDelayMs: 0 })`: the consumer's default strategy (5
   *   attempts, then a dead letter) without its waits between attempts (1, 2, 4, 8 s), which would
   *   outlast a test's timeout. The attempts, `deliveryCount`s and outcomes are the same.
   */
  readonly strategy?: OutreachConsumerOptions<A>['strategy'];
  /** Messages held at once. @defaultValue `100`, the consumer's default (`DEFAULT_PREFETCH`) */
  readonly prefetch?: number;
  /** Failed deliveries waiting for a retry outside the prefetch budget. @defaultValue 10 x prefetch */
  readonly maxWaitingRetries?: number;
  /** Your own codec, if the handler expects another type. @defaultValue the outreach codec */
  readonly codec?: OutreachConsumerOptions<A>['codec'];
  /** Largest body decoded. @defaultValue `16777216` (16 MiB) */
  readonly maxBodyBytes?: number;
  /** Your hook for undecodable messages. @defaultValue none */
  readonly onInvalid?: OutreachConsumerOptions<A>['onInvalid'];
  /** What happens to undecodable messages after the hook. @defaultValue `'reject'` */
  readonly invalidPolicy?: OutreachConsumerOptions<A>['invalidPolicy'];
  /**
   * Outage handling: pass outage options (`{}` for the consumer's defaults) to test how your
   * handler's failures start and end an outage.
   * @defaultValue `false` (off), unlike the consumer. This is a harness for one handler: with
   *   outage handling on, five messages failing in a row start an outage, and while the handler
   *   keeps failing, the consumer holds the messages back and probes (after 1 s, then 2, 4…), so a
   *   test of a failing handler would see no retries and no dead letters, only a timeout.
   */
  readonly outage?: OutreachConsumerOptions<A>['outage'];
  /** Where the consumer logs. @defaultValue the consumer's default (silent) */
  readonly logger?: OutreachConsumerOptions<A>['logger'];
  /**
   * How many deliveries the handler works on at once.
   * @defaultValue `1`
   */
  readonly concurrency?: number;
  /**
   * How long to wait for every message to be accepted or dead-lettered before closing anyway:
   * `complete` is then `false` and `incomplete` says why. The default ends a run well inside a
   * test runner's default timeout (vitest and Jest: 5 s), so a stuck run fails with a reason, not
   * with the runner's "timed out". Raise it (and your test's timeout) for runs that must wait,
   * such as real retry delays or outage probes.
   * @defaultValue `3000`
   */
  readonly timeoutMs?: number;
}

/** An `error` event the consumer emitted during {@link runHandler}. */
export interface RunHandlerError {
  /** The error's code (a handler's throw is `HANDLER_FAILED`). */
  readonly code: OutreachErrorCode;
  /** Where it came from (a handler's throw is `handler`). */
  readonly source: ErrorSource;
  /**
   * The error's text and, after a colon, that of its `cause`: for a handler's throw,
   * `handler threw for delivery ID:… (attempt 1): CRM refused it`.
   */
  readonly message: string;
  /** What your code threw, for `HANDLER_FAILED`; otherwise the error's own cause, if any. */
  readonly cause: unknown;
  /**
   * The position (in the messages given) of the message it concerns: for errors of your handler,
   * your `onInvalid` hook, and decoding. `undefined` for errors of no one message (the
   * connection, a batch commit).
   */
  readonly index: number | undefined;
  /** The `outreachId` of that message, when it decoded. */
  readonly outreachId: string | undefined;
  /** The error as the `error` event carried it. */
  readonly error: OutreachError;
}

/** What became of one message in {@link runHandler}. */
export interface HandledMessage {
  /** Its position in the messages given. */
  readonly index: number;
  /** The AMQP message id it was sent with. */
  readonly messageId: string | number;
  /**
   * - `accepted`: done, deleted from the queue.
   * - `dead-lettered`: rejected: in the broker's dead-letter store (on Amazon MQ, only Civitas can
   *   read it); a message sent with `durable: false` is dropped instead, and reads the same.
   * - `pending`: still on the queue when the run ended (a timeout, or a strategy that never settled it).
   */
  readonly outcome: 'accepted' | 'dead-lettered' | 'pending';
  /** How many times your handler was called with it (0 for an undecodable message). */
  readonly handlerCalls: number;
  /** The `deliveryCount` of each delivery, in order: 0, 1, 2 for a message retried twice. */
  readonly deliveryCounts: readonly number[];
  /** How each delivery ended on the queue's side, in order (`modified` is a retry). */
  readonly settlements: readonly (DevQueueSettlement | 'unsettled')[];
  /** Whether it went to `onInvalid` (and the `invalid` event) instead of the handler. */
  readonly invalid: boolean;
}

/** The result of {@link runHandler}. */
export interface RunHandlerResult {
  /** One entry per message given, in the same order. */
  readonly messages: readonly HandledMessage[];
  /** Whether every message was accepted or dead-lettered before the timeout. */
  readonly complete: boolean;
  /**
   * Why the run did not complete, in a sentence: an outage under way, retries still waiting,
   * deliveries never settled (a `manual()` strategy), or messages never reached. `undefined`
   * when `complete`.
   */
  readonly incomplete: string | undefined;
  /** The consumer's close report: counts of accepted, retried, rejected, released and invalid deliveries. */
  readonly report: CloseReport;
  /** Every `outage` event, in order. */
  readonly outages: readonly OutageInfo[];
  /** Every `recovered` event, in order. */
  readonly recoveries: readonly RecoveryInfo[];
  /** Every `error` event, in order. */
  readonly errors: readonly RunHandlerError[];
}

const QUEUE = 'civitas.outreach.test';
const DEFAULT_TIMEOUT_MS = 3_000;

/**
 * Runs your handler over the given messages with the real consumer and its acknowledgement
 * strategy, and tells you how each message was settled: retries (with the `deliveryCount` each
 * attempt saw), dead letters, undecodable messages, and each error with the message it concerns
 * and what your code threw.
 *
 * @remarks
 * The messages are put on an in-process dev queue (see {@link startDevQueue}) and consumed by an
 * `OutreachConsumer` with your options, exactly as in production. No network: the dev queue
 * runs with `network: false`, and the consumer reaches it through a pair of in-memory streams
 * carrying the same AMQP frames a socket would (no port, no socket, nothing to install). The run
 * ends when every message is accepted or dead-lettered, or after `timeoutMs`; then the consumer
 * is closed.
 *
 * Two defaults differ from the consumer's, so that a test of a failing handler ends in a few
 * milliseconds with its retries and dead letters to look at, not in a runner's timeout: retries
 * do not wait (`strategy`), and outage handling is off (`outage`; pass `outage: {}` to test it).
 * A run that still cannot finish (a `manual()` strategy that never settles, an outage you turned
 * on, a handler that never returns) ends after `timeoutMs` (3 s) with `complete: false` and
 * `incomplete` saying what held it up.
 *
 * @param handler - your handler, as you would pass it to `consumer.start()`
 * @param messages - what to put on the queue: outreach objects, JSON strings, bytes, or messages with metadata
 *
 * @example
 * ```ts
 * import { makeOutreachMessages, runHandler } from 'civitas-outreach/testing';
 *
 * const result = await runHandler(async (delivery) => crm.upsert(delivery.outreach), [...makeOutreachMessages(3)]);
 * expect(result.incomplete).toBeUndefined();
 * expect(result.messages.map((m) => m.outcome)).toEqual(['accepted', 'accepted', 'accepted']);
 * ```
 */
export async function runHandler<A = Outreach>(
  handler: OutreachHandler<A>,
  messages: readonly DevQueueInput[],
  options: RunHandlerOptions<A> = {},
): Promise<RunHandlerResult> {
  const { concurrency, timeoutMs = DEFAULT_TIMEOUT_MS, strategy = atLeastOnce({ retryDelayMs: 0 }), outage = false, onInvalid, ...consumerSettings } = options;
  const queue = await startDevQueue({ queues: {}, network: false });
  try {
    const ids = queue.publish(QUEUE, ...messages);
    const indexOf = new Map(ids.map((id, index) => [id, index]));
    /** Which message each value your code threw came from (looked up by the `error` event that follows). */
    const thrownBy = new Map<unknown, { messageId: string | number | undefined; outreachId: string | undefined }>();
    const consumer = new OutreachConsumer<A>({
      ...(consumerSettings as Partial<OutreachConsumerOptions<A>>),
      strategy,
      outage,
      ...(onInvalid === undefined
        ? {}
        : {
            onInvalid: async (invalid: InvalidMessage) => {
              try {
                await onInvalid(invalid);
              } catch (error) {
                thrownBy.set(error, { messageId: invalid.messageId, outreachId: undefined });
                throw error;
              }
            },
          }),
      url: queue.url,
      username: queue.username,
      password: queue.password,
      queue: QUEUE,
      allowInsecure: true,
    });
    const handlerCalls = new Map<string | number, number>();
    const invalid = new Set<string | number>();
    const outages: OutageInfo[] = [];
    const recoveries: RecoveryInfo[] = [];
    const errors: { -readonly [K in keyof RunHandlerError]: RunHandlerError[K] }[] = [];
    consumer.on('invalid', (message) => {
      if (message.messageId === undefined) return;
      invalid.add(message.messageId);
      // The decode error was emitted just before this event, for this message.
      const last = errors.at(-1);
      if (last?.source === 'decode' && last.index === undefined) last.index = indexOf.get(message.messageId);
    });
    consumer.on('outage', (info) => void outages.push(info));
    consumer.on('recovered', (info) => void recoveries.push(info));
    consumer.on('error', (error, source) => {
      const from = source === 'handler' ? thrownBy.get(error.cause) : undefined;
      const causeText = error.cause === undefined ? undefined : error.cause instanceof Error ? error.cause.message : String(error.cause);
      errors.push({
        code: error.code,
        source,
        message: causeText === undefined ? error.message : `${error.message}: ${causeText}`,
        cause: error.cause,
        index: from?.messageId === undefined ? undefined : indexOf.get(from.messageId),
        outreachId: from?.outreachId,
        error,
      });
    });

    let done: () => void = () => undefined;
    const finished = new Promise<void>((resolve) => (done = resolve));
    const check = (): void => {
      if (queue.depth(QUEUE) === 0) done();
    };
    consumer.on('settled', () => setImmediate(check));
    consumer.on('drained', check);
    const timer = setTimeout(done, timeoutMs);

    await consumer.start(async (delivery) => {
      if (delivery.messageId !== undefined) handlerCalls.set(delivery.messageId, (handlerCalls.get(delivery.messageId) ?? 0) + 1);
      try {
        await handler(delivery);
      } catch (error) {
        thrownBy.set(error, { messageId: delivery.messageId, outreachId: outreachIdOf(delivery.outreach) });
        throw error;
      }
    }, concurrency === undefined ? {} : { concurrency });
    check();
    await finished;
    clearTimeout(timer);
    const left = queue.depth(QUEUE);
    const incomplete = left === 0 ? undefined : whyIncomplete(consumer.health(), left, ids.length, outages, recoveries, timeoutMs);
    const report = await consumer.close({ deadlineMs: 1_000 });

    const results = ids.map((messageId, index): HandledMessage => {
      const deliveries = queue.deliveries(QUEUE, messageId);
      const last = deliveries.at(-1)?.settlement;
      const outcome = last === 'accepted' ? 'accepted' : last === 'rejected' || last === 'modified-undeliverable' ? 'dead-lettered' : 'pending';
      return {
        index,
        messageId,
        outcome,
        handlerCalls: handlerCalls.get(messageId) ?? 0,
        deliveryCounts: deliveries.map((d) => d.deliveryCount),
        settlements: deliveries.map((d) => d.settlement ?? 'unsettled'),
        invalid: invalid.has(messageId),
      };
    });
    return { messages: results, complete: incomplete === undefined, incomplete, report, outages, recoveries, errors };
  } finally {
    await queue.close();
  }
}

/** The `outreachId` of a decoded message, if it has one (a custom codec's type may not). */
function outreachIdOf(outreach: unknown): string | undefined {
  const id = (outreach as { outreachId?: unknown } | undefined)?.outreachId;
  return typeof id === 'string' ? id : undefined;
}

/** What held up a run that ended with messages still on the queue, as `RunHandlerResult.incomplete` says it. */
function whyIncomplete(health: ConsumerHealth, left: number, total: number, outages: readonly OutageInfo[], recoveries: readonly RecoveryInfo[], timeoutMs: number): string {
  const head = `${left} of ${total} messages not settled after ${timeoutMs} ms`;
  if (outages.length > recoveries.length) {
    const outage = outages.at(-1)!;
    const began = outage.reason === 'failures' ? `after ${outage.failures} messages failed in a row` : 'when your isOutage said an error meant the sink is down';
    return `${head}: an outage began ${began}, and the handler did not succeed on a probe since (the consumer holds messages back while it probes). Fix the handler, or pass outage: false to see each message retried and dead-lettered`;
  }
  if (health.waitingRetries > 0) {
    return `${head}: ${health.waitingRetries} failed deliveries were waiting out a retry delay. Pass a strategy with retryDelayMs: 0 (e.g. atLeastOnce({ retryDelayMs: 0 })), or a larger timeoutMs`;
  }
  if (health.inFlight > 0) {
    return `${head}: the handler was still running on ${health.inFlight} deliveries (does it return?)`;
  }
  if (health.held > 0) {
    return `${head}: ${health.held} deliveries were handed out and never settled (with manual(), settle each delivery; with batched(), a batch was not full)`;
  }
  return `${head}: they were never delivered. Pass a larger timeoutMs`;
}
