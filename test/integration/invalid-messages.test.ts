// Undecodable messages never reach the handler and are never settled before the user's hook
// has had them; then the policy decides (reject by default).
import { describe, expect, it } from 'vitest';
import { makeOutreachMessages, OutreachConsumer, type InvalidMessage, type SettleOutcome } from '../../src/index.js';
import { consumerOptions, expectQueueSize, sendAmqp, sharedBroker, uniqueQueue, waitFor } from './support.js';

const broker = sharedBroker();
const good = () => JSON.stringify([...makeOutreachMessages(1, { seed: 31 })][0]);
const broken = JSON.stringify({ ...JSON.parse(good()), students: [{ institutionPersonID: 1, emailAddress: 12, firstName: 'Scarlett' }] });
const dlqSize = async (): Promise<number> => (await broker.queueStats('ActiveMQ.DLQ'))?.size ?? 0;

describe('invalid messages', () => {
  it('go to onInvalid with the raw body and the error, then are rejected (dead-lettered) by default', async () => {
    const queue = uniqueQueue('invalid');
    const dlqBefore = await dlqSize();
    await sendAmqp(broker, queue, [good(), 'not json at all', broken, good()], { durable: true });
    const hooked: InvalidMessage[] = [];
    const outcomesAtHook: (SettleOutcome | undefined)[] = [];
    const events: InvalidMessage[] = [];
    const sources: string[] = [];
    let handled = 0;
    const settled: SettleOutcome[] = [];
    const consumer = new OutreachConsumer(
      consumerOptions(broker, queue, {
        onInvalid: async (invalid) => {
          outcomesAtHook.push(settled.length === 0 ? undefined : settled.at(-1));
          await new Promise((r) => setTimeout(r, 50));
          hooked.push(invalid);
        },
      }),
    );
    consumer.on('invalid', (invalid) => events.push(invalid));
    consumer.on('error', (_e, source) => sources.push(source));
    consumer.on('settled', (_d, outcome) => settled.push(outcome));
    await consumer.start(() => {
      handled++;
    });
    await waitFor(() => settled.length === 4, 'four settlements', 20_000).catch((e: unknown) => {
      console.log({ settled, handled, hooked: hooked.length, events: events.length, sources, health: consumer.health() });
      throw e;
    });
    await consumer.close();
    expect(handled).toBe(2);
    expect(hooked.map((h) => h.error.kind)).toEqual(['not-json', 'wrong-shape']);
    expect(hooked[0]!.body).toBe('not json at all');
    expect(hooked[1]!.error.message).toContain('students[0].emailAddress: expected string, got number');
    expect(hooked[1]!.error.message).not.toContain('Scarlett');
    expect(events).toHaveLength(2);
    expect(sources.filter((s) => s === 'decode')).toHaveLength(2);
    expect(settled.filter((s) => s === 'rejected')).toHaveLength(2);
    expect(settled.filter((s) => s === 'accepted')).toHaveLength(2);
    await expectQueueSize(broker, queue, 0);
    await waitFor(async () => (await dlqSize()) === dlqBefore + 2, 'two messages in ActiveMQ.DLQ');
  });

  it('with invalidPolicy accept, are deleted once the hook has them', async () => {
    const queue = uniqueQueue('invalid-accept');
    await sendAmqp(broker, queue, ['{"half":'], { durable: true });
    const kinds: string[] = [];
    const consumer = new OutreachConsumer(consumerOptions(broker, queue, { invalidPolicy: 'accept', onInvalid: (i) => void kinds.push(i.error.kind) }));
    const settled: SettleOutcome[] = [];
    consumer.on('settled', (_d, outcome) => settled.push(outcome));
    await consumer.start(() => undefined);
    await waitFor(() => settled.length === 1, 'the settlement');
    await consumer.close();
    expect(kinds).toEqual(['not-json']);
    expect(settled).toEqual(['accepted']);
    await expectQueueSize(broker, queue, 0);
  });

  it('are retried, not settled, while the hook fails', async () => {
    const queue = uniqueQueue('invalid-hook');
    await sendAmqp(broker, queue, ['garbage'], { durable: true });
    let calls = 0;
    const consumer = new OutreachConsumer(
      consumerOptions(broker, queue, {
        onInvalid: () => {
          calls++;
          if (calls < 3) throw new Error('quarantine store down');
        },
      }),
    );
    const settled: SettleOutcome[] = [];
    consumer.on('settled', (_d, outcome) => settled.push(outcome));
    await consumer.start(() => undefined);
    await waitFor(() => settled.includes('rejected'), 'the rejection');
    await consumer.close();
    expect(settled).toEqual(['retried', 'retried', 'rejected']);
    expect(calls).toBe(3);
  });
});
