// maxHeldBytes: a backlog of big messages holds only as many as fit the byte budget (each counted
// at the largest body seen), whatever prefetch says; small messages never meet it; one body larger
// than the whole budget still goes through, alone.
import * as t from 'io-ts';
import { afterEach, describe, expect, it } from 'vitest';
import { OutreachCodec, type Outreach, type OutreachConsumer } from '../../src/index.js';
import { makeOutreachMessage, startDevQueue, type DevQueue } from '../../src/testing/index.js';
import { devConsumer, until } from './dev-consumer.js';

let q: DevQueue | undefined;
let consumer: OutreachConsumer | undefined;
afterEach(async () => {
  await consumer?.close({ deadlineMs: 500 });
  await q?.close();
});

/** `n` campaign-sized messages of about `students` x 160 bytes each, as JSON text. */
function campaigns(n: number, students: number): string[] {
  return Array.from({ length: n }, (_, i) => JSON.stringify(makeOutreachMessage({ seed: i + 1, students })));
}

describe('maxHeldBytes', () => {
  it('holds only as many big messages as fit the budget, at every moment, and handles them all', async () => {
    const bodies = campaigns(12, 600);
    const size = Math.max(...bodies.map((b) => b.length));
    q = await startDevQueue({ network: false, queues: { big: bodies.map((body) => ({ body })) } });
    const budget = 3 * size + size / 2; // room for three at the largest size
    consumer = devConsumer(q, 'big', { prefetch: 20, maxHeldBytes: budget });
    let most = 0;
    let mostBytes = 0;
    let handled = 0;
    await consumer.start(async () => {
      const h = consumer!.health();
      most = Math.max(most, h.held);
      mostBytes = Math.max(mostBytes, h.heldBytes);
      await new Promise((resolve) => setTimeout(resolve, 5));
      handled++;
    }, { concurrency: 2 });
    consumer.on('settled', () => {
      const h = consumer!.health();
      most = Math.max(most, h.held);
      mostBytes = Math.max(mostBytes, h.heldBytes);
    });
    await until(() => handled === 12, 'all twelve handled');
    expect(most).toBeLessThanOrEqual(3);
    expect(mostBytes).toBeLessThanOrEqual(budget);
    expect(most).toBeGreaterThanOrEqual(2); // the budget, not one at a time
  });

  it('fills the budget while the handler is stuck: the first bodies seen set the count, no settlement needed', async () => {
    // Before any body is seen the gate counts each at maxBodyBytes, so it grants little; once the
    // first arrive it knows their size and must grant the rest at once. It waited for a
    // settlement or a drain answer before (CI: stuck at 2 of 5 campaigns for a minute).
    const bodies = campaigns(8, 600);
    const size = Math.max(...bodies.map((b) => b.length));
    q = await startDevQueue({ network: false, queues: { stuck: bodies.map((body) => ({ body })) } });
    const budget = 5 * size + size / 2; // room for five
    consumer = devConsumer(q, 'stuck', { prefetch: 20, maxHeldBytes: budget, maxBodyBytes: 2 * size + 1 });
    let release!: () => void;
    const stuck = new Promise<void>((resolve) => (release = resolve));
    await consumer.start(async () => stuck);
    await until(() => consumer!.health().held >= 5, 'five held');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(consumer.health().held).toBe(5);
    release();
  });

  it('small messages never meet it: prefetch decides', async () => {
    const bodies = campaigns(30, 1);
    q = await startDevQueue({ network: false, queues: { small: bodies.map((body) => ({ body })) } });
    consumer = devConsumer(q, 'small', { prefetch: 10 });
    let release!: () => void;
    const stuck = new Promise<void>((resolve) => (release = resolve));
    await consumer.start(async () => stuck, { concurrency: 10 });
    await until(() => consumer!.health().held === 10, 'prefetch held');
    expect(consumer.health().heldBytes).toBeLessThan(10 * 2_000);
    release();
  });

  it('a body larger than the whole budget goes through alone', async () => {
    const bodies = campaigns(3, 300);
    q = await startDevQueue({ network: false, queues: { huge: bodies.map((body) => ({ body })) } });
    consumer = devConsumer(q, 'huge', { prefetch: 5, maxHeldBytes: 1_000 });
    let most = 0;
    let handled = 0;
    await consumer.start(async () => {
      most = Math.max(most, consumer!.health().held);
      handled++;
    });
    await until(() => handled === 3, 'all three handled');
    expect(most).toBe(1);
  });
});

describe('big bodies waiting in the buffer', () => {
  it('hold only their text there: decoded once on arrival (checked), once more when handed out; small ones once', async () => {
    const big = campaigns(4, 2_000); // about 320 KB each, above the size from which a waiting body is decoded again
    const small = campaigns(2, 1);
    q = await startDevQueue({ network: false, queues: { lazy: [...big, ...small].map((body) => ({ body })) } });
    let decodes = 0;
    const codec = new t.Type<Outreach, unknown, unknown>('Counted', OutreachCodec.is, (u, c) => {
      decodes++;
      return OutreachCodec.validate(u, c);
    }, (a) => a);
    let release!: () => void;
    const stuck = new Promise<void>((resolve) => (release = resolve));
    const seen: string[] = [];
    consumer = devConsumer(q, 'lazy', { prefetch: 10, codec }) as unknown as OutreachConsumer;
    await consumer.start(async (d) => {
      seen.push((d.outreach as Outreach).outreachId);
      await stuck;
    });
    await until(() => consumer!.health().held === 6, 'all six held, one in the handler');
    expect(decodes).toBe(6); // each checked once on arrival
    release();
    await until(() => seen.length === 6, 'all handed out');
    // The first big one went straight to the handler; the three big ones that waited were decoded
    // again when handed out; the small ones never.
    expect(decodes).toBe(9);
    expect(seen).toEqual([...big, ...small].map((b) => (JSON.parse(b) as Outreach).outreachId));
  });
});
