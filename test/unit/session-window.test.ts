// One delivery held unsettled must not stop the flow of the others. rhea frees its session's
// delivery slots only from the oldest on and offers the peer only the free ones as session window,
// so with its default 2048 slots a held delivery stops every transfer 2048 later, whatever the
// link credit (what stalled bench:poison on ActiveMQ). The consumer's links ask for
// SESSION_BUFFER_SIZE slots. Checked over loopback against a rhea peer that sends as long as it
// has credit and window (its own slots raised so that they are not the limit).
import type { AddressInfo } from 'node:net';
import rhea, { type EventContext, type Sender } from 'rhea';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AmqpLink, SESSION_BUFFER_SIZE } from '../../src/connection/amqp-link.js';
import type { Arrival } from '../../src/connection/transport.js';
import { Settler } from '../../src/consumer/settler.js';
import { OutreachDelivery } from '../../src/delivery/delivery.js';
import { until } from './dev-consumer.js';

/** More than rhea's default 2048 slots, fewer than ours. */
const MESSAGES = 6000;

let port = 0;
let server: ReturnType<ReturnType<typeof rhea.create_container>['listen']>;
const peer = rhea.create_container({ id: 'window-peer' });

beforeAll(async () => {
  peer.on('sender_open', (context: EventContext) => {
    const sender = context.sender! as Sender & { set_source(s: unknown): void; remote: { attach: { source?: { address?: string } } } };
    sender.set_source({ address: sender.remote.attach.source?.address });
    let sent = 0;
    const pump = (): void => {
      while (sent < MESSAGES && sender.sendable()) sender.send({ body: `m${sent++}` });
    };
    sender.on('sendable', pump);
    sender.on('accepted', pump);
  });
  server = peer.listen({ port: 0, host: '127.0.0.1', session_buffer_size: 4 * MESSAGES } as Parameters<typeof peer.listen>[0]);
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  port = (server.address() as AddressInfo).port;
});

afterAll(() => {
  server.close();
});

describe('session window with a delivery held unsettled', () => {
  it('rhea on its defaults stops receiving 2048 deliveries after one it holds, whatever the credit (why we raise it)', async () => {
    // If this fails, rhea no longer blocks on its oldest delivery and SESSION_BUFFER_SIZE can go.
    const client = rhea.create_container({ id: 'window-default' });
    const connection = client.connect({ host: '127.0.0.1', port, reconnect: false });
    const receiver = connection.open_receiver({ source: { address: 'default' }, credit_window: 0, autoaccept: false });
    let received = 0;
    receiver.once('receiver_open', () => receiver.add_credit(MESSAGES));
    receiver.on('message', (ctx: EventContext) => {
      // The first one is held; every later one is accepted at once.
      if (received++ > 0) ctx.delivery!.accept();
    });
    await until(() => received >= 2048, 'the first 2048');
    // Given the time the other test's link needs for all 6000, none more come.
    await new Promise((r) => setTimeout(r, 500));
    connection.close();
    expect(received).toBe(2048);
  });

  it('a consumer link keeps receiving past a held delivery: every message arrives while the first is unsettled', async () => {
    expect(SESSION_BUFFER_SIZE).toBeGreaterThan(MESSAGES);
    const arrivals: Arrival[] = [];
    const held: { settler?: Settler } = {};
    const link = await AmqpLink.open(
      { host: '127.0.0.1', port, tls: false, label: `amqp://127.0.0.1:${port}` },
      { queue: 'ours', username: '', password: '', ca: undefined, servername: undefined, connectTimeoutMs: 5000, idleTimeoutMs: 2000 },
      {
        arrived: (arrival) => {
          arrivals.push(arrival);
          if (arrivals.length > 1) new OutreachDelivery(undefined, arrival, held.settler!).accept();
        },
        down: () => undefined,
        drained: () => undefined,
      },
    );
    held.settler = new Settler(link, { decide: (record) => record.requested, settled: () => undefined });
    link.addCredit(MESSAGES);
    await until(() => arrivals.length >= MESSAGES, `all ${MESSAGES} while the first is held`, 3_000);
    expect(arrivals.length).toBe(MESSAGES);
    new OutreachDelivery(undefined, arrivals[0]!, held.settler).accept();
    await link.close(2000);
  });
});
