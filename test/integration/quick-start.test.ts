// The README's quick start (examples/quick-start.ts, kept equal to the README by
// test/unit/readme.test.ts) runs as shown against the test broker: only the CIVITAS_* variables
// are set, and the broker's CA is trusted the way a user trusts a private CA without code
// (NODE_EXTRA_CA_CERTS). It stores every message once and stops cleanly on SIGTERM.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeOutreachMessages } from '../../src/testing/index.js';
import { expectQueueSize, sendAmqp, sharedBroker, uniqueQueue, waitFor } from './support.js';

const root = join(import.meta.dirname, '..', '..');

describe('examples/quick-start.ts (the README quick start)', () => {
  it('upserts every outreach, settles each, and exits 0 on SIGTERM', async () => {
    const broker = sharedBroker();
    const queue = uniqueQueue('quick-start');
    const messages = [...makeOutreachMessages(25, { seed: 11 })];
    await sendAmqp(broker, queue, messages.map((m) => JSON.stringify(m)));
    const child = spawn(join(root, 'node_modules', '.bin', 'tsx'), ['examples/quick-start.ts'], {
      cwd: root,
      env: {
        ...process.env,
        CIVITAS_URL: `amqp+ssl://127.0.0.1:${broker.amqpsPort}`,
        CIVITAS_USERNAME: broker.username,
        CIVITAS_PASSWORD: broker.password,
        CIVITAS_QUEUE: queue,
        NODE_EXTRA_CA_CERTS: broker.caPath,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await waitFor(() => (out.match(/^upserted /gm) ?? []).length >= messages.length, `${messages.length} upserts (stderr: ${err})`, 60_000);
      await expectQueueSize(broker, queue, 0); // each accepted after its upsert
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    const ids = [...out.matchAll(/^upserted (\S+)/gm)].map((m) => m[1]);
    expect(ids).toHaveLength(messages.length);
    expect(new Set(ids)).toEqual(new Set(messages.map((m) => String(m.outreachId))));
    expect(err).toBe('');
  }, 120_000);
});
