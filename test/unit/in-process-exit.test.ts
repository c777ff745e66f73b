// A script that uses the in-process dev queue exits as soon as its work is done: nothing is left
// running once the consumer and the dev queue are closed. The dev queue's side of a connection
// whose client closed first waits for the client's end; closing the dev queue then destroys that
// socket, which rhea never hears of: its 30 s heartbeat timer kept such a script alive (found
// with runHandler, whose process exited 30 s after it resolved).
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');

/** Runs `body` in a fresh Node process (the sources through tsx) and returns what it left running. */
function leftRunning(body: string): { result: unknown; resources: string[] } {
  const script = `
    const { runHandler, startDevQueue, exampleOutreachMessages } = await import(${JSON.stringify(join(root, 'src/testing/index.ts'))});
    const { OutreachConsumer } = await import(${JSON.stringify(join(root, 'src/index.ts'))});
    const result = await (async () => { ${body} })();
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
    console.log(JSON.stringify({ result, resources: process.getActiveResourcesInfo() }));
    process.exit(0);
  `;
  const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  return JSON.parse(out.trim().split('\n').at(-1)!) as { result: unknown; resources: string[] };
}

describe('in-process connections leave nothing running', () => {
  it('runHandler: no timer or handle once it has resolved', () => {
    const { result, resources } = leftRunning(`
      const run = await runHandler(() => undefined, [exampleOutreachMessages().inspireForFaculty]);
      return run.messages.map((m) => m.outcome);
    `);
    expect(result).toEqual(['accepted']);
    expect(resources.filter((r) => r !== 'TTYWrap' && r !== 'PipeWrap')).toEqual([]);
  });

  it('a consumer closed just before its dev queue: nothing left once both are closed', () => {
    const { result, resources } = leftRunning(`
      const q = await startDevQueue({ network: false, queues: { a: 2 } });
      const consumer = new OutreachConsumer({ url: q.url, username: q.username, password: q.password, queue: 'a', allowInsecure: true });
      let handled = 0;
      await consumer.start(() => void handled++);
      while (handled < 2) await new Promise((resolve) => setTimeout(resolve, 5));
      const report = await consumer.close();
      await q.close();
      return report.accepted;
    `);
    expect(result).toBe(2);
    expect(resources.filter((r) => r !== 'TTYWrap' && r !== 'PipeWrap')).toEqual([]);
  });
});
