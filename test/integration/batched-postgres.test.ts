// The batched strategy with the real PostgreSQL on this machine as the sink: deliveries are
// accepted only after the transaction commits; a failed commit rolls back and the batch comes
// back; nothing is lost and nothing is stored twice.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { batched, OutreachConsumer, type SettleOutcome } from '../../src/index.js';
import { makeOutreachMessages } from '../../src/testing/index.js';
import { commitBatch, createOutreachTables } from '../../examples/postgres-sink.js';
import { consumerOptions, expectQueueSize, sendAmqp, sharedBroker, uniqueQueue, waitFor } from './support.js';

const broker = sharedBroker();
const pool = new pg.Pool({ host: '127.0.0.1', port: 5432, database: 'test', user: 'postgres', max: 4 });
const schema = `batched_${process.pid}`;

beforeAll(async () => {
  await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE; CREATE SCHEMA ${schema}`);
  await createOutreachTables(pool, schema);
});
afterAll(async () => {
  await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await pool.end();
});

async function stored(): Promise<{ outreach: number; students: number; maxReceived: number }> {
  const { rows } = await pool.query<{ outreach: string; students: string; max: number | null }>(
    `SELECT (SELECT count(*) FROM ${schema}.outreach) AS outreach, (SELECT count(*) FROM ${schema}.outreach_student) AS students,
            (SELECT max(received_count) FROM ${schema}.outreach) AS max`,
  );
  return { outreach: Number(rows[0]!.outreach), students: Number(rows[0]!.students), maxReceived: rows[0]!.max ?? 0 };
}

describe('batched into PostgreSQL', () => {
  it('commits batches of at most `size`, accepts after COMMIT, and survives a failed commit', async () => {
    await pool.query(`TRUNCATE ${schema}.outreach_student, ${schema}.outreach`);
    const queue = uniqueQueue('batched');
    const messages = [...makeOutreachMessages(120, { seed: 51, students: 2 })];
    await sendAmqp(broker, queue, messages.map((m) => JSON.stringify(m)));
    const batchSizes: number[] = [];
    let failNext = true;
    const outcomes: SettleOutcome[] = [];
    const consumer = new OutreachConsumer(
      consumerOptions(broker, queue, {
        prefetch: 40,
        strategy: batched({
          size: 25,
          maxWaitMs: 200,
          retryDelayMs: 50,
          commit: async (batch) => {
            batchSizes.push(batch.length);
            if (failNext) {
              failNext = false;
              // A real failure inside the transaction: PostgreSQL rolls the whole batch back.
              const client = await pool.connect();
              try {
                await client.query('BEGIN');
                await client.query(`INSERT INTO ${schema}.outreach (outreach_id, source, medium, created_at, created_at_utc, properties) VALUES ('partial', 's', 'm', 'x', now(), '[]')`);
                await client.query('SELECT 1 / 0');
              } catch (error) {
                await client.query('ROLLBACK');
                throw error;
              } finally {
                client.release();
              }
            }
            await commitBatch(pool, batch, schema);
          },
        }),
      }),
    );
    consumer.on('settled', (_d, outcome) => outcomes.push(outcome));
    const errors: string[] = [];
    consumer.on('error', (err, source) => errors.push(`${source}:${err.code}`));
    let outages = 0;
    let recoveries = 0;
    consumer.on('outage', () => outages++);
    consumer.on('recovered', () => recoveries++);
    await consumer.start(() => undefined, { concurrency: 4 });
    await waitFor(async () => (await stored()).outreach === messages.length, 'every outreach stored');
    const report = await consumer.close();

    expect(Math.max(...batchSizes)).toBeLessThanOrEqual(25);
    expect(errors).toContain('handler:HANDLER_FAILED');
    // A failed commit of 25 different messages is an outage, not 25 failures of their own: the
    // batch is handed back with its attempts not spent, and a probe resumes the flow.
    expect(outcomes.filter((o) => o === 'retried')).toHaveLength(0);
    expect(outcomes.filter((o) => o === 'released').length).toBeGreaterThanOrEqual(batchSizes[0]!);
    expect([outages, recoveries]).toEqual([1, 1]);
    expect(report.accepted).toBe(messages.length);
    const result = await stored();
    expect(result.outreach).toBe(messages.length);
    expect(result.students).toBe(messages.length * 2);
    expect(result.maxReceived).toBe(1); // the rolled-back attempt left no trace
    const partial = await pool.query(`SELECT 1 FROM ${schema}.outreach WHERE outreach_id = 'partial'`);
    expect(partial.rowCount).toBe(0);
    await expectQueueSize(broker, queue, 0);
  });

  it('with outage handling off, retries each delivery of a failed commit (counted)', async () => {
    await pool.query(`TRUNCATE ${schema}.outreach_student, ${schema}.outreach`);
    const queue = uniqueQueue('batched-no-outage');
    const messages = [...makeOutreachMessages(30, { seed: 53 })];
    await sendAmqp(broker, queue, messages.map((m) => JSON.stringify(m)));
    let failNext = true;
    const batchSizes: number[] = [];
    const outcomes: SettleOutcome[] = [];
    const consumer = new OutreachConsumer(
      consumerOptions(broker, queue, {
        prefetch: 30,
        outage: false,
        strategy: batched({
          size: 10,
          maxWaitMs: 200,
          retryDelayMs: 50,
          commit: async (batch) => {
            batchSizes.push(batch.length);
            if (failNext) {
              failNext = false;
              throw new Error('commit failed');
            }
            await commitBatch(pool, batch, schema);
          },
        }),
      }),
    );
    consumer.on('settled', (_d, outcome) => outcomes.push(outcome));
    consumer.on('error', () => undefined);
    await consumer.start(() => undefined, { concurrency: 4 });
    await waitFor(async () => (await stored()).outreach === messages.length, 'every outreach stored');
    await consumer.close();
    expect(outcomes.filter((o) => o === 'retried')).toHaveLength(batchSizes[0]!);
    expect(outcomes.filter((o) => o === 'released')).toHaveLength(0);
  });

  it('flushes the last partial batch on close', async () => {
    await pool.query(`TRUNCATE ${schema}.outreach_student, ${schema}.outreach`);
    const queue = uniqueQueue('batched-close');
    const messages = [...makeOutreachMessages(7, { seed: 52 })];
    await sendAmqp(broker, queue, messages.map((m) => JSON.stringify(m)));
    let handled = 0;
    const consumer = new OutreachConsumer(
      consumerOptions(broker, queue, {
        prefetch: 20,
        strategy: batched({ size: 20, maxWaitMs: 600_000, commit: (batch) => commitBatch(pool, batch, schema) }),
      }),
    );
    await consumer.start(() => {
      handled++;
    });
    await waitFor(() => handled === 7, 'seven handled');
    expect((await stored()).outreach).toBe(0); // waiting for a full batch
    const report = await consumer.close();
    expect(report.accepted).toBe(7);
    expect((await stored()).outreach).toBe(7);
    await expectQueueSize(broker, queue, 0);
  });

  it('refuses a batch larger than prefetch', () => {
    expect(
      () => new OutreachConsumer(consumerOptions(broker, uniqueQueue(), { prefetch: 10, strategy: batched({ size: 11, commit: async () => undefined }) })),
    ).toThrowError(expect.objectContaining({ code: 'INVALID_ARGUMENT' }) as Error);
  });
});
