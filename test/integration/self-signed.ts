// Throw-away self-signed certificates. The default one is for localhost and 127.0.0.1, made with
// the openssl one-liner docs/dev-queue.md gives users; the options make the broken ones that
// TLS failures are tested with: another name, the wrong purpose, dates in the past or future.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

/** What is wrong with a certificate on purpose. */
export interface SelfSignedOptions {
  /** The names it is for. @defaultValue `'DNS:localhost,IP:127.0.0.1'` (common name localhost) */
  readonly subjectAltName?: string;
  /** An extended key usage, e.g. `'clientAuth'`: a certificate not meant for a TLS server. */
  readonly extendedKeyUsage?: string;
  /** Validity dates as openssl reads them (`YYYYMMDDHHMMSSZ`), e.g. both in the past: expired. */
  readonly validity?: { readonly start: string; readonly end: string };
}

/** A PEM key and certificate (the certificate is also what a client trusts as `ca`). */
export async function selfSignedCert(options: SelfSignedOptions = {}): Promise<{ key: string; cert: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'dev-queue-cert-'));
  const run = (args: string[]): Promise<unknown> => promisify(execFile)('openssl', args, { cwd: dir });
  try {
    const key = path.join(dir, 'key.pem');
    const cert = path.join(dir, 'cert.pem');
    const extensions = [
      `subjectAltName=${options.subjectAltName ?? 'DNS:localhost,IP:127.0.0.1'}`,
      ...(options.extendedKeyUsage === undefined ? [] : [`extendedKeyUsage=${options.extendedKeyUsage}`]),
    ];
    const subject = '/CN=localhost';
    if (options.validity === undefined) {
      await run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', subject, ...extensions.flatMap((e) => ['-addext', e])]);
    } else {
      // `openssl req -x509` (3.0) takes no start date: sign the request with `openssl ca -selfsign`.
      const config = ['[ca]', 'default_ca = d', '[d]', 'database = index.txt', 'new_certs_dir = .', 'default_md = sha256', 'policy = p',
        'rand_serial = yes', 'unique_subject = no', '[p]', 'commonName = supplied', '[ext]', ...extensions.map((e) => e.replace('=', ' = '))].join('\n');
      await writeFile(path.join(dir, 'ca.cnf'), `${config}\n`);
      await writeFile(path.join(dir, 'index.txt'), '');
      await run(['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', 'req.csr', '-subj', subject]);
      await run(['ca', '-batch', '-notext', '-selfsign', '-keyfile', key, '-in', 'req.csr', '-out', cert, '-config', 'ca.cnf', '-extensions', 'ext',
        '-startdate', options.validity.start, '-enddate', options.validity.end]);
    }
    return { key: await readFile(key, 'utf8'), cert: await readFile(cert, 'utf8') };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
