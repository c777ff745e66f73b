// Reconnecting in the broker's time: rounds over the endpoints double the back-off, and while the
// consumer waits it knocks on the endpoints that refused it, so a standby that starts to serve is
// tried at once, not after the rest of a long delay. The dev queue on loopback TCP, behind two
// proxies standing for the active and the standby endpoint.
import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { roundDelay } from '../../src/connection/backoff.js';
import { knock, notServed, waitForService } from '../../src/connection/endpoint-watch.js';
import { parseEndpoints } from '../../src/connection/endpoints.js';
import { OutreachError, type OutreachConsumer } from '../../src/index.js';
import { makeOutreachMessages, startDevQueue, type DevQueue } from '../../src/testing/index.js';
import { TcpProxy } from '../integration/tcp-proxy.js';
import { devConsumer, until } from './dev-consumer.js';

const options = { initialDelayMs: 100, maxDelayMs: 10_000, maxAttempts: Number.POSITIVE_INFINITY };
const high = (): number => 1;

describe('roundDelay', () => {
  it('tries every endpoint of a round back to back, and doubles the wait per round', () => {
    expect([1, 2, 3, 4, 5, 6].map((f) => roundDelay(f, 2, options, high))).toEqual([0, 100, 0, 200, 0, 400]);
    expect([1, 2, 3].map((f) => roundDelay(f, 1, options, high))).toEqual([100, 200, 400]);
    expect(roundDelay(0, 2, options, high)).toBe(0);
  });
});

describe('notServed', () => {
  it('is true for a refused or unreachable port, however deep the cause, and false past TCP', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    expect(notServed(new OutreachError('CONNECTION_FAILED', 'x', { cause: refused }))).toBe(true);
    expect(notServed(new OutreachError('CONNECTION_FAILED', 'x', { cause: new Error('y', { cause: { code: 'EHOSTUNREACH' } }) }))).toBe(true);
    expect(notServed(new OutreachError('CONNECTION_FAILED', 'amqp:connection:forced: broker shutting down'))).toBe(false);
    expect(notServed(new OutreachError('CONNECTION_FAILED', 'x', { cause: Object.assign(new Error('reset'), { code: 'ECONNRESET' }) }))).toBe(false);
  });
});

describe('knock and waitForService', () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise((resolve) => (server === undefined ? resolve(undefined) : server.close(resolve)));
    server = undefined;
  });

  it('knock: true for a listening port, false for a closed one', async () => {
    server = createServer((s) => s.destroy());
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const [open] = parseEndpoints(`amqp://127.0.0.1:${port}`, true);
    expect(await knock(open!)).toBe(true);
    await new Promise((resolve) => server!.close(resolve));
    server = undefined;
    expect(await knock(open!)).toBe(false);
  });

  it('waitForService ends the wait when a watched port starts to listen, and not for an unwatched one', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as { port: number }).port;
    await new Promise((resolve) => probe.close(resolve));
    const endpoints = parseEndpoints([`amqp://127.0.0.1:${port}`, `amqp://127.0.0.1:1`], true);
    const stop = new AbortController();
    setTimeout(() => {
      server = createServer((s) => s.destroy());
      server.listen(port, '127.0.0.1');
    }, 300);
    const started = Date.now();
    expect(await waitForService(endpoints, [1, 0], 20_000, stop.signal)).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000); // long before the 20 s wait would have ended
    // Not watched: the wait runs its course (short here), whatever listens.
    expect(await waitForService(endpoints, [1], 300, stop.signal)).toBeUndefined();
  });
});

describe('failover to a standby that starts to serve while the consumer waits', () => {
  let q: DevQueue | undefined;
  let consumer: OutreachConsumer | undefined;
  const proxies: TcpProxy[] = [];
  afterEach(async () => {
    await consumer?.close({ deadlineMs: 500 });
    for (const p of proxies.splice(0)) await p.close();
    await q?.close();
  });

  it('connects to the standby the moment its port accepts, not after the rest of its back-off', async () => {
    q = await startDevQueue({ network: true, queues: { f: [...makeOutreachMessages(5)] } });
    const active = await TcpProxy.start(q.port);
    const standby = await TcpProxy.start(q.port);
    proxies.push(active, standby);
    await standby.pause(); // the standby does not serve yet: refused
    // A long back-off: after a round of refusals the consumer would wait 10 to 20 s.
    consumer = devConsumer(q, 'f', { url: [`amqp://127.0.0.1:${active.port}`, `amqp://127.0.0.1:${standby.port}`], reconnect: { initialDelayMs: 20_000, maxDelayMs: 20_000 } });
    const connected: string[] = [];
    const waits: number[] = [];
    consumer.on('connected', (info) => void connected.push(info.endpoint));
    consumer.on('reconnecting', (info) => void waits.push(info.delayMs));
    let handled = 0;
    await consumer.start(async () => void handled++);
    await until(() => handled === 5, 'the first messages handled');
    await active.cut(); // the active dies: both endpoints refuse now
    await until(() => waits.some((ms) => ms >= 10_000), 'the consumer in its long wait');
    await standby.resume();
    const servedAt = Date.now();
    await until(() => connected.length === 2, 'connected to the standby', 9_000);
    const share = Date.now() - servedAt;
    console.log(`connected ${share} ms after the standby's port accepted (the back-off would have waited >= 10,000 ms)`);
    expect(connected).toEqual([`amqp://127.0.0.1:${active.port}`, `amqp://127.0.0.1:${standby.port}`]);
  }, 15_000);
});
