// Shared helpers for tests against the real broker: an independent AMQP producer (plain rhea,
// not our consumer), queue statistics over JMX, and consumer options for the test broker.
import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import { brokerTools, type BrokerInfo, type BrokerTools } from '../../scripts/activemq.mjs';
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

/** Queue depth over JMX, retried until it settles at `expected` (the broker updates it asynchronously). */
export async function expectQueueSize(tools: BrokerTools, queue: string, expected: number, timeoutMs = 20_000): Promise<void> {
  let last: number | undefined;
  await waitFor(async () => {
    last = (await tools.queueStats(queue))?.size ?? 0;
    return last === expected;
  }, `queue ${queue} to hold ${expected} messages (last seen ${String(last)})`, timeoutMs);
}
