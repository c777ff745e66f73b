// Where the examples connect: Civitas' queue when CIVITAS_URL is set, otherwise an embedded
// default (a local ActiveMQ broker, TLS with a password as on Amazon MQ, and a development queue
// filled with sample outreach, as Civitas' development queue comes with sample data).
import { type Outreach, type OutreachConsumerOptions } from 'civitas-outreach';
import { makeOutreachMessages } from 'civitas-outreach/testing';
import { sendBodies, sendSamples } from './seed-dev-queue.js';

/** Connection settings for the examples, and how to clean up. */
export interface ExampleConnection {
  /** Spread these into `new OutreachConsumer({ ... })`. */
  readonly options: Pick<OutreachConsumerOptions<Outreach>, 'url' | 'username' | 'password' | 'queue' | 'ca'>;
  /** Whether this is the embedded default (then `samples` messages wait on the queue). */
  readonly embedded: boolean;
  /** How many sample messages were put on the embedded queue (Infinity for a real queue). */
  readonly samples: number;
  /**
   * Puts more messages on the embedded queue, after the samples (any text or bytes: e.g. broken
   * messages, or outreach of your own). `undefined` for a real queue: the examples never publish
   * to Civitas' queue.
   */
  readonly publish: ((bodies: readonly (string | Buffer)[]) => Promise<void>) | undefined;
  /** Stops the embedded broker; nothing for a real queue. */
  stop(): Promise<void>;
}

function need(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(`set ${name} (or unset CIVITAS_URL to use the embedded default)`);
  return value;
}

/** Civitas' queue from CIVITAS_URL, CIVITAS_USERNAME, CIVITAS_PASSWORD, CIVITAS_QUEUE; or the embedded default. */
export async function exampleConnection(samples = 200): Promise<ExampleConnection> {
  if (process.env.CIVITAS_URL !== undefined) {
    return {
      options: { url: need('CIVITAS_URL').split(','), username: need('CIVITAS_USERNAME'), password: need('CIVITAS_PASSWORD'), queue: need('CIVITAS_QUEUE') },
      embedded: false,
      samples: Number.POSITIVE_INFINITY,
      publish: undefined,
      stop: async () => undefined,
    };
  }
  const { startBroker } = await import('../scripts/activemq.mjs');
  console.log('starting an embedded ActiveMQ broker (the first run downloads it from Maven Central)…');
  const broker = await startBroker({ quiet: true });
  const queue = 'civitas.outreach.dev';
  await sendSamples(broker, queue, [...makeOutreachMessages(samples, { seed: Date.now() % 100_000 })]);
  console.log(`development queue ${queue} holds ${samples} sample outreach messages`);
  return {
    options: { url: broker.amqpsUrl, username: broker.username, password: broker.password, queue, ca: broker.caPem },
    embedded: true,
    samples,
    publish: (bodies) => sendBodies(broker, queue, bodies),
    stop: () => broker.stop(),
  };
}
