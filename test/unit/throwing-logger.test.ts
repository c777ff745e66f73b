// A logger is user code: a logger whose method throws must not crash or wedge the consumer, any
// more than a throwing event listener does. Each method throws in turn, on the in-process dev
// queue, through handler failures, an outage with probes, a reconnect and close(): every message
// is accepted exactly once, nothing reaches the process as an uncaught error, and the throw is
// reported once as a process warning.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { atLeastOnce, isOutreachError, OutreachConsumer, type OutreachLogger } from '../../src/index.js';
import { makeOutreachMessages, startDevQueue } from '../../src/testing/index.js';

const QUEUE = 'throwing.logger';
const LEVELS = ['debug', 'info', 'warn', 'error'] as const;
type Level = (typeof LEVELS)[number];

/** A logger whose `level` method always throws; the others count their calls. */
function throwingLogger(level: Level): { logger: OutreachLogger; calls: Record<Level, number> } {
  const calls: Record<Level, number> = { debug: 0, info: 0, warn: 0, error: 0 };
  const method = (name: Level) => (): void => {
    calls[name]++;
    if (name === level) throw new Error(`logger.${name} is broken`);
  };
  return { logger: { debug: method('debug'), info: method('info'), warn: method('warn'), error: method('error') }, calls };
}

async function waitFor(check: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

// Anything that escapes to the process fails the test (vitest would report it too, less clearly).
const escaped: unknown[] = [];
const warnings: Error[] = [];
const onEscape = (error: unknown): void => void escaped.push(error);
const onWarning = (warning: Error): void => void warnings.push(warning);
beforeEach(() => {
  escaped.length = 0;
  warnings.length = 0;
  process.on('uncaughtException', onEscape);
  process.on('unhandledRejection', onEscape);
  process.on('warning', onWarning);
});
afterEach(() => {
  process.off('uncaughtException', onEscape);
  process.off('unhandledRejection', onEscape);
  process.off('warning', onWarning);
});

describe.each(LEVELS)('a logger whose %s method throws', (level) => {
  it('loses nothing, crashes nothing, and is reported once', async () => {
    await using q = await startDevQueue({ network: false, queues: {} });
    const ids = q.publish(QUEUE, ...makeOutreachMessages(40, { seed: 15 }));
    const { logger, calls } = throwingLogger(level);
    const consumer = new OutreachConsumer({
      url: q.url,
      username: q.username,
      password: q.password,
      queue: QUEUE,
      allowInsecure: true,
      logger,
      telemetry: false,
      strategy: atLeastOnce({ retryDelayMs: 0 }),
      reconnect: { initialDelayMs: 10, maxDelayMs: 50 },
      outage: { threshold: 3, probeDelayMs: 20, maxProbeDelayMs: 40 },
    });
    // No error listener: errors go to the logger's warn and error methods. A throwing listener
    // makes the consumer log at error level.
    let listenerThrew = false;
    consumer.on('settled', () => {
      if (listenerThrew) return;
      listenerThrew = true;
      throw new Error('a listener of yours');
    });
    let outages = 0;
    let recoveries = 0;
    consumer.on('outage', () => outages++);
    consumer.on('recovered', () => recoveries++);

    let handled = 0;
    let sinkDown = false;
    const attempts = new Map<string | number, number>();
    await consumer.start((delivery) => {
      const id = delivery.messageId!;
      const attempt = (attempts.get(id) ?? 0) + 1;
      attempts.set(id, attempt);
      if (sinkDown) throw new Error('ECONNREFUSED: the sink is down');
      // Handler failures: every seventh message fails its first attempt.
      if (attempt === 1 && ids.indexOf(id) % 7 === 3) throw new Error('a passing failure');
      handled++;
      if (handled === 10) sinkDown = true; // the sink goes down: an outage follows
    });

    await waitFor(() => outages === 1, 'the outage');
    await waitFor(() => consumer.health().outage?.failedProbes !== undefined && consumer.health().outage!.failedProbes >= 1, 'a failed probe');
    sinkDown = false;
    await waitFor(() => recoveries === 1, 'the recovery');
    await waitFor(() => consumer.health().counts.accepted >= 25, 'more messages to be accepted');
    // A reconnect.
    const reconnected = new Promise<void>((resolve) => consumer.once('connected', () => resolve()));
    expect(q.faults.dropConnections()).toBe(1);
    await reconnected;
    await waitFor(() => q.depth(QUEUE) === 0, 'every message to be accepted');
    const report = await consumer.close({ deadlineMs: 5_000 });

    expect(escaped).toEqual([]);
    expect(consumer.state).toBe('closed');
    expect(report.unfinished).toBe(0);
    expect(q.connections).toBe(0);
    // Every message accepted exactly once, none dead-lettered.
    for (const id of ids) {
      expect(q.deliveries(QUEUE, id).filter((d) => d.settlement === 'accepted'), `message ${String(id)}`).toHaveLength(1);
    }
    expect(q.stats(QUEUE).deadLettered).toBe(0);
    // The broken method was called and threw; the other methods still got their lines.
    expect(calls[level]).toBeGreaterThan(0);
    for (const other of LEVELS) if (other !== level) expect(calls[other], other).toBeGreaterThan(0);
    // Reported once (a later tick), whatever the number of throws.
    await sleep(10);
    const reported = warnings.filter((w) => (w as Error & { code?: string }).code === 'OUTREACH_LOGGER_THREW');
    expect(reported).toHaveLength(1);
    expect(reported[0]!.message).toContain(`logger's ${level} method threw (Error)`);
  });
});

describe('the logger option', () => {
  it('is refused with INVALID_ARGUMENT when a method is missing', () => {
    let thrown: unknown;
    try {
      new OutreachConsumer({ url: 'amqps://broker.example.com:5671', username: 'u', password: 'p', queue: 'q', logger: { info: () => undefined } as unknown as OutreachLogger });
    } catch (error) {
      thrown = error;
    }
    expect(isOutreachError(thrown) && thrown.code).toBe('INVALID_ARGUMENT');
    expect((thrown as Error).message).toMatch(/^logger must be an object with debug, info, warn and error methods/);
  });
});
