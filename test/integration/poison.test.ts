// Poison messages (a handler that always throws for them, or a body that does not decode) mixed
// into a good stream, with the default retry delays (1 s, 2 s, 4 s, 8 s): they wait out their
// delays outside the handler slots, reach onDeadLetter once each, and do not stall the good
// messages behind them. Every message is counted by its outreach id.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { atLeastOnce, OutreachConsumer, type OutageInfo, type SettleOutcome } from '../../src/index.js';
import { makeOutreachMessages } from '../../src/testing/index.js';
import {
  consumerOptions,
  dlqSize,
  expectQueueSize,
  sendAmqp,
  seededShuffle,
  sharedBroker,
  tally,
  uniqueQueue,
  waitFor,
} from './support.js';

const broker = sharedBroker();

/** `n` valid outreach bodies whose ids start with `prefix` and are unique to this run. */
function outreachBodies(n: number, prefix: string, seed: number): { ids: string[]; bodies: string[] } {
  const run = randomUUID().slice(0, 8);
  const messages = [...makeOutreachMessages(n, { seed, students: 1 })].map((m, i) => ({ ...m, outreachId: `${prefix}-${run}-${i}` }));
  return { ids: messages.map((m) => m.outreachId), bodies: messages.map((m) => JSON.stringify(m)) };
}

const isPoison = (id: string): boolean => id.startsWith('poison-');
const idOf = (outreach: unknown): string | undefined => (outreach as { outreachId?: string } | undefined)?.outreachId;

describe('poison messages', () => {
  it('100 always-failing and 100 undecodable among 800 good (concurrency 8, default delays): good throughput at least half of a clean run', async () => {
    const concurrency = 8;
    const sinkMs = 10; // one sink call per good message
    const good = 800;

    /** Drains a queue with the default options; the clock runs from start() to the last good message handled. */
    const run = async (label: string, bodies: string[], goodIds: readonly string[]) => {
      const queue = uniqueQueue(`poison-${label}`);
      await sendAmqp(broker, queue, bodies, { durable: true });
      await expectQueueSize(broker, queue, bodies.length, 60_000);
      const handled = tally();
      const deadLettered = tally();
      const seenCounts = new Map<string, number[]>();
      const outages: OutageInfo[] = [];
      const outcomes = new Map<string, SettleOutcome[]>();
      let invalid = 0;
      let maxHeld = 0;
      let maxWaiting = 0;
      const consumer = new OutreachConsumer(
        consumerOptions(broker, queue, {
          strategy: atLeastOnce({ onDeadLetter: (d) => deadLettered.add(d.outreach.outreachId) }),
        }),
      );
      consumer.on('error', () => undefined);
      consumer.on('invalid', () => invalid++);
      consumer.on('outage', (info) => outages.push(info));
      consumer.on('settled', (d, outcome) => {
        const id = idOf(d.outreach) ?? `invalid:${String(d.messageId)}`;
        outcomes.set(id, [...(outcomes.get(id) ?? []), outcome]);
      });
      const startedAt = performance.now();
      await consumer.start(
        async (delivery) => {
          const id = delivery.outreach.outreachId;
          seenCounts.set(id, [...(seenCounts.get(id) ?? []), delivery.deliveryCount]);
          const health = consumer.health();
          maxHeld = Math.max(maxHeld, health.held);
          maxWaiting = Math.max(maxWaiting, health.waitingRetries);
          await sleep(sinkMs);
          if (isPoison(id)) throw new Error(`the CRM refuses record ${id}`);
          handled.add(id);
        },
        { concurrency },
      );
      await waitFor(() => goodIds.every((id) => handled.count(id) > 0), `${label}: every good message handled`, 170_000);
      const ms = performance.now() - startedAt;
      return { queue, consumer, ms, handled, deadLettered, seenCounts, outages, outcomes, startedAt, invalid: () => invalid, maxHeld: () => maxHeld, maxWaiting: () => maxWaiting };
    };

    // Clean: 800 good messages only.
    const clean = outreachBodies(good, 'good', 1000);
    const base = await run('clean', clean.bodies, clean.ids);
    const baseReport = await base.consumer.close();
    expect(base.handled.repeated()).toEqual([]);
    expect(baseReport.accepted).toBe(good);

    // Poisoned: 800 other good messages, 100 whose handler always throws, 100 not JSON, shuffled.
    const goodSet = outreachBodies(good, 'good', 3000);
    const poison = outreachBodies(100, 'poison', 5000);
    const undecodable = Array.from({ length: 100 }, (_, i) => `not json ${i}`);
    const dlqBefore = await dlqSize(broker);
    const mixed = await run('mixed', seededShuffle([...goodSet.bodies, ...poison.bodies, ...undecodable], 7), goodSet.ids);
    const ratio = base.ms / mixed.ms;
    const atGoodDone = { deadLettered: mixed.deadLettered.size, invalid: mixed.invalid(), waiting: mixed.consumer.health().waitingRetries };
    console.log(
      `poison (a): ${good} good alone in ${base.ms.toFixed(0)} ms (${((good / base.ms) * 1000).toFixed(0)}/s); ` +
        `mixed with 100 failing + 100 undecodable in ${mixed.ms.toFixed(0)} ms (${((good / mixed.ms) * 1000).toFixed(0)}/s): ratio ${ratio.toFixed(2)}. ` +
        `When the last good one was done: ${atGoodDone.deadLettered}/100 failing ones dead-lettered, ${atGoodDone.invalid}/100 undecodable rejected, ` +
        `${atGoodDone.waiting} waiting out a retry delay; peak held ${mixed.maxHeld()}, peak waiting ${mixed.maxWaiting()}`,
    );

    // The failing ones wait out 1 + 2 + 4 + 8 s before onDeadLetter: wait for them, then count.
    await waitFor(() => mixed.deadLettered.size === 100, 'every failing message dead-lettered', 120_000);
    const allDeadAfterMs = performance.now() - mixed.startedAt;
    const report = await mixed.consumer.close();
    console.log(`poison (a): all 100 dead-lettered ${(allDeadAfterMs / 1000).toFixed(1)} s after start; outages ${JSON.stringify(mixed.outages)}; close report ${JSON.stringify(report)}`);

    // Every good message once, none dead-lettered.
    expect(goodSet.ids.filter((id) => mixed.handled.count(id) !== 1)).toEqual([]);
    expect(goodSet.ids.filter((id) => mixed.deadLettered.count(id) > 0)).toEqual([]);
    expect(goodSet.ids.filter((id) => mixed.outcomes.get(id)?.join() !== 'accepted')).toEqual([]);
    // No outage: 10% failing messages do not make five fresh failures in a row here (chance
    // about 1 in 100,000 per message; were one to fire, the event payload is printed above).
    expect(mixed.outages).toEqual([]);
    // Each failing message: attempts 0..4, then onDeadLetter once, then rejected.
    expect(poison.ids.filter((id) => mixed.seenCounts.get(id)?.join() !== '0,1,2,3,4')).toEqual([]);
    expect(poison.ids.filter((id) => mixed.deadLettered.count(id) !== 1)).toEqual([]);
    expect(poison.ids.filter((id) => mixed.outcomes.get(id)?.join() !== 'retried,retried,retried,retried,rejected')).toEqual([]);
    expect(mixed.invalid()).toBe(100);
    expect(report).toMatchObject({ accepted: good, retried: 400, rejected: 200, released: 0, lost: 0, invalid: 100 });
    expect(ratio).toBeGreaterThanOrEqual(0.5);
    await expectQueueSize(broker, mixed.queue, 0);
    await waitFor(async () => (await dlqSize(broker)) === dlqBefore + 200, '200 more messages in ActiveMQ.DLQ');
  }, 400_000);

  it('concurrency 1: one always-failing message does not hold up the 50 good ones behind it', async () => {
    const queue = uniqueQueue('poison-one');
    const poison = outreachBodies(1, 'poison', 7000);
    const goodSet = outreachBodies(50, 'good', 7100);
    await sendAmqp(broker, queue, [...poison.bodies, ...goodSet.bodies], { durable: true });
    await expectQueueSize(broker, queue, 51);
    const handled = tally();
    const poisonAttempts: { at: number; count: number }[] = [];
    const goodAt: number[] = [];
    const deadLettered: string[] = [];
    const consumer = new OutreachConsumer(
      consumerOptions(broker, queue, { strategy: atLeastOnce({ onDeadLetter: (d) => void deadLettered.push(d.outreach.outreachId) }) }),
    );
    consumer.on('error', () => undefined);
    const outages: OutageInfo[] = [];
    consumer.on('outage', (info) => outages.push(info));
    const startedAt = performance.now();
    await consumer.start(async (delivery) => {
      const id = delivery.outreach.outreachId;
      if (isPoison(id)) {
        poisonAttempts.push({ at: performance.now() - startedAt, count: delivery.deliveryCount });
        throw new Error('the CRM refuses this record');
      }
      await sleep(20); // 50 x 20 ms: about a second of work, while the poison one waits 1 s, 2 s...
      handled.add(id);
      goodAt.push(performance.now() - startedAt);
    });
    await waitFor(() => handled.size === 50, 'the 50 good messages', 30_000);
    const goodDoneMs = performance.now() - startedAt;
    const attemptsByThen = poisonAttempts.length;
    await waitFor(() => deadLettered.length === 1, 'the poison message dead-lettered', 40_000);
    await consumer.close();
    console.log(
      `poison (b): 50 good done ${goodDoneMs.toFixed(0)} ms after start (first at ${goodAt[0]!.toFixed(0)} ms), when the poison one had had ${attemptsByThen} attempt(s); ` +
        `its attempts at ${poisonAttempts.map((a) => `${(a.at / 1000).toFixed(1)} s`).join(', ')}`,
    );
    expect(goodDoneMs).toBeLessThan(10_000);
    expect(attemptsByThen).toBeLessThan(5); // the good ones did not wait for its 15 s of delays
    expect(goodAt[0]!).toBeLessThan(poisonAttempts[1]?.at ?? Number.POSITIVE_INFINITY); // they ran during its first delay
    expect(handled.repeated()).toEqual([]);
    expect(poisonAttempts.map((a) => a.count)).toEqual([0, 1, 2, 3, 4]);
    expect(deadLettered).toEqual(poison.ids);
    expect(outages).toEqual([]);
    await expectQueueSize(broker, queue, 0);
  }, 120_000);

  it('onInvalid that throws: retried after 1 s, 2 s, 4 s, 8 s, then rejected; never settled before the hook is done; good messages keep flowing', async () => {
    const queue = uniqueQueue('poison-hook');
    const goodSet = outreachBodies(60, 'good', 7200);
    const dlqBefore = await dlqSize(broker);
    await sendAmqp(broker, queue, ['not json: the quarantine store is down', ...goodSet.bodies], { durable: true });
    await expectQueueSize(broker, queue, 61);
    const hookCalls: { start: number; end: number; count: number }[] = [];
    const invalidSettled: { at: number; outcome: SettleOutcome }[] = [];
    const handledAt: number[] = [];
    const handled = tally();
    let startedAt = 0;
    const consumer = new OutreachConsumer(
      consumerOptions(broker, queue, {
        onInvalid: async (invalid) => {
          const call = { start: performance.now() - startedAt, end: Number.NaN, count: invalid.deliveryCount };
          hookCalls.push(call);
          await sleep(300); // a slow quarantine store that then fails
          call.end = performance.now() - startedAt;
          throw new Error('quarantine store down');
        },
      }),
    );
    consumer.on('error', () => undefined);
    consumer.on('settled', (d, outcome) => {
      if (d.outreach === undefined) invalidSettled.push({ at: performance.now() - startedAt, outcome });
    });
    const outages: OutageInfo[] = [];
    consumer.on('outage', (info) => outages.push(info));
    startedAt = performance.now();
    await consumer.start(
      async (delivery) => {
        await sleep(250); // 60 x 250 ms: the good messages flow for about 15 s, as long as the hook's retries
        handled.add(delivery.outreach.outreachId);
        handledAt.push(performance.now() - startedAt);
      },
      { concurrency: 1 },
    );
    await waitFor(() => invalidSettled.some((s) => s.outcome === 'rejected'), 'the undecodable message rejected', 40_000);
    await waitFor(() => handled.size === 60, 'the good messages', 30_000);
    await consumer.close();
    const gaps = hookCalls.slice(1).map((c, i) => c.start - hookCalls[i]!.start);
    console.log(
      `poison (c): hook calls at ${hookCalls.map((c) => `${(c.start / 1000).toFixed(2)} s`).join(', ')} (gaps ${gaps.map((g) => g.toFixed(0)).join(', ')} ms); ` +
        `settled ${invalidSettled.map((s) => `${s.outcome}@${(s.at / 1000).toFixed(2)} s`).join(', ')}; good handled between hook calls: ` +
        hookCalls
          .slice(1)
          .map((c, i) => handledAt.filter((t) => t > hookCalls[i]!.start && t < c.start).length)
          .join(', '),
    );
    expect(hookCalls.map((c) => c.count)).toEqual([0, 1, 2, 3, 4]);
    expect(invalidSettled.map((s) => s.outcome)).toEqual(['retried', 'retried', 'retried', 'retried', 'rejected']);
    // Each settlement came after the hook's promise had rejected, never while it ran.
    invalidSettled.forEach((s, i) => expect(s.at).toBeGreaterThanOrEqual(hookCalls[i]!.end));
    // The waits grow: 1 s, 2 s, 4 s, 8 s (plus the hook's 300 ms); generous lower bounds.
    gaps.forEach((gap, i) => expect(gap).toBeGreaterThanOrEqual(800 * 2 ** i));
    // Good messages kept flowing during every wait, with the handler's one slot.
    hookCalls.slice(1).forEach((c, i) => expect(handledAt.filter((t) => t > hookCalls[i]!.start && t < c.start).length).toBeGreaterThan(0));
    expect(handled.repeated()).toEqual([]);
    expect(outages).toEqual([]);
    await expectQueueSize(broker, queue, 0);
    await waitFor(async () => (await dlqSize(broker)) === dlqBefore + 1, 'the undecodable message in ActiveMQ.DLQ');
  }, 120_000);

  // rhea 3.0.5 wrote an undecodable message's reject and its neighbour's accept in one
  // disposition frame when they fell in the same tick, with the first one's outcome for both (see
  // outage.test.ts (e)): with a synchronous handler, good messages went to ActiveMQ.DLQ and
  // undecodable ones were deleted (measured: 43 and 47 of 50), though the client reported each
  // outcome right. Passes since the consumer writes pending dispositions first.
  it('undecodable messages next to good ones, synchronous handler: ActiveMQ.DLQ receives exactly the undecodable ones', async () => {
    const queue = uniqueQueue('poison-pairs');
    const goodSet = outreachBodies(50, 'good', 7300);
    const bodies = goodSet.bodies.flatMap((body, i) => [`not json ${i}`, body]);
    const dlqBefore = await dlqSize(broker);
    await sendAmqp(broker, queue, bodies, { durable: true });
    await expectQueueSize(broker, queue, 100);
    const handled = tally();
    const outcomes: Record<string, number> = {};
    const consumer = new OutreachConsumer(consumerOptions(broker, queue));
    consumer.on('error', () => undefined);
    consumer.on('settled', (_d, outcome) => (outcomes[outcome] = (outcomes[outcome] ?? 0) + 1));
    await consumer.start((delivery) => void handled.add(delivery.outreach.outreachId));
    await waitFor(() => handled.size === 50 && (outcomes['rejected'] ?? 0) === 50, 'every message settled', 30_000);
    await consumer.close();
    await expectQueueSize(broker, queue, 0);
    let dlq = 0;
    await waitFor(async () => (dlq = await dlqSize(broker)) === dlqBefore + 50, '50 more in ActiveMQ.DLQ', 10_000).catch(() => undefined);
    console.log(`poison (d): client settled ${JSON.stringify(outcomes)}; ActiveMQ.DLQ grew by ${dlq - dlqBefore} (50 expected)`);
    expect(handled.repeated()).toEqual([]);
    expect(outcomes).toEqual({ accepted: 50, rejected: 50 });
    expect(dlq - dlqBefore).toBe(50);
  }, 60_000);
});
