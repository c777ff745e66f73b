// `replay`: a pull archive's lines back, byte for byte, filtered by time, outreach id and source;
// an incomplete last line skipped; a line that is not ours stops it. Also the journal's own
// segments read the same way (replayLines on a journal directory).
import { randomUUID } from 'node:crypto';
import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pull } from '../../src/cli/commands/pull.js';
import { replay } from '../../src/cli/commands/replay.js';
import { JournalStore } from '../../src/journal/journal-store.js';
import { archiveLine } from '../../src/journal/line.js';
import { replayLines } from '../../src/journal/replay.js';
import { makeOutreachMessages, startDevQueue } from '../../src/testing/index.js';
import { run } from './cli-run.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'replay-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const sources = ['Advisor', 'Faculty', 'Illume Students'] as const;
/** Six lines received a day apart from 2026-11-25, sources in turn. */
function lines(): string[] {
  return [...makeOutreachMessages(6, { seed: 91 })].map((m, i) =>
    archiveLine(
      { messageId: `ID:${i}`, deliveryCount: 0, receivedAt: new Date(Date.UTC(2026, 10, 25 + i, 12)), outreachId: m.outreachId },
      JSON.stringify({ ...m, outreachSource: sources[i % 3] }),
    ),
  );
}

describe('replay --archive', () => {
  it("prints a pull archive's lines exactly as pull wrote them, in order, and touches no broker", async () => {
    const q = await startDevQueue({ queues: { r: [...makeOutreachMessages(7, { seed: 90 })] } });
    const file = join(dir, 'pulled.jsonl');
    try {
      const env = { CIVITAS_URL: q.url, CIVITAS_USERNAME: q.username, CIVITAS_PASSWORD: q.password, CIVITAS_QUEUE: 'r' };
      const pulled = await run(pull, { out: file, 'until-drained': true }, env);
      expect(pulled.code).toBe(0);
    } finally {
      await q.close();
    }
    const ran = await run(replay, { archive: file }, {});
    expect(ran.code).toBe(0);
    expect(ran.stdout).toBe(await readFile(file, 'utf8'));
    expect(ran.stdout.split('\n').filter(Boolean)).toHaveLength(7);
    expect(ran.stderr).toBe(`replayed 7 line(s) from ${file}\n`);
  });

  it('filters by --since (inclusive), --until (exclusive), --outreach-id and --source; a date alone is midnight UTC', async () => {
    const all = lines();
    const file = join(dir, 'a.jsonl');
    await writeFile(file, all.join(''));
    const out = async (values: Record<string, string>): Promise<string> => (await run(replay, { archive: file, ...values }, {})).stdout;
    expect(await out({ since: '2026-11-27T12:00:00Z', until: '2026-11-29' })).toBe(all.slice(2, 4).join(''));
    expect(await out({ since: '2026-11-30' })).toBe(all.slice(5).join(''));
    expect(await out({ until: '2026-11-27T12:00:00Z' })).toBe(all.slice(0, 2).join('')); // the line at that instant is out
    const id = (JSON.parse(all[4]!) as { outreachId: string }).outreachId;
    expect(await out({ 'outreach-id': id })).toBe(all[4]);
    expect(await out({ source: 'Faculty' })).toBe(all[1]! + all[4]!);
    expect(await out({ source: 'Faculty', since: '2026-11-28' })).toBe(all[4]);
  });

  it('skips an incomplete last line (its message was never accepted), and stops at a line that is not ours, saying where', async () => {
    const all = lines();
    const file = join(dir, 'b.jsonl');
    await writeFile(file, all.slice(0, 2).join('') + all[2]!.slice(0, 40));
    const cut = await run(replay, { archive: file }, {});
    expect([cut.code, cut.stdout]).toEqual([0, all.slice(0, 2).join('')]);

    await appendFile(file, '\nhello world\n');
    const bad = await run(replay, { archive: file }, {});
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(`${file}:3: not a civitas-outreach line (not JSON); 2 line(s) printed before it`);
  });

  it('refuses a time that is not ISO 8601 (or has no zone) with a usage error, and a missing file with exit 1', async () => {
    await expect(run(replay, { archive: join(dir, 'x'), since: '30/11/2026' }, {})).rejects.toThrow(/--since must be an ISO 8601/);
    await expect(run(replay, { archive: join(dir, 'x'), until: '2026-11-30T08:00' }, {})).rejects.toThrow(/--until must be an ISO 8601/);
    const missing = await run(replay, { archive: join(dir, `none-${randomUUID()}`) }, {});
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('ENOENT');
  });
});

describe('replayLines on a journal directory', () => {
  it('reads its segments in order, the same line format, filtered alike', async () => {
    const all = lines();
    const journal = await JournalStore.open(join(dir, 'journal'), { segmentBytes: 4000 });
    for (const l of all) await journal.append(l);
    await journal.close();
    const read: string[] = [];
    for await (const l of replayLines(join(dir, 'journal'))) read.push(l.text);
    expect(read).toEqual(all);
    const advisor: string[] = [];
    for await (const l of replayLines(join(dir, 'journal'), { source: 'Advisor' })) advisor.push(l.text);
    expect(advisor).toEqual([all[0], all[3]]);
  });
});
