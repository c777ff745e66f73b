// replay(): the outreach of a journal or a pull archive run through the same engine and strategies
// into a handler again, without a broker; what fails is reported, not lost.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { atLeastOnce, batched } from '../../src/index.js';
import { archiveLine } from '../../src/journal/line.js';
import { replay } from '../../src/journal/replay-run.js';
import { makeOutreachMessages, startDevQueue, type DevQueue } from '../../src/testing/index.js';
import { devConsumer, until } from './dev-consumer.js';

const QUEUE = 'replay.run';
let dir: string;
let q: DevQueue;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'replay-run-'));
  q = await startDevQueue({ network: false, queues: { [QUEUE]: [] } });
});
afterEach(async () => {
  await q.close();
  await rm(dir, { recursive: true, force: true });
});

/** Runs a journal-mode consumer over `n` messages; returns what its handler saw, row for row. */
async function journalOf(n: number): Promise<string[]> {
  q.publish(QUEUE, ...makeOutreachMessages(n, { seed: 7 }));
  const rows: string[] = [];
  const consumer = devConsumer(q, QUEUE, { journal: { dir }, prefetch: 5 });
  await consumer.start(async (d) => void rows.push(`${String(d.messageId)} ${d.outreach.outreachId}`));
  await until(() => consumer.health().journal?.unhandled === 0 && rows.length === n, 'the journal handled');
  await consumer.close();
  return rows;
}

describe('replay', () => {
  it('reads a journal beside the consumer that holds it (no lock taken)', async () => {
    q.publish(QUEUE, ...makeOutreachMessages(10, { seed: 8 }));
    const consumer = devConsumer(q, QUEUE, { journal: { dir } });
    let handled = 0;
    await consumer.start(async () => void handled++);
    try {
      await until(() => handled === 10, 'the ten handled');
      const rows: string[] = [];
      const report = await replay({ from: dir, handler: (d) => void rows.push(d.outreach.outreachId) });
      expect(report).toMatchObject({ selected: 10, handled: 10, complete: true });
      expect(consumer.state).toBe('open');
    } finally {
      await consumer.close();
    }
  });

  it("runs a journal's lines into a handler: the same rows as the original handling, in order", async () => {
    const original = await journalOf(30);
    const rows: string[] = [];
    const report = await replay({ from: dir, handler: (d) => void rows.push(`${String(d.messageId)} ${d.outreach.outreachId}`), concurrency: 1, prefetch: 4 });
    expect(rows).toEqual(original);
    expect(report).toMatchObject({ selected: 30, handled: 30, failed: [], invalid: [], unfinished: 0, complete: true });
  });

  it("a batched() strategy's commit sees every replayed outreach", async () => {
    const original = await journalOf(23);
    const committed: string[] = [];
    const strategy = batched({ size: 5, maxWaitMs: 10, commit: async (batch) => void committed.push(...batch.map((d) => `${String(d.messageId)} ${d.outreach.outreachId}`)) });
    const report = await replay({ from: dir, handler: () => undefined, strategy, concurrency: 5, prefetch: 10 });
    expect([...committed].sort()).toEqual([...original].sort());
    expect(report.handled).toBe(23);
  });

  it('filters a pull archive; a failing handler is reported with the reason, and an undecodable line as invalid', async () => {
    const messages = [...makeOutreachMessages(6, { seed: 3 })];
    const lines = messages.map((m, i) =>
      archiveLine({ messageId: `ID:${i}`, deliveryCount: 0, receivedAt: new Date(Date.UTC(2026, 10, 25 + i)), outreachId: m.outreachId }, JSON.stringify(m)),
    );
    lines.push(archiveLine({ messageId: 'ID:bad', deliveryCount: 0, receivedAt: new Date(Date.UTC(2026, 11, 5)) }, '{"not":"an outreach"}'));
    const file = join(dir, 'pulled.jsonl');
    await writeFile(file, lines.join(''));
    const seen: unknown[] = [];
    const report = await replay({
      from: file,
      since: '2026-11-27',
      strategy: atLeastOnce({ maxAttempts: 2, retryDelayMs: () => 0 }),
      handler: (d) => {
        if (d.messageId === 'ID:3') throw new Error('sink refused');
        seen.push(d.messageId);
      },
    });
    expect(seen).toEqual(['ID:2', 'ID:4', 'ID:5']);
    expect(report).toMatchObject({ selected: 5, handled: 3, unfinished: 0, complete: true });
    expect(report.failed.map((f) => [f.messageId, f.file, f.line, f.outreachId])).toEqual([['ID:3', file, 4, messages[3]!.outreachId]]);
    expect(report.failed[0]!.reason).toMatch(/attempt/i);
    expect(report.invalid).toMatchObject([{ messageId: 'ID:bad', kind: 'wrong-shape' }]);
    const one = await replay({ from: file, outreachId: messages[1]!.outreachId, handler: (d) => void seen.push(d.outreach.outreachId) });
    expect([one.selected, seen.at(-1)]).toEqual([1, messages[1]!.outreachId]);
  });

  it('names the option it cannot use', async () => {
    await expect(replay({ from: join(dir, 'none'), handler: () => undefined })).rejects.toThrow(/from: .*ENOENT/);
    await writeFile(join(dir, 'f'), '');
    await expect(replay({ from: join(dir, 'f'), since: 'soon', handler: () => undefined })).rejects.toThrow(/since must be/);
  });
});
