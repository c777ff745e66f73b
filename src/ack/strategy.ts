import type { OutreachError } from '../errors/outreach-error.js';
import type { OutreachDelivery } from '../delivery/delivery.js';
import type { OutreachLogger } from '../logger.js';

/** What the consumer gives a strategy besides the delivery. */
export interface AckContext<A = unknown> {
  /** Fires when the consumer stops waiting (its `close()` deadline passed or was aborted). */
  readonly signal: AbortSignal;
  /** The consumer's `prefetch`. */
  readonly prefetch: number;
  /** The consumer's logger. */
  readonly logger: OutreachLogger;
  /** Reports an error on the consumer's `error` event, e.g. a failed sink commit. */
  reportError(error: OutreachError, source: 'handler' | 'settle'): void;
  /**
   * Resolves after `ms`, or sooner when the consumer closes or an outage begins. Use it for a
   * retry delay: the delivery keeps its prefetch slot while it waits, but no handler slot, so
   * other deliveries keep flowing. After it, check `delivery.settled`: an outage hands waiting
   * deliveries back.
   */
  wait(ms: number): Promise<void>;
  /**
   * Tells the consumer's outage detector that work on this delivery failed (once per delivery;
   * your handler's throws are told already). Returns `true` when an outage is under way: the
   * consumer has then handed the delivery back to the broker (`released`, its attempts not spent),
   * and the strategy must not retry or dead-letter it. Always `false` with outage handling off.
   */
  noteFailure(delivery: OutreachDelivery<A>, error: unknown): boolean;
  /**
   * Tells the consumer that your sink is working on these deliveries (a batch commit) until
   * `until` settles. If `close()` stops waiting before then, they count as `unfinished` in its
   * report (not `released`) and are left unsettled, so the broker delivers them again, and the
   * consumer logs a warning that a commit was still running (if it completes later, those messages
   * may be stored twice). {@link batched} calls it for each commit.
   */
  working(deliveries: readonly OutreachDelivery<A>[], until: Promise<unknown>): void;
}

/**
 * How and when deliveries are settled: the delivery guarantee you choose.
 *
 * @typeParam A - the decoded message type of the consumer it serves. A strategy that does not
 *   look at messages is an `AckStrategy` (of `unknown`) and serves every consumer; one that does
 *   (a batch commit) names the type, e.g. `AckStrategy<Outreach>`
 *
 * @remarks
 * The consumer calls `onReceive` when a delivery arrives, then hands it to your code, then calls
 * `onSuccess` when your code finished with it or `onFailure` when your code threw. A strategy
 * settles by calling the delivery's `accept()`, `retry()`, `reject()` or `release()`; it should
 * skip a delivery your code already settled (`delivery.settled`). A delivery holds one of the
 * `prefetch` slots until it is settled and your code is done with it, so a strategy that holds
 * deliveries (a batch) must settle them within a bounded time.
 *
 * Built in: {@link atLeastOnce} (the default), {@link atMostOnce}, {@link manual},
 * {@link batched}. Implement this interface for anything else.
 *
 * @example
 * ```ts
 * // Accept everything, even failures, but log them: a strategy of your own.
 * const logAndDrop: AckStrategy = {
 *   name: 'log-and-drop',
 *   onSuccess: (d) => { if (!d.settled) d.accept(); },
 *   onFailure: (d, err, ctx) => { ctx.logger.warn({ messageId: d.messageId }, 'dropped'); if (!d.settled) d.accept(); },
 * };
 * ```
 */
export interface AckStrategy<A = unknown> {
  /** A short name for logs and the health snapshot. */
  readonly name: string;
  /** Called by the consumer's constructor: throw an {@link OutreachError} if the settings cannot work with this prefetch. */
  validate?(prefetch: number): void;
  /** Called when a delivery arrives, before your code sees it. */
  onReceive?(delivery: OutreachDelivery<A>, context: AckContext<A>): void;
  /** Called when your code finished with a delivery without throwing. */
  onSuccess(delivery: OutreachDelivery<A>, context: AckContext<A>): void | Promise<void>;
  /**
   * Called when your code threw while working on a delivery, unless an outage is under way (the
   * consumer then hands the delivery back itself). Runs outside the handler's concurrency slot:
   * a retry delay here (use `context.wait`) does not hold up other deliveries.
   */
  onFailure(delivery: OutreachDelivery<A>, error: unknown, context: AckContext<A>): void | Promise<void>;
  /** Called by `close()` after your code has finished: settle whatever the strategy still holds. */
  flush?(context: AckContext<A>): Promise<void>;
}
