// The command line with no broker to install: `demo` (the README's first command), `dev-queue`
// (the dev queue in the foreground, for the other commands or your own code), and `pull` against
// the dev queue, killed in the middle, as it is tested against ActiveMQ in cli-pull.test.ts.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { exampleOutreachMessages, makeOutreachMessages, startDevQueue } from '../../src/testing/index.js';
import { assertCliBuilt, readLines, runCli, startCli } from './cli-support.js';
import { waitFor } from './support.js';

beforeAll(() => assertCliBuilt());

/** The environment of a user with no CIVITAS_* settings, plus these. */
function envWith(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('CIVITAS_')) delete env[key];
  return { ...env, ...extra };
}

const outFile = (): string => join(mkdtempSync(join(tmpdir(), 'cli-dev-queue-')), 'outreach.jsonl');

describe('demo', () => {
  it('prints the spec examples and the made-up outreach readably, accepts each, and exits 0', async () => {
    const run = await runCli(['demo', '--messages', '4'], envWith());
    expect(run.code, run.stderr).toBe(0);
    for (const example of Object.values(exampleOutreachMessages())) expect(run.stdout).toContain(`outreach ${example.outreachId}`);
    // Source, medium, employee, students and properties with their valueIds.
    expect(run.stdout).toMatch(/^1\. Illume Students · Campaign · 2018-06-11T19:35:15\.366848 · outreach /m);
    expect(run.stdout).toContain('   by Joe Bob <joe.bob@institution.edu>');
    expect(run.stdout).toMatch(/^ {3}to 1 student\(s\): 123567 /m);
    expect(run.stdout).toMatch(/^ {5}outreachInitiator +"Faculty Initiated" {2}valueId 07e0f3dd-1673-8244-2364-b95f97bbf13e$/m);
    expect(run.stdout.match(/^\d+\. /gm)).toHaveLength(7);
    expect(run.stdout).toContain('7 outreach decoded and accepted (7 settled as accepted); 0 left on the queue.');
    // What to run next, as a user who installed the package types it, and a guide that is there.
    expect(run.stdout).toMatch(/^Next: your own queue with `npx civitas-outreach check`, then `peek` and `pull` \(`npx civitas-outreach --help`; guide: docs\/cli\.md\)/m);
  });

  it('refuses a bad option with exit 2', async () => {
    const run = await runCli(['demo', '--messages', 'many'], envWith());
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--messages must be a whole number');
  });
});

describe('dev-queue', () => {
  it('prints the settings; check, peek and pull use them over plain amqp:// to this machine; Ctrl-C stops it', async () => {
    const password = 'dev-queue-test-password';
    const server = startCli(['dev-queue', '--messages', '25', '--queue', 'dq.cli'], envWith({ CIVITAS_PASSWORD: password }));
    try {
      await waitFor(() => server.stdout().includes('Ctrl-C stops it.'), 'the dev queue to print its settings', 30_000);
      const settings = Object.fromEntries([...server.stdout().matchAll(/^ {2}export (CIVITAS_\w+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]));
      expect(settings).toMatchObject({ CIVITAS_USERNAME: 'civitas', CIVITAS_PASSWORD: password, CIVITAS_QUEUE: 'dq.cli' });
      expect(settings['CIVITAS_URL']).toMatch(/^amqp:\/\/127\.0\.0\.1:\d+$/);
      expect(server.stdout()).toContain('then, in another terminal with these settings:\n  npx civitas-outreach check\n  npx civitas-outreach peek\n');
      const env = envWith(settings);

      const check = await runCli(['check'], env);
      expect(check.code, check.stderr).toBe(0);
      expect(check.stdout).toMatch(/^ok: amqp:\/\/127\.0\.0\.1:\d+: plain AMQP, no TLS \(fine for the dev queue; Amazon MQ needs amqps:\/\/\), logged in as civitas, queue dq\.cli may be read/);
      expect(check.stdout).not.toContain('TLS verified');
      const peek = await runCli(['peek', '--limit', '5'], env);
      expect(peek.code, peek.stderr).toBe(0);
      expect(peek.stdout.trim().split('\n')).toHaveLength(5);
      const file = outFile();
      const pull = await runCli(['pull', '--out', file, '--until-drained'], env);
      expect(pull.code, pull.stderr).toBe(0);
      // peek took nothing: pull gets all 25.
      expect(readLines(file)).toHaveLength(25);

      const wrong = await runCli(['check'], { ...env, CIVITAS_PASSWORD: 'wrong' });
      expect(wrong.code).toBe(5);
    } finally {
      server.child.kill('SIGINT');
    }
    const ended = await server.done;
    expect(ended.code, ended.stderr).toBe(0);
    expect(ended.stderr).toContain('dev queue stopping: 0 message(s) were still on dq.cli');
  });
});

describe('pull against the dev queue', () => {
  it('killed (SIGKILL) in the middle: every message is in the file or still on the queue', async () => {
    const sent = [...makeOutreachMessages(600, { seed: 91 })];
    await using q = await startDevQueue({ queues: { 'dq.kill': sent } });
    const env = envWith({ CIVITAS_URL: q.url, CIVITAS_USERNAME: q.username, CIVITAS_PASSWORD: q.password, CIVITAS_QUEUE: 'dq.kill' });
    const file = outFile();
    const run = startCli(['pull', '--out', file], env);
    await waitFor(() => readLines(file).length >= 20, 'the first lines in the file', 60_000);
    run.child.kill('SIGKILL');
    expect((await run.done).signal).toBe('SIGKILL');

    const inFile = readLines(file).map((l) => l.outreachId!);
    expect(inFile.length).toBeLessThan(sent.length);
    // Unsettled deliveries go back on the queue when the connection is gone.
    await waitFor(() => q.connections === 0, 'the killed connection to be noticed', 10_000);
    const left = q.browse('dq.kill').map((m) => ((typeof m.body === 'string' ? JSON.parse(m.body) : m.body) as { outreachId: string }).outreachId);
    const union = new Set([...inFile, ...left]);
    expect(sent.map((m) => m.outreachId).filter((id) => !union.has(id))).toEqual([]); // nothing lost
    // Written but not yet accepted when it died: in both, at most one prefetch.
    expect(left.filter((id) => inFile.includes(id)).length).toBeLessThanOrEqual(50);
  });
});
