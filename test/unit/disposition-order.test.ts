// "Dispositions leave in the order they were decided" (docs/delivery-guarantees.md, "What goes on
// the wire"), held exactly: the dev queue numbers each settlement in the order it applied it
// (DevQueueDelivery.settledOrder), and that order must be the order the code settled in, with
// each delivery's own outcome, whatever mix of outcomes and turns.
import { describe, expect, it } from 'vitest';
import { manual, type OutreachDelivery } from '../../src/index.js';
import { makeOutreachMessages, startDevQueue, type DevQueue, type DevQueueSettlement } from '../../src/testing/index.js';
import { devConsumer, until } from './dev-consumer.js';

type Step = readonly [index: number, how: 'accept' | 'release' | 'retry' | 'reject'];
const onTheQueue: Record<Step[1], DevQueueSettlement> = { accept: 'accepted', release: 'released', retry: 'modified', reject: 'rejected' };

/** The first deliveries of `held`, as the queue applied their settlements: [index, settlement], in order. */
function appliedOrder(q: DevQueue, queue: string, held: readonly OutreachDelivery[]): [number, DevQueueSettlement | undefined][] {
  return held
    .map((d, i) => ({ i, first: q.deliveries(queue, d.messageId!)[0]! }))
    .filter((r) => r.first.settledOrder !== undefined)
    .sort((a, b) => a.first.settledOrder! - b.first.settledOrder!)
    .map((r) => [r.i, r.first.settlement]);
}

const settle = (d: OutreachDelivery, how: Step[1]): boolean => (how === 'reject' ? d.reject('test') : d[how]());

async function holdEight(q: DevQueue, queue: string): Promise<{ held: OutreachDelivery[]; close: () => Promise<unknown> }> {
  const consumer = devConsumer(q, queue, { strategy: manual(), prefetch: 8 });
  const held: OutreachDelivery[] = [];
  await consumer.start((delivery) => void held.push(delivery), { concurrency: 8 });
  await until(() => held.length === 8, 'eight held');
  // Released and retried messages come again and are left unsettled: close() waits no longer than this.
  return { held: held.slice(0, 8), close: () => consumer.close({ deadlineMs: 10 }) };
}

describe('dispositions leave in the order decided (dev queue settledOrder)', () => {
  it('settled in one synchronous turn, mixed outcomes, ids interleaved: applied in exactly that order', async () => {
    const q = await startDevQueue({ network: false, queues: { o: [...makeOutreachMessages(8, { seed: 61 })] } });
    try {
      const { held, close } = await holdEight(q, 'o');
      const steps: Step[] = [
        [0, 'retry'],
        [1, 'reject'], // adjacent to the retried 0, same turn: rhea alone would give it 0's outcome
        [3, 'accept'],
        [4, 'accept'], // adjacent to 3, same outcome: may share its frame
        [2, 'release'], // after two acceptances that wait to be written
        [6, 'accept'],
        [5, 'reject'],
        [7, 'release'],
      ];
      for (const [i, how] of steps) settle(held[i]!, how);
      await until(() => appliedOrder(q, 'o', held).length === 8, 'all eight applied');
      expect(appliedOrder(q, 'o', held)).toEqual(steps.map(([i, how]) => [i, onTheQueue[how]]));
      await close();
    } finally {
      await q.close();
    }
  });

  it('across turns, including one that runs while the acceptances of the turn before still wait to be written', async () => {
    const q = await startDevQueue({ network: false, queues: { t: [...makeOutreachMessages(8, { seed: 62 })] } });
    try {
      const { held, close } = await holdEight(q, 't');
      const decided: Step[] = [];
      const run = (steps: Step[]): void => {
        for (const [i, how] of steps) {
          settle(held[i]!, how);
          decided.push([i, how]);
        }
      };
      // Scheduled before any acceptance: this immediate runs before the one that writes them.
      const early = new Promise<void>((resolve) =>
        setImmediate(() => {
          run([
            [2, 'release'],
            [3, 'accept'],
          ]);
          resolve();
        }),
      );
      run([
        [0, 'accept'],
        [1, 'accept'],
      ]);
      await early;
      await new Promise((resolve) => setTimeout(resolve, 1));
      run([
        [5, 'accept'],
        [4, 'retry'],
      ]);
      await new Promise((resolve) => setImmediate(resolve));
      run([
        [6, 'release'],
        [7, 'reject'],
      ]);
      await until(() => appliedOrder(q, 't', held).length === 8, 'all eight applied');
      expect(appliedOrder(q, 't', held)).toEqual(decided.map(([i, how]) => [i, onTheQueue[how]]));
      await close();
    } finally {
      await q.close();
    }
  });
});
