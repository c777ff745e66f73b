// TLS failures that trying again cannot mend end start() at once with a fatal TLS_FAILED whose
// advice fits the cause; none is retried. Over loopback: the dev queue with a broken certificate,
// a Node TLS server that demands a client certificate, and a plain AMQP port spoken to in TLS. The
// same on ActiveMQ: test/integration/connection-errors.test.ts.
import net from 'node:net';
import tls from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { isOutreachError, OutreachConsumer, type OutreachConsumerOptions, type OutreachError } from '../../src/index.js';
import { startDevQueue, type DevQueue } from '../../src/testing/index.js';
import { selfSignedCert, type SelfSignedOptions } from '../integration/self-signed.js';
import type { CliContext } from '../../src/cli/command.js';
import { reportFailure } from '../../src/cli/report.js';

/** The one line the command line prints for an error (and its exit code). */
function cliLine(error: OutreachError): { line: string; exitCode: number } {
  let line = '';
  const exitCode = reportFailure(error, { stderr: { write: (text: string) => void (line += text) } } as unknown as CliContext);
  return { line, exitCode };
}

const open: { close(): unknown }[] = [];
afterEach(async () => {
  for (const item of open.splice(0).reverse()) await item.close();
});

/** What a failed start() left: its error, how long it took, and every error event. */
interface Failure {
  readonly error: OutreachError;
  readonly ms: number;
  readonly events: OutreachError[];
  readonly reconnects: number;
}

async function failedStart(options: Partial<OutreachConsumerOptions<unknown>> & { url: string }): Promise<Failure> {
  const consumer = new OutreachConsumer({ username: 'user', password: 'a-password', queue: 'q', reconnect: { maxAttempts: 5, initialDelayMs: 10 }, ...options });
  open.push(consumer);
  const events: OutreachError[] = [];
  let reconnects = 0;
  consumer.on('error', (error) => events.push(error));
  consumer.on('reconnecting', () => reconnects++);
  const began = Date.now();
  let error: unknown;
  try {
    await consumer.start(() => undefined);
  } catch (e) {
    error = e;
  }
  const ms = Date.now() - began;
  if (!isOutreachError(error)) throw new Error(`expected start() to reject with an OutreachError, got ${String(error)}`);
  expect(consumer.state).toBe('failed');
  return { error, ms, events, reconnects };
}

/** Fatal TLS_FAILED, fast, one attempt, the advice given. */
function expectFatalTls(failure: Failure, advice: RegExp): void {
  expect(failure.error.code, failure.error.message).toBe("TLS_FAILED");
  expect(failure.error.retryable).toBe(false);
  expect(failure.error.message).toMatch(advice);
  expect(failure.ms).toBeLessThan(3_000);
  expect(failure.events).toEqual([failure.error]);
  expect(failure.reconnects).toBe(0);
}

async function tlsDevQueue(cert: SelfSignedOptions): Promise<{ q: DevQueue; ca: string }> {
  const pair = await selfSignedCert(cert);
  const q = await startDevQueue({ tls: pair });
  open.push(q);
  return { q, ca: pair.cert };
}

describe('a broker certificate that cannot be trusted as it is', () => {
  it('for the wrong purpose (no serverAuth): INVALID_PURPOSE, the broker needs a server certificate', async () => {
    const { q, ca } = await tlsDevQueue({ extendedKeyUsage: 'clientAuth' });
    const failure = await failedStart({ url: q.url, ca });
    expectFatalTls(failure, /not meant for a TLS server \(INVALID_PURPOSE: its extended key usage lacks serverAuth\); the broker needs a server certificate/);
  });

  it('expired: CERT_HAS_EXPIRED, check the clock, else the certificate must be renewed', async () => {
    const { q, ca } = await tlsDevQueue({ validity: { start: '20200101000000Z', end: '20200102000000Z' } });
    const failure = await failedStart({ url: q.url, ca });
    expectFatalTls(failure, /has expired \(CERT_HAS_EXPIRED\); check this machine's clock; if it is right, the certificate must be renewed/);
    expect(failure.error.message).not.toMatch(/ca option/);
    // The command line gives the same advice, not CIVITAS_CA.
    const cli = cliLine(failure.error);
    expect(cli.exitCode).toBe(4);
    expect(cli.line).toMatch(/^TLS_FAILED: .*has expired \(CERT_HAS_EXPIRED\); check this machine's clock.* — do as the message says/);
    expect(cli.line).not.toMatch(/CIVITAS_CA/);
  });

  it('not valid yet: CERT_NOT_YET_VALID, check the clock', async () => {
    const { q, ca } = await tlsDevQueue({ validity: { start: '20990101000000Z', end: '20990102000000Z' } });
    const failure = await failedStart({ url: q.url, ca });
    expectFatalTls(failure, /not valid yet \(CERT_NOT_YET_VALID\); check this machine's clock/);
    expect(failure.error.message).not.toMatch(/ca option/);
  });

  it('for another name: ERR_TLS_CERT_ALTNAME_INVALID, use a name the certificate holds (it says which), or servername', async () => {
    const { q, ca } = await tlsDevQueue({ subjectAltName: 'DNS:broker.example.com' });
    const failure = await failedStart({ url: q.url, ca });
    expectFatalTls(
      failure,
      /does not match the host name \(ERR_TLS_CERT_ALTNAME_INVALID: IP: 127\.0\.0\.1 is not in the cert's list; the certificate is for DNS:broker\.example\.com\); connect with a host name the certificate names .*or set servername/,
    );
    expect(failure.error.message).not.toMatch(/ca option/);
    // The command line has no servername setting: it says to put the name in the URL.
    const cli = cliLine(failure.error);
    expect(cli.line).toMatch(/ — put a host name the certificate names in CIVITAS_URL/);
    expect(cli.line).not.toMatch(/servername|CIVITAS_CA/);
    // The advice works: the name it gives, as servername, connects.
    const consumer = new OutreachConsumer({ url: q.url, ca, servername: 'broker.example.com', username: q.username, password: q.password, queue: 'q' });
    open.push(consumer);
    await consumer.start(() => undefined);
    expect(consumer.health().connected).toBe(true);
  });

  it('self-signed and not given as ca: DEPTH_ZERO_SELF_SIGNED_CERT, pass the CA', async () => {
    const { q } = await tlsDevQueue({});
    const failure = await failedStart({ url: q.url });
    expectFatalTls(failure, /not trusted \(DEPTH_ZERO_SELF_SIGNED_CERT\); pass the broker's CA as the ca option/);
    expect(cliLine(failure.error).line).toMatch(/^TLS_FAILED: .*not trusted \(DEPTH_ZERO_SELF_SIGNED_CERT\) — for a private broker set CIVITAS_CA/);
  });
});

describe('a TLS handshake the server refuses', () => {
  it.each([
    ['TLSv1.3', /the server demands a client certificate \(ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED\); this consumer sends none/],
    ['TLSv1.2', /the server refused the TLS handshake \(ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE\): it may demand a client certificate, and this consumer sends none/],
  ] as const)('a server that demands a client certificate (%s): fatal, this consumer sends none', async (maxVersion, advice) => {
    const pair = await selfSignedCert();
    let connections = 0;
    const server = tls.createServer({ ...pair, requestCert: true, rejectUnauthorized: true, maxVersion }, (socket) => socket.on('error', () => undefined));
    server.on('connection', () => connections++);
    server.on('tlsClientError', () => undefined);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    open.push({ close: () => new Promise((resolve) => server.close(resolve)) });
    const { port } = server.address() as net.AddressInfo;
    const failure = await failedStart({ url: `amqps://127.0.0.1:${port}`, ca: pair.cert });
    expectFatalTls(failure, advice);
    expect(connections).toBe(1);
  });

  it('amqps:// to a plain AMQP port: ERR_SSL_WRONG_VERSION_NUMBER, use the TLS port', async () => {
    // A plain AMQP 1.0 port answers a header it does not take (here a TLS hello) with its own
    // protocol header, then closes (AMQP 1.0 2.2), as ActiveMQ does; the dev queue just closes.
    let connections = 0;
    const server = net.createServer((socket) => {
      connections++;
      socket.on('error', () => undefined);
      socket.once('data', () => socket.end(Buffer.from('AMQP\x00\x01\x00\x00', 'latin1')));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    open.push({ close: () => new Promise((resolve) => server.close(resolve)) });
    const { port } = server.address() as net.AddressInfo;
    const failure = await failedStart({ url: `amqps://127.0.0.1:${port}` });
    expectFatalTls(failure, /this port does not speak TLS \(ERR_SSL_WRONG_VERSION_NUMBER\); it is likely the plain AMQP port: use the TLS port, usually 5671/);
    expect(connections).toBe(1);
  });
});

describe('amqp:// to a TLS port', () => {
  it('is a retryable CONNECTION_FAILED whose message suggests amqps://, the allow list second', async () => {
    const { q } = await tlsDevQueue({});
    const failure = await failedStart({ url: `amqp://127.0.0.1:${q.port}`, allowInsecure: true, reconnect: { maxAttempts: 2, initialDelayMs: 10 } });
    expect(failure.error.code).toBe('CONNECTION_FAILED');
    expect(failure.events.map((e) => e.retryable)).toEqual([true, false]);
    expect(failure.events[0]!.message).toBe(
      `amqp://127.0.0.1:${q.port}: the peer closed the connection before answering in AMQP; if this is the TLS port (usually 5671), use amqps://; otherwise check that this machine's address is on the broker's allow list`,
    );
  });
});
