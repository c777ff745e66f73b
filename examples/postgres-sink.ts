// A PostgreSQL sink for outreach: one transaction per batch, idempotent upserts keyed by
// outreachId, so a message delivered twice (normal after a reconnect) is stored once.
// Used by examples/drain-to-postgres.ts, examples/quarantine.ts and by the integration tests.
import pg, { type Pool, type PoolClient } from 'pg';
import { civitasTimestampToDate, indexProperties, type Outreach, type OutreachDelivery } from 'civitas-outreach';

/**
 * A pool on the database from the usual PG* variables (default: 127.0.0.1:5432, database `test`,
 * user `postgres`), checked with one query. Without a database it says which variables to set,
 * on one line, and exits 1: call it before starting anything else.
 */
export async function examplePool(): Promise<Pool> {
  const database = {
    host: process.env.PGHOST ?? '127.0.0.1',
    port: Number(process.env.PGPORT ?? 5432),
    database: process.env.PGDATABASE ?? 'test',
    user: process.env.PGUSER ?? 'postgres',
  };
  const pool = new pg.Pool({ ...database, ...(process.env.PGPASSWORD === undefined ? {} : { password: process.env.PGPASSWORD }) });
  try {
    await pool.query('SELECT 1');
    return pool;
  } catch (error) {
    const { code, message } = error as { code?: string; message?: string };
    const reason = message !== undefined && message !== '' ? message : (code ?? String(error));
    console.error(
      `No PostgreSQL at ${database.host}:${database.port} (database ${database.database}, user ${database.user}): ${reason}. ` +
        'Set PGHOST, PGPORT, PGUSER, PGDATABASE and PGPASSWORD to a database this job may create tables in, and run it again.',
    );
    await pool.end().catch(() => undefined);
    process.exit(1);
  }
}

/** Creates the two tables if they do not exist. */
export async function createOutreachTables(pool: Pool, schema = 'public'): Promise<void> {
  await pool.query(`
    CREATE TABLE IF NOT EXISTS ${schema}.outreach (
      outreach_id     text PRIMARY KEY,
      source          text NOT NULL,
      medium          text NOT NULL,
      created_at      text NOT NULL,          -- as Civitas sent it (microseconds, no zone)
      created_at_utc  timestamptz NOT NULL,   -- read as UTC
      employee_email  text,
      result_value_id text,                   -- outreachMediumResult's stable valueId
      is_success      boolean,
      properties      jsonb NOT NULL,
      received_count  integer NOT NULL DEFAULT 1
    );
    CREATE TABLE IF NOT EXISTS ${schema}.outreach_student (
      outreach_id           text NOT NULL REFERENCES ${schema}.outreach (outreach_id),
      institution_person_id text NOT NULL,
      email_address         text,
      PRIMARY KEY (outreach_id, institution_person_id)
    );`);
}

async function upsertOne(client: PoolClient, outreach: Outreach, schema: string): Promise<void> {
  const props = indexProperties(outreach);
  await client.query(
    `INSERT INTO ${schema}.outreach
       (outreach_id, source, medium, created_at, created_at_utc, employee_email, result_value_id, is_success, properties)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
     ON CONFLICT (outreach_id) DO UPDATE SET received_count = ${schema}.outreach.received_count + 1`,
    [
      outreach.outreachId,
      outreach.outreachSource,
      outreach.outreachMedium,
      outreach.createdAt,
      civitasTimestampToDate(outreach.createdAt),
      outreach.employeeEmail ?? null,
      props.first('outreachMediumResult')?.valueId ?? null,
      props.get('isSuccess') ?? null,
      JSON.stringify(outreach.outreachProperties),
    ],
  );
  for (const student of outreach.students) {
    await client.query(
      `INSERT INTO ${schema}.outreach_student (outreach_id, institution_person_id, email_address)
       VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
      [outreach.outreachId, student.institutionPersonID, student.emailAddress ?? null],
    );
  }
}

/**
 * Stores a batch in one transaction: all or nothing. Give it to `batched({ commit })`: the
 * deliveries are accepted only after COMMIT returns.
 */
export async function commitBatch(pool: Pool, deliveries: readonly OutreachDelivery<Outreach>[], schema = 'public'): Promise<void> {
  const client = await pool.connect();
  // A connection cut while the client is checked out is an 'error' event on the client: without a
  // listener it would end the process. The failed query rejects as well, which is what we act on.
  let broken: Error | undefined;
  const onError = (error: Error): void => void (broken = error);
  client.on('error', onError);
  try {
    await client.query('BEGIN');
    for (const delivery of deliveries) await upsertOne(client, delivery.outreach, schema);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.off('error', onError);
    client.release(broken); // a broken connection is discarded, not returned to the pool
  }
}
