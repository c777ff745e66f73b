import { OutreachError } from '../errors/outreach-error.js';
import type { OutreachDelivery } from '../delivery/delivery.js';

/** @internal What the iterator needs of the consumer. */
export interface IteratorSource<A> {
  /** Connects if not yet; rejects with `CLOSED` if closed first, or the fatal error. */
  start(): Promise<void>;
  /** The next buffered delivery, now in user code. */
  take(): OutreachDelivery<A> | undefined;
  /** The fatal error, if the consumer failed. */
  fatal(): OutreachError | undefined;
  /** Whether no more deliveries will come (closing, closed or failed). */
  ended(): boolean;
  /** Resolves at the next change. */
  changed(): Promise<void>;
  /** The loop is done with a delivery: `success` when it asked for the next one, not on break/throw. */
  finish(delivery: OutreachDelivery<A>, success: boolean): Promise<void>;
  /** Closes the consumer. */
  close(): Promise<unknown>;
}

/**
 * @internal The async-iterator API: one delivery in hand at a time; asking for the next one
 * finishes the one in hand (the strategy settles it); `return()` (a `break` or a throw in the loop
 * body) hands the one in hand back and closes the consumer. Calls are served one after another,
 * so a caller who does not await each `next()` cannot have two deliveries in hand.
 */
export class DeliveryIterator<A> implements AsyncIterator<OutreachDelivery<A>> {
  readonly #source: IteratorSource<A>;
  #current: OutreachDelivery<A> | undefined;
  #started = false;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(source: IteratorSource<A>) {
    this.#source = source;
  }

  next(): Promise<IteratorResult<OutreachDelivery<A>>> {
    return this.#serially(() => this.#next());
  }

  async return(): Promise<IteratorResult<OutreachDelivery<A>>> {
    // Close first: a next() still waiting for a message then ends, instead of this waiting for it.
    const closing = this.#source.close();
    await this.#serially(() => this.#finishCurrent(false));
    await closing;
    return { value: undefined, done: true };
  }

  async #next(): Promise<IteratorResult<OutreachDelivery<A>>> {
    await this.#finishCurrent(true);
    if (!this.#started) {
      this.#started = true;
      try {
        await this.#source.start();
      } catch (error) {
        // Closed before the first link opened: the loop simply ends.
        if (error instanceof OutreachError && error.code === 'CLOSED') return { value: undefined, done: true };
        throw error;
      }
    }
    for (;;) {
      const next = this.#source.take();
      if (next !== undefined) {
        this.#current = next;
        return { value: next, done: false };
      }
      const fatal = this.#source.fatal();
      if (fatal !== undefined) throw fatal;
      if (this.#source.ended()) return { value: undefined, done: true };
      await this.#source.changed();
    }
  }

  #finishCurrent(success: boolean): Promise<void> {
    const delivery = this.#current;
    this.#current = undefined;
    return delivery === undefined ? Promise.resolve() : this.#source.finish(delivery, success);
  }

  #serially<T>(step: () => Promise<T>): Promise<T> {
    const result = this.#queue.then(step, step);
    this.#queue = result.catch(() => undefined);
    return result;
  }
}
