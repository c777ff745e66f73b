// The dev queue's state, without any network: queues, what each consumer link holds, and what
// each AMQP outcome does. The rules copy what docs/wire-facts.md measured on ActiveMQ 5.18.3;
// test/integration/conformance.test.ts runs the same consumer behaviours against both.

/** @internal A message as the dev queue keeps it. */
export interface StoredMessage {
  /** Order of arrival on its queue: messages that come back go back to their place. */
  readonly seq: number;
  readonly body: unknown;
  readonly messageId: string | number;
  readonly durable: boolean;
  readonly applicationProperties: Readonly<Record<string, unknown>> | undefined;
  readonly subject: string | undefined;
  readonly contentType: string | undefined;
  /** The broker's redelivery counter (AMQP `header.delivery_count`). */
  deliveryCount: number;
  /** Its count when a link took it from the queue: a link detach rolls back to it (measured). */
  countAtBind: number;
}

/** How a delivery ended, as the dev queue saw it (one entry per delivery in a message's history). */
export type DevQueueSettlement =
  | 'accepted'
  | 'released'
  | 'modified'
  | 'rejected'
  | 'modified-undeliverable'
  /** Unsettled when its link detached: back on the queue, count unchanged. */
  | 'returned-on-detach'
  /** Unsettled when its connection was lost: back on the queue, count + 1. */
  | 'returned-on-connection-loss';

/** @internal One delivery of a message to a consumer link, and how it ended. */
export interface DeliveryRecord {
  readonly deliveryCount: number;
  settlement: DevQueueSettlement | undefined;
  /** Its place among the ends of every delivery of its queue, from 1, in the order they were applied. */
  settledOrder: number | undefined;
}

/** @internal A consumer link's hold on messages (the store's side of an AMQP sender). */
export interface LinkHold {
  readonly queue: QueueState;
  /** Released or retried messages kept for this link and sent again when it has credit (ActiveMQ). */
  readonly bound: StoredMessage[];
  /** Taken for this link and held back by the `delayDeliveries` fault, not yet sent. */
  readonly delayed: Set<StoredMessage>;
  /** Sent and not yet settled, by a key of the server's choice. */
  readonly unsettled: Map<unknown, { message: StoredMessage; record: DeliveryRecord }>;
  /** A browser (`distribution-mode: copy`): sees copies, consumes nothing. */
  readonly browse: boolean;
  /** For a browser: the highest `seq` already sent. */
  browsedUpTo: number;
}

/** A message that was dead-lettered, as {@link DevQueue.deadLetters} returns it. */
export interface DevQueueDeadLetter {
  /** The body as it was sent. */
  readonly body: unknown;
  /** The AMQP `message_id`. */
  readonly messageId: string | number;
  /** Its redelivery counter when it was dead-lettered. */
  readonly deliveryCount: number;
  /** The outcome that dead-lettered it: `rejected`, or `modified` with `undeliverable-here`. */
  readonly outcome: 'rejected' | 'modified-undeliverable';
  /** The error condition and description the consumer sent with a rejection, if any. */
  readonly error: DevQueueRejection | undefined;
}

/** The error a consumer sent with a rejection. */
export interface DevQueueRejection {
  /** The AMQP error condition, e.g. `amqp:internal-error`. */
  readonly condition?: string;
  /** The consumer's description. */
  readonly description?: string;
}

/** @internal One named queue. */
export class QueueState {
  readonly name: string;
  /** Waiting for a consumer, in order. */
  readonly ready: StoredMessage[] = [];
  readonly deadLetters: DevQueueDeadLetter[] = [];
  /** Consumer links, in the order they attached (dispatch is round-robin). */
  readonly links: LinkHold[] = [];
  /** Every delivery of every message, by message id. */
  readonly history = new Map<string | number, DeliveryRecord[]>();
  enqueued = 0;
  dequeued = 0;
  #next = 0;
  /** Deliveries ended so far (settled, or returned by a detach or a lost connection). */
  #ended = 0;

  constructor(name: string) {
    this.name = name;
  }

  /** Messages not yet acknowledged: waiting, kept for a link, or sent and unsettled (ActiveMQ's QueueSize). */
  get depth(): number {
    let held = 0;
    for (const link of this.links) if (!link.browse) held += link.bound.length + link.delayed.size + link.unsettled.size;
    return this.ready.length + held;
  }

  /** Taken by a consumer link and not yet settled (sent, kept for the link, or delayed). */
  get inFlight(): number {
    return this.depth - this.ready.length;
  }

  add(fields: Omit<StoredMessage, 'seq' | 'deliveryCount' | 'countAtBind'> & { deliveryCount?: number }): StoredMessage {
    const count = fields.deliveryCount ?? 0;
    const message: StoredMessage = { ...fields, seq: this.#next++, deliveryCount: count, countAtBind: count };
    this.ready.push(message);
    this.enqueued++;
    return message;
  }

  /** Puts a message back on the queue at its place (by arrival order). */
  requeue(message: StoredMessage): void {
    let i = this.ready.length;
    while (i > 0 && this.ready[i - 1]!.seq > message.seq) i--;
    this.ready.splice(i, 0, message);
  }

  /** The next message a link may take: its own bound ones first, then the queue's head. */
  takeFor(link: LinkHold): StoredMessage | undefined {
    if (link.browse) {
      const next = this.ready.find((m) => m.seq > link.browsedUpTo);
      if (next !== undefined) link.browsedUpTo = next.seq;
      return next;
    }
    const bound = link.bound.shift();
    if (bound !== undefined) return bound;
    const message = this.ready.shift();
    if (message !== undefined) message.countAtBind = message.deliveryCount;
    return message;
  }

  /** Whether a link could be sent something now (credit aside). */
  hasFor(link: LinkHold): boolean {
    if (link.browse) return this.ready.some((m) => m.seq > link.browsedUpTo);
    return link.bound.length > 0 || this.ready.length > 0;
  }

  /** A message was sent to a link: remember it until settled. */
  sent(link: LinkHold, key: unknown, message: StoredMessage): void {
    if (link.browse) return;
    const record: DeliveryRecord = { deliveryCount: message.deliveryCount, settlement: undefined, settledOrder: undefined };
    const list = this.history.get(message.messageId);
    if (list === undefined) this.history.set(message.messageId, [record]);
    else list.push(record);
    link.unsettled.set(key, { message, record });
  }

  /**
   * The consumer settled a delivery. The effects are ActiveMQ's (docs/wire-facts.md):
   * accepted removes; released keeps it for the same link, count unchanged; modified with
   * delivery-failed keeps it for the same link with the count + 1 (never dead-lettered by count);
   * rejected and modified with undeliverable-here dead-letter a persistent message and drop a
   * non-persistent one.
   */
  settle(link: LinkHold, key: unknown, outcome: Outcome): void {
    const entry = link.unsettled.get(key);
    if (entry === undefined) return;
    link.unsettled.delete(key);
    const { message, record } = entry;
    record.settledOrder = ++this.#ended;
    switch (outcome.kind) {
      case 'accepted':
        record.settlement = 'accepted';
        this.dequeued++;
        return;
      case 'released':
        record.settlement = 'released';
        link.bound.unshift(message);
        return;
      case 'modified':
        if (outcome.undeliverableHere) {
          record.settlement = 'modified-undeliverable';
          this.#deadLetter(message, 'modified-undeliverable', undefined);
          return;
        }
        record.settlement = 'modified';
        if (outcome.deliveryFailed) message.deliveryCount++;
        link.bound.unshift(message);
        return;
      case 'rejected':
        record.settlement = 'rejected';
        this.#deadLetter(message, 'rejected', outcome.error);
        return;
    }
  }

  /**
   * A link detached (or the connection closed after its links): what it held goes back to the
   * queue with the count it had when the link took it (ActiveMQ rolls back a count raised on the
   * link: measured).
   */
  detach(link: LinkHold): void {
    this.#drop(link, (message, record) => {
      if (record !== undefined) record.settlement = 'returned-on-detach';
      message.deliveryCount = message.countAtBind;
    });
  }

  /** The connection was lost under a link: unsettled deliveries go back with the count + 1 (ActiveMQ). */
  connectionLost(link: LinkHold): void {
    this.#drop(link, (message, record) => {
      if (record !== undefined) {
        record.settlement = 'returned-on-connection-loss';
        message.deliveryCount++;
      }
    });
  }

  #drop(link: LinkHold, update: (message: StoredMessage, record: DeliveryRecord | undefined) => void): void {
    const i = this.links.indexOf(link);
    if (i >= 0) this.links.splice(i, 1);
    if (link.browse) return;
    for (const { message, record } of link.unsettled.values()) {
      record.settledOrder = ++this.#ended;
      update(message, record);
      this.requeue(message);
    }
    for (const message of [...link.bound, ...link.delayed]) {
      update(message, undefined);
      this.requeue(message);
    }
    link.unsettled.clear();
    link.bound.length = 0;
    link.delayed.clear();
  }

  #deadLetter(message: StoredMessage, outcome: DevQueueDeadLetter['outcome'], error: DevQueueDeadLetter['error']): void {
    this.dequeued++;
    // ActiveMQ drops a non-persistent message on a poison ack instead of dead-lettering it.
    if (!message.durable) return;
    this.deadLetters.push({ body: message.body, messageId: message.messageId, deliveryCount: message.deliveryCount, outcome, error });
  }
}

/** @internal An AMQP outcome as the store needs it. */
export type Outcome =
  | { readonly kind: 'accepted' }
  | { readonly kind: 'released' }
  | { readonly kind: 'modified'; readonly deliveryFailed: boolean; readonly undeliverableHere: boolean }
  | { readonly kind: 'rejected'; readonly error: DevQueueDeadLetter['error'] };

/** @internal A new link's hold. */
export function newHold(queue: QueueState, browse: boolean): LinkHold {
  const hold: LinkHold = { queue, bound: [], delayed: new Set(), unsettled: new Map(), browse, browsedUpTo: -1 };
  queue.links.push(hold);
  return hold;
}
