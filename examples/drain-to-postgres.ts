// The main job: drain the outreach queue into PostgreSQL, in batches, losing nothing.
//
//   npm start
//
// With no settings it runs on an embedded default: it starts a local ActiveMQ broker (AMQP over
// TLS with a password, as Amazon MQ runs it), fills a development queue with sample outreach, as
// Civitas' development queue comes with sample data, drains it into the local PostgreSQL
// (database `test`), prints what it stored, and stops.
//
// Against Civitas' queue, set CIVITAS_URL (amqp+ssl://…:5671, or both endpoints comma-separated),
// CIVITAS_USERNAME, CIVITAS_PASSWORD and CIVITAS_QUEUE; PostgreSQL from the usual PG* variables.
// It then runs until SIGINT/SIGTERM and closes without losing a message.
import pg from 'pg';
import { batched, LabelDriftDetector, makeOutreachMessages, OutreachConsumer, type OutreachConsumerOptions, type Outreach } from 'civitas-outreach';
import { commitBatch, createOutreachTables } from './postgres-sink.js';

const embedded = process.env.CIVITAS_URL === undefined;
const pool = new pg.Pool({
  host: process.env.PGHOST ?? '127.0.0.1',
  port: Number(process.env.PGPORT ?? 5432),
  database: process.env.PGDATABASE ?? 'test',
  user: process.env.PGUSER ?? 'postgres',
  ...(process.env.PGPASSWORD === undefined ? {} : { password: process.env.PGPASSWORD }),
});
const schema = embedded ? 'civitas_dev' : (process.env.PGSCHEMA ?? 'public');

async function connection(): Promise<{ options: Pick<OutreachConsumerOptions<Outreach>, 'url' | 'username' | 'password' | 'queue' | 'ca'>; seeded: number; stop: () => Promise<void> }> {
  if (!embedded) {
    const need = (name: string): string => {
      const value = process.env[name];
      if (value === undefined || value === '') throw new Error(`set ${name}`);
      return value;
    };
    return {
      options: { url: need('CIVITAS_URL').split(','), username: need('CIVITAS_USERNAME'), password: need('CIVITAS_PASSWORD'), queue: need('CIVITAS_QUEUE') },
      seeded: Number.POSITIVE_INFINITY,
      stop: async () => undefined,
    };
  }
  // The embedded default: a throw-away broker with a development queue of sample outreach.
  const { startBroker } = await import('../scripts/activemq.mjs');
  console.log('starting an embedded ActiveMQ broker (first run downloads it from Maven Central)…');
  const broker = await startBroker({ quiet: true });
  const queue = 'civitas.outreach.dev';
  const seeded = 500;
  const { sendSamples } = await import('./seed-dev-queue.js');
  await sendSamples(broker, queue, [...makeOutreachMessages(seeded, { seed: Date.now() % 100_000 })]);
  console.log(`development queue ${queue} holds ${seeded} sample outreach messages`);
  return {
    options: { url: broker.amqpsUrl, username: broker.username, password: broker.password, queue, ca: broker.caPem },
    seeded,
    stop: () => broker.stop(),
  };
}

const { options, seeded, stop } = await connection();
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

if (embedded) {
  while (stored < seeded) await new Promise((r) => setTimeout(r, 100));
  await shutdown();
  const { rows } = await pool.query<{ outreach: string; students: string; media: string }>(
    `SELECT (SELECT count(*) FROM ${schema}.outreach) AS outreach,
            (SELECT count(*) FROM ${schema}.outreach_student) AS students,
            (SELECT string_agg(DISTINCT medium, ', ') FROM ${schema}.outreach) AS media`,
  );
  console.log(`stored in PostgreSQL (schema ${schema}): ${rows[0]!.outreach} outreach, ${rows[0]!.students} student rows; media: ${rows[0]!.media}`);
  await stop();
  await pool.end();
}
