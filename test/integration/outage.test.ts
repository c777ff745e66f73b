// Sink outages with the default settings: when the sink is down, the consumer stops, hands back
// what it holds without spending attempts, probes, and resumes; nothing good is dead-lettered,
// while messages that fail on their own still are. A real broker, a real PostgreSQL sink (cut
// through a TCP proxy), and every message counted by its outreach id.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  atLeastOnce,
  batched,
  manual,
  OutreachConsumer,
  type OutageInfo,
  type Outreach,
  type OutreachConsumerOptions,
  type OutreachDelivery,
  type RecoveryInfo,
  type SettleOutcome,
} from '../../src/index.js';
import { makeOutreachMessages } from '../../src/testing/index.js';
import { commitBatch, createOutreachTables } from '../../examples/postgres-sink.js';
import {
  consumerOptions,
  dlqSize,
  expectQueueSize,
  sendAmqp,
  seededShuffle,
  sharedBroker,
  tally,
  uniqueQueue,
  waitFor,
} from './support.js';
import { TcpProxy } from './tcp-proxy.js';

const broker = sharedBroker();
const PG = { host: '127.0.0.1', port: 5432, database: 'test', user: 'postgres' } as const;
/** The test's own view of the database, never through the proxy. */
const direct = new pg.Pool({ ...PG, max: 2 });
const schema = `outage_${process.pid}`;
/** The student id that marks a poison message: valid outreach the handler always refuses. */
const POISON_STUDENT = 'POISON-STUDENT';

beforeAll(async () => {
  await direct.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE; CREATE SCHEMA ${schema}`);
  await createOutreachTables(direct, schema);
});
afterAll(async () => {
  await direct.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await direct.end();
});

/** `good` valid outreach and `poison` ones marked by their student id, shuffled; ids unique to this run. */
function workload(good: number, poison: number, seed: number): { goodIds: string[]; poisonIds: string[]; bodies: string[] } {
  const run = randomUUID().slice(0, 8);
  const goodMessages = [...makeOutreachMessages(good, { seed, students: 1 })].map((m, i) => ({ ...m, outreachId: `good-${run}-${i}` }));
  const poisonMessages = [...makeOutreachMessages(poison, { seed: seed + good, students: 1 })].map((m, i) => ({
    ...m,
    outreachId: `poison-${run}-${i}`,
    students: [{ ...m.students[0]!, institutionPersonID: POISON_STUDENT }],
  }));
  return {
    goodIds: goodMessages.map((m) => m.outreachId),
    poisonIds: poisonMessages.map((m) => m.outreachId),
    bodies: seededShuffle([...goodMessages, ...poisonMessages], seed).map((m) => JSON.stringify(m)),
  };
}

const isPoison = (outreach: Outreach): boolean => outreach.students.some((s) => s.institutionPersonID === POISON_STUDENT);

/** A poison message's own error: not the sink's. */
class RecordRefused extends Error {}

/** Rows of the outreach table by id, with how many times each was upserted. */
async function storedRows(): Promise<Map<string, number>> {
  const { rows } = await direct.query<{ outreach_id: string; received_count: number }>(`SELECT outreach_id, received_count FROM ${schema}.outreach`);
  return new Map(rows.map((r) => [r.outreach_id, r.received_count]));
}

/** Everything a test counts about one consumer, by outreach id. */
function watch(consumer: OutreachConsumer) {
  const w = {
    outages: [] as { at: number; info: OutageInfo }[],
    recoveries: [] as { at: number; info: RecoveryInfo }[],
    accepted: tally(),
    outcomes: new Map<string, SettleOutcome[]>(),
    counts: { accepted: 0, retried: 0, rejected: 0, released: 0, lost: 0 } as Record<SettleOutcome, number>,
  };
  consumer.on('error', () => undefined);
  consumer.on('outage', (info) => w.outages.push({ at: Date.now(), info }));
  consumer.on('recovered', (info) => w.recoveries.push({ at: Date.now(), info }));
  consumer.on('settled', (d: OutreachDelivery<unknown>, outcome) => {
    w.counts[outcome]++;
    const id = (d.outreach as Outreach | undefined)?.outreachId;
    if (id === undefined) return; // handed straight back undecoded (outage, not a probe)
    w.outcomes.set(id, [...(w.outcomes.get(id) ?? []), outcome]);
    if (outcome === 'accepted') w.accepted.add(id);
  });
  return w;
}

/**
 * The shared end of (a) and (b): every good outreach stored once, accepted once and never
 * dead-lettered; every poison one dead-lettered once; the DLQ grew by the poison count; one
 * outage, one recovery; the queue empty.
 */
async function expectOutcome(args: {
  queue: string;
  goodIds: string[];
  poisonIds: string[];
  deadLettered: ReturnType<typeof tally>;
  w: ReturnType<typeof watch>;
  dlqBefore: number;
  maxUpsertedTwice: number;
}): Promise<void> {
  const { queue, goodIds, poisonIds, deadLettered, w, dlqBefore } = args;
  const rows = await storedRows();
  const good = new Set(goodIds);
  expect(goodIds.filter((id) => !rows.has(id))).toEqual([]); // every good one stored
  expect([...rows.keys()].filter((id) => !good.has(id))).toEqual([]); // and nothing else (the table was emptied first)
  expect(poisonIds.filter((id) => rows.has(id))).toEqual([]);
  // Upserted twice is at-least-once at work: a COMMIT that PostgreSQL applied but whose answer
  // the cut lost. Only work in hand at the cut can be such.
  const twice = goodIds.filter((id) => rows.get(id)! > 1);
  expect(twice.length).toBeLessThanOrEqual(args.maxUpsertedTwice);
  expect(goodIds.filter((id) => w.accepted.count(id) !== 1)).toEqual([]);
  expect(goodIds.filter((id) => deadLettered.count(id) > 0)).toEqual([]);
  expect(goodIds.filter((id) => (w.outcomes.get(id) ?? []).includes('rejected'))).toEqual([]);
  expect(poisonIds.filter((id) => deadLettered.count(id) !== 1)).toEqual([]);
  expect(poisonIds.filter((id) => w.outcomes.get(id)?.at(-1) !== 'rejected')).toEqual([]);
  expect(w.outages).toHaveLength(1);
  expect(w.recoveries).toHaveLength(1);
  await expectQueueSize(broker, queue, 0);
  await waitFor(async () => (await dlqSize(broker)) === dlqBefore + poisonIds.length, `${poisonIds.length} more in ActiveMQ.DLQ`);
  expect(await dlqSize(broker)).toBe(dlqBefore + poisonIds.length);
}

describe('sink outages (default outage settings)', () => {
  it('(a) PostgreSQL cut for 2 minutes in the middle of a 2,000-message drain with 20 poison messages', async () => {
    await direct.query(`TRUNCATE ${schema}.outreach_student, ${schema}.outreach`);
    const { goodIds, poisonIds, bodies } = workload(2000, 20, 20_000);
    const queue = uniqueQueue('outage-pg');
    await sendAmqp(broker, queue, bodies, { durable: true });
    await expectQueueSize(broker, queue, bodies.length, 60_000);
    const dlqBefore = await dlqSize(broker);

    const proxy = await TcpProxy.start(PG.port, PG.host);
    const sink = new pg.Pool({ ...PG, port: proxy.port, max: 4, connectionTimeoutMillis: 1_000, idleTimeoutMillis: 5_000 });
    let poolErrors = 0;
    sink.on('error', () => poolErrors++); // idle clients whose connection the cut dropped
    // Clients in use when the cut comes emit 'error' too, with no pool listener on them then:
    // unhandled, that would end the process (examples/postgres-sink.ts does not listen either).
    let clientErrors = 0;
    sink.on('connect', (client) => client.on('error', () => clientErrors++));
    const deadLettered = tally();
    const consumer = new OutreachConsumer(
      consumerOptions(broker, queue, { strategy: atLeastOnce({ onDeadLetter: (d) => deadLettered.add(d.outreach.outreachId) }) }),
    );
    const w = watch(consumer);
    const sinkErrors = tally();
    try {
      await consumer.start(
        async (delivery) => {
          if (isPoison(delivery.outreach)) throw new RecordRefused(`the CRM refuses ${delivery.outreach.outreachId}`);
          try {
            await commitBatch(sink, [delivery], schema);
          } catch (error) {
            sinkErrors.add((error as Error).message.slice(0, 40));
            throw error;
          }
        },
        { concurrency: 4 },
      );
      await waitFor(() => w.accepted.size >= 400, '400 stored before the cut', 60_000);
      const cutAt = Date.now();
      const storedAtCut = w.accepted.size;
      await proxy.cut();
      await waitFor(() => w.outages.length === 1, 'the outage event', 30_000);
      // Down for 2 minutes: the health snapshot shows the outage, nothing is accepted, nothing dead-lettered.
      const deadAtOutage = deadLettered.size;
      const midway: string[] = [];
      while (Date.now() - cutAt < 120_000) {
        const h = consumer.health();
        midway.push(`${Math.round((Date.now() - cutAt) / 1000)}s:p${h.outage?.failedProbes ?? '-'}/h${h.held}`);
        expect(h.outage).toBeDefined();
        await sleep(10_000);
      }
      expect(w.accepted.size).toBeLessThanOrEqual(storedAtCut + 4);
      expect(goodIds.filter((id) => deadLettered.count(id) > 0)).toEqual([]);
      const failedProbesAtRestore = consumer.health().outage?.failedProbes;
      const restoredAt = Date.now();
      await proxy.resume();
      await waitFor(() => w.recoveries.length === 1, 'the recovered event', 90_000);
      await waitFor(() => goodIds.every((id) => w.accepted.count(id) > 0), 'every good message accepted', 120_000);
      await waitFor(() => deadLettered.size === poisonIds.length, 'every poison message dead-lettered', 60_000);
      const doneAt = Date.now();
      const report = await consumer.close();
      const outage = w.outages[0]!;
      const recovery = w.recoveries[0]!;
      const rows = await storedRows();
      console.log(
        `outage (a): cut after ${storedAtCut} accepted; detected ${outage.info.since.getTime() - cutAt} ms after the cut (${outage.info.reason}, ${outage.info.failures} failures); ` +
          `health every 10 s ${midway.join(' ')}; restored after ${((restoredAt - cutAt) / 1000).toFixed(1)} s with ${failedProbesAtRestore} failed probes; ` +
          `recovered ${((recovery.at - restoredAt) / 1000).toFixed(1)} s after the restore: outage lasted ${(recovery.info.durationMs / 1000).toFixed(1)} s, ${recovery.info.failedProbes} failed probes; ` +
          `all done ${((doneAt - recovery.at) / 1000).toFixed(1)} s later; ${deadAtOutage} poison dead-lettered before the outage, ${deadLettered.size} in all; ` +
          `settled ${JSON.stringify(w.counts)}; close report ${JSON.stringify(report)}; rows ${rows.size}, upserted twice ${goodIds.filter((id) => rows.get(id)! > 1).length}; ` +
          `pool errors ${poolErrors}, client errors ${clientErrors}; sink errors ${sinkErrors.keys().map((k) => `${k}×${sinkErrors.count(k)}`).join(' | ')}`,
      );
      expect(outage.info.reason).toBe('failures');
      expect(recovery.info.since).toEqual(outage.info.since);
      expect(recovery.at).toBeGreaterThanOrEqual(restoredAt);
      await expectOutcome({ queue, goodIds, poisonIds, deadLettered, w, dlqBefore, maxUpsertedTwice: 4 });
    } finally {
      await consumer.close();
      await proxy.close();
      await sink.end().catch(() => undefined);
    }
  }, 330_000);

  it('(b) a handler that throws for 60 s: 500 messages and 5 poison', async () => {
    await direct.query(`TRUNCATE ${schema}.outreach_student, ${schema}.outreach`);
    const { goodIds, poisonIds, bodies } = workload(500, 5, 30_000);
    const queue = uniqueQueue('outage-throw');
    await sendAmqp(broker, queue, bodies, { durable: true });
    await expectQueueSize(broker, queue, bodies.length, 60_000);
    const dlqBefore = await dlqSize(broker);
    const sink = new pg.Pool({ ...PG, max: 4 });
    const deadLettered = tally();
    const consumer = new OutreachConsumer(
      consumerOptions(broker, queue, { strategy: atLeastOnce({ onDeadLetter: (d) => deadLettered.add(d.outreach.outreachId) }) }),
    );
    const w = watch(consumer);
    let connects = 0;
    consumer.on('connected', () => connects++);
    // Between probes, once nothing is held, the link is closed (docs: "The same applies during an outage").
    let parkedDuringOutage = 0;
    const sampler = setInterval(() => {
      const h = consumer.health();
      if (h.outage !== undefined && !h.connected && h.held === 0) parkedDuringOutage++;
    }, 100);
    let downFrom = Number.POSITIVE_INFINITY;
    let downUntil = Number.POSITIVE_INFINITY;
    try {
      await consumer.start(
        async (delivery) => {
          if (isPoison(delivery.outreach)) throw new RecordRefused(`the CRM refuses ${delivery.outreach.outreachId}`);
          await sleep(5);
          const now = Date.now();
          if (now >= downFrom && now < downUntil) throw new Error('503 Service Unavailable');
          await commitBatch(sink, [delivery], schema);
        },
        { concurrency: 4 },
      );
      await waitFor(() => w.accepted.size >= 100, '100 stored first', 60_000);
      downFrom = Date.now();
      downUntil = downFrom + 60_000;
      await waitFor(() => w.outages.length === 1, 'the outage event', 30_000);
      await waitFor(() => w.recoveries.length === 1, 'the recovered event', 150_000);
      await waitFor(() => goodIds.every((id) => w.accepted.count(id) > 0), 'every good message accepted', 60_000);
      await waitFor(() => deadLettered.size === poisonIds.length, 'every poison message dead-lettered', 60_000);
      const report = await consumer.close();
      const outage = w.outages[0]!;
      const recovery = w.recoveries[0]!;
      console.log(
        `outage (b): detected ${outage.info.since.getTime() - downFrom} ms after the sink went down (${outage.info.reason}, ${outage.info.failures} failures); ` +
          `recovered ${((recovery.at - downUntil) / 1000).toFixed(1)} s after it came back: outage lasted ${(recovery.info.durationMs / 1000).toFixed(1)} s, ` +
          `${recovery.info.failedProbes} failed probes; settled ${JSON.stringify(w.counts)}; close report ${JSON.stringify(report)}`,
      );
      expect(outage.info.reason).toBe('failures');
      expect(recovery.at).toBeGreaterThanOrEqual(downUntil);
      // The link was closed while waiting between probes, and reopened for each probe.
      expect(parkedDuringOutage).toBeGreaterThan(0);
      expect(connects).toBeGreaterThanOrEqual(1 + recovery.info.failedProbes);
      await expectOutcome({ queue, goodIds, poisonIds, deadLettered, w, dlqBefore, maxUpsertedTwice: 0 });
    } finally {
      clearInterval(sampler);
      await consumer.close();
      await sink.end();
    }
  }, 240_000);

  it('(c) the iterator pattern, catch and retry(error), with the sink down for 20 s: nothing good dead-lettered, nothing lost', async () => {
    await direct.query(`TRUNCATE ${schema}.outreach_student, ${schema}.outreach`);
    const { goodIds, bodies } = workload(300, 0, 40_000);
    const queue = uniqueQueue('outage-iter');
    await sendAmqp(broker, queue, bodies, { durable: true });
    await expectQueueSize(broker, queue, bodies.length, 60_000);
    const dlqBefore = await dlqSize(broker);
    const sink = new pg.Pool({ ...PG, max: 2 });
    let down = false;
    const store = async (delivery: OutreachDelivery): Promise<void> => {
      if (down) throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
      await commitBatch(sink, [delivery], schema);
    };
    const consumer = new OutreachConsumer(consumerOptions(broker, queue));
    const w = watch(consumer);
    const deadLettered = tally();
    const seenCounts = new Map<string, number[]>();
    let bodiesRun = 0;
    let failures = 0;
    const loop = (async () => {
      for await (const delivery of consumer) {
        bodiesRun++;
        const id = delivery.outreach.outreachId;
        seenCounts.set(id, [...(seenCounts.get(id) ?? []), delivery.deliveryCount]);
        try {
          await store(delivery);
        } catch (error) {
          failures++;
          // The user's own bound: reject after 5 attempts. Without outage detection the retried
          // message comes straight back, so a down sink would burn five attempts in milliseconds.
          if (delivery.deliveryCount + 1 >= 5) {
            deadLettered.add(id);
            delivery.reject('failed 5 attempts');
          } else delivery.retry(error);
        }
      }
    })();
    try {
      await waitFor(() => w.accepted.size >= 50, '50 stored first', 60_000);
      const downAt = Date.now();
      down = true;
      await waitFor(() => w.outages.length === 1, 'the outage event', 10_000);
      const bodiesAtOutage = bodiesRun;
      await sleep(20_000 - (Date.now() - downAt));
      const bodiesWhileDown = bodiesRun - bodiesAtOutage;
      const upAt = Date.now();
      down = false;
      await waitFor(() => w.recoveries.length === 1, 'the recovered event', 90_000);
      // Done when every message is accepted, or when the broker has none left for us.
      await waitFor(
        async () => goodIds.every((id) => w.accepted.count(id) > 0) || ((await broker.queueStats(queue))?.size === 0 && consumer.health().held === 0),
        'every message accepted or the queue empty',
        60_000,
      );
      const report = await consumer.close();
      await loop;
      const outage = w.outages[0]!;
      const recovery = w.recoveries[0]!;
      const maxCount = Math.max(...[...seenCounts.values()].flat());
      const lost = goodIds.filter((id) => w.accepted.count(id) === 0);
      console.log(
        `outage (c, iterator): detected ${outage.info.since.getTime() - downAt} ms after the sink went down (${outage.info.reason}, ${outage.info.failures} failures), ` +
          `${bodiesWhileDown} loop bodies (probes) while it stayed down; recovered ${((recovery.at - upAt) / 1000).toFixed(1)} s after it came back, ` +
          `outage ${(recovery.info.durationMs / 1000).toFixed(1)} s, ${recovery.info.failedProbes} failed probes; ${failures} failures in the loop; highest delivery count seen ${maxCount}; ` +
          `settled ${JSON.stringify(w.counts)}; close report ${JSON.stringify(report)}; ` +
          `never accepted: ${lost.map((id) => `${id} (outcomes ${w.outcomes.get(id)?.join()}, counts seen ${seenCounts.get(id)?.join()})`).join(', ') || 'none'}`,
      );
      // Nothing lost: a message the loop retried must come back. (Before the workaround in
      // src/connection/rhea-internals.ts the first retried message was lost in most runs: test (e).)
      expect(lost).toEqual([]);
      const rows = await storedRows();
      expect(goodIds.filter((id) => rows.get(id) !== 1)).toEqual([]);
      expect(goodIds.filter((id) => w.accepted.count(id) !== 1)).toEqual([]);
      expect(deadLettered.keys()).toEqual([]);
      expect(w.counts.rejected).toBe(0);
      // Few messages were retried (counted) before the outage began, and none burned its attempts.
      expect(w.counts.retried).toBeLessThanOrEqual(8);
      expect(maxCount).toBeLessThanOrEqual(3);
      expect(outage.info.reason).toBe('failures');
      expect(w.outages).toHaveLength(1);
      expect(w.recoveries).toHaveLength(1);
      expect(bodiesWhileDown).toBeLessThanOrEqual(15); // probes only: 1, 2, 3... per round, a handful of rounds
      await expectQueueSize(broker, queue, 0);
      expect(await dlqSize(broker)).toBe(dlqBefore);
    } finally {
      await consumer.close();
      await loop.catch(() => undefined);
      await sink.end();
    }
  }, 180_000);

  it('(d) isOutage: one classified error begins an outage at once (threshold 1000 shows it is the classifier)', async () => {
    await direct.query(`TRUNCATE ${schema}.outreach_student, ${schema}.outreach`);
    const { goodIds, bodies } = workload(100, 0, 50_000);
    const queue = uniqueQueue('outage-classified');
    await sendAmqp(broker, queue, bodies, { durable: true });
    await expectQueueSize(broker, queue, bodies.length, 60_000);
    const sink = new pg.Pool({ ...PG, max: 2 });
    let down = false;
    const classified: unknown[] = [];
    const options: Partial<OutreachConsumerOptions<Outreach>> = {
      outage: {
        threshold: 1000,
        isOutage: (error) => {
          const yes = (error as { code?: unknown } | undefined)?.code === 'ECONNREFUSED';
          if (yes) classified.push(error);
          return yes;
        },
      },
    };
    const consumer = new OutreachConsumer(consumerOptions(broker, queue, options));
    const w = watch(consumer);
    let failuresBeforeOutage = -1;
    let failures = 0;
    const seenCounts: number[] = [];
    consumer.on('outage', () => (failuresBeforeOutage = failures));
    try {
      await consumer.start(async (delivery) => {
        seenCounts.push(delivery.deliveryCount);
        if (down) {
          failures++;
          throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
        }
        await commitBatch(sink, [delivery], schema);
      });
      await waitFor(() => w.accepted.size >= 20, '20 stored first');
      const downAt = Date.now();
      down = true;
      await waitFor(() => w.outages.length === 1, 'the outage event', 10_000);
      const detectedMs = w.outages[0]!.info.since.getTime() - downAt;
      await sleep(3_000);
      down = false;
      await waitFor(() => w.recoveries.length === 1, 'the recovered event', 30_000);
      await waitFor(() => goodIds.every((id) => w.accepted.count(id) > 0), 'every message accepted', 30_000);
      await consumer.close();
      const info = w.outages[0]!.info;
      console.log(
        `outage (d, classified): detected ${detectedMs} ms after the sink went down, after ${failuresBeforeOutage} failure(s): ${JSON.stringify(info)}; ` +
          `recovered after ${(w.recoveries[0]!.info.durationMs / 1000).toFixed(1)} s with ${w.recoveries[0]!.info.failedProbes} failed probes; settled ${JSON.stringify(w.counts)}`,
      );
      expect(info.reason).toBe('classified');
      expect(failuresBeforeOutage).toBe(1); // the first classified error, not the 1000th failure
      expect(classified.length).toBeGreaterThanOrEqual(1);
      expect(w.counts.retried).toBe(0); // that first failure too was handed back, uncounted
      expect(w.counts.rejected).toBe(0);
      expect(seenCounts.filter((c) => c !== 0)).toEqual([]);
      expect(w.recoveries).toHaveLength(1);
      expect(w.outages).toHaveLength(1);
      const rows = await storedRows();
      expect(goodIds.filter((id) => rows.get(id) !== 1)).toEqual([]);
      expect(goodIds.filter((id) => w.accepted.count(id) !== 1)).toEqual([]);
      await expectQueueSize(broker, queue, 0);
    } finally {
      await consumer.close();
      await sink.end();
    }
  }, 120_000);

  // rhea batches the dispositions written in one tick: for consecutive delivery ids it compares
  // outcomes only once a range has two members, so the second of two consecutive deliveries got
  // the FIRST one's outcome (rhea 3.0.5, lib/session.js write_dispositions). The iterator's
  // accept-at-next() followed by the loop's retry(error) is such a pair, so is an accept next to
  // a hand-back, or a reject of an undecodable message next to an accept. The consumer now writes
  // pending dispositions first (flushDispositionsBefore); this test failed before that.
  it('(e) two consecutive deliveries settled differently in the same tick each get their own outcome (accept, then release: the released one comes back)', async () => {
    const queue = uniqueQueue('outage-same-tick');
    const { goodIds, bodies } = workload(3, 0, 60_000);
    await sendAmqp(broker, queue, bodies, { durable: true });
    await expectQueueSize(broker, queue, 3);
    const consumer = new OutreachConsumer(consumerOptions(broker, queue, { strategy: manual() }));
    const w = watch(consumer);
    const held: OutreachDelivery[] = [];
    const seen: string[] = [];
    await consumer.start(
      (delivery) => {
        seen.push(`${delivery.outreach.outreachId}@${delivery.deliveryCount}`);
        held.push(delivery);
        if (held.length === 2) {
          held[0]!.accept(); // done
          held[1]!.release(); // not done: back to the queue, as pause() and an outage hand back
        } else if (held.length > 2) delivery.accept();
      },
      { concurrency: 3 },
    );
    await waitFor(() => held.length >= 2, 'two deliveries in hand');
    const released = held[1]!.outreach.outreachId;
    await waitFor(() => goodIds.every((id) => w.accepted.count(id) > 0), 'every message accepted (the released one after it came back)', 10_000).catch(() => undefined);
    await consumer.close({ deadlineMs: 1_000 });
    const stats = await broker.queueStats(queue);
    console.log(`outage (e): handler saw ${seen.join(', ')}; released ${released}; accepted ${w.accepted.keys().join(', ')}; broker ${JSON.stringify(stats)}`);
    expect(w.counts.released).toBe(1);
    // The released message is either on the queue or came back and was accepted; lost, it is neither.
    const onQueue = stats?.size ?? 0;
    expect(w.accepted.count(released) + onQueue).toBe(1);
  }, 60_000);

  it('(f) batched: messages failing alone within one batch are not an outage (found by the reliability suite)', async () => {
    // Before the fix, a batch's deliveries were accepted only at its commit, so 5 handler
    // failures of different messages between two commits counted as "consecutive": with a
    // failure in 6 the consumer declared an outage in almost every batch.
    const queue = uniqueQueue('outage-batched-alone');
    const { goodIds, bodies } = workload(300, 0, 70_000);
    await sendAmqp(broker, queue, bodies, { durable: true });
    const failing = new Set(goodIds.filter((_, i) => i % 6 === 0));
    const consumer = new OutreachConsumer(
      consumerOptions(broker, queue, {
        prefetch: 100,
        strategy: batched({ size: 50, maxWaitMs: 200, retryDelayMs: 10, commit: async () => undefined }),
      }),
    );
    const w = watch(consumer);
    await consumer.start(
      (delivery) => {
        if (delivery.deliveryCount === 0 && failing.has(delivery.outreach.outreachId)) throw new Error('fails alone, once');
      },
      { concurrency: 10 },
    );
    await waitFor(() => goodIds.every((id) => w.accepted.count(id) > 0), 'every message accepted', 60_000);
    await consumer.close({ deadlineMs: 5_000 });
    expect(w.outages).toEqual([]);
    expect(w.counts.retried).toBe(failing.size);
  }, 90_000);
});
