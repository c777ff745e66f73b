// Consumer benchmark on a real local broker: messages per second drained by OutreachConsumer
// (decode + at-least-once settle after the handler) against a bare rhea receiver that only
// accepts (the baseline), same broker, same bodies, same run, rounds interleaved. Prints the
// ratio, and the heap held by a consumer over a large backlog at two prefetch sizes.
// Run: npm run bench:consume   (BENCH_MESSAGES, BENCH_ROUNDS to change the size)
import { randomUUID } from 'node:crypto';
import rhea from 'rhea';
import { startBroker, type BrokerHandle } from '../scripts/activemq.mjs';
import { makeOutreachMessages, OutreachConsumer } from '../src/index.js';
import { sendSamples } from '../examples/seed-dev-queue.js';

const messages = Number(process.env.BENCH_MESSAGES ?? 3000);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const prefetch = 100;
const samples = [...makeOutreachMessages(messages, { seed: 5 })];

async function baseline(broker: BrokerHandle, queue: string): Promise<number> {
  const container = rhea.create_container({ id: `bench-${randomUUID()}` });
  const started = performance.now();
  await new Promise<void>((resolve, reject) => {
    const connection = container.connect({
      host: '127.0.0.1', port: broker.amqpsPort, transport: 'tls', ca: broker.caPem, servername: '',
      username: broker.username, password: broker.password, reconnect: false,
    } as Parameters<typeof container.connect>[0]);
    let got = 0;
    const receiver = connection.open_receiver({ source: { address: queue }, credit_window: prefetch, autoaccept: true });
    receiver.on('message', () => {
      if (++got === messages) {
        connection.close();
        resolve();
      }
    });
    connection.on('disconnected', (ctx) => (got < messages ? reject(ctx.error as Error) : undefined));
  });
  return performance.now() - started;
}

async function ours(broker: BrokerHandle, queue: string): Promise<number> {
  const consumer = new OutreachConsumer({ url: broker.amqpsUrl, username: broker.username, password: broker.password, queue, ca: broker.caPem, prefetch });
  let got = 0;
  const started = performance.now();
  await consumer.start(() => {
    got++;
  }, { concurrency: 8 });
  while (got < messages) await new Promise((r) => setImmediate(r));
  const report = await consumer.close();
  if (report.accepted !== messages) throw new Error(`accepted ${report.accepted} of ${messages}`);
  return performance.now() - started;
}

/** Heap in use after full collections (needs --expose-gc). */
async function settledHeap(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    globalThis.gc?.();
    await new Promise((r) => setImmediate(r));
  }
  return process.memoryUsage().heapUsed;
}

/** Heap growth while a consumer holds all it may over a large backlog (garbage collected first). */
async function heldHeap(broker: BrokerHandle, queue: string, prefetchSize: number): Promise<number> {
  const before = await settledHeap();
  const consumer = new OutreachConsumer({ url: broker.amqpsUrl, username: broker.username, password: broker.password, queue, ca: broker.caPem, prefetch: prefetchSize });
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

const broker = await startBroker({ quiet: true, persistent: false });
try {
  const bodies = samples.map((m) => JSON.stringify(m));
  const ratios: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const a = `bench.base.${round}`;
    const b = `bench.ours.${round}`;
    await sendSamples(broker, a, samples);
    await sendSamples(broker, b, samples);
    const [first, second] = round % 2 === 0 ? [() => baseline(broker, a), () => ours(broker, b)] : [() => ours(broker, b), () => baseline(broker, a)];
    const t1 = await first();
    const t2 = await second();
    const [base, mine] = round % 2 === 0 ? [t1, t2] : [t2, t1];
    ratios.push(base / mine);
    console.log(`round ${round + 1}: rhea accept-only ${Math.round((messages / base) * 1000)} msg/s | OutreachConsumer ${Math.round((messages / mine) * 1000)} msg/s | throughput ratio ours/baseline ${(base / mine).toFixed(2)}`);
  }
  ratios.sort((x, y) => x - y);
  console.log(`median throughput ratio OutreachConsumer / bare rhea: ${ratios[Math.floor(ratios.length / 2)]!.toFixed(2)} (${messages} messages of ~${Math.round(bodies.reduce((n, s) => n + s.length, 0) / bodies.length)} B, prefetch ${prefetch})`);

  const backlog = 5000;
  await sendSamples(broker, 'bench.mem.a', [...makeOutreachMessages(backlog, { seed: 9 })]);
  await sendSamples(broker, 'bench.mem.b', [...makeOutreachMessages(backlog, { seed: 9 })]);
  await new Promise((r) => setTimeout(r, 2000)); // let the producer's connection and buffers go
  if (typeof globalThis.gc !== 'function') console.log('(run with --expose-gc for heap figures)');
  const small = await heldHeap(broker, 'bench.mem.a', 10);
  const large = await heldHeap(broker, 'bench.mem.b', 1000);
  const perMessage = large / 1000;
  console.log(
    `heap held over a ${backlog}-message backlog with a stuck handler: prefetch 10 -> ${(small / 1e6).toFixed(1)} MB, ` +
      `prefetch 1000 -> ${(large / 1e6).toFixed(1)} MB (~${(perMessage / 1e3).toFixed(1)} KB per held message; ` +
      `holding the whole backlog would take ~${((perMessage * backlog) / 1e6).toFixed(0)} MB): bounded by prefetch, not by the backlog`,
  );
} finally {
  await broker.stop();
}
