// One suite of consumer behaviours, run against the real ActiveMQ broker and against the dev queue
// (civitas-outreach/testing): a behaviour that differs fails here, on one side. The differences we
// know of are tested at the end and listed in docs/dev-queue.md.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import rhea from 'rhea';
import type { Connection, ConnectionOptions, EventContext, Receiver, ReceiverOptions } from 'rhea';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { atLeastOnce, isOutreachError, manual, OutreachConsumer, type OutreachConsumerOptions, type Outreach, type OutreachDelivery } from '../../src/index.js';
import { makeOutreachMessages, startDevQueue, type DevQueue } from '../../src/testing/index.js';
import { dlqSize, consumerOptions, queueStatsOf, sendAmqp, sharedBroker, uniqueQueue, waitFor, type TestBroker } from './support.js';
import { TcpProxy } from './tcp-proxy.js';
import { selfSignedCert } from './self-signed.js';

/** What the suite needs of a broker, whichever it is. */
interface Target {
  readonly name: 'activemq' | 'dev-queue';
  /** Address, user and trusted certificate, in the shape the shared helpers take. */
  readonly broker: TestBroker;
  /** Messages not yet acknowledged (ActiveMQ: QueueSize over JMX). */
  depth(queue: string): Promise<number>;
  /** Sent to a consumer and not settled (ActiveMQ: InFlightCount). */
  inFlight(queue: string): Promise<number>;
  /** Dead letters so far: ActiveMQ's shared ActiveMQ.DLQ, the dev queue's store for `queue`. */
  deadLetters(queue: string): Promise<number>;
}

const activemq = sharedBroker();
let devQueue: DevQueue;

const targets: Target[] = [
  {
    name: 'activemq',
    broker: activemq,
    depth: async (queue) => (await activemq.queueStats(queue))?.size ?? 0,
    inFlight: async (queue) => (await queueStatsOf(activemq, queue)).inFlight,
    deadLetters: () => dlqSize(activemq),
  },
  {
    name: 'dev-queue',
    get broker(): TestBroker {
      return { ...activemq, amqpsPort: devQueue.port, username: devQueue.username, password: devQueue.password, caPem: devCert.cert };
    },
    depth: async (queue) => devQueue.depth(queue),
    inFlight: async (queue) => devQueue.stats(queue).inFlight,
    deadLetters: async (queue) => devQueue.deadLetters(queue).length,
  },
];

let devCert: { key: string; cert: string };
const proxies: TcpProxy[] = [];

beforeAll(async () => {
  devCert = await selfSignedCert();
  devQueue = await startDevQueue({ username: 'conformance', password: randomUUID(), queues: {}, tls: devCert });
});

afterAll(async () => {
  await Promise.all(proxies.splice(0).map((p) => p.close()));
  await devQueue?.close();
});

const bodies = (n: number, seed: number): string[] => [...makeOutreachMessages(n, { seed })].map((m) => JSON.stringify(m));

async function expectDepth(target: Target, queue: string, expected: number): Promise<void> {
  let last = -1;
  await waitFor(async () => (last = await target.depth(queue)) === expected, `${target.name}: ${queue} to hold ${expected} (last ${last})`, 20_000);
}

/** A plain rhea connection (not the consumer's code) to a target, for the wire-level checks. */
async function dial(target: Target, containerId = `conf-${randomUUID()}`): Promise<Connection> {
  const container = rhea.create_container({ id: containerId });
  container.on('error', () => undefined);
  const connection = container.connect({
    host: '127.0.0.1',
    port: target.broker.amqpsPort,
    transport: 'tls',
    ca: target.broker.caPem,
    servername: 'localhost',
    username: target.broker.username,
    password: target.broker.password,
    reconnect: false,
  } as ConnectionOptions);
  await new Promise<void>((resolve, reject) => {
    connection.once('connection_open', () => resolve());
    connection.once('disconnected', (ctx: EventContext) => reject(new Error(`not connected: ${String(ctx.error)}`)));
  });
  return connection;
}

async function receiver(connection: Connection, options: Partial<ReceiverOptions>): Promise<{ receiver: Receiver; got: EventContext[]; drained: number[] }> {
  const r = connection.open_receiver({ autoaccept: false, credit_window: 0, ...options } as ReceiverOptions);
  const got: EventContext[] = [];
  const drained: number[] = [];
  r.on('message', (ctx: EventContext) => got.push(ctx));
  r.on('receiver_drained', () => drained.push(got.length));
  r.on('receiver_error', () => undefined);
  await new Promise<void>((resolve) => r.once('receiver_open', () => resolve()));
  return { receiver: r, got, drained };
}

describe.each(targets)('conformance: $name', (target) => {
  const options = (queue: string, extra: Partial<OutreachConsumerOptions<Outreach>> = {}): OutreachConsumerOptions<Outreach> =>
    consumerOptions(target.broker, queue, { servername: 'localhost', ...extra });

  it('decodes and accepts every message: the queue is empty, each handled once, drained fires', async () => {
    const queue = uniqueQueue('conf-drain');
    await sendAmqp(target.broker, queue, bodies(40, 11));
    const consumer = new OutreachConsumer(options(queue, { prefetch: 10 }));
    const seen = new Set<string>();
    let handled = 0;
    const drained = new Promise<void>((resolve) => consumer.once('drained', () => resolve()));
    await consumer.start(async (d) => {
      handled++;
      seen.add(d.outreach.outreachId);
    }, { concurrency: 4 });
    await drained;
    const report = await consumer.close();
    expect(handled).toBe(40);
    expect(seen.size).toBe(40);
    expect(report.accepted).toBe(40);
    await expectDepth(target, queue, 0);
  });

  it('retries with a rising deliveryCount, then dead-letters through the hook and rejects', async () => {
    const queue = uniqueQueue('conf-retry');
    const before = await target.deadLetters(queue);
    await sendAmqp(target.broker, queue, bodies(1, 21));
    const counts: number[] = [];
    const deadLettered: number[] = [];
    const consumer = new OutreachConsumer(
      options(queue, { outage: false, strategy: atLeastOnce({ maxAttempts: 3, retryDelayMs: 0, onDeadLetter: (d) => void deadLettered.push(d.deliveryCount) }) }),
    );
    consumer.on('error', () => undefined);
    await consumer.start((d) => {
      counts.push(d.deliveryCount);
      throw new Error('always fails');
    });
    await waitFor(() => deadLettered.length === 1, 'the dead-letter hook');
    await waitFor(async () => (await target.deadLetters(queue)) === before + 1, 'one more dead letter');
    const report = await consumer.close();
    expect(counts).toEqual([0, 1, 2]);
    expect(report).toMatchObject({ retried: 2, rejected: 1, accepted: 0 });
    await expectDepth(target, queue, 0);
  });

  it('rejects an undecodable message: dead-lettered, never handed to the handler', async () => {
    const queue = uniqueQueue('conf-invalid');
    const before = await target.deadLetters(queue);
    await sendAmqp(target.broker, queue, ['{"not": "an outreach"}', ...bodies(2, 31)]);
    const consumer = new OutreachConsumer(options(queue));
    consumer.on('error', () => undefined);
    let handled = 0;
    const drained = new Promise<void>((resolve) => consumer.once('drained', () => resolve()));
    await consumer.start(() => void handled++);
    await drained;
    const report = await consumer.close();
    expect(handled).toBe(2);
    expect(report).toMatchObject({ accepted: 2, rejected: 1, invalid: 1 });
    await waitFor(async () => (await target.deadLetters(queue)) === before + 1, 'the invalid message dead-lettered');
    await expectDepth(target, queue, 0);
  });

  it('release hands a message back with its count unchanged; it comes again', async () => {
    const queue = uniqueQueue('conf-release');
    await sendAmqp(target.broker, queue, bodies(1, 41));
    const counts: number[] = [];
    const consumer = new OutreachConsumer(options(queue, { strategy: manual() }));
    await consumer.start((d) => {
      counts.push(d.deliveryCount);
      if (counts.length < 3) d.release();
      else d.accept();
    });
    await waitFor(() => counts.length === 3, 'three deliveries');
    await consumer.close();
    expect(counts).toEqual([0, 0, 0]);
    await expectDepth(target, queue, 0);
  });

  it('a lost connection redelivers the unsettled deliveries with the count + 1; settling the old ones fails', async () => {
    const queue = uniqueQueue('conf-kill');
    await sendAmqp(target.broker, queue, bodies(3, 51));
    const proxy = await TcpProxy.start(target.broker.amqpsPort);
    proxies.push(proxy);
    const held: OutreachDelivery[] = [];
    const consumer = new OutreachConsumer({ ...options(queue, { strategy: manual(), prefetch: 3 }), url: `amqp+ssl://127.0.0.1:${proxy.port}` });
    const errors: string[] = [];
    consumer.on('error', (e) => errors.push(e.code));
    await consumer.start((d) => void held.push(d));
    await waitFor(() => held.length === 3, 'three deliveries held unsettled');
    const first = held.splice(0);
    let disconnected = 0;
    consumer.on('disconnected', () => disconnected++);
    await proxy.cut(); // drops the connections and stops listening
    await waitFor(() => disconnected > 0, 'the consumer to notice the cut');
    await proxy.resume();
    // Settling a delivery of the lost connection cannot reach the broker (and frees its slot).
    expect(first.map((d) => d.accept())).toEqual([false, false, false]);
    expect(errors).toContain('DELIVERY_LOST');
    await waitFor(() => held.length === 3, 'three redeliveries after the reconnect');
    expect(first.map((d) => d.deliveryCount)).toEqual([0, 0, 0]);
    expect(held.map((d) => d.deliveryCount)).toEqual([1, 1, 1]);
    expect(held.map((d) => d.outreach.outreachId).sort()).toEqual(first.map((d) => d.outreach.outreachId).sort());
    for (const d of held) d.accept();
    await consumer.close();
    await expectDepth(target, queue, 0);
  });

  it('close() with work in hand: finished work accepted, the rest handed back uncounted to the next consumer', async () => {
    const queue = uniqueQueue('conf-close');
    await sendAmqp(target.broker, queue, bodies(20, 111));
    const first = new OutreachConsumer(options(queue, { prefetch: 5 }));
    const firstSeen: string[] = [];
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    await first.start(async (d) => {
      firstSeen.push(d.outreach.outreachId);
      if (firstSeen.length >= 3) await gate; // the third handler is still running when close() begins
    });
    await waitFor(() => firstSeen.length === 3, 'three handled or in hand');
    const closing = first.close({ deadlineMs: 10_000 });
    release();
    const report = await closing;
    expect(report.accepted).toBe(3);
    await expectDepth(target, queue, 17);
    const second = new OutreachConsumer(options(queue));
    const counts: number[] = [];
    const secondSeen: string[] = [];
    const drained = new Promise<void>((resolve) => second.once('drained', () => resolve()));
    await second.start((d) => {
      counts.push(d.deliveryCount);
      secondSeen.push(d.outreach.outreachId);
    });
    await drained;
    await second.close();
    expect(secondSeen.length).toBe(17);
    expect(new Set([...firstSeen, ...secondSeen]).size).toBe(20);
    expect(counts.every((c) => c === 0)).toBe(true);
  });

  it('never holds more than prefetch unsettled, and loses nothing', async () => {
    const queue = uniqueQueue('conf-prefetch');
    await sendAmqp(target.broker, queue, bodies(60, 61));
    const consumer = new OutreachConsumer(options(queue, { prefetch: 5 }));
    let maxHeld = 0;
    let handled = 0;
    consumer.on('settled', () => (maxHeld = Math.max(maxHeld, consumer.health().held)));
    const drained = new Promise<void>((resolve) => consumer.once('drained', () => resolve()));
    await consumer.start(async () => {
      maxHeld = Math.max(maxHeld, consumer.health().held);
      await sleep(2);
      handled++;
    }, { concurrency: 5 });
    await drained;
    await consumer.close();
    expect(handled).toBe(60);
    expect(maxHeld).toBeGreaterThan(1);
    expect(maxHeld).toBeLessThanOrEqual(5);
    await expectDepth(target, queue, 0);
  });

  it('drained: fires on an empty queue, and again once new messages are done', async () => {
    const queue = uniqueQueue('conf-dry');
    const consumer = new OutreachConsumer(options(queue));
    let handled = 0;
    const atDrained: number[] = [];
    consumer.on('drained', () => atDrained.push(handled));
    await consumer.start(() => void handled++);
    await waitFor(() => atDrained.length === 1, 'drained on the empty queue');
    await sendAmqp(target.broker, queue, bodies(5, 71));
    await waitFor(() => atDrained.at(-1) === 5, 'drained after the five');
    await consumer.close();
    expect(atDrained[0]).toBe(0);
  });

  it('pause() stops the flow and hands back uncounted; resume() takes every message once', async () => {
    const queue = uniqueQueue('conf-pause');
    await sendAmqp(target.broker, queue, bodies(30, 81));
    const consumer = new OutreachConsumer(options(queue, { prefetch: 5 }));
    const seen: { id: string; count: number }[] = [];
    await consumer.start((d) => {
      seen.push({ id: d.outreach.outreachId, count: d.deliveryCount });
      if (seen.length === 5) consumer.pause();
    });
    await waitFor(() => consumer.health().held === 0 && !consumer.health().connected, 'paused with nothing held and the link closed');
    const whilePaused = seen.length;
    await sleep(300);
    expect(seen.length).toBe(whilePaused);
    expect(await target.inFlight(queue)).toBe(0);
    expect(await target.depth(queue)).toBe(30 - whilePaused);
    const drained = new Promise<void>((resolve) => consumer.once('drained', () => resolve()));
    consumer.resume();
    await drained;
    await consumer.close();
    expect(new Set(seen.map((s) => s.id)).size).toBe(30);
    expect(seen.length).toBe(30);
    expect(seen.every((s) => s.count === 0)).toBe(true);
    await expectDepth(target, queue, 0);
  });

  it('a wrong password fails start() with AUTHENTICATION_FAILED, not retried', async () => {
    const consumer = new OutreachConsumer(options(uniqueQueue('conf-auth'), { password: 'not-the-password' }));
    consumer.on('error', () => undefined);
    const error: unknown = await consumer.start(() => undefined).then(() => undefined, (e: unknown) => e);
    expect(isOutreachError(error) && error.code).toBe('AUTHENTICATION_FAILED');
    expect(consumer.health()).toMatchObject({ state: 'failed', reconnects: 0 });
  });

  it("browse (distribution-mode 'copy') sees the messages and consumes none", async () => {
    const queue = uniqueQueue('conf-browse');
    await sendAmqp(target.broker, queue, bodies(3, 91));
    await expectDepth(target, queue, 3);
    const connection = await dial(target);
    const browser = await receiver(connection, { source: { address: queue, distribution_mode: 'copy' } } as Partial<ReceiverOptions>);
    browser.receiver.add_credit(10);
    await waitFor(() => browser.got.length === 3, 'three browsed');
    for (const ctx of browser.got) ctx.delivery!.accept();
    await sleep(200);
    connection.close();
    await expectDepth(target, queue, 3);
    const consumer = new OutreachConsumer(options(queue));
    let handled = 0;
    const drained = new Promise<void>((resolve) => consumer.once('drained', () => resolve()));
    await consumer.start(() => void handled++);
    await drained;
    await consumer.close();
    expect(handled).toBe(3);
  });

  it('a released message stays with its link while the link has no credit; other receivers get it only after a detach (ActiveMQ quirk, mimicked)', async () => {
    const queue = uniqueQueue('conf-bound');
    await sendAmqp(target.broker, queue, bodies(1, 101));
    const connection = await dial(target);
    const first = await receiver(connection, { source: { address: queue } });
    first.receiver.add_credit(1);
    await waitFor(() => first.got.length === 1, 'the message on the first link');
    first.got[0]!.delivery!.release();
    const second = await receiver(connection, { source: { address: queue } });
    second.receiver.add_credit(1);
    await sleep(500);
    expect(second.got.length).toBe(0);
    first.receiver.close();
    await waitFor(() => second.got.length === 1, 'the message on the second link after the detach');
    expect(second.got[0]!.message!.delivery_count ?? 0).toBe(0);
    second.got[0]!.delivery!.accept();
    await sleep(100);
    connection.close();
    await expectDepth(target, queue, 0);
  });

  // ---- the same on the wire, with plain rhea clients ----

  it('modified{delivery_failed}: the count rises on the same link (0, 1, 2); a detach rolls it back (the next link sees 0)', async () => {
    const queue = uniqueQueue('conf-modified');
    await sendAmqp(target.broker, queue, bodies(1, 121));
    const connection = await dial(target);
    const first = await receiver(connection, { source: { address: queue } });
    first.receiver.add_credit(3);
    for (let i = 1; i <= 3; i++) {
      await waitFor(() => first.got.length === i, `delivery ${i}`);
      if (i < 3) first.got[i - 1]!.delivery!.modified({ delivery_failed: true });
    }
    expect(first.got.map((ctx) => ctx.message!.delivery_count ?? 0)).toEqual([0, 1, 2]);
    first.receiver.close();
    const second = await receiver(connection, { source: { address: queue } });
    second.receiver.add_credit(1);
    await waitFor(() => second.got.length === 1, 'the message on a new link');
    expect(second.got[0]!.message!.delivery_count ?? 0).toBe(0);
    second.got[0]!.delivery!.accept();
    await sleep(100);
    connection.close();
    await expectDepth(target, queue, 0);
  });

  it('a drain is answered after the messages when credit is left over, and not at all when they use it up', async () => {
    const left = uniqueQueue('conf-drain-left');
    const used = uniqueQueue('conf-drain-used');
    await sendAmqp(target.broker, left, bodies(2, 131));
    await sendAmqp(target.broker, used, bodies(5, 132));
    const connection = await dial(target);
    const a = await receiver(connection, { source: { address: left } });
    a.receiver.add_credit(10);
    a.receiver.drain_credit();
    await waitFor(() => a.drained.length === 1, 'the drain answered');
    expect(a.drained).toEqual([2]);
    const b = await receiver(connection, { source: { address: used } });
    b.receiver.add_credit(3);
    b.receiver.drain_credit();
    await waitFor(() => b.got.length === 3, 'three messages');
    await sleep(1_000);
    expect(b.drained).toEqual([]);
    connection.close();
  });

  it('a second connection with a container id still connected is refused with amqp:invalid-field', async () => {
    const id = `conf-same-${randomUUID()}`;
    const first = await dial(target, id);
    const second = await dial(target, id);
    const error = await new Promise<unknown>((resolve) => {
      if (second.error !== undefined) resolve(second.error);
      second.once('connection_error', (ctx: EventContext) => resolve(ctx.connection.error));
    });
    expect(error).toMatchObject({ condition: 'amqp:invalid-field' });
    first.close();
  });

  it('a rejected non-persistent message is dropped, not dead-lettered', async () => {
    const queue = uniqueQueue('conf-transient');
    const before = await target.deadLetters(queue);
    await sendAmqp(target.broker, queue, bodies(1, 141), { durable: false });
    const connection = await dial(target);
    const rx = await receiver(connection, { source: { address: queue } });
    rx.receiver.add_credit(1);
    await waitFor(() => rx.got.length === 1, 'the message');
    rx.got[0]!.delivery!.reject({ condition: 'amqp:internal-error', description: 'test' });
    await expectDepth(target, queue, 0);
    await sleep(500);
    expect(await target.deadLetters(queue)).toBe(before);
    connection.close();
  });
});

// ---- known differences (docs/dev-queue.md): each asserted on both sides ----------------------

describe('known differences', () => {
  it('the open frame names the broker: ActiveMQ (its broker name as container id) vs the dev queue', async () => {
    const seen: Record<string, { container: unknown; product: unknown; idle: unknown; frame: unknown }> = {};
    for (const target of targets) {
      const connection = await dial(target);
      const open = (connection as unknown as { remote: { open: { container_id: unknown; idle_time_out: unknown; max_frame_size: unknown; properties: Record<string, unknown> } } }).remote.open;
      seen[target.name] = { container: open.container_id, product: open.properties['product'], idle: open.idle_time_out, frame: open.max_frame_size };
      connection.close();
    }
    expect(seen).toEqual({
      activemq: { container: 'civitas-test', product: 'ActiveMQ', idle: 15_000, frame: 131_072 },
      'dev-queue': { container: 'civitas-dev-queue', product: 'civitas-outreach dev queue', idle: 15_000, frame: 131_072 },
    });
  });

  it('dead letters: ActiveMQ puts them on the shared queue ActiveMQ.DLQ; the dev queue keeps a store per queue, read with deadLetters()', async () => {
    const queue = uniqueQueue('conf-dlq');
    const before = { amqDlq: await dlqSize(activemq), devDlq: devQueue.depth('ActiveMQ.DLQ') };
    for (const target of targets) {
      await sendAmqp(target.broker, queue, ['not json']);
      const consumer = new OutreachConsumer(consumerOptions(target.broker, queue, { servername: 'localhost' }));
      consumer.on('error', () => undefined);
      const drained = new Promise<void>((resolve) => consumer.once('drained', () => resolve()));
      await consumer.start(() => undefined);
      await drained;
      await consumer.close();
    }
    await waitFor(async () => (await dlqSize(activemq)) === before.amqDlq + 1, 'one more message in ActiveMQ.DLQ');
    expect(devQueue.depth('ActiveMQ.DLQ')).toBe(before.devDlq);
    expect(devQueue.deadLetters(queue).map((d) => d.body)).toEqual(['not json']);
  });
});
