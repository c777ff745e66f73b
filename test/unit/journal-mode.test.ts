// Journal mode of the consumer on the in-process dev queue: the broker is drained into the journal
// whatever the handler does, the handler reads the journal through the same engine, a restart
// resumes where the strategy had settled, what fails for good stays in the journal's own dead
// letters (never the broker's DLQ), a full journal takes no more, and one consumer owns a directory.
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { atLeastOnce, isOutreachError, type JournalFullInfo, type OutreachConsumer, type OutreachError } from '../../src/index.js';
import { listDeadLetters } from '../../src/journal/dead-letters.js';
import { makeOutreachMessages, startDevQueue, type DevQueue } from '../../src/testing/index.js';
import { devConsumer, until } from './dev-consumer.js';

const QUEUE = 'journal.mode';
let dir: string;
let q: DevQueue;
const open: OutreachConsumer[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'journal-mode-'));
  q = await startDevQueue({ network: false, queues: { [QUEUE]: [] } });
});
afterEach(async () => {
  for (const c of open.splice(0)) await c.close({ deadlineMs: 1000 });
  await q.close();
  await rm(dir, { recursive: true, force: true });
});

function journalConsumer(options: Parameters<typeof devConsumer>[2] = {}): OutreachConsumer {
  const consumer = devConsumer(q, QUEUE, { journal: { dir }, ...options });
  open.push(consumer);
  return consumer;
}

/** Every delivery of every message on the broker, by how it ended. */
function brokerEnds(): string[] {
  return q.browse(QUEUE).length === 0 ? [] : ['still on the queue'];
}

describe('journal mode', () => {
  it('drains the broker into the journal whatever the handler does; the handler gets every message, in order', async () => {
    const ids = q.publish(QUEUE, ...makeOutreachMessages(40));
    let release!: () => void;
    const stuck = new Promise<void>((resolve) => (release = resolve));
    const seen: (string | number | undefined)[] = [];
    const consumer = journalConsumer({ prefetch: 5 });
    await consumer.start(async (d) => {
      await stuck;
      seen.push(d.messageId);
    });
    // The handler has not finished one message, and the broker's queue is empty: all on disk.
    await until(() => q.depth(QUEUE) === 0 && q.stats(QUEUE).dequeued === 40, 'the broker drained into the journal');
    expect(seen).toEqual([]);
    expect(consumer.health().journal).toMatchObject({ unhandled: 40, full: false });
    expect(consumer.health().connected).toBe(true);
    release();
    await until(() => seen.length === 40, 'every message handled');
    expect(seen).toEqual(ids);
    await until(() => consumer.health().journal?.unhandled === 0, 'the journal settled');
    expect(consumer.health().counts.accepted).toBe(40);
    expect(brokerEnds()).toEqual([]);
  });

  it('a restart resumes at the first line the strategy had not settled; nothing is taken twice from the broker', async () => {
    const ids = q.publish(QUEUE, ...makeOutreachMessages(30));
    const first: (string | number | undefined)[] = [];
    const a = journalConsumer({ prefetch: 4 });
    await a.start(async (d) => {
      first.push(d.messageId);
      if (first.length >= 10) await new Promise(() => undefined); // stuck from the 10th on
    });
    await until(() => q.stats(QUEUE).dequeued === 30 && first.length === 10, 'ten handled and the broker drained');
    const report = await a.close({ deadlineMs: 50 });
    expect(report.unfinished).toBeGreaterThan(0);

    const second: (string | number | undefined)[] = [];
    const b = journalConsumer({ prefetch: 4 });
    await b.start(async (d) => void second.push(d.messageId));
    await until(() => new Set([...first.slice(0, 9), ...second]).size === 30, 'the rest handled after the restart');
    // Resumed after the nine that were settled: the stuck one and the rest, each once.
    expect(second).toEqual(ids.slice(9));
    expect(ids.map((id) => q.deliveries(QUEUE, id).length)).toEqual(ids.map(() => 1));
  });


  it('after a restart, a message the broker delivers again whose line is on disk is accepted without a second line (a kill -9 between the fsync and the acceptance)', async () => {
    const [message, next] = [...makeOutreachMessages(2)];
    q.publish(QUEUE, { body: JSON.stringify(message), messageId: 'ID:written-1' });
    const a = journalConsumer();
    const first: unknown[] = [];
    await a.start(async (d) => void first.push(d.messageId));
    await until(() => first.length === 1 && a.health().journal?.unhandled === 0, 'handled and settled');
    await a.close();
    // The broker never heard the acceptance (the process died first): it delivers the message again.
    q.publish(QUEUE, { body: JSON.stringify(message), messageId: 'ID:written-1' }, { body: JSON.stringify(next), messageId: 'ID:new-2' });
    const b = journalConsumer();
    const second: unknown[] = [];
    await b.start(async (d) => void second.push(d.messageId));
    await until(() => second.length === 1 && q.depth(QUEUE) === 0 && b.health().journal?.unhandled === 0, 'the new one handled, the queue empty');
    expect(second).toEqual(['ID:new-2']);
    const lines = (await readFile(join(dir, 'segments', '00000000000000000001.jsonl'), 'utf8')).trimEnd().split('\n');
    expect(lines.map((l) => (JSON.parse(l) as { messageId: string }).messageId)).toEqual(['ID:written-1', 'ID:new-2']);
  });
  it('a message that fails for good goes to the journal\u2019s dead letters, never to the broker\u2019s DLQ', async () => {
    const [poison, ...good] = q.publish(QUEUE, ...makeOutreachMessages(5));
    const consumer = journalConsumer({ strategy: atLeastOnce({ maxAttempts: 3, retryDelayMs: () => 0 }) });
    const handled: (string | number | undefined)[] = [];
    await consumer.start(async (d) => {
      if (d.messageId === poison) throw new Error('mapping bug');
      handled.push(d.messageId);
    });
    await until(() => consumer.health().counts.rejected === 1 && handled.length === 4, 'the poison rejected');
    await until(() => consumer.health().journal?.unhandled === 0, 'its line settled');
    expect(handled).toEqual(good);
    expect(q.deadLetters(QUEUE)).toEqual([]);
    expect(q.stats(QUEUE).dequeued).toBe(5);
    const dead = [];
    for await (const line of listDeadLetters(dir)) dead.push(line);
    expect(dead.map((l) => l.messageId)).toEqual([poison]);
    expect(dead[0]!.deadLetter.reason).toMatch(/attempt/i);
    expect((await stat(join(dir, 'dead-letters.jsonl'))).mode & 0o777).toBe(0o600);
  });

  it('an undecodable message is dead-lettered in the journal, with its body', async () => {
    q.publish(QUEUE, { body: '{"not":"an outreach"}', messageId: 'bad-1' }, ...makeOutreachMessages(2));
    const consumer = journalConsumer();
    const handled: unknown[] = [];
    await consumer.start(async (d) => void handled.push(d.messageId));
    await until(() => handled.length === 2 && consumer.health().counts.rejected === 1, 'two handled, one rejected');
    await until(() => consumer.health().journal?.unhandled === 0, 'the journal settled');
    const text = await readFile(join(dir, 'dead-letters.jsonl'), 'utf8');
    expect(text).toContain('"messageId":"bad-1"');
    expect(text).toContain('{"not":"an outreach"}');
    expect(q.deadLetters(QUEUE)).toEqual([]);
  });

  it('a full journal takes no more from the broker, which keeps the rest; an event and health say so', async () => {
    q.publish(QUEUE, ...makeOutreachMessages(30));
    const full: JournalFullInfo[] = [];
    let release!: () => void;
    const stuck = new Promise<void>((resolve) => (release = resolve));
    const consumer = journalConsumer({ journal: { dir, maxUnhandledBytes: 8_000, window: 2 } });
    consumer.on('journalFull', (info) => full.push(info));
    let handled = 0;
    await consumer.start(async () => {
      await stuck;
      handled++;
    });
    await until(() => full.length === 1, 'the journal full');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(full[0]).toMatchObject({ full: true, maxUnhandledBytes: 8_000 });
    expect(consumer.health().journal?.full).toBe(true);
    expect(q.depth(QUEUE)).toBeGreaterThan(10); // the broker keeps the rest
    const taken = q.stats(QUEUE).dequeued;
    release();
    await until(() => handled === 30, 'all handled once the handler caught up');
    expect(full.some((f) => !f.full)).toBe(true);
    expect(taken).toBeLessThan(30);
    expect(q.stats(QUEUE).dequeued).toBe(30);
  });

  it('a second consumer on the same directory is refused with JOURNAL_IN_USE', async () => {
    const a = journalConsumer();
    await a.start(async () => undefined);
    const b = journalConsumer();
    const error = await b.start(async () => undefined).then(() => undefined, (e: unknown) => e as OutreachError);
    expect(isOutreachError(error) && error.code).toBe('JOURNAL_IN_USE');
    expect(b.state).toBe('failed');
  });

  it("'drained' waits for the broker too, then fires once the journal is done", async () => {
    q.publish(QUEUE, ...makeOutreachMessages(30));
    // A window of 2: the journal runs dry many times before the broker does.
    const consumer = journalConsumer({ prefetch: 3, journal: { dir, window: 2 } });
    let handled = 0;
    const drained = new Promise<number>((resolve) => consumer.once('drained', () => resolve(handled)));
    await consumer.start(async () => {
      handled++;
      await new Promise((resolve) => setTimeout(resolve, 1));
    });
    expect(await drained).toBe(30);
    expect(q.depth(QUEUE)).toBe(0);
  });

  it("'drained' does not fire while the journal is dry but the broker is slow to send the rest", async () => {
    q.publish(QUEUE, ...makeOutreachMessages(6));
    q.faults.delayDeliveries(120); // longer than the consumer's quiet period before it asks for a drain
    const consumer = journalConsumer({ prefetch: 3, journal: { dir, window: 1 } });
    let handled = 0;
    const drained = new Promise<number>((resolve) => consumer.once('drained', () => resolve(handled)));
    await consumer.start(async () => void handled++);
    expect(await drained).toBe(6);
  });

  it('pause() holds the handler, not the intake: the broker goes on being drained into the journal', async () => {
    q.publish(QUEUE, ...makeOutreachMessages(20));
    const consumer = journalConsumer({ prefetch: 2 });
    let handled = 0;
    consumer.pause();
    await consumer.start(async () => void handled++);
    await until(() => q.stats(QUEUE).dequeued === 20, 'the broker drained while paused');
    expect(handled).toBe(0);
    expect(consumer.health().connected).toBe(true);
    consumer.resume();
    await until(() => handled === 20, 'all handled after resume()');
  });

  it('a retry() hands the line out again with its delivery count raised; the broker saw one delivery', async () => {
    const [id] = q.publish(QUEUE, ...makeOutreachMessages(1));
    const counts: number[] = [];
    const consumer = journalConsumer({ strategy: atLeastOnce({ maxAttempts: 5, retryDelayMs: () => 0 }) });
    await consumer.start(async (d) => {
      counts.push(d.deliveryCount);
      if (counts.length < 3) throw new Error('not yet');
    });
    await until(() => consumer.health().counts.accepted === 1, 'accepted on the third attempt');
    expect(counts).toEqual([0, 1, 2]);
    expect(q.deliveries(QUEUE, id!)).toHaveLength(1);
  });

  it('a refused login fails the consumer as without a journal: start() rejects, one error event; the state stays open across a lost connection', async () => {
    q.faults.refuseNextLogin(1);
    const a = journalConsumer();
    const errors: string[] = [];
    a.on('error', (e) => void errors.push(e.code));
    const error = await a.start(async () => undefined).then(() => undefined, (e: unknown) => e as OutreachError);
    expect(error?.code).toBe('AUTHENTICATION_FAILED');
    expect(errors).toEqual(['AUTHENTICATION_FAILED']);
    expect(a.state).toBe('failed');
    // close() of a failed consumer returns once its journal is released: the next one can have it.
    await a.close();
    await expect(stat(join(dir, 'LOCK'))).rejects.toThrow(/ENOENT/);

    q.publish(QUEUE, ...makeOutreachMessages(3));
    const b = journalConsumer();
    let handled = 0;
    await b.start(async () => void handled++);
    await until(() => handled === 3, 'the messages handled by a second consumer on the same journal');
    const disconnected = new Promise<void>((resolve) => b.once('disconnected', () => resolve()));
    q.faults.dropConnections();
    await disconnected;
    expect(b.state).toBe('open');
    await until(() => b.health().connected && b.health().reconnects === 1, 'the intake reconnected');
  });

  it('the journal files are created 0600, and its directories 0700', async () => {
    q.publish(QUEUE, ...makeOutreachMessages(2));
    const own = join(dir, 'new', 'journal'); // not there yet: the consumer creates it
    const consumer = journalConsumer({ journal: { dir: own } });
    await consumer.start(async () => undefined);
    await until(() => consumer.health().counts.accepted === 2, 'both handled');
    await consumer.close();
    for (const f of ['cursor.json', 'segments/00000000000000000001.jsonl']) {
      expect((await stat(join(own, f))).mode & 0o777, f).toBe(0o600);
    }
    for (const d of ['', 'segments']) expect((await stat(join(own, d))).mode & 0o777, `${d || 'the journal'} directory`).toBe(0o700);
  });
});
