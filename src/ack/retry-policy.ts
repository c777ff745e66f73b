import { OutreachError } from '../errors/outreach-error.js';
import { MAX_TIMER_MS } from '../timers.js';
import type { OutreachDelivery } from '../delivery/delivery.js';
import type { AckContext } from './strategy.js';

/** Bounded retries, shared by {@link atLeastOnce} and {@link batched}. */
export interface RetryOptions<A = unknown> {
  /**
   * Attempts in all, counting the first, read from the broker's `delivery_count` (so a
   * delivery lost with a dropped connection counts too). After the last, the delivery goes to
   * `onDeadLetter` and is rejected.
   * @defaultValue `5`
   */
  readonly maxAttempts?: number;
  /**
   * Wait this long before handing a failed delivery back: a number of milliseconds, or a function
   * of the attempt that just failed (1 for the first). ActiveMQ re-dispatches a retried message at
   * once, so without a delay a failing message is retried `maxAttempts` times within
   * milliseconds. The delivery keeps its prefetch slot while it waits, but not its handler slot:
   * other deliveries keep flowing.
   * @defaultValue {@link defaultRetryDelayMs}: 1 s, doubling per attempt, at most 30 s
   */
  readonly retryDelayMs?: number | ((attempt: number) => number);
  /**
   * Called with a delivery that failed `maxAttempts` times, before it is rejected (the broker then
   * dead-letters it where only the queue's owner can read it: keep your own copy here). If it
   * throws, the delivery is retried instead of rejected, so nothing is dropped. Never called
   * during an outage (see {@link OutageOptions}): only a message that fails on its own gets here.
   * @defaultValue none: the delivery is rejected
   */
  readonly onDeadLetter?: (delivery: OutreachDelivery<A>, error: unknown) => void | Promise<void>;
}

/**
 * The default retry delay: 1 s after the first failed attempt, doubling, at most 30 s (so the
 * default 5 attempts span about 15 s before the dead-letter hook).
 * @example
 * ```ts
 * atLeastOnce({ retryDelayMs: (attempt) => defaultRetryDelayMs(attempt) * 4 });
 * ```
 */
export function defaultRetryDelayMs(attempt: number): number {
  return Math.min(30_000, 1000 * 2 ** Math.max(0, attempt - 1));
}

/** @internal */
export interface RetrySettings<A = unknown> {
  readonly maxAttempts: number;
  readonly retryDelayMs: (attempt: number) => number;
  readonly onDeadLetter: RetryOptions<A>['onDeadLetter'] | undefined;
}

/** @internal Validated settings of {@link RetryOptions}. */
export function retrySettings<A>(options: RetryOptions<A>): RetrySettings<A> {
  const maxAttempts = options.maxAttempts ?? 5;
  const delay = options.retryDelayMs ?? defaultRetryDelayMs;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
    throw new OutreachError('INVALID_ARGUMENT', 'maxAttempts must be an integer of at least 1');
  }
  if (typeof delay === 'number' && !(delay >= 0 && delay <= MAX_TIMER_MS)) {
    throw new OutreachError('INVALID_ARGUMENT', `retryDelayMs must be from 0 to ${MAX_TIMER_MS}`);
  }
  const retryDelayMs =
    typeof delay === 'number'
      ? () => delay
      : (attempt: number): number => {
          try {
            return Math.min(MAX_TIMER_MS, Math.max(0, Number(delay(attempt)) || 0));
          } catch {
            return defaultRetryDelayMs(attempt); // a broken delay function must not strand the delivery
          }
        };
  return { maxAttempts, retryDelayMs, onDeadLetter: options.onDeadLetter };
}

/**
 * @internal A failed delivery: handed back if an outage is under way; else retried (after the
 * delay, outside any handler slot) while attempts remain, else handed to the dead-letter hook and
 * rejected.
 */
export async function retryOrDeadLetter<A>(
  delivery: OutreachDelivery<A>,
  error: unknown,
  settings: RetrySettings<A>,
  context: AckContext<A>,
): Promise<void> {
  // Settled already, or lost with its connection: the broker delivers it again, no hook needed.
  if (delivery.settled || delivery.outcome === 'lost') return;
  // The sink is down, not this message: the consumer handed it back, attempts not spent.
  if (context.noteFailure(delivery, error)) return;
  const attempt = delivery.deliveryCount + 1;
  if (attempt < settings.maxAttempts) {
    await context.wait(settings.retryDelayMs(attempt));
    if (!delivery.settled) delivery.retry();
    return;
  }
  try {
    await settings.onDeadLetter?.(delivery, error);
  } catch (hookError) {
    context.reportError(
      new OutreachError('HANDLER_FAILED', `onDeadLetter threw for delivery ${String(delivery.messageId)}; it is retried instead of rejected`, {
        cause: hookError,
      }),
      'handler',
    );
    await context.wait(settings.retryDelayMs(attempt));
    if (!delivery.settled) delivery.retry();
    return;
  }
  if (!delivery.settled) delivery.reject(`failed ${attempt} attempts`);
}
