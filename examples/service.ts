// A long-running consumer service: the event API, an HTTP health endpoint for an orchestrator
// (`/healthz` liveness, `/readyz` readiness from consumer.health()), OpenTelemetry registered
// before the consumer starts (a `process <queue>` span per delivery, exported), and a graceful
// stop on SIGTERM/SIGINT: close({ deadlineMs }) finishes the work in hand and hands back the rest,
// then the HTTP server and the exporter shut down and the process exits 0 with the close report.
//
//   npm run example:service           (embedded default; or set CIVITAS_URL & co.)
//   curl localhost:<port>/readyz      (PORT=8080 to choose the port, default a free one, printed; HOST)
//
// It runs until SIGTERM or SIGINT (Ctrl-C), also on the embedded default.
//
// The span exporter here prints one line per span, to show what is exported; in production put
// OTLPTraceExporter (@opentelemetry/exporter-trace-otlp-http) in its place, and a MeterProvider
// for the consumer's metrics, as docs/telemetry.md shows.
import http from 'node:http';
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { ExportResultCode, W3CTraceContextPropagator, type ExportResult } from '@opentelemetry/core';
import { BasicTracerProvider, BatchSpanProcessor, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { OutreachConsumer, type ConsumerHealth } from 'civitas-outreach';
import { exampleConnection } from './dev-broker.js';

// ---- telemetry: registered before the consumer starts ----------------------------------------

/** Prints one line per exported span: name, outcome, duration. Never the message: the consumer records none. */
class LineSpanExporter implements SpanExporter {
  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    for (const span of spans) {
      const [s, ns] = span.duration;
      console.log(`span ${span.name} outcome=${String(span.attributes['civitas_outreach.outcome'])} ${(s * 1e3 + ns / 1e6).toFixed(1)} ms`);
    }
    done({ code: ExportResultCode.SUCCESS });
  }
  async shutdown(): Promise<void> {}
}

propagation.setGlobalPropagator(new W3CTraceContextPropagator()); // reads a producer's traceparent
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable()); // your spans become children
const tracerProvider = new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(new LineSpanExporter(), { scheduledDelayMillis: 500 })] });
trace.setGlobalTracerProvider(tracerProvider); // the consumer uses the global providers

// ---- the consumer --------------------------------------------------------------------------

const connection = await exampleConnection(30);
/** Your CRM call; here a short wait. */
const crm = (_outreachId: string): Promise<void> => new Promise((r) => setTimeout(r, 5));
const consumer = new OutreachConsumer({ ...connection.options, prefetch: 20 });
let handled = 0;
let stopping = false;
consumer.on('connected', ({ endpoint }) => console.log(`connected to ${endpoint}`));
consumer.on('disconnected', ({ endpoint, error }) => console.warn(`lost ${endpoint}: ${error?.code ?? 'closed'}`));
consumer.on('error', (err, source) => console.warn(`[${source}] ${err.code}: ${err.message}`));
consumer.on('outage', ({ reason }) => console.warn(`sink outage: ${reason}; paused, probing`));
consumer.on('recovered', ({ durationMs }) => console.log(`sink recovered after ${durationMs} ms`));
consumer.on('drained', () => console.log(`queue drained: handled ${handled} so far; waiting for more`));

// ---- health endpoint -----------------------------------------------------------------------

/** Ready to take work: a link is open, not paused, no sink outage, not shutting down. */
const isReady = (h: ConsumerHealth): boolean => !stopping && h.state === 'open' && h.connected && !h.paused && h.outage === undefined;
/** Alive: the process should not be restarted (a failed consumer should). */
const isAlive = (h: ConsumerHealth): boolean => h.state !== 'failed';

const server = http.createServer((request, response) => {
  const health = consumer.health();
  const check = request.url === '/healthz' ? isAlive : request.url === '/readyz' ? isReady : undefined;
  if (check === undefined || request.method !== 'GET') {
    response.writeHead(404).end();
    return;
  }
  const ok = check(health);
  // The snapshot holds counts and states only: no message, no student data.
  response.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ ok, ...health }));
});
const host = process.env.HOST ?? '127.0.0.1'; // HOST=0.0.0.0 in a container, for the orchestrator's probes
await new Promise<void>((resolve) => server.listen(Number(process.env.PORT ?? 0), host, resolve));
const { port } = server.address() as { port: number };
console.log(`health endpoint on http://${host}:${port} (/healthz, /readyz)`);

// ---- graceful stop -------------------------------------------------------------------------

const shutdown = async (signal: string): Promise<void> => {
  if (stopping) return;
  stopping = true; // /readyz answers 503 from now on
  console.log(`${signal}: closing`);
  const report = await consumer.close({ deadlineMs: 20_000 });
  console.log('closed:', report);
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await tracerProvider.shutdown(); // exports the spans still batched
  await connection.stop();
  console.log('stopped');
};
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => void shutdown(signal));

await consumer.start(
  async (delivery) => {
    await crm(delivery.outreach.outreachId); // throw to retry
    handled++;
  },
  { concurrency: 4 },
);
