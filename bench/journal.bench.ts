// Journal mode benchmark on a real local broker (ActiveMQ over AMQP+TLS, persistent messages on
// KahaDB, the same ~2.4 KB outreach bodies for every runner, rounds rotated, a warm-up round):
//
// - broker drain rate: messages per second until the broker has every message accepted (its queue
//   empty, read over JMX every 20 ms), journal off against journal on (each line written and
//   fsynced before it is accepted), both with a handler that does nothing (so the broker side is
//   what is measured, not the handler);
// - handler rate from the journal: the journal filled first (the broker drained into it while the
//   handler is stuck), then the handler let go: messages per second it settles, against the
//   handler rate from the broker with journal off;
// - disk bytes per outreach in the journal's segments, against the body's own size;
// - `civitas-outreach replay --archive <journal dir>` to /dev/null over lines made directly with
//   archiveLine + JournalStore (no broker), against `cat` of the same segment files.
// Run: npm run bench:journal   (BENCH_MESSAGES, BENCH_ROUNDS, BENCH_WARMUP_ROUNDS, BENCH_REPLAY_LINES, BENCH_REPLAY_ROUNDS)
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBroker, type BrokerHandle } from '../scripts/activemq.mjs';
import { makeOutreachMessages } from '../src/testing/index.js';
import { JournalStore } from '../src/journal/journal-store.js';
import { archiveLine } from '../src/journal/line.js';
import type * as Api from '../src/index.js';
import { sendBodies } from '../examples/seed-dev-queue.js';
import { brokerOptions, record, spread } from './support.js';

// The consumer as users run it: the built package (`npm run bench:journal` builds first).
const built = '../dist/index.js';
const { OutreachConsumer } = (await import(built)) as typeof Api;
type OutreachConsumer = InstanceType<typeof OutreachConsumer>;

const messages = Number(process.env.BENCH_MESSAGES ?? 5_000);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const warmupRounds = Number(process.env.BENCH_WARMUP_ROUNDS ?? 1);
const replayCount = Number(process.env.BENCH_REPLAY_LINES ?? 100_000);
const replayRounds = Number(process.env.BENCH_REPLAY_ROUNDS ?? 5);
const concurrency = 8;
const bodies = [...makeOutreachMessages(messages, { seed: 7 })].map((m) => JSON.stringify(m));
const bodyBytes = bodies.reduce((n, b) => n + Buffer.byteLength(b), 0) / bodies.length;
const root = join(import.meta.dirname, '..');
const scratch = mkdtempSync(join(tmpdir(), 'bench-journal-'));

interface Run {
  /** From start() until the broker's queue was empty (every message accepted there). */
  readonly brokerMs: number;
  /** From the start of handling until the handler's last message was settled. */
  readonly handlerMs: number;
  /** Segment bytes per message, journal on only. */
  readonly bytesPerMessage?: number;
}

type Runner = (broker: BrokerHandle, queue: string) => Promise<Run>;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Bytes of a journal's segment files. */
function segmentBytes(dir: string): number {
  const segments = join(dir, 'segments');
  return readdirSync(segments).reduce((n, name) => n + statSync(join(segments, name)).size, 0);
}

/**
 * Runs `body` while a JMX sampler watches `queue` (started and connected first); returns what
 * `body` returns, the epoch ms at which it began, and the epoch ms of the first reading with the
 * queue empty (every message accepted on the broker).
 */
async function watched<T>(broker: BrokerHandle, queue: string, body: () => Promise<T>): Promise<{ result: T; startedAt: number; emptyAt: number }> {
  const sampler = broker.sampleQueue(queue, { intervalMs: 20 });
  await sampler.ready;
  const isEmpty = (s: (typeof sampler.samples)[number]): boolean => s.exists && s.size === 0 && s.dequeued >= messages;
  try {
    const startedAt = Date.now();
    const result = await body();
    // The sampler reads every 20 ms: wait for the reading after the last accept.
    for (let waited = 0; !sampler.samples.some(isEmpty); waited += 20) {
      if (waited > 30_000) throw new Error(`the broker's queue ${queue} was never seen empty`);
      await sleep(20);
    }
    return { result, startedAt, emptyAt: sampler.samples.find(isEmpty)!.at };
  } finally {
    await sampler.stop();
  }
}

/** Counts the handler's accepted settlements; `all` resolves at `messages`, with performance.now(). */
function countSettled(consumer: OutreachConsumer): Promise<number> {
  let settled = 0;
  return new Promise((resolve) =>
    consumer.on('settled', (_d, outcome) => {
      if (outcome === 'accepted' && ++settled === messages) resolve(performance.now());
    }),
  );
}

async function closeChecked(consumer: OutreachConsumer): Promise<void> {
  const report = await consumer.close();
  if (report.accepted !== messages) throw new Error(`accepted ${report.accepted} of ${messages}`);
}

function consumerFor(broker: BrokerHandle, queue: string, journalDir?: string): OutreachConsumer {
  return new OutreachConsumer({ ...brokerOptions(broker, queue), telemetry: false, ...(journalDir === undefined ? {} : { journal: { dir: journalDir } }) });
}

/** Journal off or on, a handler that does nothing: how fast the broker is drained, and the handler. */
const fastHandler = (journal: boolean): Runner => async (broker, queue) => {
  const dir = journal ? mkdtempSync(join(scratch, 'journal-')) : undefined;
  const consumer = consumerFor(broker, queue, dir);
  const all = countSettled(consumer);
  let started = 0;
  const { result: handled, startedAt, emptyAt } = await watched(broker, queue, async () => {
    started = performance.now();
    await consumer.start(async () => undefined, { concurrency });
    return all;
  });
  await closeChecked(consumer);
  const bytesPerMessage = dir === undefined ? undefined : segmentBytes(dir) / messages;
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  return { brokerMs: emptyAt - startedAt, handlerMs: handled - started, ...(bytesPerMessage === undefined ? {} : { bytesPerMessage }) };
};

/** Journal on: the broker drained into the journal with the handler stuck, then the handler let go. */
const fromFilledJournal: Runner = async (broker, queue) => {
  const dir = mkdtempSync(join(scratch, 'journal-'));
  const consumer = consumerFor(broker, queue, dir);
  const all = countSettled(consumer);
  let release!: () => void;
  const stuck = new Promise<void>((r) => (release = r));
  const { startedAt, emptyAt } = await watched(broker, queue, async () => {
    await consumer.start(() => stuck, { concurrency });
    while (consumer.health().journal!.unhandled < messages) await sleep(10);
  });
  const letGo = performance.now();
  release();
  const handled = await all;
  await closeChecked(consumer);
  rmSync(dir, { recursive: true, force: true });
  return { brokerMs: emptyAt - startedAt, handlerMs: handled - letGo };
};

/** `messages` per second over `ms`. */
const rate = (ms: number, count = messages): number => (count / ms) * 1000;
const stats = (xs: number[], digits = 2): string => {
  const s = spread(xs);
  return `median ${s.median.toFixed(digits)} (min ${s.min.toFixed(digits)}, max ${s.max.toFixed(digits)})`;
};

/** Writes `count` lines as a consumer's journal would (archiveLine into a JournalStore). */
async function writeJournal(dir: string, count: number): Promise<void> {
  const store = await JournalStore.open(dir);
  try {
    const receivedAt = new Date('2026-12-01T08:00:00Z');
    const outreach = [...makeOutreachMessages(Math.min(count, 1000), { seed: 8 })];
    for (let from = 0; from < count; from += 1000) {
      const batch: Promise<number>[] = [];
      for (let i = from; i < Math.min(count, from + 1000); i++) {
        const m = outreach[i % outreach.length]!;
        batch.push(store.append(archiveLine({ messageId: `m-${i}`, deliveryCount: 0, receivedAt, outreachId: m.outreachId }, JSON.stringify(m))));
      }
      await Promise.all(batch); // lines appended together share one write and one fsync
    }
  } finally {
    await store.close();
  }
}

/** Milliseconds of one command with stdout to /dev/null; throws if it fails. */
function timedCommand(command: string, args: readonly string[]): number {
  const devNull = openSync('/dev/null', 'w');
  try {
    const started = performance.now();
    const run = spawnSync(command, args, { cwd: root, stdio: ['ignore', devNull, 'pipe'], encoding: 'utf8' });
    const ms = performance.now() - started;
    if (run.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (exit ${run.status ?? run.signal}): ${run.stderr.slice(-2000)}`);
    return ms;
  } finally {
    closeSync(devNull);
  }
}

async function replayBench(): Promise<void> {
  const dir = join(scratch, 'replay-journal');
  await writeJournal(dir, replayCount);
  const segments = readdirSync(join(dir, 'segments')).sort().map((name) => join(dir, 'segments', name));
  const bytes = segmentBytes(dir);
  const runners: [string, () => number][] = [
    ['replay --archive <journal dir>', () => timedCommand(process.execPath, [join(root, 'dist', 'cli.js'), 'replay', '--archive', dir])],
    ['cat of the segment files', () => timedCommand('cat', segments)],
  ];
  const ms = new Map<string, number[]>(runners.map(([name]) => [name, []]));
  for (let round = -1; round < replayRounds; round++) {
    for (let k = 0; k < runners.length; k++) {
      const [name, run] = runners[(k + Math.max(round, 0)) % runners.length]!;
      const took = run();
      if (round >= 0) ms.get(name)!.push(took);
    }
  }
  const replayMs = ms.get(runners[0]![0])!;
  const catMs = ms.get(runners[1]![0])!;
  const ratios = replayMs.map((r, i) => r / catMs[i]!);
  for (const [name] of runners) {
    const s = spread(ms.get(name)!.map((t) => rate(t, replayCount)));
    record('journal', `replay: ${name}`, { ...s, lines: replayCount, bytes, rounds: replayRounds });
    console.log(`${name}: ${replayCount} lines (${(bytes / 1e6).toFixed(0)} MB, ${segments.length} segments), lines/s ${stats(ms.get(name)!.map((t) => rate(t, replayCount)), 0)}`);
  }
  record('journal', 'ratio replay time / cat time', { ...spread(ratios), lines: replayCount, rounds: replayRounds });
  console.log(`replay time / cat time, same lines (both include starting their process; replay's is Node's): ${stats(ratios, 1)}`);
}

const broker = await startBroker({ quiet: true });
try {
  const runners: [string, Runner][] = [
    ['journal off', fastHandler(false)],
    ['journal on', fastHandler(true)],
    ['journal on, from a filled journal', fromFilledJournal],
  ];
  const drainRatios: number[] = [];
  const handlerRatios: number[] = [];
  const fillMs: number[] = [];
  const bytesPerMessage: number[] = [];
  for (let round = -warmupRounds; round < rounds; round++) {
    const runs = new Map<string, Run>();
    for (let k = 0; k < runners.length; k++) {
      const [name, run] = runners[(k + Math.max(round, 0)) % runners.length]!;
      const queue = `bench.journal.${round + warmupRounds}.${name.replace(/\W+/g, '-')}`;
      await sendBodies(broker, queue, bodies, { durable: true });
      runs.set(name, await run(broker, queue));
    }
    const line = runners
      .map(([name]) => {
        const r = runs.get(name)!;
        return `${name}: broker drained ${Math.round(rate(r.brokerMs))} msg/s, handler settled ${Math.round(rate(r.handlerMs))} msg/s`;
      })
      .join('\n  ');
    if (round < 0) {
      console.log(`warm-up round (not counted):\n  ${line}`);
      continue;
    }
    const off = runs.get('journal off')!;
    const on = runs.get('journal on')!;
    const filled = runs.get('journal on, from a filled journal')!;
    drainRatios.push(off.brokerMs / on.brokerMs);
    handlerRatios.push(off.handlerMs / filled.handlerMs);
    fillMs.push(filled.brokerMs);
    bytesPerMessage.push(on.bytesPerMessage!);
    for (const [name] of runners) {
      const r = runs.get(name)!;
      record('journal', name, { round: round + 1, brokerMsgPerSec: rate(r.brokerMs), handlerMsgPerSec: rate(r.handlerMs) });
    }
    console.log(`round ${round + 1}:\n  ${line}`);
  }
  console.log(`${messages} persistent messages of ~${Math.round(bodyBytes)} B, concurrency ${concurrency}, ${rounds} rounds, a handler that does nothing:`);
  console.log(`  broker drain rate, journal on / off: ${stats(drainRatios)}   <- the cost of writing and fsyncing each line first`);
  console.log(`  handler rate from a filled journal / from the broker (journal off): ${stats(handlerRatios)}`);
  console.log(`  broker drained into the journal with the handler stuck: ${stats(fillMs.map((ms) => rate(ms)), 0)} msg/s`);
  const bytes = spread(bytesPerMessage);
  console.log(`  journal segment bytes per outreach: ${stats(bytesPerMessage, 0)} B, body ${Math.round(bodyBytes)} B (${(bytes.median / bodyBytes).toFixed(2)}x)`);
  record('journal', 'ratio broker drain rate, journal on / off', { ...spread(drainRatios), messages, rounds, bodyBytes });
  record('journal', 'ratio handler rate, from a filled journal / from the broker', spread(handlerRatios));
  record('journal', 'bytes per outreach', { ...bytes, bodyBytes });
  await replayBench();
} finally {
  await broker.stop();
  rmSync(scratch, { recursive: true, force: true });
}
