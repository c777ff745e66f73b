// Certificates as bytes: the public types take `string | Uint8Array` for the consumer's `ca` and
// the dev queue's `tls` key and certificate (no Node.js `Buffer` in the declarations, so they
// type-check without @types/node; test/pack/types.test.ts). A plain Uint8Array, not a Buffer,
// must work as well as PEM text: Node's TLS takes any ArrayBufferView.
import { afterEach, describe, expect, it } from 'vitest';
import { OutreachConsumer } from '../../src/index.js';
import { startDevQueue } from '../../src/testing/index.js';
import { selfSignedCert } from '../integration/self-signed.js';

const open: { close(): unknown }[] = [];
afterEach(async () => {
  for (const item of open.splice(0).reverse()) await item.close();
});

describe('certificates as a plain Uint8Array', () => {
  it('the dev queue listens with TLS on them and the consumer trusts them as ca', async () => {
    const pem = await selfSignedCert();
    // Copies into plain Uint8Arrays: what TextEncoder gives is not a Buffer.
    const bytes = (text: string): Uint8Array => new Uint8Array(new TextEncoder().encode(text));
    expect(Buffer.isBuffer(bytes(pem.cert))).toBe(false);

    const q = await startDevQueue({ queues: { a: 3 }, tls: { key: bytes(pem.key), cert: bytes(pem.cert) } });
    open.push(q);
    expect(q.url).toMatch(/^amqp\+ssl:/);
    const consumer = new OutreachConsumer({ url: q.url, username: q.username, password: q.password, queue: 'a', ca: [bytes(pem.cert)] });
    open.push(consumer);
    let handled = 0;
    const drained = new Promise<void>((resolve) => consumer.once('drained', () => resolve()));
    await consumer.start(() => void handled++);
    await drained;
    expect(handled).toBe(3);
  });
});
