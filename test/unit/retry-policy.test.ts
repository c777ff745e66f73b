// The bounded-retry rule shared by atLeastOnce and batched, on deliveries that record how they
// were settled (the broker side of it is in test/integration/strategies.test.ts).
import { describe, expect, it } from 'vitest';
import { defaultRetryDelayMs } from '../../src/index.js';
import { silentLogger as silentLoggerForTests } from '../../src/logger.js';
import { retryOrDeadLetter, retrySettings } from '../../src/ack/retry-policy.js';
import type { OutreachDelivery } from '../../src/index.js';

function delivery(deliveryCount: number, outcome?: 'lost') {
  const settledAs: string[] = [];
  const d = {
    deliveryCount,
    messageId: 'ID:1',
    outcome,
    get settled() {
      return settledAs.length > 0;
    },
    retry: () => settledAs.push('retried') > 0,
    reject: () => settledAs.push('rejected') > 0,
  };
  return { d: d as unknown as OutreachDelivery<unknown>, settledAs };
}
const context = (errors: string[] = [], outage = false, waits: number[] = []) => ({
  signal: new AbortController().signal,
  prefetch: 10,
  logger: silentLoggerForTests,
  reportError: (e: { code: string }) => void errors.push(e.code),
  wait: (ms: number) => (waits.push(ms), Promise.resolve()),
  noteFailure: () => outage,
  working: () => undefined,
});

describe('retry policy', () => {
  it('waits 1 s, doubling, at most 30 s by default', () => {
    expect([1, 2, 3, 4, 5, 6, 10].map(defaultRetryDelayMs)).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000]);
  });

  it('retries while attempts remain and rejects after the dead-letter hook on the last', async () => {
    const hooked: number[] = [];
    const settings = retrySettings({ maxAttempts: 3, retryDelayMs: 0, onDeadLetter: (d) => void hooked.push(d.deliveryCount) });
    const first = delivery(0);
    await retryOrDeadLetter(first.d, new Error('x'), settings, context());
    const last = delivery(2);
    await retryOrDeadLetter(last.d, new Error('x'), settings, context());
    expect([first.settledAs, last.settledAs, hooked]).toEqual([['retried'], ['rejected'], [2]]);
  });

  it('passes the attempt to a delay function, and survives one that throws', async () => {
    const asked: number[] = [];
    const settings = retrySettings({ maxAttempts: 9, retryDelayMs: (attempt) => (asked.push(attempt), 0) });
    await retryOrDeadLetter(delivery(3).d, new Error('x'), settings, context());
    expect(asked).toEqual([4]);
    const broken = retrySettings({ retryDelayMs: () => { throw new Error('bug'); } });
    expect(broken.retryDelayMs(1)).toBe(1000);
  });

  it('waits through the context (outside the handler slot) before retrying', async () => {
    const waits: number[] = [];
    const { d, settledAs } = delivery(1);
    await retryOrDeadLetter(d, new Error('x'), retrySettings({}), context([], false, waits));
    expect(waits).toEqual([2000]);
    expect(settledAs).toEqual(['retried']);
  });

  it('neither retries nor dead-letters a delivery during an outage: the consumer hands it back', async () => {
    const hooked: number[] = [];
    const settings = retrySettings({ maxAttempts: 1, onDeadLetter: (d) => void hooked.push(d.deliveryCount) });
    const { d, settledAs } = delivery(4);
    await retryOrDeadLetter(d, new Error('sink down'), settings, context([], true));
    expect(settledAs).toEqual([]);
    expect(hooked).toEqual([]);
  });

  it('waits the number given, and leaves alone a delivery settled, lost, or handed back meanwhile', async () => {
    const waits: number[] = [];
    const settings = retrySettings({ retryDelayMs: 1234, onDeadLetter: () => void waits.push(-1) });
    await retryOrDeadLetter(delivery(0).d, new Error('x'), settings, context([], false, waits));
    expect(waits).toEqual([1234]);
    // Settled (e.g. handed back by an outage) while it waited: not retried.
    const handedBack = delivery(0);
    const ctx = { ...context(), wait: () => ((handedBack.d as unknown as { retry(): void }).retry(), Promise.resolve()) };
    await retryOrDeadLetter(handedBack.d, new Error('x'), settings, ctx);
    expect(handedBack.settledAs).toEqual(['retried']);
    // Lost with its connection: nothing to do, the broker redelivers it.
    const lost = delivery(4, 'lost');
    await retryOrDeadLetter(lost.d, new Error('x'), retrySettings({ maxAttempts: 1, onDeadLetter: () => void waits.push(-2) }), context());
    expect(waits).toEqual([1234]);
    expect(lost.settledAs).toEqual([]);
  });

  it('rejects on the last attempt without a hook, naming the attempts; a hook that settles it is not overruled', async () => {
    const last = delivery(2);
    const reasons: string[] = [];
    (last.d as unknown as { reject: (r: string) => void }).reject = (r: string) => void (reasons.push(r), last.settledAs.push('rejected'));
    await retryOrDeadLetter(last.d, new Error('x'), retrySettings({ maxAttempts: 3 }), context());
    expect(last.settledAs).toEqual(['rejected']);
    expect(reasons).toEqual(['failed 3 attempts']);
    const own = delivery(2);
    await retryOrDeadLetter(own.d, new Error('x'), retrySettings({ maxAttempts: 3, onDeadLetter: (d) => void d.retry() }), context());
    expect(own.settledAs).toEqual(['retried']);
  });

  it('refuses settings that cannot work, and takes the edges', () => {
    const refuse = (f: () => unknown): void => expect(f).toThrowError(expect.objectContaining({ code: 'INVALID_ARGUMENT' }) as Error);
    refuse(() => retrySettings({ maxAttempts: 0 }));
    refuse(() => retrySettings({ maxAttempts: 1.5 }));
    refuse(() => retrySettings({ retryDelayMs: -1 }));
    refuse(() => retrySettings({ retryDelayMs: 2 ** 31 }));
    refuse(() => retrySettings({ retryDelayMs: Number.NaN }));
    expect(retrySettings({ retryDelayMs: 2 ** 31 - 1 }).retryDelayMs(1)).toBe(2 ** 31 - 1);
    expect(retrySettings({ retryDelayMs: 0, maxAttempts: 1 }).maxAttempts).toBe(1);
  });
});
