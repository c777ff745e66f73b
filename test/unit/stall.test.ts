// A connection that stops forwarding without closing (the dev queue's stall()): health shows the
// stall, with since when, while the connection is still open; the link is given up by the
// consumer's own watchdog at idleTimeoutMs (not rhea's twice that), with an error naming the idle
// timeout; a quiet but healthy connection (heartbeats only) is never taken for a stall.
import { afterEach, describe, expect, it } from 'vitest';
import type { DisconnectInfo, OutreachConsumer } from '../../src/index.js';
import { startDevQueue, type DevQueue } from '../../src/testing/index.js';
import { devConsumer, until } from './dev-consumer.js';

let q: DevQueue | undefined;
let consumer: OutreachConsumer | undefined;
afterEach(async () => {
  await consumer?.close({ deadlineMs: 500 });
  await q?.close();
});

describe('stalls', () => {
  it('health shows the stall before the link is given up, and the error names idleTimeoutMs', async () => {
    q = await startDevQueue({ network: false, queues: { s: [] } });
    consumer = devConsumer(q, 's', { idleTimeoutMs: 2000, reconnect: { initialDelayMs: 60_000, maxDelayMs: 60_000 } });
    const lost = new Promise<DisconnectInfo>((resolve) => consumer!.once('disconnected', resolve));
    await consumer.start(async () => undefined);
    const stalledAt = Date.now();
    q.faults.stall();
    let seen: Date | undefined;
    let connectedWhileStalled = false;
    const sampling = setInterval(() => {
      const h = consumer!.health();
      if (h.stalledSince !== undefined && seen === undefined) {
        seen = h.stalledSince;
        connectedWhileStalled = h.connected;
      }
    }, 20);
    const info = await lost;
    clearInterval(sampling);
    console.log(`stall found after ${Date.now() - stalledAt} ms (idleTimeoutMs 2000)`);
    expect(connectedWhileStalled).toBe(true);
    expect(seen!.getTime()).toBeGreaterThanOrEqual(stalledAt - 1100); // the last frame before the stall
    expect(seen!.getTime()).toBeLessThanOrEqual(Date.now());
    // Our watchdog's error, not rhea's idle close (which comes at twice the timeout).
    expect(info.error?.code).toBe('CONNECTION_FAILED');
    expect(info.error?.message).toMatch(/sent nothing for \d+ ms, not even a heartbeat, beyond idleTimeoutMs \(2000 ms\)/);
    expect(consumer.health().stalledSince).toBeUndefined();
  });

  it('a quiet connection that only hears heartbeats is never taken for a stall', async () => {
    q = await startDevQueue({ network: false, queues: { s: [] } });
    consumer = devConsumer(q, 's', { idleTimeoutMs: 1000 });
    let disconnects = 0;
    let stalled = 0;
    consumer.on('disconnected', () => void disconnects++);
    await consumer.start(async () => undefined);
    const end = Date.now() + 4000;
    await until(() => {
      if (consumer!.health().stalledSince !== undefined) stalled++;
      return Date.now() > end;
    }, 'four idle timeouts of quiet', 6000);
    expect({ disconnects, stalled }).toEqual({ disconnects: 0, stalled: 0 });
  });
});
