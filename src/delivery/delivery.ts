import type { Arrival, ArrivalToken, WireOutcome } from '../connection/transport.js';
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

/** @internal What user code asked for (the engine decides the outcome; see {@link SettleRecord}). */
export type SettleRequest = Exclude<SettleOutcome, 'lost'>;

/**
 * @internal What a settle method leaves behind: a record for the engine, which decides the final
 * outcome (a retry during an outage becomes a hand-back), writes it in the order recorded and
 * then counts it. The delivery itself never writes to the wire nor calls back into its consumer.
 */
export interface SettleRecord {
  readonly delivery: OutreachDelivery<unknown>;
  readonly requested: SettleRequest;
  /** What went wrong, for `retried` (the outage classifier's input); never sent. */
  readonly cause: unknown;
  /** For `rejected`: a short text for the broker's log. */
  readonly reason: string | undefined;
}

/** @internal Where a delivery leaves its record: the settler of the link that carried it. */
export interface SettlementInbox {
  /** Whether that link can still take settlements. */
  readonly alive: boolean;
  record(record: SettleRecord): void;
}

/**
 * @internal A delivery's one state: `open` (no settle method called), `requested` (called; the
 * engine has not written it yet), `settled` (written, with the outcome decided), `lost` (its link
 * went first; `requested` says whether a settle method had been called).
 */
export type DeliveryState =
  | { readonly kind: 'open' }
  | { readonly kind: 'requested'; readonly requested: SettleRequest }
  | { readonly kind: 'settled'; readonly outcome: WireOutcome }
  | { readonly kind: 'lost'; readonly requested: SettleRequest | undefined };

const OPEN: DeliveryState = Object.freeze({ kind: 'open' });

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
  /** The decoded message, or how to decode it again (a big body waiting in the buffer holds only its text). */
  #outreach: A | undefined;
  #decodeAgain: (() => A) | undefined;
  /** The body exactly as it arrived (string, bytes or AMQP section). Holds student data: store it as such. */
  readonly body: unknown;
  readonly messageId: string | number | undefined;
  readonly deliveryCount: number;
  readonly applicationProperties: Readonly<Record<string, unknown>>;
  readonly subject: string | undefined;
  readonly receivedAt: Date;
  /** The error of the last failed attempt in this client, if any (set by the consumer). */
  lastError: unknown = undefined;
  #state: DeliveryState = OPEN;
  // A private field, not a property: the token of the AMQP link is rhea's delivery, which leads to
  // its connection and the connection's options, password included. Nothing that walks or
  // inspects a delivery (a logger, an error reporter, util.inspect) reaches it.
  readonly #token: ArrivalToken;
  readonly #inbox: SettlementInbox;

  /**
   * @internal
   * @param decodeAgain - for a big body that waits in the buffer: decodes it again when first
   *   asked, so that until then only the body is held, not the body and its decoded tree
   */
  constructor(outreach: A, arrival: Arrival, inbox: SettlementInbox, decodeAgain?: () => A) {
    this.#outreach = outreach;
    this.#decodeAgain = decodeAgain;
    this.body = arrival.body;
    this.messageId = arrival.messageId;
    this.deliveryCount = arrival.deliveryCount;
    this.applicationProperties = arrival.applicationProperties;
    this.subject = arrival.subject;
    this.receivedAt = new Date();
    this.#token = arrival.token;
    this.#inbox = inbox;
  }

  /** The decoded message. */
  get outreach(): A {
    const decode = this.#decodeAgain;
    if (decode !== undefined) {
      this.#outreach = decode();
      this.#decodeAgain = undefined;
    }
    return this.#outreach as A;
  }

  /**
   * What became of it: the outcome sent to the broker, `lost` if its connection went first, or
   * `undefined` while neither happened.
   */
  get outcome(): SettleOutcome | undefined {
    const state = this.#state;
    return state.kind === 'settled' ? state.outcome : state.kind === 'lost' ? 'lost' : undefined;
  }

  /** Whether one of the settle methods has been called (a second call throws). */
  get settled(): boolean {
    const state = this.#state;
    return state.kind === 'requested' || state.kind === 'settled' || (state.kind === 'lost' && state.requested !== undefined);
  }

  /** @internal The arrival's handle on its link (for the settler). */
  get token(): ArrivalToken {
    return this.#token;
  }

  /** @internal The one state (see {@link DeliveryState}). */
  get state(): DeliveryState {
    return this.#state;
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

  /** @internal Its link is gone before the outcome was written: the broker will deliver it again. */
  markLost(): void {
    const state = this.#state;
    if (state.kind === 'open') this.#state = { kind: 'lost', requested: undefined };
    else if (state.kind === 'requested') this.#state = { kind: 'lost', requested: state.requested };
  }

  /** @internal The engine wrote `outcome` for it. */
  markSettled(outcome: WireOutcome): void {
    this.#state = { kind: 'settled', outcome };
  }

  #settle(requested: SettleRequest, cause?: unknown, reason?: string): boolean {
    const state = this.#state;
    if (state.kind !== 'open' && !(state.kind === 'lost' && state.requested === undefined)) {
      const was = state.kind === 'settled' ? state.outcome : (state.requested ?? 'lost');
      throw new OutreachError('ALREADY_SETTLED', `delivery ${String(this.messageId)} was already ${was}; it cannot also be ${requested}`);
    }
    const alive = state.kind === 'open' && this.#inbox.alive;
    this.#state = state.kind === 'open' ? { kind: 'requested', requested } : { kind: 'lost', requested };
    this.#inbox.record({ delivery: this, requested, cause, reason });
    return alive;
  }
}
