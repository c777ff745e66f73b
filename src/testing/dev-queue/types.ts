// The dev queue's public types: its options, what it returns, and its fault switches.
import '../../async-dispose.js'; // for its types only: [Symbol.asyncDispose] without lib esnext or @types/node
import type { OutreachWireMessage } from '../examples.js';
import type { DevQueueDeadLetter, DevQueueSettlement } from './queue-state.js';

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
   * (`amqp://`; the consumer then needs `allowInsecure: true`). [docs/dev-queue.md](../../../docs/dev-queue.md) shows how to
   * make a local certificate with one `openssl` command.
   */
  readonly tls?: DevQueueTls;
  /**
   * Whether to listen on a TCP port. With `false` nothing listens: only an `OutreachConsumer` in
   * this process can connect, through {@link DevQueue.url} (an in-memory stream pair, no socket;
   * what `runHandler` uses). Not with `tls`.
   * @defaultValue `true`
   */
  readonly network?: boolean;
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

/** A PEM key and certificate for {@link DevQueueOptions.tls}: text, or its bytes (a `Buffer` or any `Uint8Array`). */
export interface DevQueueTls {
  /** The private key, PEM. */
  readonly key: string | Uint8Array;
  /** The certificate, PEM; clients trust it as their `ca` when it is self-signed. */
  readonly cert: string | Uint8Array;
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
  /**
   * When it ended, relative to the other deliveries of the same queue: its place, from 1, in the
   * order the dev queue applied the ends of that queue's deliveries (settlements as their
   * disposition frames arrived, and returns on a link detach or a lost connection); `undefined`
   * while unsettled. Sort a queue's deliveries by it to see the order the consumer's dispositions
   * reached the queue in. Acceptances of adjacent ids that share one disposition frame
   * (`first`..`last`) are applied, and numbered, in ascending id order.
   */
  readonly settledOrder: number | undefined;
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
  /**
   * `amqp+ssl://host:port` with TLS, `amqp://host:port` without; with `network: false`,
   * `amqp://<name>.in-process.invalid`, which only a consumer in this process can reach.
   */
  readonly url: string;
  /** The host it listens on (the in-process name with `network: false`). */
  readonly host: string;
  /** The port it listens on (0 with `network: false`). */
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
  /**
   * Every delivery of one message so far, oldest first: the count the consumer saw, how each
   * ended, and when relative to the queue's other deliveries ({@link DevQueueDelivery.settledOrder}).
   */
  deliveries(queue: string, messageId: string | number): DevQueueDelivery[];
  /** Client connections open now (logged in). */
  readonly connections: number;
  /** Closes every connection (as a broker stop: the sockets just close) and stops listening. */
  close(): Promise<void>;
  /** `await using q = await startDevQueue()` closes it. */
  [Symbol.asyncDispose](): Promise<void>;
}
