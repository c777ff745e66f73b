// Each acknowledgement strategy's outcome as the broker sees it.
import { describe, expect, it } from 'vitest';
import {
  atLeastOnce,
  atMostOnce,
  manual,
  OutreachConsumer,
  type OutreachDelivery,
  type SettleOutcome,
} from '../../src/index.js';
import { makeOutreachMessages } from '../../src/testing/index.js';
import { consumerOptions, dlqSize, expectQueueSize, sendAmqp, sharedBroker, uniqueQueue, waitFor } from './support.js';

const broker = sharedBroker();
const bodies = (n: number, seed: number): string[] => [...makeOutreachMessages(n, { seed })].map((m) => JSON.stringify(m));

describe('at-least-once (the default)', () => {
  it('accepts after the handler succeeds: the queue is empty', async () => {
    const queue = uniqueQueue();
    await sendAmqp(broker, queue, bodies(20, 1));
    const consumer = new OutreachConsumer(consumerOptions(broker, queue));
    let handled = 0;
    await consumer.start(() => {
      handled++;
    });
    await waitFor(() => handled === 20, '20 deliveries');
    const report = await consumer.close();
    expect(report.accepted).toBe(20);
    await expectQueueSize(broker, queue, 0);
  });

  it('retries a failing delivery with a rising count, then dead-letters it through the hook and rejects it', async () => {
    const queue = uniqueQueue();
    const dlqBefore = await dlqSize(broker);
    await sendAmqp(broker, queue, bodies(1, 2), { durable: true });
    const counts: number[] = [];
    const deadLettered: { count: number; error: unknown }[] = [];
    const outcomes: SettleOutcome[] = [];
    const consumer = new OutreachConsumer(
      consumerOptions(broker, queue, {
        strategy: atLeastOnce({
          maxAttempts: 3,
          retryDelayMs: 50,
          onDeadLetter: (delivery, error) => {
            deadLettered.push({ count: delivery.deliveryCount, error });
          },
        }),
      }),
    );
    consumer.on('settled', (_d, outcome) => outcomes.push(outcome));
    const errors: string[] = [];
    consumer.on('error', (err, source) => errors.push(`${source}:${err.code}`));
    await consumer.start((delivery) => {
      counts.push(delivery.deliveryCount);
      throw new Error('CRM is down');
    });
    await waitFor(() => outcomes.includes('rejected'), 'the rejection');
    await consumer.close();
    expect(counts).toEqual([0, 1, 2]);
    expect(outcomes).toEqual(['retried', 'retried', 'rejected']);
    expect(deadLettered).toHaveLength(1);
    expect(deadLettered[0]!.count).toBe(2);
    expect((deadLettered[0]!.error as Error).message).toBe('CRM is down');
    expect(errors.filter((e) => e === 'handler:HANDLER_FAILED')).toHaveLength(3);
    await expectQueueSize(broker, queue, 0);
    await waitFor(async () => (await dlqSize(broker)) === dlqBefore + 1, 'the message in ActiveMQ.DLQ');
  });

  it('retries instead of rejecting when the dead-letter hook itself fails', async () => {
    const queue = uniqueQueue();
    await sendAmqp(broker, queue, bodies(1, 3));
    let hookCalls = 0;
    const consumer = new OutreachConsumer(
      consumerOptions(broker, queue, {
        strategy: atLeastOnce({
          maxAttempts: 1,
          retryDelayMs: 20,
          onDeadLetter: () => {
            hookCalls++;
            if (hookCalls < 3) throw new Error('quarantine store down');
          },
        }),
      }),
    );
    const outcomes: SettleOutcome[] = [];
    consumer.on('settled', (_d, outcome) => outcomes.push(outcome));
    await consumer.start(() => {
      throw new Error('always fails');
    });
    await waitFor(() => outcomes.includes('rejected'), 'the rejection');
    await consumer.close();
    expect(outcomes).toEqual(['retried', 'retried', 'rejected']);
    expect(hookCalls).toBe(3);
  });
});

describe('at-most-once', () => {
  it('accepts on receipt: a message whose handler throws is gone for good', async () => {
    const queue = uniqueQueue();
    await sendAmqp(broker, queue, bodies(3, 4));
    const consumer = new OutreachConsumer(consumerOptions(broker, queue, { strategy: atMostOnce() }));
    let calls = 0;
    await consumer.start(() => {
      calls++;
      throw new Error('handler fails on everything');
    });
    await waitFor(() => calls === 3, 'three handler calls');
    const report = await consumer.close();
    expect(report).toMatchObject({ accepted: 3, retried: 0, rejected: 0 });
    await expectQueueSize(broker, queue, 0); // lost: nothing to redeliver
  });
});

describe('manual', () => {
  it('settles only what the user settles; the rest is released on close and redelivered', async () => {
    const queue = uniqueQueue();
    await sendAmqp(broker, queue, bodies(4, 5));
    const consumer = new OutreachConsumer(consumerOptions(broker, queue, { strategy: manual() }));
    const kept: OutreachDelivery[] = [];
    await consumer.start((delivery) => {
      kept.push(delivery);
    });
    await waitFor(() => kept.length === 4, 'four deliveries');
    expect(kept[0]!.accept()).toBe(true);
    expect(kept[1]!.reject('not ours')).toBe(true);
    expect(() => kept[0]!.accept()).toThrow(/already accepted/);
    expect(() => kept[0]!.retry()).toThrowError(expect.objectContaining({ code: 'ALREADY_SETTLED' }) as Error);
    const report = await consumer.close({ deadlineMs: 200 });
    expect(report).toMatchObject({ accepted: 1, rejected: 1, released: 2, timedOut: true });
    await expectQueueSize(broker, queue, 2);

    // The next consumer gets the two that were never settled.
    const next = new OutreachConsumer(consumerOptions(broker, queue));
    const again: string[] = [];
    await next.start((d) => {
      again.push(d.outreach.outreachId);
    });
    await waitFor(() => again.length === 2, 'the two released deliveries');
    await next.close();
    expect(again.sort()).toEqual([kept[2]!.outreach.outreachId, kept[3]!.outreach.outreachId].sort());
  });
});
