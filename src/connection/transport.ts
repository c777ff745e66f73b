import type { OutreachError } from '../errors/outreach-error.js';
import type { BrokerEndpoint } from './endpoints.js';
import type { ConnectionInfo, DisconnectInfo, ReconnectInfo } from './events.js';

// The port through which the consumer's engine speaks to an inbound link: credit, drain, settle,
// close; arrivals and the link's end. The AMQP adapter over rhea (amqp-link.ts) implements it.
// Nothing of rhea crosses it: a second implementation (a local journal in front of the handler)
// needs no AMQP to serve the same engine.

/** @internal What the engine writes for one arrival (the AMQP outcome each maps to is the adapter's business). */
export type WireOutcome = 'accepted' | 'retried' | 'rejected' | 'released';

/**
 * @internal An arrival's handle on the link that brought it: opaque to the engine, meaningful only
 * to that link's {@link InboundLink.settle}.
 */
export interface ArrivalToken {
  readonly arrivalToken: unique symbol;
}

/** @internal One message as a link hands it to the engine. */
export interface Arrival {
  readonly token: ArrivalToken;
  /** The body exactly as it arrived (string, bytes or a section the decoder knows). */
  readonly body: unknown;
  readonly messageId: string | number | undefined;
  /** Earlier deliveries of this message that failed or were lost (0 on a first delivery). */
  readonly deliveryCount: number;
  readonly applicationProperties: Readonly<Record<string, unknown>>;
  readonly subject: string | undefined;
}

/** @internal One outcome to write: adjacent acceptances in a batch may share one frame. */
export interface WireSettlement {
  readonly token: ArrivalToken;
  readonly outcome: WireOutcome;
  /** For `rejected`: a short text for the broker's log. */
  readonly reason?: string | undefined;
}

/**
 * @internal A link's life: `connecting` until the peer attached it, `open` while arrivals can be
 * settled on it, `closing` once a close was asked for (nothing more is settled), `down` when gone.
 */
export type LinkState = 'connecting' | 'open' | 'closing' | 'down';

/** @internal What a link tells the engine. */
export interface InboundEvents {
  arrived(arrival: Arrival): void;
  /** Once, when an open link is lost; `error` is undefined for a close that was asked for. */
  down(error: OutreachError | undefined): void;
  /** A drain is over: `dry` when the peer had nothing more to send, `false` when arrivals used the credit up. */
  drained(dry: boolean): void;
}

/** @internal The engine's view of one inbound link. */
export interface InboundLink {
  readonly endpoint: BrokerEndpoint;
  /** Unique per link (AMQP: the container id of its connection). */
  readonly containerId: string;
  readonly state: LinkState;
  /** Credit granted and not yet used by an arrival. */
  readonly outstandingCredit: number;
  /** Whether a drain is waiting for the peer's answer. */
  readonly draining: boolean;
  /** Since when the peer has been silent for longer than its heartbeats allow (a stall), if it is. */
  readonly silentSince: Date | undefined;
  /** Grants `n` more arrivals. */
  addCredit(n: number): void;
  /** Asks the peer to use the credit it holds now or give it up; `drained` follows. */
  drain(): void;
  /** Writes these outcomes, in this order. Only while `open`. */
  settle(batch: readonly WireSettlement[]): void;
  /** Ends the link; resolves when done or after `timeoutMs`. */
  close(timeoutMs: number): Promise<void>;
}

/** @internal What a link source tells the engine. */
export interface LinkSourceEvents {
  /** An arrival on the link of `generation` (one per link opened). */
  arrived(generation: number, arrival: Arrival): void;
  /** A drain on `link` is over; `answered` when the peer answered it. */
  drained(link: InboundLink, answered: boolean): void;
  /** A link is open (the first, or after a loss when `afterLoss`). */
  open(link: InboundLink, afterLoss: boolean): void;
  /** The open link of `generation` was lost; the source opens another unless stopped or fatal. */
  down(generation: number): void;
  /**
   * A connection to the broker is open (the consumer's `connected` event). With the supervisor it
   * follows `open`; a journal's link is not a connection, its intake's are.
   */
  connected(info: ConnectionInfo): void;
  /** A connection to the broker was lost (the consumer's `disconnected` event), after its `down` if it was the link's. */
  disconnected(info: DisconnectInfo): void;
  /** About to try again. */
  reconnecting(info: ReconnectInfo): void;
  /** An error, retryable or not (`fatal`). */
  error(error: OutreachError, fatal: boolean): void;
  /** A fatal error: the source stopped for good. */
  fatal(error: OutreachError): void;
}

/**
 * @internal Keeps one inbound link open for the engine, and opens the next when one is lost: the
 * connection supervisor over the broker's endpoints (`supervisor.ts`) is one; a local journal in
 * front of the handler is meant to be another.
 */
export interface LinkSource {
  /** The open link, if any. */
  readonly link: InboundLink | undefined;
  /** The open link to the broker, if any: the same as `link`, or a journal's intake. */
  readonly brokerLink: InboundLink | undefined;
  /** The generation of the newest link (one per attempt). */
  readonly generation: number;
  /** Links reopened after a loss. */
  readonly reconnects: number;
  /** Whether the link is closed on purpose until {@link LinkSource.unpark}. */
  readonly parked: boolean;
  /** Whether arrivals of `generation` can still be settled. */
  isCurrent(generation: number): boolean;
  /** Opens the first link (once); resolves when it is open, rejects on a fatal error or `stop()`. */
  start(): Promise<void>;
  /** No more attempts; the open link stays. */
  stop(): void;
  /** Resolves when no attempt is under way any more. */
  settled(): Promise<void>;
  /** Closes the open link on purpose (nothing held, no credit wanted) until {@link LinkSource.unpark}. */
  park(closeTimeoutMs: number): Promise<void>;
  unpark(): void;
  /** Hands over the open link (to close it); the source forgets it. */
  takeLink(): InboundLink | undefined;
}
