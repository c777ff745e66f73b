// The test broker's script must say plainly what is missing on a machine without Java.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');

it('a machine without Java gets a clear message, not a stack of Maven errors', async () => {
  const script = `import('./scripts/activemq.mjs').then((m) => m.startBroker({ quiet: true })).then(
    () => { console.log('started?'); process.exit(0); },
    (e) => { console.log(JSON.stringify({ name: e.name, code: e.code, message: e.message })); process.exit(1); })`;
  const run = promisify(execFile)(process.execPath, ['-e', script], { cwd: root, env: { ...process.env, PATH: '/nonexistent' } });
  const failure = (await run.then(
    () => undefined,
    (e: { stdout: string }) => e,
  )) as { stdout: string } | undefined;
  expect(failure).toBeDefined();
  const error = JSON.parse(failure!.stdout) as { name: string; code: string; message: string };
  expect(error.name).toBe('JavaMissingError');
  expect(error.message).toMatch(/Java 17\+ is required/);
}, 30_000);
