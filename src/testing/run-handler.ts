import type { OutreachHandler } from '../consumer/dispatcher.js';
import type { CloseReport, OutreachConsumerOptions } from '../consumer/options.js';
import type { OutageInfo, RecoveryInfo } from '../consumer/outage.js';
import { OutreachConsumer } from '../consumer/outreach-consumer.js';
import type { ErrorSource } from '../consumer/events.js';
import type { OutreachErrorCode } from '../errors/outreach-error.js';
import type { Outreach } from '../message/outreach.js';
import { startDevQueue } from '../dev-queue/dev-queue.js';
import type { DevQueueInput } from '../dev-queue/types.js';
import type { DevQueueSettlement } from '../dev-queue/queue-state.js';

/**
 * Options of {@link runHandler}: the consumer settings under test (each as the consumer's option
 * of the same name, with the same default), and how long to wait. The connection settings are the
 * harness's own.
 */
export interface RunHandlerOptions<A = Outreach> {
  /** The acknowledgement strategy under test. @defaultValue `atLeastOnce()` */
  readonly strategy?: OutreachConsumerOptions<A>['strategy'];
  /** Messages held at once. @defaultValue the consumer's default (20) */
  readonly prefetch?: number;
  /** Failed deliveries waiting for a retry outside the prefetch budget. @defaultValue 10 x prefetch */
  readonly maxWaitingRetries?: number;
  /** Your own codec, if the handler expects another type. @defaultValue the outreach codec */
  readonly codec?: OutreachConsumerOptions<A>['codec'];
  /** Largest body decoded. @defaultValue 16 MiB */
  readonly maxBodyBytes?: number;
  /** Your hook for undecodable messages. @defaultValue none */
  readonly onInvalid?: OutreachConsumerOptions<A>['onInvalid'];
  /** What happens to undecodable messages after the hook. @defaultValue `'reject'` */
  readonly invalidPolicy?: OutreachConsumerOptions<A>['invalidPolicy'];
  /** Outage handling, or `false` to turn it off. @defaultValue on, with the consumer's defaults */
  readonly outage?: OutreachConsumerOptions<A>['outage'];
  /** Where the consumer logs. @defaultValue the consumer's default */
  readonly logger?: OutreachConsumerOptions<A>['logger'];
  /**
   * How many deliveries the handler works on at once.
   * @defaultValue `1`
   */
  readonly concurrency?: number;
  /**
   * How long to wait for every message to be accepted or dead-lettered before closing anyway
   * (`complete` is then `false`). Retry delays count: pass `atLeastOnce({ retryDelayMs: 0 })` to
   * test retries quickly.
   * @defaultValue `30_000`
   */
  readonly timeoutMs?: number;
}

/** An `error` event the consumer emitted during {@link runHandler}. */
export interface RunHandlerError {
  /** The error's code (a handler's throw is `HANDLER_FAILED`). */
  readonly code: OutreachErrorCode;
  /** Where it came from (a handler's throw is `handler`). */
  readonly source: ErrorSource;
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

/**
 * Runs your handler over the given messages with the real consumer, its acknowledgement strategy
 * and its outage handling, and tells you how each message was settled: retries (with the
 * `deliveryCount` each attempt saw), dead letters, undecodable messages, outages.
 *
 * @remarks
 * The messages are put on an in-process dev queue (see {@link startDevQueue}) and consumed by an
 * `OutreachConsumer` with your options, exactly as in production. No network: the dev queue
 * runs with `network: false`, and the consumer reaches it through a pair of in-memory streams
 * carrying the same AMQP frames a socket would (no port, no socket, nothing to install). The run
 * ends when every message is accepted or dead-lettered, or after `timeoutMs`; then the consumer
 * is closed.
 *
 * @param handler - your handler, as you would pass it to `consumer.start()`
 * @param messages - what to put on the queue: outreach objects, JSON strings, bytes, or messages with metadata
 *
 * @example
 * ```ts
 * import { atLeastOnce } from 'civitas-outreach';
 * import { makeOutreachMessages, runHandler } from 'civitas-outreach/testing';
 *
 * const result = await runHandler(async (delivery) => crm.upsert(delivery.outreach), [...makeOutreachMessages(3)], {
 *   strategy: atLeastOnce({ maxAttempts: 3, retryDelayMs: 0 }),
 * });
 * expect(result.messages.map((m) => m.outcome)).toEqual(['accepted', 'accepted', 'accepted']);
 * ```
 */
export async function runHandler<A = Outreach>(
  handler: OutreachHandler<A>,
  messages: readonly DevQueueInput[],
  options: RunHandlerOptions<A> = {},
): Promise<RunHandlerResult> {
  const { concurrency, timeoutMs = 30_000, ...consumerSettings } = options;
  const queue = await startDevQueue({ queues: {}, network: false });
  try {
    const ids = queue.publish(QUEUE, ...messages);
    const consumer = new OutreachConsumer<A>({
      ...(consumerSettings as Partial<OutreachConsumerOptions<A>>),
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
    const errors: RunHandlerError[] = [];
    consumer.on('invalid', (message) => void (message.messageId !== undefined && invalid.add(message.messageId)));
    consumer.on('outage', (info) => void outages.push(info));
    consumer.on('recovered', (info) => void recoveries.push(info));
    consumer.on('error', (error, source) => void errors.push({ code: error.code, source }));

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
      await handler(delivery);
    }, concurrency === undefined ? {} : { concurrency });
    check();
    await finished;
    clearTimeout(timer);
    const complete = queue.depth(QUEUE) === 0;
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
    return { messages: results, complete, report, outages, recoveries, errors };
  } finally {
    await queue.close();
  }
}
