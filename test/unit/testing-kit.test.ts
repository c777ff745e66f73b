// The testing kit: builders of invalid messages, and runHandler() driving the real consumer and
// strategies over an in-process dev queue (network: false: in-memory streams, no socket).
import { describe, expect, it } from 'vitest';
import { atLeastOnce, atMostOnce, decodeOutreach, manual, type OutreachDelivery } from '../../src/index.js';
import { invalidOutreachCases, makeInvalidOutreach, makeOutreachMessages, runHandler } from '../../src/testing/index.js';

describe('invalid message builders', () => {
  it.each(invalidOutreachCases({ maxBodyBytes: 1 << 20 }))('$kind decodes to a $decodeErrorKind error', ({ message, decodeErrorKind }) => {
    const body = typeof message === 'string' || message instanceof Uint8Array ? message : message.body;
    const result = decodeOutreach(body, { maxBytes: 1 << 20 });
    expect(result._tag).toBe('Left');
    if (result._tag === 'Left') expect(result.left.kind).toBe(decodeErrorKind);
  });

  it('starts from a valid message: the same seed without the fault decodes', () => {
    expect(decodeOutreach(JSON.stringify(makeOutreachMessages(1, { seed: 5 }).next().value))._tag).toBe('Right');
    expect(makeInvalidOutreach('wrong-type', { seed: 5 })).toContain('"emailAddress":12345');
  });
});

describe('runHandler', () => {
  it('accepts what the handler finishes: one call and one delivery each', async () => {
    const seen: string[] = [];
    const result = await runHandler((d) => void seen.push(d.outreach.outreachId), [...makeOutreachMessages(3, { seed: 3 })]);
    expect(result.complete).toBe(true);
    expect(result.messages.map((m) => [m.outcome, m.handlerCalls, m.deliveryCounts])).toEqual([
      ['accepted', 1, [0]],
      ['accepted', 1, [0]],
      ['accepted', 1, [0]],
    ]);
    expect(seen).toEqual([...makeOutreachMessages(3, { seed: 3 })].map((m) => m.outreachId));
    expect(result.report).toMatchObject({ accepted: 3, retried: 0, rejected: 0 });
  });

  it('shows the retries of a failing message, with the count each saw, then its dead letter', async () => {
    const [good, bad] = [...makeOutreachMessages(2, { seed: 9 })];
    const result = await runHandler(
      (d) => {
        if (d.outreach.outreachId === bad!.outreachId) throw new Error('CRM refused it');
      },
      [good!, bad!],
      { strategy: atLeastOnce({ maxAttempts: 3, retryDelayMs: 0 }), outage: false },
    );
    expect(result.messages[0]).toMatchObject({ outcome: 'accepted', handlerCalls: 1 });
    expect(result.messages[1]).toMatchObject({ outcome: 'dead-lettered', handlerCalls: 3, deliveryCounts: [0, 1, 2], settlements: ['modified', 'modified', 'rejected'] });
    expect(result.errors.filter((e) => e.code === 'HANDLER_FAILED')).toHaveLength(3);
  });

  it('keeps undecodable messages from the handler and dead-letters them', async () => {
    const result = await runHandler(() => undefined, [makeInvalidOutreach('truncated-json'), ...makeOutreachMessages(1)]);
    expect(result.messages[0]).toMatchObject({ invalid: true, handlerCalls: 0, outcome: 'dead-lettered' });
    expect(result.messages[1]).toMatchObject({ invalid: false, handlerCalls: 1, outcome: 'accepted' });
  });

  it('reports an outage when different messages fail in a row, spends no attempts on it, and recovers', async () => {
    let calls = 0;
    const result = await runHandler(
      () => {
        if (++calls <= 5) throw new Error('ECONNREFUSED');
      },
      [...makeOutreachMessages(8, { seed: 20 })],
      // A short retry delay: at start the consumer takes two messages until it has seen a body's
      // size (maxHeldBytes / maxBodyBytes), so an instant retry would meet the same message again.
      { strategy: atLeastOnce({ retryDelayMs: 50 }), outage: { probeDelayMs: 20 } },
    );
    expect(result.complete).toBe(true);
    expect(result.outages).toHaveLength(1);
    expect(result.recoveries).toHaveLength(1);
    expect(result.messages.every((m) => m.outcome === 'accepted')).toBe(true);
    // Handed back during the outage (released), not retried: no message reached a second attempt by count.
    expect(result.messages.flatMap((m) => m.deliveryCounts).every((c) => c <= 1)).toBe(true);
    expect(result.messages.flatMap((m) => m.settlements)).toContain('released');
  });

  it('at-most-once: a failing handler loses the message (accepted before it ran)', async () => {
    const result = await runHandler(() => {
      throw new Error('lost');
    }, [...makeOutreachMessages(1)], { strategy: atMostOnce() });
    expect(result.messages[0]).toMatchObject({ outcome: 'accepted', handlerCalls: 1 });
  });

  it('gives up after timeoutMs when the strategy leaves messages unsettled: complete is false', async () => {
    const held: OutreachDelivery[] = [];
    const result = await runHandler((d) => void held.push(d), [...makeOutreachMessages(2)], { strategy: manual(), timeoutMs: 300 });
    expect(result.complete).toBe(false);
    expect(result.messages.map((m) => m.outcome)).toEqual(['pending', 'pending']);
    expect(held).toHaveLength(2);
  });
});
