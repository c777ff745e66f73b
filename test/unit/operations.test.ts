// The promises of docs/operations.md (and the matching ones of docs/delivery-guarantees.md) not
// already held by promises.test.ts, guarantees.test.ts or close-report.test.ts: pausing closes the
// connection, the ways close() is called and cut short, work still in your code at the deadline,
// and every field of health(). Each on the in-process dev queue, through the public API only, read
// from the queue's own record of each delivery.
import { bodyBytes } from '../../src/consumer/in-flight.js';
import { describe, expect, it } from 'vitest';
import {
  atLeastOnce,
  manual,
  type OutreachConsumer,
  type CloseReport,
  type ConsumerHealth,
  type OutreachDelivery,
  type OutreachLogger,
} from '../../src/index.js';
import { makeOutreachMessages, type DevQueue, type DevQueueInput } from '../../src/testing/index.js';
import { devConsumer, ends, until, withQueue } from './dev-consumer.js';

const messages = (n: number, seed: number) => [...makeOutreachMessages(n, { seed })];
const named = (names: readonly string[], seed: number): DevQueueInput[] =>
  messages(names.length, seed).map((m, i) => ({ body: JSON.stringify(m), messageId: names[i]! }));
const turns = async (n = 20): Promise<void> => {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
};
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));


/** A logger that keeps the messages of its info lines. */
function infoLines(): { logger: OutreachLogger; lines: string[] } {
  const lines: string[] = [];
  return { lines, logger: { debug() {}, info: (_fields: unknown, message: string) => void lines.push(message), warn() {}, error() {} } };
}

/** A promise and the function that resolves it. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open: () => void = () => undefined;
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { wait, open };
}

const neverEnds = new Promise<void>(() => undefined);

describe('pausing (operations.md, "Pausing")', () => {
  it('once nothing is held the consumer closes its connection; resume() connects again and the rest is delivered; pause() and resume() twice change nothing', async () => {
    await withQueue('p', messages(10, 91), async (q) => {
      const { logger, lines } = infoLines();
      const consumer = devConsumer(q, 'p', { prefetch: 4, logger });
      const events: string[] = [];
      for (const name of ['connected', 'disconnected', 'reconnecting', 'closed'] as const) consumer.on(name, () => events.push(name));
      const first = gate();
      const handled: (string | number | undefined)[] = [];
      await consumer.start(async (d) => {
        handled.push(d.messageId);
        if (handled.length === 1) await first.wait;
      });
      await until(() => consumer.health().held === 4, 'four held, one in the handler');
      consumer.pause();
      consumer.pause();
      // Work in hand holds the connection open.
      await turns();
      expect(consumer.health()).toMatchObject({ paused: true, connected: true, held: 1, buffered: 0 });
      expect(q.connections).toBe(1);
      first.open();
      await until(() => consumer.health().held === 0, 'nothing held');
      await until(() => !consumer.health().connected && q.connections === 0, 'the connection closed');
      expect(consumer.health()).toMatchObject({ paused: true, connected: false, endpoint: undefined, credit: 0 });
      expect(handled).toHaveLength(1);
      // The three handed back are on the queue, for any consumer, their counts unchanged.
      expect(q.browse('p').map((m) => m.deliveryCount)).toEqual(Array(9).fill(0));
      expect(q.stats('p')).toMatchObject({ ready: 9, inFlight: 0, consumers: 0 });
      expect(consumer.health().counts).toMatchObject({ accepted: 1, released: 3 });
      consumer.resume();
      consumer.resume();
      await until(() => handled.length === 10, 'the rest handled after resume()');
      await until(() => q.depth('p') === 0, 'all accepted');
      expect(consumer.health()).toMatchObject({ paused: false, connected: true });
      expect(q.connections).toBe(1);
      expect(new Set(handled).size).toBe(10);
      const report = await consumer.close();
      expect(report).toMatchObject({ accepted: 10, released: 3, retried: 0, lost: 0 });
      // One pause, one resume: one line each, one connection closed and one opened again.
      expect(lines.filter((l) => l === 'paused' || l === 'resumed')).toEqual(['paused', 'resumed']);
      expect(events).toEqual(['connected', 'connected', 'closed']);
    });
  });
});

describe('close() (operations.md, "Shutdown")', () => {
  /** A consumer whose first delivery stays in the handler for good; the rest are accepted. */
  async function stuckConsumer(q: DevQueue, queue: string): Promise<OutreachConsumer> {
    const consumer = devConsumer(q, queue, { prefetch: 3 });
    let calls = 0;
    await consumer.start(() => (++calls === 1 ? neverEnds : undefined), { concurrency: 3 });
    await until(() => consumer.health().counts.accepted === 2 && consumer.health().inFlight === 1, 'two accepted, one stuck');
    return consumer;
  }
  const cutShort: CloseReport = { accepted: 2, retried: 0, rejected: 0, released: 0, lost: 0, invalid: 0, unfinished: 1, timedOut: true };

  it('a second close() with a shorter deadline cuts the wait short; both calls get the same report', async () => {
    await withQueue('c1', messages(3, 92), async (q) => {
      const consumer = await stuckConsumer(q, 'c1');
      const began = Date.now();
      const firstCall = consumer.close({ deadlineMs: 60_000 });
      await sleep(20);
      expect(consumer.health().state).toBe('closing');
      const secondCall = consumer.close({ deadlineMs: 30 });
      const [a, b] = await Promise.all([firstCall, secondCall]);
      expect(Date.now() - began).toBeLessThan(2_000);
      expect(a).toEqual(cutShort);
      expect(b).toBe(a);
      expect(q.connections).toBe(0);
    });
  });

  it('a second close() with an aborted signal ends the wait at once; a longer deadline in a later call does not lengthen it', async () => {
    await withQueue('c2', messages(3, 93), async (q) => {
      const consumer = await stuckConsumer(q, 'c2');
      const began = Date.now();
      const firstCall = consumer.close({ deadlineMs: 60_000 });
      await sleep(20);
      const secondCall = consumer.close({ signal: AbortSignal.abort() });
      expect(await secondCall).toEqual(cutShort);
      expect(Date.now() - began).toBeLessThan(2_000);
      expect(await firstCall).toBe(await secondCall);
      expect(await consumer.close({ deadlineMs: 600_000 })).toBe(await firstCall);
    });
  });

  it('close({ signal }): aborting the signal ends the wait, as the deadline would; one aborted already ends it at once', async () => {
    await withQueue('c3', messages(3, 94), async (q) => {
      const consumer = await stuckConsumer(q, 'c3');
      const controller = new AbortController();
      const began = Date.now();
      const closing = consumer.close({ signal: controller.signal }); // the default deadline: 30 s
      await sleep(50);
      expect(consumer.health().state).toBe('closing');
      controller.abort();
      expect(await closing).toEqual(cutShort);
      expect(Date.now() - began).toBeLessThan(2_000);
    });
    await withQueue('c4', messages(3, 95), async (q) => {
      const consumer = await stuckConsumer(q, 'c4');
      const began = Date.now();
      expect(await consumer.close({ signal: AbortSignal.abort() })).toEqual(cutShort);
      expect(Date.now() - began).toBeLessThan(2_000);
    });
  });

  it('start(handler, { signal }): aborting it closes the consumer, with the default deadline (work in hand finishes)', async () => {
    await withQueue('s', messages(3, 96), async (q) => {
      const consumer = devConsumer(q, 's', { prefetch: 3 });
      const closed: CloseReport[] = [];
      consumer.on('closed', (report) => closed.push(report));
      const controller = new AbortController();
      const slow = gate();
      let calls = 0;
      await consumer.start(
        async () => {
          if (++calls === 1) await slow.wait;
        },
        { signal: controller.signal, concurrency: 3 },
      );
      await until(() => consumer.health().counts.accepted === 2, 'two accepted, one in the handler');
      controller.abort();
      await turns();
      expect(consumer.health().state).toBe('closing');
      await sleep(50); // a short deadline would have passed by now
      slow.open();
      await until(() => closed.length === 1, 'closed');
      expect(closed[0]).toEqual({ accepted: 3, retried: 0, rejected: 0, released: 0, lost: 0, invalid: 0, unfinished: 0, timedOut: false });
      expect(consumer.health().state).toBe('closed');
      expect(q.connections).toBe(0);
      expect(q.depth('s')).toBe(0);
    });
  });

  it('`await using` closes the consumer when the scope ends', async () => {
    await withQueue('u', messages(5, 97), async (q) => {
      const closed: CloseReport[] = [];
      let handled = 0;
      {
        await using consumer = devConsumer(q, 'u', { prefetch: 5 });
        consumer.on('closed', (report) => closed.push(report));
        await consumer.start(() => void handled++);
        await until(() => q.depth('u') === 0, 'all accepted');
        expect(q.connections).toBe(1);
      }
      expect(closed).toEqual([{ accepted: 5, retried: 0, rejected: 0, released: 0, lost: 0, invalid: 0, unfinished: 0, timedOut: false }]);
      expect(handled).toBe(5);
      expect(q.connections).toBe(0);
    });
  });

  it('the `closed` event carries the report close() returns (buffered released, one unfinished, the rest accepted)', async () => {
    await withQueue('e', messages(6, 98), async (q) => {
      const consumer = devConsumer(q, 'e', { prefetch: 6 });
      const closed: CloseReport[] = [];
      consumer.on('closed', (report) => closed.push(report));
      let calls = 0;
      await consumer.start(() => (++calls === 1 ? neverEnds : undefined), { concurrency: 1 });
      // Concurrency 1 and a handler that never ends: one in the handler, five buffered.
      await until(() => consumer.health().buffered === 5, 'one in the handler, five buffered');
      const report = await consumer.close({ deadlineMs: 20 });
      expect(report).toEqual({ accepted: 0, retried: 0, rejected: 0, released: 5, lost: 0, invalid: 0, unfinished: 1, timedOut: true });
      expect(closed).toEqual([report]);
      await consumer.close();
      expect(closed).toHaveLength(1);
    });
  });
});

describe('still in your code at the deadline (operations.md, the close() table)', () => {
  it('is unfinished and left unsettled; settling it later returns false and emits `error` DELIVERY_LOST (source settle); the broker has it again, count unchanged', async () => {
    await withQueue('late', named(['late', 'other'], 99), async (q) => {
      const consumer = devConsumer(q, 'late', { strategy: manual(), prefetch: 2 });
      const errors: { code: string; source: string }[] = [];
      consumer.on('error', (e, source) => errors.push({ code: e.code, source }));
      const late = gate();
      let lateResult: boolean | undefined;
      let held: OutreachDelivery | undefined;
      await consumer.start(
        async (d) => {
          if (d.messageId !== 'late') return void d.accept();
          held = d;
          await late.wait;
          lateResult = d.accept();
        },
        { concurrency: 2 },
      );
      await until(() => held !== undefined && ends(q, 'late', 'other')[0] === 'accepted', 'one accepted, one in the handler');
      const report = await consumer.close({ deadlineMs: 30 });
      expect(report).toEqual({ accepted: 1, retried: 0, rejected: 0, released: 0, lost: 0, invalid: 0, unfinished: 1, timedOut: true });
      // Left unsettled: the closed link gave it back to the queue, count unchanged.
      expect(ends(q, 'late', 'late')).toEqual(['returned-on-detach']);
      expect(q.browse('late')).toEqual([expect.objectContaining({ messageId: 'late', deliveryCount: 0 })]);
      expect(errors).toEqual([]);
      late.open();
      await until(() => lateResult !== undefined, 'the late settlement');
      expect(lateResult).toBe(false);
      expect(held!.outcome).toBe('lost');
      expect(errors).toEqual([{ code: 'DELIVERY_LOST', source: 'settle' }]);
      expect(ends(q, 'late', 'late')).toEqual(['returned-on-detach']); // the late acceptance never reached the queue
      // The next consumer gets it.
      const next = devConsumer(q, 'late');
      const again: OutreachDelivery[] = [];
      await next.start((d) => void again.push(d));
      await until(() => q.depth('late') === 0, 'accepted by the next consumer');
      await next.close();
      expect(again.map((d) => [d.messageId, d.deliveryCount])).toEqual([['late', 0]]);
    });
  });
});

describe('a lost connection (delivery-guarantees.md, "Failover")', () => {
  it('ends the retry delays of the deliveries it carried: none is held beside its redelivery', async () => {
    await withQueue('w', named(['fails', 'ok'], 104), async (q) => {
      const consumer = devConsumer(q, 'w', { strategy: atLeastOnce({ retryDelayMs: 600_000 }) });
      const lost: string[] = [];
      consumer.on('error', (error, source) => void (error.code === 'DELIVERY_LOST' && lost.push(source)));
      let failures = 0;
      await consumer.start((d) => {
        if (d.messageId === 'fails' && failures++ === 0) throw new Error('once');
      });
      await until(() => consumer.health().waitingRetries === 1, 'the failed one waiting out its delay');
      q.faults.dropConnections();
      await until(() => consumer.health().waitingRetries === 0 && lost.length === 1, 'its wait ended by the loss');
      expect(lost).toEqual(['settle']);
      // Redelivered on the new connection (count + 1, as for every unsettled delivery of a lost one) and accepted.
      await until(() => q.depth('w') === 0, 'both accepted');
      expect(ends(q, 'w', 'fails')).toEqual(['returned-on-connection-loss', 'accepted']);
      expect(consumer.health().held).toBe(0);
      await consumer.close();
    });
  });
});

describe('health() (operations.md, "Health probes")', () => {
  it('every field, in each situation: idle, connecting, open with work in hand, after a lost connection, waiting retries, an outage, paused, closing, closed', async () => {
    await withQueue('h', named(['blocker', 'buffered', 'buffered 2'], 100), async (q) => {
      const consumer = devConsumer(q, 'h', {
        prefetch: 4,
        strategy: atLeastOnce({ retryDelayMs: 600_000 }),
        outage: { isOutage: (e) => e instanceof Error && e.message === 'sink down', probeDelayMs: 600_000, maxProbeDelayMs: 600_000 },
      });
      const zero = { accepted: 0, retried: 0, rejected: 0, released: 0, lost: 0, invalid: 0 };
      const quiet: ConsumerHealth = {
        state: 'idle',
        connected: false,
        endpoint: undefined,
        credit: 0,
        held: 0,
        inFlight: 0,
        buffered: 0,
        waitingRetries: 0,
        heldBytes: 0,
        lastDeliveryAt: undefined,
        reconnects: 0,
        stalledSince: undefined,
        counts: zero,
        paused: false,
        outage: undefined,
      };
      expect(consumer.health()).toEqual(quiet);

      // Bytes of the bodies held, by message id (the three queued, then the two published later).
      const sizes = new Map(q.browse('h').map((m) => [m.messageId, bodyBytes(m.body)]));
      const poisonBody = JSON.stringify(messages(1, 101)[0]);
      const bytes = (...ids: string[]): number => ids.reduce((n, id) => n + (id === 'poison' ? poisonBody.length : sizes.get(id)!), 0);
      const blocker = gate();
      const before = Date.now();
      const started = consumer.start(async (d) => {
        if (d.messageId === 'blocker' && d.deliveryCount === 0) await blocker.wait;
        if (d.messageId === 'poison') throw new Error('poison');
        if (d.messageId === 'down') throw new Error('sink down');
      });
      expect(consumer.health()).toEqual({ ...quiet, state: 'connecting' });
      await started;

      // Open: the blocker in the handler, two buffered behind it; the rest of the window is credit.
      await until(() => consumer.health().buffered === 2, 'one in the handler, two buffered');
      const endpoint = `amqp://${q.host}:5672`;
      const open = consumer.health();
      expect(open).toEqual({ ...quiet, state: 'open', connected: true, endpoint, credit: 1, held: 3, heldBytes: bytes('blocker', 'buffered', 'buffered 2'), inFlight: 1, buffered: 2, lastDeliveryAt: expect.any(Date) });
      expect(open.lastDeliveryAt!.getTime()).toBeGreaterThanOrEqual(before);
      expect(open.lastDeliveryAt!.getTime()).toBeLessThanOrEqual(Date.now());

      // A lost connection: the three are lost with it, the blocker still in the handler (where it
      // keeps its slot), and come again (count 1) on the new link, one reconnect.
      const reconnecting: ConsumerHealth[] = [];
      consumer.on('reconnecting', () => reconnecting.push(consumer.health()));
      expect(q.faults.dropConnections()).toBe(1);
      await until(() => consumer.health().reconnects === 1 && consumer.health().buffered === 3, 'reconnected, the three again behind the lost blocker');
      const lost = { ...zero, lost: 3 };
      expect(reconnecting[0]).toEqual({ ...open, state: 'reconnecting', connected: false, endpoint: undefined, credit: 0, held: 1, heldBytes: bytes('blocker'), buffered: 0, counts: lost });
      expect(consumer.health()).toEqual({ ...open, credit: 0, held: 4, heldBytes: bytes('blocker', 'blocker', 'buffered', 'buffered 2'), buffered: 3, reconnects: 1, lastDeliveryAt: expect.any(Date), counts: lost });
      blocker.open(); // the lost blocker's handler ends (its acceptance cannot be sent); the three are accepted
      await until(() => consumer.health().counts.accepted === 3 && consumer.health().credit === 4, 'the three accepted');
      const reconnected = consumer.health();
      expect(reconnected).toEqual({ ...open, credit: 4, held: 0, heldBytes: 0, inFlight: 0, buffered: 0, reconnects: 1, lastDeliveryAt: expect.any(Date), counts: { ...lost, accepted: 3 } });
      expect(reconnected.lastDeliveryAt!.getTime()).toBeGreaterThanOrEqual(open.lastDeliveryAt!.getTime());
      // The queue applies the acceptance when its frame arrives, a moment after the consumer counted it.
      await until(() => q.deliveries('h', 'blocker')[1]?.settlement !== undefined, 'the acceptance at the queue');
      expect(q.deliveries('h', 'blocker').map((d) => [d.deliveryCount, d.settlement])).toEqual([
        [0, 'returned-on-connection-loss'],
        [1, 'accepted'],
      ]);

      // A failed delivery waiting out its retry delay: held, outside the prefetch budget.
      const published = Date.now();
      q.publish('h', { body: poisonBody, messageId: 'poison' });
      await until(() => consumer.health().waitingRetries === 1 && consumer.health().credit === 4, 'the poison waiting');
      const waiting = consumer.health();
      expect(waiting).toEqual({ ...reconnected, held: 1, heldBytes: bytes('poison'), waitingRetries: 1, lastDeliveryAt: expect.any(Date) });
      expect(waiting.lastDeliveryAt!.getTime()).toBeGreaterThanOrEqual(published); // the poison's arrival

      // An outage: the waiting poison is handed back, and so is the failure that began it; with
      // nothing held, the link is closed until the next probe.
      const outageBegan = Date.now();
      q.publish('h', { body: JSON.stringify(messages(1, 102)[0]), messageId: 'down' });
      await until(() => consumer.health().outage !== undefined && consumer.health().held === 0 && !consumer.health().connected, 'the outage, nothing held, the link closed');
      // The link is closing: its hand-backs reach the queue as their frames arrive, and it is gone
      // once the queue has seen it detach (what the broker sent it meanwhile changes lastDeliveryAt).
      await until(() => q.connections === 0 && ends(q, 'h', 'poison')[0] !== undefined && ends(q, 'h', 'down')[0] !== undefined, 'the link gone, both hand-backs at the queue');
      const inOutage = consumer.health();
      expect(inOutage).toEqual({
        ...waiting,
        connected: false,
        endpoint: undefined,
        credit: 0,
        held: 0,
        heldBytes: 0,
        waitingRetries: 0,
        lastDeliveryAt: expect.any(Date),
        counts: { ...lost, accepted: 3, released: 2 },
        outage: { since: expect.any(Date), failedProbes: 0, nextProbeAt: expect.any(Date) },
      });
      expect(inOutage.outage!.since.getTime()).toBeGreaterThanOrEqual(outageBegan);
      // The first probe is due probeDelayMs after the outage began.
      expect(inOutage.outage!.nextProbeAt!.getTime()).toBeGreaterThanOrEqual(inOutage.outage!.since.getTime() + 600_000);
      expect(inOutage.outage!.nextProbeAt!.getTime()).toBeLessThanOrEqual(Date.now() + 600_000);
      expect([ends(q, 'h', 'poison')[0], ends(q, 'h', 'down')[0]]).toEqual(['released', 'released']);
      expect(q.browse('h').map((m) => [m.messageId, m.deliveryCount]).sort()).toEqual([['down', 0], ['poison', 0]]);

      // Paused during the outage: no probe is due while paused.
      consumer.pause();
      expect(consumer.health()).toEqual({ ...inOutage, paused: true, outage: { ...inOutage.outage!, nextProbeAt: undefined } });
      consumer.resume();
      expect(consumer.health()).toEqual(inOutage);

      const closing = consumer.close();
      expect(consumer.health().state).toBe('closing');
      const report = await closing;
      // Closed: no link, nothing held; the outage it closed in is still shown, with no probe due.
      expect(consumer.health()).toEqual({ ...inOutage, state: 'closed', outage: { ...inOutage.outage!, nextProbeAt: undefined } });
      expect(q.connections).toBe(0);
      expect(report).toEqual({ ...inOutage.counts, unfinished: 0, timedOut: false });
    });
  });
});

describe('health().outage while paused (OutageHealth.nextProbeAt: "`undefined` while one is under way (or the consumer is paused)")', () => {
  // Failed before the fix in outage-control.ts health(): `nextProbeAt` kept its time while paused.
  it('pause() during an outage: nextProbeAt is undefined; resume() schedules it again', async () => {
    await withQueue('np', named(['down'], 103), async (q) => {
      const consumer = devConsumer(q, 'np', { outage: { isOutage: () => true, probeDelayMs: 600_000, maxProbeDelayMs: 600_000 } });
      await consumer.start(() => {
        throw new Error('sink down');
      });
      await until(() => consumer.health().outage?.nextProbeAt !== undefined, 'the outage, a probe due');
      consumer.pause();
      expect(consumer.health()).toMatchObject({ paused: true, outage: { failedProbes: 0, nextProbeAt: undefined } });
      consumer.resume();
      expect(consumer.health().outage?.nextProbeAt).toBeInstanceOf(Date);
      await consumer.close();
    });
  });
});
