import { randomBytes } from 'node:crypto';
import { OutreachError } from '../../errors/outreach-error.js';
import { makeOutreachMessages } from '../factory.js';
import { AmqpEndpoint } from './amqp-endpoint.js';
import type { QueueState } from './queue-state.js';
import { QueueStore, queueName } from './queue-store.js';
import type { DevQueue, DevQueueOptions } from './types.js';

const DEFAULT_QUEUE = 'civitas.outreach.dev';
const DEFAULT_SAMPLES = 20;

/**
 * Starts a development queue: a small AMQP 1.0 endpoint in this process that behaves, as far as
 * a consumer can tell, like the Civitas queue on Amazon MQ (ActiveMQ). For tests, demos and
 * development; **not a production broker**: everything is in memory and lost at `close()`.
 *
 * @remarks
 * SASL PLAIN with one user (ANONYMOUS is offered and refused, as on ActiveMQ with authentication
 * on), TLS when given a key and certificate, named queues seeded with sample outreach, link credit
 * honoured exactly, drain answered, and the four AMQP outcomes with the effects measured on
 * ActiveMQ 5.18.3 ([docs/wire-facts.md](../../../docs/wire-facts.md)): accepted removes; released and modified keep the
 * message for the same link (modified with `delivery-failed` raises `delivery_count`, never
 * dead-letters by count); rejected dead-letters into a store a test can read; unsettled
 * deliveries go back on link detach (count unchanged) and on a lost connection (count + 1).
 * `distribution-mode: copy` browses. Where it differs from ActiveMQ, [docs/dev-queue.md](../../../docs/dev-queue.md) lists it
 * and `test/integration/conformance.test.ts` holds it.
 *
 * @example
 * ```ts
 * import { startDevQueue } from 'civitas-outreach/testing';
 * import { OutreachConsumer } from 'civitas-outreach';
 *
 * await using q = await startDevQueue({ queues: { outreach: 50 } });
 * const consumer = new OutreachConsumer({ url: q.url, username: q.username, password: q.password, queue: 'outreach', allowInsecure: true });
 * ```
 * @throws `OutreachError` `INVALID_ARGUMENT` for an empty username or queue name, a port it cannot
 *   listen on, or `tls` with `network: false`
 */
export async function startDevQueue(options: DevQueueOptions = {}): Promise<DevQueue> {
  const username = options.username ?? 'civitas';
  const password = options.password ?? randomBytes(12).toString('base64url');
  if (username === '') throw new OutreachError('INVALID_ARGUMENT', 'username: must not be empty');
  const network = options.network ?? true;
  if (!network && options.tls !== undefined) throw new OutreachError('INVALID_ARGUMENT', 'tls: only with network (an in-process queue has no TLS)');

  const store = new QueueStore();
  for (const [name, seed] of Object.entries(options.queues ?? { [DEFAULT_QUEUE]: DEFAULT_SAMPLES })) {
    if (queueName(name) === '') throw new OutreachError('INVALID_ARGUMENT', 'queues: a queue name must not be empty');
    store.publish(name, typeof seed === 'number' ? [...makeOutreachMessages(seed, { seed: 1 })] : seed);
  }
  const amqp = await AmqpEndpoint.listen(store, { network, host: options.host ?? '127.0.0.1', port: options.port ?? 0, tls: options.tls, username, password });
  const host = amqp.host;

  const tls = options.tls !== undefined;
  const port = amqp.port;
  const find = (name: string): QueueState | undefined => store.find(name);
  const close = (): Promise<void> => amqp.close();
  return {
    url: network ? `${tls ? 'amqp+ssl' : 'amqp'}://${host.includes(':') ? `[${host}]` : host}:${port}` : `amqp://${host}`,
    host,
    port,
    tls,
    username,
    password,
    faults: {
      dropConnections: () => amqp.dropConnections(),
      detachConsumers: (opts = {}) => amqp.detachConsumers(opts),
      refuseNextLogin: (count = 1) => amqp.refuseNextLogin(count),
      delayDeliveries: (ms) => amqp.delayDeliveries(ms),
      stall: () => amqp.stall(),
      unstall: () => amqp.unstall(),
    },
    queueNames: () => store.names(),
    publish: (queue, ...messages) => {
      if (queueName(queue) === '') throw new OutreachError('INVALID_ARGUMENT', 'queue: must not be empty');
      return store.publish(queue, messages);
    },
    depth: (queue) => find(queue)?.depth ?? 0,
    stats: (name) => {
      const queue = find(name);
      return {
        depth: queue?.depth ?? 0,
        ready: queue?.ready.length ?? 0,
        inFlight: queue?.inFlight ?? 0,
        consumers: queue?.links.filter((l) => !l.browse).length ?? 0,
        enqueued: queue?.enqueued ?? 0,
        dequeued: queue?.dequeued ?? 0,
        deadLettered: queue?.deadLetters.length ?? 0,
      };
    },
    browse: (queue) => (find(queue)?.ready ?? []).map((m) => ({ body: m.body, messageId: m.messageId, deliveryCount: m.deliveryCount })),
    deadLetters: (queue) => [...(find(queue)?.deadLetters ?? [])],
    deliveries: (queue, messageId) => (find(queue)?.history.get(messageId) ?? []).map((r) => ({ deliveryCount: r.deliveryCount, settlement: r.settlement, settledOrder: r.settledOrder })),
    get connections() {
      return amqp.connections;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
