// The `drained` event: the broker had nothing more to send and every delivery is settled. A job
// that empties the queue and ends relies on it.
import { describe, expect, it } from 'vitest';
import { batched, OutreachConsumer } from '../../src/index.js';
import { makeOutreachMessages } from '../../src/testing/index.js';
import { consumerOptions, expectQueueSize, sendAmqp, sharedBroker, uniqueQueue, waitFor } from './support.js';

const broker = sharedBroker();
const bodies = (n: number, seed: number): string[] => [...makeOutreachMessages(n, { seed })].map((m) => JSON.stringify(m));

describe('drained', () => {
  it('fires once the backlog is done, once per run of messages', async () => {
    const queue = uniqueQueue('drained');
    await sendAmqp(broker, queue, bodies(60, 61));
    const consumer = new OutreachConsumer(consumerOptions(broker, queue, { prefetch: 10 }));
    let handled = 0;
    const handledAtDrained: number[] = [];
    consumer.on('drained', () => handledAtDrained.push(handled));
    await consumer.start(
      async () => {
        await new Promise((r) => setTimeout(r, 2));
        handled++;
      },
      { concurrency: 3 },
    );
    await waitFor(() => handledAtDrained.length === 1, 'the first drained');
    expect(handledAtDrained).toEqual([60]);
    expect(consumer.health()).toMatchObject({ held: 0, buffered: 0, inFlight: 0 });
    await expectQueueSize(broker, queue, 0);

    // Quiet queue: no further drained until new messages arrive and are done.
    await new Promise((r) => setTimeout(r, 500));
    expect(handledAtDrained).toEqual([60]);
    await sendAmqp(broker, queue, bodies(5, 62));
    // The five may come as one run or trickle in (the queue can run dry between them): each
    // time it runs dry the event fires again, and the last time is after all 65.
    await waitFor(() => handledAtDrained.at(-1) === 65, 'drained after the new messages');
    expect(handledAtDrained[0]).toBe(60);
    expect(handledAtDrained.length).toBeGreaterThanOrEqual(2);
    expect(handledAtDrained.length).toBeLessThanOrEqual(6);
    expect(handledAtDrained.every((n, i) => i === 0 || n > handledAtDrained[i - 1]!)).toBe(true);
    await consumer.close();
  });

  it('fires on an empty queue soon after connecting, and waits for a batch to be committed', async () => {
    const empty = new OutreachConsumer(consumerOptions(broker, uniqueQueue('empty')));
    const drainedEmpty = new Promise<void>((resolve) => empty.once('drained', resolve));
    await empty.start(() => undefined);
    await drainedEmpty;
    await empty.close();

    const queue = uniqueQueue('drained-batch');
    await sendAmqp(broker, queue, bodies(7, 63));
    let committed = 0;
    const consumer = new OutreachConsumer(
      consumerOptions(broker, queue, {
        prefetch: 20,
        strategy: batched({ size: 20, maxWaitMs: 300, commit: async (batch) => void (committed += batch.length) }),
      }),
    );
    let committedAtDrained = -1;
    consumer.once('drained', () => (committedAtDrained = committed));
    await consumer.start(() => undefined);
    await waitFor(() => committedAtDrained >= 0, 'drained');
    expect(committedAtDrained).toBe(7);
    await consumer.close();
  });
});
