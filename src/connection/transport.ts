import type { OutreachError } from '../errors/outreach-error.js';
import type { BrokerEndpoint } from './endpoints.js';

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
  /** Grants `n` more arrivals. */
  addCredit(n: number): void;
  /** Asks the peer to use the credit it holds now or give it up; `drained` follows. */
  drain(): void;
  /** Writes these outcomes, in this order. Only while `open`. */
  settle(batch: readonly WireSettlement[]): void;
  /** Ends the link; resolves when done or after `timeoutMs`. */
  close(timeoutMs: number): Promise<void>;
}
