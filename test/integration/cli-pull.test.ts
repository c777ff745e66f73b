// `civitas-outreach pull` as a user runs it, against the real broker: every message ends up in
// the file or stays on the queue, whether the run ends by itself, by SIGTERM or by SIGKILL.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeOutreachMessages } from '../../src/testing/index.js';
import { assertCliBuilt, CLI, cliEnv, closedPort, readLines, runCli, startCli, type ArchivedLine } from './cli-support.js';
import { expectQueueSize, queueStatsOf, sendAmqp, sharedBroker, uniqueQueue, waitFor } from './support.js';

const broker = sharedBroker();

beforeAll(() => assertCliBuilt());

function outFile(): string {
  return join(mkdtempSync(join(tmpdir(), 'cli-pull-')), 'outreach.jsonl');
}

/** Sends `n` outreach messages; returns their ids in order. */
async function fill(queue: string, n: number, seed: number): Promise<string[]> {
  const messages = [...makeOutreachMessages(n, { seed })];
  await sendAmqp(broker, queue, messages.map((m) => JSON.stringify(m)));
  return messages.map((m) => m.outreachId);
}

/**
 * The outreach ids still on the queue, taken off it by a second run into another file. (peek
 * cannot list them: ActiveMQ shows a browser at most 400 messages; see cli-peek.test.ts.)
 */
async function drainRest(queue: string): Promise<string[]> {
  const file = outFile();
  const run = await runCli(['pull', '--out', file, '--until-drained'], cliEnv(broker, queue));
  expect(run.code, run.stderr).toBe(0);
  await expectQueueSize(broker, queue, 0);
  return ids(readLines(file));
}

const ids = (lines: readonly ArchivedLine[]): string[] => lines.map((l) => l.outreachId!);

describe('pull', () => {
  it('--until-drained: every message in the file, as sent (undecodable ones too, with the reason), the queue empty', async () => {
    const queue = uniqueQueue('cli-pull');
    const messages = [...makeOutreachMessages(30, { seed: 31 })];
    await sendAmqp(broker, queue, messages.map((m) => JSON.stringify(m)));
    await sendAmqp(broker, queue, ['{"outreachId": 12345678901234567890}'], { form: 'data' });
    await sendAmqp(broker, queue, ['not json']);
    const file = outFile();
    const run = await runCli(['pull', '--out', file, '--until-drained'], cliEnv(broker, queue));
    expect(run.code, run.stderr).toBe(0);
    const lines = readLines(file);
    expect(lines).toHaveLength(32);
    expect(lines.slice(0, 30).map((l) => l.body)).toEqual(messages);
    expect(ids(lines.slice(0, 30))).toEqual(messages.map((m) => m.outreachId));
    // The big number keeps every digit: the body is the JSON text as sent, not a re-serialised value.
    expect(readFileSync(file, 'utf8')).toContain('"body":{"outreachId":12345678901234567890}');
    expect(lines[30]).toMatchObject({ invalid: { kind: 'wrong-shape' }, deliveryCount: 0 });
    expect(lines[31]).toMatchObject({ invalid: { kind: 'not-json' }, bodyText: 'not json' });
    expect(lines.every((l) => typeof l.messageId === 'string' && !Number.isNaN(Date.parse(l.receivedAt)))).toBe(true);
    expect(run.stderr).toContain(`pulled 32 message(s) into ${file} (2 undecodable, written with the reason); accepted 32\n`);
    await expectQueueSize(broker, queue, 0);
    expect((await queueStatsOf(broker, queue)).dequeued).toBe(32);
  });

  it('--limit N takes N messages and leaves the rest; a second run appends', async () => {
    const queue = uniqueQueue('cli-pull');
    const sent = await fill(queue, 10, 32);
    const file = outFile();
    const env = cliEnv(broker, queue);
    const first = await runCli(['pull', '--out', file, '--limit', '4'], env);
    expect(first.code, first.stderr).toBe(0);
    expect(ids(readLines(file))).toEqual(sent.slice(0, 4));
    expect(first.stderr).toContain('pulled 4 message(s)');
    await expectQueueSize(broker, queue, 6);
    const second = await runCli(['pull', '--out', file, '--until-drained'], env);
    expect(second.code, second.stderr).toBe(0);
    expect(ids(readLines(file)).sort()).toEqual([...sent].sort());
    await expectQueueSize(broker, queue, 0);
  });

  it('killed (SIGKILL) in the middle: every message is in the file or still on the queue; a second run finishes the job', async () => {
    const queue = uniqueQueue('cli-pull-kill');
    // Enough that the kill lands in the middle: a pull takes a thousand in well under a second.
    const total = 3000;
    const sent = await fill(queue, total, 33);
    const file = outFile();
    const env = cliEnv(broker, queue);
    const run = startCli(['pull', '--out', file], env);
    await waitFor(() => readLines(file).length >= 20, 'the first lines in the file', 60_000);
    run.child.kill('SIGKILL');
    const ended = await run.done;
    expect(ended.signal).toBe('SIGKILL');

    const inFile = ids(readLines(file));
    expect(inFile.length).toBeLessThan(total); // it was killed in the middle
    // Unaccepted deliveries are back on the queue once the broker has seen the socket go. Until
    // then they are still dispatched to the dead consumer, and a second run that asks too soon
    // finds the queue dry with them in flight (it happened in CI when all that was left was in
    // the dead one's prefetch).
    await waitFor(async () => {
      const stats = await queueStatsOf(broker, queue);
      return stats.consumers === 0 && stats.inFlight === 0;
    }, 'the broker to drop the killed consumer');
    const left = (await queueStatsOf(broker, queue)).size;
    const rest = await drainRest(queue);
    expect(rest).toHaveLength(left);
    const union = new Set([...inFile, ...rest]);
    expect(sent.filter((id) => !union.has(id))).toEqual([]); // nothing lost
    expect(union.size).toBe(sent.length);
    // Written but not yet accepted when the process died: in both. At most pull's prefetch (50).
    const twice = rest.filter((id) => inFile.includes(id));
    expect(twice.length).toBeLessThanOrEqual(50);
    expect(inFile.length + rest.length - twice.length).toBe(sent.length);
  });

  it('stopped (SIGTERM) in the middle: closes cleanly, exit 0, each message exactly once in the file or on the queue', async () => {
    const queue = uniqueQueue('cli-pull-term');
    const total = 3000; // as for SIGKILL: enough that the signal lands in the middle
    const sent = await fill(queue, total, 34);
    const file = outFile();
    const run = startCli(['pull', '--out', file], cliEnv(broker, queue));
    await waitFor(() => readLines(file).length >= 20, 'the first lines in the file', 60_000);
    run.child.kill('SIGTERM');
    const ended = await run.done;
    expect(ended.code, ended.stderr).toBe(0);
    expect(ended.stderr).toContain('SIGTERM: finishing the messages in hand, then closing');

    const inFile = ids(readLines(file));
    expect(inFile.length).toBeLessThan(total);
    expect(ended.stderr).toContain(`pulled ${inFile.length} message(s) into ${file}; accepted ${inFile.length}`);
    const onQueue = await drainRest(queue);
    expect(new Set(inFile).size).toBe(inFile.length);
    expect(onQueue.filter((id) => inFile.includes(id))).toEqual([]); // written means accepted, and nothing else was
    expect([...inFile, ...onQueue].sort()).toEqual([...sent].sort());
  });

  it('cuts off an incomplete last line left by a killed run; refuses a file that is not its own', async () => {
    const queue = uniqueQueue('cli-pull');
    const sent = await fill(queue, 2, 35);
    const file = outFile();
    const complete = '{"messageId":"m-old","deliveryCount":0,"receivedAt":"2026-01-01T00:00:00.000Z","body":{}}\n';
    writeFileSync(file, `${complete}{"messageId":"m-cut","deliveryCou`);
    const run = await runCli(['pull', '--out', file, '--until-drained'], cliEnv(broker, queue));
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain('cut off an incomplete last line (33 bytes)');
    const lines = readLines(file);
    expect(lines.map((l) => l.messageId)).toEqual(['m-old', expect.any(String), expect.any(String)]);
    expect(ids(lines.slice(1))).toEqual(sent);

    const foreign = outFile();
    writeFileSync(foreign, 'notes without a newline');
    const refused = await runCli(['pull', '--out', foreign, '--until-drained'], cliEnv(broker, queue));
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('its last line was not written by civitas-outreach');
    expect(readFileSync(foreign, 'utf8')).toBe('notes without a newline');
  });

  it.skipIf(spawnSync('python3', ['--version']).status !== 0)('shows a progress line while stderr is a terminal, and none otherwise', async () => {
    const queue = uniqueQueue('cli-pull');
    await fill(queue, 3, 37);
    const file = outFile();
    const pty = join(import.meta.dirname, 'fixtures', 'pty-run.py');
    const out = execFileSync('python3', [pty, 'never asked', '', '--', process.execPath, CLI, 'pull', '--out', file, '--until-drained'], {
      env: cliEnv(broker, queue),
      encoding: 'utf8',
      timeout: 90_000,
    });
    const { status, transcript } = JSON.parse(out) as { status: number; transcript: string };
    expect(status, transcript).toBe(0);
    expect(transcript).toContain('\rpulled 3 (0 undecodable)…');
    expect(transcript).toContain('pulled 3 message(s) into');
    // Not a terminal (the other tests): the summary only.
    await fill(queue, 1, 38);
    const piped = await runCli(['pull', '--out', file, '--until-drained'], cliEnv(broker, queue));
    expect(piped.stderr).not.toContain('undecodable)…');
  });

  it('finds the active endpoint of a pair when the other refuses connections', async () => {
    const queue = uniqueQueue('cli-pull');
    const sent = await fill(queue, 3, 36);
    const file = outFile();
    const pair = `amqps://127.0.0.1:${await closedPort()},amqps://127.0.0.1:${broker.amqpsPort}`;
    const run = await runCli(['pull', '--out', file, '--until-drained'], cliEnv(broker, queue, { CIVITAS_URL: pair }));
    expect(run.code, run.stderr).toBe(0);
    expect(ids(readLines(file))).toEqual(sent);
    expect(run.stderr).toContain(`pulled 3 message(s) into ${file}; accepted 3\n`);
    expect(run.stderr).not.toMatch(/CONNECTION_FAILED|refused/);
  });

  it('--until-drained on an empty queue with the standby listed first (after a failover): exit 0, no failure reported', async () => {
    const standby = `amqps://127.0.0.1:${await closedPort()}`;
    const active = `amqps://127.0.0.1:${broker.amqpsPort}`;
    for (const url of [`${standby},${active}`, `failover:(${standby},${active})?randomize=false`]) {
      const queue = uniqueQueue('cli-pull-empty');
      const file = outFile();
      const run = await runCli(['pull', '--out', file, '--until-drained'], cliEnv(broker, queue, { CIVITAS_URL: url }));
      expect(run.code, `${url}: ${run.stderr}`).toBe(0);
      expect(run.stdout).toBe('');
      expect(run.stderr).toContain(`connected to ${active}, queue ${queue}`);
      expect(run.stderr).toContain(`pulled 0 message(s) into ${file}; accepted 0\n`);
      expect(run.stderr).not.toMatch(/CONNECTION_FAILED|refused|error/i);
    }
  });

  it.skipIf(!existsSync('/dev/full'))('a file that cannot be written (a full disk: /dev/full): exit 1, nothing accepted, every message still on the queue', async () => {
    const queue = uniqueQueue('cli-pull-full');
    await fill(queue, 5, 39);
    await sendAmqp(broker, queue, ['not json']);
    const run = await runCli(['pull', '--out', '/dev/full', '--until-drained'], cliEnv(broker, queue));
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toContain('error: writing /dev/full failed (ENOSPC); messages not written were left on the queue');
    expect(run.stderr).toMatch(/pulled 0 message\(s\) into \/dev\/full; accepted 0/);
    await expectQueueSize(broker, queue, 6);
    expect((await queueStatsOf(broker, queue)).dequeued).toBe(0);
  });

  it('fails fast with the exit code of check: a wrong password (5), a closed port (3), no --out (2)', async () => {
    const queue = uniqueQueue('cli-pull');
    const file = outFile();
    // Never connected: the error line alone (no "pulled 0" summary), and no file left behind.
    const wrong = await runCli(['pull', '--out', file], cliEnv(broker, queue, { CIVITAS_PASSWORD: 'wrong-pw-9z8y' }));
    expect(wrong.code, wrong.stderr).toBe(5);
    expect(wrong.stderr.trimEnd().split('\n')).toEqual([expect.stringMatching(/^AUTHENTICATION_FAILED: .* — check CIVITAS_USERNAME and CIVITAS_PASSWORD/)]);
    expect(existsSync(file)).toBe(false);
    const closed = await runCli(['pull', '--out', file], cliEnv(broker, queue, { CIVITAS_URL: `amqps://127.0.0.1:${await closedPort()}` }));
    expect(closed.code, closed.stderr).toBe(3);
    expect(closed.stderr).toMatch(/^CONNECTION_FAILED: .*connection refused/m);
    expect(closed.stderr).not.toContain('pulled');
    expect(existsSync(file)).toBe(false);
    const noOut = await runCli(['pull'], cliEnv(broker, queue));
    expect(noOut.code).toBe(2);
    expect(noOut.stderr).toContain('missing --out FILE');
  });
});
