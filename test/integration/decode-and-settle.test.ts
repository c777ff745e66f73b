// Messages published three ways (AMQP amqp-value string, AMQP data section, ActiveMQ's own
// OpenWire producer as a JMS TextMessage), including the spec's three examples, are decoded,
// handed out and accepted: the broker's queue is empty afterwards.
import { describe, expect, it } from 'vitest';
import { OutreachConsumer, type OutreachDelivery } from '../../src/index.js';
import { exampleOutreachMessages, makeOutreachMessages } from '../../src/testing/index.js';
import { consumerOptions, expectQueueSize, sendAmqp, sharedBroker, uniqueQueue, type BodyForm } from './support.js';

const broker = sharedBroker();
const examples = Object.values(exampleOutreachMessages()).map((m) => JSON.stringify(m));

async function drain(queue: string, count: number): Promise<OutreachDelivery[]> {
  const consumer = new OutreachConsumer(consumerOptions(broker, queue));
  const seen: OutreachDelivery[] = [];
  for await (const delivery of consumer) {
    seen.push(delivery);
    if (seen.length === count) break; // releases nothing: the last one is accepted below
  }
  return seen;
}

describe.each<BodyForm>(['amqp-value', 'data'])('an AMQP producer sending %s bodies', (form) => {
  it('decodes the spec examples and the broker deletes them once accepted', async () => {
    const queue = uniqueQueue();
    await sendAmqp(broker, queue, examples, { form });
    const consumer = new OutreachConsumer(consumerOptions(broker, queue));
    const ids: string[] = [];
    await consumer.start(async (delivery) => {
      ids.push(delivery.outreach.outreachId);
      expect(typeof delivery.messageId).toBe('string');
      expect(delivery.deliveryCount).toBe(0);
    });
    await expectQueueSize(broker, queue, 0);
    const report = await consumer.close();
    expect(ids.sort()).toEqual(Object.values(exampleOutreachMessages()).map((m) => m.outreachId).sort());
    expect(report).toMatchObject({ accepted: 3, retried: 0, rejected: 0, invalid: 0, unfinished: 0 });
  });
});

describe('ActiveMQ’s own OpenWire producer (JMS TextMessage)', () => {
  it('decodes what a Java pipeline sends', async () => {
    const queue = uniqueQueue();
    for (const body of examples) await broker.produceOpenWire({ queue, message: body, count: 1 });
    const consumer = new OutreachConsumer(consumerOptions(broker, queue));
    const got: OutreachDelivery[] = [];
    await consumer.start((delivery) => {
      got.push(delivery);
    });
    await expectQueueSize(broker, queue, 0);
    await consumer.close();
    expect(got.map((d) => typeof d.body)).toEqual(['string', 'string', 'string']);
    expect(got.map((d) => d.outreach.outreachSource).sort()).toEqual(['Advisor', 'Faculty', 'Illume Students']);
    expect(String(got[0]!.messageId)).toMatch(/^ID:/);
  });
});

describe('the async iterator', () => {
  it('hands out every message once, in order, and accepts each as the loop moves on', async () => {
    const queue = uniqueQueue();
    const bodies = [...makeOutreachMessages(25, { seed: 3 })].map((m) => JSON.stringify(m));
    await sendAmqp(broker, queue, bodies);
    const seen = await drain(queue, 25);
    expect(seen.map((d) => d.outreach.outreachId)).toEqual(bodies.map((b) => (JSON.parse(b) as { outreachId: string }).outreachId));
    // break released the 25th (it was in hand): it is the one message left.
    await expectQueueSize(broker, queue, 1);
  });
});

describe('listeners that throw', () => {
  it('are logged and do not disturb the consumer', async () => {
    const queue = uniqueQueue();
    await sendAmqp(broker, queue, examples);
    const logged: string[] = [];
    const logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: (_f: object, m?: string) => void logged.push(m ?? '') };
    const consumer = new OutreachConsumer(consumerOptions(broker, queue, { logger }));
    consumer.on('settled', () => {
      throw new Error('a bug in the user’s listener');
    });
    let handled = 0;
    await consumer.start(() => {
      handled++;
    });
    await expectQueueSize(broker, queue, 0);
    const report = await consumer.close();
    expect(handled).toBe(3);
    expect(report.accepted).toBe(3);
    expect(logged.filter((m) => m === 'an event listener threw; ignored')).toHaveLength(3);
  });
});
