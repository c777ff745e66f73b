// The behaviour promises of docs/delivery-guarantees.md not already held by promises.test.ts,
// close-report.test.ts or disposition-order.test.ts: each on the in-process dev queue, through the
// public API only, read from the queue's own record of each delivery.
import { describe, expect, it } from 'vitest';
import {
  atLeastOnce,
  batched,
  manual,
  OutreachError,
  type AckStrategy,
  type OutageInfo,
  type OutreachDelivery,
  type RecoveryInfo,
  type SettleOutcome,
} from '../../src/index.js';
import { makeInvalidOutreach, makeOutreachMessages, type DevQueueInput } from '../../src/testing/index.js';
import { devConsumer, ends, until, withQueue } from './dev-consumer.js';

const messages = (n: number, seed: number) => [...makeOutreachMessages(n, { seed })];
const turns = async (n = 20): Promise<void> => {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
};

const sinkDown = (error: unknown): boolean => error instanceof Error && error.message === 'sink down';

describe('settling a delivery', () => {
  it('settling twice throws ALREADY_SETTLED; after the connection is lost a settle returns false and `error` says DELIVERY_LOST; each settlement is on `settled`', async () => {
    await withQueue('s', messages(2, 71), async (q) => {
      const consumer = devConsumer(q, 's', { strategy: manual(), prefetch: 2 });
      const errors: { code: string; source: string }[] = [];
      consumer.on('error', (e, source) => errors.push({ code: e.code, source }));
      const settled: [string | number | undefined, SettleOutcome][] = [];
      consumer.on('settled', (d, outcome) => settled.push([d.messageId, outcome]));
      let disconnected = 0;
      consumer.on('disconnected', () => disconnected++);
      const held: OutreachDelivery[] = [];
      await consumer.start((d) => void held.push(d), { concurrency: 2 });
      await until(() => held.length === 2, 'two held');
      const [a, b] = held as [OutreachDelivery, OutreachDelivery];
      expect(a.accept()).toBe(true);
      expect(() => a.release()).toThrow(OutreachError);
      expect(() => a.accept()).toThrow(expect.objectContaining({ code: 'ALREADY_SETTLED' }));
      await until(() => ends(q, 's', a.messageId)[0] === 'accepted', 'a accepted on the queue');
      q.faults.dropConnections();
      await until(() => disconnected === 1, 'the disconnect seen');
      expect(b.release()).toBe(false);
      expect(b.outcome).toBe('lost');
      expect(errors).toContainEqual({ code: 'DELIVERY_LOST', source: 'settle' });
      expect(ends(q, 's', b.messageId)[0]).toBe('returned-on-connection-loss');
      expect(settled.slice(0, 2)).toEqual([
        [a.messageId, 'accepted'],
        [b.messageId, 'lost'],
      ]);
      await consumer.close({ deadlineMs: 10 });
    });
  });
});

describe('atLeastOnce()', () => {
  it('retries while delivery_count + 1 < maxAttempts, then onDeadLetter, then reject; a failing onDeadLetter means retry instead; attempts are read from delivery_count', async () => {
    const [x, y, z] = messages(3, 72);
    const seed: DevQueueInput[] = [
      { body: JSON.stringify(x), messageId: 'x' },
      { body: JSON.stringify(y), messageId: 'y' },
      { body: JSON.stringify(z), messageId: 'z', deliveryCount: 2 }, // two attempts spent elsewhere
    ];
    await withQueue('r', seed, async (q) => {
      const hook: [string | number | undefined, number][] = [];
      let yHookCalls = 0;
      const strategy = atLeastOnce({
        maxAttempts: 3,
        retryDelayMs: 0,
        onDeadLetter: (d) => {
          hook.push([d.messageId, d.deliveryCount]);
          if (d.messageId === 'y' && ++yHookCalls === 1) throw new Error('dead-letter store down');
        },
      });
      const consumer = devConsumer(q, 'r', { strategy });
      await consumer.start(() => {
        throw new Error('poison');
      });
      await until(() => q.depth('r') === 0, 'all three settled for good');
      await consumer.close();
      expect(ends(q, 'r', 'x')).toEqual(['modified', 'modified', 'rejected']);
      expect(q.deliveries('r', 'x').map((d) => d.deliveryCount)).toEqual([0, 1, 2]);
      expect(ends(q, 'r', 'y')).toEqual(['modified', 'modified', 'modified', 'rejected']);
      expect(ends(q, 'r', 'z')).toEqual(['rejected']);
      expect(hook.map(String).sort()).toEqual(['x,2', 'y,2', 'y,3', 'z,2']);
      expect(q.deadLetters('r').map((d) => d.messageId).sort()).toEqual(['x', 'y', 'z']);
    });
  });

  it('a strategy that throws and leaves a delivery unsettled: the consumer retries it (counted) rather than let it hold its slot', async () => {
    await withQueue('t', [{ body: JSON.stringify(messages(1, 73)[0]), messageId: 't' }], async (q) => {
      let calls = 0;
      const strategy: AckStrategy = {
        name: 'throws once',
        onSuccess: (d) => {
          if (++calls === 1) throw new Error('strategy bug');
          d.accept();
        },
        onFailure: (d) => void d.retry(),
      };
      const consumer = devConsumer(q, 't', { strategy });
      await consumer.start(() => undefined);
      await until(() => q.depth('t') === 0, 'accepted on its second delivery');
      const report = await consumer.close();
      expect(ends(q, 't', 't')).toEqual(['modified', 'accepted']);
      expect(report).toMatchObject({ retried: 1, accepted: 1 });
    });
  });
});

describe('a retry delay holds up nothing else', () => {
  it('a delivery waiting out its delay is outside the concurrency slots and the prefetch budget; health().waitingRetries counts it; close() ends the wait at once, retried', async () => {
    const [poison, ...good] = messages(6, 74);
    await withQueue('w', [{ body: JSON.stringify(poison), messageId: 'poison' }, ...good], async (q) => {
      const consumer = devConsumer(q, 'w', { strategy: atLeastOnce({ retryDelayMs: 600_000 }), prefetch: 1 });
      await consumer.start(
        (d) => {
          if (d.messageId === 'poison') throw new Error('poison');
        },
        { concurrency: 1 },
      );
      await until(() => consumer.health().counts.accepted === 5, 'the five good ones accepted past the waiting one');
      expect(consumer.health()).toMatchObject({ waitingRetries: 1, held: 1 });
      expect(ends(q, 'w', 'poison')).toEqual([undefined]);
      const report = await consumer.close();
      expect(report).toMatchObject({ accepted: 5, retried: 1, timedOut: false, unfinished: 0 });
      expect(ends(q, 'w', 'poison')[0]).toBe('modified'); // then sent again to the closing link, back on its detach
    });
  });

  it('beyond maxWaitingRetries, waiting deliveries take prefetch slots: the process holds at most prefetch + maxWaitingRetries', async () => {
    await withQueue('m', messages(10, 75), async (q) => {
      const consumer = devConsumer(q, 'm', { strategy: atLeastOnce({ retryDelayMs: 600_000 }), prefetch: 2, maxWaitingRetries: 1 });
      let calls = 0;
      await consumer.start(() => {
        calls++;
        throw new Error('poison');
      });
      await until(() => calls === 3, 'three failed');
      await turns();
      await new Promise((resolve) => setTimeout(resolve, 30));
      expect(calls).toBe(3);
      expect(consumer.health()).toMatchObject({ waitingRetries: 3, held: 3 });
      expect(q.stats('m').inFlight).toBe(3);
      await consumer.close();
    });
  });
});

describe('outages of the sink', () => {
  it('what happens: `outage` fires; the buffer and a waiting retry are handed back (released, count not raised); work in the handler finishes: a failure handed back, a success accepted, which ends it (`recovered`); nothing dead-lettered', async () => {
    await withQueue('o', messages(8, 76), async (q) => {
      const deadLettered: unknown[] = [];
      const consumer = devConsumer(q, 'o', {
        strategy: atLeastOnce({ retryDelayMs: 600_000, onDeadLetter: (d) => void deadLettered.push(d.messageId) }),
        prefetch: 8,
        outage: { isOutage: sinkDown, probeDelayMs: 600_000 },
      });
      const outages: OutageInfo[] = [];
      consumer.on('outage', (info) => outages.push(info));
      const events: string[] = [];
      consumer.on('recovered', () => events.push('recovered'));
      consumer.on('settled', (d, outcome) => events.push(`${String(d.messageId)} ${outcome}`));
      let succeed: () => void = () => undefined;
      let fail: () => void = () => undefined;
      const success = new Promise<void>((resolve) => (succeed = resolve));
      const failure = new Promise<void>((resolve) => (fail = resolve));
      const ids: (string | number | undefined)[] = [];
      await consumer.start(
        async (d) => {
          ids.push(d.messageId);
          const call = ids.length;
          if (call === 1) return success; // succeeds once the outage has begun
          if (call === 2) return failure.then(() => Promise.reject(new Error('failed in the outage')));
          if (call === 3) throw new Error('its own failure'); // waits out a retry delay
          if (events.includes('recovered')) return;
          await until(() => ids.length >= 4, 'the fourth call');
          throw new Error('sink down');
        },
        { concurrency: 4 },
      );
      await until(() => outages.length === 1 && consumer.health().held === 2, 'the outage, only the two in the handler held');
      expect(outages[0]).toMatchObject({ reason: 'classified', failures: expect.any(Number) });
      expect(outages[0]!.since).toBeInstanceOf(Date);
      expect(consumer.health().outage).toMatchObject({ since: outages[0]!.since, failedProbes: 0, nextProbeAt: expect.any(Date) });
      fail();
      await until(() => events.includes(`${String(ids[1])} released`), 'the failure in the handler handed back');
      succeed();
      await until(() => q.depth('o') === 0, 'every message accepted after the recovery');
      await consumer.close();
      const [first, second] = ids;
      const beforeRecovery = events.slice(0, events.indexOf('recovered'));
      // recovered fires when the acceptance is decided, settled when it is written, a turn later.
      expect(beforeRecovery.every((e) => e.endsWith(' released'))).toBe(true);
      expect(events[events.indexOf('recovered') + 1]).toBe(`${String(first)} accepted`);
      expect(ends(q, 'o', first)).toEqual(['accepted']);
      expect(beforeRecovery).toContain(`${String(second)} released`);
      expect(beforeRecovery).toContain(`${String(ids[2])} released`); // the one waiting out its retry delay
      const others = [...new Set(ids)].filter((id) => id !== first);
      expect(others.map((id) => q.deliveries('o', id!).map((d) => d.deliveryCount)[1])).toEqual(others.map(() => 0));
      expect(deadLettered).toEqual([]);
      expect(q.deadLetters('o')).toEqual([]);
      expect(outages).toHaveLength(1);
    });
  });

  // Failed before the fix in outage-control.ts: a probe round ended as soon as its first message
  // failed, before the round's other messages reached the handler, so the poison at the head was
  // the whole of every probe and the outage never ended (failedProbes 1, 2, 3..., each probe one
  // call of the poison).
  it('probing: a message failing on its own at the head of the queue cannot keep the outage going once the sink is back: each failed probe lets one more message through; the first accepted ends it', async () => {
    const [p, ...rest] = messages(6, 77);
    await withQueue('p', [{ body: JSON.stringify(p), messageId: 'poison' }, ...rest], async (q) => {
      const consumer = devConsumer(q, 'p', {
        strategy: atLeastOnce({ retryDelayMs: 0, maxAttempts: 1000 }),
        prefetch: 4,
        outage: { isOutage: sinkDown, probeDelayMs: 5, maxProbeDelayMs: 20 },
      });
      const recovered: RecoveryInfo[] = [];
      consumer.on('recovered', (info) => recovered.push(info));
      let sinkBack = false;
      await consumer.start(
        (d) => {
          if (d.messageId === 'poison') throw new Error('poison');
          if (!sinkBack) {
            sinkBack = true; // the sink is down for this one call only
            throw new Error('sink down');
          }
        },
        { concurrency: 4 },
      );
      await until(() => recovered.length === 1, 'recovery', 1_000);
      expect(recovered[0]).toMatchObject({ failedProbes: 1 }); // probe 1: the poison alone; probe 2: the poison and one more
      await until(() => q.depth('p') === 1, 'all but the poison accepted');
      await consumer.close();
    });
  });

  it('probing: a round whose messages all failed and that gets no more (the queue holds none for it) fails after a quiet period, and the next probe follows', async () => {
    await withQueue('quiet', messages(1, 79), async (q) => {
      const consumer = devConsumer(q, 'quiet', {
        strategy: atLeastOnce({ retryDelayMs: 0, maxAttempts: 1000 }),
        outage: { isOutage: sinkDown, probeDelayMs: 5, maxProbeDelayMs: 20 },
      });
      let calls = 0;
      await consumer.start(() => {
        // 1: the outage begins; 2: probe round 1 (one message); 3: round 2, which may take two, but
        // the queue holds its only message back from now on.
        if (++calls === 3) q.faults.delayDeliveries(600_000);
        throw new Error('sink down');
      });
      await until(() => consumer.health().outage?.failedProbes === 2, 'round 2 failed without its second message', 5_000);
      expect(calls).toBe(3);
      q.faults.delayDeliveries(0);
      await consumer.close({ deadlineMs: 100 });
    });
  });

  it('an onInvalid hook that throws for different messages counts towards an outage like a handler: the third throw begins it, before any attempt is spent', async () => {
    await withQueue('h', [0, 1, 2].map(() => makeInvalidOutreach('truncated-json')), async (q) => {
      const hooked: (string | number | undefined)[] = [];
      const consumer = devConsumer(q, 'h', {
        outage: { threshold: 3, probeDelayMs: 600_000 },
        onInvalid: (invalid) => {
          hooked.push(invalid.messageId);
          throw new Error('quarantine store down');
        },
      });
      const outages: OutageInfo[] = [];
      consumer.on('outage', (info) => outages.push(info));
      await consumer.start(() => undefined);
      await until(() => outages.length === 1, 'the outage');
      expect(outages[0]).toMatchObject({ failures: 3 });
      await consumer.close();
      expect(q.deadLetters('h')).toEqual([]);
      // The throws themselves counted: had only the hook's later retry() counted (1 s on), each
      // message would have spent an attempt (modified, then delivered with count 1) first.
      expect(new Set(hooked).size).toBe(3);
      const deliveries = [...new Set(hooked)].flatMap((id) => q.deliveries('h', id!));
      expect(deliveries.map((d) => d.settlement)).not.toContain('modified');
      expect(deliveries.map((d) => d.deliveryCount)).toEqual(deliveries.map(() => 0));
    });
  });

  it('batched: a failed commit counts once for each delivery in it, so one failed batch of 5 begins an outage; its deliveries are handed back, not retried', async () => {
    await withQueue('b', messages(5, 78), async (q) => {
      const strategy = batched({
        size: 5,
        maxWaitMs: 600_000,
        retryDelayMs: 600_000,
        commit: () => Promise.reject(new Error('database down')),
      });
      const consumer = devConsumer(q, 'b', { strategy, prefetch: 5, outage: { probeDelayMs: 600_000 } });
      const outages: OutageInfo[] = [];
      consumer.on('outage', (info) => outages.push(info));
      await consumer.start(() => undefined);
      await until(() => outages.length === 1, 'the outage');
      expect(outages[0]).toMatchObject({ failures: 5 });
      await until(() => q.browse('b').length === 5, 'all five back on the queue');
      expect(q.browse('b').map((m) => ends(q, 'b', m.messageId))).toEqual(Array(5).fill(['released']));
      await consumer.close();
    });
  });
});

describe('strategies', () => {
  it('batched: nothing is accepted before commit(batch) resolves, then the whole batch', async () => {
    await withQueue('c', messages(4, 79), async (q) => {
      let resolveCommit: () => void = () => undefined;
      let batch: readonly OutreachDelivery[] = [];
      const strategy = batched({
        size: 4,
        maxWaitMs: 600_000,
        commit: (deliveries) => {
          batch = deliveries;
          return new Promise<void>((resolve) => (resolveCommit = resolve));
        },
      });
      const consumer = devConsumer(q, 'c', { strategy, prefetch: 4 });
      await consumer.start(() => undefined);
      await until(() => batch.length === 4, 'the commit called');
      await turns();
      expect(batch.map((d) => ends(q, 'c', d.messageId))).toEqual(Array(4).fill([undefined]));
      resolveCommit();
      await until(() => q.depth('c') === 0, 'the batch accepted');
      expect(batch.map((d) => ends(q, 'c', d.messageId))).toEqual(Array(4).fill(['accepted']));
      await consumer.close();
    });
  });

  it('manual(): an unsettled delivery keeps its prefetch slot and `drained` does not fire; close() releases it at its deadline', async () => {
    await withQueue('u', messages(5, 80), async (q) => {
      const consumer = devConsumer(q, 'u', { strategy: manual(), prefetch: 2 });
      let drained = 0;
      consumer.on('drained', () => drained++);
      const held: OutreachDelivery[] = [];
      await consumer.start((d) => void held.push(d), { concurrency: 2 });
      await until(() => held.length === 2, 'two held');
      await turns();
      await new Promise((resolve) => setTimeout(resolve, 100)); // past the 50 ms quiet period of the dry check
      expect(held).toHaveLength(2);
      expect(q.stats('u').inFlight).toBe(2);
      expect(drained).toBe(0);
      const report = await consumer.close({ deadlineMs: 20 });
      expect(report).toMatchObject({ released: 2, accepted: 0, timedOut: true });
      expect(held.map((d) => ends(q, 'u', d.messageId))).toEqual([['released'], ['released']]);
    });
  });

  it('`drained` fires once the queue has run dry and every delivery is settled', async () => {
    await withQueue('d', messages(3, 81), async (q) => {
      const consumer = devConsumer(q, 'd');
      let atDrained: { depth: number; accepted: number } | undefined;
      consumer.once('drained', () => (atDrained = { depth: q.depth('d'), accepted: consumer.health().counts.accepted }));
      await consumer.start(() => undefined);
      await until(() => atDrained !== undefined, 'drained');
      expect(atDrained).toEqual({ depth: 0, accepted: 3 });
      await consumer.close();
    });
  });
});

describe('undecodable messages', () => {
  it('go to the `invalid` event and onInvalid with the raw body and a typed error; invalidPolicy accept deletes them; a hook that throws on the last attempt leaves it rejected', async () => {
    const bad = makeInvalidOutreach('truncated-json');
    await withQueue('i', [bad, { body: '{"not": "an outreach"}', messageId: 'last', deliveryCount: 4 }], async (q) => {
      const seen: { kind: string; body: unknown }[] = [];
      const consumer = devConsumer(q, 'i', {
        invalidPolicy: 'accept',
        onInvalid: (invalid) => {
          if (invalid.messageId === 'last') throw new Error('quarantine store down');
        },
      });
      consumer.on('invalid', (invalid) => seen.push({ kind: invalid.error.kind, body: invalid.body }));
      const handled: unknown[] = [];
      await consumer.start((d) => void handled.push(d));
      await until(() => q.depth('i') === 0, 'both settled');
      await consumer.close();
      expect(handled).toEqual([]);
      expect(seen).toHaveLength(2);
      expect(seen.every((s) => s.body !== undefined && typeof s.kind === 'string')).toBe(true);
      expect(q.deadLetters('i').map((d) => d.messageId)).toEqual(['last']);
      expect(ends(q, 'i', 'last')).toEqual(['rejected']);
    });
  });
});

describe('shutdown', () => {
  it('a second close() returns the same report; a strategy whose flush() throws is reported on `error` and the consumer still closes', async () => {
    await withQueue('f', messages(2, 82), async (q) => {
      const strategy: AckStrategy = {
        name: 'flush throws',
        onSuccess: (d) => void d.accept(),
        onFailure: (d) => void d.retry(),
        flush: () => Promise.reject(new Error('flush failed')),
      };
      const consumer = devConsumer(q, 'f', { strategy });
      const sources: string[] = [];
      consumer.on('error', (_e, source) => sources.push(source));
      await consumer.start(() => undefined);
      await until(() => q.depth('f') === 0, 'both accepted');
      const report = await consumer.close();
      expect(sources.length).toBeGreaterThan(0);
      expect(consumer.health().state).toBe('closed');
      expect(await consumer.close()).toBe(report);
      expect(q.connections).toBe(0);
    });
  });

  it('the iterator: break releases the delivery in hand (count unchanged) and closes the consumer', async () => {
    await withQueue('it', messages(3, 83), async (q) => {
      const consumer = devConsumer(q, 'it', { prefetch: 1 });
      let first: OutreachDelivery | undefined;
      for await (const delivery of consumer) {
        first = delivery;
        break;
      }
      await until(() => consumer.health().state === 'closed', 'closed');
      expect(ends(q, 'it', first!.messageId)).toEqual(['released']);
      expect(q.browse('it').map((m) => m.deliveryCount)).toEqual([0, 0, 0]);
      expect(q.depth('it')).toBe(3);
    });
  });
});
