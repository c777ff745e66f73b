// Losing the connection mid-stream and getting it back: an active/standby pair of endpoints
// (two TCP proxies in front of one broker; cutting one is what a failover looks like to the
// client), a broker stopped and restarted under load, and an idle endpoint that goes away and
// comes back. Nothing may be lost: every outreach is processed at least once, the queue ends
// empty, and redeliveries carry the broker's raised delivery count.
//
// These tests start their own broker, so that restarting it does not disturb the shared one.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type BrokerHandle } from '../../scripts/activemq.mjs';
import { DEFAULT_PREFETCH, OutreachConsumer, type OutreachDelivery, type Outreach } from '../../src/index.js';
import { makeOutreachMessages } from '../../src/testing/index.js';
import { consumerOptions, expectQueueSize, sendAmqp, uniqueQueue, waitFor } from './support.js';
import { TcpProxy } from './tcp-proxy.js';

let broker: BrokerHandle;
const proxies: TcpProxy[] = [];
const consumers: OutreachConsumer<Outreach>[] = [];

beforeAll(async () => {
  broker = await startBroker({ quiet: true });
});

afterEach(async () => {
  await Promise.all(consumers.splice(0).map((c) => c.close({ deadlineMs: 5_000 })));
  await Promise.all(proxies.splice(0).map((p) => p.close()));
});

afterAll(async () => {
  await broker?.stop();
});

async function proxy(): Promise<TcpProxy> {
  const p = await TcpProxy.start(broker.amqpsPort);
  proxies.push(p);
  return p;
}

const url = (p: TcpProxy): string => `amqp+ssl://127.0.0.1:${p.port}`;
const label = (port: number): string => `amqps://127.0.0.1:${port}`;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** `n` distinct outreach messages as JSON, and their ids. */
function batch(n: number, seed: number): { bodies: string[]; ids: string[] } {
  const messages = [...makeOutreachMessages(n, { seed })];
  const ids = messages.map((m) => m.outreachId);
  expect(new Set(ids).size).toBe(n);
  return { bodies: messages.map((m) => JSON.stringify(m)), ids };
}

/** What a consumer did, in order, and what its handler saw. */
function observe(consumer: OutreachConsumer<Outreach>) {
  const timeline: { event: string; endpoint: string }[] = [];
  const errors: { code: string; source: string; retryable: boolean }[] = [];
  consumer.on('connected', (info) => timeline.push({ event: 'connected', endpoint: info.endpoint }));
  consumer.on('disconnected', (info) => timeline.push({ event: 'disconnected', endpoint: info.endpoint }));
  consumer.on('reconnecting', (info) => timeline.push({ event: 'reconnecting', endpoint: info.endpoint }));
  const errorMessages: string[] = [];
  consumer.on('error', (error, source) => {
    errors.push({ code: error.code, source, retryable: error.retryable });
    errorMessages.push(error.message);
  });
  /** Every delivery the handler got, per outreachId: its delivery counts, in order. */
  const seen = new Map<string, number[]>();
  let handled = 0;
  const record = (delivery: OutreachDelivery): number => {
    const id = delivery.outreach.outreachId;
    const counts = seen.get(id) ?? [];
    counts.push(delivery.deliveryCount);
    seen.set(id, counts);
    return ++handled;
  };
  return {
    timeline,
    errorMessages,
    errors,
    seen,
    record,
    get handled(): number {
      return handled;
    },
    events: (name: string) => timeline.filter((t) => t.event === name),
  };
}

/** waitFor, but gives up at once if the consumer failed (it would never get there); `what` is read on failure. */
async function waitWhileAlive(consumer: OutreachConsumer<Outreach>, check: () => boolean, what: () => string, timeoutMs: number): Promise<void> {
  try {
    await waitFor(
      () => {
        if (consumer.state === 'failed' || consumer.state === 'closed') throw new Error(`the consumer is ${consumer.state}`);
        return check();
      },
      'it',
      timeoutMs,
    );
  } catch (error) {
    throw new Error(`while waiting for ${what()}: ${(error as Error).message}`, { cause: error });
  }
}

/** Every id that was handled more than once came back with a raised delivery count. */
function expectRedeliveriesCounted(seen: Map<string, number[]>): void {
  for (const [id, counts] of seen) {
    for (const later of counts.slice(1)) expect(later, `redelivery of ${id}: counts ${counts.join(',')}`).toBeGreaterThanOrEqual(1);
  }
}

describe('active/standby endpoints', () => {
  it('moves to the standby when the active endpoint drops, and loses nothing', async () => {
    const [a, b] = [await proxy(), await proxy()];
    const queue = uniqueQueue('failover');
    const { bodies, ids } = batch(300, 101);
    await sendAmqp(broker, queue, bodies);

    const consumer = new OutreachConsumer(consumerOptions(broker, queue, { url: [url(a), url(b)] }));
    consumers.push(consumer);
    const o = observe(consumer);
    let cut: { id: string; endpoint: string | undefined } | undefined;
    await consumer.start(async (delivery) => {
      const n = o.record(delivery);
      if (n === 100) {
        // Cut while this delivery is in hand: its accept cannot reach the broker.
        cut = { id: delivery.outreach.outreachId, endpoint: consumer.health().endpoint };
        await a.cut();
      }
      await sleep(2 + (n % 4));
    });

    await waitWhileAlive(consumer, () => o.seen.size === ids.length, () => `all ${ids.length} outreach ids to be processed (have ${o.seen.size})`, 120_000);
    await expectQueueSize(broker, queue, 0);

    expect([...o.seen.keys()].sort()).toEqual([...ids].sort());
    expect(cut?.endpoint).toBe(label(a.port));
    // The lost link was reported, and the consumer went straight to the other endpoint.
    const afterCut = o.timeline.slice(o.timeline.findIndex((t) => t.event === 'disconnected'));
    expect(afterCut.slice(0, 3)).toEqual([
      { event: 'disconnected', endpoint: label(a.port) },
      { event: 'reconnecting', endpoint: label(b.port) },
      { event: 'connected', endpoint: label(b.port) },
    ]);
    expect(o.timeline[0]).toEqual({ event: 'connected', endpoint: label(a.port) });
    expect(o.events('disconnected')).toHaveLength(1);
    const health = consumer.health();
    expect(health.reconnects).toBeGreaterThanOrEqual(1);
    expect(health.endpoint).toBe(label(b.port));
    expect(health.connected).toBe(true);
    expect([a.accepted, b.accepted]).toEqual([1, 1]);
    // The delivery in hand at the cut came back, and the broker counted the loss.
    const cutCounts = o.seen.get(cut!.id)!;
    expect(cutCounts.length).toBeGreaterThanOrEqual(2);
    expect(cutCounts[0]).toBe(0);
    expect(cutCounts.at(-1)).toBeGreaterThanOrEqual(1);
    expectRedeliveriesCounted(o.seen);
    // Duplicates only from the window held when the connection went: at most prefetch (the default).
    const duplicates = o.handled - ids.length;
    expect(duplicates).toBeGreaterThanOrEqual(1);
    expect(duplicates).toBeLessThanOrEqual(DEFAULT_PREFETCH * o.events('disconnected').length);
    // Every connection error on the way was retryable; the consumer is still open.
    expect(o.errors.filter((e) => e.source === 'connection' && !e.retryable)).toEqual([]);
    expect(consumer.state).toBe('open');
    const report = await consumer.close();
    expect(report.lost).toBeGreaterThanOrEqual(1);
    expect(report.accepted).toBeGreaterThanOrEqual(ids.length);
  });
});

describe('active/standby endpoints at start-up', () => {
  it('goes on to the second endpoint when the first refuses connections', async () => {
    const [a, b] = [await proxy(), await proxy()];
    await a.pause(); // the standby of the pair: nothing listens
    const queue = uniqueQueue('standby-first');
    const consumer = new OutreachConsumer(consumerOptions(broker, queue, { url: `failover:(${url(a)},${url(b)})`, reconnect: { maxAttempts: 2, initialDelayMs: 10 } }));
    consumers.push(consumer);
    const o = observe(consumer);
    await consumer.start(() => undefined);
    expect(consumer.health()).toMatchObject({ state: 'open', connected: true, endpoint: label(b.port), reconnects: 0 });
    expect(o.timeline).toEqual([
      { event: 'reconnecting', endpoint: label(b.port) },
      { event: 'connected', endpoint: label(b.port) },
    ]);
    expect(o.errors).toEqual([{ code: 'CONNECTION_FAILED', source: 'connection', retryable: true }]);
    expect([a.accepted, b.accepted]).toEqual([0, 1]);
  });
});

describe('a half-open connection (the network goes silent, nothing is closed)', () => {
  it('is found by the idle timeout; the consumer moves on and the held messages come back', async () => {
    const [a, b] = [await proxy(), await proxy()];
    const queue = uniqueQueue('halfopen');
    const { bodies, ids } = batch(60, 404);
    await sendAmqp(broker, queue, bodies);

    const consumer = new OutreachConsumer(consumerOptions(broker, queue, { url: [url(a), url(b)], idleTimeoutMs: 1_000, prefetch: 10 }));
    consumers.push(consumer);
    const o = observe(consumer);
    let frozenId: string | undefined;
    await consumer.start(async (delivery) => {
      const n = o.record(delivery);
      if (n === 20) {
        frozenId = delivery.outreach.outreachId;
        a.freeze();
      }
      await sleep(2);
    });

    // The link's watchdog notices the silence (nothing for idleTimeoutMs), gives up on A, moves to B.
    await waitWhileAlive(consumer, () => o.events('connected').length === 2, () => 'the consumer to give up on the silent endpoint', 60_000);
    expect(o.timeline.slice(0, 4)).toEqual([
      { event: 'connected', endpoint: label(a.port) },
      { event: 'disconnected', endpoint: label(a.port) },
      { event: 'reconnecting', endpoint: label(b.port) },
      { event: 'connected', endpoint: label(b.port) },
    ]);
    // The broker still believes in the old connection and keeps what it dispatched there until its
    // own inactivity monitor drops it; then those messages come back, with a raised count.
    await waitWhileAlive(consumer, () => o.seen.size === ids.length, () => `all ${ids.length} outreach ids to be processed (have ${o.seen.size})`, 150_000);
    await expectQueueSize(broker, queue, 0, 60_000);
    expect([...o.seen.keys()].sort()).toEqual([...ids].sort());
    expect(o.seen.get(frozenId!)!.length).toBeGreaterThanOrEqual(2);
    expectRedeliveriesCounted(o.seen);
    expect(o.errors.filter((e) => e.source === 'connection').every((e) => e.code === 'CONNECTION_FAILED' && e.retryable)).toBe(true);
  });
});

describe('stalls on the real broker', () => {
  it("a quiet connection lives on ActiveMQ's heartbeats alone; a frozen one shows in health, then is given up at idleTimeoutMs", async () => {
    const p = await proxy();
    const queue = uniqueQueue('stall');
    const consumer = new OutreachConsumer(consumerOptions(broker, queue, { url: url(p), idleTimeoutMs: 2_000, reconnect: { initialDelayMs: 60_000, maxDelayMs: 60_000 } }));
    consumers.push(consumer);
    const o = observe(consumer);
    await consumer.start(async () => undefined);
    // Four idle timeouts with nothing to send: ActiveMQ's empty frames keep it. We offer half of
    // idleTimeoutMs (1 s), and ActiveMQ's gaps reach what was offered (its heartbeat period counts
    // from when it notices its own last frame): at most ~1 s, under health's 1.5 s. Offering the
    // whole 2 s let a gap reach 2 s, shown as a stall for ~0.5 s (measured: 4 of 80 samples at 100 ms).
    let stalledSamples = 0;
    let samples = 0;
    const quietSampler = setInterval(() => {
      // Read after this turn's I/O (timers run first): on a busy machine the frames that came
      // while this process waited for CPU are read before health is.
      setImmediate(() => {
        samples++;
        if (consumer.health().stalledSince !== undefined) stalledSamples++;
      });
    }, 20);
    await sleep(8_000);
    clearInterval(quietSampler);
    console.log(`quiet link: ${stalledSamples} of ${samples} health samples (every 20 ms) showed a stall`);
    // A short one may be a busy machine's delay beyond the grace; a gap of the whole offer is ~25 samples.
    expect(stalledSamples).toBeLessThan(10);
    expect(o.events('disconnected')).toHaveLength(0);

    const frozenAt = Date.now();
    p.freeze();
    let stalledSince: Date | undefined;
    const sampling = setInterval(() => {
      const h = consumer.health();
      if (h.connected && h.stalledSince !== undefined) stalledSince ??= h.stalledSince;
    }, 20);
    try {
      await waitWhileAlive(consumer, () => o.events('disconnected').length === 1, () => 'the consumer to give up on the frozen connection', 30_000);
    } finally {
      clearInterval(sampling);
    }
    console.log(`frozen connection given up after ${Date.now() - frozenAt} ms (idleTimeoutMs 2000); health said stalled since ${stalledSince?.toISOString()}`);
    expect(stalledSince).toBeDefined();
    expect(o.errors.at(-1)).toEqual({ code: 'CONNECTION_FAILED', source: 'connection', retryable: true });
    expect(o.errorMessages.at(-1)).toMatch(/beyond idleTimeoutMs \(2000 ms\): the connection stalled/);
  });
});

describe('a broker that stops and starts again mid-stream', () => {
  it('reconnects by itself with back-off and processes every persistent message; duplicates stay within the window, counts start again', async () => {
    const queue = uniqueQueue('restart');
    const { bodies, ids } = batch(300, 202);
    await sendAmqp(broker, queue, bodies);

    const prefetch = 20;
    const consumer = new OutreachConsumer(consumerOptions(broker, queue, { prefetch, reconnect: { initialDelayMs: 100, maxDelayMs: 1_000 } }));
    consumers.push(consumer);
    const o = observe(consumer);
    let restarting: Promise<void> | undefined;
    let heldId: string | undefined;
    await consumer.start(
      async (delivery) => {
        const n = o.record(delivery);
        if (n === 100) {
          // Keep this one in hand until the connection is gone, so that its acceptance is lost
          // for certain and the broker must deliver it again after the restart. The other slot
          // goes on with what is buffered while the broker shuts down.
          heldId = delivery.outreach.outreachId;
          restarting = broker.restart();
          await waitFor(() => o.events('disconnected').length > 0, 'the connection to go with the broker', 60_000);
        }
        await sleep(2 + (n % 4));
      },
      { concurrency: 2 },
    );

    await waitFor(() => restarting !== undefined, 'the restart to begin', 60_000);
    await restarting;
    await waitWhileAlive(consumer, () => o.seen.size === ids.length, () => `all ${ids.length} outreach ids to be processed (have ${o.seen.size})`, 150_000);
    await expectQueueSize(broker, queue, 0, 60_000);

    expect([...o.seen.keys()].sort()).toEqual([...ids].sort());
    const duplicates = o.handled - ids.length;
    const disconnections = o.events('disconnected').length;
    const again = [...o.seen].filter(([, counts]) => counts.length > 1).map(([, counts]) => counts.join('→'));
    console.info(
      `broker restart: ${o.handled} deliveries handled for ${ids.length} ids (${duplicates} duplicates, delivery counts ${again.join(' ')}), ${disconnections} disconnection(s), ${o.events('reconnecting').length} reconnect attempts`,
    );
    // Duplicates come only from the window the consumer held when the connection went: at most
    // prefetch per lost connection, and no message more than once per lost connection.
    expect(disconnections).toBeGreaterThanOrEqual(1);
    expect(duplicates).toBeGreaterThanOrEqual(1); // the one held across the restart, at least
    expect(duplicates).toBeLessThanOrEqual(prefetch * disconnections);
    expect(Math.max(...[...o.seen.values()].map((counts) => counts.length))).toBeLessThanOrEqual(1 + disconnections);
    // Its acceptance was reported lost, and it came back after the restart.
    expect(o.errors).toContainEqual({ code: 'DELIVERY_LOST', source: 'settle', retryable: true });
    // A broker restart resets delivery_count: the message held across it came back with 0 (after
    // a dropped connection it comes back with 1, see the failover test above), and so did every
    // other redelivery.
    expect(o.seen.get(heldId!)).toEqual([0, 0]);
    for (const [id, counts] of o.seen) expect(counts.every((count) => count === 0), `delivery counts of ${id}: ${counts.join(',')}`).toBe(true);
    // Lost, then retried (the broker was down for a while: several attempts), then back.
    const first = o.timeline.findIndex((t) => t.event === 'disconnected');
    expect(first).toBeGreaterThan(0);
    expect(o.timeline[first + 1]?.event).toBe('reconnecting');
    expect(o.timeline.at(-1)?.event).toBe('connected');
    expect(o.events('reconnecting').length).toBeGreaterThanOrEqual(2);
    expect(o.errors.some((e) => e.source === 'connection' && e.code === 'CONNECTION_FAILED' && e.retryable)).toBe(true);
    expect(o.errors.filter((e) => e.source === 'connection' && !e.retryable)).toEqual([]);
    expect(consumer.health().reconnects).toBeGreaterThanOrEqual(1);
    expect(consumer.state).toBe('open');
  });
});

describe('an idle TLS endpoint that goes away and comes back', () => {
  it('keeps trying, reconnects on the same endpoint, and receives what is sent afterwards', async () => {
    const p = await proxy();
    const queue = uniqueQueue('idle');
    const consumer = new OutreachConsumer(consumerOptions(broker, queue, { url: url(p), reconnect: { initialDelayMs: 50, maxDelayMs: 500 } }));
    consumers.push(consumer);
    const o = observe(consumer);
    const got: { id: string; count: number }[] = [];
    await consumer.start((delivery) => {
      o.record(delivery);
      got.push({ id: delivery.outreach.outreachId, count: delivery.deliveryCount });
    });
    expect(consumer.health().endpoint).toBe(label(p.port));

    await p.cut();
    // Nothing listens now: attempts are refused, and the consumer keeps trying.
    await waitWhileAlive(consumer, () => o.events('reconnecting').length >= 3, () => 'three reconnect attempts', 30_000);
    expect(consumer.state).toBe('reconnecting');
    expect(consumer.health().connected).toBe(false);
    expect(o.errors.filter((e) => e.source === 'connection').every((e) => e.code === 'CONNECTION_FAILED' && e.retryable)).toBe(true);

    await p.resume();
    await waitWhileAlive(consumer, () => o.events('connected').length === 2, () => 'the consumer to reconnect', 30_000);
    expect(consumer.health()).toMatchObject({ state: 'open', connected: true, endpoint: label(p.port), reconnects: 1 });
    expect(o.events('disconnected')).toEqual([{ event: 'disconnected', endpoint: label(p.port) }]);

    const { bodies, ids } = batch(1, 303);
    await sendAmqp(broker, queue, bodies);
    await waitFor(() => got.length === 1, 'the message sent after the reconnect');
    expect(got).toEqual([{ id: ids[0], count: 0 }]);
    await expectQueueSize(broker, queue, 0);
  });
});
