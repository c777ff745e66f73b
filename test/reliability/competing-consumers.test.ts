// Competing consumers: three processes on one queue, the way a user scales past one machine.
// Every outreach must be stored once, and the load spread across the three.
import { expect, it } from 'vitest';
import { expectExact, useBrokerAndSink } from './harness.js';
import { asOutgoing, ConsumerProcess, consumerSettings, distinctiveMessages, leakCheck, runId, send, sinkCounts, sinkSchema, until } from './support.js';

const TOTAL = 6_000;
const env = useBrokerAndSink();

it('three consumer processes on one queue store every outreach once and share the load', async () => {
  const { broker, pool } = env;
  const run = runId();
  const queue = `reliab.compete.${run}`;
  const schema = await sinkSchema(pool, `compete_${run}`);
  const messages = distinctiveMessages(TOTAL, run, 17);
  const processes = [0, 1, 2].map(
    (i) => new ConsumerProcess(consumerSettings(broker, queue, schema, { name: `compete-${i}`, prefetch: 50, handlerDelayMs: 1 })),
  );
  try {
    // All three attached before the first message, so none starts with the whole backlog.
    await Promise.all(processes.map((p) => p.waitFor('connected')));
    const t0 = Date.now();
    await send(broker, queue, asOutgoing(messages));
    await until(() => sinkCounts(pool, schema), (c) => c.rows >= TOTAL, `all ${TOTAL} stored`, 300_000);
    const split = processes.map((p) => p.stored);
    await expectExact(pool, schema, messages.map((m) => m.outreachId), 0, (r) =>
      `competing consumers: ${r.rows}/${TOTAL} stored in ${Date.now() - t0} ms, ${r.missing} missing, ${r.duplicates} repeats; ` +
        `split ${split.join(' / ')} (${split.map((n) => `${((100 * n) / TOTAL).toFixed(1)}%`).join(' / ')})`);
    expect(split.reduce((a, b) => a + b, 0)).toBe(TOTAL);
    // Spread: each process took a real share (a third would be 2,000).
    for (const n of split) expect(n).toBeGreaterThan(TOTAL / 10);
  } finally {
    await Promise.all(processes.map((p) => p.stop()));
  }
  for (const p of processes) expect(p.exit?.code).toBe(0);
  expect(leakCheck('competing consumers', broker.password, processes)).toEqual([]);
});
