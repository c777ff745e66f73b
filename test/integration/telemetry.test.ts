// OpenTelemetry spans and metrics against the real broker, collected with the SDK's in-memory span
// exporter and a metric reader the test collects from: one `process` span per delivery handed to
// user code (semantic-convention attributes, outcome, error type, the producer's context as a link,
// user code's own spans as children), the counters, the duration histogram, the held and outage
// observables; and a scan of everything recorded for the student and employee data of every
// message sent, the handlers' error messages, and the broker password: zero hits.
import { randomBytes } from 'node:crypto';
import { context, metrics, propagation, trace, SpanKind, SpanStatusCode, type Attributes } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { AggregationTemporality, MeterProvider, MetricReader, type DataPoint, type Histogram, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  atLeastOnce,
  OutreachConsumer,
  type Outreach,
  type OutreachConsumerOptions,
  type SettleOutcome,
} from '../../src/index.js';
import { makeOutreachMessages, type OutreachWireMessage } from '../../src/testing/index.js';
import { consumerOptions, sendAmqp, sharedBroker, uniqueQueue, waitFor } from './support.js';

const broker = sharedBroker();

/** A metric reader the test collects from when it wants (cumulative). */
class CollectingReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}

interface Sdk {
  readonly spans: InMemorySpanExporter;
  readonly reader: CollectingReader;
  readonly telemetry: { tracerProvider: BasicTracerProvider; meterProvider: MeterProvider };
}

function sdk(): Sdk {
  const spans = new InMemorySpanExporter();
  const reader = new CollectingReader();
  return {
    spans,
    reader,
    telemetry: {
      tracerProvider: new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] }),
      meterProvider: new MeterProvider({ readers: [reader] }),
    },
  };
}

/** Every data point of every metric named `name`. */
function points(collected: ResourceMetrics, name: string): DataPoint<number | Histogram>[] {
  return collected.scopeMetrics.flatMap((s) => s.metrics.filter((m) => m.descriptor.name === name).flatMap((m) => m.dataPoints as DataPoint<number | Histogram>[]));
}

/** The sum of the values (or histogram counts) of the points whose attributes include `where`. */
function total(collected: ResourceMetrics, name: string, where: Attributes = {}): number {
  return points(collected, name)
    .filter((p) => Object.entries(where).every(([k, v]) => p.attributes[k] === v))
    .reduce((n, p) => n + (typeof p.value === 'number' ? p.value : p.value.count), 0);
}

async function collect(reader: CollectingReader): Promise<ResourceMetrics> {
  const { resourceMetrics, errors } = await reader.collect();
  expect(errors).toEqual([]);
  return resourceMetrics;
}

/** Everything the telemetry recorded as text: names, attribute keys and values, events, links, statuses, metric labels. */
function recordedText(spans: readonly ReadableSpan[], collected: readonly ResourceMetrics[]): string[] {
  const out: string[] = [];
  const attrs = (a: Attributes | undefined): void => {
    for (const [k, v] of Object.entries(a ?? {})) out.push(k, JSON.stringify(v));
  };
  for (const span of spans) {
    out.push(span.name, span.status.message ?? '');
    attrs(span.attributes);
    for (const event of span.events) {
      out.push(event.name);
      attrs(event.attributes);
    }
    for (const link of span.links) attrs(link.attributes);
  }
  for (const c of collected) {
    for (const scope of c.scopeMetrics) {
      for (const metric of scope.metrics) {
        out.push(metric.descriptor.name, metric.descriptor.description, metric.descriptor.unit);
        for (const p of metric.dataPoints) attrs(p.attributes);
      }
    }
  }
  return out;
}

/** Student and employee data of the messages, and the broker password. */
function secretsOf(messages: readonly OutreachWireMessage[]): string[] {
  const secrets = new Set<string>([broker.password]);
  for (const m of messages) {
    for (const v of [m.employeeFirstName, m.employeeLastName, m.employeeEmail]) if (v !== undefined) secrets.add(v);
    for (const s of m.students) {
      for (const v of [s.firstName, s.lastName, s.emailAddress, String(s.institutionPersonID)]) if (v !== undefined) secrets.add(v);
    }
  }
  return [...secrets];
}

function expectNothingPersonal(spans: readonly ReadableSpan[], collected: readonly ResourceMetrics[], messages: readonly OutreachWireMessage[]): void {
  const text = recordedText(spans, collected);
  const secrets = secretsOf(messages);
  expect(secrets.length).toBeGreaterThan(messages.length); // the scan has something to look for
  expect(text.length).toBeGreaterThan(0);
  const hits = secrets.flatMap((secret) => text.filter((t) => t.includes(secret)).map((t) => `${secret} in ${t}`));
  expect(hits).toEqual([]);
}

/** A handler's error that names the student, as a sink's error might ("duplicate key … jane@…"). */
class RecordRefused extends Error {}

const messagesFor = (n: number, seed: number): OutreachWireMessage[] => [...makeOutreachMessages(n, { seed, students: 2 })];
const bodiesOf = (messages: readonly OutreachWireMessage[]): string[] => messages.map((m) => JSON.stringify(m));
const outcomeOf = (span: ReadableSpan): unknown => span.attributes['civitas_outreach.outcome'];

function options(queue: string, telemetry: Sdk['telemetry'] | false | undefined, extra: Partial<OutreachConsumerOptions<Outreach>> = {}): OutreachConsumerOptions<Outreach> {
  return consumerOptions(broker, queue, { ...(telemetry !== undefined && { telemetry }), ...extra });
}

beforeAll(() => {
  // What NodeSDK registers: the W3C propagator and an async-context manager.
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
});
afterAll(() => {
  propagation.disable();
  context.disable();
  trace.disable();
  metrics.disable();
});

describe('telemetry with the OpenTelemetry SDK', () => {
  it('event API: a process span per handler call with its outcome, linked to the producer; counters and durations; nothing personal', async () => {
    const { spans, reader, telemetry } = sdk();
    const queue = uniqueQueue('telemetry');
    const messages = messagesFor(6, 71);
    const refusedId = messages[5]!.outreachId;
    const producer = { traceId: randomBytes(16).toString('hex'), spanId: randomBytes(8).toString('hex') };
    await sendAmqp(broker, queue, bodiesOf(messages), {
      durable: false,
      properties: [{ traceparent: `00-${producer.traceId}-${producer.spanId}-01`, tracestate: 'vendor=1' }],
    });
    const consumer = new OutreachConsumer(options(queue, telemetry, { strategy: atLeastOnce({ maxAttempts: 2, retryDelayMs: 50 }) }));
    consumer.on('error', () => undefined);
    const outcomes: SettleOutcome[] = [];
    consumer.on('settled', (_d, outcome) => outcomes.push(outcome));
    const childOf = new Map<string, string | undefined>();
    await consumer.start((delivery) => {
      // User code's own spans are children of the delivery's span.
      const child = trace.getTracer('user-code').startSpan('crm.upsert');
      childOf.set(delivery.outreach.outreachId, trace.getActiveSpan()?.spanContext().spanId);
      child.end();
      if (delivery.outreach.outreachId === refusedId) {
        const s = delivery.outreach.students[0]!;
        throw new RecordRefused(`CRM refused ${s.firstName} ${s.lastName} <${s.emailAddress}> (${s.institutionPersonID})`);
      }
    });
    await waitFor(() => outcomes.filter((o) => o === 'accepted').length === 5 && outcomes.includes('rejected'), '5 accepted and 1 rejected');
    const beforeClose = await collect(reader);
    await consumer.close();
    const collected = await collect(reader);

    const finished = spans.getFinishedSpans();
    expect(finished.map(outcomeOf).sort()).toEqual(['accepted', 'accepted', 'accepted', 'accepted', 'accepted', 'rejected', 'retried']);
    for (const span of finished) {
      expect(span.name).toBe(`process ${queue}`);
      expect(span.kind).toBe(SpanKind.CONSUMER);
      expect(span.parentSpanContext).toBeUndefined();
      expect(span.attributes).toMatchObject({
        'messaging.system': 'activemq',
        'messaging.destination.name': queue,
        'messaging.operation.type': 'process',
        'messaging.operation.name': 'process',
        'server.address': '127.0.0.1',
        'server.port': broker.amqpsPort,
      });
      expect(span.attributes['messaging.message.id']).toMatch(/^(ID:|m-)/);
    }
    const failed = finished.filter((s) => s.status.code === SpanStatusCode.ERROR);
    expect(failed.map(outcomeOf).sort()).toEqual(['rejected', 'retried']);
    expect(failed.map((s) => s.attributes['civitas_outreach.message.delivery_count']).sort()).toEqual([0, 1]);
    for (const span of failed) {
      expect(span.attributes['error.type']).toBe('RecordRefused');
      expect(span.status.message).toBeUndefined();
      expect(span.events.map((e) => [e.name, e.attributes])).toEqual([['exception', { 'exception.type': 'RecordRefused' }]]);
    }
    // The producer's context is a link (the span starts its own trace).
    const linked = finished.filter((s) => s.links.length > 0);
    expect(linked).toHaveLength(1);
    expect(linked[0]!.links[0]!.context).toMatchObject({ traceId: producer.traceId, spanId: producer.spanId });
    expect(linked[0]!.spanContext().traceId).not.toBe(producer.traceId);
    // User code ran inside the delivery's span.
    const spanIds = new Set(finished.map((s) => s.spanContext().spanId));
    expect([...childOf.values()].every((id) => id !== undefined && spanIds.has(id))).toBe(true);

    const labels = { 'messaging.system': 'activemq', 'messaging.destination.name': queue };
    expect(total(collected, 'messaging.client.consumed.messages', { ...labels, 'messaging.operation.name': 'process' })).toBe(7);
    expect(total(collected, 'civitas_outreach.messages.settled', { ...labels, 'civitas_outreach.outcome': 'accepted' })).toBe(5);
    expect(total(collected, 'civitas_outreach.messages.settled', { 'civitas_outreach.outcome': 'retried' })).toBe(1);
    expect(total(collected, 'civitas_outreach.messages.settled', { 'civitas_outreach.outcome': 'rejected' })).toBe(1);
    expect(total(collected, 'messaging.process.duration', labels)).toBe(7);
    expect(total(collected, 'messaging.process.duration', { 'error.type': 'RecordRefused' })).toBe(2);
    // Observed while the consumer runs: one series each, labelled with the queue only.
    expect(points(beforeClose, 'civitas_outreach.deliveries.held').map((p) => p.attributes)).toEqual([labels]);
    expect(points(beforeClose, 'civitas_outreach.outage.active').map((p) => p.value)).toEqual([0]);
    // No message id in any metric label.
    expect(recordedText([], [collected]).some((t) => t.includes('m-') || t.includes('ID:'))).toBe(false);

    expectNothingPersonal(finished, [beforeClose, collected], messages);
  });

  it('iterator: a span per delivery the loop had, released on break; undecodable messages counted by kind, their spans rejected', async () => {
    const { spans, reader, telemetry } = sdk();
    const queue = uniqueQueue('telemetry');
    const messages = messagesFor(3, 72);
    await sendAmqp(broker, queue, ['{"not json', '{"outreachId": 5}', ...bodiesOf(messages)], { durable: false });
    const invalidKinds: string[] = [];
    const consumer = new OutreachConsumer(
      options(queue, telemetry, {
        prefetch: 10,
        onInvalid: (invalid) => {
          invalidKinds.push(invalid.error.kind);
        },
      }),
    );
    consumer.on('error', () => undefined);
    let seen = 0;
    for await (const delivery of consumer) {
      void delivery;
      if (++seen === 2) break; // the second is handed back; the third stays buffered and goes back unseen
    }
    await consumer.close();
    const collected = await collect(reader);

    const finished = spans.getFinishedSpans();
    const invalidSpans = finished.filter((s) => s.attributes['civitas_outreach.decode_error.kind'] !== undefined);
    expect(invalidSpans.map((s) => s.attributes['civitas_outreach.decode_error.kind']).sort()).toEqual(['not-json', 'wrong-shape']);
    for (const span of invalidSpans) {
      expect(span.attributes['error.type']).toBe('DECODE_FAILED');
      expect(span.status.code).toBe(SpanStatusCode.ERROR);
      expect(outcomeOf(span)).toBe('rejected');
    }
    const loopSpans = finished.filter((s) => s.attributes['civitas_outreach.decode_error.kind'] === undefined);
    expect(loopSpans.map(outcomeOf)).toEqual(['accepted', 'released']);
    expect(loopSpans.every((s) => s.status.code === SpanStatusCode.UNSET)).toBe(true);

    expect(total(collected, 'civitas_outreach.messages.invalid', { 'civitas_outreach.decode_error.kind': 'not-json' })).toBe(1);
    expect(total(collected, 'civitas_outreach.messages.invalid', { 'civitas_outreach.decode_error.kind': 'wrong-shape' })).toBe(1);
    expect(total(collected, 'civitas_outreach.messages.settled', { 'civitas_outreach.outcome': 'rejected' })).toBe(2);
    // The one the loop broke on, and any buffered behind it.
    expect(total(collected, 'civitas_outreach.messages.settled', { 'civitas_outreach.outcome': 'released' })).toBeGreaterThanOrEqual(1);
    expect(total(collected, 'messaging.process.duration', { 'error.type': 'DECODE_FAILED' })).toBe(2);
    // Every message that arrived was settled once (no connection was lost).
    expect(total(collected, 'messaging.client.consumed.messages')).toBe(total(collected, 'civitas_outreach.messages.settled'));
    expectNothingPersonal(finished, [collected], messages);
  });

  it('outage: the outage gauge is 1 while the sink is down and 0 after recovery; handed-back deliveries end released', async () => {
    const { spans, reader, telemetry } = sdk();
    const queue = uniqueQueue('telemetry');
    const messages = messagesFor(30, 73);
    await sendAmqp(broker, queue, bodiesOf(messages), { durable: false });
    const consumer = new OutreachConsumer(options(queue, telemetry, { prefetch: 10, outage: { threshold: 3, probeDelayMs: 300 } }));
    consumer.on('error', () => undefined);
    let down = true;
    let outages = 0;
    let recoveries = 0;
    consumer.on('outage', () => outages++);
    consumer.on('recovered', () => recoveries++);
    let accepted = 0;
    consumer.on('settled', (_d, outcome) => (accepted += outcome === 'accepted' ? 1 : 0));
    await consumer.start(
      async (delivery) => {
        await new Promise((r) => setTimeout(r, 5));
        if (down) {
          const s = delivery.outreach.students[1]!;
          throw new Error(`connect ECONNREFUSED while saving ${s.firstName} ${s.lastName} ${s.emailAddress}`);
        }
      },
      { concurrency: 3 },
    );
    await waitFor(() => outages === 1, 'the outage');
    const during = await collect(reader);
    expect(points(during, 'civitas_outreach.outage.active').map((p) => [p.value, p.attributes])).toEqual([
      [1, { 'messaging.system': 'activemq', 'messaging.destination.name': queue }],
    ]);
    down = false;
    await waitFor(() => recoveries === 1 && accepted === messages.length, 'recovery and every message accepted');
    const after = await collect(reader);
    expect(points(after, 'civitas_outreach.outage.active').map((p) => p.value)).toEqual([0]);
    expect(points(after, 'civitas_outreach.deliveries.held').map((p) => p.value)).toEqual([0]);
    await consumer.close();

    const finished = spans.getFinishedSpans();
    const failed = finished.filter((s) => s.status.code === SpanStatusCode.ERROR);
    expect(failed.length).toBeGreaterThanOrEqual(3);
    expect(new Set(failed.map((s) => s.attributes['error.type']))).toEqual(new Set(['Error']));
    // Failures during the outage are handed back (released), not retried against a dead sink.
    expect(failed.map(outcomeOf)).toContain('released');
    expect(finished.filter((s) => outcomeOf(s) === 'accepted')).toHaveLength(messages.length);
    expectNothingPersonal(finished, [during, after], messages);
  });

  it('by default uses the global providers; telemetry: false records nothing', async () => {
    const { spans, reader, telemetry } = sdk();
    trace.setGlobalTracerProvider(telemetry.tracerProvider);
    metrics.setGlobalMeterProvider(telemetry.meterProvider);
    try {
      const run = async (telemetryOption: false | undefined): Promise<void> => {
        const queue = uniqueQueue('telemetry');
        await sendAmqp(broker, queue, bodiesOf(messagesFor(4, 74)), { durable: false });
        const consumer = new OutreachConsumer(options(queue, telemetryOption));
        let handled = 0;
        await consumer.start(() => void handled++);
        await waitFor(() => handled === 4, '4 deliveries');
        await consumer.close();
      };
      await run(false);
      expect(spans.getFinishedSpans()).toHaveLength(0);
      expect(total(await collect(reader), 'messaging.client.consumed.messages')).toBe(0);
      await run(undefined);
      expect(spans.getFinishedSpans().map(outcomeOf)).toEqual(['accepted', 'accepted', 'accepted', 'accepted']);
      expect(total(await collect(reader), 'messaging.client.consumed.messages')).toBe(4);
    } finally {
      trace.disable();
      metrics.disable();
    }
  });
});
