// OtelInstrumentation on delivery-shaped objects with the SDK's in-memory exporter: when a span
// ends in the cases the broker tests cannot stage on demand (a lost link, a close with work in
// hand, settled before user code), that observables are dropped at close, and that a throwing SDK
// never reaches the consumer.
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import type { OutreachDelivery, SettleOutcome } from '../../src/delivery/delivery.js';
import { loadInstrumentation } from '../../src/telemetry/load.js';
import type { ObservedConsumer } from '../../src/telemetry/otel-instrumentation.js';

class CollectingReader extends MetricReader {
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}

interface FakeDelivery {
  messageId: string;
  deliveryCount: number;
  applicationProperties: Record<string, unknown>;
  outcome: SettleOutcome | undefined;
}

function setUp(tracerProvider?: unknown) {
  const spans = new InMemorySpanExporter();
  const reader = new CollectingReader();
  const warnings: object[] = [];
  let observed = 0;
  const logger = { debug() {}, info() {}, warn: (fields: object) => void warnings.push(fields), error() {} };
  const consumer: ObservedConsumer = {
    queue: 'q',
    held: () => (observed++, 3),
    outage: () => false,
    endpoint: () => ({ host: 'b-1.mq.example', port: 5671 }),
    logger,
  };
  const instrumentation = loadInstrumentation(
    {
      tracerProvider: (tracerProvider ?? new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] })) as never,
      meterProvider: new MeterProvider({ readers: [reader] }),
    },
    consumer,
    logger,
  )!;
  let n = 0;
  const delivery = (): { fake: FakeDelivery; d: OutreachDelivery<unknown> } => {
    const fake: FakeDelivery = { messageId: `ID:${++n}`, deliveryCount: 0, applicationProperties: {}, outcome: undefined };
    return { fake, d: fake as unknown as OutreachDelivery<unknown> };
  };
  const outcomes = (): unknown[] => spans.getFinishedSpans().map((s) => s.attributes['civitas_outreach.outcome']);
  return { instrumentation, spans, reader, warnings, delivery, outcomes, observedCalls: () => observed };
}

describe('OtelInstrumentation', () => {
  it('a span ends when user code is done and the delivery settled, in either order', () => {
    const { instrumentation: i, delivery, outcomes } = setUp();
    const a = delivery();
    i.started(a.d);
    i.ended(a.d, undefined);
    expect(outcomes()).toEqual([]); // done, not yet settled (a batch)
    a.fake.outcome = 'accepted';
    i.settled(a.d, 'accepted');
    const b = delivery();
    i.started(b.d);
    b.fake.outcome = 'accepted';
    i.settled(b.d, 'accepted'); // settled by user code inside the handler (manual)
    expect(outcomes()).toEqual(['accepted']);
    i.ended(b.d, undefined);
    expect(outcomes()).toEqual(['accepted', 'accepted']);
  });

  it('settled before user code got it (at-most-once): the span says so from the start', () => {
    const { instrumentation: i, delivery, spans } = setUp();
    const a = delivery();
    a.fake.outcome = 'accepted';
    i.settled(a.d, 'accepted');
    i.started(a.d);
    i.ended(a.d, { error: new RangeError('after the fact') });
    const [span] = spans.getFinishedSpans();
    expect(span!.attributes).toMatchObject({ 'civitas_outreach.outcome': 'accepted', 'error.type': 'RangeError', 'server.address': 'b-1.mq.example' });
  });

  it('a lost link: done deliveries end as lost at the sweep, those in user code when it returns', () => {
    const { instrumentation: i, delivery, outcomes } = setUp();
    const done = delivery();
    const inHandler = delivery();
    i.started(done.d);
    i.ended(done.d, undefined);
    i.started(inHandler.d);
    done.fake.outcome = 'lost';
    inHandler.fake.outcome = 'lost';
    i.sweep();
    expect(outcomes()).toEqual(['lost']);
    i.ended(inHandler.d, undefined);
    expect(outcomes()).toEqual(['lost', 'lost']);
  });

  it('close: work still in hand ends as unfinished; observables are no longer called', async () => {
    const { instrumentation: i, delivery, outcomes, reader, observedCalls } = setUp();
    await reader.collect();
    expect(observedCalls()).toBe(1);
    const a = delivery();
    i.started(a.d);
    i.closed();
    i.closed();
    expect(outcomes()).toEqual(['unfinished']);
    await reader.collect();
    expect(observedCalls()).toBe(1);
    i.ended(a.d, undefined); // late: nothing left to end
    expect(outcomes()).toEqual(['unfinished']);
  });

  it('a throwing SDK never reaches the consumer: warned once, user code still runs', () => {
    const broken = {
      getTracer: () => ({
        startSpan: () => {
          throw new Error('exporter exploded for jane.doe@example.edu');
        },
      }),
    };
    const { instrumentation: i, delivery, warnings } = setUp(broken);
    const a = delivery();
    expect(() => i.started(a.d)).not.toThrow();
    expect(i.call(a.d, (x: number) => x * 2, 21)).toBe(42);
    expect(() => i.ended(a.d, undefined)).not.toThrow();
    const b = delivery();
    i.started(b.d);
    expect(warnings).toEqual([{ error: 'Error' }]);
  });
});
