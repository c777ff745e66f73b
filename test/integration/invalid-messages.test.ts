// Undecodable messages never reach the handler and are never settled before the user's hook
// has had them; then the policy decides (reject by default).
import { describe, expect, it } from 'vitest';
import type { QueueStats } from '../../scripts/activemq.mjs';
import { OutreachConsumer, type InvalidMessage, type Outreach, type SettleOutcome } from '../../src/index.js';
import { makeOutreachMessages } from '../../src/testing/index.js';
import { consumerOptions, dlqSize, expectQueueSize, queueStatsOf, sendAmqp, sharedBroker, uniqueQueue, waitFor } from './support.js';

const broker = sharedBroker();
const good = () => JSON.stringify([...makeOutreachMessages(1, { seed: 31 })][0]);
const broken = JSON.stringify({ ...JSON.parse(good()), students: [{ institutionPersonID: 1, emailAddress: 12, firstName: 'Scarlett' }] });

/** How long the hooks below take: long enough that a settlement sent before the hook is done shows. */
const HOOK_MS = 300;

/**
 * Records, per message id, when an `onInvalid` hook started and when its promise resolved, and
 * every settlement with its time. `settledBefore(id)` is what was settled for that message before
 * its hook had resolved: it must stay empty.
 */
function hookClock() {
  const hooks = new Map<string, { startedAt: number; resolvedAt?: number }>();
  const settlements: { messageId: string; outcome: SettleOutcome; at: number }[] = [];
  return {
    hooks,
    settlements,
    started(invalid: InvalidMessage): void {
      hooks.set(String(invalid.messageId), { startedAt: performance.now() });
    },
    /** Call as the hook's very last statement: its promise resolves right after. */
    resolving(invalid: InvalidMessage): void {
      hooks.get(String(invalid.messageId))!.resolvedAt = performance.now();
    },
    listen(consumer: OutreachConsumer<Outreach>): void {
      consumer.on('settled', (d, outcome) => settlements.push({ messageId: String(d.messageId), outcome, at: performance.now() }));
    },
    of(messageId: string) {
      return settlements.filter((s) => s.messageId === messageId);
    },
  };
}

/** Every hooked message was settled once, with `outcome`, and not before its hook resolved. */
function expectSettledAfterHooks(clock: ReturnType<typeof hookClock>, outcome: SettleOutcome, hooked: number): void {
  expect(clock.hooks.size).toBe(hooked);
  for (const [messageId, hook] of clock.hooks) {
    expect(hook.resolvedAt, `the hook for ${messageId} resolved`).toBeDefined();
    expect(hook.resolvedAt! - hook.startedAt).toBeGreaterThanOrEqual(HOOK_MS - 5); // the hook really was slow
    const settled = clock.of(messageId);
    expect(settled.map((s) => s.outcome), `settlements of ${messageId}`).toEqual([outcome]);
    expect(settled[0]!.at, `${messageId} settled ${(hook.resolvedAt! - settled[0]!.at).toFixed(0)} ms before its hook resolved`).toBeGreaterThanOrEqual(hook.resolvedAt!);
  }
}

describe('invalid messages', () => {
  it('go to onInvalid with the raw body and the error, then are rejected (dead-lettered) by default, only after the hook resolved', async () => {
    const queue = uniqueQueue('invalid');
    const dlqBefore = await dlqSize(broker);
    await sendAmqp(broker, queue, [good(), 'not json at all', broken, good()], { durable: true });
    const hooked: InvalidMessage[] = [];
    const events: InvalidMessage[] = [];
    const sources: string[] = [];
    let handled = 0;
    const settled: SettleOutcome[] = [];
    const clock = hookClock();
    const consumer = new OutreachConsumer(
      consumerOptions(broker, queue, {
        onInvalid: async (invalid) => {
          clock.started(invalid);
          await new Promise((r) => setTimeout(r, HOOK_MS));
          hooked.push(invalid);
          clock.resolving(invalid);
        },
      }),
    );
    consumer.on('invalid', (invalid) => events.push(invalid));
    consumer.on('error', (_e, source) => sources.push(source));
    consumer.on('settled', (_d, outcome) => settled.push(outcome));
    clock.listen(consumer);
    await consumer.start(() => {
      handled++;
    });
    await waitFor(() => settled.length === 4, 'four settlements', 20_000).catch((e: unknown) => {
      console.log({ settled, handled, hooked: hooked.length, events: events.length, sources, health: consumer.health() });
      throw e;
    });
    await waitFor(() => hooked.length === 2, 'both hooks to finish');
    await consumer.close();
    // Neither invalid message was settled while its (slow) hook was still running.
    expectSettledAfterHooks(clock, 'rejected', 2);
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
    await waitFor(async () => (await dlqSize(broker)) === dlqBefore + 2, 'two messages in ActiveMQ.DLQ');
  });

  it('with invalidPolicy accept, are deleted once the hook has them, and not before', async () => {
    const queue = uniqueQueue('invalid-accept');
    await sendAmqp(broker, queue, ['{"half":'], { durable: true });
    const kinds: string[] = [];
    const clock = hookClock();
    // The broker's view while the hook still runs: an acceptance sent early would delete the
    // message (and lose it, if the hook then failed to store it).
    let brokerDuringHook: QueueStats | undefined;
    const consumer = new OutreachConsumer(
      consumerOptions(broker, queue, {
        invalidPolicy: 'accept',
        onInvalid: async (invalid) => {
          clock.started(invalid);
          await new Promise((r) => setTimeout(r, HOOK_MS));
          brokerDuringHook = await queueStatsOf(broker, queue);
          kinds.push(invalid.error.kind);
          clock.resolving(invalid);
        },
      }),
    );
    const settled: SettleOutcome[] = [];
    consumer.on('settled', (_d, outcome) => settled.push(outcome));
    clock.listen(consumer);
    await consumer.start(() => undefined);
    await waitFor(() => settled.length === 1, 'the settlement');
    await waitFor(() => kinds.length === 1, 'the hook to finish');
    await consumer.close();
    expectSettledAfterHooks(clock, 'accepted', 1);
    expect(brokerDuringHook).toMatchObject({ size: 1, dequeued: 0 });
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
