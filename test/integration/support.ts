// Shared helpers for tests against the real broker: an independent AMQP producer (plain rhea,
// not our consumer), queue statistics over JMX, and consumer options for the test broker.
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { inject } from 'vitest';
import { brokerTools, type BrokerInfo, type BrokerTools, type QueueStats } from '../../scripts/activemq.mjs';
import type { OutreachConsumerOptions, Outreach } from '../../src/index.js';
import { sendBodies, type SendOptions } from '../../examples/seed-dev-queue.js';

export type TestBroker = BrokerInfo & { caPem: string };

/** The broker started by the global setup. */
export function sharedBroker(): TestBroker & BrokerTools {
  const info = inject('broker');
  return { ...info, ...brokerTools(info) };
}

/** A queue name no other test uses. */
export function uniqueQueue(prefix = 'test'): string {
  return `${prefix}.${randomUUID().slice(0, 8)}`;
}

/** Consumer options for a broker: TLS with its CA trusted (verification on), its user, a queue. */
export function consumerOptions(broker: TestBroker, queue: string, extra: Partial<OutreachConsumerOptions<Outreach>> = {}): OutreachConsumerOptions<Outreach> {
  return {
    url: `amqp+ssl://127.0.0.1:${broker.amqpsPort}`,
    username: broker.username,
    password: broker.password,
    queue,
    ca: broker.caPem,
    reconnect: { initialDelayMs: 100, maxDelayMs: 1000 },
    ...extra,
  };
}

/** How a test message is put on the wire by the AMQP producer. */
export type BodyForm = NonNullable<SendOptions['form']>;

/** Sends bodies with a plain rhea sender over TLS (not our consumer's code); resolves when the broker accepted them all. */
export function sendAmqp(broker: TestBroker, queue: string, bodies: readonly string[], options: SendOptions = {}): Promise<void> {
  return sendBodies(broker, queue, bodies, options);
}

/** Polls `check` until it returns true or `timeoutMs` passes; throws with `what` on timeout. */
export async function waitFor(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/**
 * A queue's statistics over JMX. A queue the broker does not know is a failure, not an empty
 * queue: a typo or a queue that was never created must not pass for "nothing left".
 */
export async function queueStatsOf(tools: BrokerTools, queue: string): Promise<QueueStats> {
  const stats = await tools.queueStats(queue);
  if (stats === null) throw new Error(`queue ${queue} does not exist on the broker (no JMX MBean)`);
  return stats;
}

/**
 * Messages in the shared dead-letter queue. The broker creates `ActiveMQ.DLQ` with the first
 * dead letter, so until then it does not exist: that, and only that, counts as 0.
 */
export async function dlqSize(tools: BrokerTools): Promise<number> {
  const stats = await tools.queueStats('ActiveMQ.DLQ');
  return stats === null ? 0 : stats.size;
}

/**
 * Queue depth over JMX, retried until it settles at `expected` (the broker updates it
 * asynchronously). The queue must exist: a missing queue fails, whatever `expected` is.
 */
export async function expectQueueSize(tools: BrokerTools, queue: string, expected: number, timeoutMs = 20_000): Promise<void> {
  let last: string | number = 'nothing yet';
  await waitFor(async () => {
    const stats = await tools.queueStats(queue);
    last = stats === null ? 'no such queue' : stats.size;
    return last === expected;
  }, `queue ${queue} to hold ${expected} messages`, timeoutMs).catch((error: unknown) => {
    throw new Error(`queue ${queue} did not come to hold ${expected} messages in ${timeoutMs} ms (last seen: ${String(last)})`, { cause: error });
  });
}

/** A copy of `items` in an order fixed by `seed` (Fisher-Yates over a small seeded generator). */
export function seededShuffle<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Counts how many times each key was seen, e.g. each outreach id the handler had. */
export function tally(): { add(key: string): void; count(key: string): number; readonly size: number; keys(): string[]; repeated(): string[] } {
  const counts = new Map<string, number>();
  return {
    add: (key) => void counts.set(key, (counts.get(key) ?? 0) + 1),
    count: (key) => counts.get(key) ?? 0,
    get size() {
      return counts.size;
    },
    keys: () => [...counts.keys()],
    repeated: () => [...counts].filter(([, n]) => n > 1).map(([k]) => k),
  };
}

/** A loopback port nobody listens on (bound to a free port, read, closed). */
export async function unusedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}
