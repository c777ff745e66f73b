import { defaultRetryDelayMs } from '../ack/retry-policy.js';
import type { Arrival } from '../connection/transport.js';
import type { AckContext } from '../ack/strategy.js';
import { OutreachError } from '../errors/outreach-error.js';
import { decodeOutreach, type DecodeOptions } from '../message/decode.js';
import type { OutreachDecodeError } from '../message/decode-error.js';
import type { Outreach } from '../message/outreach.js';
import type { CreditGate } from './credit-gate.js';
import { OutreachDelivery, type SettlementInbox } from '../delivery/delivery.js';
import type { ErrorSource } from './events.js';
import { bodyBytes, type InFlightTable } from './in-flight.js';
import type { InvalidMessage } from './options.js';
import type { Instrumentation } from '../telemetry/instrumentation.js';
import { INVALID_HOOK_ATTEMPTS, LOGGED_ISSUES, type ConsumerSettings } from './settings.js';

/** Your code for one delivery, in the event API. */
export type OutreachHandler<A = Outreach> = (delivery: OutreachDelivery<A>) => void | Promise<void>;

/** @internal What the dispatcher needs of the consumer. */
export interface DispatchHost<A> {
  readonly settings: ConsumerSettings<A>;
  readonly table: InFlightTable<A>;
  readonly gate: CreditGate;
  readonly context: AckContext<A>;
  /** Whether the consumer is closing, closed or failed. */
  ending(): boolean;
  /** The handler finished a delivery without an error (for the outage detector). */
  handled(): void;
  /** Tells outage detection of a failure; `true` (and the delivery handed back) during an outage. */
  noteFailure(delivery: OutreachDelivery<unknown>, error: unknown): boolean;
  /** A delivery let through as an outage probe. */
  probeAdmitted(delivery: OutreachDelivery<unknown>): void;
  reportError(error: OutreachError, source: ErrorSource): void;
  /** Emits the `invalid` event; `true` if someone listens. */
  invalid(invalid: InvalidMessage): boolean;
  /** Spans and metrics (telemetry hooks; no-ops when telemetry is off). */
  readonly telemetry: Instrumentation;
}

/**
 * @internal Takes each arriving message to where it goes: straight back (paused, outage), to the
 * `onInvalid` hook (undecodable), or into the buffer and on to the handler, up to `concurrency`
 * at once, with the strategy called after it. A failure leaves the handler slot before the
 * strategy's retry delay begins.
 */
export class Dispatcher<A> {
  readonly #host: DispatchHost<A>;
  #handler: OutreachHandler<A> | undefined;
  #concurrency = 1;

  constructor(host: DispatchHost<A>) {
    this.#host = host;
  }

  /** The event API's handler; deliveries go to it from now on. */
  setHandler(handler: OutreachHandler<A>, concurrency: number): void {
    this.#handler = handler;
    this.#concurrency = concurrency;
  }

  /** An arrival on the link of `generation`, whose settler is `inbox`. */
  arrive(generation: number, arrival: Arrival, inbox: SettlementInbox): void {
    const { settings, table, gate } = this.#host;
    this.#host.telemetry.received(); // telemetry hook
    const { admit, probe } = gate.admit();
    if (!admit) {
      // Paused, or an outage and not a probe: straight back, unchanged and undecoded. Each such
      // message used up credit the gate no longer renews, so this cannot loop.
      new OutreachDelivery<undefined>(undefined, arrival, inbox).release();
      return;
    }
    const decoded = decodeOutreach<A>(arrival.body, settings.decode);
    if (decoded._tag === 'Left') {
      const delivery = new OutreachDelivery<undefined>(undefined, arrival, inbox);
      if (probe) this.#host.probeAdmitted(delivery);
      // Hooks for invalid messages run beside the handler: they do not take its concurrency slots.
      table.addInvalid(delivery, generation);
      gate.topUp();
      void this.#handleInvalid(delivery, decoded.left).finally(() => table.finish(delivery));
      return;
    }
    // A big body that will wait in the buffer keeps only its text there: its decoded tree (as big
    // again) is made once more when the delivery is handed out. Checked here, so an undecodable
    // one still goes to onInvalid at once; small bodies are decoded once.
    const waits = this.#handler === undefined || table.inHandler >= this.#concurrency;
    const delivery =
      waits && bodyBytes(arrival.body) >= DECODE_AGAIN_MIN_BYTES
        ? new OutreachDelivery<A>(undefined as A, arrival, inbox, () => decodeAgain(arrival.body, settings.decode))
        : new OutreachDelivery<A>(decoded.right, arrival, inbox);
    if (probe) this.#host.probeAdmitted(delivery);
    try {
      settings.strategy.onReceive?.(delivery, this.#host.context);
    } catch (error) {
      this.#host.reportError(asSettleError(error), 'settle');
    }
    table.addBuffered(delivery, generation);
    // The byte budget may grant more now that this body's size is known (before the first, each
    // counts at maxBodyBytes); with it still unknown, nothing else would ask until a settlement.
    // Otherwise an arrival turns a credit into a slot and this grants nothing.
    gate.topUp();
    this.pump();
  }

  /** Hands buffered deliveries to the handler, up to `concurrency` at once. */
  pump(): void {
    const handler = this.#handler;
    if (handler === undefined) return;
    const table = this.#host.table;
    while (table.inHandler < this.#concurrency && table.buffered > 0 && !this.#host.ending()) {
      void this.#run(handler, table.take()!);
    }
  }

  /** The iterator is done with a delivery: `success` when the loop asked for the next one. */
  async finishIteration(delivery: OutreachDelivery<A>, success: boolean): Promise<void> {
    this.#host.telemetry.ended(delivery, undefined); // telemetry hook
    try {
      if (success) await this.#host.settings.strategy.onSuccess(delivery, this.#host.context);
      // break or a throw in the loop body: whether the work was done is unknown; hand it back.
      // (Counting it with retry() would not help: the broker re-dispatches it to this closing
      // link at once and, when the link detaches, rolls the count back. Measured.)
      else if (delivery.state.kind === 'open') delivery.release();
    } catch (error) {
      this.#host.reportError(asSettleError(error), 'settle');
      settleAfterStrategyError(delivery);
    } finally {
      this.#host.table.finish(delivery);
    }
  }

  /**
   * Hands every buffered delivery back to the broker (released, not counted). One already settled
   * on arrival (`atMostOnce()` accepts before your code) cannot go back: on a pause or an outage it
   * stays in the buffer and still reaches your code; when closing it is dropped, and the log says
   * how many (`closing` true).
   */
  handBackBuffered(closing = false): void {
    const table = this.#host.table;
    const taken = table.takeBuffered((delivery) => !closing && delivery.settled);
    let dropped = 0;
    for (const delivery of taken) {
      if (delivery.state.kind === 'open') delivery.release();
      else dropped++;
      table.finish(delivery);
    }
    if (dropped > 0) {
      this.#host.settings.logger.warn(
        { dropped },
        'closing: messages accepted on arrival (at-most-once) and not yet handed to your code are lost',
      );
    }
  }

  async #run(handler: OutreachHandler<A>, delivery: OutreachDelivery<A>): Promise<void> {
    const { settings, table, context } = this.#host;
    let failure: { error: unknown } | undefined;
    this.#host.telemetry.started(delivery); // telemetry hook
    try {
      await this.#host.telemetry.call(delivery, handler, delivery); // handler(delivery), in its span's context
    } catch (error) {
      failure = { error };
    }
    this.#host.telemetry.ended(delivery, failure); // telemetry hook
    try {
      if (failure === undefined) {
        this.#host.handled();
        await settings.strategy.onSuccess(delivery, context);
      } else {
        delivery.lastError = failure.error;
        this.#host.reportError(
          new OutreachError('HANDLER_FAILED', `handler threw for delivery ${String(delivery.messageId)} (attempt ${delivery.deliveryCount + 1})`, {
            cause: failure.error,
          }),
          'handler',
        );
        if (!this.#host.noteFailure(delivery, failure.error)) {
          // The strategy decides outside the handler slot: a retry delay holds no handler slot
          // (and, up to maxWaitingRetries, no prefetch slot), so other deliveries keep flowing.
          this.#waitOutside(delivery);
          this.pump();
          await settings.strategy.onFailure(delivery, failure.error, context);
        }
      }
    } catch (error) {
      this.#host.reportError(asSettleError(error), 'settle');
      settleAfterStrategyError(delivery);
    } finally {
      table.finish(delivery);
      this.pump();
    }
  }

  async #handleInvalid(delivery: OutreachDelivery<undefined>, error: OutreachDecodeError): Promise<void> {
    const { settings, table } = this.#host;
    table.count('invalid');
    this.#host.telemetry.invalid(delivery, error); // telemetry hook
    const invalid: InvalidMessage = {
      body: delivery.body,
      error,
      messageId: delivery.messageId,
      deliveryCount: delivery.deliveryCount,
      applicationProperties: delivery.applicationProperties,
      subject: delivery.subject,
      receivedAt: delivery.receivedAt,
    };
    this.#host.reportError(error, 'decode');
    const hadListener = this.#host.invalid(invalid);
    const hook = settings.onInvalid;
    try {
      await (hook === undefined ? undefined : this.#host.telemetry.call(delivery, hook, invalid)); // hook?.(invalid), in its span's context
    } catch (hookError) {
      this.#host.telemetry.ended(delivery, { error: hookError }); // telemetry hook
      this.#host.reportError(new OutreachError('HANDLER_FAILED', `onInvalid threw for message ${String(delivery.messageId)}`, { cause: hookError }), 'handler');
      if (delivery.state.kind !== 'open') return;
      // A quarantine store that is down is a sink outage like any other.
      if (this.#host.noteFailure(delivery, hookError)) return;
      const attempt = delivery.deliveryCount + 1;
      if (attempt < INVALID_HOOK_ATTEMPTS) {
        this.#waitOutside(delivery);
        await this.#host.context.wait(defaultRetryDelayMs(attempt));
        if (!delivery.settled) delivery.retry(hookError);
      } else {
        delivery.reject('undecodable message; onInvalid kept failing');
      }
      return;
    }
    this.#host.telemetry.ended(delivery, undefined); // telemetry hook
    if (!hadListener && hook === undefined) {
      // Bounded: a hostile message can carry many issues; the error keeps them, the log a few.
      settings.logger.warn(
        { messageId: delivery.messageId, kind: error.kind, issues: error.issues.slice(0, LOGGED_ISSUES), issueCount: error.issues.length },
        'undecodable message',
      );
    }
    if (!delivery.settled) {
      if (settings.invalidPolicy === 'accept') delivery.accept();
      else delivery.reject(`undecodable message: ${error.kind}`);
    }
  }

  /** A failed delivery waits for its retry outside the handler slots (and the credit it held is granted again). */
  #waitOutside(delivery: OutreachDelivery<unknown>): void {
    this.#host.table.setPhase(delivery, 'failed');
    this.#host.gate.topUp();
  }
}

/**
 * A strategy threw and left the delivery unsettled: hand it back counted (`retry`), so it neither
 * holds its prefetch slot forever nor loops uncounted.
 */
function settleAfterStrategyError(delivery: OutreachDelivery<unknown>): void {
  if (delivery.state.kind !== 'open') return;
  try {
    delivery.retry();
  } catch {
    // settled meanwhile
  }
}

/** @internal A strategy's error as an {@link OutreachError} (source `settle`). */
export function asSettleError(error: unknown): OutreachError {
  if (error instanceof OutreachError) return error;
  return new OutreachError('HANDLER_FAILED', `settle: ${(error as Error | undefined)?.message ?? String(error)}`, { cause: error });
}

/** @internal Bodies from this size up that wait in the buffer are decoded again when handed out, not held decoded. */
export const DECODE_AGAIN_MIN_BYTES = 256 * 1024;

/** Decodes a body that decoded before (the same body and codec decode the same way). */
function decodeAgain<A>(body: unknown, options: DecodeOptions<A>): A {
  const decoded = decodeOutreach<A>(body, options);
  if (decoded._tag === 'Left') throw decoded.left;
  return decoded.right;
}
