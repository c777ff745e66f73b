// What close() reports is what happened on the wire: counted on the in-process dev queue (no
// socket), against the queue's own record of each delivery.
import { describe, expect, it } from 'vitest';
import { batched, manual, type OutreachDelivery, type SettleOutcome } from '../../src/index.js';
import { makeOutreachMessages, startDevQueue } from '../../src/testing/index.js';
import { devConsumer, until } from './dev-consumer.js';

describe('close() report', () => {
  it('an acceptance made just before its connection is lost counts as lost, not accepted (it was never written)', async () => {
    const q = await startDevQueue({ network: false, queues: { a: [...makeOutreachMessages(3, { seed: 41 })] } });
    try {
      const consumer = devConsumer(q, 'a', { strategy: manual() });
      const settled: SettleOutcome[] = [];
      consumer.on('settled', (_d, outcome) => settled.push(outcome));
      let dropped = false;
      const ids = new Set<string | number>();
      await consumer.start((delivery: OutreachDelivery) => {
        if (delivery.messageId !== undefined) ids.add(delivery.messageId);
        if (!dropped) {
          dropped = true;
          // The link goes first; the acceptance decided in the same turn waits to be written and
          // finds its connection gone when it would be.
          q.faults.dropConnections();
        }
        delivery.accept();
      });
      await until(() => q.depth('a') === 0, 'the queue to drain');
      const report = await consumer.close();
      expect(ids.size).toBe(3);
      const onTheWire = [...ids].flatMap((id) => q.deliveries('a', id).map((d) => d.settlement));
      const acceptedOnTheWire = onTheWire.filter((s) => s === 'accepted').length;
      expect(acceptedOnTheWire).toBe(3);
      expect(report.accepted).toBe(acceptedOnTheWire);
      expect(settled.filter((o) => o === 'accepted')).toHaveLength(3);
      expect(report.lost).toBe(settled.filter((o) => o === 'lost').length);
      expect(report.lost).toBeGreaterThan(0);
    } finally {
      await q.close();
    }
  });

  it('batched with a commit that hangs: its deliveries are unfinished (not released) and left unsettled, the rest released, and a warning says a commit is stuck', async () => {
    const q = await startDevQueue({ network: false, queues: { b: [...makeOutreachMessages(20, { seed: 42 })] } });
    try {
      const warnings: { fields: Record<string, unknown>; message: string }[] = [];
      const logger = { debug() {}, info() {}, error() {}, warn: (fields: Record<string, unknown>, message: string) => void warnings.push({ fields, message }) };
      let commits = 0;
      const inCommit: (string | number | undefined)[] = [];
      const strategy = batched({
        size: 10,
        maxWaitMs: 60_000,
        commit: (batch) => {
          commits++;
          inCommit.push(...batch.map((d) => d.messageId));
          return new Promise<void>(() => undefined); // the sink never answers
        },
      });
      const consumer = devConsumer(q, 'b', { strategy, prefetch: 20, logger });
      let handled = 0;
      await consumer.start(() => void handled++);
      await until(() => handled === 20 && commits === 1, 'twenty handled, the first batch in its commit');
      const report = await consumer.close({ deadlineMs: 200 });
      expect(inCommit).toHaveLength(10);
      expect(report).toMatchObject({ accepted: 0, released: 10, unfinished: 10, lost: 0, timedOut: true });
      expect(warnings.filter((w) => /commit of the strategy was still running/.test(w.message)).map((w) => w.fields)).toEqual([{ deliveries: 10 }]);
      // On the wire: the ten in the commit were never settled (the link's end gave them back), the ten after were released.
      const settlements = (id: string | number | undefined) => q.deliveries('b', id!).map((d) => d.settlement);
      expect(inCommit.every((id) => settlements(id)[0] !== 'released' && settlements(id)[0] !== 'accepted')).toBe(true);
      expect(q.depth('b')).toBe(20);
    } finally {
      await q.close();
    }
  });

  it('an acceptance decided before an outage began does not end it when it is written a turn later', async () => {
    const q = await startDevQueue({ network: false, queues: { c: [...makeOutreachMessages(6, { seed: 43 })] } });
    try {
      const consumer = devConsumer(q, 'c', {
        outage: { isOutage: (error) => error instanceof Error && error.message === 'sink down', probeDelayMs: 50 },
      });
      const events: string[] = [];
      consumer.on('outage', () => events.push('outage'));
      consumer.on('recovered', () => events.push('recovered'));
      let calls = 0;
      await consumer.start(() => {
        calls++;
        events.push(`handler ${calls}`);
        // The first succeeds (its acceptance waits to be written); the second, in the same turn, fails.
        if (calls === 2) throw new Error('sink down');
      }, { concurrency: 2 });
      await until(() => q.depth('c') === 0, 'the queue to drain');
      await consumer.close();
      expect(events.slice(0, 3)).toEqual(['handler 1', 'handler 2', 'outage']);
      // The outage ends on a probe's acceptance, after the outage began, not on handler 1's.
      expect(events.indexOf('recovered')).toBeGreaterThan(events.indexOf('handler 3'));
      expect(events.filter((e) => e === 'outage')).toHaveLength(1);
    } finally {
      await q.close();
    }
  });
});
