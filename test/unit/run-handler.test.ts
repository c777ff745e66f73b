// runHandler() as a user's test meets it: errors name the message and carry what the handler
// threw, and a failing handler ends in a result to look at, inside the test runner's default 5 s
// timeout (vitest's, which each test here runs under), never in a silent hang.
import { describe, expect, it } from 'vitest';
import { atLeastOnce, manual } from '../../src/index.js';
import { makeInvalidOutreach, makeOutreachMessages, runHandler } from '../../src/testing/index.js';

describe('runHandler errors', () => {
  it('name the message (index and outreachId) and carry what the handler threw, with its text', async () => {
    const [good, bad] = [...makeOutreachMessages(2, { seed: 31 })];
    const thrown = new Error('CRM refused it');
    const result = await runHandler(
      (d) => {
        if (d.outreach.outreachId === bad!.outreachId) throw thrown;
      },
      [good!, bad!],
      { strategy: atLeastOnce({ maxAttempts: 2, retryDelayMs: 0 }) },
    );
    const failures = result.errors.filter((e) => e.code === 'HANDLER_FAILED');
    expect(failures).toHaveLength(2);
    for (const e of failures) {
      expect(e).toMatchObject({ source: 'handler', index: 1, outreachId: bad!.outreachId, cause: thrown });
      expect(e.message).toMatch(/^handler threw for delivery .+ \(attempt [12]\): CRM refused it$/);
      expect(e.error.cause).toBe(thrown);
    }
  });

  it('name the message of a decode error and of a throwing onInvalid hook', async () => {
    let hookCalls = 0;
    const result = await runHandler(() => undefined, [...makeOutreachMessages(1), makeInvalidOutreach('truncated-json')], {
      onInvalid: () => {
        // Once: a failed hook is retried after the consumer's own delay (1 s), whatever the strategy.
        if (++hookCalls === 1) throw new Error('quarantine store down');
      },
    });
    const decode = result.errors.find((e) => e.source === 'decode');
    expect(decode).toMatchObject({ code: 'DECODE_FAILED', index: 1, outreachId: undefined });
    const hook = result.errors.find((e) => e.source === 'handler');
    expect(hook).toMatchObject({ code: 'HANDLER_FAILED', index: 1 });
    expect(hook!.message).toMatch(/: quarantine store down$/);
    expect(result.messages[1]).toMatchObject({ invalid: true, outcome: 'dead-lettered' });
  });
});

describe('runHandler with a failing handler', () => {
  it('by default retries without waiting and dead-letters, with no outage, even when every message fails', async () => {
    const result = await runHandler(() => {
      throw new Error('always');
    }, [...makeOutreachMessages(6, { seed: 32 })]);
    expect(result.complete).toBe(true);
    expect(result.incomplete).toBeUndefined();
    expect(result.outages).toEqual([]);
    expect(result.messages.map((m) => [m.outcome, m.handlerCalls, m.deliveryCounts])).toEqual(
      Array.from({ length: 6 }, () => ['dead-lettered', 5, [0, 1, 2, 3, 4]]),
    );
  });

  it('with outage handling turned on, ends after timeoutMs and says an outage began and how to turn it off', async () => {
    const result = await runHandler(() => {
      throw new Error('always');
    }, [...makeOutreachMessages(6, { seed: 33 })], { outage: {} });
    expect(result.complete).toBe(false);
    expect(result.outages).toHaveLength(1);
    expect(result.incomplete).toMatch(/^\d of 6 messages not settled after 3000 ms: an outage began after 5 messages failed in a row/);
    expect(result.incomplete).toContain('pass outage: false');
  });

  it('says when failed deliveries were still waiting out a retry delay', async () => {
    const result = await runHandler(() => {
      throw new Error('always');
    }, [...makeOutreachMessages(1)], { strategy: atLeastOnce(), timeoutMs: 200 });
    expect(result.complete).toBe(false);
    expect(result.incomplete).toBe(
      '1 of 1 messages not settled after 200 ms: 1 failed deliveries were waiting out a retry delay. ' +
        'Pass a strategy with retryDelayMs: 0 (e.g. atLeastOnce({ retryDelayMs: 0 })), or a larger timeoutMs',
    );
  });

  it('says when deliveries were handed out and never settled', async () => {
    const result = await runHandler(() => undefined, [...makeOutreachMessages(2)], { strategy: manual(), timeoutMs: 200 });
    expect(result.complete).toBe(false);
    expect(result.incomplete).toMatch(/^2 of 2 messages not settled after 200 ms: 2 deliveries were handed out and never settled/);
  });
});
