// Telemetry cost on a real local broker (ActiveMQ over AMQP+TLS, non-persistent messages, the same
// bodies for every mode, each message carrying a W3C `traceparent` property, rounds interleaved with
// the order rotated each round). The event API (decode + at-least-once settle after the handler,
// concurrency 8) drains the same queue content under three settings:
//
// - off: `telemetry: false`, the code path a consumer takes when `@opentelemetry/api` is not
//   installed (the hooks see no instrumentation);
// - api, no provider: the API installed, nothing registered (its no-op tracer and meter);
// - sdk: BasicTracerProvider with a BatchSpanProcessor into an exporter that drops the spans, a
//   MeterProvider with a reader, and the W3C propagator and async-context manager NodeSDK
//   registers (the SDK's cost, without an exporter's network).
//
// Prints msg/s per mode and round, and the median / min / max throughput ratio of each mode
// against `off` measured in the same round. First, without a broker, the hooks alone: the time per
// delivery of the telemetry calls the consumer makes (received, started, call, ended, settled) in
// each mode, against a loop that only calls the handler; this figure is far less noisy than the
// end-to-end one on a shared machine.
// Run: npm run bench:telemetry   (BENCH_MESSAGES, BENCH_ROUNDS)
import { randomBytes } from 'node:crypto';
import { context, propagation } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { ExportResultCode, W3CTraceContextPropagator } from '@opentelemetry/core';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, BatchSpanProcessor, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { startBroker, type BrokerHandle } from '../scripts/activemq.mjs';
import { OutreachConsumer, type TelemetryOptions } from '../src/index.js';
import { makeOutreachMessages } from '../src/testing/index.js';
import type { OutreachDelivery } from '../src/delivery/delivery.js';
import { TelemetryHooks } from '../src/telemetry/instrumentation.js';
import { loadInstrumentation } from '../src/telemetry/load.js';
import { silentLogger } from '../src/logger.js';
import { SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { sendBodies } from '../examples/seed-dev-queue.js';
import { brokerOptions, record, spread, timedDrain } from './support.js';

const messages = Number(process.env.BENCH_MESSAGES ?? 10_000);
const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const prefetch = 100;
const bodies = [...makeOutreachMessages(messages, { seed: 7 })].map((m) => JSON.stringify(m));
const traceparent = `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`;
const properties = bodies.map(() => ({ traceparent }));

/** Counts spans and drops them. */
class DroppingExporter implements SpanExporter {
  exported = 0;
  export(spans: ReadableSpan[], done: (result: { code: ExportResultCode }) => void): void {
    this.exported += spans.length;
    done({ code: ExportResultCode.SUCCESS });
  }
  async shutdown(): Promise<void> {}
}

class CollectingReader extends MetricReader {
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}

interface Mode {
  readonly name: string;
  /** The consumer's `telemetry` option for one run, and a check after it. */
  setUp(): { telemetry: TelemetryOptions | false | undefined; check(): Promise<void>; tearDown(): void | Promise<void> };
}

const modes: Mode[] = [
  { name: 'off', setUp: () => ({ telemetry: false, check: async () => undefined, tearDown: () => undefined }) },
  { name: 'api, no provider', setUp: () => ({ telemetry: undefined, check: async () => undefined, tearDown: () => undefined }) },
  {
    name: 'sdk',
    setUp: () => {
      const exporter = new DroppingExporter();
      const processor = new BatchSpanProcessor(exporter);
      const reader = new CollectingReader();
      const tracerProvider = new BasicTracerProvider({ spanProcessors: [processor] });
      const meterProvider = new MeterProvider({ readers: [reader] });
      propagation.setGlobalPropagator(new W3CTraceContextPropagator());
      context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
      return {
        telemetry: { tracerProvider, meterProvider },
        check: async () => {
          await processor.forceFlush();
          const { resourceMetrics } = await reader.collect();
          const consumed = resourceMetrics.scopeMetrics
            .flatMap((s) => s.metrics)
            .find((m) => m.descriptor.name === 'messaging.client.consumed.messages')
            ?.dataPoints.reduce((n, p) => n + (p.value as number), 0);
          if (exporter.exported !== messages || consumed !== messages) throw new Error(`sdk saw ${exporter.exported} spans, ${String(consumed)} consumed; expected ${messages}`);
        },
        tearDown: async () => {
          propagation.disable();
          context.disable();
          await Promise.all([tracerProvider.shutdown(), meterProvider.shutdown()]);
        },
      };
    },
  },
];

async function drain(broker: BrokerHandle, queue: string, mode: Mode, count = messages): Promise<number> {
  const { telemetry, check, tearDown } = mode.setUp();
  try {
    const consumer = new OutreachConsumer({
      ...brokerOptions(broker, queue),
      prefetch,
      ...(telemetry !== undefined && { telemetry }),
    });
    const ms = await timedDrain(consumer, count);
    if (count === messages) await check();
    return ms;
  } finally {
    await tearDown();
  }
}

/** Full collections before a run, so that one mode's garbage is not collected in the next one's time (needs --expose-gc). */
async function settleHeap(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    globalThis.gc?.();
    await new Promise((r) => setImmediate(r));
  }
}

const stats = (xs: number[]): string => {
  const s = [...xs].sort((a, b) => a - b);
  return `median ${s[Math.floor(s.length / 2)]!.toFixed(3)} (min ${s[0]!.toFixed(3)}, max ${s.at(-1)!.toFixed(3)})`;
};

// ---- the hooks alone ----------------------------------------------------------------------

/** The hooks the consumer calls for one delivery, `n` times, on delivery-shaped objects; ns per delivery. */
function hookLoop(hooks: TelemetryHooks | undefined, n: number): number {
  const handler = (d: { deliveryCount: number }): number => d.deliveryCount;
  let sink = 0;
  const started = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const d = { messageId: `ID:bench-${i}`, deliveryCount: 0, applicationProperties: { traceparent }, outcome: undefined as string | undefined };
    const delivery = d as unknown as OutreachDelivery<unknown>;
    if (hooks === undefined) {
      sink += handler(d);
      d.outcome = 'accepted';
      continue;
    }
    hooks.received();
    hooks.started(delivery);
    sink += hooks.call(delivery, handler, d);
    hooks.ended(delivery, undefined);
    d.outcome = 'accepted';
    hooks.settled(delivery, 'accepted');
  }
  if (sink < 0) console.log(sink);
  return Number(process.hrtime.bigint() - started) / n;
}

function hooksFor(mode: string): { hooks: TelemetryHooks | undefined; done(): void } {
  if (mode === 'handler only') return { hooks: undefined, done: () => undefined };
  const hooks = new TelemetryHooks();
  if (mode === 'off') return { hooks, done: () => undefined };
  const consumer = { queue: 'bench', held: () => 0, outage: () => false, endpoint: () => ({ host: '127.0.0.1', port: 5671 }), logger: silentLogger };
  if (mode === 'api, no provider') {
    const instrumentation = loadInstrumentation({}, consumer, silentLogger)!;
    hooks.enable(instrumentation);
    return { hooks, done: () => instrumentation.closed() };
  }
  const exporter = new DroppingExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const meterProvider = new MeterProvider({ readers: [new CollectingReader()] });
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const instrumentation = loadInstrumentation({ tracerProvider, meterProvider }, consumer, silentLogger)!;
  hooks.enable(instrumentation);
  return {
    hooks,
    done: () => {
      instrumentation.closed();
      propagation.disable();
      context.disable();
      void tracerProvider.shutdown();
      void meterProvider.shutdown();
    },
  };
}

{
  const hookModes = ['handler only', 'off', 'api, no provider', 'sdk'];
  const perDelivery = new Map<string, number[]>(hookModes.map((m) => [m, []]));
  const n = 100_000;
  for (const mode of hookModes) {
    const { hooks, done } = hooksFor(mode);
    hookLoop(hooks, n); // warm-up
    done();
  }
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < hookModes.length; k++) {
      const mode = hookModes[(k + round) % hookModes.length]!;
      const { hooks, done } = hooksFor(mode);
      await settleHeap();
      perDelivery.get(mode)!.push(hookLoop(hooks, n));
      done();
    }
  }
  const base = perDelivery.get('handler only')!;
  console.log(`the hooks alone, ${n} deliveries x ${rounds} rounds; ns per delivery above a loop that only calls the handler:`);
  for (const mode of hookModes.slice(1)) {
    const extra = perDelivery.get(mode)!.map((ns, i) => ns - base[i]!);
    record('telemetry', `hooks alone, ns per delivery: ${mode}`, spread(extra));
    console.log(`  ${mode}: ${stats(extra).replace(/(\d+\.\d+)/g, (x) => Number(x).toFixed(0))} ns`);
  }
}

// ---- end to end, on a broker --------------------------------------------------------------

const broker = await startBroker({ quiet: true, persistent: false });
try {
  // Warm-up, not measured: whichever mode ran first would otherwise pay for the JIT.
  const warmUp = Math.min(2000, messages);
  for (const mode of modes) {
    const queue = `bench.telemetry.warm-up.${mode.name.replace(/\W+/g, '-')}`;
    await sendBodies(broker, queue, bodies.slice(0, warmUp), { durable: false, properties });
    await drain(broker, queue, mode, warmUp);
  }
  const ratios = new Map<string, number[]>(modes.slice(1).map((m) => [m.name, []]));
  for (let round = 0; round < rounds; round++) {
    const ms = new Map<string, number>();
    for (let k = 0; k < modes.length; k++) {
      const mode = modes[(k + round) % modes.length]!;
      const queue = `bench.telemetry.${round}.${mode.name.replace(/\W+/g, '-')}`;
      await sendBodies(broker, queue, bodies, { durable: false, properties });
      await settleHeap();
      ms.set(mode.name, await drain(broker, queue, mode));
    }
    const off = ms.get('off')!;
    for (const [name, list] of ratios) list.push(off / ms.get(name)!);
    console.log(`round ${round + 1}: ${modes.map((m) => `${m.name} ${Math.round((messages / ms.get(m.name)!) * 1000)} msg/s`).join(' | ')}`);
  }
  console.log(`${messages} messages, prefetch ${prefetch}, concurrency 8, ${rounds} rounds; throughput ratio against off (1 = no cost):`);
  for (const [name, list] of ratios) {
    record('telemetry', `throughput ratio ${name} / off`, spread(list));
    console.log(`  ${name}: ${stats(list)}`);
  }
} finally {
  await broker.stop();
}
