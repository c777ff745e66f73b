// Replay and re-drive against the real broker and the real PostgreSQL: a day drained in journal
// mode into one schema, replayed from the journal into a fresh schema, gives the same rows, row
// for row; a `pull` archive of the same outreach replayed likewise; a message that fails for good
// is kept in the journal's dead letters (ActiveMQ.DLQ unchanged) and re-driven into the sink after
// the fix. No replay or re-drive touches the broker.
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { atLeastOnce, listDeadLetters, OutreachConsumer, redriveDeadLetters, replay, type Outreach, type OutreachDelivery } from '../../src/index.js';
import { makeOutreachMessages } from '../../src/testing/index.js';
import { assertCliBuilt, cliEnv, runCli } from './cli-support.js';
import { consumerOptions, dlqSize, expectQueueSize, sendAmqp, sharedBroker, uniqueQueue, waitFor } from './support.js';

const broker = sharedBroker();
const pool = new pg.Pool({ host: '127.0.0.1', port: 5432, database: 'test', user: 'postgres', max: 4 });
const base = `jreplay_${process.pid}`;
const schemas = ['drained', 'replayed', 'archived'].map((s) => `${base}_${s}`);
let work: string;

beforeAll(async () => {
  assertCliBuilt();
  work = await mkdtemp(join(tmpdir(), 'journal-replay-'));
  for (const s of schemas) {
    await pool.query(`DROP SCHEMA IF EXISTS ${s} CASCADE; CREATE SCHEMA ${s}`);
    await pool.query(`CREATE TABLE ${s}.outreach (outreach_id text PRIMARY KEY, message_id text, source text, medium text, created_at text, employee text, students integer, properties integer)`);
  }
});
afterAll(async () => {
  for (const s of schemas) await pool.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
  await pool.end();
  await rm(work, { recursive: true, force: true });
});

/** The sink: one row per outreach, upserted (a repeat overwrites it with the same values). */
function sinkInto(schema: string, refuse: ReadonlySet<string> = new Set()): (d: OutreachDelivery<Outreach>) => Promise<void> {
  return async (d) => {
    const o = d.outreach;
    if (refuse.has(o.outreachId)) throw new Error('the mapping refuses this outreach');
    await pool.query(
      `INSERT INTO ${schema}.outreach VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (outreach_id) DO UPDATE SET message_id = EXCLUDED.message_id`,
      [o.outreachId, String(d.messageId), o.outreachSource, o.outreachMedium, String(o.createdAt), o.employeeEmail, o.students.length, o.outreachProperties.length],
    );
  };
}

async function rows(schema: string): Promise<unknown[]> {
  return (await pool.query(`SELECT outreach_id, source, medium, created_at, employee, students, properties FROM ${schema}.outreach ORDER BY outreach_id`)).rows;
}

describe('replay and re-drive on the broker and PostgreSQL', () => {
  it('a day replayed from the journal (and from a pull archive) into a fresh schema equals the original drain, row for row; a poison re-driven after the fix', async () => {
    const run = randomUUID().slice(0, 8);
    const messages = [...makeOutreachMessages(300, { seed: 31 })].map((m, i) => ({ ...m, outreachId: `${run}-${String(i).padStart(3, '0')}` }));
    const bodies = messages.map((m) => JSON.stringify(m));
    const poison = new Set([messages[7]!.outreachId]);
    const queue = uniqueQueue('jreplay');
    const dlqBefore = await dlqSize(broker);
    await sendAmqp(broker, queue, bodies);

    // The day's drain, in journal mode; the poison fails for good and stays in the journal.
    const dir = join(work, 'journal');
    const dayStart = new Date();
    const consumer = new OutreachConsumer(consumerOptions(broker, queue, { journal: { dir }, strategy: atLeastOnce({ maxAttempts: 2, retryDelayMs: () => 10 }) }));
    consumer.on('error', () => undefined);
    await consumer.start(sinkInto(schemas[0]!, poison), { concurrency: 4 });
    await waitFor(() => consumer.health().counts.accepted === 299 && consumer.health().counts.rejected === 1, 'the drain, the poison rejected', 120_000);
    await consumer.close();
    await expectQueueSize(broker, queue, 0);
    expect(await dlqSize(broker)).toBe(dlqBefore);
    const drained = await rows(schemas[0]!);
    expect(drained).toHaveLength(299);

    // Replayed from the journal into a fresh schema: the same rows (the poison fails again there).
    const report = await replay({ from: dir, since: dayStart, handler: sinkInto(schemas[1]!, poison), concurrency: 4, strategy: atLeastOnce({ maxAttempts: 1 }) });
    expect(report).toMatchObject({ selected: 300, handled: 299, unfinished: 0, complete: true });
    expect(report.failed.map((f) => f.outreachId)).toEqual([...poison]);
    expect(await rows(schemas[1]!)).toEqual(drained);

    // The same outreach pulled into an archive, and the archive replayed into another fresh schema.
    const pulledQueue = uniqueQueue('jreplay-pull');
    await sendAmqp(broker, pulledQueue, bodies);
    const archive = join(work, 'pulled.jsonl');
    const pulled = await runCli(['pull', '--out', archive, '--until-drained'], cliEnv(broker, pulledQueue));
    expect(pulled.code, pulled.stderr).toBe(0);
    const fromArchive = await replay({ from: archive, handler: sinkInto(schemas[2]!, poison), concurrency: 4, strategy: atLeastOnce({ maxAttempts: 1 }) });
    expect(fromArchive.handled).toBe(299);
    expect(await rows(schemas[2]!)).toEqual(drained);

    // The fix is deployed: the dead letter is re-driven into the sink, and leaves the dead letters.
    const dead = [];
    for await (const d of listDeadLetters(dir)) dead.push(d.outreachId);
    expect(dead).toEqual([...poison]);
    const redriven = await redriveDeadLetters({ dir, handler: sinkInto(schemas[0]!) });
    expect(redriven).toMatchObject({ selected: 1, redriven: 1, failed: [] });
    expect(await rows(schemas[0]!)).toHaveLength(300);
    const left = [];
    for await (const d of listDeadLetters(dir)) left.push(d);
    expect(left).toEqual([]);
    expect(await dlqSize(broker)).toBe(dlqBefore);
  });
});
