// Undecodable messages into a PostgreSQL quarantine table, good ones into the sink
// (examples/postgres-sink.ts). The
// `onInvalid` hook stores each broken message (its bytes as they arrived, the decode error's kind
// and issues, message id, delivery count); only after the row is committed is the message settled,
// and with `invalidPolicy: 'accept'` it is then deleted from the queue: the quarantine table is its
// copy (rejected, it would go to the broker's dead-letter queue, which on Amazon MQ only Civitas
// can read). If the quarantine insert fails, the consumer retries the message instead.
//
//   npm run example:quarantine
//
// Embedded default: starts a local ActiveMQ broker, puts 40 sample outreach and the broken shapes
// of civitas-outreach/testing (truncated JSON, not UTF-8, a wrong type, too large, ...) on the
// queue, drains it into the local PostgreSQL (database `test`, schema `civitas_quarantine_dev`),
// prints the quarantine rows and stops. Against Civitas' queue (CIVITAS_URL & co., PG* variables,
// PGSCHEMA) it runs until SIGINT/SIGTERM.
import type { Pool } from 'pg';
import { OutreachConsumer, type InvalidMessage } from 'civitas-outreach';
import { invalidOutreachCases } from 'civitas-outreach/testing';
import { exampleConnection } from './dev-broker.js';
import { commitBatch, createOutreachTables, examplePool } from './postgres-sink.js';
import { rawBodyBytes } from './raw-body.js';

/** Creates the quarantine table if it does not exist. */
async function createQuarantineTable(pool: Pool, schema: string): Promise<void> {
  await pool.query(`
    CREATE TABLE IF NOT EXISTS ${schema}.outreach_quarantine (
      id             bigserial PRIMARY KEY,
      message_id     text UNIQUE,            -- a redelivered message is stored once
      received_at    timestamptz NOT NULL,
      delivery_count integer NOT NULL,
      error_kind     text NOT NULL,          -- not-json, too-large, wrong-shape, unsupported-body
      error_message  text NOT NULL,          -- paths and types, never student data
      issues         jsonb NOT NULL,         -- [{ path, expected, actual }], at most 100
      body           bytea,                  -- as it arrived; holds student data
      body_note      text                    -- for a body that is not text or bytes
    )`);
}

/** The `onInvalid` hook: one row per undecodable message; resolves once it is committed. */
async function quarantine(pool: Pool, schema: string, invalid: InvalidMessage): Promise<void> {
  const bytes = rawBodyBytes(invalid.body);
  await pool.query(
    `INSERT INTO ${schema}.outreach_quarantine
       (message_id, received_at, delivery_count, error_kind, error_message, issues, body, body_note)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (message_id) DO NOTHING`,
    [
      invalid.messageId === undefined ? null : String(invalid.messageId),
      invalid.receivedAt,
      invalid.deliveryCount,
      invalid.error.kind,
      invalid.error.message,
      JSON.stringify(invalid.error.issues),
      bytes ?? null,
      bytes === undefined ? `AMQP value of type ${typeof invalid.body}` : null,
    ],
  );
}

const pool = await examplePool();
const connection = await exampleConnection(40);
const schema = connection.embedded ? 'civitas_quarantine_dev' : (process.env.PGSCHEMA ?? 'public');
await pool.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
if (connection.embedded) await pool.query(`DROP TABLE IF EXISTS ${schema}.outreach_quarantine, ${schema}.outreach_student, ${schema}.outreach`);
await createOutreachTables(pool, schema);
await createQuarantineTable(pool, schema);

// Bodies over 1 MiB are refused undecoded (`too-large`); the default cap is 16 MiB.
const maxBodyBytes = 1024 * 1024;
// Each broken shape that is text or bytes (the dev queue can also send an AMQP number: not over this sender).
const broken = invalidOutreachCases({ maxBodyBytes, seed: 7 }).filter((c) => typeof c.message === 'string' || c.message instanceof Uint8Array);
await connection.publish?.(broken.map((c) => (typeof c.message === 'string' ? c.message : Buffer.from(c.message as Uint8Array))));
if (connection.publish !== undefined) console.log(`and ${broken.length} broken messages: ${broken.map((c) => c.kind).join(', ')}`);

let stored = 0;
const consumer = new OutreachConsumer({
  ...connection.options,
  prefetch: 50,
  maxBodyBytes,
  onInvalid: (invalid) => quarantine(pool, schema, invalid),
  invalidPolicy: 'accept', // the quarantine row is the copy
});
consumer.on('error', (err, source) => {
  if (source !== 'decode') console.warn(`[${source}] ${err.code}: ${err.message}`);
});
consumer.on('invalid', (invalid) => console.log(`quarantining ${String(invalid.messageId)}: ${invalid.error.kind}`));

const shutdown = async (): Promise<void> => console.log('closed:', await consumer.close({ deadlineMs: 20_000 }));
process.once('SIGINT', () => void shutdown());
process.once('SIGTERM', () => void shutdown());

// Good messages: one transaction each (see drain-to-postgres.ts for batches), accepted after COMMIT.
await consumer.start(
  async (delivery) => {
    await commitBatch(pool, [delivery], schema);
    stored++;
  },
  { concurrency: 4 },
);

if (connection.embedded) {
  await new Promise<void>((resolve) => consumer.once('drained', resolve));
  await shutdown();
  const { rows } = await pool.query<{ error_kind: string; delivery_count: number; issues: number; bytes: number | null }>(
    `SELECT error_kind, delivery_count, jsonb_array_length(issues) AS issues, octet_length(body) AS bytes
       FROM ${schema}.outreach_quarantine ORDER BY id`,
  );
  for (const row of rows) console.log(`quarantine row: ${row.error_kind}, ${row.issues} issue(s), ${row.bytes ?? 'no'} bytes, delivery count ${row.delivery_count}`);
  const { rows: counts } = await pool.query<{ outreach: string }>(`SELECT count(*) AS outreach FROM ${schema}.outreach`);
  console.log(`stored ${stored} outreach this run; in ${schema}.outreach: ${counts[0]!.outreach}; in ${schema}.outreach_quarantine: ${rows.length}`);
  await connection.stop();
  await pool.end();
}
