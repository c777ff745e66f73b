// Option checks of the consumer: every numeric option is validated when the consumer is built,
// with INVALID_ARGUMENT naming the option (NaN, fractions, negatives and out-of-range values).
import { describe, expect, it } from 'vitest';
import { OutreachConsumer, type OutreachConsumerOptions, type Outreach } from '../../src/index.js';

const base: OutreachConsumerOptions<Outreach> = { url: 'amqp+ssl://broker.example:5671', username: 'u', password: 'p', queue: 'q' };

function refusal(extra: Partial<OutreachConsumerOptions<Outreach>>): string {
  try {
    new OutreachConsumer({ ...base, ...extra });
  } catch (error) {
    expect(error).toMatchObject({ name: 'OutreachError', code: 'INVALID_ARGUMENT' });
    return (error as Error).message;
  }
  throw new Error(`accepted ${JSON.stringify(extra)}`);
}

describe('consumer options', () => {
  it.each([
    ['prefetch', { prefetch: Number.NaN }],
    ['prefetch', { prefetch: 2.5 }],
    ['maxBodyBytes', { maxBodyBytes: Number.NaN }],
    ['maxBodyBytes', { maxBodyBytes: -1 }],
    ['maxBodyBytes', { maxBodyBytes: 0 }],
    ['connectTimeoutMs', { connectTimeoutMs: Number.NaN }],
    ['connectTimeoutMs', { connectTimeoutMs: 2 ** 31 }],
    ['idleTimeoutMs', { idleTimeoutMs: 10 }],
    ['reconnect.initialDelayMs', { reconnect: { initialDelayMs: -5 } }],
    ['reconnect.maxDelayMs', { reconnect: { initialDelayMs: 500, maxDelayMs: 100 } }],
    ['reconnect.maxAttempts', { reconnect: { maxAttempts: 0 } }],
    ['outage.threshold', { outage: { threshold: 0 } }],
    ['outage.probeDelayMs', { outage: { probeDelayMs: Number.NaN } }],
    ['outage.maxProbeDelayMs', { outage: { probeDelayMs: 5000, maxProbeDelayMs: 1000 } }],
  ] as const)('refuses a bad %s', (name, extra) => {
    expect(refusal(extra as Partial<OutreachConsumerOptions<Outreach>>)).toContain(name);
  });

  it('refuses a bad invalidPolicy and a classifier that is not a function', () => {
    expect(refusal({ invalidPolicy: 'drop' as 'accept' })).toContain('invalidPolicy');
    expect(refusal({ outage: { isOutage: 'yes' as unknown as () => boolean } })).toContain('outage.isOutage');
  });

  it('takes the edge values and turning outage handling off', () => {
    const ok = new OutreachConsumer({
      ...base,
      prefetch: 1,
      maxBodyBytes: Number.POSITIVE_INFINITY,
      idleTimeoutMs: 1000,
      reconnect: { initialDelayMs: 0, maxDelayMs: 0, maxAttempts: Number.POSITIVE_INFINITY },
      outage: false,
    });
    expect(ok.health()).toMatchObject({ state: 'idle', paused: false, outage: undefined });
  });

  it('pauses and resumes before starting, as seen in health()', () => {
    const consumer = new OutreachConsumer(base);
    consumer.pause();
    expect(consumer.health().paused).toBe(true);
    consumer.resume();
    expect(consumer.health().paused).toBe(false);
  });
});
