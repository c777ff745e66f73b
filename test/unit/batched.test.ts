// The batched strategy's own rules, on deliveries that record how they were settled (its
// behaviour with the broker and PostgreSQL is in test/integration/batched-postgres.test.ts).
import { describe, expect, it } from 'vitest';
import { batched, type Outreach, type OutreachDelivery, type SettleOutcome } from '../../src/index.js';
import { silentLogger } from '../../src/logger.js';

function delivery(id: string, initial?: SettleOutcome) {
  const settledAs: string[] = [];
  let outcome = initial;
  const d = {
    messageId: id,
    deliveryCount: 0,
    markLost: () => void (outcome = 'lost'),
    get outcome() {
      return outcome ?? (settledAs[0] as SettleOutcome | undefined);
    },
    get settled() {
      return settledAs.length > 0;
    },
    accept: () => settledAs.push('accepted') > 0,
    retry: () => settledAs.push('retried') > 0,
    reject: () => settledAs.push('rejected') > 0,
  };
  return { d: d as unknown as OutreachDelivery<Outreach>, settledAs };
}

function context(abort = new AbortController(), errors: string[] = []) {
  return {
    signal: abort.signal,
    prefetch: 10,
    logger: silentLogger,
    reportError: (e: { code: string }) => void errors.push(e.code),
    wait: () => Promise.resolve(),
    noteFailure: () => false,
    working: () => undefined,
  };
}

describe('batched', () => {
  it('commits full batches, then accepts them', async () => {
    const committed: string[][] = [];
    const strategy = batched({ size: 2, maxWaitMs: 60_000, commit: async (batch) => void committed.push(batch.map((d) => String(d.messageId))) });
    const [a, b, c] = [delivery('a'), delivery('b'), delivery('c')];
    const ctx = context();
    for (const x of [a, b, c]) strategy.onSuccess(x.d, ctx);
    await strategy.flush!(ctx);
    expect(committed).toEqual([['a', 'b'], ['c']]);
    expect([a, b, c].map((x) => x.settledAs)).toEqual([['accepted'], ['accepted'], ['accepted']]);
  });

  it('leaves out deliveries lost with their connection, and ignores work finished after close() gave up', async () => {
    const committed: string[][] = [];
    const strategy = batched({ size: 5, maxWaitMs: 60_000, commit: async (batch) => void committed.push(batch.map((d) => String(d.messageId))) });
    const abort = new AbortController();
    const ctx = context(abort);
    const lost = delivery('lost', 'lost');
    const kept = delivery('kept');
    strategy.onSuccess(lost.d, ctx);
    strategy.onSuccess(kept.d, ctx);
    abort.abort();
    const late = delivery('late');
    strategy.onSuccess(late.d, ctx);
    await strategy.flush!(ctx);
    expect(committed).toEqual([['kept']]);
    expect([lost.settledAs, late.settledAs]).toEqual([[], []]);
  });

  it('keeps working after a commit fails', async () => {
    let calls = 0;
    const strategy = batched({
      size: 1,
      retryDelayMs: 0,
      commit: async () => {
        if (++calls === 1) throw new Error('database down');
      },
    });
    const errors: string[] = [];
    const ctx = context(new AbortController(), errors);
    const first = delivery('first');
    const second = delivery('second');
    strategy.onSuccess(first.d, ctx);
    strategy.onSuccess(second.d, ctx);
    await strategy.flush!(ctx);
    expect(first.settledAs).toEqual(['retried']);
    expect(second.settledAs).toEqual(['accepted']);
    expect(errors).toEqual(['HANDLER_FAILED']);
  });

  it('leaves out a delivery lost after it joined the batch, and commits nothing for an empty flush', async () => {
    const committed: string[][] = [];
    const strategy = batched({ size: 5, maxWaitMs: 60_000, commit: async (batch) => void committed.push(batch.map((d) => String(d.messageId))) });
    const ctx = context();
    await strategy.flush!(ctx);
    expect(committed).toEqual([]);
    const [a, b] = [delivery('a'), delivery('b')];
    strategy.onSuccess(a.d, ctx);
    strategy.onSuccess(b.d, ctx);
    (a.d as unknown as { markLost(): void }).markLost();
    await strategy.flush!(ctx);
    expect(committed).toEqual([['b']]);
    expect(a.settledAs).toEqual([]);
  });

  it('commits a full batch once, not again when its timer would have fired', async () => {
    let commits = 0;
    const strategy = batched({ size: 2, maxWaitMs: 20, commit: async () => void commits++ });
    const ctx = context();
    strategy.onSuccess(delivery('a').d, ctx);
    strategy.onSuccess(delivery('b').d, ctx);
    await new Promise((r) => setTimeout(r, 60));
    expect(commits).toBe(1);
  });

  it('refuses settings that cannot work, and takes the edges', () => {
    const code = { code: 'INVALID_ARGUMENT' };
    const refuse = (f: () => unknown): void => expect(f).toThrowError(expect.objectContaining(code) as Error);
    refuse(() => batched({ size: 0, commit: async () => undefined }));
    refuse(() => batched({ size: 1.5, commit: async () => undefined }));
    refuse(() => batched({ size: 1, maxWaitMs: Number.POSITIVE_INFINITY, commit: async () => undefined }));
    refuse(() => batched({ size: 1, maxWaitMs: -1, commit: async () => undefined }));
    refuse(() => batched({ size: 1, maxWaitMs: 2 ** 31, commit: async () => undefined }));
    expect(batched({ size: 1, maxWaitMs: 0, commit: async () => undefined }).name).toBe('batched');
    expect(batched({ size: 1, maxWaitMs: 2 ** 31 - 1, commit: async () => undefined }).name).toBe('batched');
  });
});
