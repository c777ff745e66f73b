// pause() / resume() on a backlog: while paused nothing reaches user code and the broker
// dispatches nothing more; buffered deliveries are handed back uncounted; after resume() every
// message is delivered exactly once. Counted by outreach id.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { OutreachConsumer, type OutreachDelivery } from '../../src/index.js';
import { makeOutreachMessages } from '../../src/testing/index.js';
import type { QueueStats } from '../../scripts/activemq.mjs';
import { consumerOptions, expectQueueSize, sendAmqp, sharedBroker, tally, uniqueQueue, waitFor } from './support.js';

const broker = sharedBroker();

function backlog(n: number, seed: number): { ids: string[]; bodies: string[] } {
  const run = randomUUID().slice(0, 8);
  const messages = [...makeOutreachMessages(n, { seed, students: 1 })].map((m, i) => ({ ...m, outreachId: `pause-${run}-${i}` }));
  return { ids: messages.map((m) => m.outreachId), bodies: messages.map((m) => JSON.stringify(m)) };
}

/** Message ids of the deliveries the consumer handed back (released), as the 'settled' event saw them. */
function releasedIds(consumer: OutreachConsumer): Set<string> {
  const released = new Set<string>();
  consumer.on('settled', (d: OutreachDelivery<unknown>, outcome) => {
    if (outcome === 'released') released.add(String(d.messageId));
  });
  return released;
}

/** The broker's statistics for the queue, sampled for at least `ms` (each JMX query takes a while). */
async function sampleStats(queue: string, ms: number): Promise<QueueStats[]> {
  const samples: QueueStats[] = [];
  const until = Date.now() + ms;
  do samples.push((await broker.queueStats(queue))!);
  while (Date.now() < until);
  return samples;
}

describe('pause() and resume()', () => {
  it('event API: nothing reaches the handler while paused, no credit, the broker dispatches nothing more; after resume every message once, handed-back ones uncounted', async () => {
    const queue = uniqueQueue('pause');
    const total = 500;
    const { ids, bodies } = backlog(total, 9100);
    await sendAmqp(broker, queue, bodies, { durable: false });
    await expectQueueSize(broker, queue, total, 60_000);
    const prefetch = 20;
    const consumer = new OutreachConsumer(consumerOptions(broker, queue, { prefetch }));
    consumer.on('error', () => undefined);
    const released = releasedIds(consumer);
    const byMessageId = new Map<string, number[]>(); // message id -> delivery counts seen by the handler
    const handled = tally();
    let starts = 0;
    await consumer.start(
      async (delivery) => {
        starts++;
        const key = String(delivery.messageId);
        byMessageId.set(key, [...(byMessageId.get(key) ?? []), delivery.deliveryCount]);
        await sleep(20);
        handled.add(delivery.outreach.outreachId);
      },
      { concurrency: 4 },
    );
    await waitFor(() => handled.size >= 100, '100 handled');
    const startsAtPause = starts;
    const atPause = consumer.health();
    consumer.pause();
    consumer.pause(); // idempotent
    expect(consumer.health()).toMatchObject({ paused: true, buffered: 0 }); // the buffer went back at once

    // Settle: the work in hand finishes and is accepted; messages on their way come back.
    await waitFor(() => consumer.health().held === 0, 'the work in hand done', 10_000);
    await sleep(500);
    const handledAfterSettle = handled.size;
    // Nothing held and nothing wanted: the link is closed (parked), so ActiveMQ puts what it kept for
    // it back on the queue; it reopens on resume().
    expect(consumer.health()).toMatchObject({ paused: true, credit: 0, held: 0, inFlight: 0, buffered: 0, state: 'open', connected: false });

    // For a few seconds: nothing reaches the handler, and the broker dispatches nothing more.
    const samples = await sampleStats(queue, 4_000);
    expect(starts).toBe(startsAtPause);
    expect(handled.size).toBe(handledAfterSettle);
    expect(new Set(samples.map((s) => s.dispatched)).size).toBe(1);
    expect(new Set(samples.map((s) => s.inFlight)).size).toBe(1);
    const accepted = consumer.health().counts.accepted;
    expect(accepted).toBe(handledAfterSettle);
    // Every message is accounted for: accepted, or on the broker (queued or handed back).
    expect(samples.at(-1)!.size).toBe(total - accepted);
    expect(samples.at(-1)!.inFlight).toBe(0);
    console.log(
      `pause (event API): paused after ${startsAtPause} handler starts (held ${atPause.held}, buffered ${atPause.buffered}, in handler ${atPause.inFlight}); ` +
        `${handledAfterSettle} done with the work in hand; ${released.size} handed back; while paused the broker showed dispatched ` +
        `${samples[0]!.dispatched}, in-flight ${samples.map((s) => s.inFlight).join(',')}`,
    );
    expect(released.size).toBeGreaterThan(0);

    consumer.resume();
    consumer.resume(); // idempotent
    expect(consumer.health().paused).toBe(false);
    await waitFor(() => handled.size === total, 'every message after resume', 60_000);
    const report = await consumer.close();
    expect(handled.repeated()).toEqual([]);
    expect(ids.filter((id) => handled.count(id) !== 1)).toEqual([]);
    expect(report).toMatchObject({ accepted: total, retried: 0, rejected: 0, lost: 0 });
    // Handed back uncounted: each handed-back message came to the handler once, with count 0.
    expect([...released].filter((m) => byMessageId.get(m)?.join() !== '0')).toEqual([]);
    expect([...byMessageId.values()].flat().filter((c) => c !== 0)).toEqual([]);
    await expectQueueSize(broker, queue, 0);
  }, 180_000);

  it('iterator: pause() from outside while the loop runs stops the loop; resume() continues it; every message once', async () => {
    const queue = uniqueQueue('pause-iter');
    const total = 300;
    const { ids, bodies } = backlog(total, 9200);
    await sendAmqp(broker, queue, bodies, { durable: false });
    await expectQueueSize(broker, queue, total, 60_000);
    const consumer = new OutreachConsumer(consumerOptions(broker, queue, { prefetch: 20 }));
    consumer.on('error', () => undefined);
    const released = releasedIds(consumer);
    const byMessageId = new Map<string, number[]>();
    const handled = tally();
    let bodiesRun = 0;
    const loop = (async () => {
      for await (const delivery of consumer) {
        bodiesRun++;
        const key = String(delivery.messageId);
        byMessageId.set(key, [...(byMessageId.get(key) ?? []), delivery.deliveryCount]);
        await sleep(10);
        handled.add(delivery.outreach.outreachId);
      }
    })();
    await waitFor(() => handled.size >= 80, '80 handled');
    consumer.pause();
    const bodiesAtPause = bodiesRun;
    await sleep(500);
    // The one in hand finished its body; the loop waits in next(), which accepted it.
    expect(consumer.health()).toMatchObject({ paused: true, credit: 0, buffered: 0, held: 0 });
    const samples = await sampleStats(queue, 4_000);
    expect(bodiesRun).toBe(bodiesAtPause);
    expect(new Set(samples.map((s) => s.dispatched)).size).toBe(1);
    expect(samples.at(-1)!.size).toBe(total - consumer.health().counts.accepted);
    console.log(
      `pause (iterator): paused after ${bodiesAtPause} loop bodies; ${released.size} handed back; broker in-flight while paused ${samples.map((s) => s.inFlight).join(',')}`,
    );
    expect(released.size).toBeGreaterThan(0);

    consumer.resume();
    await waitFor(() => handled.size === total, 'every message after resume', 60_000);
    await consumer.close();
    await loop;
    expect(handled.repeated()).toEqual([]);
    expect(ids.filter((id) => handled.count(id) !== 1)).toEqual([]);
    expect([...released].filter((m) => byMessageId.get(m)?.join() !== '0')).toEqual([]);
    expect([...byMessageId.values()].flat().filter((c) => c !== 0)).toEqual([]);
    await expectQueueSize(broker, queue, 0);
  }, 180_000);

  // On ActiveMQ 5.18.3 an AMQP `released` message is not put back on the queue: its AMQP sender
  // keeps it for the same link and sends it again when that link has credit. This test failed
  // (in-flight stayed at the 16 handed back; the second consumer never had them) until a paused
  // consumer closed its link once nothing was held: the detach puts them back.
  it('while paused, the handed-back messages are back on the queue: broker in-flight falls to 0 and another consumer takes them', async () => {
    const queue = uniqueQueue('pause-share');
    const total = 200;
    const { ids, bodies } = backlog(total, 9300);
    await sendAmqp(broker, queue, bodies, { durable: false });
    await expectQueueSize(broker, queue, total, 60_000);
    const paused = new OutreachConsumer(consumerOptions(broker, queue, { prefetch: 20 }));
    paused.on('error', () => undefined);
    const released = releasedIds(paused);
    const first = tally();
    await paused.start(
      async (delivery) => {
        await sleep(20);
        first.add(delivery.outreach.outreachId);
      },
      { concurrency: 4 },
    );
    await waitFor(() => first.size >= 50, '50 handled');
    paused.pause();
    await waitFor(() => paused.health().held === 0, 'the work in hand done', 10_000);
    await sleep(500);
    const stats = await broker.queueStats(queue);

    // A second consumer of the same queue, while the first stays paused.
    const other = new OutreachConsumer(consumerOptions(broker, queue, { prefetch: 20 }));
    other.on('error', () => undefined);
    const second = tally();
    let dry = false;
    other.on('drained', () => (dry = true));
    await other.start((delivery) => void second.add(delivery.outreach.outreachId));
    await waitFor(() => dry, 'the second consumer to run dry', 30_000);
    await other.close();
    const missing = ids.filter((id) => first.count(id) + second.count(id) === 0);
    console.log(
      `pause (shared queue): ${released.size} handed back by the paused consumer; broker in-flight while paused ${stats?.inFlight}; ` +
        `first ${first.size} + second ${second.size} = ${first.size + second.size} of ${total}; ${missing.length} never reached the second consumer`,
    );
    paused.resume();
    await waitFor(() => first.size + second.size >= total, 'the rest after resume', 30_000);
    await paused.close();
    expect([...ids].filter((id) => first.count(id) + second.count(id) !== 1)).toEqual([]);
    expect(released.size).toBeGreaterThan(0);
    expect(stats?.inFlight).toBe(0);
    expect(missing).toEqual([]);
  }, 180_000);
});
