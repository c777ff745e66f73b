import { OutreachError } from '../errors/outreach-error.js';
import type { OutreachDelivery } from '../consumer/delivery.js';
import type { AckContext } from './strategy.js';

/** Bounded retries, shared by {@link atLeastOnce} and {@link batched}. */
export interface RetryOptions {
  /**
   * Attempts in all, counting the first, read from the broker's `delivery_count` (so a
   * delivery lost with a dropped connection counts too). After the last, the delivery goes to
   * `onDeadLetter` and is rejected.
   * @defaultValue `5`
   */
  readonly maxAttempts?: number;
  /**
   * Wait this long before handing a failed delivery back. ActiveMQ re-dispatches a retried
   * message at once, so without a delay a message whose sink is down is retried `maxAttempts`
   * times within milliseconds. The delivery keeps its prefetch slot while it waits.
   * @defaultValue `1000`
   */
  readonly retryDelayMs?: number;
  /**
   * Called with a delivery that failed `maxAttempts` times, before it is rejected (the broker then
   * dead-letters it where only the queue's owner can read it: keep your own copy here). If it
   * throws, the delivery is retried instead of rejected, so nothing is dropped.
   * @defaultValue none: the delivery is rejected
   */
  readonly onDeadLetter?: (delivery: OutreachDelivery<unknown>, error: unknown) => void | Promise<void>;
}

/** @internal */
export interface RetrySettings {
  readonly maxAttempts: number;
  readonly retryDelayMs: number;
  readonly onDeadLetter: RetryOptions['onDeadLetter'] | undefined;
}

/** @internal Resolves after `ms`, or at once when `signal` fires. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0 || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/** @internal Validated settings of {@link RetryOptions}. */
export function retrySettings(options: RetryOptions): RetrySettings {
  const maxAttempts = options.maxAttempts ?? 5;
  const retryDelayMs = options.retryDelayMs ?? 1000;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
    throw new OutreachError('INVALID_ARGUMENT', 'maxAttempts must be an integer of at least 1');
  }
  if (!(retryDelayMs >= 0)) throw new OutreachError('INVALID_ARGUMENT', 'retryDelayMs must be 0 or more');
  return { maxAttempts, retryDelayMs, onDeadLetter: options.onDeadLetter };
}

/**
 * @internal A failed delivery: retry it (after the delay) while attempts remain, else hand it
 * to the dead-letter hook and reject it.
 */
export async function retryOrDeadLetter(
  delivery: OutreachDelivery<unknown>,
  error: unknown,
  settings: RetrySettings,
  context: AckContext,
): Promise<void> {
  if (delivery.settled) return;
  const attempt = delivery.deliveryCount + 1;
  if (attempt < settings.maxAttempts) {
    await sleep(settings.retryDelayMs, context.signal);
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
    await sleep(settings.retryDelayMs, context.signal);
    if (!delivery.settled) delivery.retry();
    return;
  }
  if (!delivery.settled) delivery.reject(`failed ${attempt} attempts`);
}
