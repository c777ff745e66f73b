// The dev queue's own features, over loopback (no ActiveMQ): seeds, publishing, TLS, SASL, the
// fault switches, its delivery history, and the known differences from ActiveMQ that only it can
// show (docs/dev-queue.md). The behaviours it shares with ActiveMQ are in
// test/integration/conformance.test.ts, run against both.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import rhea from 'rhea';
import type { Connection, ConnectionOptions, EventContext, Receiver, ReceiverOptions } from 'rhea';
import { afterEach, describe, expect, it } from 'vitest';
import { atLeastOnce, atMostOnce, isOutreachError, manual, OutreachConsumer, type OutreachConsumerOptions, type OutreachDelivery, type Outreach } from '../../src/index.js';
import { exampleOutreachMessages, makeOutreachMessages, startDevQueue, type DevQueue, type DevQueueOptions } from '../../src/testing/index.js';
import { selfSignedCert } from '../integration/self-signed.js';

const open: { close(): unknown }[] = [];
afterEach(async () => {
  for (const item of open.splice(0).reverse()) await item.close();
});

async function devQueue(options: DevQueueOptions = {}): Promise<DevQueue> {
  const q = await startDevQueue(options);
  open.push(q);
  return q;
}

function consumer(q: DevQueue, queue: string, extra: Partial<OutreachConsumerOptions<Outreach>> = {}): OutreachConsumer {
  const c = new OutreachConsumer({ url: q.url, username: q.username, password: q.password, queue, allowInsecure: true, reconnect: { initialDelayMs: 50, maxDelayMs: 200 }, ...extra });
  open.push(c);
  return c;
}

async function waitFor(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** A consumer that settles nothing by itself (manual strategy) and keeps every delivery it gets. */
async function holdingConsumer(q: DevQueue, queue: string, extra: Partial<OutreachConsumerOptions<Outreach>> = {}): Promise<{ held: OutreachDelivery[]; disconnects(): number }> {
  const c = consumer(q, queue, { strategy: manual(), ...extra });
  c.on('error', () => undefined);
  let disconnects = 0;
  c.on('disconnected', () => disconnects++);
  const held: OutreachDelivery[] = [];
  await c.start((d) => void held.push(d));
  return { held, disconnects: () => disconnects };
}

/** A plain rhea connection (not the consumer), with every event recorded by name. */
function dial(q: DevQueue, options: Partial<ConnectionOptions> = {}): { connection: Connection; events: string[]; contexts: Map<string, EventContext> } {
  const container = rhea.create_container({ id: `dq-${randomUUID()}` });
  container.on('error', () => undefined);
  const connection = container.connect({ host: q.host, port: q.port, username: q.username, password: q.password, reconnect: false, ...options } as ConnectionOptions);
  open.push(connection);
  const events: string[] = [];
  const contexts = new Map<string, EventContext>();
  for (const name of ['connection_open', 'connection_error', 'connection_close', 'disconnected', 'protocol_error']) {
    connection.on(name, (ctx: EventContext) => {
      events.push(name);
      contexts.set(name, ctx);
    });
  }
  return { connection, events, contexts };
}

describe('seeds and publishing', () => {
  it('starts with 20 sample messages on civitas.outreach.dev, a random password, on a free port', async () => {
    const q = await devQueue();
    expect(q.queueNames()).toEqual(['civitas.outreach.dev']);
    expect(q.depth('civitas.outreach.dev')).toBe(20);
    expect(q.password.length).toBeGreaterThanOrEqual(12);
    expect(q.port).toBeGreaterThan(0);
    expect(q.url).toBe(`amqp://127.0.0.1:${q.port}`);
    expect(q.tls).toBe(false);
  });

  it('takes counts, messages and every input form; publish() adds at the tail; browse() consumes nothing', async () => {
    const examples = exampleOutreachMessages();
    const q = await devQueue({ queues: { a: 3, b: [examples.inspireForFaculty, 'not json'] } });
    expect(q.depth('a')).toBe(3);
    expect(q.depth('queue://b')).toBe(2);
    const ids = q.publish('b', Buffer.from('{}'), { body: 'custom', messageId: 'm-1', durable: false, subject: 'S' });
    expect(ids[1]).toBe('m-1');
    expect(String(ids[0])).toMatch(/^ID:/);
    const browsed = q.browse('b');
    expect(browsed.map((m) => m.body)).toEqual([JSON.stringify(examples.inspireForFaculty), 'not json', rhea.message.data_section(Buffer.from('{}')), 'custom']);
    expect(q.depth('b')).toBe(4);
    expect(q.depth('never-used')).toBe(0);
    expect(() => q.publish('', 'x')).toThrowError(/queue/);
  });

  it('takes messages from an AMQP sender, composite destinations included (A,B: one copy each)', async () => {
    const q = await devQueue({ queues: {} });
    const { connection } = dial(q);
    const sender = connection.open_sender({ target: { address: 'x,queue://y' } });
    await new Promise<void>((resolve) => sender.once('accepted', () => resolve()) && sender.once('sendable', () => void sender.send({ body: 'hello', durable: true })));
    expect(q.browse('x').map((m) => m.body)).toEqual(['hello']);
    expect(q.browse('y').map((m) => m.body)).toEqual(['hello']);
  });
});

describe('what a consumer sees', () => {
  it('publish() reaches a consumer that is already waiting', async () => {
    const q = await devQueue({ queues: { a: 0 } });
    const c = consumer(q, 'a');
    const seen: string[] = [];
    const firstDrained = new Promise<void>((resolve) => c.once('drained', () => resolve()));
    await c.start((d) => void seen.push(d.outreach.outreachId));
    await firstDrained;
    const examples = exampleOutreachMessages();
    q.publish('a', examples.illumeStudentsCampaign, examples.inspireForAdvisors);
    await waitFor(() => seen.length === 2 && q.depth('a') === 0, 'both handled and accepted');
    expect(seen).toEqual([examples.illumeStudentsCampaign.outreachId, examples.inspireForAdvisors.outreachId]);
  });

  it('records every delivery of a message: the count the consumer saw and how it ended', async () => {
    const q = await devQueue({ queues: { a: [{ body: JSON.stringify(makeOutreachMessages(1).next().value), messageId: 'flaky' }] } });
    let calls = 0;
    const c = consumer(q, 'a', { outage: false, strategy: atLeastOnce({ retryDelayMs: 0 }) });
    c.on('error', () => undefined);
    await c.start(() => {
      if (++calls < 3) throw new Error('not yet');
    });
    await waitFor(() => q.depth('a') === 0, 'the message accepted');
    expect(q.deliveries('a', 'flaky')).toEqual([
      { deliveryCount: 0, settlement: 'modified', settledOrder: 1 },
      { deliveryCount: 1, settlement: 'modified', settledOrder: 2 },
      { deliveryCount: 2, settlement: 'accepted', settledOrder: 3 },
    ]);
    expect(q.stats('a')).toMatchObject({ enqueued: 1, dequeued: 1, depth: 0, deadLettered: 0 });
  });

  it('dead-letters a rejected persistent message with the reason; drops a non-persistent one (as ActiveMQ)', async () => {
    const q = await devQueue({ queues: { a: [{ body: 'persistent', messageId: 'p' }, { body: 'transient', messageId: 't', durable: false }] } });
    const c = consumer(q, 'a');
    c.on('error', () => undefined);
    // Both bodies are undecodable: the consumer rejects them (its default invalid policy).
    await c.start(() => undefined);
    await waitFor(() => q.depth('a') === 0, 'both settled');
    expect(q.deadLetters('a').map((d) => ({ id: d.messageId, outcome: d.outcome }))).toEqual([{ id: 'p', outcome: 'rejected' }]);
    expect(q.deadLetters('a')[0]!.error?.description).toMatch(/undecodable/);
  });

  it('never has more in flight than the credit (ActiveMQ may take more off the queue: a known difference)', async () => {
    const q = await devQueue({ queues: { a: 200 } });
    const c = consumer(q, 'a', { prefetch: 10 });
    let maxInFlight = 0;
    const drained = new Promise<void>((resolve) => c.once('drained', () => resolve()));
    await c.start(async () => {
      maxInFlight = Math.max(maxInFlight, q.stats('a').inFlight);
      await sleep(1);
    }, { concurrency: 10 });
    await drained;
    expect(maxInFlight).toBeGreaterThan(1);
    expect(maxInFlight).toBeLessThanOrEqual(10);
  });

  it('offers ActiveMQ-like open-frame settings, but names itself (a known difference)', async () => {
    const q = await devQueue();
    const { connection, events } = dial(q);
    await waitFor(() => events.includes('connection_open'), 'open');
    const remote = (connection as unknown as { remote: { open: { container_id: string; idle_time_out: number; max_frame_size: number; properties: Record<string, unknown> } } }).remote.open;
    expect(remote).toMatchObject({ container_id: 'civitas-dev-queue', idle_time_out: 15_000, max_frame_size: 131_072 });
    expect(remote.properties).toMatchObject({ product: 'civitas-outreach dev queue', 'queue-prefix': 'queue://' });
  });

  it('refuses a second connection with a container id still connected (amqp:invalid-field, as ActiveMQ)', async () => {
    const q = await devQueue();
    const first = dial(q, { container_id: 'same-id' } as Partial<ConnectionOptions>);
    await waitFor(() => first.events.includes('connection_open'), 'the first open');
    const second = dial(q, { container_id: 'same-id' } as Partial<ConnectionOptions>);
    await waitFor(() => second.events.includes('connection_error'), 'the refusal');
    expect(second.events.slice(0, 2)).toEqual(['connection_open', 'connection_error']);
    expect(second.contexts.get('connection_error')!.connection.error).toMatchObject({ condition: 'amqp:invalid-field' });
  });
});

describe('network: false (in-process, no socket)', () => {
  it('listens on nothing; a consumer in this process drains it; faults and close() work; afterwards it is refused', async () => {
    const q = await devQueue({ network: false, queues: { a: 3 } });
    expect(q.port).toBe(0);
    expect(q.url).toMatch(/^amqp:\/\/endpoint-\d+\.in-process\.invalid$/);
    const { held, disconnects } = await holdingConsumer(q, 'a');
    await waitFor(() => held.length === 3, 'three held');
    expect(q.connections).toBe(1);
    q.faults.dropConnections();
    await waitFor(() => disconnects() === 1, 'the consumer to notice the drop');
    await waitFor(() => held.length === 6, 'three redelivered');
    expect(held.slice(3).map((d) => d.deliveryCount)).toEqual([1, 1, 1]);
    for (const d of held.slice(3)) d.accept();
    await waitFor(() => q.depth('a') === 0, 'accepted');

    await q.close();
    const late = consumer(q, 'a', { reconnect: { maxAttempts: 1, initialDelayMs: 10, maxDelayMs: 10 } });
    late.on('error', () => undefined);
    const error: unknown = await late.start(() => undefined).then(() => undefined, (e: unknown) => e);
    expect(isOutreachError(error) && error.code).toBe('CONNECTION_FAILED');
  });

  it('refuses tls without a network', async () => {
    await expect(startDevQueue({ network: false, tls: { key: 'k', cert: 'c' } })).rejects.toThrowError(/tls/);
  });
});

describe('SASL and TLS', () => {
  it('refuses a wrong password and an anonymous login the way ActiveMQ does (amqp:unauthorized-access, "Failed to authenticate: 1")', async () => {
    const q = await devQueue();
    for (const options of [{ password: 'wrong' }, { password: undefined }]) {
      const { events, contexts } = dial(q, options as Partial<ConnectionOptions>);
      await waitFor(() => events.includes('disconnected'), 'the refusal');
      expect(events[0]).toBe('connection_error');
      expect(contexts.get('connection_error')!.error).toMatchObject({ condition: 'amqp:unauthorized-access', description: 'Failed to authenticate: 1' });
    }
  });

  it('insists on SASL: a client without a username gets a protocol error', async () => {
    const q = await devQueue();
    const { events } = dial(q, { username: undefined, password: undefined } as unknown as Partial<ConnectionOptions>);
    await waitFor(() => events.includes('disconnected') || events.includes('protocol_error'), 'the refusal');
    expect(events).not.toContain('connection_open');
  });

  it('speaks TLS with a given key and certificate (made with the openssl one-liner of docs/dev-queue.md)', async () => {
    const tls = await selfSignedCert();
    const q = await devQueue({ queues: { a: 5 }, tls });
    expect(q.url).toBe(`amqp+ssl://127.0.0.1:${q.port}`);

    const trusted = consumer(q, 'a', { ca: tls.cert, allowInsecure: false });
    let handled = 0;
    const drained = new Promise<void>((resolve) => trusted.once('drained', () => resolve()));
    await trusted.start(() => void handled++);
    await drained;
    expect(handled).toBe(5);

    const untrusted = consumer(q, 'a', { allowInsecure: false });
    untrusted.on('error', () => undefined);
    const error: unknown = await untrusted.start(() => undefined).then(() => undefined, (e: unknown) => e);
    expect(isOutreachError(error) && error.code).toBe('TLS_FAILED');
  });
});

describe('faults', () => {
  it('dropConnections(): the consumer reconnects; unsettled deliveries come back with the count + 1', async () => {
    const q = await devQueue({ queues: { a: 2 } });
    const { held, disconnects } = await holdingConsumer(q, 'a');
    await waitFor(() => held.length === 2, 'two held');
    expect(q.faults.dropConnections()).toBe(1);
    await waitFor(() => disconnects() === 1, 'the consumer to notice');
    for (const d of held.splice(0)) expect(d.accept()).toBe(false);
    await waitFor(() => held.length === 2, 'two redelivered');
    expect(held.map((d) => d.deliveryCount)).toEqual([1, 1]);
    for (const d of held) d.accept();
    await waitFor(() => q.depth('a') === 0, 'accepted');
  });

  it('detachConsumers(): the link is closed with the error; what it held comes back with its count unchanged', async () => {
    const q = await devQueue({ queues: { a: 1 } });
    const c = consumer(q, 'a', { strategy: manual() });
    const errors: string[] = [];
    c.on('error', (e) => errors.push(e.code));
    const held: OutreachDelivery[] = [];
    await c.start((d) => void held.push(d));
    await waitFor(() => held.length === 1, 'one held');
    expect(q.faults.detachConsumers({ queue: 'a', condition: 'amqp:internal-error', description: 'gone' })).toBe(1);
    await waitFor(() => held.length === 2, 'redelivered after the consumer reattached');
    expect(held[1]!.deliveryCount).toBe(0);
    expect(errors.length).toBeGreaterThan(0);
    held[1]!.accept();
    await waitFor(() => q.depth('a') === 0, 'accepted');
  });

  it('refuseNextLogin(): the next login fails as a wrong password would; the one after succeeds', async () => {
    const q = await devQueue({ queues: { a: 1 } });
    q.faults.refuseNextLogin();
    const refused = consumer(q, 'a');
    refused.on('error', () => undefined);
    const error: unknown = await refused.start(() => undefined).then(() => undefined, (e: unknown) => e);
    expect(isOutreachError(error) && error.code).toBe('AUTHENTICATION_FAILED');
    const c = consumer(q, 'a');
    const drained = new Promise<void>((resolve) => c.once('drained', () => resolve()));
    await c.start(() => undefined);
    await drained;
    expect(q.depth('a')).toBe(0);
  });

  it('delayDeliveries(): messages are held back but counted on the queue, and still arrive within the credit', async () => {
    const q = await devQueue({ queues: { a: 3 } });
    q.faults.delayDeliveries(400);
    const { connection, events } = dial(q);
    await waitFor(() => events.includes('connection_open'), 'open');
    const receiver = connection.open_receiver({ source: { address: 'a' }, autoaccept: false, credit_window: 0 } as ReceiverOptions);
    const got: EventContext[] = [];
    receiver.on('message', (ctx: EventContext) => got.push(ctx));
    await new Promise<void>((resolve) => receiver.once('receiver_open', () => resolve()));
    receiver.add_credit(2);
    await waitFor(() => q.stats('a').inFlight === 2, 'two taken for the link');
    expect(got.length).toBe(0);
    expect(q.depth('a')).toBe(3);
    await waitFor(() => got.length === 2, 'the two delayed messages');
    await sleep(100);
    expect(got.length).toBe(2);
  });

  it('stall(): the consumer hears nothing and gives up by its idle timeout; after unstall() it reconnects and finishes', async () => {
    const q = await devQueue({ queues: { a: 3 } });
    const { held, disconnects } = await holdingConsumer(q, 'a', { idleTimeoutMs: 1000 });
    await waitFor(() => held.length === 3, 'three held');
    q.faults.stall();
    await waitFor(() => disconnects() > 0, 'the consumer to give up on the silent connection');
    q.faults.unstall();
    await waitFor(() => held.length === 6, 'the three again after the reconnect');
    expect(held.slice(3).map((d) => d.deliveryCount)).toEqual([1, 1, 1]);
    for (const d of held.slice(3)) d.accept();
    await waitFor(() => q.depth('a') === 0, 'accepted');
  });
});

// Each undocumented part of rhea in src/testing/dev-queue/rhea-server-internals.ts, checked against the
// installed rhea: an upgrade that changes one fails here.
describe('the rhea internals the dev queue relies on', () => {
  async function receiverOn(q: DevQueue, queue: string): Promise<{ receiver: Receiver; got: EventContext[]; drained: number[] }> {
    const { connection, events } = dial(q);
    await waitFor(() => events.includes('connection_open'), 'open');
    const receiver = connection.open_receiver({ source: { address: queue }, autoaccept: false, credit_window: 0 } as ReceiverOptions);
    const got: EventContext[] = [];
    const drained: number[] = [];
    receiver.on('message', (ctx: EventContext) => got.push(ctx));
    receiver.on('receiver_drained', () => drained.push(got.length));
    await new Promise<void>((resolve) => receiver.once('receiver_open', () => resolve()));
    return { receiver, got, drained };
  }

  it('senderLimit: the credit granted is sent exactly, across several flows', async () => {
    const q = await devQueue({ queues: { a: 6 } });
    const rx = await receiverOn(q, 'a');
    rx.receiver.add_credit(2);
    await waitFor(() => rx.got.length === 2, 'two');
    await sleep(150);
    expect(rx.got.length).toBe(2);
    rx.receiver.add_credit(3);
    await waitFor(() => rx.got.length === 5, 'five');
    await sleep(150);
    expect(rx.got.length).toBe(5);
    expect(q.stats('a')).toMatchObject({ inFlight: 5, ready: 1 });
  });

  it('set_drained: a drain with credit left over is answered after the messages; one the messages use up is not', async () => {
    const q = await devQueue({ queues: { a: 2, b: 5 } });
    const a = await receiverOn(q, 'a');
    a.receiver.add_credit(10);
    a.receiver.drain_credit();
    await waitFor(() => a.drained.length === 1, 'the drain answered');
    expect(a.drained).toEqual([2]);
    const b = await receiverOn(q, 'b');
    b.receiver.add_credit(3);
    b.receiver.drain_credit();
    await waitFor(() => b.got.length === 3, 'three');
    await sleep(300);
    expect(b.drained).toEqual([]);
  });
});

describe('atMostOnce(): what it holds was accepted on arrival and cannot go back', () => {
  it('pause() keeps those messages for the handler, and close() says how many it drops', async () => {
    const q = await devQueue({ network: false, queues: { amo: 8 } });
    const warnings: { fields: Record<string, unknown>; msg: string }[] = [];
    const logger = {
      debug: () => undefined,
      info: () => undefined,
      warn: (fields: object, msg?: string) => void warnings.push({ fields: fields as Record<string, unknown>, msg: msg ?? '' }),
      error: () => undefined,
    };
    const c = consumer(q, 'amo', { strategy: atMostOnce(), prefetch: 8, logger });
    const handled: string[] = [];
    let release!: () => void;
    const first = new Promise<void>((r) => (release = r));
    await c.start(async (delivery) => {
      handled.push(delivery.outreach.outreachId);
      if (handled.length === 1) await first; // the other 7 wait in the buffer
    });
    await waitFor(() => handled.length === 1 && c.health().held === 8, 'one in the handler, seven buffered');
    await waitFor(() => q.depth('amo') === 0, 'all accepted on arrival');
    c.pause();
    release();
    await waitFor(() => handled.length === 8, 'every accepted message handled despite the pause');
    expect(new Set(handled).size).toBe(8);
    await c.close();
    expect(warnings.filter((w) => 'dropped' in w.fields)).toEqual([]);

    // Closing with messages buffered: they are dropped, and the log says how many.
    q.publish('amo', ...makeOutreachMessages(6, { seed: 3 }));
    const d = consumer(q, 'amo', { strategy: atMostOnce(), prefetch: 6, logger });
    let stuck!: () => void;
    const hold = new Promise<void>((r) => (stuck = r));
    let calls = 0;
    await d.start(async () => {
      calls++;
      await hold;
    });
    await waitFor(() => calls === 1 && d.health().held === 6, 'one in the handler, five buffered');
    const closing = d.close();
    stuck();
    const report = await closing;
    expect(calls).toBe(1);
    expect(report.accepted).toBe(6);
    expect(warnings.find((w) => 'dropped' in w.fields)?.fields).toEqual({ dropped: 5 });
  });
});
