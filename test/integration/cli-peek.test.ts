// `civitas-outreach peek` shows messages and leaves the queue as it was. It asks for
// distribution-mode "copy", which ActiveMQ serves with a queue browser; it accepts each browsed
// delivery, and a browser's acknowledgement removes nothing. Both are measured here over JMX.
import { beforeAll, describe, expect, it } from 'vitest';
import { makeOutreachMessages } from '../../src/testing/index.js';
import { assertCliBuilt, cliEnv, readLines, runCli, type ArchivedLine } from './cli-support.js';
import { expectQueueSize, queueStatsOf, sendAmqp, sharedBroker, uniqueQueue } from './support.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const broker = sharedBroker();

beforeAll(() => assertCliBuilt());

function parse(stdout: string): ArchivedLine[] {
  return stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as ArchivedLine);
}

describe('peek', () => {
  it('prints every message in queue order, as sent, and leaves the queue unchanged (JMX)', async () => {
    const queue = uniqueQueue('cli-peek');
    const outreach = [...makeOutreachMessages(6, { seed: 21 })];
    await sendAmqp(broker, queue, [...outreach.map((m) => JSON.stringify(m, null, 2)), 'not json at all']);
    // A JMS TextMessage from ActiveMQ's own producer (OpenWire), as a Java pipeline sends them.
    await broker.produceOpenWire({ queue, message: JSON.stringify(outreach[0]), count: 1 });
    const before = await queueStatsOf(broker, queue);
    expect(before.size).toBe(8);

    const run = await runCli(['peek', '--limit', '100'], cliEnv(broker, queue));
    expect(run.code, run.stderr).toBe(0);
    const lines = parse(run.stdout);
    expect(lines.map((l) => l.outreachId ?? l.invalid?.kind)).toEqual([...outreach.map((m) => m.outreachId), 'not-json', outreach[0]!.outreachId]);
    expect(lines.slice(0, 6).map((l) => l.body)).toEqual(outreach); // pretty-printed JSON comes out whole, on one line
    expect(lines[6]).toMatchObject({ bodyText: 'not json at all', invalid: { kind: 'not-json' } });
    expect(lines[7]!.messageId).toMatch(/^ID:/);
    expect(lines.every((l) => l.deliveryCount === 0)).toBe(true);
    expect(run.stderr).toContain(`peeked 8 message(s) from ${queue}`);
    expect(run.stderr).toContain('(the broker has no more to show); none taken');

    const after = await queueStatsOf(broker, queue);
    expect({ size: after.size, enqueued: after.enqueued, dequeued: after.dequeued, inFlight: after.inFlight, consumers: after.consumers }).toEqual({
      size: 8,
      enqueued: before.enqueued,
      dequeued: 0,
      inFlight: 0,
      consumers: 0,
    });
  });

  it('--limit shows the head of the queue; peeking twice shows the same; a pull afterwards gets every message as a first delivery', async () => {
    const queue = uniqueQueue('cli-peek');
    const outreach = [...makeOutreachMessages(5, { seed: 22 })];
    await sendAmqp(broker, queue, outreach.map((m) => JSON.stringify(m)));
    const env = cliEnv(broker, queue);
    const first = await runCli(['peek', '--limit', '2'], env);
    const second = await runCli(['peek', '--limit', '2'], env);
    expect(first.code, first.stderr).toBe(0);
    expect(parse(first.stdout).map((l) => l.outreachId)).toEqual(outreach.slice(0, 2).map((m) => m.outreachId));
    expect(parse(second.stdout).map((l) => l.outreachId)).toEqual(outreach.slice(0, 2).map((m) => m.outreachId));
    expect(first.stderr).toContain('(--limit 2 reached)');
    await expectQueueSize(broker, queue, 5);

    // Browsing does not count as a delivery: the consumer sees each message for the first time.
    const file = join(mkdtempSync(join(tmpdir(), 'cli-peek-')), 'out.jsonl');
    const pulled = await runCli(['pull', '--out', file, '--until-drained'], env);
    expect(pulled.code, pulled.stderr).toBe(0);
    const lines = readLines(file);
    expect(lines.map((l) => l.outreachId)).toEqual(outreach.map((m) => m.outreachId));
    expect(lines.map((l) => l.deliveryCount)).toEqual([0, 0, 0, 0, 0]);
    await expectQueueSize(broker, queue, 0);

    const empty = await runCli(['peek'], env);
    expect(empty.code, empty.stderr).toBe(0);
    expect(empty.stdout).toBe('');
    expect(empty.stderr).toContain('peeked 0 message(s)');
  });

  it('ActiveMQ shows a browser at most maxBrowsePageSize (400) messages of a longer queue, and peek says so', async () => {
    const queue = uniqueQueue('cli-peek-long');
    await sendAmqp(broker, queue, [...makeOutreachMessages(450, { seed: 23 })].map((m) => JSON.stringify(m)));
    const run = await runCli(['peek', '--limit', '1000'], cliEnv(broker, queue));
    expect(run.code, run.stderr).toBe(0);
    expect(parse(run.stdout)).toHaveLength(400);
    expect(run.stderr).toContain('peeked 400 message(s)');
    expect(run.stderr).toContain('note: ActiveMQ shows a browser at most maxBrowsePageSize messages (400 by default)');
    await expectQueueSize(broker, queue, 450);
  });

  it('a wrong password exits 5 as check does', async () => {
    const run = await runCli(['peek'], cliEnv(broker, uniqueQueue('cli-peek'), { CIVITAS_PASSWORD: 'wrong-pw-1a2b' }));
    expect(run.code).toBe(5);
    expect(run.stderr).toMatch(/^AUTHENTICATION_FAILED: /);
  });
});
