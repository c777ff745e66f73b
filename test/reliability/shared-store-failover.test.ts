// Shared-storage master/slave, as Amazon MQ runs an active/standby broker: two ActiveMQ brokers on
// one KahaDB directory, the standby waiting on the store's file lock. The consumer process has
// both endpoints; 10,000 persistent outreach drain into PostgreSQL; the active broker is killed
// with SIGKILL mid-drain, the standby takes over, then the new active one is killed too (the
// first restarted as the standby by then). The table must end exact: each outreach once. Then a
// long outage: both brokers down for 45 s, so the consumer is deep in its back-off (waits of 15 to
// 30 s) when one comes back; it must connect within moments of the broker serving.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startPair, STARTED_RE, type BrokerHandle, type BrokerPair } from '../../scripts/activemq.mjs';
import { record } from '../../bench/support.js';
import { expectExact } from './harness.js';
import { asOutgoing, ConsumerProcess, consumerSettings, distinctiveMessages, leakCheck, PG, runId, send, sinkCounts, sinkSchema, sleep, until } from './support.js';

const TOTAL = 10_000;
let pair: BrokerPair;
const pool = new pg.Pool({ ...PG, max: 2 });

beforeAll(async () => {
  // ActiveMQ's own default lock polling (the shared file locker's lockAcquireSleepInterval, 10 s).
  pair = await startPair({ quiet: true });
});
afterAll(async () => {
  await pair?.stop();
  await pool.end();
});

/** Timings of one failover, all in ms from the kill. */
interface Failover {
  lockTakenMs: number;
  brokerServingMs: number;
  clientConnectedMs: number;
  firstHandledMs: number;
}

/** The broker's own log (log4j2, with millisecond timestamps), from byte `offset` on. */
function brokerLog(broker: BrokerHandle, offset: number): string {
  try {
    return readFileSync(join(broker.instanceDir, 'data', 'activemq.log')).subarray(offset).toString('utf8');
  } catch {
    return '';
  }
}
const brokerLogSize = (broker: BrokerHandle): number => Buffer.byteLength(brokerLog(broker, 0));

/** The time of a log line `2026-11-27 20:49:54,665 | INFO | …` (the JVM's local time, as Node's). */
function lineTime(line: string): number {
  const m = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d),(\d{3})/.exec(line);
  if (!m) throw new Error(`no timestamp in broker log line: ${line}`);
  return new Date(`${m[1]}T${m[2]}.${m[3]}`).getTime();
}

/** Kills `dying` (SIGKILL) and times the takeover by `heir` from its log and the consumer's lines. */
async function failover(dying: BrokerHandle, heir: BrokerHandle, consumer: ConsumerProcess): Promise<Failover> {
  const offset = brokerLogSize(heir);
  const killedAt = Date.now();
  await dying.kill();
  let lines: string[] = [];
  const end = Date.now() + 120_000;
  while (Date.now() < end) {
    lines = brokerLog(heir, offset).split('\n').filter((l) => l.trim() !== '');
    if (lines.some((l) => STARTED_RE.test(l))) break;
    await sleep(50);
  }
  const started = lines.find((l) => STARTED_RE.test(l));
  expect(started, 'the standby took over').toBeDefined();
  // The standby logs nothing while it waits: its first line after the kill comes with the lock.
  const lockAt = lineTime(lines[0]!);
  const startedAt = lineTime(started!);
  const connected = await consumer.waitFor('connected', 120_000, killedAt);
  const handled = await consumer.waitFor('first-handled', 120_000, killedAt);
  return { lockTakenMs: lockAt - killedAt, brokerServingMs: startedAt - killedAt, clientConnectedMs: connected.at - killedAt, firstHandledMs: handled.at - killedAt };
}

function report(n: number, f: Failover): void {
  // For `npm run bench`'s report, which runs this file as a step (only when BENCH_JSON is set).
  record('failover', 'kill -9 of the active broker', { run: n, ...f });
  console.log(
    `[reliability] failover ${n}: kill -> lock taken ${f.lockTakenMs} ms, -> standby serving ${f.brokerServingMs} ms ` +
      `(lock wait ${f.lockTakenMs} + store recovery ${f.brokerServingMs - f.lockTakenMs}), -> consumer connected ${f.clientConnectedMs} ms ` +
      `(client backoff after the broker served: ${f.clientConnectedMs - f.brokerServingMs}), -> first message handled ${f.firstHandledMs} ms`,
  );
}

it('survives two kill -9 failovers of a shared-store pair mid-drain of 10,000 outreach: each stored once', async () => {
  const run = runId();
  const queue = `reliab.failover.${run}`;
  const schema = await sinkSchema(pool, `failover_${run}`);
  const messages = distinctiveMessages(TOTAL, run, 7);
  const sendStart = Date.now();
  await send(pair.active, queue, asOutgoing(messages));
  console.log(`[reliability] failover: ${TOTAL} persistent outreach sent in ${Date.now() - sendStart} ms`);

  // ~3 ms per outreach in the handler: the drain lasts long enough for both failovers.
  const consumer = new ConsumerProcess(
    consumerSettings([pair.active, pair.standby], queue, schema, { name: 'failover', handlerDelayMs: 3 }),
  );
  const t0 = Date.now();
  try {
    await consumer.waitFor('connected');
    const count = (): Promise<number> => sinkCounts(pool, schema).then((c) => c.rows);

    await until(count, (n) => n >= 2_500, '2,500 stored before the first kill', 120_000);
    const first = await failover(pair.active, pair.standby, consumer);
    report(1, first);

    // The first broker comes back as the standby (it waits on the lock the second now holds).
    await pair.active.restart({ standby: true });
    await until(count, (n) => n >= 6_000, '6,000 stored before the second kill', 180_000);
    const storedAtSecondKill = await count();
    expect(storedAtSecondKill, 'the second kill comes mid-drain').toBeLessThan(TOTAL);
    const second = await failover(pair.standby, pair.active, consumer);
    report(2, second);

    await until(count, (n) => n >= TOTAL, `all ${TOTAL} stored`, 300_000);
    await sleep(1_000); // a straggler repeat would show now
    // A repeat is a delivery held at the kill: at most the prefetch window per failover.
    await expectExact(pool, schema, messages.map((m) => m.outreachId), 2 * 100, (r) =>
      `failover: ${r.rows}/${TOTAL} stored in ${Date.now() - t0} ms, ${r.missing} missing, ` +
        `${r.duplicates} repeats absorbed by the idempotent sink (prefetch 100, 2 kills)`);
    expect(consumer.exit, 'the consumer process never died').toBeUndefined();
  } finally {
    await consumer.stop();
  }
  expect(consumer.exit?.code).toBe(0);
  expect(leakCheck('failover', pair.active.password, [consumer])).toEqual([]);
});

it('after a long outage (both brokers down 45 s, the consumer deep in its back-off) connects the moment a broker serves', async () => {
  const run = runId();
  const queue = `reliab.outage.${run}`;
  const schema = await sinkSchema(pool, `outage_${run}`);
  const messages = distinctiveMessages(2_000, run, 11);
  // Whichever broker of the pair serves now (the first test leaves either) gets the messages.
  const serving = [pair.active, pair.standby];
  await pair.active.kill();
  await pair.standby.kill();
  await pair.active.restart();
  await send(pair.active, queue, asOutgoing(messages));
  const consumer = new ConsumerProcess(consumerSettings(serving, queue, schema, { name: 'long-outage', handlerDelayMs: 3 }));
  try {
    await consumer.waitFor('connected');
    const count = (): Promise<number> => sinkCounts(pool, schema).then((c) => c.rows);
    await until(count, (n) => n >= 300, '300 stored before the outage', 120_000);
    const killedAt = Date.now();
    await pair.active.kill();
    await sleep(45_000);
    const offset = brokerLogSize(pair.active);
    await pair.active.restart();
    const lines = brokerLog(pair.active, offset).split('\n');
    const started = lines.find((l) => STARTED_RE.test(l));
    expect(started, 'the broker served again').toBeDefined();
    const servingAt = lineTime(started!);
    const connected = await consumer.waitFor('connected', 120_000, killedAt + 45_000);
    const handled = await consumer.waitFor('first-handled', 120_000, killedAt + 45_000);
    record('failover', 'both brokers down 45 s', { run: 1, brokerServingMs: servingAt - killedAt, clientConnectedMs: connected.at - killedAt, firstHandledMs: handled.at - killedAt });
    console.log(
      `[reliability] long outage: broker serving ${servingAt - killedAt} ms after the kill; consumer connected ${connected.at - servingAt} ms ` +
        `and first message handled ${handled.at - servingAt} ms after the broker served (its back-off wait was up to 30,000 ms)`,
    );
    await until(count, (n) => n >= messages.length, `all ${messages.length} stored`, 300_000);
    await expectExact(pool, schema, messages.map((m) => m.outreachId), 100, (r) => `long outage: ${r.rows}/${messages.length} stored, ${r.missing} missing, ${r.duplicates} repeats`);
  } finally {
    await consumer.stop();
  }
  expect(consumer.exit?.code).toBe(0);
});
