// What a consumer does when it cannot work: a bad password, a queue the user may not read, a port
// nobody listens on, an untrusted certificate, a plain URL. Each case ends in a typed error (no
// hang, no unhandled error), and the password shows up in no error, event or log line.
import { inspect } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import {
  isOutreachError,
  OutreachConsumer,
  type ErrorSource,
  type OutreachConsumerOptions,
  type OutreachError,
  type OutreachLogger,
  type Outreach,
} from '../../src/index.js';
import { makeOutreachMessages } from '../../src/testing/index.js';
import { consumerOptions, sendAmqp, sharedBroker, uniqueQueue, unusedPort, waitFor } from './support.js';
import { TcpProxy } from './tcp-proxy.js';

const broker = sharedBroker();
const WRONG_PASSWORD = 'wrong-Pa55word-7f3e9';

/** Everything a consumer told the outside world: events (with payloads) and log lines. */
interface Recorder {
  readonly errors: { error: OutreachError; source: ErrorSource }[];
  readonly events: { name: string; payload: unknown[] }[];
  readonly logs: { level: string; fields: object; message: string | undefined }[];
  readonly logger: OutreachLogger;
  /** Everything above as one string: messages, stacks, causes, fields, payloads. */
  text(): string;
}

function recorder(): Recorder {
  const logs: Recorder['logs'] = [];
  const log =
    (level: string) =>
    (fields: object, message?: string): void => {
      logs.push({ level, fields, message });
    };
  const rec: Recorder = {
    errors: [],
    events: [],
    logs,
    logger: { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') },
    text: () =>
      [
        ...rec.errors.map(({ error }) => `${dumpError(error)} ${inspect(error, { depth: 8 })}`),
        ...rec.events.map((e) => `${e.name} ${safeJson(e.payload)} ${inspect(e.payload, { depth: 8 })}`),
        ...logs.map((l) => `${l.level} ${l.message ?? ''} ${safeJson(l.fields)} ${inspect(l.fields, { depth: 8 })}`),
      ].join('\n'),
  };
  return rec;
}

/** Listens to every event of a consumer. `withErrorListener: false` lets errors go to the logger. */
function watch(consumer: OutreachConsumer<Outreach>, rec: Recorder, withErrorListener = true): void {
  for (const name of ['connected', 'disconnected', 'reconnecting', 'closed', 'invalid', 'settled'] as const) {
    consumer.on(name, (...payload: unknown[]) => rec.events.push({ name, payload }));
  }
  if (withErrorListener) {
    consumer.on('error', (error, source) => {
      rec.errors.push({ error, source });
      rec.events.push({ name: 'error', payload: [error, source] });
    });
  }
}

/** An error's message, stack and causes (all the way down), as text. */
function dumpError(error: unknown, depth = 0): string {
  if (depth > 5 || error === undefined || error === null) return '';
  if (!(error instanceof Error)) return safeJson(error);
  return `${error.message}\n${String(error.stack)}\n${safeJson(error)}\n${dumpError(error.cause, depth + 1)}`;
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value, (_key, v: unknown) => (v instanceof Error ? { ...v, message: v.message, stack: v.stack } : v)) ?? '';
  } catch {
    return inspect(value, { depth: 8 });
  }
}

/** The error a promise rejected with; fails if it resolved. */
async function rejection(promise: Promise<unknown>): Promise<OutreachError> {
  try {
    await promise;
  } catch (error) {
    if (isOutreachError(error)) return error;
    throw new Error(`expected an OutreachError, got ${inspect(error)}`);
  }
  throw new Error('expected a rejection, the promise resolved');
}

const SECRETS = [broker.password, broker.restrictedPassword, WRONG_PASSWORD];

function expectNoSecrets(rec: Recorder, ...extra: unknown[]): void {
  const text = `${rec.text()}\n${extra.map((e) => `${dumpError(e)} ${inspect(e, { depth: 8 })}`).join('\n')}`;
  for (const secret of SECRETS) {
    expect(text.includes(secret), 'a password leaked into an error, event or log line').toBe(false);
  }
  // Not even reachable: hidden properties included (a logger or error reporter may walk them).
  expect(findSecret([rec.errors, rec.events, rec.logs, extra])).toBeUndefined();
}

/**
 * The path of the first string holding a password reachable from `root` through own properties,
 * enumerable or not (breadth first, a bounded number of objects).
 */
function findSecret(root: unknown, limit = 50_000): string | undefined {
  const seen = new Set<object>();
  const queue: [unknown, string][] = [[root, '$']];
  for (let i = 0; i < queue.length && seen.size < limit; i++) {
    const [value, path] = queue[i]!;
    if (typeof value === 'string') {
      if (SECRETS.some((s) => value.includes(s))) return path;
      continue;
    }
    if (value === null || typeof value !== 'object' || seen.has(value)) continue;
    seen.add(value);
    if (ArrayBuffer.isView(value)) continue;
    for (const key of Reflect.ownKeys(value)) {
      let child: unknown;
      try {
        child = (value as Record<PropertyKey, unknown>)[key];
      } catch {
        continue;
      }
      queue.push([child, `${path}.${String(key)}`]);
    }
  }
  return undefined;
}


function bodies(n: number, seed: number): string[] {
  return [...makeOutreachMessages(n, { seed })].map((m) => JSON.stringify(m));
}

function withoutCa(options: OutreachConsumerOptions<Outreach>): OutreachConsumerOptions<Outreach> {
  const { ca: _ca, ...rest } = options;
  return rest;
}

const consumers: OutreachConsumer<Outreach>[] = [];
function track(consumer: OutreachConsumer<Outreach>): OutreachConsumer<Outreach> {
  consumers.push(consumer);
  return consumer;
}

afterEach(async () => {
  await Promise.all(consumers.splice(0).map((c) => c.close({ deadlineMs: 5_000 })));
});


/**
 * Sends one message (as the admin user), consumes it with these option overrides, and checks it
 * arrived, no error was reported and no secret leaked. Returns the endpoint the consumer used.
 */
async function expectOneDelivered(queue: string, seed: number, overrides: Partial<OutreachConsumerOptions<Outreach>>): Promise<string | undefined> {
  const rec = recorder();
  const [body] = bodies(1, seed);
  await sendAmqp(broker, queue, [body!]);
  const consumer = track(new OutreachConsumer({ ...consumerOptions(broker, queue), ...overrides, logger: rec.logger }));
  watch(consumer, rec);
  const got: string[] = [];
  await consumer.start((delivery) => {
    got.push(delivery.outreach.outreachId);
  });
  await waitFor(() => consumer.health().counts.accepted === 1, 'the message to be accepted');
  const endpoint = consumer.health().endpoint;
  expect(got).toEqual([(JSON.parse(body!) as { outreachId: string }).outreachId]);
  expect(rec.errors).toEqual([]);
  await consumer.close();
  expectNoSecrets(rec);
  return endpoint;
}

describe('a bad password', () => {
  it('rejects start() with AUTHENTICATION_FAILED, not retried, and fails the consumer', async () => {
    const rec = recorder();
    const consumer = track(new OutreachConsumer({ ...consumerOptions(broker, uniqueQueue()), password: WRONG_PASSWORD, logger: rec.logger }));
    watch(consumer, rec);
    const err = await rejection(consumer.start(() => undefined));

    expect(err.code).toBe('AUTHENTICATION_FAILED');
    expect(err.retryable).toBe(false);
    expect(err.message).toMatch(/username or password/);
    expect(consumer.state).toBe('failed');
    expect(rec.errors.map((e) => [e.error.code, e.source])).toEqual([['AUTHENTICATION_FAILED', 'connection']]);
    expect(rec.errors[0]?.error).toBe(err);
    expect(rec.events.filter((e) => e.name === 'reconnecting')).toEqual([]);
    expect(rec.events.filter((e) => e.name === 'connected')).toEqual([]);
    expectNoSecrets(rec, err);
  });

  it('makes for await throw the same error (errors go to the logger when nobody listens)', async () => {
    const rec = recorder();
    const consumer = track(new OutreachConsumer({ ...consumerOptions(broker, uniqueQueue()), password: WRONG_PASSWORD, logger: rec.logger }));
    watch(consumer, rec, false);
    let iterations = 0;
    const err = await rejection(
      (async () => {
        for await (const _delivery of consumer) iterations++;
      })(),
    );
    expect(iterations).toBe(0);
    expect(err.code).toBe('AUTHENTICATION_FAILED');
    expect(err.retryable).toBe(false);
    expect(consumer.state).toBe('failed');
    // No error listener: the fatal error was logged at error level, with its code.
    const logged = rec.logs.filter((l) => l.level === 'error');
    expect(logged).toHaveLength(1);
    expect(logged[0]?.fields).toMatchObject({ code: 'AUTHENTICATION_FAILED', source: 'connection' });
    expectNoSecrets(rec, err);
  });
});

describe('a queue the user may not read', () => {
  it('fails with QUEUE_UNAVAILABLE (the broker refuses the attach: amqp:unauthorized-access)', async () => {
    const rec = recorder();
    const queue = uniqueQueue('forbidden');
    expect(queue.startsWith(broker.restrictedQueuePrefix)).toBe(false);
    const consumer = track(
      new OutreachConsumer({
        ...consumerOptions(broker, queue),
        username: broker.restrictedUsername,
        password: broker.restrictedPassword,
        logger: rec.logger,
      }),
    );
    watch(consumer, rec);
    const err = await rejection(consumer.start(() => undefined));

    expect(err.code).toBe('QUEUE_UNAVAILABLE');
    expect(err.retryable).toBe(false);
    expect(err.message).toContain('amqp:unauthorized-access');
    expect(consumer.state).toBe('failed');
    expect(rec.errors.map((e) => [e.error.code, e.source])).toEqual([['QUEUE_UNAVAILABLE', 'connection']]);
    expect(rec.events.filter((e) => e.name === 'reconnecting')).toEqual([]);
    expectNoSecrets(rec, err);
  });

  it('lets the same user consume a queue under its prefix', async () => {
    const queue = uniqueQueue(`${broker.restrictedQueuePrefix}outreach`);
    await expectOneDelivered(queue, 11, { username: broker.restrictedUsername, password: broker.restrictedPassword });
  });
});

describe('a port nobody listens on', () => {
  it('retries with back-off, then rejects start() with CONNECTION_FAILED after maxAttempts', async () => {
    const rec = recorder();
    const port = await unusedPort();
    const consumer = track(
      new OutreachConsumer({
        ...consumerOptions(broker, uniqueQueue()),
        url: `amqp+ssl://127.0.0.1:${port}`,
        reconnect: { maxAttempts: 3, initialDelayMs: 10 },
        logger: rec.logger,
      }),
    );
    watch(consumer, rec);
    const err = await rejection(consumer.start(() => undefined));

    expect(err.code).toBe('CONNECTION_FAILED');
    expect(err.message).toContain(`127.0.0.1:${port}`);
    expect(err.message).toMatch(/ECONNREFUSED/);
    expect(consumer.state).toBe('failed');
    // Three attempts, three errors; two re-attempts announced, with their endpoint and number.
    expect(rec.errors.map((e) => [e.error.code, e.source])).toEqual([
      ['CONNECTION_FAILED', 'connection'],
      ['CONNECTION_FAILED', 'connection'],
      ['CONNECTION_FAILED', 'connection'],
    ]);
    expect(rec.errors.slice(0, -1).every((e) => e.error.retryable)).toBe(true);
    expect(rec.errors.at(-1)?.error).toBe(err);
    const reconnecting = rec.events.filter((e) => e.name === 'reconnecting').map((e) => e.payload[0]);
    expect(reconnecting).toEqual([
      { endpoint: `amqps://127.0.0.1:${port}`, attempt: 2, delayMs: expect.any(Number) },
      { endpoint: `amqps://127.0.0.1:${port}`, attempt: 3, delayMs: expect.any(Number) },
    ]);
    // The logger heard about each re-attempt.
    expect(rec.logs.filter((l) => l.message === 'reconnecting')).toHaveLength(2);
    expectNoSecrets(rec, err);
  });

  // Once maxAttempts is used up the consumer stops, so the error it reports says it is not
  // retryable (events.ts: "error.retryable says whether the consumer carries on by itself").
  it('reports the last error as fatal: retryable is false once the consumer stops trying', async () => {
    const rec = recorder();
    const port = await unusedPort();
    const consumer = track(
      new OutreachConsumer({
        ...consumerOptions(broker, uniqueQueue()),
        url: `amqp+ssl://127.0.0.1:${port}`,
        reconnect: { maxAttempts: 2, initialDelayMs: 10 },
      }),
    );
    watch(consumer, rec);
    const err = await rejection(consumer.start(() => undefined));
    expect(consumer.state).toBe('failed');
    expect(rec.errors.map((e) => e.error.retryable)).toEqual([true, false]);
    expect(err.retryable).toBe(false);
  });
});

describe('TLS', () => {
  it('fails at once with TLS_FAILED when the certificate is not trusted (no ca)', async () => {
    const rec = recorder();
    const consumer = track(new OutreachConsumer({ ...withoutCa(consumerOptions(broker, uniqueQueue())), reconnect: { maxAttempts: 5, initialDelayMs: 10 }, logger: rec.logger }));
    watch(consumer, rec);
    const err = await rejection(consumer.start(() => undefined));

    expect(err.code).toBe('TLS_FAILED');
    expect(err.retryable).toBe(false);
    expect(err.message).toMatch(/ca option/);
    expect(consumer.state).toBe('failed');
    // One attempt only: one error, no re-attempt.
    expect(rec.errors.map((e) => [e.error.code, e.source])).toEqual([['TLS_FAILED', 'connection']]);
    expect(rec.events.filter((e) => e.name === 'reconnecting')).toEqual([]);
    expectNoSecrets(rec, err);
  });

  it('fails with TLS_FAILED when the certificate does not match the server name, advising the name, not the CA', async () => {
    const rec = recorder();
    const consumer = track(new OutreachConsumer({ ...consumerOptions(broker, uniqueQueue()), servername: 'broker.example.com', reconnect: { maxAttempts: 5, initialDelayMs: 10 } }));
    watch(consumer, rec);
    const err = await rejection(consumer.start(() => undefined));
    expect(err.code).toBe('TLS_FAILED');
    expect(err.message).toMatch(/does not match the host name \(ERR_TLS_CERT_ALTNAME_INVALID: .*\); connect with a host name the certificate names .*or set servername/);
    expect(err.message).not.toMatch(/ca option/);
    expect(rec.errors).toHaveLength(1);
    expectNoSecrets(rec, err);
  });

  it('amqps:// to the plain AMQP port: a fatal TLS_FAILED at once (ERR_SSL_WRONG_VERSION_NUMBER), no retry, use the TLS port', async () => {
    const rec = recorder();
    const consumer = track(
      new OutreachConsumer({
        ...consumerOptions(broker, uniqueQueue()),
        url: `amqp+ssl://127.0.0.1:${broker.amqpPort}`,
        reconnect: { maxAttempts: 5, initialDelayMs: 10 },
      }),
    );
    watch(consumer, rec);
    const began = Date.now();
    const err = await rejection(consumer.start(() => undefined));
    expect(Date.now() - began).toBeLessThan(3_000);
    expect(err.code, err.message).toBe('TLS_FAILED');
    expect(err.retryable).toBe(false);
    expect(err.message).toBe(
      `amqps://127.0.0.1:${broker.amqpPort}: this port does not speak TLS (ERR_SSL_WRONG_VERSION_NUMBER); it is likely the plain AMQP port: use the TLS port, usually 5671`,
    );
    expect(consumer.state).toBe('failed');
    expect(rec.errors.map((e) => e.error)).toEqual([err]);
    expect(rec.events.filter((e) => e.name === 'reconnecting')).toEqual([]);
    expectNoSecrets(rec, err);
  });
});

describe('amqp:// to the TLS port', () => {
  it('is a retryable CONNECTION_FAILED that suggests amqps://, and the allow list second', async () => {
    const rec = recorder();
    const consumer = track(
      new OutreachConsumer({
        ...consumerOptions(broker, uniqueQueue()),
        url: `amqp://127.0.0.1:${broker.amqpsPort}`,
        allowInsecure: true,
        reconnect: { maxAttempts: 2, initialDelayMs: 10 },
      }),
    );
    watch(consumer, rec);
    const err = await rejection(consumer.start(() => undefined));
    expect(err.code).toBe('CONNECTION_FAILED');
    expect(rec.errors.map((e) => e.error.retryable)).toEqual([true, false]);
    expect(rec.errors[0]!.error.message).toBe(
      `amqp://127.0.0.1:${broker.amqpsPort}: the peer closed the connection before answering in AMQP; if this is the TLS port (usually 5671), use amqps://; otherwise check that this machine's address is on the broker's allow list`,
    );
    expectNoSecrets(rec, err);
  });
});

describe('a plain amqp:// URL', () => {
  it('is refused by the constructor with INSECURE_URL', () => {
    let thrown: unknown;
    try {
      new OutreachConsumer({ ...consumerOptions(broker, uniqueQueue()), url: `amqp://127.0.0.1:${broker.amqpPort}` });
    } catch (error) {
      thrown = error;
    }
    expect(isOutreachError(thrown) && thrown.code).toBe('INSECURE_URL');
    expect(inspect(thrown)).not.toContain(broker.password);
  });

  it('works with allowInsecure: true', async () => {
    const endpoint = await expectOneDelivered(uniqueQueue('plain'), 12, { url: `amqp://127.0.0.1:${broker.amqpPort}`, allowInsecure: true });
    expect(endpoint).toBe(`amqp://127.0.0.1:${broker.amqpPort}`);
  });
});

describe('a broker that stops hearing the client (half-open towards the broker)', () => {
  it('drops the connection (amqp:resource-limit-exceeded); the consumer reconnects; no error holds the password', async () => {
    const rec = recorder();
    const queue = uniqueQueue('deaf');
    const p = await TcpProxy.start(broker.amqpsPort);
    try {
      const consumer = track(new OutreachConsumer({ ...consumerOptions(broker, queue), url: `amqp+ssl://127.0.0.1:${p.port}`, logger: rec.logger }));
      watch(consumer, rec);
      const got: string[] = [];
      await consumer.start((delivery) => {
        got.push(delivery.outreach.outreachId);
      });
      // Our heartbeats stop reaching the broker; the broker's still reach us.
      p.freeze('upstream');
      await waitFor(() => rec.events.some((e) => e.name === 'disconnected'), 'the broker to drop the silent client', 120_000);
      const dropped = rec.events.find((e) => e.name === 'disconnected')!.payload[0] as { error: OutreachError | undefined };
      expect(dropped.error?.code).toBe('CONNECTION_FAILED');
      expect(dropped.error?.retryable).toBe(true);
      expect(dropped.error?.message).toContain('amqp:resource-limit-exceeded');
      expect(consumer.state).not.toBe('failed');

      await p.resume();
      await waitFor(() => rec.events.filter((e) => e.name === 'connected').length === 2, 'the consumer to reconnect', 60_000);
      const [body] = bodies(1, 13);
      await sendAmqp(broker, queue, [body!]);
      await waitFor(() => got.length === 1, 'the message sent after the reconnect');
      expect(got).toEqual([(JSON.parse(body!) as { outreachId: string }).outreachId]);
      expectNoSecrets(rec, dropped.error);
    } finally {
      await p.close();
    }
  });
});
