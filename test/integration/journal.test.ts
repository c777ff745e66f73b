// Journal mode against the real broker and the real PostgreSQL on this machine: a journaling
// consumer process killed with SIGKILL again and again loses nothing; a sink outage leaves the
// broker drained into the journal; a full journal leaves the rest on the broker; a disk that
// refuses writes fails the consumer with nothing accepted that is not on disk; a message that
// fails for good stays in the journal's own dead letters, never ActiveMQ.DLQ; one process holds a
// journal directory. Every message is counted by its outreach id. Replay and re-drive are tested
// elsewhere.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { atLeastOnce, OutreachConsumer, type JournalFullInfo, type OutageInfo, type RecoveryInfo } from '../../src/index.js';
import { listDeadLetters } from '../../src/journal/dead-letters.js';
import { makeOutreachMessages } from '../../src/testing/index.js';
import type { JournalSinkSettings } from './fixtures/journal-sink-consumer.js';
import { consumerOptions, dlqSize, expectQueueSize, queueStatsOf, sendAmqp, sharedBroker, tally, uniqueQueue, waitFor } from './support.js';
import { TcpProxy } from './tcp-proxy.js';

const broker = sharedBroker();
const PG = { host: '127.0.0.1', port: 5432, database: 'test', user: 'postgres' } as const;
/** The test's own view of the database. */
const direct = new pg.Pool({ ...PG, max: 2 });
const schema = `journal_${process.pid}`;
const FIXTURE = 'test/integration/fixtures/journal-sink-consumer.ts';
const dirs: string[] = [];

beforeAll(async () => {
  await direct.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE; CREATE SCHEMA ${schema}`);
  await direct.query(`CREATE TABLE ${schema}.calls (outreach_id text NOT NULL); CREATE TABLE ${schema}.stored (outreach_id text PRIMARY KEY, stored integer NOT NULL)`);
});
beforeEach(async () => {
  await direct.query(`TRUNCATE ${schema}.calls, ${schema}.stored`);
});
afterAll(async () => {
  await direct.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await direct.end();
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function journalDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'journal-it-'));
  dirs.push(dir);
  return dir;
}

/** `n` small valid outreach bodies whose ids start with `prefix` and are unique to this run. */
function outreachBodies(n: number, prefix: string, seed: number): { ids: string[]; bodies: string[] } {
  const run = randomUUID().slice(0, 8);
  const messages = [...makeOutreachMessages(n, { seed, students: 1 })].map((m, i) => ({ ...m, outreachId: `${prefix}-${run}-${i}` }));
  return { ids: messages.map((m) => m.outreachId), bodies: messages.map((m) => JSON.stringify(m)) };
}

/** The upsert the in-process handlers use: one row per outreach id, `stored + 1` on a repeat. */
async function store(pool: pg.Pool, id: string): Promise<void> {
  await pool.query(`INSERT INTO ${schema}.stored (outreach_id, stored) VALUES ($1, 1) ON CONFLICT (outreach_id) DO UPDATE SET stored = ${schema}.stored.stored + 1`, [id]);
}

/** Rows of the sink by outreach id, with how many times each was upserted. */
async function storedRows(): Promise<Map<string, number>> {
  const { rows } = await direct.query<{ outreach_id: string; stored: number }>(`SELECT outreach_id, stored FROM ${schema}.stored`);
  return new Map(rows.map((r) => [r.outreach_id, r.stored]));
}

async function storedCount(): Promise<number> {
  const { rows } = await direct.query<{ n: string }>(`SELECT count(*) AS n FROM ${schema}.stored`);
  return Number(rows[0]!.n);
}

/** Handler calls of the consumer processes, by outreach id. */
async function handlerCalls(): Promise<Map<string, number>> {
  const { rows } = await direct.query<{ outreach_id: string; n: string }>(`SELECT outreach_id, count(*) AS n FROM ${schema}.calls GROUP BY outreach_id`);
  return new Map(rows.map((r) => [r.outreach_id, Number(r.n)]));
}

/** The journal's segment lines: the outreach ids of the complete ones, and the bytes of an incomplete last line. */
async function journalLines(dir: string): Promise<{ ids: string[]; partialBytes: number }> {
  const ids: string[] = [];
  let partialBytes = 0;
  const names = (await readdir(join(dir, 'segments'))).sort();
  for (const name of names) {
    const text = await readFile(join(dir, 'segments', name), 'utf8');
    const lines = text.split('\n');
    partialBytes += Buffer.byteLength(lines.pop()!); // '' when the file ends with a newline
    for (const line of lines) ids.push((JSON.parse(line) as { outreachId: string }).outreachId);
  }
  return { ids, partialBytes };
}

async function deadLetterIds(dir: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const line of listDeadLetters(dir)) ids.push(JSON.parse(line.text).outreachId as string);
  return ids;
}

/** A consumer process (fixtures/journal-sink-consumer.ts) and the lines it printed. */
class SinkProcess {
  readonly lines: { type: string; code?: string; message?: string; [key: string]: unknown }[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr = '';
  readonly #child: ChildProcess;

  constructor(settings: JournalSinkSettings, options: { maxFileBytes?: number } = {}) {
    const node = [process.execPath, '--import', 'tsx', FIXTURE];
    // prlimit: the process may not grow a file beyond this size (writes fail with EFBIG), the
    // way a full disk or a quota refuses them. Node ignores SIGXFSZ, so the write returns the error.
    const [command, ...args] = options.maxFileBytes === undefined ? node : ['prlimit', `--fsize=${options.maxFileBytes}`, ...node];
    this.#child = spawn(command!, args, { env: { ...process.env, JOURNAL_SINK_SETTINGS: JSON.stringify(settings) }, stdio: ['ignore', 'pipe', 'pipe'] });
    let buffered = '';
    this.#child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        try {
          this.lines.push(JSON.parse(line) as SinkProcess['lines'][number]);
        } catch {
          this.lines.push({ type: 'stdout', message: line });
        }
      }
    });
    this.#child.stderr!.on('data', (chunk: Buffer) => (this.stderr += chunk.toString('utf8')));
    this.exited = new Promise((resolve) => this.#child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  get pid(): number {
    return this.#child.pid!;
  }

  /** Resolves with the first line of `type`; fails if the process exits first. */
  async line(type: string, timeoutMs = 60_000): Promise<SinkProcess['lines'][number]> {
    let gone = false;
    void this.exited.then(() => (gone = true));
    await waitFor(() => gone || this.lines.some((l) => l.type === type), `a '${type}' line from the consumer process`, timeoutMs);
    const found = this.lines.find((l) => l.type === type);
    if (found === undefined) throw new Error(`the consumer process exited without a '${type}' line: ${JSON.stringify(this.lines)} ${this.stderr.slice(-2000)}`);
    return found;
  }

  kill(signal: NodeJS.Signals): void {
    this.#child.kill(signal);
  }
}

function sinkSettings(queue: string, dir: string, extra: Partial<JournalSinkSettings> = {}): JournalSinkSettings {
  return {
    url: `amqp+ssl://127.0.0.1:${broker.amqpsPort}`,
    username: broker.username,
    password: broker.password,
    ca: broker.caPem,
    queue,
    dir,
    schema,
    prefetch: 20,
    concurrency: 4,
    ...extra,
  };
}

describe('journal mode (ActiveMQ and PostgreSQL)', () => {
  it('kill -9 of a journaling consumer process 5 times while it drains 5,000 outreach: none lost, repeats within the unsettled window', async () => {
    const queue = uniqueQueue('journal-kill');
    const { ids, bodies } = outreachBodies(5000, 'kill', 100);
    await sendAmqp(broker, queue, bodies, { durable: true });
    await expectQueueSize(broker, queue, ids.length, 60_000);
    const dlqBefore = await dlqSize(broker);
    const dir = await journalDir();
    const settings = sinkSettings(queue, dir);
    const kills: { afterMs: number; stored: number; calls: number; lines: number }[] = [];
    for (let k = 0; k < 5; k++) {
      const child = new SinkProcess(settings);
      await child.line('started');
      // A random point: early ones fall while the broker is still being drained into the journal.
      const afterMs = Math.floor(Math.random() * 800);
      await sleep(afterMs);
      child.kill('SIGKILL');
      expect((await child.exited).signal).toBe('SIGKILL');
      const calls = [...(await handlerCalls()).values()].reduce((a, b) => a + b, 0);
      kills.push({ afterMs, stored: await storedCount(), calls, lines: (await journalLines(dir)).ids.length });
    }
    const last = new SinkProcess(settings);
    await last.line('started');
    // 'drained': the broker has nothing more and the journal's lines are all settled.
    await last.line('drained', 120_000);
    last.kill('SIGTERM');
    await last.line('closed');
    expect((await last.exited).code).toBe(0);

    const rows = await storedRows();
    const calls = await handlerCalls();
    const repeats = [...calls.values()].reduce((sum, n) => sum + n - 1, 0);
    const journal = await journalLines(dir);
    console.log(
      `journal kill -9: ${kills.map((k) => `killed ${k.afterMs} ms after start at ${k.stored} stored/${k.calls} calls/${k.lines} lines`).join('; ')}; ` +
        `then ${rows.size} stored, ${repeats} repeated handler calls (at most ${kills.length} x prefetch ${settings.prefetch}), ${journal.ids.length} journal lines for ${ids.length} outreach ` +
        `(${journal.ids.length - new Set(journal.ids).size} written twice)`,
    );
    // The kills fell in the middle of the work, not after it.
    expect(kills.at(-1)!.stored).toBeLessThan(ids.length);
    expect(ids.filter((id) => !rows.has(id))).toEqual([]); // none lost
    expect(rows.size).toBe(ids.length); // and nothing else
    expect(ids.filter((id) => (calls.get(id) ?? 0) < 1)).toEqual([]);
    expect(repeats).toBeLessThanOrEqual(kills.length * settings.prefetch);
    expect(journal.partialBytes).toBe(0);
    await expectQueueSize(broker, queue, 0);
    expect(await dlqSize(broker)).toBe(dlqBefore);
    expect(await deadLetterIds(dir)).toEqual([]);
  }, 240_000);

  // Two minutes, as the issue asks (the whole file runs in about 3.5 minutes). Were CI time to
  // need it shorter: with probeDelayMs 500 doubling to maxProbeDelayMs 2000, 20 s is still about
  // ten probe rounds (measured), and the assertions hold as they are.
  const OUTAGE_MS = 120_000;
  it(`a sink outage (PostgreSQL cut for ${OUTAGE_MS / 1000} s): the broker is drained into the journal meanwhile, the handler resumes from it after; nothing dead-lettered`, async () => {
    const queue = uniqueQueue('journal-outage');
    const before = outreachBodies(100, 'early', 200);
    const during = outreachBodies(2000, 'during', 300);
    const all = [...before.ids, ...during.ids];
    await sendAmqp(broker, queue, before.bodies, { durable: true });
    const dlqBefore = await dlqSize(broker);
    const dir = await journalDir();
    const proxy = await TcpProxy.start(PG.port, PG.host);
    const sink = new pg.Pool({ ...PG, port: proxy.port, max: 4, connectionTimeoutMillis: 1_000, idleTimeoutMillis: 5_000 });
    sink.on('error', () => undefined); // idle clients whose connection the cut dropped
    sink.on('connect', (client) => client.on('error', () => undefined)); // clients in use at the cut
    const consumer = new OutreachConsumer(
      consumerOptions(broker, queue, { prefetch: 20, journal: { dir }, outage: { probeDelayMs: 500, maxProbeDelayMs: 2_000 } }),
    );
    consumer.on('error', () => undefined);
    const outages: OutageInfo[] = [];
    const recoveries: RecoveryInfo[] = [];
    consumer.on('outage', (info) => outages.push(info));
    consumer.on('recovered', (info) => recoveries.push(info));
    const accepted = tally();
    consumer.on('settled', (d, outcome) => {
      if (outcome === 'accepted') accepted.add((d.outreach as { outreachId: string }).outreachId);
    });
    const sampler = broker.sampleQueue(queue, { intervalMs: 250 });
    try {
      await consumer.start((delivery) => store(sink, delivery.outreach.outreachId), { concurrency: 4 });
      await sampler.ready;
      await waitFor(() => accepted.size === before.ids.length, 'the first 100 stored before the cut');
      const cutAt = Date.now();
      await proxy.cut();
      // While the sink is down, 2,000 more come; the broker must hand them all to the journal.
      await sendAmqp(broker, queue, during.bodies, { durable: true });
      const publishedAt = Date.now();
      await waitFor(() => outages.length === 1, 'the outage event', 30_000);
      const lastSize = (): number | undefined => sampler.samples.filter((s) => s.exists).at(-1)?.size;
      await waitFor(() => lastSize() === 0, 'the broker queue empty while the sink is down', OUTAGE_MS - (publishedAt - cutAt));
      const emptyAt = Date.now();
      const atEmpty = consumer.health();
      expect(atEmpty.outage).toBeDefined();
      expect(atEmpty.journal?.unhandled).toBeGreaterThanOrEqual(during.ids.length);
      const storedAtEmpty = accepted.size;
      await sleep(Math.max(0, cutAt + OUTAGE_MS - Date.now()));
      const atRestore = consumer.health();
      expect(atRestore.outage).toBeDefined();
      expect(accepted.size).toBe(storedAtEmpty); // nothing stored while the sink is down
      const restoredAt = Date.now();
      await proxy.resume();
      await waitFor(() => recoveries.length === 1, 'the recovered event', 30_000);
      await waitFor(() => all.every((id) => accepted.count(id) > 0), 'every outreach accepted', 120_000);
      const report = await consumer.close();
      const samples = (await sampler.stop()).filter((s) => s.exists);
      const whileDown = samples.filter((s) => s.at >= publishedAt && s.at < restoredAt).map((s) => s.size!);
      console.log(
        `journal outage: cut once the first 100 were stored; outage ${JSON.stringify(outages[0])}; the 2,000 published ${publishedAt - cutAt} ms after the cut; ` +
          `broker queue empty ${emptyAt - publishedAt} ms after the publish, ${restoredAt - emptyAt} ms before the sink came back; sizes while down ${whileDown.slice(0, 12).join(',')}…; ` +
          `failed probes ${atRestore.outage?.failedProbes}; recovered ${JSON.stringify(recoveries[0])}; close ${JSON.stringify(report)}`,
      );
      // The queue never grew after the publish, and it was empty before the sink came back.
      expect(whileDown.length).toBeGreaterThan(2);
      expect(whileDown.every((size, i) => i === 0 || size <= whileDown[i - 1]!)).toBe(true);
      expect(whileDown.at(-1)).toBe(0);
      expect(atRestore.outage!.failedProbes).toBeGreaterThanOrEqual(3);
      const rows = await storedRows();
      expect(all.filter((id) => !rows.has(id))).toEqual([]);
      expect(rows.size).toBe(all.length);
      expect(all.filter((id) => accepted.count(id) !== 1)).toEqual([]);
      expect([...rows.values()].filter((n) => n > 1).length).toBeLessThanOrEqual(4); // a commit applied whose answer the cut lost
      expect(await deadLetterIds(dir)).toEqual([]);
      expect(await readFile(join(dir, 'dead-letters.jsonl'), 'utf8').catch(() => '')).toBe('');
      expect(report).toMatchObject({ rejected: 0, lost: 0 });
      await expectQueueSize(broker, queue, 0);
      expect(await dlqSize(broker)).toBe(dlqBefore);
    } finally {
      await consumer.close().catch(() => undefined);
      await sampler.stop().catch(() => undefined);
      await sink.end();
      await proxy.close();
    }
  }, 240_000);

  it('a full journal (tiny maxUnhandledBytes, a stuck handler): nothing more taken, the broker keeps the rest; after the release each handled once', async () => {
    const queue = uniqueQueue('journal-full');
    const { ids, bodies } = outreachBodies(300, 'full', 400);
    await sendAmqp(broker, queue, bodies, { durable: true });
    await expectQueueSize(broker, queue, ids.length);
    const dir = await journalDir();
    const maxUnhandledBytes = 40_000;
    const consumer = new OutreachConsumer(
      consumerOptions(broker, queue, { prefetch: 5, journal: { dir, maxUnhandledBytes, window: 10, keepHandledMs: 0, keepHandledBytes: 0 } }),
    );
    consumer.on('error', () => undefined);
    const fullEvents: JournalFullInfo[] = [];
    consumer.on('journalFull', (info) => fullEvents.push(info));
    let release!: () => void;
    const stuck = new Promise<void>((resolve) => (release = resolve));
    const handled = tally();
    let calls = 0;
    try {
      await consumer.start(async (delivery) => {
        calls++;
        await stuck;
        handled.add(delivery.outreach.outreachId);
      });
      await waitFor(() => fullEvents.length > 0, 'the journalFull event');
      expect(fullEvents[0]).toMatchObject({ full: true, maxUnhandledBytes });
      expect(fullEvents[0]!.unhandledBytes).toBeGreaterThanOrEqual(maxUnhandledBytes);
      // Held over a few seconds: nothing more is taken, the broker keeps the rest.
      const sizes: number[] = [];
      for (let i = 0; i < 3; i++) {
        sizes.push((await queueStatsOf(broker, queue)).size);
        await sleep(500);
      }
      const stats = await queueStatsOf(broker, queue);
      const health = consumer.health();
      const onDisk = await journalLines(dir);
      console.log(
        `journal full: ${JSON.stringify(fullEvents[0])}; broker queue ${sizes.join(', ')}, ${stats.size} (dequeued ${stats.dequeued}); ` +
          `health ${JSON.stringify(health.journal)}; ${onDisk.ids.length} lines on disk; ${calls} handler calls (stuck)`,
      );
      expect(health.journal?.full).toBe(true);
      expect(sizes.every((s) => s === stats.size)).toBe(true);
      expect(stats.size).toBeGreaterThan(0);
      // Every message taken from the broker is a line on disk, none handled: the first ones, in order.
      expect(stats.dequeued).toBe(ids.length - stats.size);
      expect(onDisk.ids).toEqual(ids.slice(0, stats.dequeued));
      expect(health.journal?.unhandled).toBe(stats.dequeued);
      expect(handled.size).toBe(0);
      expect(calls).toBeLessThanOrEqual(5);

      release();
      await waitFor(() => handled.size === ids.length, 'every outreach handled', 60_000);
      await waitFor(() => consumer.health().journal?.unhandled === 0, 'the journal settled');
      expect(ids.filter((id) => handled.count(id) !== 1)).toEqual([]);
      expect(handled.size).toBe(ids.length);
      expect(fullEvents.at(-1)?.full).toBe(false);
      expect(consumer.health().journal?.full).toBe(false);
      await expectQueueSize(broker, queue, 0);
    } finally {
      release();
      await consumer.close();
    }
  }, 120_000);

  it('a disk that refuses writes (a file size limit: EFBIG): JOURNAL_FAILED, and every message that is not a complete line in the journal is still on the broker', async () => {
    const queue = uniqueQueue('journal-disk');
    const { ids, bodies } = outreachBodies(400, 'disk', 500);
    await sendAmqp(broker, queue, bodies, { durable: true });
    await expectQueueSize(broker, queue, ids.length);
    const dir = await journalDir();
    // About 40 lines of 2.4 kB fit in 100 kB, written in groups of at most 10 (the window): some
    // groups are written and accepted, then a write fails part-way through a group.
    const child = new SinkProcess(sinkSettings(queue, dir, { window: 10 }), { maxFileBytes: 100_000 });
    const failed = await child.line('error');
    const exit = await child.exited;
    expect(failed).toMatchObject({ code: 'JOURNAL_FAILED', source: 'connection' });
    expect(failed.message).toMatch(/EFBIG|too large/i);
    expect(exit.code, child.stderr).toBe(3);
    expect(child.lines.find((l) => l.type === 'closed')).toMatchObject({ state: 'failed' });

    const onDisk = await journalLines(dir);
    const complete = new Set(onDisk.ids);
    await waitFor(async () => (await queueStatsOf(broker, queue)).consumers === 0, 'the consumer gone from the broker');
    const stats = await queueStatsOf(broker, queue);
    // Drain what the broker still holds with a plain consumer, counting by id.
    const left = tally();
    const plain = new OutreachConsumer(consumerOptions(broker, queue));
    plain.on('error', () => undefined);
    await plain.start((delivery) => void left.add(delivery.outreach.outreachId));
    await waitFor(() => left.size === stats.size, 'what the broker kept, drained');
    await plain.close();
    console.log(
      `journal disk error: ${failed.message}; ${complete.size} complete lines and ${onDisk.partialBytes} bytes of a cut line on disk; ` +
        `broker dequeued ${stats.dequeued}, kept ${stats.size}`,
    );
    expect(stats.dequeued).toBeGreaterThan(0);
    expect(stats.size).toBeGreaterThan(0);
    // Nothing accepted on the broker that is not a complete line on disk.
    expect(stats.dequeued).toBeLessThanOrEqual(complete.size);
    expect(ids.filter((id) => !complete.has(id) && left.count(id) === 0)).toEqual([]);
    expect(left.size + stats.dequeued).toBe(ids.length);
    expect(left.repeated()).toEqual([]);

    // The disk fixed: a restart cuts the incomplete line and hands out the complete lines not yet handled.
    const again = new SinkProcess(sinkSettings(queue, dir));
    await again.line('started');
    await again.line('drained');
    again.kill('SIGTERM');
    await again.line('closed');
    const rows = await storedRows();
    expect(ids.filter((id) => !rows.has(id) && left.count(id) === 0)).toEqual([]);
    expect((await journalLines(dir)).partialBytes).toBe(0);
  }, 120_000);

  it('a message that fails for good ends in the journal\u2019s dead-letters.jsonl, not ActiveMQ.DLQ; every good one in PostgreSQL', async () => {
    const queue = uniqueQueue('journal-poison');
    const good = outreachBodies(200, 'good', 600);
    const poison = outreachBodies(2, 'poison', 700);
    await sendAmqp(broker, queue, [...good.bodies.slice(0, 100), poison.bodies[0]!, ...good.bodies.slice(100), poison.bodies[1]!], { durable: true });
    await expectQueueSize(broker, queue, 202);
    const dlqBefore = await dlqSize(broker);
    const dir = await journalDir();
    const attempts = new Map<string, number[]>();
    const hooked: string[] = [];
    const consumer = new OutreachConsumer(
      consumerOptions(broker, queue, {
        journal: { dir },
        strategy: atLeastOnce({ maxAttempts: 3, retryDelayMs: 50, onDeadLetter: (d) => void hooked.push(d.outreach.outreachId) }),
      }),
    );
    consumer.on('error', () => undefined);
    try {
      await consumer.start(
        async (delivery) => {
          const id = delivery.outreach.outreachId;
          attempts.set(id, [...(attempts.get(id) ?? []), delivery.deliveryCount]);
          if (id.startsWith('poison-')) throw new Error(`the CRM refuses record ${id}`);
          await store(direct, id);
        },
        { concurrency: 4 },
      );
      await waitFor(async () => (await deadLetterIds(dir)).length === 2 && (await storedCount()) === 200, 'two dead letters and 200 stored', 30_000);
      await waitFor(() => consumer.health().journal?.unhandled === 0, 'the journal settled');
    } finally {
      await consumer.close();
    }
    const letters = [];
    for await (const line of listDeadLetters(dir)) letters.push(line);
    expect(letters.map((l) => JSON.parse(l.text).outreachId as string).sort()).toEqual([...poison.ids].sort());
    for (const letter of letters) expect(letter.deadLetter.reason).toMatch(/3 attempts/);
    expect(poison.ids.map((id) => attempts.get(id)?.join())).toEqual(['0,1,2', '0,1,2']);
    expect(hooked.sort()).toEqual([...poison.ids].sort());
    const rows = await storedRows();
    expect(good.ids.filter((id) => rows.get(id) !== 1)).toEqual([]);
    expect(rows.size).toBe(200);
    await expectQueueSize(broker, queue, 0);
    expect(await dlqSize(broker)).toBe(dlqBefore);
  }, 60_000);

  it('a second consumer process on the same journal directory is refused with JOURNAL_IN_USE; the first goes on', async () => {
    const queue = uniqueQueue('journal-in-use');
    const dir = await journalDir();
    const first = new SinkProcess(sinkSettings(queue, dir));
    try {
      await first.line('started');
      const second = new SinkProcess(sinkSettings(queue, dir));
      const refused = await second.line('start-failed');
      expect(refused.code).toBe('JOURNAL_IN_USE');
      expect(refused.message).toContain(`in use by process ${first.pid}`);
      expect((await second.exited).code).toBe(2);
      // The first still holds the directory and works.
      const { ids, bodies } = outreachBodies(20, 'in-use', 800);
      await sendAmqp(broker, queue, bodies, { durable: true });
      await waitFor(async () => (await storedCount()) === ids.length, 'the 20 stored by the first process');
      const rows = await storedRows();
      expect(ids.filter((id) => rows.get(id) !== 1)).toEqual([]);
    } finally {
      first.kill('SIGTERM');
      await first.exited;
    }
  }, 60_000);
});
