import type { OutreachDelivery, SettleOutcome } from '../delivery/delivery.js';
import type { OutreachDecodeError } from '../message/decode-error.js';

/**
 * @internal What the consumer tells its telemetry, one call per step of a delivery. The hot path
 * calls {@link TelemetryHooks}, which forwards to an implementation only when telemetry is on.
 *
 * A delivery's `process` span starts when user code gets it (`started`) and ends once user code is
 * done (`ended`) and the delivery is settled or lost (`settled`, or `sweep` after a lost link), or
 * at `closed`. Deliveries never handed to user code (handed back while paused, buffered at close)
 * get no span: the conventions say not to trace prefetched messages not given to the application.
 */
export interface Instrumentation {
  /** A message arrived from the broker (admitted or handed straight back). */
  received(): void;
  /** An arrived message could not be decoded; it goes to `onInvalid` next. */
  invalid(delivery: OutreachDelivery<unknown>, error: OutreachDecodeError): void;
  /** User code (handler, loop body, `onInvalid`) gets the delivery now. */
  started(delivery: OutreachDelivery<unknown>): void;
  /** Runs `fn(arg)` with the delivery's span as the active context (for child spans of user code). */
  call<T, R>(delivery: OutreachDelivery<unknown>, fn: (arg: T) => R, arg: T): R;
  /** User code is done with the delivery; `failure` if it threw. */
  ended(delivery: OutreachDelivery<unknown>, failure: { readonly error: unknown } | undefined): void;
  /** The delivery was settled, or a settle call found its link lost. */
  settled(delivery: OutreachDelivery<unknown>, outcome: SettleOutcome): void;
  /** A link was lost: deliveries it carried will not be settled. */
  sweep(): void;
  /** The consumer closed or failed: end what is open, stop observing. */
  closed(): void;
}

/**
 * @internal The consumer's one handle on telemetry. Off (the default until {@link enable}), each
 * hook is a field check; on, it forwards to the implementation. Kept as one stable object so the
 * dispatcher can hold it before the optional `@opentelemetry/api` has been looked for.
 */
export class TelemetryHooks implements Instrumentation {
  #impl: Instrumentation | undefined;

  /** Telemetry is on from now on. */
  enable(impl: Instrumentation): void {
    this.#impl = impl;
  }

  get enabled(): boolean {
    return this.#impl !== undefined;
  }

  /** The iterator handed out `delivery` (if any): starts its span; returns it. */
  took<D extends OutreachDelivery<unknown>>(delivery: D | undefined): D | undefined {
    if (this.#impl !== undefined && delivery !== undefined) this.#impl.started(delivery);
    return delivery;
  }

  received(): void {
    if (this.#impl !== undefined) this.#impl.received();
  }

  invalid(delivery: OutreachDelivery<unknown>, error: OutreachDecodeError): void {
    if (this.#impl !== undefined) this.#impl.invalid(delivery, error);
  }

  started(delivery: OutreachDelivery<unknown>): void {
    if (this.#impl !== undefined) this.#impl.started(delivery);
  }

  call<T, R>(delivery: OutreachDelivery<unknown>, fn: (arg: T) => R, arg: T): R {
    return this.#impl === undefined ? fn(arg) : this.#impl.call(delivery, fn, arg);
  }

  ended(delivery: OutreachDelivery<unknown>, failure: { readonly error: unknown } | undefined): void {
    if (this.#impl !== undefined) this.#impl.ended(delivery, failure);
  }

  settled(delivery: OutreachDelivery<unknown>, outcome: SettleOutcome): void {
    if (this.#impl !== undefined) this.#impl.settled(delivery, outcome);
  }

  sweep(): void {
    if (this.#impl !== undefined) this.#impl.sweep();
  }

  closed(): void {
    if (this.#impl !== undefined) this.#impl.closed();
  }
}
