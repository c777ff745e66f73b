// The command line over a journal: `replay --journal` prints its lines (or runs them into a handler
// module), `dead-letters --journal` lists the journal's own dead letters and re-drives them
// through a handler module; none touches the broker; a re-drive beside a running consumer is refused.
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deadLetters } from '../../src/cli/commands/dead-letters.js';
import { replay } from '../../src/cli/commands/replay.js';
import { UsageError } from '../../src/cli/command.js';
import { atLeastOnce } from '../../src/index.js';
import { makeOutreachMessages, startDevQueue, type DevQueue } from '../../src/testing/index.js';
import { run } from './cli-run.js';
import { devConsumer, until } from './dev-consumer.js';

const QUEUE = 'cli.journal';
let dir: string;
let work: string;
let q: DevQueue;
beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'cli-journal-'));
  dir = join(work, 'journal');
  q = await startDevQueue({ network: false, queues: { [QUEUE]: [] } });
});
afterEach(async () => {
  await q.close();
  await rm(work, { recursive: true, force: true });
});

/** A journal-mode run over 8 messages whose handler refuses the first two for good. */
async function journalWithPoison(): Promise<{ ids: string[]; poison: string[] }> {
  const messages = [...makeOutreachMessages(8, { seed: 12 })];
  q.publish(QUEUE, ...messages);
  const poison = messages.slice(0, 2).map((m) => m.outreachId);
  const consumer = devConsumer(q, QUEUE, { journal: { dir }, strategy: atLeastOnce({ maxAttempts: 1 }) });
  await consumer.start(async (d) => {
    if (poison.includes(d.outreach.outreachId)) throw new Error('refused');
  });
  await until(() => consumer.health().journal?.unhandled === 0 && consumer.health().counts.rejected === 2, 'the journal handled');
  await consumer.close();
  return { ids: messages.map((m) => m.outreachId), poison };
}

/**
 * A handler module that records what it got on globalThis (it runs in this process), and exports
 * a strategy of one attempt (from the built package, as a user's module would import it).
 */
async function handlerModule(name: string, refuse: readonly string[] = []): Promise<string> {
  const path = join(work, `${name}.mjs`);
  const dist = pathToFileURL(join(import.meta.dirname, '..', '..', 'dist', 'index.js')).href;
  await writeFile(
    path,
    `import { atLeastOnce } from ${JSON.stringify(dist)};
export const strategy = atLeastOnce({ maxAttempts: 1 });
const refuse = ${JSON.stringify(refuse)};
export default async function handler(delivery) {
  if (refuse.includes(delivery.outreach.outreachId)) throw new Error('still refused');
  (globalThis.__cliJournal ??= []).push(delivery.outreach.outreachId);
}
`,
  );
  return path;
}
const got = (): string[] => (globalThis as { __cliJournal?: string[] }).__cliJournal ?? [];
afterEach(() => void delete (globalThis as { __cliJournal?: string[] }).__cliJournal);

describe('replay --journal', () => {
  it("prints the journal's lines as its segments hold them, and runs them into a handler module", async () => {
    const { ids } = await journalWithPoison();
    const segments = join(dir, 'segments');
    const files = (await readdir(segments)).sort();
    const onDisk = (await Promise.all(files.map((f) => readFile(join(segments, f), 'utf8')))).join('');
    const printed = await run(replay, { journal: dir }, {});
    expect(printed.code).toBe(0);
    expect(printed.stdout).toBe(onDisk);

    const ran = await run(replay, { journal: dir, handler: await handlerModule('all') }, {});
    expect(ran.code).toBe(0);
    expect(got()).toEqual(ids);
    expect(ran.stderr).toMatch(/replayed 8 line\(s\) from .* 8 handled, 0 failed, 0 undecodable, 0 unfinished/);
  });

  it('exit code 1 when a line fails in the handler, naming it; usage errors for a bad command line', async () => {
    const { poison } = await journalWithPoison();
    const ran = await run(replay, { journal: dir, handler: await handlerModule('refusing', [poison[0]!]) }, {});
    expect(ran.code).toBe(1);
    expect(ran.stderr).toMatch(/failed: .*segments.*:1 message/);
    await expect(run(replay, { journal: dir, archive: dir }, {})).rejects.toThrow(UsageError);
    await expect(run(replay, { journal: dir, handler: join(work, 'missing.mjs') }, {})).rejects.toThrow(/cannot load it/);
  });
});

describe('dead-letters --journal', () => {
  it('lists them (summary, or --full lines), re-drives one and then the rest after a fix', async () => {
    const { poison } = await journalWithPoison();
    const listed = await run(deadLetters, { journal: dir }, {});
    expect(listed.code).toBe(0);
    const rows = listed.stdout.trim().split('\n').map((l) => JSON.parse(l) as { outreachId: string; reason: string; messageId: string });
    expect(rows.map((r) => r.outreachId)).toEqual(poison);
    expect(rows[0]!.reason).toMatch(/attempt/);
    const full = await run(deadLetters, { journal: dir, full: true }, {});
    expect(full.stdout).toBe(await readFile(join(dir, 'dead-letters.jsonl'), 'utf8'));

    const one = await run(deadLetters, { journal: dir, redrive: true, 'message-id': rows[1]!.messageId, handler: await handlerModule('fixed') }, {});
    expect(one.code).toBe(0);
    expect(one.stderr).toContain('re-drove 1 dead letter(s): 1 handled and removed, 0 kept, 0 unfinished');
    const rest = await run(deadLetters, { journal: dir, redrive: true, handler: await handlerModule('fixed-2') }, {});
    expect(rest.code).toBe(0);
    expect(got()).toEqual([poison[1], poison[0]]);
    expect((await run(deadLetters, { journal: dir }, {})).stdout).toBe('');
  });

  it('a re-drive beside the running consumer is refused with exit code 7; --redrive needs --handler', async () => {
    await journalWithPoison();
    const consumer = devConsumer(q, QUEUE, { journal: { dir } });
    await consumer.start(async () => undefined);
    try {
      const ran = await run(deadLetters, { journal: dir, redrive: true, handler: await handlerModule('held') }, {});
      expect(ran.code).toBe(7);
      expect(ran.stderr).toMatch(/^JOURNAL_IN_USE: /);
      expect(got()).toEqual([]);
    } finally {
      await consumer.close();
    }
    await expect(run(deadLetters, { journal: dir, redrive: true }, {})).rejects.toThrow(/needs --handler/);
  });
});
