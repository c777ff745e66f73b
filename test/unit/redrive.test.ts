// Dead letters of a journal: listed, read, and re-driven (one, or all) through a handler after a
// fix; those the strategy accepts leave the file, those that fail again stay with the new reason;
// a re-drive takes the journal's lock, so it never runs beside the consumer that owns it.
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { atLeastOnce, isOutreachError, listDeadLetters, redriveDeadLetters, type DeadLetter, type OutreachError } from '../../src/index.js';
import { makeOutreachMessages, startDevQueue, type DevQueue } from '../../src/testing/index.js';
import { devConsumer, until } from './dev-consumer.js';

const QUEUE = 'redrive';
let dir: string;
let q: DevQueue;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'redrive-'));
  q = await startDevQueue({ network: false, queues: { [QUEUE]: [] } });
});
afterEach(async () => {
  await q.close();
  await rm(dir, { recursive: true, force: true });
});

async function deadLetters(): Promise<DeadLetter[]> {
  const all: DeadLetter[] = [];
  for await (const d of listDeadLetters(dir)) all.push(d);
  return all;
}

/** A journal-mode consumer whose handler refuses `poison` for good: they end in the dead letters. */
async function withDeadLetters(poisonCount: number): Promise<string[]> {
  const messages = [...makeOutreachMessages(poisonCount + 3, { seed: 9 })];
  q.publish(QUEUE, ...messages);
  const poison = new Set(messages.slice(0, poisonCount).map((m) => m.outreachId));
  q.publish(QUEUE, { body: '{"not":"an outreach"}', messageId: 'bad' });
  const consumer = devConsumer(q, QUEUE, { journal: { dir }, strategy: atLeastOnce({ maxAttempts: 2, retryDelayMs: () => 0 }) });
  await consumer.start(async (d) => {
    if (poison.has(d.outreach.outreachId)) throw new Error('the mapping refuses it');
  });
  await until(() => consumer.health().counts.rejected === poisonCount + 1 && consumer.health().journal?.unhandled === 0, 'the poison dead-lettered');
  await consumer.close();
  return [...poison];
}

describe('dead letters', () => {
  it('are listed with why and when, oldest first, and none when there are none', async () => {
    expect(await deadLetters()).toEqual([]);
    const poison = await withDeadLetters(2);
    const listed = await deadLetters();
    expect(listed.map((d) => d.outreachId)).toEqual([...poison, undefined]);
    expect(listed[0]!.deadLetter.reason).toMatch(/attempt/i);
    expect(listed[2]!.messageId).toBe('bad');
    expect(listed[0]!.deadLetter.journalLine).toBeGreaterThan(0);
  });

  it('a re-drive of one, after a fix: it leaves the file, the others stay as they were', async () => {
    const poison = await withDeadLetters(2);
    const before = await deadLetters();
    const stored: string[] = [];
    const report = await redriveDeadLetters({ dir, messageId: before[1]!.messageId!, handler: (d) => void stored.push(d.outreach.outreachId) });
    expect(report).toMatchObject({ selected: 1, redriven: 1, failed: [], unfinished: 0, complete: true });
    expect(stored).toEqual([poison[1]]);
    const after = await deadLetters();
    expect(after.map((d) => d.text)).toEqual([before[0]!.text, before[2]!.text]);
    expect((await stat(join(dir, 'dead-letters.jsonl'))).mode & 0o777).toBe(0o600);
  });

  it('a re-drive of all: those accepted leave; one that fails again and the undecodable one stay, with the new reason', async () => {
    const poison = await withDeadLetters(3);
    const stored: string[] = [];
    const report = await redriveDeadLetters({
      dir,
      strategy: atLeastOnce({ maxAttempts: 1 }),
      handler: (d) => {
        if (d.outreach.outreachId === poison[0]) throw new Error('still refused');
        stored.push(d.outreach.outreachId);
      },
    });
    expect(report.selected).toBe(4);
    expect(report.redriven).toBe(2);
    expect(report.failed.map((f) => f.outreachId)).toEqual([poison[0], undefined]);
    expect(stored).toEqual(poison.slice(1));
    const after = await deadLetters();
    expect(after.map((d) => d.outreachId)).toEqual([poison[0], undefined]);
    expect(after[1]!.deadLetter.reason).toMatch(/undecodable/);
    // The message itself is kept byte for byte after the new deadLetter field.
    const text = await readFile(join(dir, 'dead-letters.jsonl'), 'utf8');
    expect(text).toContain('{"not":"an outreach"}');
  });

  it('is refused while a consumer holds the journal: JOURNAL_IN_USE, nothing changed', async () => {
    await withDeadLetters(1);
    const before = await readFile(join(dir, 'dead-letters.jsonl'), 'utf8');
    const consumer = devConsumer(q, QUEUE, { journal: { dir } });
    await consumer.start(async () => undefined);
    let called = false;
    const error = await redriveDeadLetters({ dir, handler: () => void (called = true) }).then(() => undefined, (e: unknown) => e as OutreachError);
    await consumer.close();
    expect(isOutreachError(error) && error.code).toBe('JOURNAL_IN_USE');
    expect(called).toBe(false);
    expect(await readFile(join(dir, 'dead-letters.jsonl'), 'utf8')).toBe(before);
  });
});
