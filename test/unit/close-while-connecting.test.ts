// close() during a connection attempt to a peer that never answers (a TCP server that accepts and
// never speaks, so neither AMQP nor TLS gets anywhere) abandons the attempt: when close() has
// resolved, the socket is gone (the server sees it close) and no timer of the attempt is left,
// and start() has rejected with CLOSED at once, not at connectTimeoutMs.
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { isOutreachError, OutreachConsumer } from '../../src/index.js';

const CONNECT_TIMEOUT_MS = 60_000;

/** A server that accepts and never writes a byte; counts the sockets it holds open. */
async function silentServer(): Promise<{ port: number; accepted: () => number; open: () => number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  const server = net.createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    socket.resume(); // reads (and drops) what comes, so that it sees the end
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    accepted: () => accepted,
    open: () => sockets.size,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

const servers: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close();
});

/** Resources of this process by kind (TLSWrap: a TLS socket; Timeout: a timer). */
function resources(kind: string): number {
  return process.getActiveResourcesInfo().filter((r) => r === kind).length;
}

describe.each([
  ['amqps:// (the TLS handshake never completes)', 'amqps', 'TLSWrap'],
  ['amqp:// (the AMQP header is never answered)', 'amqp', 'TCPSocketWrap'],
] as const)('close() while connecting over %s', (_name, scheme, socketKind) => {
  it('destroys the socket, clears the timer, and start() rejects with CLOSED at once', async () => {
    const server = await silentServer();
    servers.push(server);
    const timersBefore = resources('Timeout');
    const socketsBefore = resources(socketKind);
    const consumer = new OutreachConsumer({
      url: `${scheme}://127.0.0.1:${server.port}`,
      allowInsecure: scheme === 'amqp',
      username: 'user',
      password: 'a-password',
      queue: 'q',
      connectTimeoutMs: CONNECT_TIMEOUT_MS,
      telemetry: false,
    });
    const errors: string[] = [];
    consumer.on('error', (error) => errors.push(error.code));
    const started = consumer.start(() => undefined).then(
      () => ({ error: undefined, at: Date.now() }),
      (error: unknown) => ({ error, at: Date.now() }),
    );
    const until = Date.now() + 10_000;
    while (server.accepted() === 0 && Date.now() < until) await sleep(5);
    expect(server.accepted()).toBe(1);
    await sleep(100); // the attempt is under way: nothing comes back

    const closing = Date.now();
    await consumer.close();
    // Right after close() resolved: no socket of the consumer's, no timer of its attempt.
    expect(resources(socketKind) - socketsBefore, 'sockets of this process besides the server side').toBeLessThanOrEqual(1);
    if (socketKind === 'TLSWrap') expect(resources('TLSWrap')).toBe(socketsBefore);
    expect(resources('Timeout')).toBeLessThanOrEqual(timersBefore);
    // The server sees the socket close (a loopback FIN needs a turn or two to be read).
    const seen = Date.now() + 1_000;
    while (server.open() > 0 && Date.now() < seen) await sleep(5);
    expect(server.open()).toBe(0);

    const { error, at } = await started;
    expect(isOutreachError(error) && error.code).toBe('CLOSED');
    expect((error as Error).message).toBe('the consumer was closed while connecting');
    expect(at - closing).toBeLessThan(2_000);
    expect(consumer.state).toBe('closed');
    expect(errors).toEqual([]);
  });
});
