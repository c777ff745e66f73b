import type { OutreachError } from '../errors/outreach-error.js';

// What the connection supervisor reports about a link; the consumer hands these on as its
// `connected`, `disconnected` and `reconnecting` events (src/consumer/events.ts).

/** Facts about a connection, safe to log. */
export interface ConnectionInfo {
  /** `amqps://host:port`; never credentials. */
  readonly endpoint: string;
  /** The AMQP container id of this connection attempt (unique per attempt). */
  readonly containerId: string;
}

/** What the `disconnected` event carries. */
export interface DisconnectInfo extends ConnectionInfo {
  /** Why the link was lost; `undefined` for a close this client asked for. */
  readonly error: OutreachError | undefined;
}

/** What the `reconnecting` event carries. */
export interface ReconnectInfo {
  /** The endpoint about to be tried (`amqps://host:port`). */
  readonly endpoint: string;
  /** 1 for the first attempt after a loss or failure, then 2, 3… (reset when a link opens). */
  readonly attempt: number;
  /** The back-off before this attempt. */
  readonly delayMs: number;
}
