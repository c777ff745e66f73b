// A sink outage and a poison stream in one run. 2,000 good outreach are mixed with malformed JSON,
// wrong shapes, huge bodies, invalid UTF-8, deep nesting and valid outreach the handler always
// refuses; the handler also fails 10% of first deliveries at random; and PostgreSQL is cut off
// (through a TCP proxy) for a while mid-stream. The stream must keep flowing, every poison
// message must reach the invalid or dead-letter hook, every good one must be in the sink, and
// the process must never crash.
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startBroker, type BrokerHandle } from '../../scripts/activemq.mjs';
import { TcpProxy } from '../integration/tcp-proxy.js';
import { seededShuffle } from '../integration/support.js';
import {
  asOutgoing,
  compareIds,
  ConsumerProcess,
  consumerSettings,
  distinctiveMessages,
  leakCheck,
  PG,
  PII_PREFIX,
  runId,
  send,
  sinkCounts,
  sinkIds,
  sinkSchema,
  sleep,
  until,
  type Outgoing,
} from './support.js';

const GOOD = 2_000;
const REFUSED_STUDENT = 'REFUSED-STUDENT';
const MAX_BODY_BYTES = 512 * 1024;
const OUTAGE_MS = 8_000;
let broker: BrokerHandle;
let pgProxy: TcpProxy;
const pool = new pg.Pool({ ...PG, max: 2 });

beforeAll(async () => {
  broker = await startBroker({ quiet: true });
  pgProxy = await TcpProxy.start(PG.port);
});
afterAll(async () => {
  await pgProxy?.close();
  await broker?.stop();
  await pool.end();
});

/** Poison of every kind, each carrying student data so that an echo of it would be caught. */
function poison(run: string): { invalid: Outgoing[]; refused: Outgoing[] } {
  const pii = (i: number): string => `${PII_PREFIX}Poison${run}n${i}`;
  const invalid: Outgoing[] = [];
  const add = (kind: string, bodies: (string | Buffer)[]): void =>
    bodies.forEach((body, i) => invalid.push({ body, tag: `poison-${kind}-${i}` }));
  add('malformed', Array.from({ length: 30 }, (_, i) => [
    `{"outreachId": "x-${i}", "students": [{"firstName": "${pii(i)}"`,
    `${pii(i)} is not JSON`,
    `{"employeeEmail": '${pii(i)}@example.edu'}`,
  ][i % 3]!));
  add('shape', Array.from({ length: 30 }, (_, i) => JSON.stringify([
    { outreachId: i, students: [{ firstName: pii(i), emailAddress: 42 }] },
    [pii(i)],
    { students: pii(i), employeeFirstName: { name: pii(i) } },
  ][i % 3])));
  add('huge', Array.from({ length: 3 }, (_, i) => JSON.stringify({ padding: `${pii(i)} `.repeat((1024 * 1024) / 20) })));
  add('utf8', Array.from({ length: 20 }, (_, i) => Buffer.concat([Buffer.from(`{"firstName": "${pii(i)}`), Buffer.from([0xff, 0xfe, 0xc3, 0x28]), Buffer.from('"}')])));
  add('deep', Array.from({ length: 10 }, (_, i) =>
    i % 2 === 0 ? `${'['.repeat(100_000)}"${pii(i)}"${']'.repeat(100_000)}` : `${'{"a":'.repeat(20_000)}"${pii(i)}"${'}'.repeat(20_000)}`));
  const refused = distinctiveMessages(20, `${run}r`, 23).map((m) => ({
    body: JSON.stringify({ ...m, students: [{ ...m.students[0]!, institutionPersonID: REFUSED_STUDENT }] }),
    tag: `refused-${m.outreachId}`,
  }));
  return { invalid, refused };
}

it('keeps flowing through a sink outage and a poison stream: every good one stored, every poison one to a hook', async () => {
  const run = runId();
  const queue = `reliab.poison.${run}`;
  const schema = await sinkSchema(pool, `poison_${run}`);
  const good = distinctiveMessages(GOOD, run, 19);
  const { invalid, refused } = poison(run);
  await send(broker, queue, seededShuffle([...asOutgoing(good), ...invalid, ...refused], 29));

  const consumer = new ConsumerProcess(
    consumerSettings(broker, queue, schema, {
      name: 'poison',
      pgPort: pgProxy.port,
      failRate: 0.1,
      refuseStudent: REFUSED_STUDENT,
      maxBodyBytes: MAX_BODY_BYTES,
      handlerDelayMs: 2,
    }),
  );
  const count = (): Promise<number> => sinkCounts(pool, schema).then((c) => c.rows);
  const t0 = Date.now();
  try {
    await until(count, (n) => n >= 500, '500 stored before the sink outage', 180_000);
    const cutAt = Date.now();
    await pgProxy.cut();
    const storedAtCut = await count();
    await sleep(OUTAGE_MS);
    const storedInOutage = (await count()) - storedAtCut;
    await pgProxy.resume();
    await until(count, (n) => n >= GOOD, `all ${GOOD} good outreach stored`, 300_000);
    // the refused ones go through their 5 attempts; wait until each reached the dead-letter hook
    await until(async () => new Set(consumer.of('dead-letter').map((l) => l.tag)).size, (n) => n >= refused.length, 'every refused outreach dead-lettered', 60_000);
    await until(async () => new Set(consumer.of('invalid').map((l) => l.tag)).size, (n) => n >= invalid.length, 'every invalid message at onInvalid', 60_000);

    const { rows, duplicates } = await sinkCounts(pool, schema);
    const { missing, unexpected } = compareIds(good.map((m) => m.outreachId), await sinkIds(pool, schema));
    const invalidTags = new Set(consumer.of('invalid').map((l) => String(l.tag)));
    const deadTags = new Set(consumer.of('dead-letter').map((l) => String(l.tag)));
    const kinds = new Map<string, number>();
    for (const l of consumer.of('invalid')) kinds.set(String(l.kind), (kinds.get(String(l.kind)) ?? 0) + 1);
    const outages = consumer.of('outage').length;
    const recoveries = consumer.of('recovered').map((l) => Number(l.durationMs));
    console.log(
      `[reliability] poison + sink outage: ${rows}/${GOOD} good stored in ${Date.now() - t0} ms (${missing.length} missing, ${duplicates} repeats); ` +
        `${invalidTags.size}/${invalid.length} invalid at onInvalid (kinds: ${[...kinds].map(([k, n]) => `${k} ${n}`).join(', ')}), ` +
        `${deadTags.size}/${refused.length} refused at onDeadLetter; sink cut ${OUTAGE_MS} ms at ${cutAt - t0} ms: ${storedInOutage} stored meanwhile, ` +
        `${outages} outage(s), recovered after ${recoveries.join(', ')} ms; ${consumer.of('error').length} error events`,
    );
    expect(missing).toEqual([]);
    expect(unexpected).toEqual([]);
    expect(rows).toBe(GOOD);
    expect(storedInOutage).toBe(0);
    expect(outages).toBeGreaterThanOrEqual(1);
    expect(recoveries.length).toBeGreaterThanOrEqual(1);
    expect([...invalidTags].sort()).toEqual(invalid.map((p) => p.tag).sort());
    expect([...deadTags].sort()).toEqual(refused.map((p) => p.tag).sort());
    expect(consumer.exit, 'the consumer process never crashed').toBeUndefined();
  } finally {
    await consumer.stop();
  }
  expect(consumer.exit?.code).toBe(0);
  expect(leakCheck('poison + sink outage', broker.password, [consumer])).toEqual([]);
});
