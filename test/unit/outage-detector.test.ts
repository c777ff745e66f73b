// The rule that tells a message's own failure from its sink being down (pure; the consumer's
// behaviour on the broker is in test/integration/outage.test.ts).
import { describe, expect, it } from 'vitest';
import { OutageDetector, type OutageSettings } from '../../src/consumer/outage.js';

const settings = (over: Partial<OutageSettings> = {}): OutageSettings => ({
  threshold: 3,
  isOutage: undefined,
  probeDelayMs: 1000,
  maxProbeDelayMs: 8000,
  ...over,
});

describe('outage detector', () => {
  it('begins an outage after threshold fresh failures of different messages, not before', () => {
    const detector = new OutageDetector(settings());
    expect(detector.failure('a', 0, new Error('x')).verdict).toBe('alone');
    expect(detector.failure('b', 0, new Error('x')).verdict).toBe('alone');
    const third = detector.failure('c', 0, new Error('x'));
    expect(third.verdict).toBe('outage');
    expect(third.began).toMatchObject({ reason: 'failures', failures: 3 });
    expect(detector.active).toBe(true);
    // Once under way, every failure is the outage's.
    expect(detector.failure('d', 4, new Error('x'))).toEqual({ verdict: 'outage' });
  });

  it('does not count one message twice, nor a message that failed before', () => {
    const detector = new OutageDetector(settings());
    detector.failure('a', 0, 'x');
    detector.failure('a', 0, 'x'); // the same message again (handed back, fresh again)
    detector.failure('p', 3, 'x'); // a poison message on its 4th attempt: neither counts nor breaks the run
    detector.failure('p2', 1, 'x');
    expect(detector.failures).toBe(1);
    expect(detector.active).toBe(false);
    detector.failure('b', 0, 'x');
    expect(detector.failure('c', 0, 'x').verdict).toBe('outage');
  });

  it('an accepted delivery ends the run, and ends an outage with its duration', () => {
    let now = 1_000;
    const detector = new OutageDetector(settings(), () => now);
    detector.failure('a', 0, 'x');
    detector.failure('b', 0, 'x');
    expect(detector.success()).toBeUndefined();
    detector.failure('c', 0, 'x');
    expect(detector.active).toBe(false);
    detector.failure('d', 0, 'x');
    detector.failure('e', 0, 'x');
    expect(detector.since).toEqual(new Date(1_000));
    detector.probeFailed();
    now = 61_000;
    expect(detector.success()).toEqual({ since: new Date(1_000), durationMs: 60_000, failedProbes: 1 });
    expect(detector.active).toBe(false);
    expect(detector.failedProbes).toBe(0);
  });

  it('a delivery the handler finished ends the run too, but not an outage', () => {
    const detector = new OutageDetector(settings());
    detector.failure('a', 0, 'x');
    detector.failure('b', 0, 'x');
    detector.handled(); // batched: handled, not yet accepted (the batch commits later)
    detector.failure('c', 0, 'x');
    detector.failure('d', 0, 'x');
    expect(detector.active).toBe(false);
    expect(detector.failure('e', 0, 'x').verdict).toBe('outage');
    detector.handled(); // a probe passed the handler; its batch may still fail to commit
    expect(detector.active).toBe(true);
    expect(detector.success()).toBeDefined();
  });

  it('begins at once on an error the classifier calls an outage; a throwing classifier says no', () => {
    const classified = new OutageDetector(settings({ threshold: 1000, isOutage: (e) => (e as { code?: string }).code === 'ECONNREFUSED' }));
    expect(classified.failure('a', 0, { code: 'EOTHER' }).verdict).toBe('alone');
    expect(classified.failure('b', 7, { code: 'ECONNREFUSED' }).began).toMatchObject({ reason: 'classified' });
    const broken = new OutageDetector(
      settings({
        threshold: 1000,
        isOutage: () => {
          throw new Error('bug in classifier');
        },
      }),
    );
    expect(broken.failure('a', 0, 'x').verdict).toBe('alone');
  });

  it('probes on a doubling, capped delay, one more message after each failed probe', () => {
    const detector = new OutageDetector(settings());
    for (const k of ['a', 'b', 'c']) detector.failure(k, 0, 'x');
    const delays: number[] = [];
    const sizes: number[] = [];
    for (let i = 0; i < 6; i++) {
      delays.push(detector.nextProbeDelayMs());
      sizes.push(detector.probeSize(4));
      detector.probeFailed();
    }
    expect(delays).toEqual([1000, 2000, 4000, 8000, 8000, 8000]);
    expect(sizes).toEqual([1, 2, 3, 4, 4, 4]);
  });
});
