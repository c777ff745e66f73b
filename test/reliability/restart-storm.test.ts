// Restart storm: the broker is stopped and started 5 times while 5,000 persistent outreach drain
// into PostgreSQL. The table must end exact.
import { expect, it } from 'vitest';
import { expectExact, useBrokerAndSink } from './harness.js';
import { asOutgoing, ConsumerProcess, consumerSettings, distinctiveMessages, leakCheck, runId, send, sinkCounts, sinkSchema, sleep, until } from './support.js';

const TOTAL = 5_000;
const RESTARTS = 5;
const env = useBrokerAndSink();

it('stores 5,000 outreach exactly once through 5 broker restarts', async () => {
  const { broker, pool } = env;
  const run = runId();
  const queue = `reliab.storm.${run}`;
  const schema = await sinkSchema(pool, `storm_${run}`);
  const messages = distinctiveMessages(TOTAL, run, 11);
  await send(broker, queue, asOutgoing(messages));
  const consumer = new ConsumerProcess(consumerSettings(broker, queue, schema, { name: 'storm', handlerDelayMs: 3 }));
  const count = (): Promise<number> => sinkCounts(pool, schema).then((c) => c.rows);
  const t0 = Date.now();
  const outages: number[] = [];
  try {
    await consumer.waitFor('connected');
    for (let i = 1; i <= RESTARTS; i++) {
      const at = await until(count, (n) => n >= i * 700, `${i * 700} stored before restart ${i}`, 180_000);
      expect(at, `restart ${i} comes mid-drain`).toBeLessThan(TOTAL);
      const stoppedAt = Date.now();
      await broker.restart();
      await consumer.waitFor('first-handled', 120_000, stoppedAt);
      outages.push(Date.now() - stoppedAt);
    }
    await until(count, (n) => n >= TOTAL, `all ${TOTAL} stored`, 300_000);
    await sleep(1_000);
    await expectExact(pool, schema, messages.map((m) => m.outreachId), RESTARTS * 100, (r) =>
      `restart storm: ${RESTARTS} restarts, ${r.rows}/${TOTAL} stored in ${Date.now() - t0} ms, ${r.missing} missing, ` +
        `${r.duplicates} repeats absorbed by the sink, ${consumer.of('connected').length} connections; stop -> handling again (ms): ${outages.join(', ')}`);
    expect(consumer.exit).toBeUndefined();
  } finally {
    await consumer.stop();
  }
  expect(consumer.exit?.code).toBe(0);
  expect(leakCheck('restart storm', broker.password, [consumer])).toEqual([]);
});
