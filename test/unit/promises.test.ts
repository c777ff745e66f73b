// The behaviour promises of docs/delivery-guarantees.md and docs/operations.md, each held exactly
// on the in-process dev queue (seconds, no broker): what each delivery became, read from the
// queue's own record of it. The broker tests show the same on ActiveMQ.
import { describe, expect, it } from 'vitest';
import { manual, type OutreachDelivery, type SettleOutcome } from '../../src/index.js';
import { makeInvalidOutreach, makeOutreachMessages, startDevQueue, type DevQueue, type DevQueueOptions } from '../../src/testing/index.js';
import { devConsumer, until } from './dev-consumer.js';

const messages = (n: number, seed: number) => [...makeOutreachMessages(n, { seed })];

async function withQueue(queues: NonNullable<DevQueueOptions['queues']>, body: (q: DevQueue) => Promise<void>): Promise<void> {
  const q = await startDevQueue({ network: false, queues });
  try {
    await body(q);
  } finally {
    await q.close();
  }
}

/** How each delivery of `id` ended on the queue, oldest first. */
const settlementsOf = (q: DevQueue, queue: string, id: string | number | undefined) => q.deliveries(queue, id!).map((d) => d.settlement);

describe('outages (delivery-guarantees.md, "Sink outages")', () => {
  it('the iterator pattern: a retry() during an outage is a hand-back, every one of them; before it, retries spend an attempt', async () => {
    await withQueue({ o: messages(30, 51) }, async (q) => {
      const consumer = devConsumer(q, 'o', { outage: { probeDelayMs: 20, maxProbeDelayMs: 40 } });
      const outcomes = new Map<OutreachDelivery<unknown>, SettleOutcome>();
      consumer.on('settled', (d, outcome) => outcomes.set(d, outcome));
      const calls: { delivery: OutreachDelivery; duringOutage: boolean }[] = [];
      let failing = 12; // the sink refuses the first twelve attempts
      const loop = (async () => {
        for await (const delivery of consumer) {
          if (failing === 0) continue; // accepted when the loop moves on
          failing--;
          calls.push({ delivery, duringOutage: consumer.health().outage !== undefined });
          delivery.retry(new Error('sink down'));
        }
      })();
      await until(() => q.stats('o').dequeued === 30, 'every message accepted');
      await consumer.close();
      await loop;
      // Failures of different messages begin the outage (five in a row; a repeat of the same
      // message does not count): each before it spent an attempt, the one that began it and
      // every retry() after it were handed back.
      const began = calls.findIndex((c) => c.duringOutage) - 1;
      expect(began).toBeGreaterThanOrEqual(4);
      expect(calls.map((c) => outcomes.get(c.delivery))).toEqual([...Array(began).fill('retried'), ...Array(calls.length - began).fill('released')]);
      expect(calls.slice(began + 1).every((c) => c.duringOutage)).toBe(true);
      expect(calls).toHaveLength(12);
    });
  });
});

describe('undecodable messages (delivery-guarantees.md, "Undecodable messages")', () => {
  it('is settled only after onInvalid resolves, then by invalidPolicy', async () => {
    await withQueue({ i: [makeInvalidOutreach('truncated-json')] }, async (q) => {
      let release: () => void = () => undefined;
      const hookDone = new Promise<void>((resolve) => (release = resolve));
      let hookCalled = false;
      let messageId: string | number | undefined;
      const consumer = devConsumer(q, 'i', {
        onInvalid: async (invalid) => {
          hookCalled = true;
          messageId = invalid.messageId;
          await hookDone;
        },
      });
      await consumer.start(() => undefined);
      await until(() => hookCalled, 'the hook');
      // The hook has not resolved: the message is held, unsettled, however long that takes.
      for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(settlementsOf(q, 'i', messageId)).toEqual([undefined]);
      expect(consumer.health().held).toBe(1);
      release();
      await until(() => settlementsOf(q, 'i', messageId)[0] !== undefined, 'the settlement');
      expect(settlementsOf(q, 'i', messageId)).toEqual(['rejected']);
      await consumer.close();
    });
  });
});

describe('pausing (delivery-guarantees.md, "Pausing")', () => {
  it('pause() hands back what is buffered (released, count unchanged) and nothing more reaches the handler until resume()', async () => {
    await withQueue({ p: messages(10, 52) }, async (q) => {
      const consumer = devConsumer(q, 'p', { prefetch: 10 });
      let unblock: () => void = () => undefined;
      const blocked = new Promise<void>((resolve) => (unblock = resolve));
      const handled: (string | number | undefined)[] = [];
      await consumer.start(async (delivery) => {
        handled.push(delivery.messageId);
        if (handled.length === 1) await blocked;
      });
      await until(() => consumer.health().held === 10 && handled.length === 1, 'ten held, one in the handler');
      consumer.pause();
      const pausedAt = handled.length;
      unblock();
      await until(() => consumer.health().held === 0, 'nothing held');
      for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
      expect(handled).toHaveLength(pausedAt);
      expect(q.browse('p').map((m) => m.deliveryCount)).toEqual(Array(9).fill(0)); // back on the queue, counts unchanged
      expect(q.browse('p').map((m) => settlementsOf(q, 'p', m.messageId))).toEqual(Array(9).fill(['released']));
      expect(consumer.health().counts).toMatchObject({ accepted: 1, released: 9, retried: 0, lost: 0 });
      consumer.resume();
      await until(() => handled.length === 10, 'the rest handled after resume()');
      await consumer.close();
      expect(new Set(handled).size).toBe(10);
    });
  });
});

describe('shutdown (delivery-guarantees.md, "Shutdown")', () => {
  it('close() that finishes: the report is exact, nothing lost or unfinished', async () => {
    await withQueue({ s: messages(12, 53) }, async (q) => {
      const consumer = devConsumer(q, 's', { prefetch: 4 });
      let handled = 0;
      await consumer.start(async () => {
        await new Promise((resolve) => setTimeout(resolve, 2));
        handled++;
      });
      await until(() => handled >= 3, 'some handled');
      const report = await consumer.close();
      // What was buffered went back (released); what was in a handler finished and was accepted.
      const releasedOnTheQueue = q.browse('s').flatMap((m) => settlementsOf(q, 's', m.messageId)).filter((s) => s === 'released').length;
      expect(report).toEqual({ accepted: handled, retried: 0, rejected: 0, released: releasedOnTheQueue, lost: 0, invalid: 0, unfinished: 0, timedOut: false });
      expect(report.accepted + q.depth('s')).toBe(12);
    });
  });

  it('close() whose deadline passes while a handler runs: that delivery is unfinished, not also lost, and comes again', async () => {
    await withQueue({ d: messages(3, 54) }, async (q) => {
      const consumer = devConsumer(q, 'd', { prefetch: 3 });
      let stuckId: string | number | undefined;
      await consumer.start(async (delivery) => {
        if (stuckId === undefined) {
          stuckId = delivery.messageId;
          await new Promise(() => undefined); // never finishes
        }
      }, { concurrency: 3 });
      await until(() => consumer.health().counts.accepted === 2, 'the other two accepted');
      const report = await consumer.close({ deadlineMs: 50 });
      expect(report).toEqual({ accepted: 2, retried: 0, rejected: 0, released: 0, lost: 0, invalid: 0, unfinished: 1, timedOut: true });
      expect(q.depth('d')).toBe(1);
      expect(settlementsOf(q, 'd', stuckId).filter((s) => s === 'accepted')).toEqual([]);
    });
  });
});

describe('flow control (delivery-guarantees.md, "Flow control")', () => {
  it('holds at most prefetch deliveries at every settlement, whatever the backlog', async () => {
    await withQueue({ f: messages(200, 55) }, async (q) => {
      const prefetch = 5;
      const consumer = devConsumer(q, 'f', { prefetch });
      const heldAtSettlement: number[] = [];
      consumer.on('settled', () => heldAtSettlement.push(consumer.health().held));
      let n = 0;
      await consumer.start(
        async () => {
          if (++n % 3 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
        },
        { concurrency: 3 },
      );
      await until(() => q.stats('f').dequeued === 200, 'all accepted', 20_000);
      await consumer.close();
      expect(heldAtSettlement).toHaveLength(200);
      expect(Math.max(...heldAtSettlement)).toBeLessThanOrEqual(prefetch);
      expect(Math.max(...heldAtSettlement)).toBeGreaterThan(1); // the window was used, not one at a time
    });
  });
});

describe('dispositions (delivery-guarantees.md: each delivery gets its own outcome)', () => {
  // rhea 3.0.x writes the dispositions of one turn in runs of adjacent ids and gives a run of one
  // the next delivery's outcome unchecked (see rhea-internals.ts): settling two adjacent
  // deliveries differently in one turn must still give each its own.
  it.each([
    ['accept, then release', (a: OutreachDelivery, b: OutreachDelivery) => (a.accept(), b.release()), ['accepted', 'released']],
    ['release, then accept', (a: OutreachDelivery, b: OutreachDelivery) => (a.release(), b.accept()), ['released', 'accepted']],
    ['retry, then reject', (a: OutreachDelivery, b: OutreachDelivery) => (a.retry(), b.reject()), ['modified', 'rejected']],
    ['reject, then accept', (a: OutreachDelivery, b: OutreachDelivery) => (a.reject(), b.accept()), ['rejected', 'accepted']],
  ] as const)('%s in one turn: each as decided', async (_name, settle, expected) => {
    await withQueue({ t: messages(2, 56) }, async (q) => {
      const consumer = devConsumer(q, 't', { strategy: manual(), prefetch: 2 });
      const held: OutreachDelivery[] = [];
      await consumer.start((delivery) => void held.push(delivery), { concurrency: 2 });
      await until(() => held.length === 2, 'both held');
      const [a, b] = held as [OutreachDelivery, OutreachDelivery];
      settle(a, b);
      await until(() => settlementsOf(q, 't', b.messageId)[0] !== undefined && settlementsOf(q, 't', a.messageId)[0] !== undefined, 'both settled');
      expect([settlementsOf(q, 't', a.messageId)[0], settlementsOf(q, 't', b.messageId)[0]]).toEqual(expected);
      await consumer.close({ deadlineMs: 10 }); // a released message comes again, and manual() would wait for it
    });
  });
});

