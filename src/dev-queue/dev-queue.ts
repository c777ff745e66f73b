import { randomBytes, randomUUID } from 'node:crypto';
import type { Server } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import rhea from 'rhea';
import type { Connection, Delivery as RheaDelivery, EventContext, Message as RheaMessage, Sender } from 'rhea';
import { clearRheaTimers, socketOf } from '../connection/rhea-internals.js';
import { OutreachError } from '../errors/outreach-error.js';
import { offerRefusedMechanism, requestOutput, senderLimit } from './rhea-server-internals.js';
import { newHold, QueueState, type DevQueueDeadLetter, type DevQueueSettlement, type LinkHold, type Outcome, type StoredMessage } from './queue-state.js';
import type { OutreachWireMessage } from '../testing/examples.js';
import { makeOutreachMessages } from '../testing/factory.js';

/**
 * A message to put on a dev queue: a string (sent as an AMQP string body, what ActiveMQ makes of
 * a JMS TextMessage, as Civitas sends), bytes (an AMQP `data` section, what it makes of a
 * BytesMessage), an outreach object (sent as its JSON text), or a {@link DevQueueMessage} for
 * full control.
 */
export type DevQueueInput = string | Uint8Array | OutreachWireMessage | DevQueueMessage;

/** A message with its AMQP metadata, for {@link DevQueue.publish}. */
export interface DevQueueMessage {
  /** The AMQP body as rhea takes it: a string, or `rhea.message.data_section(buffer)`. */
  readonly body: unknown;
  /**
   * The AMQP `message_id`.
   * @defaultValue `ID:dev-queue-<uuid>`, as ActiveMQ gives one to a message sent without
   */
  readonly messageId?: string | number;
  /**
   * Persistent: dead-lettered when rejected. ActiveMQ drops a rejected non-persistent message.
   * @defaultValue `true`
   */
  readonly durable?: boolean;
  /** AMQP application properties (JMS properties). */
  readonly applicationProperties?: Readonly<Record<string, unknown>>;
  /** AMQP `subject` (JMSType). */
  readonly subject?: string;
  /** AMQP `content_type`; ActiveMQ sends none for JMS text and bytes. */
  readonly contentType?: string;
  /**
   * The redelivery counter it starts with, e.g. to test what a handler does with a message that
   * already failed elsewhere.
   * @defaultValue `0`
   */
  readonly deliveryCount?: number;
}

/**
 * What a named queue starts with: a number of sample messages made by
 * `makeOutreachMessages(n, { seed: 1 })`, or the messages themselves.
 */
export type DevQueueSeed = number | readonly DevQueueInput[];

/** Options of {@link startDevQueue}. */
export interface DevQueueOptions {
  /**
   * The one user, checked with SASL PLAIN.
   * @defaultValue `'civitas'`
   */
  readonly username?: string;
  /**
   * Its password.
   * @defaultValue a random one (see {@link DevQueue.password})
   */
  readonly password?: string;
  /**
   * Queues and what they hold at start. Any other queue a client names is created empty when it
   * is first used, as ActiveMQ does.
   * @defaultValue `{ 'civitas.outreach.dev': 20 }`
   */
  readonly queues?: Readonly<Record<string, DevQueueSeed>>;
  /**
   * A PEM key and certificate to listen with TLS (`amqp+ssl://`); without, plain AMQP
   * (`amqp://`; the consumer then needs `allowInsecure: true`). `docs/dev-queue.md` shows how to
   * make a local certificate with one `openssl` command.
   */
  readonly tls?: DevQueueTls;
  /**
   * Interface to listen on.
   * @defaultValue `'127.0.0.1'`
   */
  readonly host?: string;
  /**
   * Port to listen on; `0` picks a free one (read it from {@link DevQueue.port}).
   * @defaultValue `0`
   */
  readonly port?: number;
}

/** A PEM key and certificate for {@link DevQueueOptions.tls}. */
export interface DevQueueTls {
  /** The private key, PEM. */
  readonly key: string | Buffer;
  /** The certificate, PEM; clients trust it as their `ca` when it is self-signed. */
  readonly cert: string | Buffer;
}

/** Counters of one queue, as {@link DevQueue.stats} returns them. */
export interface DevQueueStats {
  /** Not yet acknowledged: waiting, held for a consumer, or sent and unsettled (ActiveMQ's QueueSize). */
  readonly depth: number;
  /** Waiting for a consumer. */
  readonly ready: number;
  /** Sent to a consumer (or kept for its link) and not settled. */
  readonly inFlight: number;
  /** Consumer links attached (browsers not counted). */
  readonly consumers: number;
  /** Messages ever put on the queue. */
  readonly enqueued: number;
  /** Messages accepted or dead-lettered (or dropped). */
  readonly dequeued: number;
  /** Messages in its dead-letter store. */
  readonly deadLettered: number;
}

/** One delivery of a message and how it ended, as {@link DevQueue.deliveries} returns it. */
export interface DevQueueDelivery {
  /** The redelivery counter the consumer saw. */
  readonly deliveryCount: number;
  /** How it ended; `undefined` while unsettled. */
  readonly settlement: DevQueueSettlement | undefined;
}

/** A copy of a message on a queue, as {@link DevQueue.browse} returns it. */
export interface DevQueueBrowsed {
  /** The body as sent. */
  readonly body: unknown;
  /** The AMQP `message_id`. */
  readonly messageId: string | number;
  /** Its current redelivery counter. */
  readonly deliveryCount: number;
}

/** Ways to break the connection on purpose, for a consumer's own tests: {@link DevQueue.faults}. */
export interface DevQueueFaults {
  /**
   * Cuts every client's socket at once, as a network failure would: unsettled deliveries go back
   * to their queue with the count + 1 (ActiveMQ). @returns how many connections were cut
   */
  dropConnections(): number;
  /**
   * Detaches every consumer link of `queue` (of all queues without one) with an AMQP error, as
   * a broker does when a queue is deleted or access is withdrawn. What they held goes back,
   * count unchanged. @returns how many links were detached
   */
  detachConsumers(options?: { readonly queue?: string; readonly condition?: string; readonly description?: string }): number;
  /**
   * Refuses the next `count` logins even with the right password (SASL outcome `auth`, as a
   * wrong password).
   * @param count - how many @defaultValue 1
   */
  refuseNextLogin(count?: number): void;
  /** Holds each message `ms` milliseconds before sending it (0 to stop). Credit is still honoured. */
  delayDeliveries(ms: number): void;
  /**
   * Stops reading from and writing to every connection (no frames, no heartbeats), as a network
   * path that goes silent: the client notices only by its idle timeout. Until {@link DevQueueFaults.unstall}.
   */
  stall(): void;
  /**
   * Ends {@link DevQueueFaults.stall}: the stalled connections are cut (their clients have given up
   * or will; what they sent meanwhile never arrived), with their unsettled deliveries back on the
   * queue with the count + 1, as ActiveMQ's inactivity monitor does. New connections work again.
   */
  unstall(): void;
}

/**
 * A running dev queue: where to connect, what it holds, and its fault switches. From
 * {@link startDevQueue}.
 */
export interface DevQueue {
  /** `amqp+ssl://host:port` with TLS, `amqp://host:port` without. */
  readonly url: string;
  /** The host it listens on. */
  readonly host: string;
  /** The port it listens on. */
  readonly port: number;
  /** Whether it speaks TLS. */
  readonly tls: boolean;
  /** The user to log in as. */
  readonly username: string;
  /** The password (the one given, or the random one made at start). */
  readonly password: string;
  /** Fault injection. */
  readonly faults: DevQueueFaults;
  /** Names of the queues it knows (seeded, published to, or consumed from). */
  queueNames(): string[];
  /**
   * Puts messages on a queue (creating it), at its tail.
   * @returns their message ids
   */
  publish(queue: string, ...messages: DevQueueInput[]): (string | number)[];
  /** Messages on the queue not yet acknowledged (waiting or held by a consumer). 0 for an unknown queue. */
  depth(queue: string): number;
  /** The queue's counters. */
  stats(queue: string): DevQueueStats;
  /** Copies of the messages waiting on the queue, in order, without consuming them. */
  browse(queue: string): DevQueueBrowsed[];
  /** The queue's dead-letter store: rejected persistent messages, oldest first. */
  deadLetters(queue: string): DevQueueDeadLetter[];
  /** Every delivery of one message so far, oldest first: the count the consumer saw and how each ended. */
  deliveries(queue: string, messageId: string | number): DevQueueDelivery[];
  /** Client connections open now (logged in). */
  readonly connections: number;
  /** Closes every connection (as a broker stop: the sockets just close) and stops listening. */
  close(): Promise<void>;
  /** `await using q = await startDevQueue()` closes it. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** Open-frame idle timeout, as ActiveMQ offers it. */
const IDLE_TIME_OUT_MS = 15_000;
/** Open-frame max frame size, as ActiveMQ offers it. */
const MAX_FRAME_SIZE = 131_072;
const DEFAULT_QUEUE = 'civitas.outreach.dev';
const DEFAULT_SAMPLES = 20;

interface LinkState {
  readonly sender: Sender;
  readonly hold: LinkHold;
  readonly conn: ConnState;
  /** The receiver's delivery-count + link-credit at its last flow: sends may reach it, not pass it. */
  limit: number;
  /** Sends since attach (including those waiting out a delay). */
  sent: number;
  drainRequested: boolean;
  delayed: number;
  closed: boolean;
}

interface ConnState {
  readonly connection: Connection;
  readonly links: Map<Sender, LinkState>;
  open: boolean;
  dead: boolean;
}

/**
 * Starts a development queue: a small AMQP 1.0 endpoint in this process that behaves, as far as
 * a consumer can tell, like the Civitas queue on Amazon MQ (ActiveMQ). For tests, demos and
 * development; **not a production broker**: everything is in memory and lost at `close()`.
 *
 * @remarks
 * SASL PLAIN with one user (ANONYMOUS is offered and refused, as on ActiveMQ with authentication
 * on), TLS when given a key and certificate, named queues seeded with sample outreach, link credit
 * honoured exactly, drain answered, and the four AMQP outcomes with the effects measured on
 * ActiveMQ 5.18.3 (`docs/wire-facts.md`): accepted removes; released and modified keep the
 * message for the same link (modified with `delivery-failed` raises `delivery_count`, never
 * dead-letters by count); rejected dead-letters into a store a test can read; unsettled
 * deliveries go back on link detach (count unchanged) and on a lost connection (count + 1).
 * `distribution-mode: copy` browses. Where it differs from ActiveMQ, `docs/dev-queue.md` lists it
 * and `test/integration/conformance.test.ts` holds it.
 *
 * @example
 * ```ts
 * import { startDevQueue } from 'civitas-outreach/testing';
 * import { OutreachConsumer } from 'civitas-outreach';
 *
 * await using q = await startDevQueue({ queues: { outreach: 50 } });
 * const consumer = new OutreachConsumer({ url: q.url, username: q.username, password: q.password, queue: 'outreach', allowInsecure: true });
 * ```
 * @throws `OutreachError` `INVALID_ARGUMENT` for an empty username or queue name, or a port it cannot listen on
 */
export async function startDevQueue(options: DevQueueOptions = {}): Promise<DevQueue> {
  const username = options.username ?? 'civitas';
  const password = options.password ?? randomBytes(12).toString('base64url');
  if (username === '') throw new OutreachError('INVALID_ARGUMENT', 'username: must not be empty');
  const host = options.host ?? '127.0.0.1';
  const tls = options.tls !== undefined;

  const queues = new Map<string, QueueState>();
  const conns = new Map<Connection, ConnState>();
  const sockets = new Set<Socket>();
  let refuseLogins = 0;
  let delayMs = 0;
  let stalled = false;
  const stalledSockets = new Set<Socket>();
  /** Reads nothing more and holds back every write, heartbeats included. */
  const stallSocket = (socket: Socket): void => {
    stalledSockets.add(socket);
    socket.pause();
    socket.cork();
  };
  let closed = false;

  const queueOf = (name: string): QueueState => {
    const key = queueName(name);
    let queue = queues.get(key);
    if (queue === undefined) {
      queue = new QueueState(key);
      queues.set(key, queue);
    }
    return queue;
  };

  const publish = (name: string, inputs: readonly DevQueueInput[]): (string | number)[] => {
    const queue = queueOf(name);
    const ids = inputs.map((input) => {
      const m = toMessage(input);
      return queue.add({
        body: m.body,
        messageId: m.messageId ?? `ID:dev-queue-${randomUUID()}`,
        durable: m.durable ?? true,
        applicationProperties: m.applicationProperties,
        subject: m.subject,
        contentType: m.contentType,
        deliveryCount: m.deliveryCount ?? 0,
      }).messageId;
    });
    pump(queue);
    return ids;
  };

  for (const [name, seed] of Object.entries(options.queues ?? { [DEFAULT_QUEUE]: DEFAULT_SAMPLES })) {
    if (queueName(name) === '') throw new OutreachError('INVALID_ARGUMENT', 'queues: a queue name must not be empty');
    publish(name, typeof seed === 'number' ? [...makeOutreachMessages(seed, { seed: 1 })] : seed);
  }

  const container = rhea.create_container({ id: 'civitas-dev-queue' });
  container.sasl_server_mechanisms.enable_plain((user: string, pass: string) => {
    if (refuseLogins > 0) {
      refuseLogins--;
      return false;
    }
    return user === username && pass === password;
  });
  // ActiveMQ offers ANONYMOUS too, and refuses it when authentication is on (wire-facts).
  offerRefusedMechanism(container, 'ANONYMOUS');

  const connState = (connection: Connection): ConnState => {
    let state = conns.get(connection);
    if (state === undefined) {
      state = { connection, links: new Map(), open: false, dead: false };
      conns.set(connection, state);
    }
    return state;
  };

  /** Sends what each link of the queue may have, round-robin, then answers drains. */
  function pump(queue: QueueState): void {
    let progress = true;
    while (progress) {
      progress = false;
      for (const hold of [...queue.links]) {
        const link = linkOf(hold);
        if (link === undefined || link.closed || link.conn.dead) continue;
        if (link.limit - link.sent <= 0 || !queue.hasFor(hold)) continue;
        const message = queue.takeFor(hold)!;
        link.sent++;
        progress = true;
        if (delayMs > 0) {
          link.delayed++;
          if (!hold.browse) hold.delayed.add(message);
          setTimeout(() => {
            link.delayed--;
            // Gone from the set: its link closed meanwhile and put it back on the queue.
            if (hold.browse ? !link.closed && !link.conn.dead : hold.delayed.delete(message)) transfer(link, message);
            pump(queue);
          }, delayMs).unref();
        } else {
          transfer(link, message);
        }
      }
    }
    for (const hold of queue.links) {
      const link = linkOf(hold);
      if (link === undefined || link.closed || link.conn.dead) continue;
      // A drain: send what you can, then use up the rest of the credit and say so (flow, credit 0).
      if (link.drainRequested && link.delayed === 0 && !queue.hasFor(hold) && link.limit - link.sent > 0) {
        link.drainRequested = false;
        link.sent = link.limit;
        link.sender.set_drained(true);
        requestOutput(link.sender);
      }
    }
  }

  const holdToLink = new Map<LinkHold, LinkState>();
  const linkOf = (hold: LinkHold): LinkState | undefined => holdToLink.get(hold);

  function transfer(link: LinkState, message: StoredMessage): void {
    const queue = link.hold.queue;
    const amqp: Record<string, unknown> = {
      body: message.body,
      message_id: message.messageId,
      to: `queue://${queue.name}`,
      message_annotations: { 'x-opt-jms-dest': 0 },
    };
    if (message.durable) amqp['durable'] = true;
    if (message.deliveryCount > 0) amqp['delivery_count'] = message.deliveryCount;
    if (message.applicationProperties !== undefined) amqp['application_properties'] = message.applicationProperties;
    if (message.subject !== undefined) amqp['subject'] = message.subject;
    if (message.contentType !== undefined) amqp['content_type'] = message.contentType;
    const delivery = link.sender.send(amqp as unknown as RheaMessage);
    queue.sent(link.hold, delivery, message);
  }

  function closeLink(link: LinkState, how: 'detach' | 'lost'): void {
    if (link.closed) return;
    link.closed = true;
    link.conn.links.delete(link.sender);
    holdToLink.delete(link.hold);
    // rhea records a disposition at once but tells us ('settled') only on its next output pass,
    // while a detach or close is told at once: apply what the client settled before it went.
    for (const key of [...link.hold.unsettled.keys()]) {
      const delivery = key as RheaDelivery;
      if (delivery.remote_settled) link.hold.queue.settle(link.hold, delivery, outcomeOf(delivery));
    }
    if (how === 'lost') link.hold.queue.connectionLost(link.hold);
    else link.hold.queue.detach(link.hold);
    pump(link.hold.queue);
  }

  function connectionGone(connection: Connection, how: 'detach' | 'lost'): void {
    const state = conns.get(connection);
    if (state === undefined) return;
    conns.delete(connection);
    state.dead = true;
    for (const link of [...state.links.values()]) closeLink(link, how);
  }

  container.on('connection_open', (ctx: EventContext) => {
    const connection = ctx.connection;
    const state = connState(connection);
    const id = connection.container_id;
    const clash = [...conns.values()].some((other) => other !== state && other.open && !other.dead && other.connection.container_id === id);
    if (clash) {
      // ActiveMQ: the container id is the JMS client id, one connection each (wire-facts).
      connection.close({
        condition: 'amqp:invalid-field',
        description: `Broker: civitas-dev-queue - Client: ${id} already connected`,
        info: { 'invalid-field': 'container-id' },
      } as unknown as Parameters<Connection['close']>[0]);
      return;
    }
    state.open = true;
  });

  container.on('sender_open', (ctx: EventContext) => {
    const sender = ctx.sender!;
    const source = (sender.source ?? {}) as { address?: string; distribution_mode?: string };
    const address = source.address ?? '';
    const browse = source.distribution_mode === 'copy';
    sender.set_source({ address, ...(browse ? { distribution_mode: 'copy' } : {}) } as Parameters<Sender['set_source']>[0]);
    if (queueName(address) === '') {
      sender.close({ condition: 'amqp:invalid-field', description: 'no queue named in the source address' });
      return;
    }
    const conn = connState(ctx.connection);
    const queue = queueOf(address);
    const link: LinkState = { sender, hold: newHold(queue, browse), conn, limit: 0, sent: 0, drainRequested: false, delayed: 0, closed: false };
    conn.links.set(sender, link);
    holdToLink.set(link.hold, link);
  });

  container.on('sender_flow', (ctx: EventContext) => {
    const link = conns.get(ctx.connection)?.links.get(ctx.sender!);
    if (link === undefined) return;
    // rhea: credit = flow.delivery_count + flow.link_credit - own delivery_count, so this sum is
    // the receiver's limit, whatever is still being written.
    link.limit = senderLimit(ctx.sender!);
    link.drainRequested = false;
    pump(link.hold.queue);
  });

  container.on('sender_draining', (ctx: EventContext) => {
    const link = conns.get(ctx.connection)?.links.get(ctx.sender!);
    if (link === undefined) return;
    link.drainRequested = true;
    pump(link.hold.queue);
  });

  container.on('settled', (ctx: EventContext) => {
    const link = ctx.sender === undefined ? undefined : conns.get(ctx.connection)?.links.get(ctx.sender);
    if (link === undefined || ctx.delivery === undefined) return;
    link.hold.queue.settle(link.hold, ctx.delivery, outcomeOf(ctx.delivery));
    pump(link.hold.queue);
  });

  container.on('sender_close', (ctx: EventContext) => {
    const link = conns.get(ctx.connection)?.links.get(ctx.sender!);
    if (link !== undefined) closeLink(link, 'detach');
  });

  container.on('receiver_open', (ctx: EventContext) => {
    const receiver = ctx.receiver!;
    const target = (receiver.target ?? {}) as { address?: string };
    receiver.set_target({ address: target.address ?? '' } as Parameters<typeof receiver.set_target>[0]);
  });

  container.on('message', (ctx: EventContext) => {
    const message = ctx.message;
    if (message === undefined || ctx.receiver === undefined) return;
    const address = ((ctx.receiver.target ?? {}) as { address?: string }).address ?? (typeof message.to === 'string' ? message.to : '');
    // A comma makes a composite destination: one copy on each queue (ActiveMQ).
    for (const name of address.split(',').map(queueName).filter((n) => n !== '')) {
      publish(name, [
        {
          body: message.body,
          ...(message.message_id === undefined ? {} : { messageId: message.message_id as string | number }),
          durable: message.durable === true,
          ...(message.application_properties === undefined ? {} : { applicationProperties: message.application_properties }),
          ...(typeof message.subject === 'string' ? { subject: message.subject } : {}),
          ...(typeof message.content_type === 'string' ? { contentType: message.content_type } : {}),
        },
      ]);
    }
  });

  container.on('connection_close', (ctx: EventContext) => connectionGone(ctx.connection, 'detach'));
  container.on('disconnected', (ctx: EventContext) => connectionGone(ctx.connection, 'lost'));
  // Every error event has a listener: a client's mistake must not crash the process.
  for (const event of ['error', 'protocol_error', 'connection_error', 'session_error', 'sender_error', 'receiver_error']) {
    container.on(event, () => undefined);
  }

  const listenOptions = {
    host,
    port: options.port ?? 0,
    require_sasl: true,
    idle_time_out: IDLE_TIME_OUT_MS,
    max_frame_size: MAX_FRAME_SIZE,
    properties: { product: 'civitas-outreach dev queue', 'queue-prefix': 'queue://', 'topic-prefix': 'topic://' },
    ...(options.tls === undefined ? {} : { transport: 'tls' as const, key: options.tls.key, cert: options.tls.cert }),
  };
  const server = container.listen(listenOptions as unknown as Parameters<typeof container.listen>[0]) as unknown as Server;
  server.on(tls ? 'secureConnection' : 'connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    if (stalled) stallSocket(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', (error: Error) =>
      reject(new OutreachError('INVALID_ARGUMENT', `port: cannot listen on ${host}:${String(options.port ?? 0)} (${error.message})`, { cause: error })),
    );
  });
  server.on('error', () => undefined);
  const port = (server.address() as AddressInfo).port;

  const drop = (state: ConnState): void => {
    const socket = socketOf(state.connection);
    connectionGone(state.connection, 'lost');
    socket?.destroy?.();
    // rhea never hears of a socket destroyed on its own side: its heartbeat timers would run on.
    clearRheaTimers(state.connection);
  };

  const faults: DevQueueFaults = {
    dropConnections() {
      const all = [...conns.values()];
      for (const state of all) drop(state);
      for (const socket of sockets) socket.destroy();
      return all.filter((s) => s.open).length;
    },
    detachConsumers(opts = {}) {
      let n = 0;
      for (const state of conns.values()) {
        for (const link of [...state.links.values()]) {
          if (link.hold.browse) continue;
          if (opts.queue !== undefined && link.hold.queue.name !== queueName(opts.queue)) continue;
          link.sender.close({ condition: opts.condition ?? 'amqp:internal-error', description: opts.description ?? 'detached by the dev queue (fault injection)' });
          closeLink(link, 'detach');
          n++;
        }
      }
      return n;
    },
    refuseNextLogin(count = 1) {
      refuseLogins += count;
    },
    delayDeliveries(ms) {
      delayMs = Math.max(0, ms);
    },
    stall() {
      stalled = true;
      for (const socket of sockets) stallSocket(socket);
    },
    unstall() {
      stalled = false;
      // A path that went silent does not come back: the clients gave up by their idle timeout, and
      // what they sent meanwhile (a close, say) never arrived. Cut the stalled connections, as
      // ActiveMQ's inactivity monitor does: unsettled deliveries go back with the count + 1.
      for (const state of [...conns.values()]) {
        const socket = socketOf(state.connection) as Socket | undefined;
        if (socket !== undefined && stalledSockets.has(socket)) drop(state);
      }
      for (const socket of stalledSockets) socket.destroy();
      stalledSockets.clear();
    },
  };

  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    for (const state of [...conns.values()]) drop(state);
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };

  const known = (name: string): QueueState | undefined => queues.get(queueName(name));

  return {
    url: `${tls ? 'amqp+ssl' : 'amqp'}://${host.includes(':') ? `[${host}]` : host}:${port}`,
    host,
    port,
    tls,
    username,
    password,
    faults,
    queueNames: () => [...queues.keys()],
    publish: (queue, ...messages) => {
      if (queueName(queue) === '') throw new OutreachError('INVALID_ARGUMENT', 'queue: must not be empty');
      return publish(queue, messages);
    },
    depth: (queue) => known(queue)?.depth ?? 0,
    stats: (name) => {
      const queue = known(name);
      return {
        depth: queue?.depth ?? 0,
        ready: queue?.ready.length ?? 0,
        inFlight: queue?.inFlight ?? 0,
        consumers: queue?.links.filter((l) => !l.browse).length ?? 0,
        enqueued: queue?.enqueued ?? 0,
        dequeued: queue?.dequeued ?? 0,
        deadLettered: queue?.deadLetters.length ?? 0,
      };
    },
    browse: (queue) => (known(queue)?.ready ?? []).map((m) => ({ body: m.body, messageId: m.messageId, deliveryCount: m.deliveryCount })),
    deadLetters: (queue) => [...(known(queue)?.deadLetters ?? [])],
    deliveries: (queue, messageId) => (known(queue)?.history.get(messageId) ?? []).map((r) => ({ deliveryCount: r.deliveryCount, settlement: r.settlement })),
    get connections() {
      return [...conns.values()].filter((s) => s.open && !s.dead).length;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** `queue://NAME` and `NAME` are the same queue (ActiveMQ). */
function queueName(address: string): string {
  return address.replace(/^queue:\/\//, '').trim();
}


function toMessage(input: DevQueueInput): DevQueueMessage {
  if (typeof input === 'string') return { body: input };
  if (input instanceof Uint8Array) return { body: rhea.message.data_section(Buffer.from(input)) };
  if ('body' in input) return input;
  return { body: JSON.stringify(input) };
}

function outcomeOf(delivery: RheaDelivery): Outcome {
  const state = delivery.remote_state as { constructor?: { composite_type?: string }; delivery_failed?: boolean; undeliverable_here?: boolean; error?: { condition?: string; description?: string } } | undefined;
  switch (state?.constructor?.composite_type) {
    case 'rejected':
      return { kind: 'rejected', error: state.error === undefined ? undefined : { ...(state.error.condition === undefined ? {} : { condition: String(state.error.condition) }), ...(state.error.description === undefined ? {} : { description: state.error.description }) } };
    case 'released':
      return { kind: 'released' };
    case 'modified':
      return { kind: 'modified', deliveryFailed: state.delivery_failed === true, undeliverableHere: state.undeliverable_here === true };
    default:
      // accepted, or settled with no outcome (AMQP: the sender decides; ActiveMQ acks it)
      return { kind: 'accepted' };
  }
}
