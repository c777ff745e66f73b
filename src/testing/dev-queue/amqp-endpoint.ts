import type { AddressInfo, Server, Socket } from 'node:net';
import rhea from 'rhea';
import type { Connection, Container, Delivery as RheaDelivery, EventContext, Message as RheaMessage, Sender } from 'rhea';
import { registerInProcessEndpoint } from './in-process-socket.js';
import { clearRheaTimers, socketOf } from '../../connection/rhea-internals.js';
import { OutreachError } from '../../errors/outreach-error.js';
import { newHold, type LinkHold, type Outcome, type QueueState, type StoredMessage } from './queue-state.js';
import { queueName, type QueueStore } from './queue-store.js';
import { acceptStream, offerRefusedMechanism, senderLimit } from './rhea-server-internals.js';
import type { DevQueueTls } from './types.js';

/** Open-frame idle timeout, as ActiveMQ offers it. */
const IDLE_TIME_OUT_MS = 15_000;
/** Open-frame max frame size, as ActiveMQ offers it. */
const MAX_FRAME_SIZE = 131_072;
/** The dev queue's AMQP container id (ActiveMQ sends its broker name). */
export const DEV_QUEUE_CONTAINER_ID = 'civitas-dev-queue';

/** @internal Where and how the endpoint listens, and who may log in. */
export interface EndpointSettings {
  /** Listen on TCP; otherwise serve in-process connections only. */
  readonly network: boolean;
  readonly host: string;
  readonly port: number;
  readonly tls: DevQueueTls | undefined;
  readonly username: string;
  readonly password: string;
}

/** One consumer link: rhea's sender, the store's hold, and the credit it was given. */
interface LinkState {
  readonly sender: Sender;
  readonly hold: LinkHold;
  readonly conn: ConnState;
  /** The receiver's delivery-count + link-credit at its last flow: sends may reach it, not pass it. */
  limit: number;
  /** Sends since attach (including those waiting out a delay). */
  sent: number;
  drainRequested: boolean;
  /** Sends waiting out the `delayDeliveries` fault. */
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
 * @internal The dev queue's AMQP side on rhea's listening container: logins, links, credit and
 * drain, settlements (applied to the store with ActiveMQ's effects), lost connections, and the
 * fault switches. Every rhea error event has a listener: a client's mistake cannot crash the
 * process.
 */
export class AmqpEndpoint {
  readonly #store: QueueStore;
  readonly #settings: EndpointSettings;
  readonly #container: Container;
  readonly #conns = new Map<Connection, ConnState>();
  readonly #links = new Map<LinkHold, LinkState>();
  readonly #sockets = new Set<Socket>();
  /** rhea connections opened and not yet disconnected, whose timers a destroyed socket would leave armed. */
  readonly #opened = new Set<Connection>();
  readonly #stalledSockets = new Set<Socket>();
  #server: Server | undefined;
  #inProcess: { readonly host: string; unregister(): void } | undefined;
  #refuseLogins = 0;
  #delayMs = 0;
  #stalled = false;
  #closed = false;

  private constructor(store: QueueStore, settings: EndpointSettings) {
    this.#store = store;
    store.onAdded((queue) => this.pump(queue));
    this.#settings = settings;
    this.#container = rhea.create_container({ id: DEV_QUEUE_CONTAINER_ID });
    this.#container.sasl_server_mechanisms.enable_plain((user: string, pass: string) => this.#login(user, pass));
    // ActiveMQ offers ANONYMOUS too, and refuses it when authentication is on (wire-facts).
    offerRefusedMechanism(this.#container, 'ANONYMOUS');
    this.#listenToRhea();
  }

  /** Starts listening; resolves when it does. */
  static async listen(store: QueueStore, settings: EndpointSettings): Promise<AmqpEndpoint> {
    const endpoint = new AmqpEndpoint(store, settings);
    await endpoint.#listen();
    return endpoint;
  }

  /** The port it listens on; 0 when it serves in-process connections only. */
  get port(): number {
    return this.#server === undefined ? 0 : (this.#server.address() as AddressInfo).port;
  }

  /** The host name that reaches it: the one it listens on, or its in-process name. */
  get host(): string {
    return this.#inProcess?.host ?? this.#settings.host;
  }

  /** Client connections open now (logged in). */
  get connections(): number {
    return [...this.#conns.values()].filter((s) => s.open && !s.dead).length;
  }

  /** Sends what each consumer link of the queue may have, round-robin, then answers drains. */
  pump(queue: QueueState): void {
    let progress = true;
    while (progress) {
      progress = false;
      for (const hold of [...queue.links]) {
        const link = this.#live(hold);
        if (link === undefined || link.limit - link.sent <= 0 || !queue.hasFor(hold)) continue;
        const message = queue.takeFor(hold)!;
        link.sent++;
        progress = true;
        if (this.#delayMs > 0) this.#transferLater(link, message, this.#delayMs);
        else this.#transfer(link, message);
      }
    }
    for (const hold of queue.links) {
      const link = this.#live(hold);
      // A drain: send what you can, then use up the rest of the credit and say so (flow, credit
      // 0). When the messages use the credit up, no answer comes (as on ActiveMQ).
      if (link !== undefined && link.drainRequested && link.delayed === 0 && !queue.hasFor(hold) && link.limit - link.sent > 0) {
        link.drainRequested = false;
        link.sent = link.limit;
        // Written on rhea's current pass: drains are answered only from rhea's own events or
        // after a send, both of which rhea follows with an output pass.
        link.sender.set_drained(true);
      }
    }
  }

  // ---- faults --------------------------------------------------------------------------

  dropConnections(): number {
    const all = [...this.#conns.values()];
    for (const state of all) this.#drop(state);
    this.#destroySockets();
    return all.filter((s) => s.open).length;
  }

  detachConsumers(options: { readonly queue?: string; readonly condition?: string; readonly description?: string }): number {
    let n = 0;
    for (const state of this.#conns.values()) {
      for (const link of [...state.links.values()]) {
        if (link.hold.browse) continue;
        if (options.queue !== undefined && link.hold.queue.name !== queueName(options.queue)) continue;
        link.sender.close({ condition: options.condition ?? 'amqp:internal-error', description: options.description ?? 'detached by the dev queue (fault injection)' });
        this.#closeLink(link, 'detach');
        n++;
      }
    }
    return n;
  }

  refuseNextLogin(count: number): void {
    this.#refuseLogins += count;
  }

  delayDeliveries(ms: number): void {
    this.#delayMs = Math.max(0, ms);
  }

  stall(): void {
    this.#stalled = true;
    for (const socket of this.#sockets) this.#stallSocket(socket);
  }

  unstall(): void {
    this.#stalled = false;
    // A path that went silent does not come back: the clients gave up by their idle timeout, and
    // what they sent meanwhile (a close, say) never arrived. Cut the stalled connections, as
    // ActiveMQ's inactivity monitor does: unsettled deliveries go back with the count + 1.
    for (const state of [...this.#conns.values()]) {
      const socket = socketOf(state.connection) as Socket | undefined;
      if (socket !== undefined && this.#stalledSockets.has(socket)) this.#drop(state);
    }
    for (const socket of this.#stalledSockets) socket.destroy();
    this.#stalledSockets.clear();
  }

  /** Closes every connection (the sockets just close, as ActiveMQ's graceful stop) and stops listening. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const state of [...this.#conns.values()]) this.#drop(state);
    this.#destroySockets();
    this.#inProcess?.unregister();
    const server = this.#server;
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  // ---- listening and logins --------------------------------------------------------------

  async #listen(): Promise<void> {
    const { host, port, tls, network } = this.#settings;
    const options = {
      host,
      port,
      require_sasl: true,
      idle_time_out: IDLE_TIME_OUT_MS,
      max_frame_size: MAX_FRAME_SIZE,
      properties: { product: 'civitas-outreach dev queue', 'queue-prefix': 'queue://', 'topic-prefix': 'topic://' },
      ...(tls === undefined ? {} : { transport: 'tls' as const, key: tls.key, cert: tls.cert }),
    };
    if (!network) {
      this.#inProcess = registerInProcessEndpoint((stream) => {
        this.#accepted(stream as Socket);
        acceptStream(this.#container, options, stream);
      });
      return;
    }
    const server = this.#container.listen(options as unknown as Parameters<Container['listen']>[0]) as unknown as Server;
    this.#server = server;
    server.on(tls === undefined ? 'connection' : 'secureConnection', (socket: Socket) => this.#accepted(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', (error: Error) =>
        reject(new OutreachError('INVALID_ARGUMENT', `port: cannot listen on ${host}:${String(port)} (${error.message})`, { cause: error })),
      );
    });
    server.on('error', () => undefined);
  }

  /**
   * Destroys every client socket. rhea hears nothing of a socket destroyed on its own side, so the
   * heartbeat timers of a connection that had already closed (gone from the table, its socket
   * waiting for the client's end) would keep the process alive: they are cleared too.
   */
  #destroySockets(): void {
    for (const socket of this.#sockets) socket.destroy();
    for (const connection of this.#opened) clearRheaTimers(connection);
  }

  /** A new client socket (or in-process stream): tracked for the fault switches and close(). */
  #accepted(socket: Socket): void {
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    if (this.#stalled) this.#stallSocket(socket);
  }

  #login(user: string, pass: string): boolean {
    if (this.#refuseLogins > 0) {
      this.#refuseLogins--;
      return false;
    }
    return user === this.#settings.username && pass === this.#settings.password;
  }

  /** Reads nothing more and holds back every write, heartbeats included. */
  #stallSocket(socket: Socket): void {
    this.#stalledSockets.add(socket);
    socket.pause();
    socket.cork();
  }

  // ---- rhea events -----------------------------------------------------------------------

  #listenToRhea(): void {
    const on = (event: string, handler: (ctx: EventContext) => void): void => void this.#container.on(event, handler);
    on('connection_open', (ctx) => {
      this.#opened.add(ctx.connection);
      this.#connectionOpened(ctx.connection);
    });
    on('sender_open', (ctx) => this.#consumerAttached(ctx.connection, ctx.sender!));
    on('sender_flow', (ctx) => {
      const link = this.#linkOf(ctx);
      if (link === undefined) return;
      link.limit = senderLimit(link.sender);
      link.drainRequested = false;
      this.pump(link.hold.queue);
    });
    on('sender_draining', (ctx) => {
      const link = this.#linkOf(ctx);
      if (link === undefined) return;
      link.drainRequested = true;
      this.pump(link.hold.queue);
    });
    on('settled', (ctx) => {
      const link = this.#linkOf(ctx);
      if (link === undefined || ctx.delivery === undefined) return;
      link.hold.queue.settle(link.hold, ctx.delivery, outcomeOf(ctx.delivery));
      this.pump(link.hold.queue);
    });
    on('sender_close', (ctx) => {
      const link = this.#linkOf(ctx);
      if (link !== undefined) this.#closeLink(link, 'detach');
    });
    on('receiver_open', (ctx) => {
      const receiver = ctx.receiver!;
      receiver.set_target({ address: ((receiver.target ?? {}) as { address?: string }).address ?? '' } as Parameters<typeof receiver.set_target>[0]);
    });
    on('message', (ctx) => this.#published(ctx));
    on('connection_close', (ctx) => this.#connectionGone(ctx.connection, 'detach'));
    on('disconnected', (ctx) => {
      this.#opened.delete(ctx.connection);
      this.#connectionGone(ctx.connection, 'lost');
    });
    for (const event of ['error', 'protocol_error', 'connection_error', 'session_error', 'sender_error', 'receiver_error']) on(event, () => undefined);
  }

  #connectionOpened(connection: Connection): void {
    const state = this.#connState(connection);
    const id = connection.container_id;
    const clash = [...this.#conns.values()].some((other) => other !== state && other.open && !other.dead && other.connection.container_id === id);
    if (clash) {
      // ActiveMQ: the container id is the JMS client id, one connection each (wire-facts).
      connection.close({
        condition: 'amqp:invalid-field',
        description: `Broker: ${DEV_QUEUE_CONTAINER_ID} - Client: ${id} already connected`,
        info: { 'invalid-field': 'container-id' },
      } as unknown as Parameters<Connection['close']>[0]);
      return;
    }
    state.open = true;
  }

  #consumerAttached(connection: Connection, sender: Sender): void {
    const source = (sender.source ?? {}) as { address?: string; distribution_mode?: string };
    const address = source.address ?? '';
    const browse = source.distribution_mode === 'copy';
    sender.set_source({ address, ...(browse ? { distribution_mode: 'copy' } : {}) } as Parameters<Sender['set_source']>[0]);
    if (queueName(address) === '') {
      sender.close({ condition: 'amqp:invalid-field', description: 'no queue named in the source address' });
      return;
    }
    const conn = this.#connState(connection);
    const link: LinkState = { sender, hold: newHold(this.#store.queue(address), browse), conn, limit: 0, sent: 0, drainRequested: false, delayed: 0, closed: false };
    conn.links.set(sender, link);
    this.#links.set(link.hold, link);
  }

  /** A message from a client's sender link. */
  #published(ctx: EventContext): void {
    const message = ctx.message;
    if (message === undefined || ctx.receiver === undefined) return;
    const address = ((ctx.receiver.target ?? {}) as { address?: string }).address ?? (typeof message.to === 'string' ? message.to : '');
    // A comma makes a composite destination: one copy on each queue (ActiveMQ).
    for (const name of address.split(',').map(queueName).filter((n) => n !== '')) {
      this.#store.publish(name, [
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
  }

  // ---- links and connections -------------------------------------------------------------

  #connState(connection: Connection): ConnState {
    let state = this.#conns.get(connection);
    if (state === undefined) {
      state = { connection, links: new Map(), open: false, dead: false };
      this.#conns.set(connection, state);
    }
    return state;
  }

  #linkOf(ctx: EventContext): LinkState | undefined {
    return ctx.sender === undefined ? undefined : this.#conns.get(ctx.connection)?.links.get(ctx.sender);
  }

  /** The link of a hold, if it can still be sent to. */
  #live(hold: LinkHold): LinkState | undefined {
    const link = this.#links.get(hold);
    return link === undefined || link.closed || link.conn.dead ? undefined : link;
  }

  #transfer(link: LinkState, message: StoredMessage): void {
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

  /** The `delayDeliveries` fault: the message is the link's (and counted in flight) meanwhile. */
  #transferLater(link: LinkState, message: StoredMessage, ms: number): void {
    const hold = link.hold;
    link.delayed++;
    if (!hold.browse) hold.delayed.add(message);
    setTimeout(() => {
      link.delayed--;
      // Gone from the set: its link closed meanwhile and put it back on the queue.
      if (hold.browse ? this.#live(hold) !== undefined : hold.delayed.delete(message)) this.#transfer(link, message);
      this.pump(hold.queue);
    }, ms).unref();
  }

  #closeLink(link: LinkState, how: 'detach' | 'lost'): void {
    if (link.closed) return;
    link.closed = true;
    link.conn.links.delete(link.sender);
    this.#links.delete(link.hold);
    // rhea records a disposition at once but tells us ('settled') only on its next output pass,
    // while a detach or close is told at once: apply what the client settled before it went.
    for (const key of [...link.hold.unsettled.keys()]) {
      const delivery = key as RheaDelivery;
      if (delivery.remote_settled) link.hold.queue.settle(link.hold, delivery, outcomeOf(delivery));
    }
    if (how === 'lost') link.hold.queue.connectionLost(link.hold);
    else link.hold.queue.detach(link.hold);
    this.pump(link.hold.queue);
  }

  #connectionGone(connection: Connection, how: 'detach' | 'lost'): void {
    const state = this.#conns.get(connection);
    if (state === undefined) return;
    this.#conns.delete(connection);
    state.dead = true;
    for (const link of [...state.links.values()]) this.#closeLink(link, how);
  }

  /** Cuts a connection from this side: its deliveries are lost (count + 1). */
  #drop(state: ConnState): void {
    const socket = socketOf(state.connection);
    this.#connectionGone(state.connection, 'lost');
    socket?.destroy?.();
    // rhea never hears of a socket destroyed on its own side: its heartbeat timers would run on.
    clearRheaTimers(state.connection);
  }
}

/** The outcome a client sent, as the store needs it. */
function outcomeOf(delivery: RheaDelivery): Outcome {
  const state = delivery.remote_state as
    | { constructor?: { composite_type?: string }; delivery_failed?: boolean; undeliverable_here?: boolean; error?: { condition?: unknown; description?: string } }
    | undefined;
  switch (state?.constructor?.composite_type) {
    case 'rejected': {
      const error = state.error;
      return {
        kind: 'rejected',
        error: error === undefined ? undefined : { ...(error.condition === undefined ? {} : { condition: String(error.condition) }), ...(error.description === undefined ? {} : { description: error.description }) },
      };
    }
    case 'released':
      return { kind: 'released' };
    case 'modified':
      return { kind: 'modified', deliveryFailed: state.delivery_failed === true, undeliverableHere: state.undeliverable_here === true };
    default:
      // accepted, or settled with no outcome (AMQP: the sender decides; ActiveMQ acknowledges it)
      return { kind: 'accepted' };
  }
}
