import type * as OtelApi from '@opentelemetry/api';
import type { OutreachDelivery, SettleOutcome } from '../delivery/delivery.js';
import type { OutreachLogger } from '../logger.js';
import type { OutreachDecodeError } from '../message/decode-error.js';
import { errorType } from './error-type.js';
import type { Instrumentation } from './instrumentation.js';
import type { TelemetryOptions } from './options.js';
import { applicationPropertiesGetter } from './producer-context.js';
import {
  ATTR_DECODE_ERROR_KIND,
  ATTR_DELIVERY_COUNT,
  ATTR_ERROR_TYPE,
  ATTR_EXCEPTION_TYPE,
  ATTR_MESSAGING_DESTINATION_NAME,
  ATTR_MESSAGING_MESSAGE_ID,
  ATTR_MESSAGING_OPERATION_NAME,
  ATTR_MESSAGING_OPERATION_TYPE,
  ATTR_MESSAGING_SYSTEM,
  ATTR_OUTCOME,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  DURATION_BUCKETS_S,
  EVENT_EXCEPTION,
  METRIC_CONSUMED,
  METRIC_HELD,
  METRIC_INVALID,
  METRIC_OUTAGE,
  METRIC_PROCESS_DURATION,
  METRIC_SETTLED,
  MESSAGING_SYSTEM_ACTIVEMQ,
  OPERATION_PROCESS,
  SCOPE_NAME,
  SCOPE_VERSION,
} from './semconv.js';

/** @internal The module `@opentelemetry/api`, loaded at run time. */
export type OtelModule = typeof OtelApi;

/** @internal What the instrumentation reads of the consumer. */
export interface ObservedConsumer {
  /** The queue name, without a `queue://` prefix. */
  readonly queue: string;
  /** Deliveries held now (`health().held`). */
  held(): number;
  /** Whether a sink outage is under way. */
  outage(): boolean;
  /** The endpoint of the open link, if any. */
  endpoint(): { readonly host: string; readonly port: number } | undefined;
  readonly logger: OutreachLogger;
}

/** A delivery in user code, or done with it and waiting to be settled. */
interface OpenSpan {
  readonly span: OtelApi.Span;
  readonly startedAt: number;
  /** `error.type` once the delivery failed (or was undecodable). */
  errorType: string | undefined;
  userDone: boolean;
}

type Outcome = SettleOutcome | 'unfinished';

/**
 * @internal Spans and metrics with the OpenTelemetry API. One `process` span (kind CONSUMER) per
 * delivery handed to user code, linked to the producer's context when the message carries one;
 * counters and a duration histogram labelled with bounded values only (system, queue, operation,
 * outcome, error type, decode error kind); observable instruments for held deliveries and the
 * outage state. Never records bodies, student data, error messages or credentials.
 *
 * A throw from the OpenTelemetry SDK (a broken exporter or processor) never reaches the consumer:
 * it is logged once and ignored.
 */
export class OtelInstrumentation implements Instrumentation {
  readonly #api: OtelModule;
  readonly #consumer: ObservedConsumer;
  readonly #tracer: OtelApi.Tracer;
  readonly #spanName: string;
  readonly #open = new Map<OutreachDelivery<unknown>, OpenSpan>();
  readonly #consumed: OtelApi.Counter;
  readonly #settled: OtelApi.Counter;
  readonly #invalid: OtelApi.Counter;
  readonly #duration: OtelApi.Histogram;
  readonly #held: OtelApi.ObservableUpDownCounter;
  readonly #outage: OtelApi.ObservableGauge;
  /** Metric labels, made once: system and queue. */
  readonly #labels: OtelApi.Attributes;
  readonly #processLabels: OtelApi.Attributes;
  readonly #settledLabels = new Map<Outcome, OtelApi.Attributes>();
  readonly #observeHeld: OtelApi.ObservableCallback;
  readonly #observeOutage: OtelApi.ObservableCallback;
  #warned = false;
  #closed = false;

  constructor(api: OtelModule, options: TelemetryOptions, consumer: ObservedConsumer) {
    this.#api = api;
    this.#consumer = consumer;
    const tracerProvider = (options.tracerProvider as OtelApi.TracerProvider | undefined) ?? api.trace.getTracerProvider();
    const meterProvider = (options.meterProvider as OtelApi.MeterProvider | undefined) ?? api.metrics.getMeterProvider();
    this.#tracer = tracerProvider.getTracer(SCOPE_NAME, SCOPE_VERSION);
    const meter = meterProvider.getMeter(SCOPE_NAME, SCOPE_VERSION);
    this.#spanName = `${OPERATION_PROCESS} ${consumer.queue}`;
    this.#labels = { [ATTR_MESSAGING_SYSTEM]: MESSAGING_SYSTEM_ACTIVEMQ, [ATTR_MESSAGING_DESTINATION_NAME]: consumer.queue };
    this.#processLabels = { ...this.#labels, [ATTR_MESSAGING_OPERATION_NAME]: OPERATION_PROCESS };
    this.#consumed = meter.createCounter(METRIC_CONSUMED, { unit: '{message}', description: 'Messages the broker delivered to the consumer.' });
    this.#settled = meter.createCounter(METRIC_SETTLED, { unit: '{message}', description: 'Deliveries settled, by outcome.' });
    this.#invalid = meter.createCounter(METRIC_INVALID, { unit: '{message}', description: 'Messages that could not be decoded, by kind.' });
    this.#duration = meter.createHistogram(METRIC_PROCESS_DURATION, {
      unit: 's',
      description: 'Time in user code (handler, loop body or onInvalid) per delivery.',
      advice: { explicitBucketBoundaries: DURATION_BUCKETS_S },
    });
    this.#held = meter.createObservableUpDownCounter(METRIC_HELD, { unit: '{delivery}', description: 'Deliveries held by the consumer now.' });
    this.#outage = meter.createObservableGauge(METRIC_OUTAGE, { unit: '1', description: '1 while a sink outage pauses the consumer, else 0.' });
    this.#observeHeld = (result) => result.observe(consumer.held(), this.#labels);
    this.#observeOutage = (result) => result.observe(consumer.outage() ? 1 : 0, this.#labels);
    this.#held.addCallback(this.#observeHeld);
    this.#outage.addCallback(this.#observeOutage);
  }

  received(): void {
    try {
      this.#consumed.add(1, this.#processLabels);
    } catch (error) {
      this.#failed(error);
    }
  }

  invalid(delivery: OutreachDelivery<unknown>, error: OutreachDecodeError): void {
    try {
      this.#invalid.add(1, { ...this.#labels, [ATTR_DECODE_ERROR_KIND]: error.kind });
      const open = this.#start(delivery);
      open.errorType = error.code;
      open.span.setAttribute(ATTR_DECODE_ERROR_KIND, error.kind);
      open.span.setAttribute(ATTR_ERROR_TYPE, error.code);
      open.span.setStatus({ code: this.#api.SpanStatusCode.ERROR });
    } catch (failure) {
      this.#failed(failure);
    }
  }

  started(delivery: OutreachDelivery<unknown>): void {
    try {
      this.#start(delivery);
    } catch (error) {
      this.#failed(error);
    }
  }

  call<T, R>(delivery: OutreachDelivery<unknown>, fn: (arg: T) => R, arg: T): R {
    const open = this.#open.get(delivery);
    if (open === undefined) return fn(arg);
    const api = this.#api;
    let active: OtelApi.Context;
    try {
      active = api.trace.setSpan(api.context.active(), open.span);
    } catch (error) {
      this.#failed(error);
      return fn(arg);
    }
    return api.context.with(active, fn, undefined, arg);
  }

  ended(delivery: OutreachDelivery<unknown>, failure: { readonly error: unknown } | undefined): void {
    try {
      const open = this.#open.get(delivery);
      if (open === undefined || open.userDone) return;
      open.userDone = true;
      if (failure !== undefined) {
        const type = errorType(failure.error);
        open.errorType = type;
        // The type only: exception.message and the stack could carry student data.
        open.span.addEvent(EVENT_EXCEPTION, { [ATTR_EXCEPTION_TYPE]: type });
        open.span.setAttribute(ATTR_ERROR_TYPE, type);
        open.span.setStatus({ code: this.#api.SpanStatusCode.ERROR });
      }
      const seconds = (performance.now() - open.startedAt) / 1000;
      this.#duration.record(seconds, open.errorType === undefined ? this.#processLabels : { ...this.#processLabels, [ATTR_ERROR_TYPE]: open.errorType });
      if (delivery.outcome !== undefined) this.#end(delivery, open, delivery.outcome);
    } catch (error) {
      this.#failed(error);
    }
  }

  settled(delivery: OutreachDelivery<unknown>, outcome: SettleOutcome): void {
    try {
      this.#settled.add(1, this.#settledLabelsFor(outcome));
      const open = this.#open.get(delivery);
      if (open?.userDone === true) this.#end(delivery, open, outcome);
    } catch (error) {
      this.#failed(error);
    }
  }

  sweep(): void {
    try {
      for (const [delivery, open] of this.#open) {
        if (open.userDone && delivery.outcome !== undefined) this.#end(delivery, open, delivery.outcome);
      }
    } catch (error) {
      this.#failed(error);
    }
  }

  closed(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      for (const [delivery, open] of this.#open) this.#end(delivery, open, delivery.outcome ?? 'unfinished');
      this.#held.removeCallback(this.#observeHeld);
      this.#outage.removeCallback(this.#observeOutage);
    } catch (error) {
      this.#failed(error);
    }
  }

  #start(delivery: OutreachDelivery<unknown>): OpenSpan {
    const existing = this.#open.get(delivery);
    if (existing !== undefined) return existing;
    const api = this.#api;
    const attributes: OtelApi.Attributes = {
      [ATTR_MESSAGING_SYSTEM]: MESSAGING_SYSTEM_ACTIVEMQ,
      [ATTR_MESSAGING_DESTINATION_NAME]: this.#consumer.queue,
      [ATTR_MESSAGING_OPERATION_TYPE]: OPERATION_PROCESS,
      [ATTR_MESSAGING_OPERATION_NAME]: OPERATION_PROCESS,
      [ATTR_DELIVERY_COUNT]: delivery.deliveryCount,
    };
    if (delivery.messageId !== undefined) attributes[ATTR_MESSAGING_MESSAGE_ID] = String(delivery.messageId);
    const endpoint = this.#consumer.endpoint();
    if (endpoint !== undefined) {
      attributes[ATTR_SERVER_ADDRESS] = endpoint.host;
      attributes[ATTR_SERVER_PORT] = endpoint.port;
    }
    const producer = api.trace.getSpanContext(api.propagation.extract(api.ROOT_CONTEXT, delivery.applicationProperties, applicationPropertiesGetter));
    const options: OtelApi.SpanOptions = { kind: api.SpanKind.CONSUMER, attributes, root: true };
    if (producer !== undefined && api.trace.isSpanContextValid(producer)) options.links = [{ context: producer }];
    const open: OpenSpan = { span: this.#tracer.startSpan(this.#spanName, options), startedAt: performance.now(), errorType: undefined, userDone: false };
    this.#open.set(delivery, open);
    // Settled before user code got it (at-most-once accepts on arrival).
    if (delivery.outcome !== undefined) open.span.setAttribute(ATTR_OUTCOME, delivery.outcome);
    return open;
  }

  #end(delivery: OutreachDelivery<unknown>, open: OpenSpan, outcome: Outcome): void {
    this.#open.delete(delivery);
    open.span.setAttribute(ATTR_OUTCOME, outcome);
    open.span.end();
  }

  #settledLabelsFor(outcome: Outcome): OtelApi.Attributes {
    let labels = this.#settledLabels.get(outcome);
    if (labels === undefined) {
      labels = { ...this.#labels, [ATTR_OUTCOME]: outcome };
      this.#settledLabels.set(outcome, labels);
    }
    return labels;
  }

  #failed(error: unknown): void {
    if (this.#warned) return;
    this.#warned = true;
    this.#consumer.logger.warn({ error: errorType(error) }, 'telemetry: the OpenTelemetry SDK threw; ignored (logged once)');
  }
}
