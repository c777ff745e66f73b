// Soak: 10 minutes at a steady rate (20 outreach a second into PostgreSQL), the broker restarted
// in the middle. The consumer process samples its heap (after a GC), RSS, and open handles and
// timers every 5 s; after a minute's warm-up none of them may grow. A speed is never asserted.
// RELIABILITY_SOAK_MS shortens the run for development (the suite's figure is 600,000).
import { expect, it } from 'vitest';
import { expectExact, useBrokerAndSink } from './harness.js';
import { asOutgoing, ConsumerProcess, consumerSettings, distinctiveMessages, leakCheck, runId, send, sinkCounts, sinkSchema, sleep, until, type Outgoing } from './support.js';

const SOAK_MS = Number(process.env.RELIABILITY_SOAK_MS ?? 600_000);
const RATE_PER_S = 20;
const SAMPLE_MS = 5_000;
const WARM_UP_MS = Math.min(60_000, SOAK_MS / 5);
const env = useBrokerAndSink();

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const mb = (bytes: number): string => (bytes / 1024 / 1024).toFixed(1);

interface Sample {
  at: number;
  heapUsed: number;
  rss: number;
  handles: number;
  timers: number;
}

it(`holds heap, RSS, handles and timers flat over ${SOAK_MS / 60_000} minutes with a broker restart in the middle`, async () => {
  const { broker, pool } = env;
  const run = runId();
  const queue = `reliab.soak.${run}`;
  const schema = await sinkSchema(pool, `soak_${run}`);
  const total = Math.round((SOAK_MS / 1000) * RATE_PER_S);
  const messages = distinctiveMessages(total, run, 31);
  const consumer = new ConsumerProcess(consumerSettings(broker, queue, schema, { name: 'soak', sampleMs: SAMPLE_MS }));
  const t0 = Date.now();
  let restartAt = 0;
  let sendFailures = 0;
  let restarting: Promise<void> | undefined;
  try {
    await consumer.waitFor('connected');
    // The producer: every second the messages due by then, kept for later if the broker is down.
    let next = 0;
    let restarted = false;
    while (next < total) {
      const due = Math.min(total, Math.floor(((Date.now() - t0) / 1000 + 1) * RATE_PER_S));
      const batch: Outgoing[] = asOutgoing(messages.slice(next, due));
      try {
        await send(broker, queue, batch);
        next = due;
      } catch {
        sendFailures++; // the broker is restarting: these go again with the next round
      }
      if (!restarted && Date.now() - t0 >= SOAK_MS / 2) {
        restarted = true;
        restartAt = Date.now() - t0;
        restarting = broker.restart();
        restarting.catch(() => undefined); // awaited below
      }
      await sleep(1_000 - ((Date.now() - t0) % 1_000));
    }
    await restarting;
    await until(() => sinkCounts(pool, schema), (c) => c.rows >= total, `all ${total} stored`, 180_000);
    await sleep(SAMPLE_MS * 2); // two more samples with the stream idle
  } finally {
    await consumer.stop();
  }
  expect(consumer.exit?.code).toBe(0);
  const sink = await expectExact(pool, schema, messages.map((m) => m.outreachId), 100, (r) =>
    `soak: ${r.rows}/${total} stored, ${r.missing} missing, ${r.duplicates} repeats (one broker restart)`);
  const samples = consumer.of('sample').map((l) => ({ ...(l as unknown as Sample), at: l.at - t0 }));
  const steady = samples.filter((s) => s.at >= WARM_UP_MS);
  const third = Math.max(1, Math.floor(steady.length / 3));
  const first = steady.slice(0, third);
  const last = steady.slice(-third);
  const figure = (key: keyof Sample): { first: number; last: number } => ({ first: median(first.map((s) => s[key])), last: median(last.map((s) => s[key])) });
  const heap = figure('heapUsed');
  const rss = figure('rss');
  const handles = { first: Math.max(...first.map((s) => s.handles)), last: Math.max(...last.map((s) => s.handles)) };
  const timers = { first: Math.max(...first.map((s) => s.timers)), last: Math.max(...last.map((s) => s.timers)) };
  const curve = samples.filter((_, i) => i % 6 === 0 || i === samples.length - 1);
  console.log(
    `[reliability] soak: ${SOAK_MS / 1000} s at ${RATE_PER_S}/s, broker restarted at ${restartAt / 1000} s (${sendFailures} producer rounds deferred); ` +
      `${sink.rows}/${total} stored; ${samples.length} samples every ${SAMPLE_MS / 1000} s\n` +
      `[reliability] soak curve (s: heap MB after GC / RSS MB / handles / timers):\n` +
      curve.map((s) => `  ${(s.at / 1000).toFixed(0).padStart(4)}: ${mb(s.heapUsed).padStart(6)} / ${mb(s.rss).padStart(6)} / ${s.handles} / ${s.timers}`).join('\n') +
      `\n[reliability] soak, after ${WARM_UP_MS / 1000} s warm-up, first third vs last third: heap median ${mb(heap.first)} -> ${mb(heap.last)} MB, ` +
      `RSS median ${mb(rss.first)} -> ${mb(rss.last)} MB, handles max ${handles.first} -> ${handles.last}, timers max ${timers.first} -> ${timers.last}`,
  );
  expect(steady.length).toBeGreaterThanOrEqual(6);
  // Tolerant rules: GC noise and allocator behaviour are not growth; a leak per message is.
  expect(heap.last).toBeLessThanOrEqual(heap.first * 1.2 + 4 * 1024 * 1024);
  expect(rss.last).toBeLessThanOrEqual(rss.first * 1.25 + 24 * 1024 * 1024);
  expect(handles.last).toBeLessThanOrEqual(handles.first + 1);
  expect(timers.last).toBeLessThanOrEqual(timers.first + 1);
  expect(leakCheck('soak', broker.password, [consumer])).toEqual([]);
});
