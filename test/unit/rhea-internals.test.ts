// The parts of rhea that are not its documented API and that this library relies on
// (src/connection/rhea-internals.ts), checked against the installed rhea over loopback with a
// rhea peer (no broker): an upgrade of rhea that renames or drops one of them fails here.
import type { AddressInfo } from 'node:net';
import rhea, { type Connection, type EventContext, type Receiver } from 'rhea';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clearDrainFlag, clearRheaTimers, isNullTerminus, RHEA_TIMER_KEYS, remoteAttachSource, socketOf } from '../../src/connection/rhea-internals.js';

let port = 0;
let server: ReturnType<ReturnType<typeof rhea.create_container>['listen']>;
const peer = rhea.create_container({ id: 'peer' });

beforeAll(async () => {
  peer.on('sender_open', (context: EventContext) => {
    // Refuse the address `refused` as ActiveMQ does: answer the attach with a null source.
    // rhea answers with no source unless told; a broker answers with the terminus it serves.
    const sender = context.sender! as unknown as {
      remote: { attach: { source?: { address?: string } } };
      local: { attach: { source: unknown } };
      set_source(s: unknown): void;
    };
    const address = sender.remote.attach.source?.address;
    if (address === 'refused') sender.local.attach.source = null;
    else sender.set_source({ address });
  });
  server = peer.listen({ port: 0, host: '127.0.0.1' });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  port = (server.address() as AddressInfo).port;
});

afterAll(() => {
  server.close();
});

function open(address: string): Promise<{ connection: Connection; receiver: Receiver }> {
  const client = rhea.create_container({ id: `client-${address}` });
  const connection = client.connect({ host: '127.0.0.1', port, idle_time_out: 2000, reconnect: false });
  const receiver = connection.open_receiver({ source: { address }, credit_window: 0, autoaccept: false });
  return new Promise((resolve) => receiver.once('receiver_open', () => resolve({ connection, receiver })));
}

describe('rhea internals we rely on', () => {
  it('a receiver keeps the peer attach, whose source is a terminus, or a null one when refused', async () => {
    const ok = await open('queue.a');
    expect(remoteAttachSource(ok.receiver).present).toBe(true);
    expect(isNullTerminus(remoteAttachSource(ok.receiver).source)).toBe(false);
    const refused = await open('refused');
    expect(remoteAttachSource(refused.receiver).present).toBe(true);
    expect(isNullTerminus(remoteAttachSource(refused.receiver).source)).toBe(true);
    for (const c of [ok, refused]) c.connection.close();
  });

  it('a connection exposes its socket and keeps heartbeat timers under the names we clear', async () => {
    const { connection } = await open('queue.b');
    const socket = socketOf(connection);
    expect(socket).toBeDefined();
    expect(typeof socket!.destroy).toBe('function');
    expect(typeof socket!.once).toBe('function');
    expect(socket!.destroyed).toBe(false);
    const timers = connection as unknown as Record<string, unknown>;
    // With an idle timeout both ways, rhea arms its heartbeat timers once the connection is open.
    expect(RHEA_TIMER_KEYS.filter((key) => timers[key] !== undefined).length).toBeGreaterThan(0);
    socket!.destroy!();
    clearRheaTimers(connection);
    expect(RHEA_TIMER_KEYS.map((key) => timers[key])).toEqual([undefined, undefined, undefined]);
  });

  it('a receiver keeps a drain flag that stays set until we clear it', async () => {
    const { connection, receiver } = await open('queue.c');
    receiver.add_credit(1);
    receiver.drain_credit();
    expect(receiver.drain).toBe(true);
    clearDrainFlag(receiver);
    expect(receiver.drain).toBe(false);
    connection.close();
  });
});
