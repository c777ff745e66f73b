// What ActiveMQ and rhea do on the wire, checked with plain rhea clients (not the consumer's code)
// against the real broker: the claims of docs/wire-facts.md, each of which names the test here
// (or elsewhere) that holds it. A broker that behaved otherwise fails these tests.
//
// Most run against the shared broker; the graceful stop starts a broker of its own.
import { randomUUID } from 'node:crypto';
import type net from 'node:net';
import tls from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import rhea from 'rhea';
import type { Connection, ConnectionOptions, Delivery, EventContext, Message, Receiver, ReceiverOptions } from 'rhea';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { startBroker, type BrokerHandle } from '../../scripts/activemq.mjs';
import { expectQueueSize, queueStatsOf, sharedBroker, uniqueQueue, unusedPort, waitFor, type TestBroker } from './support.js';
import { TcpProxy } from './tcp-proxy.js';

const broker = sharedBroker();

// ---- plain rhea, recorded ------------------------------------------------------------------

/** Every event a connection emitted, in order, with its context. */
interface Recorded {
  readonly connection: Connection;
  readonly events: { name: string; ctx: EventContext; at: number }[];
  named(name: string): EventContext[];
}

const CONNECTION_EVENTS = ['connection_open', 'connection_close', 'connection_error', 'disconnected', 'error', 'protocol_error', 'session_error', 'session_close'] as const;

const connections: Connection[] = [];
const proxies: TcpProxy[] = [];

afterEach(async () => {
  for (const connection of connections.splice(0)) {
    (connection as unknown as { options: { reconnect: boolean } }).options.reconnect = false;
    try {
      connection.close();
    } catch {
      // already gone
    }
  }
  await Promise.all(proxies.splice(0).map((p) => p.close()));
});

interface DialOptions {
  port?: number;
  transport?: 'tls' | 'tcp';
  username?: string | undefined;
  password?: string | undefined;
  ca?: string | undefined;
  servername?: string;
  reconnect?: boolean;
  containerId?: string;
  target?: TestBroker;
}

/** A plain rhea connection (TLS, verified, the test user unless told otherwise), recorded. */
function dial(options: DialOptions = {}): Recorded {
  const target = options.target ?? broker;
  const container = rhea.create_container({ id: options.containerId ?? `wf-${randomUUID()}` });
  container.on('error', () => undefined); // recorded on the connection
  const connection = container.connect({
    host: '127.0.0.1',
    port: options.port ?? target.amqpsPort,
    transport: options.transport ?? 'tls',
    ...('ca' in options ? (options.ca === undefined ? {} : { ca: options.ca }) : { ca: target.caPem }),
    servername: options.servername ?? 'localhost',
    ...('username' in options ? (options.username === undefined ? {} : { username: options.username }) : { username: target.username }),
    ...('password' in options ? (options.password === undefined ? {} : { password: options.password }) : { password: target.password }),
    reconnect: options.reconnect ?? false,
    initial_reconnect_delay: 100,
    max_reconnect_delay: 500,
  } as ConnectionOptions);
  connections.push(connection);
  const events: Recorded['events'] = [];
  for (const name of CONNECTION_EVENTS) connection.on(name, (ctx: EventContext) => events.push({ name, ctx, at: performance.now() }));
  return { connection, events, named: (name) => events.filter((e) => e.name === name).map((e) => e.ctx) };
}

async function opened(recorded: Recorded): Promise<Recorded> {
  await waitFor(() => recorded.named('connection_open').length > 0 || recorded.named('disconnected').length > 0, 'the connection to open', 15_000);
  expect(recorded.named('connection_open').length, `the connection did not open: ${recorded.events.map((e) => e.name).join(', ')}`).toBe(1);
  return recorded;
}

/** A receiver that grants only the credit a test gives it and settles nothing by itself. */
interface Rx {
  readonly receiver: Receiver;
  /** Every message received, in order. */
  readonly got: EventContext[];
  readonly drained: number[];
  /** Waits for the `n`th message (1-based) and returns it. */
  nth(n: number, timeoutMs?: number): Promise<EventContext>;
  /** Nothing more arrives within `ms`. */
  expectNothingMore(ms: number): Promise<void>;
}

async function receiveFrom(recorded: Recorded, address: string, options: Partial<ReceiverOptions> = {}, credit = 0): Promise<Rx> {
  const receiver = recorded.connection.open_receiver({ source: { address }, autoaccept: false, credit_window: 0, ...options } as ReceiverOptions);
  const got: EventContext[] = [];
  const drained: number[] = [];
  receiver.on('message', (ctx: EventContext) => got.push(ctx));
  receiver.on('receiver_drained', () => drained.push(got.length));
  receiver.on('receiver_error', () => undefined);
  await new Promise<void>((resolve) => receiver.once('receiver_open', () => resolve()));
  if (credit > 0) receiver.add_credit(credit);
  return {
    receiver,
    got,
    drained,
    async nth(n, timeoutMs = 15_000) {
      await waitFor(() => got.length >= n, `message #${n} on ${address}`, timeoutMs);
      return got[n - 1]!;
    },
    async expectNothingMore(ms) {
      const before = got.length;
      await sleep(ms);
      expect(got.length, `no more messages on ${address} within ${ms} ms`).toBe(before);
    },
  };
}

/** Sends messages with a plain rhea sender; resolves when the broker has accepted every one. */
async function send(address: string, messages: Message[], target: TestBroker = broker): Promise<void> {
  const recorded = await opened(dial({ target }));
  const sender = recorded.connection.open_sender({ target: { address } });
  await new Promise<void>((resolve, reject) => {
    let sent = 0;
    let accepted = 0;
    sender.on('sendable', () => {
      while (sent < messages.length && sender.sendable()) sender.send(messages[sent++]!);
    });
    sender.on('accepted', () => {
      if (++accepted === messages.length) resolve();
    });
    sender.on('rejected', (ctx: EventContext) => reject(new Error(`rejected: ${JSON.stringify(ctx.delivery?.remote_state)}`)));
    sender.on('sender_error', (ctx: EventContext) => reject(new Error(`sender error: ${String(ctx.sender?.error)}`)));
  });
  recorded.connection.close();
}

/** A message with a test id in its application properties, so that a selector can find it. */
function tagged(body: string, durable: boolean, extra: Partial<Message> = {}): Message & { application_properties: { wf: string } } {
  return { body, durable, application_properties: { wf: randomUUID() }, ...extra } as Message & { application_properties: { wf: string } };
}

/**
 * Takes the messages with these test ids out of ActiveMQ.DLQ (a JMS selector on the `wf`
 * property) and returns their ids. A drain ends the wait: ActiveMQ answers it once it has no more
 * to send.
 */
async function takeFromDlq(wfs: string[]): Promise<string[]> {
  const recorded = await opened(dial());
  const selector = wfs.map((wf) => `wf = '${wf}'`).join(' OR ');
  const rx = await receiveFrom(recorded, 'ActiveMQ.DLQ', { source: { address: 'ActiveMQ.DLQ', filter: rhea.filter.selector(selector) } } as Partial<ReceiverOptions>);
  rx.receiver.add_credit(wfs.length + 5);
  rx.receiver.drain_credit();
  await waitFor(() => rx.drained.length > 0, 'the DLQ drain to be answered', 15_000);
  const found = rx.got.map((ctx) => String((ctx.message!.application_properties as { wf: string }).wf));
  for (const ctx of rx.got) ctx.delivery!.accept();
  await sleep(100);
  recorded.connection.close();
  return found;
}

/** The credit rhea holds for a receiver now (a property its typings leave out). */
const creditOf = (receiver: Receiver): number => (receiver as unknown as { credit: number }).credit;
const deliveryCount = (ctx: EventContext): number | undefined => ctx.message!.delivery_count;
const tagOf = (delivery: Delivery): Buffer => Buffer.from(delivery.tag as Buffer);

async function proxy(target: TestBroker = broker): Promise<TcpProxy> {
  const p = await TcpProxy.start(target.amqpsPort);
  proxies.push(p);
  return p;
}


// ---- the facts -----------------------------------------------------------------------------

describe('the open frame and the attach', () => {
  it('open: idle timeout 15 s, frame size 128 KiB, product and queue prefix, broker name as container id', async () => {
    const recorded = await opened(dial());
    const open = (recorded.connection as unknown as { remote: { open: Record<string, unknown> } }).remote.open;
    expect(open).toMatchObject({
      container_id: 'civitas-test',
      idle_time_out: 15_000,
      max_frame_size: 131_072,
      channel_max: 32_767,
      offered_capabilities: ['ANONYMOUS-RELAY', 'DELAYED_DELIVERY'],
      properties: { product: 'ActiveMQ', version: broker.version, 'queue-prefix': 'queue://', 'topic-prefix': 'topic://' },
    });
    expect((open.properties as { platform: string }).platform).toMatch(/^Java\//);
  });

  it('attach: the broker forces rcv_settle_mode first (even when asked for second), sends mixed, and deliveries arrive unsettled', async () => {
    const queue = uniqueQueue('wf-settle');
    await send(queue, [tagged('one', true)]);
    const recorded = await opened(dial());
    const rx = await receiveFrom(recorded, queue, { rcv_settle_mode: 1 } as Partial<ReceiverOptions>, 1);
    const attach = (rx.receiver as unknown as { remote: { attach: { rcv_settle_mode?: number; snd_settle_mode?: number; source: { address: string } } } }).remote.attach;
    expect(attach.rcv_settle_mode ?? 0).toBe(0);
    expect(attach.snd_settle_mode).toBe(2);
    const ctx = await rx.nth(1);
    expect(ctx.delivery!.remote_settled).toBe(false);
    ctx.delivery!.accept();
  });
});

describe('bodies and metadata (transport.transformer=jms)', () => {
  it('a JMS TextMessage: a string body, no content_type, an ID: message id, durable, to, creation_time, x-opt-jms-dest, no delivery_count', async () => {
    const queue = uniqueQueue('wf-jms-text');
    await broker.produceOpenWire({ queue, message: '{"a": 1, "b": "x y"}' });
    const recorded = await opened(dial());
    const rx = await receiveFrom(recorded, queue, {}, 1);
    const ctx = await rx.nth(1);
    const m = ctx.message!;
    expect(m.body).toBe('{"a": 1, "b": "x y"}');
    expect(m.content_type).toBeUndefined();
    expect(String(m.message_id)).toMatch(/^ID:/);
    expect(m.durable).toBe(true);
    expect(m.to).toBe(`queue://${queue}`);
    expect(m.creation_time).toBeInstanceOf(Date);
    expect(m.message_annotations).toEqual({ 'x-opt-jms-dest': 0 });
    expect(m.delivery_count).toBeUndefined();
    expect(m.first_acquirer).toBeUndefined();
    expect(ctx.delivery!.format).toBe(0);
    expect(tagOf(ctx.delivery!)).toEqual(Buffer.from([0]));
    ctx.delivery!.accept();
  });

  it('a JMS BytesMessage: a data section, { typecode: 0x75, content: Buffer }, no content_type', async () => {
    const queue = uniqueQueue('wf-jms-bytes');
    await broker.produceOpenWire({ queue, messageSize: 5 });
    const recorded = await opened(dial());
    const rx = await receiveFrom(recorded, queue, {}, 1);
    const ctx = await rx.nth(1);
    const body = ctx.message!.body as { typecode: number; content: Buffer };
    expect(body.typecode).toBe(0x75);
    expect(Buffer.isBuffer(body.content)).toBe(true);
    expect(body.content).toHaveLength(5);
    expect(ctx.message!.content_type).toBeUndefined();
    ctx.delivery!.accept();
  });

  it('AMQP-produced: body sections, content_type, message_id, application_properties, subject and durable are kept; a missing message_id is assigned (ID:...)', async () => {
    const queue = uniqueQueue('wf-amqp');
    const json = tagged('{"x":1}', true, { content_type: 'application/json', message_id: 'm-1', subject: 'outreach' });
    json.application_properties = { ...json.application_properties, k: 'v' } as typeof json.application_properties;
    const data = tagged('', true);
    data.body = rhea.message.data_section(Buffer.from('bytes', 'utf8'));
    const anonymous = tagged('no id, not durable', false); // no message_id, no durable
    await send(queue, [json, data, anonymous]);
    const recorded = await opened(dial());
    const rx = await receiveFrom(recorded, queue, {}, 3);
    await rx.nth(3);
    const [a, b, c] = rx.got.map((ctx) => ctx.message!);
    expect(a).toMatchObject({ body: '{"x":1}', content_type: 'application/json', message_id: 'm-1', subject: 'outreach', durable: true });
    expect(a!.application_properties).toEqual({ wf: json.application_properties.wf, k: 'v' });
    expect(a!.delivery_count).toBeUndefined();
    expect(b!.body).toMatchObject({ typecode: 0x75 });
    expect(Buffer.from((b!.body as { content: Buffer }).content).toString('utf8')).toBe('bytes');
    expect(c!.body).toBe('no id, not durable');
    expect(String(c!.message_id)).toMatch(/^ID:/);
    expect(c!.durable).toBeUndefined();
    for (const ctx of rx.got) ctx.delivery!.accept();
  });
});

describe('dispositions', () => {
  it('accepted: the broker deletes the message', async () => {
    const queue = uniqueQueue('wf-accept');
    await send(queue, [tagged('a', true)]);
    const recorded = await opened(dial());
    const rx = await receiveFrom(recorded, queue, {}, 1);
    (await rx.nth(1)).delivery!.accept();
    await expectQueueSize(broker, queue, 0);
    expect(await queueStatsOf(broker, queue)).toMatchObject({ enqueued: 1, dequeued: 1 });
  });

  it('one accepted disposition for a range first..last: the broker deletes every message of the range', async () => {
    const queue = uniqueQueue('wf-accept-range');
    await send(queue, Array.from({ length: 20 }, (_, i) => tagged(`r${i}`, true)));
    const recorded = await opened(dial());
    const rx = await receiveFrom(recorded, queue, {}, 20);
    await rx.nth(20);
    // Frames this connection writes, recorded at rhea's frame writer.
    const written: { first: number | undefined; last: number | undefined; kind: string }[] = [];
    const connection = recorded.connection as unknown as { _write_frame(channel: number, frame: object, payload?: unknown): void };
    const write = connection._write_frame.bind(connection);
    connection._write_frame = (channel, frame, payload) => {
      const f = frame as { first?: number; last?: number; role?: boolean };
      written.push({ kind: 'first' in Object.getPrototypeOf(frame) && 'role' in Object.getPrototypeOf(frame) ? 'disposition' : 'other', first: f.first, last: f.last });
      write(channel, frame, payload);
    };
    for (const ctx of rx.got) ctx.delivery!.accept(); // one tick: rhea writes one frame for the run
    await expectQueueSize(broker, queue, 0);
    const dispositions = written.filter((w) => w.kind === 'disposition');
    expect(dispositions).toHaveLength(1);
    expect(dispositions[0]!.last! - dispositions[0]!.first!).toBe(19);
    expect(await queueStatsOf(broker, queue)).toMatchObject({ enqueued: 20, dequeued: 20 });
    // Nothing comes back, to this link or another.
    rx.receiver.add_credit(5);
    await rx.expectNothingMore(500);
  });

  it('released: back at the head of the queue, to the same link as soon as it has credit, its count never raised', async () => {
    const queue = uniqueQueue('wf-release');
    const [a, b] = [tagged('A', true), tagged('B', true)];
    await send(queue, [a, b]);
    const recorded = await opened(dial());
    const rx = await receiveFrom(recorded, queue, {}, 1);
    const first = await rx.nth(1);
    expect(first.message!.body).toBe('A');
    first.delivery!.release();
    await rx.expectNothingMore(300); // no credit left: nothing comes
    rx.receiver.add_credit(1);
    const again = await rx.nth(2);
    expect(again.message!.body).toBe('A'); // A again, not B: back at the head
    expect(deliveryCount(again)).toBeUndefined();
    // With credit to spare it comes straight back to this link: 12 releases, count never raised.
    let current = again;
    for (let i = 0; i < 12; i++) {
      rx.receiver.add_credit(1);
      current.delivery!.release();
      current = await rx.nth(3 + i);
      expect(current.message!.body).toBe('A');
      expect(deliveryCount(current)).toBeUndefined();
    }
    current.delivery!.accept();
    rx.receiver.add_credit(1);
    const next = await rx.nth(rx.got.length + 1);
    expect(next.message!.body).toBe('B');
    next.delivery!.accept();
  });

  it('modified{delivery_failed}: the count rises by one each time, and ActiveMQ never dead-letters by count (10 retries, still redelivered)', async () => {
    const queue = uniqueQueue('wf-modified');
    const [a, b] = [tagged('A', true), tagged('B', true)];
    await send(queue, [a, b]);
    const recorded = await opened(dial());
    const rx = await receiveFrom(recorded, queue, {}, 1);
    const first = await rx.nth(1);
    expect(first.message!.body).toBe('A');
    first.delivery!.modified({ delivery_failed: true });
    await rx.expectNothingMore(300);
    rx.receiver.add_credit(1);
    let current = await rx.nth(2);
    expect(current.message!.body).toBe('A'); // back at the head, ahead of B
    expect(deliveryCount(current)).toBe(1);
    // Ten retries in all, past ActiveMQ's maximumRedeliveries default (6): still redelivered.
    for (let count = 2; count <= 10; count++) {
      rx.receiver.add_credit(1);
      current.delivery!.modified({ delivery_failed: true });
      current = await rx.nth(count + 1);
      expect(current.message!.body).toBe('A');
      expect(deliveryCount(current)).toBe(count);
    }
    // Not in the dead-letter queue, and still on this queue (it is in our hands, unsettled).
    expect(await takeFromDlq([a.application_properties.wf])).toEqual([]);
    expect(await queueStatsOf(broker, queue)).toMatchObject({ size: 2, dequeued: 0 });
    current.delivery!.accept();
    rx.receiver.add_credit(1);
    (await rx.nth(12)).delivery!.accept();
    await expectQueueSize(broker, queue, 0);
  });

  it('modified{undeliverable_here} and rejected: a persistent message goes to ActiveMQ.DLQ; a rejected non-persistent one is dropped', async () => {
    const queue = uniqueQueue('wf-dlq');
    const undeliverable = tagged('undeliverable', true);
    const undeliverableFailed = tagged('undeliverable, failed', true);
    const rejectedPersistent = tagged('rejected, persistent', true);
    const rejectedNonPersistent = tagged('rejected, not persistent', false);
    await send(queue, [undeliverable, undeliverableFailed, rejectedPersistent, rejectedNonPersistent]);
    const recorded = await opened(dial());
    const rx = await receiveFrom(recorded, queue, {}, 1);
    const settle: ((ctx: EventContext) => void)[] = [
      (ctx) => ctx.delivery!.modified({ undeliverable_here: true }),
      (ctx) => ctx.delivery!.modified({ delivery_failed: true, undeliverable_here: true }),
      (ctx) => ctx.delivery!.reject({ condition: 'amqp:internal-error', description: 'wire-facts test' }),
      (ctx) => ctx.delivery!.reject({ condition: 'amqp:internal-error', description: 'wire-facts test' }),
    ];
    const bodies: unknown[] = [];
    for (let i = 0; i < settle.length; i++) {
      const ctx = await rx.nth(i + 1);
      bodies.push(ctx.message!.body);
      rx.receiver.add_credit(1); // credit to spare: it would come straight back if it were requeued
      settle[i]!(ctx);
    }
    expect(bodies).toEqual(['undeliverable', 'undeliverable, failed', 'rejected, persistent', 'rejected, not persistent']);
    expect(rx.got[3]!.message!.durable).toBeUndefined();
    await rx.expectNothingMore(300); // none of them came back to this link
    await expectQueueSize(broker, queue, 0);
    // Nor to a new link.
    const other = await receiveFrom(await opened(dial()), queue, {}, 5);
    await other.expectNothingMore(300);
    const inDlq = await takeFromDlq([undeliverable, undeliverableFailed, rejectedPersistent, rejectedNonPersistent].map((m) => m.application_properties.wf));
    expect(inDlq.sort()).toEqual([undeliverable, undeliverableFailed, rejectedPersistent].map((m) => m.application_properties.wf).sort());
  });
});

describe('dropped connections and detached links', () => {
  it('a dropped connection requeues an unsettled delivery with its count raised, 9 times in a row, never dead-lettered', async () => {
    const queue = uniqueQueue('wf-drops');
    const persistent = tagged('P', true);
    await send(queue, [persistent]);
    const p = await proxy();
    const counts: (number | undefined)[] = [];
    for (let drop = 0; drop < 9; drop++) {
      const recorded = await opened(dial({ port: p.port }));
      const rx = await receiveFrom(recorded, queue, {}, 1);
      counts.push(deliveryCount(await rx.nth(1)));
      await p.cut(); // both ends see the connection go, the delivery unsettled
      await waitFor(() => recorded.named('disconnected').length > 0, 'rhea to see the drop');
      await p.resume();
    }
    expect(counts).toEqual([undefined, 1, 2, 3, 4, 5, 6, 7, 8]);
    // Past ActiveMQ's maximumRedeliveries default (6): not dead-lettered, delivered a 10th time.
    const last = await receiveFrom(await opened(dial()), queue, {}, 1);
    const tenth = await last.nth(1);
    expect(deliveryCount(tenth)).toBe(9);
    tenth.delivery!.accept();
    expect(await takeFromDlq([persistent.application_properties.wf])).toEqual([]);
  });

  it('the same for a non-persistent message', async () => {
    const queue = uniqueQueue('wf-drop-np');
    await send(queue, [tagged('N', false)]);
    const p = await proxy();
    const recorded = await opened(dial({ port: p.port }));
    const rx = await receiveFrom(recorded, queue, {}, 1);
    expect(deliveryCount(await rx.nth(1))).toBeUndefined();
    await p.cut();
    await waitFor(() => recorded.named('disconnected').length > 0, 'rhea to see the drop');
    const again = await receiveFrom(await opened(dial()), queue, {}, 1);
    const ctx = await again.nth(1);
    expect(deliveryCount(ctx)).toBe(1);
    ctx.delivery!.accept();
  });

  it('detaching a link puts an unsettled delivery back with its count unchanged', async () => {
    const queue = uniqueQueue('wf-detach');
    await send(queue, [tagged('D', true)]);
    const recorded = await opened(dial());
    const counts: (number | undefined)[] = [];
    for (let i = 0; i < 3; i++) {
      const rx = await receiveFrom(recorded, queue, {}, 1);
      counts.push(deliveryCount(await rx.nth(1)));
      rx.receiver.close();
      await new Promise<void>((resolve) => rx.receiver.once('receiver_close', () => resolve()));
    }
    expect(counts).toEqual([undefined, undefined, undefined]);
    const rx = await receiveFrom(recorded, queue, {}, 1);
    (await rx.nth(1)).delivery!.accept();
  });

  it('a retried (modified) delivery re-dispatched to a link that then detaches comes back with its count rolled back', async () => {
    const queue = uniqueQueue('wf-modified-detach');
    await send(queue, [tagged('M', true)]);
    const recorded = await opened(dial());
    const rx = await receiveFrom(recorded, queue, {}, 2); // credit to spare
    const first = await rx.nth(1);
    expect(deliveryCount(first)).toBeUndefined();
    first.delivery!.modified({ delivery_failed: true });
    const again = await rx.nth(2); // straight back to this link, counted
    expect(deliveryCount(again)).toBe(1);
    rx.receiver.close(); // detach with it unsettled
    await new Promise<void>((resolve) => rx.receiver.once('receiver_close', () => resolve()));
    const next = await receiveFrom(recorded, queue, {}, 1);
    const back = await next.nth(1);
    expect(deliveryCount(back)).toBeUndefined(); // the count of the retry is gone
    back.delivery!.accept();
  });

  it('after rhea reconnects, a delivery from before cannot be settled; the link comes back with no credit', async () => {
    const queue = uniqueQueue('wf-reconnect');
    await send(queue, [tagged('R', true)]);
    const p = await proxy();
    const recorded = await opened(dial({ port: p.port, reconnect: true }));
    const rx = await receiveFrom(recorded, queue, {}, 1);
    let opens = 1;
    rx.receiver.on('receiver_open', () => opens++);
    const before = await rx.nth(1);
    await p.cut();
    await waitFor(() => recorded.named('disconnected').length > 0, 'rhea to see the drop');
    expect(recorded.named('disconnected')[0]!.reconnecting).toBe(true);
    await sleep(500); // let the broker forget the old connection (rhea reuses its container id)
    await p.resume();
    await waitFor(() => opens === 2, 'rhea to re-attach the receiver', 20_000);
    expect(creditOf(rx.receiver)).toBe(0);
    await rx.expectNothingMore(500); // no credit, nothing comes
    expect(() => before.delivery!.accept()).not.toThrow(); // and it does nothing:
    rx.receiver.add_credit(1);
    const after = await rx.nth(2);
    expect(after.message!.body).toBe('R');
    expect(deliveryCount(after)).toBe(1);
    expect(await queueStatsOf(broker, queue)).toMatchObject({ size: 1, dequeued: 0 });
    after.delivery!.accept();
    await expectQueueSize(broker, queue, 0);
  });

  it('rhea does not notice a socket destroyed locally; the broker does', async () => {
    const queue = uniqueQueue('wf-destroy');
    const recorded = await opened(dial());
    await receiveFrom(recorded, queue);
    await waitFor(async () => (await queueStatsOf(broker, queue)).consumers === 1, 'the broker to see the consumer');
    (recorded.connection as unknown as { socket: net.Socket }).socket.destroy();
    await waitFor(async () => (await queueStatsOf(broker, queue)).consumers === 0, 'the broker to see the consumer go');
    expect(recorded.events.map((e) => e.name)).toEqual(['connection_open']);
    expect(recorded.connection.is_open()).toBe(true);
  });
});

describe('container ids', () => {
  it('a second connection with an id still connected is refused with amqp:invalid-field (container-id)', async () => {
    const id = `wf-dup-${randomUUID()}`;
    await opened(dial({ containerId: id }));
    const second = dial({ containerId: id });
    await waitFor(() => second.named('connection_error').length > 0, 'the refusal');
    expect(second.events[0]!.name).toBe('connection_open');
    const error = (second.connection as unknown as { error: { condition: string; description: string; info: unknown } }).error;
    expect(error.condition).toBe('amqp:invalid-field');
    expect(error.description).toContain(`Client: ${id} already connected from`);
    expect(error.info).toEqual({ 'invalid-field': 'container-id' });
  });

  it('with rhea reconnect on, that refusal is fatal: rhea never tries again, even once the id is free', async () => {
    const id = `wf-dup-${randomUUID()}`;
    const first = await opened(dial({ containerId: id }));
    const p = await proxy();
    const second = dial({ containerId: id, port: p.port, reconnect: true });
    await waitFor(() => second.named('connection_error').length > 0, 'the refusal');
    first.connection.close();
    await waitFor(() => first.named('connection_close').length > 0, 'the first connection to close');
    await sleep(3_000); // rhea retries within 100-500 ms here if it retries at all
    expect(p.accepted).toBe(1);
    expect(second.named('connection_open')).toHaveLength(1);
    expect(second.connection.is_open()).toBe(false);
  });
});

describe('errors, as rhea reports them', () => {
  it('a bad password: amqp:unauthorized-access "Failed to authenticate: 1", not retried even with reconnect on; the error holds the password', async () => {
    const password = `wrong-${randomUUID()}`;
    const recorded = dial({ password, reconnect: true });
    await waitFor(() => recorded.named('disconnected').length > 0, 'the disconnection');
    await sleep(2_000); // a retry would come within 500 ms
    expect(recorded.events.map((e) => e.name)).toEqual(['connection_error', 'connection_close', 'disconnected']);
    const [errorCtx] = recorded.named('connection_error');
    expect(errorCtx!.error).toMatchObject({ condition: 'amqp:unauthorized-access', description: 'Failed to authenticate: 1' });
    const disconnected = recorded.named('disconnected')[0]!;
    expect(disconnected.reconnecting).toBeUndefined();
    expect((disconnected.error as NodeJS.ErrnoException | undefined)?.code).toBe('ERR_STREAM_WRITE_AFTER_END');
    // rhea's ConnectionError keeps its connection (not enumerable), and the connection its options.
    const hidden = (errorCtx!.error as unknown as { connection: { options: { password: string } } }).connection;
    expect(Object.keys(errorCtx!.error as object)).not.toContain('connection');
    expect(hidden.options.password).toBe(password);
  });

  it('a user without a password goes anonymous, which is refused the same way', async () => {
    const recorded = dial({ password: undefined });
    await waitFor(() => recorded.named('disconnected').length > 0, 'the disconnection');
    expect(recorded.named('connection_error')[0]!.error).toMatchObject({ condition: 'amqp:unauthorized-access', description: 'Failed to authenticate: 1' });
  });

  it('no username: rhea skips SASL and the broker insists on it (ProtocolError, printed with console.error unless protocol_error has a listener)', async () => {
    const printed = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      const recorded = dial({ username: undefined, password: undefined });
      recorded.connection.removeAllListeners('protocol_error'); // as a client that does not know the event
      await waitFor(() => recorded.named('disconnected').length > 0, 'the disconnection');
      const error = recorded.named('disconnected')[0]!.error as Error;
      expect(error.name).toBe('ProtocolError');
      expect(error.message).toBe('SASL layer not enabled');
      expect(printed.mock.calls.map((c) => String(c[0]))).toContainEqual(expect.stringContaining('error on read: ProtocolError: SASL layer not enabled'));
      // With a listener, the same error comes as an event and nothing is printed.
      printed.mockClear();
      const listened = dial({ username: undefined, password: undefined });
      await waitFor(() => listened.named('disconnected').length > 0, 'the disconnection');
      expect(listened.named('protocol_error')).toHaveLength(1);
      expect(printed).not.toHaveBeenCalled();
    } finally {
      printed.mockRestore();
    }
  });

  it('the broker offers SASL PLAIN and ANONYMOUS, though anonymous access is off', async () => {
    const socket = tls.connect({ host: '127.0.0.1', port: broker.amqpsPort, ca: broker.caPem, servername: 'localhost' });
    try {
      await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
      socket.write(Buffer.from([0x41, 0x4d, 0x51, 0x50, 3, 1, 0, 0])); // "AMQP" SASL 1.0.0
      let reply = Buffer.alloc(0);
      socket.on('data', (d: Buffer) => (reply = Buffer.concat([reply, d])));
      await waitFor(() => reply.length > 8 && reply.length >= 8 + reply.readUInt32BE(8), 'the sasl-mechanisms frame', 5_000);
      expect(reply.subarray(0, 8)).toEqual(Buffer.from([0x41, 0x4d, 0x51, 0x50, 3, 1, 0, 0]));
      const frame = reply.subarray(8, 8 + reply.readUInt32BE(8)).toString('latin1');
      expect(frame).toContain('PLAIN');
      expect(frame).toContain('ANONYMOUS');
    } finally {
      socket.destroy();
    }
  });

  it('a port nobody listens on: ECONNREFUSED, and rhea keeps retrying', async () => {
    const recorded = dial({ port: await unusedPort(), reconnect: true });
    await waitFor(() => recorded.named('disconnected').length >= 3, 'three attempts', 10_000);
    for (const ctx of recorded.named('disconnected')) {
      expect((ctx.error as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
      expect(ctx.reconnecting).toBe(true);
    }
  });

  it('an untrusted certificate: DEPTH_ZERO_SELF_SIGNED_CERT on disconnected, no connection_error, retried forever', async () => {
    const recorded = dial({ ca: undefined, reconnect: true });
    await waitFor(() => recorded.named('disconnected').length >= 3, 'three attempts', 10_000);
    expect(recorded.named('connection_error')).toEqual([]);
    for (const ctx of recorded.named('disconnected')) {
      expect((ctx.error as NodeJS.ErrnoException).code).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
      expect(ctx.reconnecting).toBe(true);
    }
  });

  it('a host name not in the certificate: ERR_TLS_CERT_ALTNAME_INVALID', async () => {
    const recorded = dial({ servername: 'example.com' });
    await waitFor(() => recorded.named('disconnected').length > 0, 'the disconnection');
    expect((recorded.named('disconnected')[0]!.error as NodeJS.ErrnoException).code).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
  });

  it('plain TCP to the TLS port: disconnected with no error at all', async () => {
    const recorded = dial({ transport: 'tcp' });
    await waitFor(() => recorded.named('disconnected').length > 0, 'the disconnection', 10_000);
    expect(recorded.events.map((e) => e.name)).toEqual(['disconnected']);
    expect(recorded.named('disconnected')[0]!.error).toBeUndefined();
  });

  it('a queue that does not exist: the receiver attaches and the broker creates the queue', async () => {
    const queue = uniqueQueue('wf-typo');
    expect(await broker.queueStats(queue)).toBeNull();
    const rx = await receiveFrom(await opened(dial()), queue, {}, 1);
    expect((rx.receiver as unknown as { remote: { attach: { source: { address: string } } } }).remote.attach.source.address).toBe(queue);
    expect(await queueStatsOf(broker, queue)).toMatchObject({ size: 0, consumers: 1 });
  });

  it('a queue the user may not read: an attach with a null source (rhea: receiver_open), then a detach with amqp:unauthorized-access', async () => {
    const recorded = await opened(dial({ username: broker.restrictedUsername, password: broker.restrictedPassword }));
    const receiver = recorded.connection.open_receiver({ source: { address: uniqueQueue('wf-forbidden') }, autoaccept: false, credit_window: 0 });
    const seen: { name: string; source?: unknown; error?: unknown }[] = [];
    receiver.on('receiver_open', () => seen.push({ name: 'receiver_open', source: (receiver as unknown as { remote: { attach: { source: unknown } } }).remote.attach.source }));
    receiver.on('receiver_error', (ctx: EventContext) => seen.push({ name: 'receiver_error', error: ctx.receiver?.error }));
    receiver.on('receiver_close', () => seen.push({ name: 'receiver_close' }));
    await waitFor(() => seen.some((s) => s.name === 'receiver_error'), 'the detach');
    expect(seen[0]).toMatchObject({ name: 'receiver_open', source: { value: null } }); // a typed AMQP null
    expect(seen[1]!.name).toBe('receiver_error');
    expect(seen[1]!.error).toMatchObject({ condition: 'amqp:unauthorized-access' });
  });
});

describe('credit', () => {
  it('the broker sends exactly the credit granted', async () => {
    const queue = uniqueQueue('wf-credit');
    await send(queue, Array.from({ length: 20 }, (_, i) => tagged(`c${i}`, false)));
    const rx = await receiveFrom(await opened(dial()), queue, {}, 5);
    await rx.nth(5);
    await rx.expectNothingMore(500);
    expect(creditOf(rx.receiver)).toBe(0);
  });

  it('a drain is answered when credit is left over, after the messages', async () => {
    const queue = uniqueQueue('wf-drain');
    await send(queue, Array.from({ length: 12 }, (_, i) => tagged(`d${i}`, false)));
    const rx = await receiveFrom(await opened(dial()), queue);
    rx.receiver.add_credit(100);
    rx.receiver.drain_credit();
    await waitFor(() => rx.drained.length > 0, 'the drain answer');
    expect(rx.drained).toEqual([12]); // answered once, after all 12
    expect(creditOf(rx.receiver)).toBe(0);
  });

  it('a drain is not answered when the messages use the credit up', async () => {
    const queue = uniqueQueue('wf-drain-used');
    await send(queue, Array.from({ length: 5 }, (_, i) => tagged(`u${i}`, false)));
    const rx = await receiveFrom(await opened(dial()), queue);
    rx.receiver.add_credit(3);
    rx.receiver.drain_credit();
    await rx.nth(3);
    await rx.expectNothingMore(1_500);
    expect(rx.drained).toEqual([]);
    expect(creditOf(rx.receiver)).toBe(0);
  });

  it('the client never gets more than its credit; the broker counts the credit in flight, and at times more (printed: a race)', async () => {
    const queue = uniqueQueue('wf-ahead');
    const credit = 10;
    await send(queue, Array.from({ length: 3_000 }, (_, i) => tagged(`h${i}`, false)));
    const sampler = broker.sampleQueue(queue, { intervalMs: 10 });
    await sampler.ready;
    const rx = await receiveFrom(await opened(dial()), queue);
    let settled = 0;
    let maxHeld = 0;
    // All ten settle at about the same moment, each followed by one credit: bursts of flows.
    rx.receiver.on('message', (ctx: EventContext) => {
      maxHeld = Math.max(maxHeld, rx.got.length - settled);
      setTimeout(() => {
        ctx.delivery!.accept();
        settled++;
        rx.receiver.add_credit(1);
      }, 15);
    });
    rx.receiver.add_credit(credit);
    await waitFor(() => settled >= 1_000 && sampler.samples.length >= 200, '1,000 settled and 200 samples', 60_000);
    rx.receiver.close();
    const samples = await sampler.stop();
    expect(maxHeld).toBeLessThanOrEqual(credit);
    expect(maxHeld).toBe(credit);
    expect(samples.length).toBeGreaterThanOrEqual(200);
    const inFlight = samples.map((s) => (s.exists ? s.inFlight : Number.NaN));
    const peak = Math.max(...inFlight);
    console.info(`credit ${credit}: client held at most ${maxHeld}; broker InFlightCount peak ${peak}, above the credit in ${inFlight.filter((n) => n > credit).length} of ${samples.length} samples`);
    expect(peak).toBeGreaterThanOrEqual(credit);
  });
});

describe('addresses', () => {
  it('NAME and queue://NAME are the same queue; received messages carry to: queue://NAME', async () => {
    const queue = uniqueQueue('wf-prefix');
    await send(`queue://${queue}`, [tagged('1', false), tagged('2', false)]);
    const recorded = await opened(dial());
    const bare = await receiveFrom(recorded, queue, {}, 1);
    const prefixed = await receiveFrom(recorded, `queue://${queue}`, {}, 1);
    const [a, b] = [await bare.nth(1), await prefixed.nth(1)];
    expect([a.message!.body, b.message!.body].sort()).toEqual(['1', '2']);
    expect(a.message!.to).toBe(`queue://${queue}`);
    a.delivery!.accept();
    b.delivery!.accept();
  });

  it('a comma makes a composite destination: one copy on each queue', async () => {
    const [q1, q2] = [uniqueQueue('wf-comp'), uniqueQueue('wf-comp')];
    await send(`${q1},${q2}`, [tagged('both', false)]);
    const recorded = await opened(dial());
    for (const queue of [q1, q2]) {
      const rx = await receiveFrom(recorded, queue, {}, 2);
      expect((await rx.nth(1)).message!.body).toBe('both');
      await rx.expectNothingMore(300);
      rx.got[0]!.delivery!.accept();
    }
  });

  it("distribution_mode 'copy' browses: the message stays for a normal receiver", async () => {
    const queue = uniqueQueue('wf-browse');
    await send(queue, [tagged('browse me', true)]);
    const recorded = await opened(dial());
    const browser = await receiveFrom(recorded, queue, { source: { address: queue, distribution_mode: 'copy' } } as Partial<ReceiverOptions>, 1);
    expect((await browser.nth(1)).message!.body).toBe('browse me');
    expect(await queueStatsOf(broker, queue)).toMatchObject({ size: 1 });
    const rx = await receiveFrom(recorded, queue, {}, 1);
    const ctx = await rx.nth(1);
    expect(ctx.message!.body).toBe('browse me');
    ctx.delivery!.accept();
    await expectQueueSize(broker, queue, 0);
  });
});

describe('a broker stopped gracefully', () => {
  let own: BrokerHandle;
  beforeAll(async () => {
    own = await startBroker({ quiet: true });
  });
  afterAll(async () => {
    await own?.stop();
  });

  it('closes the socket without an AMQP close frame or error condition', async () => {
    const target = { ...own, caPem: own.caPem } as TestBroker;
    const recorded = await opened(dial({ target }));
    const rx = await receiveFrom(recorded, uniqueQueue('wf-stop'), {}, 1);
    const linkEvents: string[] = [];
    for (const name of ['receiver_close', 'receiver_error']) rx.receiver.on(name, () => linkEvents.push(name));
    const socket = (recorded.connection as unknown as { socket: net.Socket }).socket;
    const socketEvents: string[] = [];
    socket.on('end', () => socketEvents.push('end'));
    socket.on('close', (hadError: boolean) => socketEvents.push(hadError ? 'close with error' : 'close'));
    const stopping = own.stop();
    await waitFor(() => recorded.named('disconnected').length > 0, 'the disconnection', 30_000);
    await stopping;
    expect(recorded.events.map((e) => e.name)).toEqual(['connection_open', 'disconnected']);
    expect(recorded.named('disconnected')[0]!.error).toBeUndefined();
    expect((recorded.connection as unknown as { remote: { close?: unknown } }).remote.close).toBeUndefined();
    expect(linkEvents).toEqual([]);
    expect(socketEvents).toEqual(['end', 'close']);
  });
});
