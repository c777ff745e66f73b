// Shared helpers for tests against the real broker: an independent AMQP producer (plain rhea,
// not our consumer), queue statistics over JMX, and consumer options for the test broker.
import { randomUUID } from 'node:crypto';
import rhea from 'rhea';
import { inject } from 'vitest';
import { brokerTools, type BrokerInfo, type BrokerTools } from '../../scripts/activemq.mjs';
import type { OutreachConsumerOptions, Outreach } from '../../src/index.js';

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
export type BodyForm = 'amqp-value' | 'data';

/** Sends bodies with a plain rhea sender over TLS; resolves when the broker accepted them all. */
export async function sendAmqp(
  broker: TestBroker,
  queue: string,
  bodies: readonly string[],
  options: { form?: BodyForm; durable?: boolean; port?: number } = {},
): Promise<void> {
  const form = options.form ?? 'amqp-value';
  const container = rhea.create_container({ id: `producer-${randomUUID()}` });
  const connection = container.connect({
    host: '127.0.0.1',
    port: options.port ?? broker.amqpsPort,
    transport: 'tls',
    ca: broker.caPem,
    servername: '',
    username: broker.username,
    password: broker.password,
    reconnect: false,
  } as Parameters<typeof container.connect>[0]);
  try {
    await new Promise<void>((resolve, reject) => {
      let confirmed = 0;
      let next = 0;
      const sender = connection.open_sender({ target: { address: queue } });
      const pump = (): void => {
        while (next < bodies.length && sender.sendable()) {
          const text = bodies[next++]!;
          const body = form === 'data' ? rhea.message.data_section(Buffer.from(text, 'utf8')) : text;
          sender.send({ body, durable: options.durable ?? true, message_id: `m-${randomUUID()}` });
        }
      };
      sender.on('sendable', pump);
      sender.on('accepted', () => {
        if (++confirmed === bodies.length) resolve();
      });
      sender.on('rejected', (ctx) => reject(new Error(`broker rejected a test message: ${JSON.stringify(ctx.delivery?.remote_state)}`)));
      connection.on('connection_error', (ctx) => reject(new Error(`producer connection error: ${String(ctx.error)}`)));
      connection.on('disconnected', (ctx) => reject(new Error(`producer disconnected: ${String(ctx.error)}`)));
      if (bodies.length === 0) resolve();
    });
  } finally {
    connection.close();
  }
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
