// The parts of rhea that are not its documented API and that this library relies on
// (src/connection/rhea-internals.ts), checked against the installed rhea over loopback with a
// rhea peer (no broker): an upgrade of rhea that renames or drops one of them fails here.
import type { AddressInfo } from 'node:net';
import rhea, { type Connection, type EventContext, type Receiver } from 'rhea';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AmqpLink } from '../../src/connection/amqp-link.js';
import type { Arrival } from '../../src/connection/transport.js';
import { Settler, type SettledDelivery } from '../../src/consumer/settler.js';
import { OutreachDelivery } from '../../src/delivery/delivery.js';
import { clearDrainFlag, clearRheaTimers, flushDispositionsBefore, isNullTerminus, RHEA_TIMER_KEYS, remoteAttachSource, setRheaIdleTimeout, socketOf } from '../../src/connection/rhea-internals.js';

let port = 0;
const settledAt = new Map<string, string[]>();
const sentTo = new Set<string>();
let server: ReturnType<ReturnType<typeof rhea.create_container>['listen']>;
const peer = rhea.create_container({ id: 'peer' });
/** The idle-time-out each client offered in its Open frame, by container id. */
const offeredIdle = new Map<string, number | undefined>();

beforeAll(async () => {
  peer.on('connection_open', (context: EventContext) => {
    const remote = (context.connection as unknown as { remote: { open: { container_id: string; idle_time_out?: number } } }).remote.open;
    offeredIdle.set(remote.container_id, remote.idle_time_out);
  });
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
    // `pair.*` addresses: send two messages at once and record what the client settled each as.
    if (address?.startsWith('pair.') === true) {
      const outcomes: string[] = [];
      settledAt.set(address, outcomes);
      const live = context.sender!;
      live.on('sendable', () => {
        if ((live as unknown as { credit: number }).credit >= 2 && outcomes.length === 0 && !sentTo.has(address)) {
          sentTo.add(address);
          live.send({ body: 'one' });
          live.send({ body: 'two' });
        }
      });
      for (const event of ['accepted', 'released', 'rejected', 'modified'] as const) {
        live.on(event, (ctx: EventContext) => {
          outcomes[ctx.delivery!.id] = event;
        });
      }
    }
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

type RheaDelivery = NonNullable<EventContext['delivery']>;

/** Receives the peer's two messages and settles the first accepted, the second released, in one tick. */
function settleTwoDifferently(address: string, flush: boolean): Promise<string[]> {
  return settleTwo(address, (first, second) => {
    if (flush) flushDispositionsBefore(first, true);
    first.accept();
    if (flush) flushDispositionsBefore(second, false);
    second.release();
  });
}

/** Receives the peer's two messages, settles both with `settle` in one tick, and returns what the peer saw for each. */
async function settleTwo(address: string, settle: (first: RheaDelivery, second: RheaDelivery) => void): Promise<string[]> {
  const client = rhea.create_container({ id: `client-${address}` });
  const connection = client.connect({ host: '127.0.0.1', port, reconnect: false });
  const receiver = connection.open_receiver({ source: { address }, credit_window: 0, autoaccept: false });
  receiver.once('receiver_open', () => receiver.add_credit(2));
  const deliveries: EventContext['delivery'][] = [];
  receiver.on('message', (ctx: EventContext) => {
    deliveries.push(ctx.delivery);
    if (deliveries.length < 2) return;
    const [first, second] = deliveries as [RheaDelivery, RheaDelivery];
    settle(first, second);
  });
  const until = Date.now() + 5000;
  while ((settledAt.get(address)?.filter(Boolean).length ?? 0) < 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
  connection.close();
  return [...(settledAt.get(address) ?? [])];
}

describe('rhea internals we rely on', () => {
  it('rhea gives two adjacent deliveries settled differently in one tick the first one\'s outcome (the bug we work around)', async () => {
    // If this fails, rhea has fixed write_dispositions and flushDispositionsBefore can go.
    expect(await settleTwoDifferently('pair.raw', false)).toEqual(['accepted', 'accepted']);
  });

  it('flushDispositionsBefore makes each delivery get its own outcome', async () => {
    expect(await settleTwoDifferently('pair.flushed', true)).toEqual(['accepted', 'released']);
  });

  /**
   * The consumer's path: an AmqpLink to the peer and a Settler over it (deciding each request as
   * asked); `settle` gets the two deliveries in one tick. Returns what the peer saw, and the
   * batches the settler handed over.
   */
  async function settleTwoThroughSettler(
    address: string,
    settle: (first: OutreachDelivery<undefined>, second: OutreachDelivery<undefined>, settler: Settler) => void,
  ): Promise<{ outcomes: string[]; batches: SettledDelivery[][] }> {
    const batches: SettledDelivery[][] = [];
    const arrivals: Arrival[] = [];
    const held: { settler?: Settler } = {};
    const link = await AmqpLink.open(
      { host: '127.0.0.1', port, tls: false, label: `amqp://127.0.0.1:${port}` },
      { queue: address, username: '', password: '', ca: undefined, servername: undefined, connectTimeoutMs: 5000, idleTimeoutMs: 2000 },
      {
        arrived: (arrival) => {
          arrivals.push(arrival);
          if (arrivals.length !== 2) return;
          const settler = held.settler!;
          settle(new OutreachDelivery(undefined, arrivals[0]!, settler), new OutreachDelivery(undefined, arrivals[1]!, settler), settler);
        },
        down: () => undefined,
        drained: () => undefined,
      },
    );
    held.settler = new Settler(link, { decide: (record) => record.requested, settled: (batch) => void batches.push([...batch]) });
    link.addCredit(2);
    const until = Date.now() + 5000;
    while ((settledAt.get(address)?.filter(Boolean).length ?? 0) < 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    await link.close(2000);
    return { outcomes: [...(settledAt.get(address) ?? [])], batches };
  }

  it('the settler writes a release at once and an acceptance decided after it as its own outcome, even flushed in the same tick', async () => {
    const { outcomes, batches } = await settleTwoThroughSettler('pair.deferred', (first, second, settler) => {
      first.release();
      expect(settler.pending).toBe(0);
      second.accept();
      expect(settler.pending).toBe(1);
      settler.flush();
    });
    expect(outcomes).toEqual(['released', 'accepted']);
    expect(batches.map((b) => b.map((s) => s.outcome))).toEqual([['released'], ['accepted']]);
  });

  it('the settler writes an acceptance decided before a release first, in the order decided', async () => {
    const { outcomes, batches } = await settleTwoThroughSettler('pair.ordered', (first, second) => {
      first.accept();
      second.release();
    });
    expect(outcomes).toEqual(['accepted', 'released']);
    expect(batches.map((b) => b.map((s) => s.outcome))).toEqual([['accepted', 'released']]);
  });

  it('acceptances wait for the end of the turn and go out together, in order, as one batch', async () => {
    const { outcomes, batches } = await settleTwoThroughSettler('pair.batched', (first, second, settler) => {
      first.accept();
      second.accept();
      expect(settler.pending).toBe(2);
      expect(first.outcome).toBeUndefined();
    });
    expect(outcomes).toEqual(['accepted', 'accepted']);
    expect(batches.map((b) => b.map((s) => [s.outcome, s.sent]))).toEqual([[['accepted', true], ['accepted', true]]]);
  });

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

  it('rhea offers the idle timeout it enforces, and after the Open enforces the one set with setRheaIdleTimeout (twice it, re-armed at each input)', async () => {
    const { connection } = await open('queue.idle');
    expect(offeredIdle.get('client-queue.idle')).toBe(2000);
    const timers = connection as unknown as { heartbeat_in?: { _idleTimeout?: number } };
    expect(timers.heartbeat_in?._idleTimeout).toBe(4000);
    setRheaIdleTimeout(connection, 5000);
    // The peer's heartbeats (every half of what was offered) are input that re-arms the timer.
    const until = Date.now() + 5000;
    while (timers.heartbeat_in?._idleTimeout !== 10_000 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    expect(timers.heartbeat_in?._idleTimeout).toBe(10_000);
    connection.close();
  });

  it('an AmqpLink offers half of idleTimeoutMs, and outlives a pause of the process longer than idleTimeoutMs (rhea enforces twice it, behind the watchdog)', async () => {
    let down = 0;
    const link = await AmqpLink.open(
      { host: '127.0.0.1', port, tls: false, label: `amqp://127.0.0.1:${port}` },
      { queue: 'queue.idle-link', username: '', password: '', ca: undefined, servername: undefined, connectTimeoutMs: 5000, idleTimeoutMs: 1000 },
      { arrived: () => undefined, down: () => void down++, drained: () => undefined },
    );
    expect(offeredIdle.get(link.containerId)).toBe(500);
    // A pause of 1.4 x idleTimeoutMs (a long GC, a starved CPU) while the peer keeps sending its
    // heartbeats: they wait unread in the socket. Had rhea been left to enforce idleTimeoutMs itself,
    // its timer would fire before they are read and close the connection.
    const until = Date.now() + 1400;
    while (Date.now() < until) {
      // busy: nothing else runs
    }
    await new Promise((r) => setTimeout(r, 1500));
    expect(down).toBe(0);
    expect(link.state).toBe('open');
    await link.close(2000);
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
