import type * as t from 'io-ts';
import type { AckStrategy } from '../ack/strategy.js';
import type { ReconnectOptions } from '../connection/backoff.js';
import type { OutreachDecodeError } from '../message/decode-error.js';
import type { Outreach } from '../message/outreach.js';
import type { DeliveryMetadata } from '../delivery/delivery.js';
import type { OutreachLogger } from '../logger.js';
import type { OutageOptions } from './outage.js';
import type { TelemetryOptions } from '../telemetry/options.js';
import type { JournalHealth, JournalOptions } from '../journal/options.js';

/** A message that could not be decoded, as handed to `onInvalid` and the `invalid` event. */
export interface InvalidMessage extends DeliveryMetadata {
  /** The body exactly as it arrived. Holds student data: store it as such. */
  readonly body: unknown;
  /** Why it could not be decoded: kind, paths and types, no student data. */
  readonly error: OutreachDecodeError;
}

/**
 * What becomes of an undecodable message after your `onInvalid` hook returned.
 *
 * - `reject` (the default): the broker dead-letters it. Your hook has had the raw body; the queue's
 *   owner (Civitas) can still recover it from the broker's dead-letter queue.
 * - `accept`: it is deleted. Choose this only if your hook stores the raw body durably.
 */
export type InvalidMessagePolicy = 'reject' | 'accept';

/**
 * Options of {@link OutreachConsumer}.
 * @typeParam A - the decoded message type: what `codec` decodes; {@link Outreach} (the default
 *   codec's type) unless you pass your own codec
 */
export interface OutreachConsumerOptions<A = Outreach> {
  /**
   * The broker URL as the AWS console shows it: `amqp+ssl://b-…-1.mq.us-east-1.amazonaws.com:5671`
   * (`amqps://` works too). For an active/standby broker give both endpoints, as an array or as
   * `failover:(url1,url2)`; the consumer rotates between them on reconnect.
   */
  readonly url: string | readonly string[];
  /** The username Civitas gave you. Never logged. */
  readonly username: string;
  /** The password Civitas gave you. Never logged, never in errors or events. */
  readonly password: string;
  /** The queue name Civitas gave you (`queue://` in front is allowed; `,`, `*` and `>` are not). */
  readonly queue: string;
  /**
   * The certificates to trust (PEM, as text or bytes: a `Buffer` or any `Uint8Array`), for a
   * broker whose certificate is not publicly trusted (a private CA, the test broker). They replace Node's bundled CAs, as Node's own `ca` option
   * does: only these are trusted. Amazon MQ's certificates are publicly trusted: leave this unset
   * there. TLS verification is always on.
   * @defaultValue Node's bundled CAs
   */
  readonly ca?: string | Uint8Array | readonly (string | Uint8Array)[];
  /**
   * TLS server name to verify the certificate against.
   * @defaultValue the URL's host name (none for an IP address)
   */
  readonly servername?: string;
  /**
   * Allow plain `amqp://` URLs, which send the password in clear text. Only for a local broker.
   * @defaultValue `false`
   */
  readonly allowInsecure?: boolean;
  /**
   * The most messages held in this process at once: buffered, being handled, or waiting to be
   * settled (failed ones waiting out a retry delay are bounded apart: `maxWaitingRetries`).
   * Credit is granted to the broker only as work completes, so memory stays bounded by
   * `prefetch` whatever the backlog, and by `maxHeldBytes` whatever the bodies' size. It is also
   * the most a crash (`kill -9`, a lost connection) leaves to be delivered again.
   * @defaultValue `100` ({@link DEFAULT_PREFETCH})
   */
  readonly prefetch?: number;
  /**
   * The most bytes of message bodies held in this process at once, whatever `prefetch` says:
   * credit is granted only for as many more messages as fit, each counted at the largest body
   * seen so far. A backlog of campaign-sized messages (a 40,000-student campaign is about 6 MB)
   * then holds a few at a time, not `prefetch` of them; small messages never meet it. A body
   * larger than any before it can go over by itself, and one body larger than the whole budget
   * still goes through, alone. The process's memory for a held message is a few times its body
   * (the body, and the decoded outreach of those in your code): docs/operations.md.
   * @defaultValue 32 MiB ({@link DEFAULT_MAX_HELD_BYTES})
   */
  readonly maxHeldBytes?: number;
  /**
   * How many failed deliveries may wait out their retry delay outside the `prefetch` budget. A
   * delivery waiting to be retried holds no handler slot, and up to this many hold no prefetch
   * slot either, so a few poison messages waiting 1, 2, 4… seconds do not stop the good ones
   * flowing. Beyond it, waiting deliveries take prefetch slots (backpressure). The process then
   * holds at most `prefetch + maxWaitingRetries` messages.
   * @defaultValue 10 x `prefetch`
   */
  readonly maxWaitingRetries?: number;
  /**
   * When deliveries are settled: the delivery guarantee.
   * @defaultValue `atLeastOnce()`
   */
  readonly strategy?: NoInfer<AckStrategy<A>>;
  /**
   * The io-ts codec that checks each message.
   * @defaultValue `OutreachCodec`
   */
  readonly codec?: t.Decoder<unknown, A>;
  /**
   * The largest body decoded; larger ones are invalid messages of kind `too-large`.
   * @defaultValue `16777216` (16 MiB, {@link DEFAULT_MAX_BODY_BYTES})
   */
  readonly maxBodyBytes?: number;
  /**
   * Called with every message that cannot be decoded, before it is settled by `invalidPolicy`.
   * If it throws, the message is retried instead, after the same delays as a failed handler
   * ({@link defaultRetryDelayMs}, while other messages flow), up to 5 attempts in all, then
   * rejected; so nothing is settled before your hook has had it. Its failures count towards an
   * outage like a handler's: while your quarantine store is down, messages are handed back, not
   * rejected.
   * @defaultValue none; the `invalid` event is still emitted
   */
  readonly onInvalid?: (invalid: InvalidMessage) => void | Promise<void>;
  /**
   * What becomes of an undecodable message after `onInvalid`.
   * @defaultValue `'reject'`
   */
  readonly invalidPolicy?: InvalidMessagePolicy;
  /** Reconnection backoff and limits. @defaultValue see {@link ReconnectOptions} */
  readonly reconnect?: ReconnectOptions;
  /**
   * How long one connection attempt (TCP, TLS, SASL, open, attach) may take.
   * @defaultValue `15000`
   */
  readonly connectTimeoutMs?: number;
  /**
   * How long the broker may be silent. Half of it is offered to the broker as the AMQP idle
   * timeout (its gaps between frames can reach what is offered: ActiveMQ counts its heartbeat
   * period from when it notices its last frame). A connection from which nothing came for this long is given up (a
   * `CONNECTION_FAILED` naming it) and the consumer reconnects: a half-open connection is found
   * within this and half a second. `health().stalledSince` shows the silence before that.
   * @defaultValue `15000`
   */
  readonly idleTimeoutMs?: number;
  /**
   * Outage handling: when your sink is down, stop taking messages and hand back what is held
   * (their attempts not spent), probe with one message on a capped backoff, and resume when a
   * probe succeeds, instead of dead-lettering the backlog. `false` turns it off (every failure
   * then spends an attempt; not advised). See [docs/delivery-guarantees.md](../../docs/delivery-guarantees.md).
   * @defaultValue on, with the defaults of {@link OutageOptions}
   */
  readonly outage?: OutageOptions | false;
  /**
   * Journal mode: each message is written to a local journal and fsynced before it is accepted on
   * the broker, at the broker's pace whatever your code does; your code reads from the journal,
   * through the same strategies, events, outage handling, pause and close. A restart resumes at
   * the first line not settled. What fails for good goes to the journal's own dead letters, never
   * to the broker's DLQ. The journal holds student data. See [docs/journal.md](../../docs/journal.md).
   * @defaultValue off
   */
  readonly journal?: JournalOptions;
  /**
   * Where the consumer logs; pino-compatible. Never receives passwords, bodies or student data.
   * A method that throws is ignored and reported once as a process warning (`OUTREACH_LOGGER_THREW`;
   * see {@link OutreachLogger}): your logger cannot crash or stall the consumer.
   * @defaultValue silent
   */
  readonly logger?: OutreachLogger;
  /**
   * OpenTelemetry spans and metrics (a `process` span per delivery, message counts, handler
   * durations, held deliveries, outage state), through the optional peer dependency
   * `@opentelemetry/api`. On when that package is installed, with the global providers; off, at
   * no cost, when it is not. `false` turns it off. Never records bodies, student data, error
   * messages or credentials. See [docs/telemetry.md](../../docs/telemetry.md).
   * @defaultValue on if `@opentelemetry/api` is installed, with its global providers
   */
  readonly telemetry?: TelemetryOptions | false;
}

/** Options of {@link OutreachConsumer.start}. */
export interface StartOptions {
  /**
   * How many deliveries your handler works on at once; at most `prefetch`.
   * @defaultValue `1`
   */
  readonly concurrency?: number;
  /** Aborting it closes the consumer (as `close()` with its defaults). @defaultValue none */
  readonly signal?: AbortSignal;
}

/** Options of {@link OutreachConsumer.close}. */
export interface CloseOptions {
  /**
   * How long to wait for in-flight work to finish and be settled. Work still running after it is
   * left unsettled: the broker delivers those messages again.
   * @defaultValue `30000`
   */
  readonly deadlineMs?: number;
  /** Aborting it ends the wait at once, as if the deadline had passed. @defaultValue none */
  readonly signal?: AbortSignal;
}

/** Counts of what became of the deliveries this consumer received, over its whole life. */
export interface SettleCounts {
  /**
   * Accepted: done, deleted by the broker. Counted when the acceptance is written to the
   * connection; one decided while its connection was being lost, and never written, counts as
   * `lost`. (The broker does not confirm acceptances, so one written in the instant a connection
   * dies can still fail to arrive: that message comes again, the at-least-once window.)
   */
  readonly accepted: number;
  /** Retried: back to the queue with a raised count. */
  readonly retried: number;
  /** Rejected: dead-lettered by the broker. */
  readonly rejected: number;
  /** Released: back to the queue unchanged (buffered, never handed out). */
  readonly released: number;
  /** Lost with a connection: the broker delivers them again. */
  readonly lost: number;
  /** Undecodable messages. */
  readonly invalid: number;
}

/** What {@link OutreachConsumer.close} reports. */
export interface CloseReport extends SettleCounts {
  /**
   * Handed to your code but still running at the deadline (your handler, or your sink's commit
   * under {@link batched}); left unsettled, so redelivered (not also counted in `lost`). A commit
   * still running is also logged at warn: if it completes later, those messages may be stored twice.
   */
  readonly unfinished: number;
  /** Whether the deadline passed (or the signal fired) before all work finished. */
  readonly timedOut: boolean;
}

/** A snapshot for readiness probes and dashboards. */
export interface ConsumerHealth {
  /** The consumer's lifecycle state. */
  readonly state: ConsumerState;
  /** Whether a link to the queue is open now. */
  readonly connected: boolean;
  /** The endpoint of the open link (`amqps://host:port`), if any. */
  readonly endpoint: string | undefined;
  /** Credit granted to the broker and not yet used. */
  readonly credit: number;
  /**
   * Deliveries held: buffered, being handled, awaiting settlement, or waiting out a retry delay.
   * At most `prefetch` plus those waiting to be retried (at most `maxWaitingRetries`).
   */
  readonly held: number;
  /** Failed deliveries waiting out a retry delay (or the strategy's decision). */
  readonly waitingRetries: number;
  /** Bytes of the bodies held (against `maxHeldBytes`). */
  readonly heldBytes: number;
  /** Deliveries your code is working on now. */
  readonly inFlight: number;
  /** Deliveries received and not yet handed to your code. */
  readonly buffered: number;
  /** When the last message arrived. */
  readonly lastDeliveryAt: Date | undefined;
  /** How many times the consumer reconnected after losing a link. */
  readonly reconnects: number;
  /**
   * Set while the connection looks stalled: the broker has sent nothing since this instant, not
   * even a heartbeat, for longer than its heartbeats allow (half of `idleTimeoutMs`, and a second).
   * `connected` is still `true` then; once `idleTimeoutMs` has passed in silence the connection is
   * given up (a `CONNECTION_FAILED` naming the idle timeout) and the consumer reconnects.
   */
  readonly stalledSince: Date | undefined;
  /** Settle counts so far. */
  readonly counts: SettleCounts;
  /** Whether {@link OutreachConsumer.pause} is in force. */
  readonly paused: boolean;
  /** The outage under way, if any: since when, and how its probes went. */
  readonly outage: OutageHealth | undefined;
  /**
   * Journal mode: the journal's figures (`undefined` when off, or before it is open). `connected`
   * and `endpoint` are then the broker's; `credit`, `held` and the rest are the journal's.
   */
  readonly journal?: JournalHealth | undefined;
}

/** The outage part of {@link ConsumerHealth}. */
export interface OutageHealth {
  /** When the outage began. */
  readonly since: Date;
  /** Probes that failed so far. */
  readonly failedProbes: number;
  /** When the next probe is due; `undefined` while one is under way (or the consumer is paused). */
  readonly nextProbeAt: Date | undefined;
}

/**
 * Lifecycle of a consumer: `idle` (not started), `connecting`, `open`, `reconnecting`,
 * `closing`, `closed`, or `failed` (a fatal error; see the `error` event).
 */
export type ConsumerState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closing' | 'closed' | 'failed';
