import type { ConnectionInfo, DisconnectInfo, ReconnectInfo } from '../connection/events.js';
import type { OutreachError } from '../errors/outreach-error.js';
import type { OutreachDelivery, SettleOutcome } from '../delivery/delivery.js';
import type { CloseReport, InvalidMessage } from './options.js';
import type { OutageInfo, RecoveryInfo } from './outage.js';
import type { JournalFullInfo } from '../journal/options.js';

/**
 * Where an error on the `error` event came from.
 *
 * - `connection`: connecting, a dropped connection, a refused link;
 * - `decode`: a message that could not be decoded (also on the `invalid` event);
 * - `handler`: your handler, hook or sink threw (the `cause` is your error);
 * - `settle`: a delivery could not be settled (its connection was lost, or it was settled twice).
 */
export type ErrorSource = 'connection' | 'decode' | 'handler' | 'settle';

/** The events of an {@link OutreachConsumer}, each with its arguments. */
export interface OutreachConsumerEvents {
  /** A link to the queue is open (first time and after each reconnect). */
  connected: [info: ConnectionInfo];
  /** The link was lost; `error` says why. Deliveries it carried will be delivered again. */
  disconnected: [info: DisconnectInfo];
  /** About to try an endpoint again after a loss or a failed attempt. */
  reconnecting: [info: ReconnectInfo];
  /**
   * Something went wrong. The consumer carries on after every error but a fatal one. Fatal are
   * only connection errors that are not `retryable` (authentication, TLS, the queue refused,
   * reconnect attempts used up): they move the consumer to `failed`, reject `start()` and end the
   * iterator with the error. Errors of your code or of a message (`HANDLER_FAILED`,
   * `DECODE_FAILED`) are not `retryable` either, yet the consumer goes on: the strategy settles
   * that delivery. [docs/troubleshooting.md](../../docs/troubleshooting.md) lists every code.
   *
   * @remarks Unlike Node's EventEmitter, eventemitter3 does not throw when nobody listens: with no
   * listener, errors go to the logger at `warn` (every error that is not fatal, retryable or not) or `error` (fatal) level.
   */
  error: [error: OutreachError, source: ErrorSource];
  /** A message could not be decoded. It is settled by `invalidPolicy` after `onInvalid`. */
  invalid: [invalid: InvalidMessage];
  /** A delivery was settled (or found lost). Every retry and rejection is visible here. */
  settled: [delivery: OutreachDelivery<unknown>, outcome: SettleOutcome];
  /**
   * The queue has run dry: the broker had nothing more to send, and every delivery is settled.
   * Fires once each time the consumer runs out of work (again after new messages came and were
   * done). For a job that drains the queue and ends: `consumer.once('drained', () => consumer.close())`.
   */
  drained: [];
  /**
   * Your sink looks down (consecutive failures of different messages, or an error your
   * `outage.isOutage` classified): the consumer stopped taking messages and handed back what it
   * held, attempts not spent, and probes with one message on a capped backoff. Nothing is
   * dead-lettered while it lasts.
   */
  outage: [info: OutageInfo];
  /** A delivery was accepted after an outage: full flow resumes. */
  recovered: [info: RecoveryInfo];
  /**
   * Journal mode: the journal is full (`info.full`), so nothing more is taken from the broker,
   * which keeps the rest, until your code settles enough; or it has room again. Nothing unsettled
   * is deleted to make room.
   */
  journalFull: [info: JournalFullInfo];
  /** The consumer is closed (or failed); the report counts what became of every delivery. */
  closed: [report: CloseReport];
}
