// The commands of the command line run in this process against the dev queue on loopback (the
// same commands cli-*.test.ts in test/integration run as a child process against ActiveMQ): what
// they print and the exit code, for an active/standby pair listed standby first, plain amqp://,
// an empty (or misspelled) queue, a refused password, and where their "Next:" pointers lead.
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CliContext } from '../../src/cli/command.js';
import { check } from '../../src/cli/commands/check.js';
import { demo } from '../../src/cli/commands/demo.js';
import { devQueue } from '../../src/cli/commands/dev-queue.js';
import { peek } from '../../src/cli/commands/peek.js';
import { pull } from '../../src/cli/commands/pull.js';
import { guidePath } from '../../src/cli/guide.js';
import { makeOutreachMessages, startDevQueue, type DevQueue } from '../../src/testing/index.js';
import { run } from './cli-run.js';

/** A loopback port nothing listens on: the standby of a pair, which refuses connections. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen({ host: '127.0.0.1', port: 0 }, done));
  const { port } = server.address() as { port: number };
  await new Promise<void>((done) => server.close(() => done()));
  return port;
}

const outFile = (): string => join(mkdtempSync(join(tmpdir(), 'cli-unit-')), 'outreach.jsonl');
const lines = (file: string): { outreachId?: string; deliveryCount?: number }[] =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as { outreachId?: string; deliveryCount?: number });

let q: DevQueue;
let standby: string;
const envFor = (queue: string, url = q.url): NodeJS.ProcessEnv => ({ CIVITAS_URL: url, CIVITAS_USERNAME: q.username, CIVITAS_PASSWORD: q.password, CIVITAS_QUEUE: queue });

beforeAll(async () => {
  q = await startDevQueue();
  standby = `amqp://127.0.0.1:${await closedPort()}`;
});
afterAll(() => q.close());

describe('pull --until-drained with the standby of a pair listed first', () => {
  for (const [form, url] of [
    ['a comma list', () => `${standby},${q.url}`],
    ['failover:(standby,active)', () => `failover:(${standby},${q.url})?randomize=false`],
  ] as const) {
    it(`an empty queue (${form}): connected, pulled 0, exit 0, no failure reported`, async () => {
      const file = outFile();
      const ran = await run(pull, { out: file, 'until-drained': true }, envFor(`cli.empty.${randomUUID()}`, url()));
      expect(ran.code, ran.stderr).toBe(0);
      expect(ran.stderr).toContain(`connecting to ${q.url} in `); // the standby refused: the next endpoint
      expect(ran.stderr).toContain(`connected to ${q.url}`);
      expect(ran.stderr).toContain(`pulled 0 message(s) into ${file}; accepted 0\n`);
      expect(ran.stderr).not.toMatch(/CONNECTION_FAILED|refused|reconnecting|error/i);
      expect(ran.stdout).toBe('');
      expect(existsSync(file)).toBe(true); // it connected: the (empty) file is there for the next run
    });
  }

  it('with messages: every one pulled, exit 0', async () => {
    const queue = `cli.pair.${randomUUID()}`;
    const sent = [...makeOutreachMessages(7, { seed: 151 })];
    q.publish(queue, ...sent);
    const file = outFile();
    const ran = await run(pull, { out: file, 'until-drained': true }, envFor(queue, `${standby},${q.url}`));
    expect(ran.code, ran.stderr).toBe(0);
    expect(lines(file).map((l) => l.outreachId)).toEqual(sent.map((m) => m.outreachId));
    expect(ran.stderr).toContain(`pulled 7 message(s) into ${file}; accepted 7\n`);
    expect(ran.stderr).not.toMatch(/CONNECTION_FAILED|refused/);
    expect(q.depth(queue)).toBe(0);
  });

  it('every endpoint refusing is still a failure: exit 3, CONNECTION_FAILED, no summary, no file', async () => {
    const file = outFile();
    const ran = await run(pull, { out: file, 'until-drained': true }, envFor('q', `${standby},amqp://127.0.0.1:${await closedPort()}`));
    expect(ran.code, ran.stderr).toBe(3);
    expect(ran.stderr).toMatch(/^CONNECTION_FAILED: .*connection refused/m);
    expect(ran.stderr).not.toContain('pulled');
    expect(existsSync(file)).toBe(false);
  });
});

describe('pull that never connects', () => {
  it('a wrong password: exit 5, the error alone (no "pulled" line), and no file left behind', async () => {
    const file = outFile();
    const ran = await run(pull, { out: file, 'until-drained': true }, { ...envFor('q'), CIVITAS_PASSWORD: 'wrong-pw-4b1d' });
    expect(ran.code, ran.stderr).toBe(5);
    expect(ran.stderr.trimEnd().split('\n')).toEqual([expect.stringMatching(/^AUTHENTICATION_FAILED: .* — check CIVITAS_USERNAME and CIVITAS_PASSWORD/)]);
    expect(existsSync(file)).toBe(false);
  });

  it('a file that already exists is appended to, and left as it was when the login fails', async () => {
    const queue = `cli.append.${randomUUID()}`;
    q.publish(queue, ...makeOutreachMessages(2, { seed: 152 }));
    const file = outFile();
    expect((await run(pull, { out: file, 'until-drained': true }, envFor(queue))).code).toBe(0);
    const before = readFileSync(file, 'utf8');
    const refused = await run(pull, { out: file, 'until-drained': true }, { ...envFor(queue), CIVITAS_PASSWORD: 'wrong-pw-4b1d' });
    expect(refused.code).toBe(5);
    expect(readFileSync(file, 'utf8')).toBe(before);
  });

  it('a directory that does not exist is refused before any connection (exit 2)', async () => {
    await expect(run(pull, { out: join(tmpdir(), `no-such-dir-${randomUUID()}`, 'x.jsonl') }, envFor('q'))).rejects.toThrow(/cannot open --out .*: ENOENT/);
  });
});

describe('check and peek against the dev queue', () => {
  it('says the connection is plain AMQP, not TLS', async () => {
    const ran = await run(check, {}, envFor(`cli.plain.${randomUUID()}`));
    expect(ran.code, ran.stderr).toBe(0);
    expect(ran.stdout).toMatch(/^ok: amqp:\/\/127\.0\.0\.1:\d+: plain AMQP, no TLS \(fine for the dev queue; Amazon MQ needs amqps:\/\/\), logged in as civitas/);
    expect(ran.stdout).not.toContain('TLS verified');
  });

  it('a queue name nobody used (a typo) is empty: check and peek say to check the name', async () => {
    const queue = `cli.typo.${randomUUID()}`;
    const note = `note: queue ${queue} is empty: if you expected messages, check the name; ActiveMQ creates a queue the first time a client names it\n`;
    const checked = await run(check, {}, envFor(queue));
    expect(checked.code, checked.stderr).toBe(0);
    expect(checked.stdout).toContain(note);
    const peeked = await run(peek, {}, envFor(queue));
    expect(peeked.code, peeked.stderr).toBe(0);
    expect(peeked.stderr).toContain(note);
  });

  it('a queue with messages: check says so and takes none of them', async () => {
    const queue = `cli.full.${randomUUID()}`;
    q.publish(queue, ...makeOutreachMessages(3, { seed: 153 }));
    const ran = await run(check, {}, envFor(queue));
    expect(ran.code, ran.stderr).toBe(0);
    expect(ran.stdout).toContain(`queue ${queue} holds messages (peek shows them)\n`);
    expect(ran.stdout).not.toContain('is empty');
    expect(q.stats(queue)).toMatchObject({ depth: 3, dequeued: 0 });
    // Nothing taken, nor a delivery count raised: a pull afterwards gets each as a first delivery.
    const file = outFile();
    expect((await run(pull, { out: file, 'until-drained': true }, envFor(queue))).code).toBe(0);
    expect(lines(file).map((l) => l.deliveryCount)).toEqual([0, 0, 0]);
  });
});

describe('where the output points', () => {
  it('guidePath finds the package docs from any directory, relative when below it', () => {
    const root = resolve(import.meta.dirname, '..', '..');
    expect(guidePath('cli.md', root)).toBe(join('docs', 'cli.md'));
    const elsewhere = mkdtempSync(join(tmpdir(), 'cli-guide-'));
    expect(readFileSync(resolve(elsewhere, guidePath('cli.md', elsewhere)!), 'utf8')).toMatch(/^# The command line/m);
    expect(guidePath('no-such-guide.md', root)).toBeUndefined();
  });

  it('demo ends with npx commands and guide paths that exist', async () => {
    const ran = await run(demo, { messages: '0' }, {});
    expect(ran.code, ran.stderr).toBe(0);
    const next = ran.stdout.split('\n').find((l) => l.startsWith('Next: '))!;
    expect(next).toContain('`npx civitas-outreach check`');
    expect(next).toContain('`npx civitas-outreach --help`; guide: ');
    const paths = [...next.matchAll(/(?:guide: |\()([^\s`();]+\.md)\)/g)].map((m) => m[1]!);
    expect(paths).toHaveLength(2);
    for (const path of paths) expect(existsSync(resolve(path)), path).toBe(true);
  });

  it('dev-queue prints the npx commands to run in another terminal, and the guide', async () => {
    const stop = new AbortController();
    const running = run(devQueue, { messages: '1' }, {}, stop.signal);
    setTimeout(() => stop.abort(), 200);
    const ran = await running;
    expect(ran.code, ran.stderr).toBe(0);
    for (const command of ['check', 'peek', 'pull --out outreach.jsonl --until-drained']) expect(ran.stdout).toContain(`\n  npx civitas-outreach ${command}\n`);
    const guide = /^more: `npx civitas-outreach --help`; guide: (\S+)$/m.exec(ran.stdout)?.[1];
    expect(guide !== undefined && existsSync(resolve(guide)), ran.stdout).toBe(true);
  });
});

describe('pull: each message is written, then fsynced, then accepted', () => {
  it('no message is accepted before the fsync that covers its line has returned', async () => {
    const queue = `cli.fsync.${randomUUID()}`;
    q.publish(queue, ...makeOutreachMessages(3, { seed: 61 }));
    const events: string[] = [];
    let releaseSync: () => void = () => undefined;
    const syncHeld = new Promise<void>((resolve) => (releaseSync = resolve));
    let syncCalled = false;
    // The real file, watched: writes are logged; the first fsync waits for the test.
    const watched: CliContext['openFile'] = async (...args: Parameters<typeof open>) => {
      const handle = await open(...args);
      return new Proxy(handle, {
        get(target, key, receiver) {
          if (key === 'write') return (...a: unknown[]) => (events.push('write'), (target.write as (...x: unknown[]) => unknown).apply(target, a));
          if (key === 'sync') {
            return async () => {
              events.push(`sync with ${q.stats(queue).dequeued} accepted`);
              syncCalled = true;
              await syncHeld;
              await target.sync();
              events.push('synced');
            };
          }
          const value: unknown = Reflect.get(target, key, receiver);
          return typeof value === 'function' ? (value as (...x: unknown[]) => unknown).bind(target) : value;
        },
      }) as FileHandle;
    };
    const file = outFile();
    const ran = run(pull, { out: file, 'until-drained': true }, envFor(queue), undefined, watched);
    while (!syncCalled) await new Promise((resolve) => setTimeout(resolve, 5));
    // The lines are written and the fsync is under way: nothing may be accepted yet.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(q.stats(queue).dequeued).toBe(0);
    expect(q.depth(queue)).toBe(3);
    releaseSync();
    const done = await ran;
    expect(done.code).toBe(0);
    expect(q.depth(queue)).toBe(0);
    expect(events.slice(0, 3)).toEqual(['write', 'sync with 0 accepted', 'synced']);
    expect(lines(file)).toHaveLength(3);
  });
});

