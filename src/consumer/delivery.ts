import type { Delivery as RheaDelivery, Message as RheaMessage } from 'rhea';
import { acceptSoon, flushAcceptances } from '../connection/acceptances.js';
import { flushDispositionsBefore } from '../connection/rhea-internals.js';
import { OutreachError } from '../errors/outreach-error.js';
import type { Outreach } from '../message/outreach.js';

/**
 * How a delivery was settled, in words. The AMQP outcome each maps to, and what ActiveMQ does with
 * it, is in [docs/delivery-guarantees.md](../../docs/delivery-guarantees.md).
 *
 * - `accepted`: done; the broker deletes the message.
 * - `retried`: failed this time; back to the queue with its delivery count + 1 (AMQP `modified`,
 *   `delivery-failed`).
 * - `rejected`: will never succeed; the broker dead-letters it (AMQP `rejected`).
 * - `released`: not processed; back to the queue unchanged, count not raised (AMQP `released`).
 *   Used by `close()` for work that never started.
 * - `lost`: the connection that carried it is gone; the broker will deliver it again.
 */
export type SettleOutcome = 'accepted' | 'retried' | 'rejected' | 'released' | 'lost';

/** AMQP metadata of a delivery that is safe to log (no body). */
export interface DeliveryMetadata {
  /** The AMQP `message_id`; ActiveMQ sets `ID:…` for JMS messages. */
  readonly messageId: string | number | undefined;
  /**
   * How many earlier deliveries of this message failed or were lost (AMQP `header.delivery_count`;
   * ActiveMQ sends it only when above 0, so it reads 0 on a first delivery).
   */
  readonly deliveryCount: number;
  /** AMQP application properties (JMS properties), as sent. */
  readonly applicationProperties: Readonly<Record<string, unknown>>;
  /** AMQP `subject` (JMSType), if any. */
  readonly subject: string | undefined;
  /** When this client received it. */
  readonly receivedAt: Date;
}

/** @internal What a delivery tells its consumer when it is settled. */
export interface DeliveryOwner {
  /** Before an outcome is sent: a retry during an outage becomes a release (attempts not spent). */
  outcomeFor(delivery: OutreachDelivery<unknown>, requested: Exclude<SettleOutcome, 'lost'>, cause: unknown): Exclude<SettleOutcome, 'lost'>;
  settle(delivery: OutreachDelivery<unknown>, outcome: SettleOutcome, sent: boolean): void;
  isAlive(generation: number): boolean;
}

/**
 * One message handed to your code: the decoded outreach, the raw body, its AMQP metadata, and
 * methods to settle it exactly once.
 *
 * @remarks
 * Under the default acknowledgement strategy you do not call the settle methods: the consumer
 * accepts when your handler returns and retries when it throws. With the `manual` strategy, or to
 * decide for yourself, call one of them. Settling twice throws {@link OutreachError} with code
 * `ALREADY_SETTLED`. Settling after the connection that carried the delivery was lost returns
 * `false` and is reported on the consumer's `error` event (source `settle`, code
 * `DELIVERY_LOST`): the broker will deliver the message again.
 *
 * @typeParam A - the decoded type; {@link Outreach} unless you gave the consumer your own codec
 */
export class OutreachDelivery<A = Outreach> implements DeliveryMetadata {
  /** The decoded message. */
  readonly outreach: A;
  /** The body exactly as it arrived (string, bytes or AMQP section). Holds student data: store it as such. */
  readonly body: unknown;
  readonly messageId: string | number | undefined;
  readonly deliveryCount: number;
  readonly applicationProperties: Readonly<Record<string, unknown>>;
  readonly subject: string | undefined;
  readonly receivedAt: Date;
  /** The error of the last failed attempt in this client, if any (set by the consumer). */
  lastError: unknown = undefined;
  #outcome: SettleOutcome | undefined;
  #requested: Exclude<SettleOutcome, 'lost'> | undefined;
  readonly #rhea: RheaDelivery;
  readonly #owner: DeliveryOwner;
  readonly #generation: number;

  /** @internal */
  constructor(outreach: A, message: RheaMessage, rheaDelivery: RheaDelivery, owner: DeliveryOwner, generation: number) {
    this.outreach = outreach;
    this.body = message.body;
    this.messageId = toMessageId(message.message_id);
    this.deliveryCount = typeof message.delivery_count === 'number' ? message.delivery_count : 0;
    const properties = message.application_properties;
    this.applicationProperties = properties === undefined || properties === null ? NO_PROPERTIES : Object.freeze({ ...properties });
    this.subject = typeof message.subject === 'string' ? message.subject : undefined;
    this.receivedAt = new Date();
    this.#rhea = rheaDelivery;
    this.#owner = owner;
    this.#generation = generation;
  }

  /**
   * What became of it: the outcome sent to the broker, `lost` if its connection went first, or
   * `undefined` while neither happened.
   */
  get outcome(): SettleOutcome | undefined {
    return this.#outcome;
  }

  /** Whether one of the settle methods has been called (a second call throws). */
  get settled(): boolean {
    return this.#requested !== undefined;
  }

  /** Done: the broker deletes the message. @returns `false` if the connection was lost first. */
  accept(): boolean {
    return this.#settle('accepted');
  }

  /**
   * Failed this time: back to the queue with its delivery count raised (AMQP `modified` with
   * `delivery-failed`). ActiveMQ re-dispatches at once; bounded retries are the strategy's job.
   *
   * @remarks The failure counts towards outage detection (see the consumer's `outage` option),
   * which is how a `for await` loop reports a failure: catch, then `retry(error)`. During an
   * outage the delivery is handed back instead (`released`, its count not raised), so that an
   * outage spends no attempts.
   * @param cause - what went wrong, for your `outage.isOutage` classifier; never sent to the broker
   * @returns `false` if the connection was lost first.
   */
  retry(cause?: unknown): boolean {
    return this.#settle('retried', cause);
  }

  /**
   * Will never succeed: the broker dead-letters it (AMQP `rejected`; ActiveMQ sends persistent
   * messages to its dead-letter queue, which the queue's owner, not you, can read).
   * @param reason - a short text for the broker's log; do not put student data in it
   * @returns `false` if the connection was lost first.
   */
  reject(reason = 'rejected by civitas-outreach client'): boolean {
    return this.#settle('rejected', undefined, String(reason).slice(0, 200));
  }

  /** Not processed: back to the queue unchanged (AMQP `released`). @returns `false` if the connection was lost first. */
  release(): boolean {
    return this.#settle('released');
  }

  /** @internal The connection that carried it is gone: the broker will deliver it again. */
  markLost(): void {
    if (this.#outcome === undefined) this.#outcome = 'lost';
  }

  /** @internal Whether `accept()` was called and its acceptance is not yet written. */
  get acceptancePending(): boolean {
    return this.#requested === 'accepted' && this.#outcome === undefined;
  }

  /** @internal The rhea delivery (for the acceptance queue). */
  get wire(): RheaDelivery {
    return this.#rhea;
  }

  /**
   * @internal Called by the acceptance queue when it writes: an acceptance counts as sent only if
   * its connection is still there now (one lost meanwhile was marked `lost` and is not written).
   */
  writeAcceptance(): void {
    const alive = this.#outcome === undefined && this.#owner.isAlive(this.#generation);
    if (alive) this.#rhea.accept();
    this.#outcome = alive ? 'accepted' : 'lost';
    this.#owner.settle(this, 'accepted', alive);
  }

  #settle(requested: Exclude<SettleOutcome, 'lost'>, cause?: unknown, reason?: string): boolean {
    if (this.#requested !== undefined) {
      throw new OutreachError(
        'ALREADY_SETTLED',
        `delivery ${String(this.messageId)} was already ${this.#requested}; it cannot also be ${requested}`,
      );
    }
    const outcome = this.#owner.outcomeFor(this, requested, cause);
    this.#requested = outcome;
    const alive = this.#outcome !== 'lost' && this.#owner.isAlive(this.#generation);
    if (alive && outcome === 'accepted') {
      // Written with the other acceptances of this turn of the event loop; settled (counted,
      // reported) then, by writeAcceptance, and only if its connection is still there.
      acceptSoon(this);
      return true;
    }
    if (alive) {
      flushAcceptances();
      flushDispositionsBefore(this.#rhea, false);
      if (outcome === 'retried') this.#rhea.modified({ delivery_failed: true });
      else if (outcome === 'rejected') this.#rhea.reject({ condition: 'amqp:internal-error', description: reason ?? '' });
      else this.#rhea.release();
    }
    this.#outcome = alive ? outcome : 'lost';
    this.#owner.settle(this, outcome, alive);
    return alive;
  }
}

const NO_PROPERTIES: Readonly<Record<string, unknown>> = Object.freeze({});

function toMessageId(id: unknown): string | number | undefined {
  if (typeof id === 'string' || typeof id === 'number') return id;
  if (id instanceof Uint8Array) return Buffer.from(id).toString('hex');
  if (id !== undefined && id !== null) return String(id);
  return undefined;
}
