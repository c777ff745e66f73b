// Fills a queue over AMQP, as Civitas' development queue comes with sample data. A plain rhea
// sender, independent of OutreachConsumer: the embedded default of the examples uses it, and so
// do the integration tests as their producer.
import { randomUUID } from 'node:crypto';
import rhea from 'rhea';
import type { OutreachWireMessage } from 'civitas-outreach/testing';

/** What the sender needs of a broker. */
export interface SeedTarget {
  amqpsPort: number;
  caPem: string;
  username: string;
  password: string;
}

/** How each body is sent. */
export interface SendOptions {
  /**
   * `amqp-value`: a string body, as ActiveMQ turns a JMS TextMessage; `data`: a `data` section of
   * UTF-8 bytes, as it turns a BytesMessage.
   * @defaultValue `'amqp-value'`
   */
  form?: 'amqp-value' | 'data';
  /** Persistent messages survive a broker restart and are dead-lettered on reject. @defaultValue `true` */
  durable?: boolean;
  /** Another port for the TLS listener (e.g. a proxy in front of the broker). */
  port?: number;
  /** AMQP application properties (JMS properties) of each message, by index (e.g. a `traceparent`). */
  properties?: readonly (Record<string, string | number | boolean> | undefined)[];
}

/**
 * Sends each text as one message; resolves when the broker has accepted every one. A `Buffer` is
 * sent as it is, in a `data` section (any bytes, e.g. invalid UTF-8 for a test).
 */
export async function sendBodies(broker: SeedTarget, queue: string, bodies: readonly (string | Buffer)[], options: SendOptions = {}): Promise<void> {
  if (bodies.length === 0) return;
  const container = rhea.create_container({ id: `seed-${randomUUID()}` });
  const connection = container.connect({
    host: '127.0.0.1',
    port: options.port ?? broker.amqpsPort,
    transport: 'tls',
    ca: broker.caPem,
    servername: '', // no SNI for an IP address (RFC 6066)
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
        while (sent < bodies.length && sender.sendable()) {
          const properties = options.properties?.[sent];
          const text = bodies[sent++]!;
          const body =
            typeof text !== 'string' ? rhea.message.data_section(text) : options.form === 'data' ? rhea.message.data_section(Buffer.from(text, 'utf8')) : text;
          sender.send({ body, durable: options.durable ?? true, message_id: `m-${randomUUID()}`, ...(properties && { application_properties: properties }) });
        }
      });
      sender.on('accepted', () => {
        if (++confirmed === bodies.length) resolve();
      });
      sender.on('rejected', (ctx) => reject(new Error(`the broker rejected a message: ${JSON.stringify(ctx.delivery?.remote_state)}`)));
      connection.on('connection_error', (ctx) => reject(new Error(`producer connection failed: ${String(ctx.error)}`)));
      connection.on('disconnected', (ctx) => reject(new Error(`producer connection lost: ${String(ctx.error)}`)));
    });
  } finally {
    connection.close();
  }
}

/** Sends sample outreach as persistent JSON string messages (what a JMS TextMessage becomes). */
export function sendSamples(broker: SeedTarget, queue: string, messages: readonly OutreachWireMessage[]): Promise<void> {
  return sendBodies(broker, queue, messages.map((m) => JSON.stringify(m)));
}
