// A logger whose method throws, on ActiveMQ: through handler failures, a connection cut by the
// proxy and the reconnect that follows, and close(), each of the four methods in turn. Nothing is
// lost (every message handled and gone from the queue, none dead-lettered), nothing crashes (the
// consumer runs in a child process, which would die), the throw is reported once as a process
// warning, and once close() has resolved no socket or timer is left. The same on the in-process
// dev queue, with an outage: test/unit/throwing-logger.test.ts.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { expect, it } from 'vitest';
import { makeOutreachMessages } from '../../src/testing/index.js';
import { dlqSize, expectQueueSize, sendAmqp, sharedBroker, uniqueQueue } from './support.js';
import { TcpProxy } from './tcp-proxy.js';

const broker = sharedBroker();
const root = join(import.meta.dirname, '..', '..');
const MESSAGES = 40;

interface ChildResult {
  readonly handled: string[];
  readonly report: { accepted: number; unfinished: number };
  readonly reconnects: number;
  readonly resources: string[];
}

it.each(['debug', 'info', 'warn', 'error'] as const)('a logger whose %s method throws: nothing lost, nothing crashed, nothing left after close()', async (level) => {
  const queue = uniqueQueue(`logger-${level}`);
  const messages = [...makeOutreachMessages(MESSAGES, { seed: 150 })];
  await sendAmqp(broker, queue, messages.map((m) => JSON.stringify(m)));
  const dlqBefore = await dlqSize(broker);
  const proxy = await TcpProxy.start(broker.amqpsPort);
  let child: ChildProcess | undefined;
  try {
    const settings = { url: `amqps://localhost:${proxy.port}`, username: broker.username, password: broker.password, queue, ca: broker.caPem, expected: MESSAGES, level };
    const running = spawn(join(root, 'node_modules', '.bin', 'tsx'), ['test/integration/fixtures/throwing-logger-consumer.ts'], {
      cwd: root,
      env: { ...process.env, CONSUMER_SETTINGS: JSON.stringify(settings) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = running;
    // A wedged consumer must not outlive the test.
    const deadline = setTimeout(() => running.kill('SIGKILL'), 120_000);
    let stderr = '';
    running.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => running.on('exit', (code) => resolve(code)));
    let result: ChildResult | undefined;
    for await (const line of createInterface({ input: running.stdout })) {
      if (line === 'half') {
        await proxy.cut(); // both ends see the connection drop
        await proxy.resume();
      } else if (line.startsWith('{')) result = JSON.parse(line) as ChildResult;
    }
    const code = await exited;
    clearTimeout(deadline);
    expect(code, stderr).toBe(0);
    expect(result, stderr).toBeDefined();

    expect(new Set(result!.handled)).toEqual(new Set(messages.map((m) => m.outreachId)));
    expect(result!.reconnects).toBeGreaterThanOrEqual(1);
    expect(result!.report.unfinished).toBe(0);
    await expectQueueSize(broker, queue, 0);
    expect(await dlqSize(broker)).toBe(dlqBefore);
    expect(result!.resources.filter((r) => r === 'Timeout' || r === 'TLSWrap' || r === 'TCPSocketWrap')).toEqual([]);
    expect(stderr.match(/OUTREACH_LOGGER_THREW/g), stderr).toHaveLength(1);
    expect(stderr).toContain(`the logger's ${level} method threw (Error)`);
  } finally {
    if (child !== undefined && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await proxy.close();
  }
});
