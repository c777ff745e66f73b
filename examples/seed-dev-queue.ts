// Fills a queue with sample outreach over AMQP, as Civitas' development queue comes with sample
// data. Used by the embedded default of examples/drain-to-postgres.ts.
import { randomUUID } from 'node:crypto';
import rhea from 'rhea';
import type { OutreachWireMessage } from 'civitas-outreach';

/** What the sender needs of a broker. */
export interface SeedTarget {
  amqpsPort: number;
  caPem: string;
  username: string;
  password: string;
}

/** Sends each message as a persistent AMQP message with a JSON string body (what a JMS TextMessage becomes). */
export async function sendSamples(broker: SeedTarget, queue: string, messages: readonly OutreachWireMessage[]): Promise<void> {
  const container = rhea.create_container({ id: `seed-${randomUUID()}` });
  const connection = container.connect({
    host: '127.0.0.1',
    port: broker.amqpsPort,
    transport: 'tls',
    ca: broker.caPem,
    servername: '',
    username: broker.username,
    password: broker.password,
    reconnect: false,
  } as Parameters<typeof container.connect>[0]);
  try {
    await new Promise<void>((resolve, reject) => {
      let sent = 0;
      let confirmed = 0;
      const sender = connection.open_sender({ target: { address: queue } });
      sender.on('sendable', () => {
        while (sent < messages.length && sender.sendable()) {
          sender.send({ body: JSON.stringify(messages[sent++]), durable: true });
        }
      });
      sender.on('accepted', () => {
        if (++confirmed === messages.length) resolve();
      });
      sender.on('rejected', () => reject(new Error('the broker rejected a sample message')));
      connection.on('connection_error', (ctx) => reject(new Error(`seed connection failed: ${String(ctx.error)}`)));
      connection.on('disconnected', (ctx) => reject(new Error(`seed connection lost: ${String(ctx.error)}`)));
    });
  } finally {
    connection.close();
  }
}
