// A closed consumer leaves nothing behind that keeps the process alive (sockets, rhea's
// heartbeat timers): a job that drains the queue and closes can simply end.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';
import { makeOutreachMessages } from '../../src/testing/index.js';
import { sendAmqp, sharedBroker, uniqueQueue } from './support.js';

const broker = sharedBroker();
const root = join(import.meta.dirname, '..', '..');

it('after close() no socket or timer is left', async () => {
  const queue = uniqueQueue('exit');
  await sendAmqp(broker, queue, [...makeOutreachMessages(3, { seed: 41 })].map((m) => JSON.stringify(m)));
  const settings = { url: `amqps://127.0.0.1:${broker.amqpsPort}`, username: broker.username, password: broker.password, queue, ca: broker.caPem, expected: 3 };
  const { stdout } = await promisify(execFile)(join(root, 'node_modules', '.bin', 'tsx'), ['test/integration/fixtures/consume-and-close.ts'], {
    cwd: root,
    env: { ...process.env, CONSUMER_SETTINGS: JSON.stringify(settings) },
    timeout: 120_000,
  });
  const { accepted, resources } = JSON.parse(stdout) as { accepted: number; resources: string[] };
  expect(accepted).toBe(3);
  expect(resources.filter((r) => r === 'Timeout' || r === 'TLSWrap' || r === 'TCPSocketWrap')).toEqual([]);
});
