// Shared parts of the reliability suite: consumer processes that can be killed for real,
// distinctive test data for the leak scan, an AMQP producer that can send any bytes, and the
// PostgreSQL counts every test ends on.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type pg from 'pg';
import { makeOutreachMessages, type OutreachWireMessage } from '../../src/testing/index.js';
import { createOutreachTables } from '../../examples/postgres-sink.js';
import { sendBodies } from '../../examples/seed-dev-queue.js';
import type { SinkConsumerSettings } from './fixtures/sink-consumer.js';
import { PII_PREFIX, scanText, type LeakHit } from './leak-scan.js';

export { PII_PREFIX };

export const ROOT = join(import.meta.dirname, '..', '..');
/** Where every process of the suite leaves what the library gave it (scanned by the leak scan). */
export const CAPTURE_DIR = join(ROOT, '.cache', 'reliability-capture');
mkdirSync(CAPTURE_DIR, { recursive: true });

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** What a consumer process needs of a broker. */
export interface BrokerTarget {
  amqpsPort: number;
  username: string;
  password: string;
  caPem: string;
}

// ------------------------------------------------------------------------------------------
// Test data: every name and email is a token no library text could contain by chance.


/** `n` outreach with distinctive student and employee names/emails; ids `<run>-<i>`. */
export function distinctiveMessages(n: number, run: string, seed = 1): OutreachWireMessage[] {
  return [...makeOutreachMessages(n, { seed, students: 2 })].map((m, i) => ({
    ...m,
    outreachId: `${run}-${i}`,
    employeeFirstName: `${PII_PREFIX}Emp${run}F${i}`,
    employeeLastName: `${PII_PREFIX}Emp${run}L${i}`,
    employeeEmail: `${PII_PREFIX}emp${run}e${i}@example.edu`,
    students: m.students.map((s, j) => ({
      ...s,
      firstName: `${PII_PREFIX}Stu${run}F${i}x${j}`,
      lastName: `${PII_PREFIX}Stu${run}L${i}x${j}`,
      emailAddress: `${PII_PREFIX}stu${run}e${i}x${j}@example.edu`,
    })),
  }));
}

/** A short id for a run, usable in a table or queue name. */
export const runId = (): string => randomUUID().replace(/-/g, '').slice(0, 8);

// ------------------------------------------------------------------------------------------
// Producer

/** One message to send: a string (amqp-value) or bytes (a data section), with a tag property. */
export interface Outgoing {
  body: string | Buffer;
  tag: string;
}

/** Sends persistent messages over TLS with a plain rhea sender (the examples' seeder); resolves when the broker accepted all. */
export function send(broker: BrokerTarget, queue: string, items: readonly Outgoing[]): Promise<void> {
  return sendBodies(broker, queue, items.map((i) => i.body), { properties: items.map((i) => ({ tag: i.tag })) });
}

/** Outreach as JSON strings (what a JMS TextMessage becomes), tagged with their outreachId. */
export const asOutgoing = (messages: readonly OutreachWireMessage[]): Outgoing[] =>
  messages.map((m) => ({ body: JSON.stringify(m), tag: m.outreachId }));

// ------------------------------------------------------------------------------------------
// PostgreSQL

export const PG = { host: '127.0.0.1', port: 5432, database: 'test', user: 'postgres' } as const;

/** A schema of its own for one test, with the example sink's tables. */
export async function sinkSchema(pool: pg.Pool, name: string): Promise<string> {
  const schema = `reliab_${name}`;
  await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE; CREATE SCHEMA ${schema}`);
  await createOutreachTables(pool, schema);
  return schema;
}

/** What the sink holds: distinct outreach, and repeats (upserts that found the row already there). */
export async function sinkCounts(pool: pg.Pool, schema: string): Promise<{ rows: number; duplicates: number }> {
  const { rows } = await pool.query<{ rows: string; received: string | null }>(
    `SELECT count(*) AS rows, sum(received_count) AS received FROM ${schema}.outreach`,
  );
  const n = Number(rows[0]!.rows);
  return { rows: n, duplicates: Number(rows[0]!.received ?? 0) - n };
}

/** The outreach ids in the sink. */
export async function sinkIds(pool: pg.Pool, schema: string): Promise<Set<string>> {
  const { rows } = await pool.query<{ outreach_id: string }>(`SELECT outreach_id FROM ${schema}.outreach`);
  return new Set(rows.map((r) => r.outreach_id));
}

/** Ids sent but not in the sink, and ids in the sink that were never sent. */
export function compareIds(sent: readonly string[], stored: Set<string>): { missing: string[]; unexpected: string[] } {
  const sentSet = new Set(sent);
  return { missing: sent.filter((id) => !stored.has(id)), unexpected: [...stored].filter((id) => !sentSet.has(id)) };
}

// ------------------------------------------------------------------------------------------
// Consumer processes

/** One line a consumer process printed. */
export interface ConsumerLine {
  type: string;
  at: number;
  [key: string]: unknown;
}

/** A consumer process (test/reliability/fixtures/sink-consumer.ts) and what it printed. */
export class ConsumerProcess {
  readonly lines: ConsumerLine[] = [];
  readonly name: string;
  readonly captureFile: string;
  stderr = '';
  readonly #child: ChildProcess;
  readonly #exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;

  constructor(settings: SinkConsumerSettings) {
    this.name = settings.name;
    this.captureFile = settings.captureFile;
    this.#child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', 'test/reliability/fixtures/sink-consumer.ts'], {
      cwd: ROOT,
      env: { ...process.env, RELIABILITY_SETTINGS: JSON.stringify(settings) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let buffered = '';
    this.#child.stdout!.on('data', (d: Buffer) => {
      buffered += d.toString('utf8');
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        try {
          this.lines.push(JSON.parse(line) as ConsumerLine);
        } catch {
          this.stderr += `(stdout) ${line}\n`;
        }
      }
    });
    this.#child.stderr!.on('data', (d: Buffer) => void (this.stderr += d.toString('utf8')));
    this.#exited = new Promise((resolve) =>
      this.#child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        // what the process wrote to stderr (a crash's stack, say) is scanned too
        writeFileSync(settings.captureFile.replace(/\.jsonl$/, '.stderr'), this.stderr);
        resolve(this.exit);
      }),
    );
  }

  get pid(): number {
    return this.#child.pid!;
  }

  /** Lines of one type. */
  of(type: string): ConsumerLine[] {
    return this.lines.filter((l) => l.type === type);
  }

  /** Outreach this process stored (committed batches, repeats included). */
  get stored(): number {
    return this.of('stored').reduce((sum, l) => sum + Number(l.n), 0);
  }

  /** Waits for a line of `type` (after `since`), failing at once if the process died. */
  async waitFor(type: string, timeoutMs = 60_000, since = 0): Promise<ConsumerLine> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const line = this.lines.find((l) => l.type === type && l.at >= since);
      if (line) return line;
      if (this.exit) throw new Error(`consumer ${this.name} exited (${JSON.stringify(this.exit)}) before "${type}":\n${this.stderr.slice(-3000)}`);
      if (Date.now() > until) throw new Error(`consumer ${this.name}: no "${type}" line in ${timeoutMs} ms:\n${this.stderr.slice(-3000)}`);
      await sleep(20);
    }
  }

  /** kill -9: no close, no disposition, nothing flushed. */
  async kill9(): Promise<void> {
    this.#child.kill('SIGKILL');
    await this.#exited;
  }

  /** SIGTERM: the fixture closes the consumer gracefully; resolves with its exit. */
  async stop(timeoutMs = 30_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.exit) return this.exit;
    this.#child.kill('SIGTERM');
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), timeoutMs);
    const exit = await this.#exited;
    clearTimeout(timer);
    return exit;
  }
}

/** Settings of a consumer process with the suite's defaults. */
export function consumerSettings(
  broker: BrokerTarget | readonly BrokerTarget[],
  queue: string,
  schema: string,
  extra: Partial<SinkConsumerSettings> & { name: string },
): SinkConsumerSettings {
  const brokers = Array.isArray(broker) ? (broker as readonly BrokerTarget[]) : [broker as BrokerTarget];
  const first = brokers[0]!;
  return {
    urls: brokers.map((b) => `amqp+ssl://127.0.0.1:${b.amqpsPort}`),
    username: first.username,
    password: first.password,
    ca: first.caPem,
    queue,
    schema,
    pgPort: PG.port,
    prefetch: 100,
    batchSize: 50,
    handlerDelayMs: 0,
    failRate: 0,
    sampleMs: 0,
    captureFile: join(CAPTURE_DIR, `${extra.name}-${runId()}.jsonl`),
    ...extra,
  };
}

/** Polls until `check` holds; fails with `what` (and the last value) after `timeoutMs`. */
export async function until<T>(read: () => Promise<T>, check: (value: T) => boolean, what: string, timeoutMs: number, everyMs = 200): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < end) {
    last = await read();
    if (check(last)) return last;
    await sleep(everyMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${JSON.stringify(last)})`);
}

/**
 * The leak check each test ends with: scans the captures of its consumer processes for its
 * broker password and the suite's names and emails, prints the counts, and returns the hits.
 */
export function leakCheck(label: string, password: string, processes: readonly ConsumerProcess[]): LeakHit[] {
  const files = processes.flatMap((p) => [p.captureFile, p.captureFile.replace(/\.jsonl$/, '.stderr')]);
  let lines = 0;
  let bytes = 0;
  const hits: LeakHit[] = [];
  for (const f of files) {
    let text = '';
    try {
      text = readFileSync(f, 'utf8');
    } catch {
      continue; // a process that never wrote
    }
    bytes += text.length;
    lines += text.split('\n').length - 1;
    hits.push(...scanText(text, [password], f));
  }
  console.log(`[reliability] leak scan (${label}): ${processes.length} processes, ${lines} captured lines, ${(bytes / 1024).toFixed(0)} KiB: ${hits.length} hits`);
  return hits;
}
