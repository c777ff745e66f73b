import { OutreachError } from '../errors/outreach-error.js';
import type { OutreachDelivery } from '../delivery/delivery.js';
import type { Outreach } from '../message/outreach.js';
import { MAX_TIMER_MS } from '../timers.js';
import { retryOrDeadLetter, retrySettings, type RetryOptions } from './retry-policy.js';
import type { AckContext, AckStrategy } from './strategy.js';

/** Options of {@link atLeastOnce}. */
export type AtLeastOnceOptions<A = unknown> = RetryOptions<A>;

/**
 * The default: accept a delivery after your code succeeds; when it throws, retry it a bounded
 * number of times, then give it to `onDeadLetter` and reject it.
 *
 * @remarks Nothing is lost: a crash, a dropped connection or a `close()` before your code
 * finished means the broker delivers the message again. The price is duplicates: make your sink
 * idempotent (upsert by `outreachId`) or use {@link DuplicateFilter}.
 *
 * @example
 * ```ts
 * const consumer = new OutreachConsumer({
 *   ...connection,
 *   strategy: atLeastOnce({ maxAttempts: 5, retryDelayMs: 2000, onDeadLetter: (d, err) => quarantine.save(d.body, err) }),
 * });
 * ```
 */
export function atLeastOnce<A = unknown>(options: AtLeastOnceOptions<A> = {}): AckStrategy<A> {
  const settings = retrySettings(options);
  return {
    name: 'at-least-once',
    onSuccess(delivery) {
      if (!delivery.settled) delivery.accept();
    },
    onFailure(delivery, error, context) {
      return retryOrDeadLetter(delivery, error, settings, context);
    },
  };
}

/**
 * Accept each delivery as it arrives, before your code runs. If your code throws or the process
 * dies, the message is gone for good.
 *
 * What it holds was accepted already, so it cannot be handed back: on `pause()` and during a sink
 * outage those messages still go to your code; `close()` drops the ones not yet handed to your
 * code (up to `prefetch`) and logs how many at `warn`.
 *
 * @remarks Only for data you can afford to lose, and only when you say so: the name is the
 * warning. Measured on ActiveMQ: a handler that throws loses its message (see
 * [docs/delivery-guarantees.md](../../docs/delivery-guarantees.md)).
 *
 * @example
 * ```ts
 * new OutreachConsumer({ ...connection, strategy: atMostOnce() });
 * ```
 */
export function atMostOnce(): AckStrategy {
  return {
    name: 'at-most-once',
    onReceive(delivery) {
      delivery.accept();
    },
    onSuccess() {},
    onFailure(delivery, _error, context) {
      context.logger.warn({ messageId: delivery.messageId }, 'handler failed on an at-most-once delivery: the message is lost');
    },
  };
}

/**
 * You settle every delivery yourself with `accept()`, `retry()`, `reject()` or `release()`.
 *
 * @remarks A delivery you never settle keeps its prefetch slot: once `prefetch` deliveries are
 * unsettled, no more arrive. `close()` waits for them until its deadline, then releases them.
 *
 * @example
 * ```ts
 * const consumer = new OutreachConsumer({ ...connection, strategy: manual() });
 * for await (const delivery of consumer) {
 *   if (await crm.upsert(delivery.outreach)) delivery.accept();
 *   else delivery.retry();
 * }
 * ```
 */
export function manual(): AckStrategy {
  return { name: 'manual', onSuccess() {}, onFailure() {} };
}

/** Options of {@link batched}. */
export interface BatchedOptions<A = Outreach> extends RetryOptions<A> {
  /**
   * Commit this many deliveries together. At most the consumer's `prefetch`: a batch is made of
   * deliveries that are held unsettled.
   */
  readonly size: number;
  /**
   * Commit a smaller batch when its first delivery has waited this long.
   * @defaultValue `1000`
   */
  readonly maxWaitMs?: number;
  /**
   * Your sink's commit, e.g. one database transaction for the whole batch. When it resolves,
   * every delivery in the batch is accepted; when it throws, each is retried (bounded as in
   * {@link atLeastOnce}). A failed commit counts towards an outage once for each delivery in it,
   * so a database that is down pauses the consumer instead of dead-lettering batches.
   */
  readonly commit: (deliveries: readonly OutreachDelivery<A>[]) => Promise<void>;
}

/**
 * Settle deliveries together, after your sink commits them: fewer round trips, one transaction.
 *
 * @remarks Your handler (or loop body) prepares each delivery; the strategy collects the ones that
 * succeeded and calls `commit` with a batch of `size`, or fewer after `maxWaitMs`, and on
 * `close()`. Deliveries whose handler threw are retried on their own, as in {@link atLeastOnce}.
 *
 * @example
 * ```ts
 * strategy: batched({
 *   size: 50,
 *   maxWaitMs: 500,
 *   commit: (batch) => db.transaction((tx) => tx.insertOutreach(batch.map((d) => d.outreach))),
 * })
 * ```
 */
export function batched<A = Outreach>(options: BatchedOptions<A>): AckStrategy<A> {
  const settings = retrySettings(options);
  const maxWaitMs = options.maxWaitMs ?? 1000;
  if (!Number.isInteger(options.size) || options.size < 1) {
    throw new OutreachError('INVALID_ARGUMENT', 'batched: size must be an integer of at least 1');
  }
  if (!(maxWaitMs >= 0 && maxWaitMs <= MAX_TIMER_MS)) {
    throw new OutreachError('INVALID_ARGUMENT', `batched: maxWaitMs must be from 0 to ${MAX_TIMER_MS}`);
  }
  let pending: OutreachDelivery<A>[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  let committing: Promise<void> = Promise.resolve();
  let lastContext: AckContext<A> | undefined;

  const commit = (context: AckContext<A>): Promise<void> => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    const batch = pending;
    pending = [];
    if (batch.length === 0) return committing;
    committing = committing.then(async () => {
      // Deliveries whose connection is gone are left out: the broker delivers them again, and
      // committing them now would store them twice, perhaps in this very batch.
      const live = batch.filter((d) => d.outcome === undefined && !d.settled);
      if (live.length === 0) return;
      try {
        const running = Promise.resolve(options.commit(live));
        context.working(live, running);
        await running;
      } catch (error) {
        context.reportError(
          new OutreachError('HANDLER_FAILED', `batched: commit of ${live.length} deliveries failed; they are retried`, { cause: error }),
          'handler',
        );
        await Promise.all(live.map((d) => retryOrDeadLetter(d, error, settings, context)));
        return;
      }
      for (const d of live) if (!d.settled) d.accept();
    });
    // One failed link must not break the chain for every later batch (nor go unhandled).
    committing = committing.catch((error: unknown) => {
      context.reportError(new OutreachError('HANDLER_FAILED', 'batched: settling a batch failed', { cause: error }), 'settle');
    });
    return committing;
  };

  return {
    name: 'batched',
    validate(prefetch) {
      if (options.size > prefetch) {
        throw new OutreachError('INVALID_ARGUMENT', `batched: size (${options.size}) must not exceed prefetch (${prefetch})`);
      }
    },
    onSuccess(delivery, context) {
      // Lost with its connection, or finished after close() stopped waiting: not committed now;
      // the broker delivers it again.
      if (delivery.outcome !== undefined || context.signal.aborted) return;
      lastContext = context;
      pending.push(delivery);
      if (pending.length >= options.size) void commit(context);
      else if (timer === undefined) timer = setTimeout(() => void commit(lastContext ?? context), maxWaitMs);
    },
    onFailure(delivery, error, context) {
      return retryOrDeadLetter(delivery, error, settings, context);
    },
    flush(context) {
      return commit(context);
    },
  };
}
