// Where the examples connect: Civitas' queue when CIVITAS_URL is set, otherwise an embedded
// default (a local ActiveMQ broker, TLS with a password as on Amazon MQ, and a development queue
// filled with sample outreach, as Civitas' development queue comes with sample data).
//
// The settings are the command line's (docs/cli.md): CIVITAS_URL, CIVITAS_USERNAME,
// CIVITAS_PASSWORD, CIVITAS_QUEUE, and CIVITAS_CA, the path of a PEM file with the CA certificate
// of a private broker (not needed for Amazon MQ). A fatal OutreachError (a refused password, an
// untrusted certificate, a bad setting) ends an example with one line on stderr and exit code 1
// (2 for a setting), not a stack trace.
import { readFileSync } from 'node:fs';
import { isOutreachError, OutreachError, type OutreachErrorCode, type Outreach, type OutreachConsumerOptions } from 'civitas-outreach';
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
  if (value === undefined || value === '') throw new OutreachError('INVALID_ARGUMENT', `set ${name} (or unset CIVITAS_URL to use the embedded default)`);
  return value;
}

/** The PEM in the file CIVITAS_CA names, if it is set. */
function caFromEnv(): string | undefined {
  const path = process.env.CIVITAS_CA?.trim();
  if (path === undefined || path === '') return undefined;
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (error) {
    throw new OutreachError('INVALID_ARGUMENT', `cannot read the CA certificate CIVITAS_CA=${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new OutreachError('INVALID_ARGUMENT', `CIVITAS_CA=${path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  return pem;
}

/** What to do about each fatal error an example can meet, in terms of its settings. */
const FIX: Partial<Record<OutreachErrorCode, string>> = {
  TLS_FAILED: 'for a private broker set CIVITAS_CA to its CA certificate (a PEM file); Amazon MQ needs none',
  AUTHENTICATION_FAILED: 'check CIVITAS_USERNAME and CIVITAS_PASSWORD',
  QUEUE_UNAVAILABLE: 'check CIVITAS_QUEUE',
  CONNECTION_FAILED: 'check the host and port in CIVITAS_URL',
};

/** Ends the process with one line for an OutreachError nobody caught (a fatal one rejects `start()` and ends the iterator). */
function exitOnOutreachError(error: unknown): void {
  if (!isOutreachError(error)) {
    console.error(error);
    process.exit(1);
  }
  const fix = FIX[error.code];
  console.error(`${error.code}: ${error.message}${fix === undefined ? '' : ` (${fix})`}`);
  process.exit(error.code === 'INVALID_ARGUMENT' ? 2 : 1);
}

/** Civitas' queue from CIVITAS_URL, CIVITAS_USERNAME, CIVITAS_PASSWORD, CIVITAS_QUEUE and CIVITAS_CA; or the embedded default. */
export async function exampleConnection(samples = 200): Promise<ExampleConnection> {
  if (process.listeners('uncaughtException').indexOf(exitOnOutreachError) === -1) process.on('uncaughtException', exitOnOutreachError);
  if (process.env.CIVITAS_URL !== undefined) {
    const ca = caFromEnv();
    return {
      options: {
        url: need('CIVITAS_URL').split(','),
        username: need('CIVITAS_USERNAME'),
        password: need('CIVITAS_PASSWORD'),
        queue: need('CIVITAS_QUEUE'),
        ...(ca === undefined ? {} : { ca }),
      },
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
