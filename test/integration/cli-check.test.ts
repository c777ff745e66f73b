// `civitas-outreach check` as a user runs it: each kind of trouble ends in its own exit code and
// one line naming the cause and the fix; no message is taken; no password is printed.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeOutreachMessages } from '../../src/testing/index.js';
import { assertCliBuilt, CLI, cliEnv, closedPort, readLines, runCli, type CliRun } from './cli-support.js';
import { queueStatsOf, sendAmqp, sharedBroker, uniqueQueue } from './support.js';

const broker = sharedBroker();
const WRONG_PASSWORD = 'wrong-Pa55word-c4e1';

beforeAll(() => assertCliBuilt());

/** One line on stderr, nothing on stdout, no secret anywhere. */
function expectOneFailureLine(run: CliRun, code: number, pattern: RegExp): void {
  expect(run.code, run.stderr).toBe(code);
  expect(run.stdout).toBe('');
  const lines = run.stderr.trimEnd().split('\n');
  expect(lines, run.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
  expect(lines[0]).toContain(' — '); // cause — fix
  for (const secret of [broker.password, broker.restrictedPassword, WRONG_PASSWORD]) expect(run.stderr).not.toContain(secret);
}

describe('check', () => {
  it('exits 0 with good settings, and takes no message', async () => {
    const queue = uniqueQueue('cli-check');
    await sendAmqp(broker, queue, [...makeOutreachMessages(2, { seed: 11 })].map((m) => JSON.stringify(m)));
    const run = await runCli(['check'], cliEnv(broker, queue));
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`^ok: amqps://127\\.0\\.0\\.1:${broker.amqpsPort}: TLS verified, logged in as ${broker.username}, queue ${queue} may be read`));
    expect(run.stdout).toContain(`\nqueue ${queue} holds messages (peek shows them)\n`);
    expect(run.stdout).not.toContain('is empty');
    // The receiver with no credit is dispatched nothing. The browse of one message that tells an
    // empty queue takes nothing, but JMX DispatchCount counts browsed messages: that one and one
    // more ActiveMQ sends the browser ahead of its credit (2 with 2, 5, 50 or 600 queued, measured).
    const stats = await queueStatsOf(broker, queue);
    expect({ size: stats.size, dequeued: stats.dequeued }).toEqual({ size: 2, dequeued: 0 });
    expect(stats.dispatched).toBeGreaterThanOrEqual(1);
    expect(stats.dispatched).toBeLessThanOrEqual(2);
    // Nor is a delivery count raised: a pull afterwards gets both as first deliveries.
    const file = join(mkdtempSync(join(tmpdir(), 'cli-check-')), 'outreach.jsonl');
    const pulled = await runCli(['pull', '--out', file, '--until-drained'], cliEnv(broker, queue));
    expect(pulled.code, pulled.stderr).toBe(0);
    expect(readLines(file).map((l) => l.deliveryCount)).toEqual([0, 0]);
  });

  it('a queue name nobody used (a typo): ActiveMQ creates it, check passes and says it is empty, check the name', async () => {
    const queue = uniqueQueue('cli-check-typo');
    expect(await broker.queueStats(queue)).toBeNull(); // no such queue yet
    const run = await runCli(['check'], cliEnv(broker, queue));
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain(
      `\nnote: queue ${queue} is empty: if you expected messages, check the name; ActiveMQ creates a queue the first time a client names it\n`,
    );
    expect(await broker.queueStats(queue)).toMatchObject({ size: 0 }); // created by the check's attach
  });

  it('a wrong password: exit 5, AUTHENTICATION_FAILED and what to check', async () => {
    const run = await runCli(['check'], cliEnv(broker, uniqueQueue('cli-check'), { CIVITAS_PASSWORD: WRONG_PASSWORD }));
    expectOneFailureLine(run, 5, /^AUTHENTICATION_FAILED: .*refused the username or password.* — check CIVITAS_USERNAME and CIVITAS_PASSWORD/);
  });

  it('a queue the user may not read: exit 6, QUEUE_UNAVAILABLE; the queue it may read: 0', async () => {
    const restricted = { CIVITAS_USERNAME: broker.restrictedUsername, CIVITAS_PASSWORD: broker.restrictedPassword };
    const refused = await runCli(['check'], cliEnv(broker, uniqueQueue('cli-check'), restricted));
    expectOneFailureLine(refused, 6, /^QUEUE_UNAVAILABLE: .*not authorized to read.* — check CIVITAS_QUEUE/);
    const allowed = await runCli(['check'], cliEnv(broker, uniqueQueue(`${broker.restrictedQueuePrefix}cli`), restricted));
    expect(allowed.code, allowed.stderr).toBe(0);
  });

  it('a closed port and an unknown host: exit 3, CONNECTION_FAILED and the allow list', async () => {
    const port = await closedPort();
    const closed = await runCli(['check'], cliEnv(broker, 'q', { CIVITAS_URL: `amqps://127.0.0.1:${port}` }));
    expectOneFailureLine(closed, 3, /^CONNECTION_FAILED: .*connection refused \(ECONNREFUSED\) — .*allow list/);
    const unknown = await runCli(['check'], cliEnv(broker, 'q', { CIVITAS_URL: 'amqps://no-such-host.invalid:5671' }));
    expectOneFailureLine(unknown, 3, /^CONNECTION_FAILED: amqps:\/\/no-such-host\.invalid:5671: .*\(E[A-Z_]+\) — /);
  });

  it('a certificate not trusted (no CIVITAS_CA for a private broker): exit 4, TLS_FAILED and CIVITAS_CA', async () => {
    const run = await runCli(['check'], cliEnv(broker, 'q', { CIVITAS_CA: undefined }));
    expectOneFailureLine(run, 4, /^TLS_FAILED: .*not trusted.* — .*CIVITAS_CA/);
  });

  it('the active endpoint of a pair is found when the other refuses connections', async () => {
    const port = await closedPort();
    const run = await runCli(['check'], cliEnv(broker, uniqueQueue('cli-check'), { CIVITAS_URL: `amqps://127.0.0.1:${port},amqps://127.0.0.1:${broker.amqpsPort}` }));
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`^ok: amqps://127\\.0\\.0\\.1:${broker.amqpsPort}: .*; amqps://127\\.0\\.0\\.1:${port}: connection refused`));
    // The same pair as the failover:(a,b) form that --help offers.
    const failover = await runCli(['check'], cliEnv(broker, uniqueQueue('cli-check'), { CIVITAS_URL: `failover:(amqps://127.0.0.1:${port},amqps://127.0.0.1:${broker.amqpsPort})?randomize=false` }));
    expect(failover.code, failover.stderr).toBe(0);
    expect(failover.stdout).toMatch(new RegExp(`^ok: amqps://127\\.0\\.0\\.1:${broker.amqpsPort}: `));
  });
});

describe('settings', () => {
  it('bad URLs, missing settings and a --password flag: exit 2 with what to set', async () => {
    const cases: [Record<string, string | undefined>, string[], RegExp][] = [
      [{ CIVITAS_URL: 'http://127.0.0.1:5671' }, [], /CIVITAS_URL "http:\/\/127\.0\.0\.1:5671": scheme http: is not AMQP/],
      [{ CIVITAS_URL: 'amqp://10.1.2.3:5672' }, [], /sends the password in clear text; use amqp\+ssl:\/\/.*\(plain amqp:\/\/ is taken only for this machine/],
      [{ CIVITAS_URL: 'amqp://127.0.0.1:5672,amqp://broker.example.edu:5672' }, [], /sends the password in clear text/],
      [{ CIVITAS_URL: 'amqps://user:pw@127.0.0.1:5671' }, [], /remove the credentials from the URL/],
      [{ CIVITAS_URL: 'not a url' }, [], /CIVITAS_URL "not a url": not a URL/],
      [{ CIVITAS_URL: undefined }, [], /missing the broker URL .*: set CIVITAS_URL or pass --url/],
      [{ CIVITAS_QUEUE: undefined }, [], /missing the queue name: set CIVITAS_QUEUE or pass --queue/],
      [{ CIVITAS_PASSWORD: undefined }, [], /missing the password: set CIVITAS_PASSWORD/],
      [{ CIVITAS_CA: '/nonexistent/ca.pem' }, [], /cannot read the CA certificate CIVITAS_CA=\/nonexistent\/ca\.pem: ENOENT/],
      [{}, ['--password', 'x'], /there is no --password flag/],
      [{}, ['--limit', '3'], /Unknown option '--limit'/],
    ];
    for (const [env, args, pattern] of cases) {
      const run = await runCli(['check', ...args], cliEnv(broker, 'q', env));
      expect(run.code, `${JSON.stringify(env)} ${args.join(' ')}: ${run.stderr}`).toBe(2);
      expect(run.stderr).toMatch(pattern);
      expect(run.stderr).toMatch(/\(see civitas-outreach check --help\)\n$/);
    }
  });

  it.skipIf(spawnSync('python3', ['--version']).status !== 0)('asks for the password on a terminal, without echoing it', () => {
    const env = cliEnv(broker, uniqueQueue('cli-prompt'), { CIVITAS_PASSWORD: undefined });
    const out = execFileSync('python3', [join(import.meta.dirname, 'fixtures', 'pty-run.py'), 'Password for ', broker.password, '--', process.execPath, CLI, 'check'], {
      env,
      encoding: 'utf8',
      timeout: 90_000,
    });
    const { status, transcript } = JSON.parse(out) as { status: number; transcript: string };
    expect(status, transcript).toBe(0);
    expect(transcript).toContain(`Password for ${broker.username} at amqps://127.0.0.1:${broker.amqpsPort}: `);
    expect(transcript).toContain('ok: ');
    expect(transcript).not.toContain(broker.password);
  });

  it('flags win over variables', async () => {
    const queue = uniqueQueue('cli-flags');
    const run = await runCli(['check', '--url', `amqps://localhost:${broker.amqpsPort}`, '--queue', queue, '--ca', broker.caPath], cliEnv(broker, 'other', { CIVITAS_URL: 'amqps://127.0.0.1:1', CIVITAS_CA: undefined }));
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain(`ok: amqps://localhost:${broker.amqpsPort}: TLS verified, logged in as ${broker.username}, queue ${queue}`);
  });

  it('--help for the program and each command; an unknown command exits 2', async () => {
    const env = cliEnv(broker, 'q');
    const main = await runCli(['--help'], env);
    expect(main.code).toBe(0);
    expect(main.stdout).toContain('Run `npx civitas-outreach <command> --help`');
    expect(main.stdout).toMatch(/^The guide: docs\/cli\.md$/m); // where it is, from this directory
    for (const name of ['demo', 'dev-queue', 'pull', 'peek', 'check']) {
      expect(main.stdout).toMatch(new RegExp(`^  ${name} `, 'm'));
      const help = await runCli([name, '--help'], env);
      expect(help.code).toBe(0);
      expect(help.stdout).toMatch(new RegExp(`^Usage: civitas-outreach ${name}`));
      // Every command that takes a password says where it comes from (demo takes none).
      if (name !== 'demo') expect(help.stdout).toContain('CIVITAS_PASSWORD');
    }
    const unknown = await runCli(['bogus'], env);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "bogus"; commands: demo, dev-queue, pull, peek, check, replay');
  });
});
