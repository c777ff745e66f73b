// Consumer crash: a consumer process draining 5,000 outreach into PostgreSQL is killed with
// SIGKILL at 5 random points; each time a new process carries on. Nothing may be missing;
// repeats (a batch committed but not yet accepted when the process died) may only come from the
// in-flight window, at most `prefetch` per crash, and the idempotent sink stores each once.
import { expect, it } from 'vitest';
import { expectExact, useBrokerAndSink } from './harness.js';
import { asOutgoing, ConsumerProcess, consumerSettings, distinctiveMessages, leakCheck, runId, send, sinkCounts, sinkSchema, sleep, until } from './support.js';

const TOTAL = 5_000;
const CRASHES = 5;
const PREFETCH = 100;
const env = useBrokerAndSink();

it('loses nothing when consumer processes are killed -9 at 5 random points', async () => {
  const { broker, pool } = env;
  const run = runId();
  const queue = `reliab.crash.${run}`;
  const schema = await sinkSchema(pool, `crash_${run}`);
  const messages = distinctiveMessages(TOTAL, run, 13);
  await send(broker, queue, asOutgoing(messages));
  const counts = (): ReturnType<typeof sinkCounts> => sinkCounts(pool, schema);
  // Kill points: a random count of stored outreach in each fifth of the first 4,500.
  const points = Array.from({ length: CRASHES }, (_, i) => Math.floor(i * 900 + 100 + Math.random() * 800));
  const processes: ConsumerProcess[] = [];
  /** Repeats in the sink at each kill (and at the end): the deltas are each crash's own. */
  const repeatMarks: number[] = [];
  const t0 = Date.now();
  try {
    for (const [i, point] of points.entries()) {
      const consumer = new ConsumerProcess(consumerSettings(broker, queue, schema, { name: `crash-${i}`, prefetch: PREFETCH, handlerDelayMs: 2 }));
      processes.push(consumer);
      await until(counts, (c) => c.rows >= point, `${point} stored before crash ${i + 1}`, 180_000, 50);
      await consumer.kill9();
      repeatMarks.push((await counts()).duplicates);
    }
    const last = new ConsumerProcess(consumerSettings(broker, queue, schema, { name: 'crash-final', prefetch: PREFETCH }));
    processes.push(last);
    await until(counts, (c) => c.rows >= TOTAL, `all ${TOTAL} stored`, 300_000);
    await sleep(1_000);
    repeatMarks.push((await counts()).duplicates);
    // the repeats a crash causes show up once the next process has the messages back
    const repeats = repeatMarks.slice(1).map((n, i) => n - repeatMarks[i]!);
    for (const n of repeats) expect(n).toBeLessThanOrEqual(PREFETCH);
    await expectExact(pool, schema, messages.map((m) => m.outreachId), CRASHES * PREFETCH, (r) =>
      `consumer crash: kill -9 at ${points.join(', ')} stored; ${r.rows}/${TOTAL} stored in ${Date.now() - t0} ms by ` +
        `${processes.length} processes, ${r.missing} missing, ${r.duplicates} repeats absorbed by the sink, ${repeats.join(' / ')} per crash ` +
        `(bound: prefetch ${PREFETCH} per crash)`);
    await last.stop();
    expect(last.exit?.code).toBe(0);
  } finally {
    await Promise.all(processes.map((p) => p.stop()));
  }
  expect(leakCheck('consumer crash', broker.password, processes)).toEqual([]);
});
