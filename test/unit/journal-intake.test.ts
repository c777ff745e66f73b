// The journal's intake from the broker (the in-process dev queue): every message written to the
// journal and only then accepted, at the broker's pace; a full journal takes no more (the queue
// keeps the rest) until lines are settled; a failed write accepts nothing more.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseEndpoints } from '../../src/connection/endpoints.js';
import { JournalIntake, type IntakeEvents } from '../../src/journal/intake.js';
import { JournalStore } from '../../src/journal/journal-store.js';
import { readLine } from '../../src/journal/line.js';
import { silentLogger } from '../../src/logger.js';
import { makeOutreachMessages, startDevQueue, type DevQueue } from '../../src/testing/index.js';
import { until } from './dev-consumer.js';

let dir: string;
let store: JournalStore;
let q: DevQueue;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'intake-'));
  store = await JournalStore.open(dir);
});
afterEach(async () => {
  await store.close();
  await q?.close();
  await rm(dir, { recursive: true, force: true });
});

function intakeOf(queue: string, maxUnsettledBytes = Number.POSITIVE_INFINITY) {
  const seen = { full: [] as boolean[], diskFailed: [] as unknown[], errors: [] as unknown[] };
  const events: IntakeEvents = {
    connected: () => undefined,
    disconnected: () => undefined,
    reconnecting: () => undefined,
    error: (e) => void seen.errors.push(e),
    fatal: (e) => void seen.errors.push(e),
    diskFailed: (e) => void seen.diskFailed.push(e),
    full: (full) => void seen.full.push(full),
  };
  const intake = new JournalIntake(
    store,
    {
      endpoints: parseEndpoints(q.url, true),
      link: { queue, username: q.username, password: q.password, ca: undefined, servername: undefined, connectTimeoutMs: 5000, idleTimeoutMs: 15_000 },
      reconnect: { initialDelayMs: 5, maxDelayMs: 20, maxAttempts: Number.POSITIVE_INFINITY },
      logger: silentLogger,
      window: 8,
      maxUnsettledBytes,
    },
    events,
  );
  return { intake, seen };
}

async function journalIds(): Promise<(string | number | undefined)[]> {
  const ids = [];
  for (let n = store.first; n < store.durable; n++) ids.push(readLine((await store.read(n))!).messageId);
  return ids;
}

describe('journal intake', () => {
  it('writes every message to the journal, in order, and accepts each on the broker only once it is on disk', async () => {
    const messages = [...makeOutreachMessages(30, { seed: 95 })];
    q = await startDevQueue({ network: false, queues: { i: messages } });
    const { intake } = intakeOf('i');
    await intake.start();
    await until(() => q.depth('i') === 0, 'the queue emptied');
    const ids = await journalIds();
    expect(ids).toHaveLength(30);
    for (const id of ids) expect(q.deliveries('i', id!).map((d) => d.settlement)).toEqual(['accepted']);
    // The line says which outreach it holds.
    expect(readLine((await store.read(1))!).outreachId).toBe(messages[0]!.outreachId);
    await intake.close(1000);
  });

  it('a full journal takes no more: the queue keeps the rest; settling lines makes room and it goes on', async () => {
    q = await startDevQueue({ network: false, queues: { f: [...makeOutreachMessages(20, { seed: 96 })] } });
    const { intake, seen } = intakeOf('f', 3 * 1500); // room for a few outreach lines
    await intake.start();
    await until(() => seen.full.includes(true), 'the journal full');
    await new Promise((resolve) => setTimeout(resolve, 50));
    const written = store.durable - 1;
    expect(written).toBeLessThan(20);
    expect(q.depth('f')).toBe(20 - written); // nothing taken that is not written
    // The handler settles what is written, line by line: room again, and it goes on to the end.
    while (q.depth('f') > 0) {
      if (store.cursor < store.durable) await store.settle([store.cursor]);
      else await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(store.durable - 1).toBe(20);
    expect(seen.full).toContain(false);
    await intake.close(1000);
  });

  it('a write that fails accepts nothing that is not on disk, and takes nothing more', async () => {
    q = await startDevQueue({ network: false, queues: { d: [...makeOutreachMessages(10, { seed: 97 })] } });
    let writes = 0;
    const append = store.append.bind(store);
    // The disk fails after three lines (a fault injected into this store only).
    store.append = (line: string) => (++writes > 3 ? Promise.reject(Object.assign(new Error('no space left'), { code: 'ENOSPC' })) : append(line));
    const { intake, seen } = intakeOf('d');
    await intake.start();
    await until(() => seen.diskFailed.length === 1, 'the failure reported');
    await new Promise((resolve) => setTimeout(resolve, 50));
    const accepted = (await journalIds()).length;
    expect(accepted).toBe(3);
    await intake.close(1000);
    // Exactly the three written were accepted; the rest are on the queue again.
    expect(q.depth('d')).toBe(7);
  });
});
