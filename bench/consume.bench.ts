// Consumer benchmark on a real local broker (ActiveMQ over AMQP+TLS, non-persistent messages, same
// bodies for every runner, same run, rounds interleaved with the order rotated each round):
//
// - baseline A: a bare rhea receiver that only accepts (autoaccept, rhea's own credit window);
// - baseline B: a bare rhea receiver that accepts after an awaited async callback (our semantics:
//   settle after the work), no decoding;
// - baseline C: as B, but it runs JSON.parse over each body first (the part of decoding no client
//   can skip; no validation): ours against it is the cost of our engine and validation alone;
// - OutreachConsumer, event API (decode + at-least-once settle after the handler, concurrency 8);
// - OutreachConsumer, async iterator (one delivery at a time).
//
// Prints msg/s with heap and RSS next to each figure, the median / min / max throughput ratio of
// ours against each baseline, the heap held over a large backlog at two prefetch sizes, and the
// time from publish to handler (p50 / p99) at a steady publish rate.
// Run: npm run bench:consume   (BENCH_MESSAGES, BENCH_ROUNDS, BENCH_WARMUP_ROUNDS, BENCH_RATE, BENCH_LATENCY_SECONDS, BENCH_BIG_BACKLOG)
import { randomUUID } from 'node:crypto';
import type { Connection } from 'rhea';
import { startBroker, type BrokerHandle } from '../scripts/activemq.mjs';
// The consumer as users run it: the built package (tsx's transform of src/ adds a naming call to
// every closure it creates, which the build does not).
// Typed from src/, loaded from dist/ (`npm run bench:consume` builds first).
import { makeOutreachMessage, makeOutreachMessages } from '../src/testing/index.js';
import type * as Api from '../src/index.js';

const built = '../dist/index.js';
const { OutreachConsumer, DEFAULT_MAX_HELD_BYTES, DEFAULT_PREFETCH } = (await import(built)) as typeof Api;
type OutreachConsumer = InstanceType<typeof OutreachConsumer>;
// BENCH_COMPARE_DIST=/path/to/other/checkout/dist/index.js adds that build's event API as a runner
// of the same rounds (before/after a change, on the same broker and machine load).
const compareDist = process.env.BENCH_COMPARE_DIST;
const Compared = compareDist === undefined ? undefined : ((await import(compareDist)) as typeof Api).OutreachConsumer;
import { sendBodies } from '../examples/seed-dev-queue.js';
import { brokerOptions, groupCpuMs, record, rheaConnect as connect, spread, timedDrain } from './support.js';

const messages = Number(process.env.BENCH_MESSAGES ?? 20_000);
const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
/** Untimed rounds first: the broker's and Node's JIT warm up on them, not on the first runner timed. */
const warmupRounds = Number(process.env.BENCH_WARMUP_ROUNDS ?? 1);
const rate = Number(process.env.BENCH_RATE ?? 500);
const latencySeconds = Number(process.env.BENCH_LATENCY_SECONDS ?? 10);
const latencyWarmupSeconds = Number(process.env.BENCH_LATENCY_WARMUP_SECONDS ?? 2);
const prefetch = 100;
const bodies = [...makeOutreachMessages(messages, { seed: 5 })].map((m) => JSON.stringify(m));

interface Figure {
  readonly ms: number;
  readonly heapMB: number;
  readonly rssMB: number;
  /** CPU per message in this process and in the broker's, µs (what limits the pace on a small machine). */
  readonly cpuUs: number;
  readonly brokerCpuUs: number;
}

type Runner = (broker: BrokerHandle, queue: string) => Promise<number>;

/**
 * A bare rhea receiver; `asyncAccept` settles after an awaited callback, else rhea accepts on
 * arrival; `parse` runs JSON.parse over the body first.
 */
function bareRhea(asyncAccept: boolean, parse = false): Runner {
  return async (broker, queue) => {
    const connection = connect(broker);
    const started = performance.now();
    await new Promise<void>((resolve, reject) => {
      let got = 0;
      const receiver = connection.open_receiver({ source: { address: queue }, credit_window: prefetch, autoaccept: !asyncAccept });
      const done = (): void => {
        if (++got === messages) {
          connection.close();
          resolve();
        }
      };
      receiver.on('message', (ctx) => {
        if (parse && typeof JSON.parse(ctx.message!.body as string) !== 'object') throw new Error('not an object');
        if (!asyncAccept) return done();
        void Promise.resolve().then(() => {
          ctx.delivery!.accept();
          done();
        });
      });
      connection.on('disconnected', (ctx) => (got < messages ? reject(ctx.error as Error) : undefined));
    });
    return performance.now() - started;
  };
}

/**
 * Telemetry off, as for a user without `@opentelemetry/api` (this repository has it as a dev
 * dependency, which would turn it on); its cost is what `npm run bench:telemetry` measures.
 */
function consumerFor(broker: BrokerHandle, queue: string, prefetchSize = prefetch): OutreachConsumer {
  return new OutreachConsumer({ ...brokerOptions(broker, queue), prefetch: prefetchSize, telemetry: false });
}

const eventApi: Runner = (broker, queue) => timedDrain(consumerFor(broker, queue), messages);

const comparedEventApi = (Other: typeof OutreachConsumer): Runner => (broker, queue) =>
  timedDrain(new Other({ ...brokerOptions(broker, queue), prefetch, telemetry: false }), messages);

const iterator: Runner = async (broker, queue) => {
  const consumer = consumerFor(broker, queue);
  let got = 0;
  const started = performance.now();
  let ms = 0;
  for await (const delivery of consumer) {
    void delivery;
    if (++got === messages) {
      ms = performance.now() - started;
      // close() from outside the loop body: the loop then asks for the next one, which accepts this one.
      setImmediate(() => void consumer.close());
    }
  }
  const report = await consumer.close();
  if (report.accepted !== messages) throw new Error(`accepted ${report.accepted} of ${messages}`);
  return ms;
};

/** Heap in use after full collections (needs --expose-gc). */
async function settledHeap(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    globalThis.gc?.();
    await new Promise((r) => setImmediate(r));
  }
  return process.memoryUsage().heapUsed;
}

async function measure(run: Runner, broker: BrokerHandle, queue: string): Promise<Figure> {
  await settledHeap();
  let peakHeap = 0;
  let peakRss = 0;
  const sampler = setInterval(() => {
    const m = process.memoryUsage();
    peakHeap = Math.max(peakHeap, m.heapUsed);
    peakRss = Math.max(peakRss, m.rss);
  }, 20);
  const cpu = process.cpuUsage();
  const brokerCpu = groupCpuMs(broker.pid);
  try {
    const ms = await run(broker, queue);
    const used = process.cpuUsage(cpu);
    const perMessage = (msTotal: number): number => (msTotal * 1000) / messages;
    return {
      ms, heapMB: peakHeap / 1e6, rssMB: peakRss / 1e6,
      cpuUs: perMessage((used.user + used.system) / 1000), brokerCpuUs: perMessage(groupCpuMs(broker.pid) - brokerCpu),
    };
  } finally {
    clearInterval(sampler);
  }
}

/** Heap growth while a consumer holds all it may over a large backlog (garbage collected first). */
async function heldHeap(broker: BrokerHandle, queue: string, prefetchSize: number): Promise<number> {
  const before = await settledHeap();
  const consumer = consumerFor(broker, queue, prefetchSize);
  let release!: () => void;
  const stuck = new Promise<void>((r) => (release = r));
  await consumer.start(async () => {
    await stuck; // a handler that never finishes: everything granted stays held
  });
  while (consumer.health().held < prefetchSize) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 300));
  const grown = (await settledHeap()) - before;
  release();
  await consumer.close();
  return grown;
}

/** Students in the big-message rows: a campaign to a whole campus. */
const campaignStudents = 40_000;

/**
 * A backlog of campaign-sized messages, the defaults but for `maxHeldBytes`, and a handler that
 * never finishes: how many are held, and heap and RSS growth per held message over its body.
 */
async function bigHeld(
  broker: BrokerHandle, queue: string, body: string, maxHeldBytes: number | undefined,
): Promise<{ held: number; heldBytes: number; heapPerBody: number; rssPerBody: number }> {
  const budget = maxHeldBytes ?? DEFAULT_MAX_HELD_BYTES;
  const backlog = Number(process.env.BENCH_BIG_BACKLOG ?? 12);
  await sendBodies(broker, queue, Array.from({ length: backlog }, (_, i) => body.replace('"outreachId":"', `"outreachId":"${i}-`)));
  await settledHeap();
  const rssBefore = process.memoryUsage().rss;
  const consumer = new OutreachConsumer({ ...brokerOptions(broker, queue), telemetry: false, ...(maxHeldBytes === undefined ? {} : { maxHeldBytes }) });
  let release!: () => void;
  const stuck = new Promise<void>((r) => (release = r));
  let peakRss = rssBefore;
  let handled = 0;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 20);
  await consumer.start(async () => {
    await stuck;
    handled++;
  });
  const fits = Math.max(1, Math.floor(budget / body.length));
  // Until all that fit are held, or the broker sends no more (its memory limits can hold some back).
  const until = Date.now() + 30_000;
  while (consumer.health().held < Math.min(fits, backlog) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 1000));
  const { held, heldBytes } = consumer.health();
  const heapHeld = await settledHeap();
  clearInterval(sampler);
  // Drain the rest, so the broker's heap does not keep the backlog.
  release();
  const drained = Date.now() + 60_000;
  while (handled < backlog && Date.now() < drained) await new Promise((r) => setTimeout(r, 20));
  await consumer.close();
  // The baseline is after: what the send left behind is collected by then as well.
  await new Promise((r) => setTimeout(r, 500));
  const heap = heapHeld - (await settledHeap());
  return { held, heldBytes, heapPerBody: heap / held / body.length, rssPerBody: (peakRss - rssBefore) / held / body.length };
}

interface Latency {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly count: number;
}

/**
 * Publishes at a steady rate with the send time in an application property; the receiver reads it
 * when the message reaches the handler (`ours`) or rhea's message event after JSON.parse (the
 * baseline). The first `latencyWarmupSeconds` are sent but not counted (both runners alike): the
 * broker's and Node's JIT warm up on them.
 */
async function latency(broker: BrokerHandle, runner: 'ours' | 'rhea'): Promise<Latency> {
  const queue = `bench.latency.${runner}.${randomUUID().slice(0, 8)}`;
  const delays: number[] = [];
  const warmup = Math.round(rate * latencyWarmupSeconds);
  const total = warmup + Math.round(rate * latencySeconds);
  let seen = 0;
  const note = (sentAt: unknown): void => {
    if (typeof sentAt === 'number' && seen++ >= warmup) delays.push(performance.timeOrigin + performance.now() - sentAt);
  };
  let consumer: OutreachConsumer | undefined;
  let bare: Connection | undefined;
  if (runner === 'ours') {
    consumer = consumerFor(broker, queue);
    await consumer.start((delivery) => note(delivery.applicationProperties['sentAt']));
  } else {
    bare = connect(broker);
    const receiver = bare.open_receiver({ source: { address: queue }, credit_window: prefetch, autoaccept: true });
    receiver.on('message', (ctx) => {
      JSON.parse(ctx.message!.body as string);
      note(ctx.message!.application_properties?.['sentAt']);
    });
    await new Promise<void>((r) => receiver.once('receiver_open', () => r()));
  }
  const connection = connect(broker);
  const sender = connection.open_sender({ target: { address: queue } });
  await new Promise<void>((r) => sender.once('sendable', () => r()));
  const started = performance.now();
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    sender.send({ body: bodies[i % bodies.length]!, durable: false, application_properties: { sentAt: performance.timeOrigin + performance.now() } });
  }
  while (seen < total) await new Promise((r) => setTimeout(r, 20));
  connection.close();
  bare?.close();
  await consumer?.close();
  delays.sort((a, b) => a - b);
  const at = (q: number): number => delays[Math.min(delays.length - 1, Math.floor(q * delays.length))]!;
  return { p50: at(0.5), p99: at(0.99), max: delays.at(-1)!, count: delays.length };
}

const stats = (xs: number[]): string => {
  const s = [...xs].sort((a, b) => a - b);
  return `median ${s[Math.floor(s.length / 2)]!.toFixed(2)} (min ${s[0]!.toFixed(2)}, max ${s.at(-1)!.toFixed(2)})`;
};

const broker = await startBroker({ quiet: true, persistent: false });
try {
  if (typeof globalThis.gc !== 'function') console.log('(run with --expose-gc for settled heap figures)');
  const runners: [string, Runner][] = [
    ['rhea accept-only', bareRhea(false)],
    ['rhea async accept', bareRhea(true)],
    ['rhea parse + async accept', bareRhea(true, true)],
    ['ours, event API', eventApi],
    ['ours, iterator', iterator],
    ...(Compared === undefined ? [] : [['compared build, event API', comparedEventApi(Compared)] as [string, Runner]]),
  ];
  const vsCompared: number[] = [];
  const ratios = { eventVsA: [] as number[], eventVsB: [] as number[], eventVsC: [] as number[], iterVsA: [] as number[], iterVsB: [] as number[] };
  for (let round = -warmupRounds; round < rounds; round++) {
    const figures = new Map<string, Figure>();
    for (let k = 0; k < runners.length; k++) {
      const [name, run] = runners[(k + Math.max(round, 0)) % runners.length]!;
      const queue = `bench.${round}.${name.replace(/\W+/g, '-')}`;
      await sendBodies(broker, queue, bodies, { durable: false });
      figures.set(name, await measure(run, broker, queue));
    }
    if (round < 0) {
      console.log(`warm-up round (not counted): ${runners.map(([name]) => `${name} ${Math.round((messages / figures.get(name)!.ms) * 1000)} msg/s`).join(' | ')}`);
      continue;
    }
    for (const [name] of runners) {
      const f = figures.get(name)!;
      record('consume', name, { round: round + 1, msgPerSec: (messages / f.ms) * 1000, heapMB: f.heapMB, rssMB: f.rssMB, cpuUs: f.cpuUs, brokerCpuUs: f.brokerCpuUs });
    }
    const line = runners
      .map(([name]) => {
        const f = figures.get(name)!;
        return `${name} ${Math.round((messages / f.ms) * 1000)} msg/s (heap ${f.heapMB.toFixed(0)} MB, rss ${f.rssMB.toFixed(0)} MB, cpu ${f.cpuUs.toFixed(0)} µs/msg, broker ${f.brokerCpuUs.toFixed(0)} µs/msg)`;
      })
      .join(' | ');
    const ms = (name: string): number => figures.get(name)!.ms;
    ratios.eventVsA.push(ms('rhea accept-only') / ms('ours, event API'));
    ratios.eventVsB.push(ms('rhea async accept') / ms('ours, event API'));
    ratios.eventVsC.push(ms('rhea parse + async accept') / ms('ours, event API'));
    ratios.iterVsA.push(ms('rhea accept-only') / ms('ours, iterator'));
    ratios.iterVsB.push(ms('rhea async accept') / ms('ours, iterator'));
    if (Compared !== undefined) vsCompared.push(ms('compared build, event API') / ms('ours, event API'));
    console.log(`round ${round + 1}:\n  ${line.replaceAll(' | ', '\n  ')}`);
  }
  const size = Math.round(bodies.reduce((n, s) => n + s.length, 0) / bodies.length);
  console.log(`${messages} messages of ~${size} B, prefetch ${prefetch}, ${rounds} rounds, telemetry off; throughput ratio ours / baseline:`);
  console.log(`  event API vs rhea accept-only: ${stats(ratios.eventVsA)}   <- the goal: median >= 0.95`);
  console.log(`  event API vs rhea async accept: ${stats(ratios.eventVsB)}`);
  console.log(`  event API vs rhea parse + async accept: ${stats(ratios.eventVsC)}   <- the same JSON.parse in both: our engine and validation`);
  console.log(`  iterator vs rhea accept-only: ${stats(ratios.iterVsA)}`);
  console.log(`  iterator vs rhea async accept: ${stats(ratios.iterVsB)}`);
  record('consume', 'ratio event API / rhea accept-only', { ...spread(ratios.eventVsA), goal: 0.95, messages, rounds, prefetch });
  record('consume', 'ratio event API / rhea async accept', spread(ratios.eventVsB));
  record('consume', 'ratio event API / rhea parse + async accept', spread(ratios.eventVsC));
  record('consume', 'ratio iterator / rhea accept-only', spread(ratios.iterVsA));
  record('consume', 'ratio iterator / rhea async accept', spread(ratios.iterVsB));
  if (Compared !== undefined) {
    console.log(`  event API vs the compared build's (${compareDist}): ${stats(vsCompared)}`);
    record('consume', 'ratio event API / compared build', { ...spread(vsCompared), compared: compareDist });
  }
  // BENCH_THROUGHPUT_ONLY=1: the rounds above only (no latency, no memory).
  if (process.env.BENCH_THROUGHPUT_ONLY !== '1') {

    // Ours and the bare receiver (JSON.parse, accept on arrival) alternately, twice each: the same
    // broker, rate and bodies, so the baseline shows what the machine adds.
    const lat: Record<'ours' | 'rhea', Latency[]> = { ours: [], rhea: [] };
    for (const runner of ['rhea', 'ours', 'ours', 'rhea'] as const) lat[runner].push(await latency(broker, runner));
    for (const runner of ['ours', 'rhea'] as const) {
      const ls = lat[runner];
      const name = runner === 'ours' ? 'ours, event API' : 'rhea parse + accept';
      for (const l of ls) record('consume', 'latency', { runner: name, rate, seconds: latencySeconds, warmupSeconds: latencyWarmupSeconds, ...l, goalP99Ms: 10 });
      console.log(
        `publish to ${runner === 'ours' ? 'handler' : 'message event'} at ${rate} msg/s, ${latencySeconds} s after ${latencyWarmupSeconds} s of warm-up, ${name}: ` +
          ls.map((l) => `p50 ${l.p50.toFixed(2)} ms, p99 ${l.p99.toFixed(2)} ms, max ${l.max.toFixed(1)} ms`).join(' | ') +
          (runner === 'ours' ? '   (goal: p99 < 10 ms)' : ''),
      );
    }

    // Memory with everything held that may be: by prefetch, not by the backlog behind it. The
    // backlog lives on a persistent broker of its own (KahaDB): a non-persistent one past the
    // broker's memory limit blocks its producer.
    const backlogs = (process.env.BENCH_BACKLOGS ?? '10000,100000').split(',').map(Number);
    const store = await startBroker({ quiet: true });
    try {
      for (const [i, backlog] of backlogs.entries()) {
        for (let sent = 0; sent < backlog; sent += bodies.length) {
          await sendBodies(store, `bench.mem.${i}`, bodies.slice(0, Math.min(bodies.length, backlog - sent)), { durable: true });
        }
      }
      await new Promise((r) => setTimeout(r, 2000)); // let the producer's connection and buffers go
      for (const [i, backlog] of backlogs.entries()) {
        const held = await heldHeap(store, `bench.mem.${i}`, 1000);
        const rss = process.memoryUsage().rss;
        record('consume', 'memory held', { backlog, prefetch: 1000, heapMB: held / 1e6, rssMB: rss / 1e6 });
        console.log(
          `heap held with a stuck handler over a ${backlog}-message backlog at prefetch 1000: ${(held / 1e6).toFixed(1)} MB ` +
            `(~${(held / 1000 / 1e3).toFixed(1)} KB per held message; rss ${(rss / 1e6).toFixed(0)} MB)`,
        );
      }
    } finally {
      await store.stop();
    }
    console.log('memory is bounded by prefetch, not by the backlog: the same at each backlog size');

    // Campaign-sized bodies (40,000 students, ~6.3 MB): held by bytes (maxHeldBytes), not by
    // prefetch; memory per held message against its body.
    const campaign = JSON.stringify(makeOutreachMessage({ seed: 5, students: campaignStudents }));
    for (const maxHeldBytes of [undefined, 128 * 1024 * 1024]) {
      const big = await bigHeld(broker, `bench.big.${maxHeldBytes ?? 'default'}`, campaign, maxHeldBytes);
      record('consume', 'big messages held', { students: campaignStudents, prefetch: DEFAULT_PREFETCH, bodyMB: campaign.length / 1e6, maxHeldMB: (maxHeldBytes ?? DEFAULT_MAX_HELD_BYTES) / 1e6, ...big });
      console.log(
        `${campaignStudents}-student campaigns of ${(campaign.length / 1e6).toFixed(2)} MB, maxHeldBytes ${((maxHeldBytes ?? DEFAULT_MAX_HELD_BYTES) / 2 ** 20).toFixed(0)} MiB, prefetch ${DEFAULT_PREFETCH}: ` +
          `${big.held} held (${(big.heldBytes / 1e6).toFixed(1)} MB of bodies); heap per held message ${big.heapPerBody.toFixed(2)}x the body, RSS ${big.rssPerBody.toFixed(2)}x (goal <= 1.5x)`,
      );
    }
  }
} finally {
  await broker.stop();
}
