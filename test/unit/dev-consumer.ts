// A consumer of an in-process dev queue for the unit tests of the consumer's promises: no socket,
// outage handling off and quick reconnects unless a test says otherwise.
import { OutreachConsumer, type Outreach, type OutreachConsumerOptions } from '../../src/index.js';
import { startDevQueue, type DevQueue, type DevQueueInput } from '../../src/testing/index.js';

export function devConsumer(q: DevQueue, queue: string, options: Partial<OutreachConsumerOptions<Outreach>> = {}): OutreachConsumer {
  const consumer = new OutreachConsumer({
    url: q.url,
    username: q.username,
    password: q.password,
    queue,
    allowInsecure: true,
    outage: false,
    reconnect: { initialDelayMs: 5, maxDelayMs: 20 },
    ...options,
  });
  consumer.on('error', () => undefined);
  return consumer;
}

/** Polls `check` every 5 ms until it holds; throws naming `what` after `ms`. */
export async function until(check: () => boolean, what: string, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Runs `body` with an in-process dev queue holding `seed` on `queue`, and closes the queue after. */
export async function withQueue(queue: string, seed: readonly DevQueueInput[], body: (q: DevQueue) => Promise<void>): Promise<void> {
  const q = await startDevQueue({ network: false, queues: { [queue]: seed } });
  try {
    await body(q);
  } finally {
    await q.close();
  }
}

/** How each delivery of `id` ended on the queue, oldest first. */
export const ends = (q: DevQueue, queue: string, id: string | number | undefined) => q.deliveries(queue, id!).map((d) => d.settlement);
