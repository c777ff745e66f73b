// The examples users copy must run as shipped, on the embedded default (each starts its own
// broker and fills a development queue with sample outreach).
import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { invalidOutreachCases, makeOutreachMessages } from '../../src/testing/index.js';
import { sendAmqp, sharedBroker, uniqueQueue, waitFor } from './support.js';

const root = join(import.meta.dirname, '..', '..');
const run = async (file: string): Promise<string> => {
  const env = { ...process.env };
  delete env.CIVITAS_URL;
  const { stdout } = await promisify(execFile)(join(root, 'node_modules', '.bin', 'tsx'), [file], { cwd: root, env, timeout: 170_000 });
  return stdout;
};

describe('examples on the embedded default', () => {
  it('iterator.ts reads every sample and closes', async () => {
    const out = await run('examples/iterator.ts');
    expect(out.match(/student\(s\), result/g)).toHaveLength(20);
    expect(out).toContain('iterator done; state: closed');
  });

  it('events.ts stores every sample with concurrency, and shows a retry, the dead-letter hook and a duplicate skipped', async () => {
    const out = await run('examples/events.ts');
    const [flaky, poison, twice] = [...makeOutreachMessages(3, { seed: 4_242 })].map((m) => m.outreachId);
    expect(out).toContain('stored the 50 samples');
    // Refused once, retried, stored on the second attempt.
    expect(out).toContain(`${flaky!}: attempt 1 failed (the CRM timed out)`);
    expect(out).toContain(`stored ${flaky!} on attempt 2`);
    // Refused on each of its 3 attempts, then handed to the dead-letter hook.
    expect(out.match(new RegExp(`^${poison!}: attempt \\d failed \\(the CRM refuses this record\\)$`, 'gm'))).toHaveLength(3);
    expect(out).toContain(`dead-letter hook: ${poison!} after 3 attempts (the CRM refuses this record)`);
    // The second copy of an outreach already stored: skipped, and accepted.
    expect(out.match(/^skipped duplicate .*$/gm)).toEqual([`skipped duplicate ${twice!}: already stored`]);
    expect(out).toContain('stored 52 outreach, skipped 1 duplicate, dead-lettered 1');
    expect(out).toMatch(/closed \{\s+accepted: 53,\s+retried: 3,\s+rejected: 1,/);
  });

  it('drain-to-postgres.ts (npm run example:postgres) stores every sample in PostgreSQL', async () => {
    const out = await run('examples/drain-to-postgres.ts');
    expect(out).toContain('stored 500 this run; in PostgreSQL (schema civitas_dev): 500 outreach');
    expect(out).toMatch(/accepted: 500/);
  });

  it('salesforce/drain-to-salesforce.ts (npm run example:salesforce) stores every sample as Tasks on the stand-in, through a rate limit', async () => {
    const env = { ...process.env };
    delete env.CIVITAS_URL;
    delete env.SF_INSTANCE_URL;
    const { stdout: out } = await promisify(execFile)(join(root, 'node_modules', '.bin', 'tsx'), ['examples/salesforce/drain-to-salesforce.ts'], { cwd: root, env, timeout: 170_000 });
    expect(out).toContain('using the local Salesforce stand-in');
    expect(out).toMatch(/Salesforce took work again after [\d.]+ s/); // the first request's REQUEST_LIMIT_EXCEEDED paused it
    const stored = /stored 200 outreach as Tasks: (\d+) created, 0 updated; 0 dead-lettered/.exec(out);
    expect(stored, out).not.toBeNull();
    expect(out).toContain(`the stand-in holds ${stored![1]} Tasks (one per outreach and student) for 200 sample outreach`);
    expect(out).toMatch(/closed: \{[\s\S]*accepted: 200/);
    // In journal mode: everything handled from the journal, which keeps it for replay.
    expect(out).toContain('journal mode: ');
    expect(out).toMatch(/the journal keeps [1-9]\d* bytes for replay, 0 outreach unhandled/);
  });

  it('manual-ack.ts settles each delivery itself: retry, reject, and the forgotten one released at close', async () => {
    const out = await run('examples/manual-ack.ts');
    expect(out).toMatch(/attempt 1 of \S+ failed \(the CRM timed out\): retry/);
    expect(out.match(/failed \(the CRM refuses this record\): retry/g)).toHaveLength(2);
    expect(out).toMatch(/attempt 3 of \S+ failed \(the CRM refuses this record\): reject/);
    expect(out).toContain('unsettled and still held: 1');
    expect(out).toMatch(/closed: \{\s+accepted: 21,\s+retried: 3,\s+rejected: 1,\s+released: 1,\s+lost: 0,\s+invalid: 0,\s+unfinished: 0,\s+timedOut: true\s+\}/);
    // The forgotten one came back unchanged (count not raised) and was stored once.
    const forgotten = /handled (\S+) but forgot to settle it/.exec(out)?.[1];
    expect(forgotten).toBeDefined();
    expect(out).toContain(`second consumer stored ${forgotten!} (attempt 1) and accepted it`);
    expect(out).toContain('stored 22 outreach; 1 copy of the flaky one, not the poison one');
  });

  it('own-strategy.ts retries with its own delay, then parks and accepts what keeps failing', async () => {
    const out = await run('examples/own-strategy.ts');
    expect(out.match(/handler failed: CRM timed out on/g)).toHaveLength(2);
    expect(out.match(/handler failed: CRM refuses/g)).toHaveLength(3);
    expect(out).toMatch(/parked \S+ after 3 attempts/);
    // Nothing rejected into the broker's DLQ: the parked one is accepted once stored.
    expect(out).toMatch(/closed: \{\s+accepted: 32,\s+retried: 4,\s+rejected: 0,\s+released: 0,\s+lost: 0,\s+invalid: 0,\s+unfinished: 0,\s+timedOut: false\s+\}/);
    expect(out).toContain('stored 31 of 32 outreach; flaky stored: true');
    expect(out).toContain('parking file holds 1 message(s): poison parked: true');
  });

  it('quarantine.ts stores each undecodable message in its quarantine table and the good ones in the sink', async () => {
    const out = await run('examples/quarantine.ts');
    expect(out).toMatch(/closed: \{\s+accepted: 49,\s+retried: 0,\s+rejected: 0,[\s\S]*invalid: 9,/);
    const pool = new pg.Pool({ host: '127.0.0.1', port: 5432, database: 'test', user: 'postgres', max: 1 });
    try {
      const schema = 'civitas_quarantine_dev';
      const { rows } = await pool.query<{ message_id: string | null; delivery_count: number; error_kind: string; issues: { path: string }[]; body: Buffer | null }>(
        `SELECT message_id, delivery_count, error_kind, issues, body FROM ${schema}.outreach_quarantine`,
      );
      // What the example sent: each broken shape that is text or bytes, built the same way.
      const sent = invalidOutreachCases({ maxBodyBytes: 1024 * 1024, seed: 7 }).filter((c) => typeof c.message === 'string' || c.message instanceof Uint8Array);
      expect(rows).toHaveLength(sent.length);
      const byBody = new Map(rows.map((r) => [r.body?.toString('base64'), r]));
      for (const c of sent) {
        const bytes = typeof c.message === 'string' ? Buffer.from(c.message, 'utf8') : Buffer.from(c.message as Uint8Array);
        const row = byBody.get(bytes.toString('base64'));
        expect(row, c.kind).toBeDefined();
        expect(row!.error_kind, c.kind).toBe(c.decodeErrorKind);
        expect(row!.delivery_count).toBe(0);
        expect(row!.message_id).toMatch(/^m-/);
      }
      const wrongType = rows.find((r) => r.issues.some((i) => i.path === 'students[0].emailAddress'));
      expect(wrongType?.error_kind).toBe('wrong-shape');
      const { rows: stored } = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${schema}.outreach`);
      expect(stored[0]!.n).toBe('40');
      expect(out).toContain(`stored 40 outreach this run; in ${schema}.outreach: 40; in ${schema}.outreach_quarantine: 9`);
    } finally {
      await pool.end();
    }
  });

  it('label-drift.ts finds renamed labels by valueId and reports each rename once', async () => {
    const out = await run('examples/label-drift.ts');
    // The example's messages: seed 300, labels renamed from the 21st on.
    const emailSent = '5bb6226a-5db7-69b7-2054-0b7a725e045a';
    const hasEmail = [...makeOutreachMessages(40, { seed: 300 })].map((m) => m.outreachProperties.some((p) => p.valueId === emailSent));
    const all = hasEmail.filter(Boolean).length;
    const before = hasEmail.slice(0, 20).filter(Boolean).length;
    expect(before).toBeGreaterThan(0);
    expect(all).toBeGreaterThan(before);
    expect(out).toContain('read 40 outreach');
    expect(out).toContain(`emailSent by valueId: ${all}; by the label "Email sent": ${before} (a label-keyed integration missed ${all - before})`);
    const drifts = out.match(/^label drift: .*$/gm) ?? [];
    expect(drifts).toHaveLength(2);
    expect(drifts).toContainEqual(expect.stringContaining(`label drift: ${emailSent} (outreachMediumResult) "Email sent" -> "Email delivered"`));
    expect(drifts).toContainEqual(expect.stringContaining('(outreachReason) "GPA" -> "GPA below threshold"'));
    expect(out).toContain(`label now: ${emailSent} outreachMediumResult "Email delivered"`);
  });

  it('service.ts serves /healthz and /readyz, exports a span per delivery, and stops cleanly on SIGTERM', async () => {
    const env = { ...process.env };
    delete env.CIVITAS_URL;
    delete env.PORT;
    delete env.HOST;
    const child = spawn(join(root, 'node_modules', '.bin', 'tsx'), ['examples/service.ts'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => void (out += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => void (out += chunk.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const until = async (what: string, check: () => boolean | Promise<boolean>): Promise<void> => {
      const deadline = Date.now() + 120_000;
      while (!(await check())) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no ${what}; output so far:\n${out}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    try {
      await until('port', () => /health endpoint on http:\/\/127\.0\.0\.1:\d+/.test(out));
      const base = /health endpoint on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)![1]!;
      const get = async (path: string): Promise<{ status: number; body: { ok: boolean; state: string; counts: { accepted: number } } }> => {
        const response = await fetch(base + path);
        return { status: response.status, body: (await response.json()) as { ok: boolean; state: string; counts: { accepted: number } } };
      };
      await until('ready', async () => (await get('/readyz')).status === 200);
      await until('drained', () => out.includes('queue drained: handled 30 so far'));
      const ready = await get('/readyz');
      expect(ready).toMatchObject({ status: 200, body: { ok: true, state: 'open', counts: { accepted: 30 } } });
      expect((await get('/healthz')).status).toBe(200);
      expect((await fetch(`${base}/nope`)).status).toBe(404);
      // The batch span processor exports within half a second.
      await until('spans', () => (out.match(/^span process civitas\.outreach\.dev outcome=accepted /gm) ?? []).length === 30);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    expect(out).toContain('SIGTERM: closing');
    expect(out).toMatch(/closed: \{\s+accepted: 30,\s+retried: 0,\s+rejected: 0,\s+released: 0,\s+lost: 0,\s+invalid: 0,\s+unfinished: 0,\s+timedOut: false\s+\}/);
    expect(out.trimEnd().endsWith('stopped')).toBe(true);
  });
});

describe('examples against a private broker, set up with the CIVITAS_* variables the command line reads', () => {
  const settings = (queue: string): NodeJS.ProcessEnv => {
    const broker = sharedBroker();
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      CIVITAS_URL: `amqp+ssl://127.0.0.1:${broker.amqpsPort}`,
      CIVITAS_USERNAME: broker.username,
      CIVITAS_PASSWORD: broker.password,
      CIVITAS_QUEUE: queue,
    };
    delete env.CIVITAS_CA;
    delete env.NODE_EXTRA_CA_CERTS;
    return env;
  };

  it('iterator.ts trusts the CA certificate CIVITAS_CA names, and reads the queue', async () => {
    const broker = sharedBroker();
    const queue = uniqueQueue('example-ca');
    const messages = [...makeOutreachMessages(5, { seed: 61 })];
    await sendAmqp(broker, queue, messages.map((m) => JSON.stringify(m)));
    const child = spawn(join(root, 'node_modules', '.bin', 'tsx'), ['examples/iterator.ts'], {
      cwd: root,
      env: { ...settings(queue), CIVITAS_CA: broker.caPath },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    try {
      await waitFor(() => (out.match(/student\(s\), result/g) ?? []).length === messages.length || child.exitCode !== null, `${messages.length} messages read`, 60_000);
    } finally {
      child.kill('SIGKILL'); // on a real queue the example runs until stopped
    }
    for (const m of messages) expect(out, err).toContain(`${m.outreachId} `);
    expect(err).toBe('');
  });

  it('iterator.ts without CIVITAS_CA ends with one line naming TLS_FAILED and CIVITAS_CA, exit code 1, no stack trace', async () => {
    const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      execFile(join(root, 'node_modules', '.bin', 'tsx'), ['examples/iterator.ts'], { cwd: root, env: settings(uniqueQueue('example-no-ca')), timeout: 60_000 }, (error, _stdout, stderr) =>
        resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stderr }),
      );
    });
    expect(result.code).toBe(1);
    expect(result.stderr).not.toMatch(/^ {4}at /m);
    const last = result.stderr.trimEnd().split('\n').at(-1)!;
    expect(last).toMatch(/^TLS_FAILED: .+ \(for a private broker set CIVITAS_CA to its CA certificate \(a PEM file\); Amazon MQ needs none\)$/);
  });
});
