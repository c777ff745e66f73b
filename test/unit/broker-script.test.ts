// The test broker's script: it says plainly what is missing on a machine without Java, and its
// first download goes straight to the newest 5.x the repository serves, saying what and how big.
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

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

describe('the download goes straight to the newest 5.x the repository serves, and says what and how big', () => {
  // A local Maven repository over HTTP (ACTIVEMQ_MAVEN_REPO), logging every request: no network.
  let server: Server;
  let repo: string;
  const requests: string[] = [];
  const tarballs = new Map<string, Buffer>();
  const work = mkdtempSync(join(tmpdir(), 'broker-script-'));

  /** A tiny stand-in for the distribution: just what the script checks after unpacking. */
  function fakeDistribution(version: string): Buffer {
    const dir = join(work, `src-${version}`);
    mkdirSync(join(dir, `apache-activemq-${version}`, 'bin'), { recursive: true });
    writeFileSync(join(dir, `apache-activemq-${version}`, 'bin', 'activemq.jar'), 'not really a jar');
    execFileSync('tar', ['-czf', join(dir, 'dist.tar.gz'), '-C', dir, `apache-activemq-${version}`]);
    return readFileSync(join(dir, 'dist.tar.gz'));
  }

  beforeAll(async () => {
    // Versions as Maven Central lists them, plus a 6.x and a lexically misleading 5.9.0.
    const versions = ['4.1.1', '5.9.0', '5.16.6', '5.18.3', '6.1.0'];
    for (const v of ['5.16.6', '5.18.3']) tarballs.set(v, fakeDistribution(v));
    const base = '/maven2/org/apache/activemq/apache-activemq';
    server = createServer((req, res) => {
      requests.push(req.url ?? '');
      if (req.url === `${base}/maven-metadata.xml`) {
        res.end(`<metadata><versioning><versions>${versions.map((v) => `<version>${v}</version>`).join('')}</versions></versioning></metadata>`);
        return;
      }
      const m = /\/([\d.]+)\/apache-activemq-\1-bin\.tar\.gz(\.sha1)?$/.exec(req.url ?? '');
      const body = m === null ? undefined : tarballs.get(m[1]!);
      if (body === undefined) {
        res.statusCode = 404;
        res.end();
      } else if (m![2] === '.sha1') {
        res.end(createHash('sha1').update(body).digest('hex'));
      } else {
        res.setHeader('content-length', body.length);
        res.end(body);
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    repo = `http://127.0.0.1:${(server.address() as AddressInfo).port}/maven2`;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(work, { recursive: true, force: true });
  });

  function fetchWith(env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
    const cache = mkdtempSync(join(work, 'cache-'));
    return new Promise((resolve) => {
      execFile(process.execPath, ['scripts/activemq.mjs', 'fetch'], { cwd: root, env: { ...process.env, ACTIVEMQ_VERSION: '', ACTIVEMQ_CACHE: cache, ACTIVEMQ_MAVEN_REPO: repo, ...env } }, (error, stdout, stderr) =>
        resolve({ code: error === null ? 0 : Number(error.code ?? 1), stdout, stderr }),
      );
    });
  }

  it('picks the newest 5.x from the metadata (5.18.3, not 6.1.0, not 5.9.0) and asks for nothing else', async () => {
    requests.length = 0;
    const run = await fetchWith({});
    expect(run.code, run.stderr).toBe(0);
    expect((JSON.parse(run.stdout) as { version: string; fetched: boolean }).version).toBe('5.18.3');
    expect(requests.filter((r) => r.endsWith('.tar.gz'))).toEqual(['/maven2/org/apache/activemq/apache-activemq/5.18.3/apache-activemq-5.18.3-bin.tar.gz']);
    expect(requests.some((r) => r.includes('5.18.7'))).toBe(false);
    const size = tarballs.get('5.18.3')!.length;
    expect(run.stderr).toContain(`[activemq] downloading ActiveMQ 5.18.3 (${(size / 1024 / 1024).toFixed(1)} MB) from ${repo}/`);
    expect(run.stderr).toMatch(/\[activemq\] downloaded [\d.]+ MB in [\d.]+ s/);
  }, 30_000);

  it('ACTIVEMQ_VERSION is downloaded as asked, without a metadata lookup', async () => {
    requests.length = 0;
    const run = await fetchWith({ ACTIVEMQ_VERSION: '5.16.6' });
    expect(run.code, run.stderr).toBe(0);
    expect((JSON.parse(run.stdout) as { version: string }).version).toBe('5.16.6');
    expect(requests.some((r) => r.endsWith('maven-metadata.xml'))).toBe(false);
  }, 30_000);

  it('a version the repository does not serve is a one-line error naming it', async () => {
    const run = await fetchWith({ ACTIVEMQ_VERSION: '5.18.7' });
    expect(run.code).toBe(1);
    expect(run.stderr.trim()).toBe(`${repo} does not serve org.apache.activemq:apache-activemq:5.18.7:tar.gz:bin (404); unset ACTIVEMQ_VERSION to use the newest version it serves`);
  }, 30_000);

  it('a corrupted download is refused (SHA-1)', async () => {
    const original = server.listeners('request')[0] as (req: IncomingMessage, res: ServerResponse) => void;
    server.removeAllListeners('request');
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      if (req.url?.endsWith('.sha1') === true) res.end('0000000000000000000000000000000000000000');
      else original(req, res);
    });
    try {
      const run = await fetchWith({ ACTIVEMQ_VERSION: '5.16.6' });
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/SHA-1 of .* is [0-9a-f]{40}, the repository says 0{40}: not used/);
    } finally {
      server.removeAllListeners('request');
      server.on('request', original);
    }
  }, 30_000);
});
