// The journal's files on a real file system: numbering, durability before a number is given,
// the cursor across a reopen (settled out of order), one process per directory, segments and
// retention that never deletes what is not settled, and a line cut short by a crash.
import { spawnSync } from 'node:child_process';
import { appendFile, mkdir, mkdtemp, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { JournalStore } from '../../src/journal/journal-store.js';
import { archiveLine } from '../../src/journal/line.js';
import { JournalLockError } from '../../src/journal/lock.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'journal-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const line = (id: number, pad = 0): string =>
  archiveLine({ messageId: `ID:${id}`, deliveryCount: 0, receivedAt: new Date(0), outreachId: `o-${id}` }, JSON.stringify({ outreachId: `o-${id}`, pad: 'x'.repeat(pad) }));

async function segmentFiles(): Promise<string[]> {
  return (await readdir(join(dir, 'segments'))).sort();
}

describe('journal store', () => {
  it('numbers lines from 1 in order, gives each back once durable, and creates every file 0600', async () => {
    const journal = await JournalStore.open(dir);
    const numbers = await Promise.all([1, 2, 3].map((i) => journal.append(line(i))));
    expect(numbers).toEqual([1, 2, 3]);
    expect(await journal.read(2)).toBe(line(2));
    expect(await journal.read(4)).toBeUndefined();
    expect(journal.unsettled).toBe(3);
    await journal.settle([1]);
    for (const name of ['LOCK', 'cursor.json', `segments/${(await segmentFiles())[0]}`]) {
      expect(((await stat(join(dir, name))).mode & 0o777).toString(8), name).toBe('600');
    }
    await journal.close();
    await expect(stat(join(dir, 'LOCK'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('resumes after a reopen at the first line not settled, skipping those settled above it', async () => {
    const journal = await JournalStore.open(dir);
    for (let i = 1; i <= 5; i++) await journal.append(line(i));
    await journal.settle([1, 3, 4]); // 2 is still in the handler
    expect(journal.cursor).toBe(2);
    await journal.close();

    const again = await JournalStore.open(dir);
    expect([again.first, again.cursor, again.next]).toEqual([1, 2, 6]);
    expect([2, 3, 4, 5].map((n) => again.isSettled(n))).toEqual([false, true, true, false]);
    expect(again.unsettled).toBe(2);
    await again.settle([2]);
    expect(again.cursor).toBe(5);
    expect(await again.append(line(6))).toBe(6);
    await again.close();
  });

  it('one process per directory: a second open is refused with who holds it; a lock left by a process that is gone is taken over', async () => {
    const journal = await JournalStore.open(dir);
    const refused = await JournalStore.open(dir).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(JournalLockError);
    expect((refused as JournalLockError).message).toContain(`process ${process.pid} on ${hostname()}`);
    await journal.close();

    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    await writeFile(join(dir, 'LOCK'), JSON.stringify({ pid: Number(gone.stdout), host: hostname(), since: 'then' }));
    const taken = await JournalStore.open(dir);
    expect(taken.next).toBe(1);
    await taken.close();
  });

  it('rolls segments at segmentBytes, reads across them, and prunes only whole settled segments past the retention', async () => {
    const journal = await JournalStore.open(dir, { segmentBytes: 1000 });
    for (let i = 1; i <= 12; i++) await journal.append(line(i, 300));
    const files = await segmentFiles();
    expect(files.length).toBeGreaterThan(3);
    expect(await journal.read(12)).toBe(line(12, 300));
    expect(await journal.read(1)).toBe(line(1, 300));

    // Nothing settled: no size limit deletes anything.
    expect(await journal.prune({ maxBytes: 1 })).toBe(0);
    await journal.settle([1, 2, 3, 4, 5, 6]);
    const deleted = await journal.prune({ maxBytes: 1 });
    expect(deleted).toBeGreaterThan(0);
    expect(journal.first).toBe(deleted + 1);
    expect(journal.first).toBeLessThanOrEqual(journal.cursor); // never past what is settled
    expect(await journal.read(7)).toBe(line(7, 300));
    expect(await journal.read(1)).toBeUndefined();
    await journal.close();

    const again = await JournalStore.open(dir, { segmentBytes: 1000 });
    expect([again.first, again.cursor, again.next]).toEqual([deleted + 1, 7, 13]);
    await again.close();
  });

  it('retention by age deletes settled segments older than maxAgeMs, and keeps younger ones', async () => {
    const journal = await JournalStore.open(dir, { segmentBytes: 500 });
    for (let i = 1; i <= 6; i++) await journal.append(line(i, 300));
    await journal.settle([1, 2, 3, 4, 5, 6]);
    expect(await journal.prune({ maxAgeMs: 60_000 })).toBe(0);
    // Lines of ~370 bytes: two to a segment. All but the segment being written (5 and 6) go.
    expect(await journal.prune({ maxAgeMs: 60_000 }, Date.now() + 120_000)).toBe(4);
    expect(journal.first).toBe(5);
    await journal.close();
  });

  it('cuts off a line left incomplete by a crash, and numbers on from the last complete one', async () => {
    const journal = await JournalStore.open(dir);
    await journal.append(line(1));
    await journal.append(line(2));
    await journal.close();
    const [segment] = await segmentFiles();
    await appendFile(join(dir, 'segments', segment!), line(3).slice(0, 25));

    const again = await JournalStore.open(dir);
    expect(again.next).toBe(3);
    expect(await again.append(line(3))).toBe(3);
    expect(await again.read(3)).toBe(line(3));
    await again.close();
  });

  it('refuses a segment that is not a regular file (a device would be read for ever) and releases the directory', async () => {
    await mkdir(join(dir, 'segments'), { recursive: true });
    await symlink('/dev/zero', join(dir, 'segments', `${'1'.padStart(20, '0')}.jsonl`));
    await expect(JournalStore.open(dir)).rejects.toThrow(/not a regular file/);
    await expect(stat(join(dir, 'LOCK'))).rejects.toThrow(/ENOENT/);
  });
});
