// The examples are what users copy: they must run and print what they promise.
import { execFile, execFileSync } from 'node:child_process';
import net from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');

describe('examples/decode-and-index.ts', () => {
  it('runs, matches by valueId after a rename, and reports the bad message by path', () => {
    const out = execFileSync(join(root, 'node_modules', '.bin', 'tsx'), ['examples/decode-and-index.ts'], {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    expect(out).toContain("matches: [ 'campaignSent' ]");
    expect(out).toContain("after rename, matches: [ 'emailSent' ]");
    expect(out).toContain('wrong-shape: message is not an outreach: students[0].emailAddress: expected string, got number');
    expect(out).not.toContain('scarlett.jones');
  }, 30_000);
});

describe('examples/drain-to-postgres.ts (npm run example:postgres) without a database', () => {
  it('says which PG* variables to set, before it starts a broker, with no stack trace', async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
    const port = (server.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const env: NodeJS.ProcessEnv = { ...process.env, PGHOST: '127.0.0.1', PGPORT: String(port) };
    delete env.CIVITAS_URL;
    const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(join(root, 'node_modules', '.bin', 'tsx'), ['examples/drain-to-postgres.ts'], { cwd: root, env, timeout: 60_000 }, (error, stdout, stderr) =>
        resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stdout, stderr }),
      );
    });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe(''); // in particular no "starting an embedded ActiveMQ broker"
    const lines = result.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^No PostgreSQL at 127\\.0\\.0\\.1:${port} \\(database test, user postgres\\): .*ECONNREFUSED.*\\. Set PGHOST, PGPORT, PGUSER, PGDATABASE and PGPASSWORD`));
  }, 60_000);
});

describe('examples with CIVITAS_URL set and a CIVITAS_CA they cannot use', () => {
  const runIterator = (ca: string): Promise<{ code: number | null; stdout: string; stderr: string }> => {
    const env: NodeJS.ProcessEnv = { ...process.env, CIVITAS_URL: 'amqp+ssl://127.0.0.1:5671', CIVITAS_USERNAME: 'u', CIVITAS_PASSWORD: 'p', CIVITAS_QUEUE: 'q', CIVITAS_CA: ca };
    return new Promise((resolve) => {
      execFile(join(root, 'node_modules', '.bin', 'tsx'), ['examples/iterator.ts'], { cwd: root, env, timeout: 30_000 }, (error, stdout, stderr) =>
        resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stdout, stderr }),
      );
    });
  };

  it('end with one line naming the file and the trouble, exit code 2, before connecting and with no stack trace', async () => {
    const missing = await runIterator('/no/such/ca.pem');
    expect(missing.code).toBe(2);
    expect(missing.stdout).toBe('');
    expect(missing.stderr).toBe('INVALID_ARGUMENT: cannot read the CA certificate CIVITAS_CA=/no/such/ca.pem: ENOENT\n');
    const notPem = await runIterator(join(root, 'package.json'));
    expect(notPem.code).toBe(2);
    expect(notPem.stderr).toBe(`INVALID_ARGUMENT: CIVITAS_CA=${join(root, 'package.json')} holds no PEM certificate (-----BEGIN CERTIFICATE-----)\n`);
  }, 60_000);
});
