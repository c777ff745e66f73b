import { OutreachError } from '../errors/outreach-error.js';
import { AmqpLink, type LinkSettings } from './amqp-link.js';
import type { BrokerEndpoint } from './endpoints.js';
import type { Arrival } from './transport.js';

/** @internal Options of {@link browseQueue}. */
export interface BrowseOptions {
  /** The most messages to show. */
  readonly limit: number;
  /** Credit granted per round trip. @defaultValue 50 */
  readonly batch?: number;
  /** Aborting it ends the browse after the messages already received. */
  readonly signal?: AbortSignal;
  /** Called with each browsed message, in queue order. */
  onMessage(message: Arrival): void;
}

/** @internal How a browse ended. */
export interface BrowseResult {
  /** Messages shown. */
  readonly count: number;
  /** `end`: the broker said it had nothing more to show; `limit`: the limit was reached; `aborted`: the signal fired. */
  readonly reason: 'end' | 'limit' | 'aborted';
}

const DEFAULT_BATCH = 50;
const CLOSE_TIMEOUT_MS = 5_000;

/**
 * @internal Shows messages without taking them: a receiver whose source asks for
 * `distribution-mode: copy`, which ActiveMQ serves with a queue browser. Credit is granted in
 * batches, each followed by a drain: ActiveMQ answers the drain once the browse has nothing more
 * (an end-of-browse signal), which is how the end is known. Each browsed delivery is accepted:
 * on a browser subscription ActiveMQ's acknowledgement removes nothing from the queue, it only
 * ends the delivery (measured in test/integration/cli-peek.test.ts; docs/wire-facts.md).
 *
 * @throws {@link OutreachError} as the consumer does: `AUTHENTICATION_FAILED`, `TLS_FAILED`,
 *   `QUEUE_UNAVAILABLE`, `CONNECTION_FAILED`
 */
export async function browseQueue(endpoint: BrokerEndpoint, settings: LinkSettings, options: BrowseOptions): Promise<BrowseResult> {
  const batch = options.batch ?? DEFAULT_BATCH;
  let count = 0;
  let finish: (reason: BrowseResult['reason']) => void = () => undefined;
  let fail: (error: OutreachError) => void = () => undefined;
  const done = new Promise<BrowseResult['reason']>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  const link = await AmqpLink.open(endpoint, { ...settings, browse: true }, {
    arrived(arrival) {
      if (count < options.limit) {
        count++;
        options.onMessage(arrival);
      }
      link.settle([{ token: arrival.token, outcome: 'accepted' }]);
    },
    down(error) {
      fail(error ?? new OutreachError('CONNECTION_FAILED', `${endpoint.label}: the connection closed during the browse`, { retryable: true }));
    },
    drained(dry) {
      if (options.signal?.aborted === true) finish('aborted');
      else if (count >= options.limit) finish('limit');
      else if (dry) finish('end');
      else next();
    },
  });
  const next = (): void => {
    link.addCredit(Math.min(batch, options.limit - count));
    link.drain();
  };
  const onAbort = (): void => finish('aborted');
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    if (options.signal?.aborted === true) finish('aborted');
    else next();
    const reason = await done;
    return { count, reason };
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    await link.close(CLOSE_TIMEOUT_MS);
  }
}
