// A sink job: drain the outreach queue into PostgreSQL, in batches, losing nothing.
//
//   npm run example:postgres
//
// With no settings it runs on an embedded default: it starts a local ActiveMQ broker (AMQP over
// TLS with a password, as Amazon MQ runs it), fills a development queue with sample outreach, as
// Civitas' development queue comes with sample data, drains it into the local PostgreSQL
// (database `test`), prints what it stored, and stops.
//
// Against Civitas' queue, set CIVITAS_URL (amqp+ssl://…:5671, or both endpoints comma-separated),
// CIVITAS_USERNAME, CIVITAS_PASSWORD and CIVITAS_QUEUE; PostgreSQL from the usual PG* variables.
// It then runs until SIGINT/SIGTERM and closes without losing a message; with
// CIVITAS_EXIT_WHEN_DRAINED=1 it stops once the queue has run dry (a job for cron).
//
// The database is checked first, before any broker is started: without one it says which PG*
// variables to set and exits 1.
import { batched, LabelDriftDetector, OutreachConsumer } from 'civitas-outreach';
import { exampleConnection } from './dev-broker.js';
import { commitBatch, createOutreachTables, examplePool } from './postgres-sink.js';

const pool = await examplePool();
const { options, embedded, stop } = await exampleConnection(500);
const schema = embedded ? 'civitas_dev' : (process.env.PGSCHEMA ?? 'public');
await pool.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
if (embedded) await pool.query(`DROP TABLE IF EXISTS ${schema}.outreach_student, ${schema}.outreach`);
await createOutreachTables(pool, schema);

let stored = 0;
const drift = new LabelDriftDetector({ onDrift: (d) => console.warn(`Civitas renamed a label: ${d.valueId} "${d.previous.value}" -> "${d.current.value}"`) });
const consumer = new OutreachConsumer({
  ...options,
  prefetch: 100,
  strategy: batched({
    size: 50,
    maxWaitMs: 500,
    commit: async (batch) => {
      await commitBatch(pool, batch, schema);
      stored += batch.length;
    },
    onDeadLetter: (delivery, error) => console.error(`giving up on ${String(delivery.messageId)}:`, error),
  }),
  onInvalid: (invalid) => console.error(`undecodable message ${String(invalid.messageId)}: ${invalid.error.message}`),
});
consumer.on('error', (err, source) => console.warn(`[${source}] ${err.code}: ${err.message}`));
consumer.on('connected', ({ endpoint }) => console.log(`connected to ${endpoint}`));
consumer.on('reconnecting', ({ endpoint, delayMs }) => console.log(`reconnecting to ${endpoint} in ${delayMs} ms`));

const shutdown = async (): Promise<void> => {
  const report = await consumer.close({ deadlineMs: 20_000 });
  console.log('closed:', report);
};
process.once('SIGINT', () => void shutdown());
process.once('SIGTERM', () => void shutdown());

// The handler only checks each outreach; the batch strategy stores and accepts 50 at a time.
await consumer.start((delivery) => {
  drift.observe(delivery.outreach);
});

const runDry = embedded || process.env.CIVITAS_EXIT_WHEN_DRAINED === '1';
if (runDry) {
  // `drained`: the broker had nothing more to send and every batch is committed and accepted.
  await new Promise<void>((resolve) => consumer.once('drained', resolve));
  await shutdown();
  const { rows } = await pool.query<{ outreach: string; students: string; media: string }>(
    `SELECT (SELECT count(*) FROM ${schema}.outreach) AS outreach,
            (SELECT count(*) FROM ${schema}.outreach_student) AS students,
            (SELECT string_agg(DISTINCT medium, ', ') FROM ${schema}.outreach) AS media`,
  );
  console.log(`stored ${stored} this run; in PostgreSQL (schema ${schema}): ${rows[0]!.outreach} outreach, ${rows[0]!.students} student rows; media: ${rows[0]!.media}`);
  await stop();
  await pool.end();
}
