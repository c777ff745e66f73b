// close() during a busy stream loses nothing; deadlines, AbortSignal and `await using`.
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { OutreachConsumer, type AckStrategy, type CloseReport } from '../../src/index.js';
import { makeOutreachMessages } from '../../src/testing/index.js';
import { consumerOptions, expectQueueSize, sendAmqp, sharedBroker, uniqueQueue, waitFor } from './support.js';

const broker = sharedBroker();
const messages = (n: number, seed: number) => [...makeOutreachMessages(n, { seed })];

describe('close()', () => {
  it('during a busy stream: in-flight work finishes and is accepted, the rest is redelivered to the next consumer', async () => {
    const queue = uniqueQueue('busy');
    const all = messages(200, 21);
    await sendAmqp(broker, queue, all.map((m) => JSON.stringify(m)));
    const done = new Set<string>();
    const first = new OutreachConsumer(consumerOptions(broker, queue, { prefetch: 20 }));
    await first.start(
      async (delivery) => {
        await sleep(10);
        done.add(delivery.outreach.outreachId);
      },
      { concurrency: 4 },
    );
    await waitFor(() => done.size >= 30, 'some work done');
    const report = await first.close({ deadlineMs: 10_000 });
    expect(report.unfinished).toBe(0);
    expect(report.timedOut).toBe(false);
    expect(report.accepted).toBe(done.size); // every finished handler was settled before the link closed
    await expectQueueSize(broker, queue, all.length - done.size);

    const second = new OutreachConsumer(consumerOptions(broker, queue));
    const redone = new Set<string>();
    await second.start((delivery) => {
      redone.add(delivery.outreach.outreachId);
    });
    await waitFor(() => done.size + redone.size >= all.length, 'the rest');
    await second.close();
    expect(new Set([...done, ...redone])).toEqual(new Set(all.map((m) => m.outreachId)));
    expect([...redone].filter((id) => done.has(id))).toEqual([]); // nothing accepted was delivered again
    await expectQueueSize(broker, queue, 0);
  });

  it('leaves work still running at the deadline unsettled, so it is redelivered', async () => {
    const queue = uniqueQueue('deadline');
    const sent = messages(2, 22);
    await sendAmqp(broker, queue, sent.map((m) => JSON.stringify(m)));
    const consumer = new OutreachConsumer(consumerOptions(broker, queue));
    let stuckId: string | undefined;
    let release!: () => void;
    const stuck = new Promise<void>((r) => (release = r));
    await consumer.start(async (delivery) => {
      stuckId ??= delivery.outreach.outreachId;
      await stuck;
    });
    await waitFor(() => stuckId !== undefined, 'the handler to start');
    const report = await consumer.close({ deadlineMs: 300 });
    expect(report).toMatchObject({ unfinished: 1, timedOut: true, accepted: 0 });
    const lost: string[] = [];
    consumer.on('error', (err) => lost.push(err.code));
    release();
    await waitFor(() => lost.includes('DELIVERY_LOST'), 'the late settlement to be reported as lost');
    await expectQueueSize(broker, queue, 2);
    // And it is redelivered: the next consumer gets both, the one stuck at the deadline included,
    // with their counts unchanged (a detached link puts unsettled deliveries back as they were).
    const next = new OutreachConsumer(consumerOptions(broker, queue));
    const again = new Map<string, number>();
    await next.start((delivery) => void again.set(delivery.outreach.outreachId, delivery.deliveryCount));
    await waitFor(() => again.size === 2, 'both messages to come back');
    await next.close();
    expect(again.get(stuckId!)).toBe(0);
    expect(new Set(again.keys())).toEqual(new Set(sent.map((m) => m.outreachId)));
    expect([...again.values()]).toEqual([0, 0]);
    await expectQueueSize(broker, queue, 0);
  });

  it('an AbortSignal ends the wait at once', async () => {
    const queue = uniqueQueue('abort');
    await sendAmqp(broker, queue, messages(1, 23).map((m) => JSON.stringify(m)));
    const consumer = new OutreachConsumer(consumerOptions(broker, queue));
    let started = false;
    await consumer.start(() => {
      started = true;
      return new Promise<void>(() => undefined); // never finishes
    });
    await waitFor(() => started, 'the handler to start');
    const abort = new AbortController();
    const deadlineMs = 120_000;
    const closing = consumer.close({ deadlineMs, signal: abort.signal });
    await sleep(200); // the close is waiting for the handler now
    const abortedAt = performance.now();
    abort.abort();
    // Far from the deadline: the abort, not the deadline, ended the wait. The bound is generous
    // (a loaded machine), and the race keeps a consumer that ignores the signal from holding the
    // test for two minutes.
    const outcome = await Promise.race([closing, sleep(15_000).then(() => 'still waiting 15 s after the abort' as const)]);
    const waitedMs = performance.now() - abortedAt;
    expect(outcome).not.toBe('still waiting 15 s after the abort');
    expect(waitedMs).toBeLessThan(15_000);
    expect(outcome).toMatchObject({ timedOut: true, unfinished: 1 });
    expect(consumer.state).toBe('closed');
  });

  it('is idempotent, emits closed once, and works with await using', async () => {
    const queue = uniqueQueue('dispose');
    await sendAmqp(broker, queue, messages(3, 24).map((m) => JSON.stringify(m)));
    const reports: CloseReport[] = [];
    let handled = 0;
    {
      await using consumer = new OutreachConsumer(consumerOptions(broker, queue));
      consumer.on('closed', (r) => reports.push(r));
      await consumer.start(() => {
        handled++;
      });
      await waitFor(() => handled === 3, 'three deliveries');
      expect(consumer.health()).toMatchObject({ state: 'open', connected: true, reconnects: 0 });
      expect(consumer.health().lastDeliveryAt).toBeInstanceOf(Date);
    }
    expect(reports).toHaveLength(1);
    expect(reports[0]!.accepted).toBe(3);
    await expectQueueSize(broker, queue, 0);
  });

  it('closing before start is immediate, and start after close is refused', async () => {
    const consumer = new OutreachConsumer(consumerOptions(broker, uniqueQueue()));
    const report = await consumer.close();
    expect(report.accepted).toBe(0);
    await expect(consumer.start(() => undefined)).rejects.toMatchObject({ code: 'CLOSED' });
  });
});

describe('the iterator', () => {
  it('break hands back the delivery in hand and the buffer, counts unchanged; the next consumer gets them', async () => {
    const queue = uniqueQueue('break');
    const all = messages(30, 25);
    await sendAmqp(broker, queue, all.map((m) => JSON.stringify(m)));
    const consumer = new OutreachConsumer(consumerOptions(broker, queue, { prefetch: 10 }));
    const taken: string[] = [];
    for await (const delivery of consumer) {
      taken.push(delivery.outreach.outreachId);
      if (taken.length === 5) break;
    }
    expect(consumer.state).toBe('closed');
    // 4 accepted as the loop moved on; the 5th (in hand at break) and the buffer went back.
    await expectQueueSize(broker, queue, all.length - 4);
    // All come back with their counts unchanged, the one in hand included.
    const next = new OutreachConsumer(consumerOptions(broker, queue));
    const counts = new Map<string, number>();
    await next.start((d) => void counts.set(d.outreach.outreachId, d.deliveryCount));
    await waitFor(() => counts.size === all.length - 4, 'the rest');
    await next.close();
    expect([...counts.values()].every((count) => count === 0)).toBe(true);
    expect(counts.has(taken[4]!)).toBe(true);
  });

  it('refuses a second concurrent iterator, and start() while iterating', async () => {
    const queue = uniqueQueue('twice');
    await sendAmqp(broker, queue, messages(1, 26).map((m) => JSON.stringify(m)));
    const consumer = new OutreachConsumer(consumerOptions(broker, queue));
    const iterator = consumer[Symbol.asyncIterator]();
    expect(() => consumer[Symbol.asyncIterator]()).toThrowError(expect.objectContaining({ code: 'ITERATOR_IN_USE' }) as Error);
    await expect(consumer.start(() => undefined)).rejects.toMatchObject({ code: 'ITERATOR_IN_USE' });
    const first = await iterator.next();
    expect(first.done).toBe(false);
    await iterator.return?.();
    expect(consumer.state).toBe('closed');
    // The loop is over and closed the consumer: that is what a new loop or start() hears.
    expect(() => consumer[Symbol.asyncIterator]()).toThrowError(expect.objectContaining({ code: 'CLOSED' }) as Error);
    await expect(consumer.start(() => undefined)).rejects.toMatchObject({ code: 'CLOSED' });
  });

  it('ends when the consumer is closed from outside', async () => {
    const queue = uniqueQueue('ends');
    const consumer = new OutreachConsumer(consumerOptions(broker, queue));
    setTimeout(() => void consumer.close(), 500);
    const got: unknown[] = [];
    for await (const delivery of consumer) got.push(delivery);
    expect(got).toEqual([]);
  });
});

describe('close() against faults of its own', () => {
  it('completes when a strategy’s flush throws, and reports it', async () => {
    const queue = uniqueQueue('bad-flush');
    await sendAmqp(broker, queue, messages(2, 27).map((m) => JSON.stringify(m)));
    const brokenFlush: AckStrategy = {
      name: 'broken-flush',
      onSuccess: (d) => void d.accept(),
      onFailure: (d) => void d.retry(),
      flush: () => {
        throw new Error('flush bug');
      },
    };
    const consumer = new OutreachConsumer(consumerOptions(broker, queue, { strategy: brokenFlush }));
    const errors: string[] = [];
    consumer.on('error', (err, source) => errors.push(`${source}:${err.code}`));
    let closed = 0;
    consumer.on('closed', () => closed++);
    let handled = 0;
    await consumer.start(() => {
      handled++;
    });
    await waitFor(() => handled === 2, 'two deliveries');
    const report = await consumer.close({ deadlineMs: 5_000 });
    expect(consumer.state).toBe('closed');
    expect(closed).toBe(1);
    expect(report.accepted).toBe(2);
    expect(errors).toContain('settle:HANDLER_FAILED');
  });

  it('serves iterator calls one at a time: two next() at once get two deliveries, none stranded', async () => {
    const queue = uniqueQueue('two-next');
    await sendAmqp(broker, queue, messages(2, 28).map((m) => JSON.stringify(m)));
    const consumer = new OutreachConsumer(consumerOptions(broker, queue));
    const reports: CloseReport[] = [];
    consumer.on('closed', (r) => reports.push(r));
    const iterator = consumer[Symbol.asyncIterator]();
    const [a, b] = await Promise.all([iterator.next(), iterator.next()]);
    expect(a.done || b.done).toBe(false);
    expect(a.value!.outreach.outreachId).not.toBe(b.value!.outreach.outreachId);
    await iterator.return?.();
    // The first was accepted when the second was asked for; the second went back on return().
    expect(reports[0]).toMatchObject({ accepted: 1, released: 1, unfinished: 0, timedOut: false });
    await expectQueueSize(broker, queue, 1);
  });
});
