import { randomUUID } from 'node:crypto';
import rhea from 'rhea';
import { QueueState } from './queue-state.js';
import type { DevQueueInput, DevQueueMessage } from './types.js';

/**
 * @internal The dev queue's named queues: created on first use (as ActiveMQ does), filled by
 * `publish`, which tells the endpoint so it can send to waiting consumers.
 */
export class QueueStore {
  readonly #queues = new Map<string, QueueState>();
  #added: (queue: QueueState) => void = () => undefined;

  /** Who to tell when messages are added (the endpoint, to send them to waiting consumers). */
  onAdded(listener: (queue: QueueState) => void): void {
    this.#added = listener;
  }

  /** The queue of that name or address, created if new. */
  queue(name: string): QueueState {
    const key = queueName(name);
    let queue = this.#queues.get(key);
    if (queue === undefined) {
      queue = new QueueState(key);
      this.#queues.set(key, queue);
    }
    return queue;
  }

  /** The queue of that name or address, if it exists. */
  find(name: string): QueueState | undefined {
    return this.#queues.get(queueName(name));
  }

  names(): string[] {
    return [...this.#queues.keys()];
  }

  /** Adds messages at the tail; returns their message ids (a broker-made `ID:…` when none was given). */
  publish(name: string, inputs: readonly DevQueueInput[]): (string | number)[] {
    const queue = this.queue(name);
    const ids = inputs.map((input) => {
      const m = toMessage(input);
      return queue.add({
        body: m.body,
        messageId: m.messageId ?? `ID:dev-queue-${randomUUID()}`,
        durable: m.durable ?? true,
        applicationProperties: m.applicationProperties,
        subject: m.subject,
        contentType: m.contentType,
        deliveryCount: m.deliveryCount ?? 0,
      }).messageId;
    });
    this.#added(queue);
    return ids;
  }
}

/** @internal `queue://NAME` and `NAME` are the same queue (ActiveMQ). */
export function queueName(address: string): string {
  return address.replace(/^queue:\/\//, '').trim();
}

function toMessage(input: DevQueueInput): DevQueueMessage {
  if (typeof input === 'string') return { body: input };
  if (input instanceof Uint8Array) return { body: rhea.message.data_section(Buffer.from(input)) };
  if ('body' in input) return input;
  return { body: JSON.stringify(input) };
}
