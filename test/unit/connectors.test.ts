// The in-process seam of src/connection/connectors.ts: only a host under `.in-process.invalid`
// (RFC 6761: never resolved by DNS) can be served by a connector, and only without TLS, so no
// production URL is ever routed to one; a host nobody serves (or serves no more) is refused the
// way a closed port is. The dev queue's use of it is in dev-queue.test.ts ("network: false").
import { PassThrough, type Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { connectorFor, registerConnector } from '../../src/connection/connectors.js';
import { parseEndpoints, type BrokerEndpoint } from '../../src/connection/endpoints.js';
import { isOutreachError } from '../../src/index.js';

const endpoint = (url: string): BrokerEndpoint => parseEndpoints(url, true)[0]!;

/** Connects through the option `connectorFor` gives, as rhea does; the stream's error, if any. */
async function dial(url: string): Promise<{ stream: Duplex; error: (Error & { code?: string }) | undefined }> {
  const { connect } = connectorFor(endpoint(url));
  if (connect === undefined) throw new Error(`no connector option for ${url}`);
  const { host, port } = endpoint(url);
  const stream = connect(port, host, {}, () => undefined);
  const error = await new Promise<(Error & { code?: string }) | undefined>((resolve) => {
    stream.once('error', resolve);
    setTimeout(() => resolve(undefined), 50);
  });
  return { stream, error };
}

describe('in-process connectors', () => {
  it('serves only hosts ending in .in-process.invalid', () => {
    for (const host of ['broker.example.com', '127.0.0.1', 'in-process.invalid', 'a.in-process.invalid.example.com', 'a.invalid']) {
      let error: unknown;
      try {
        registerConnector(host, () => new PassThrough());
      } catch (e) {
        error = e;
      }
      expect(isOutreachError(error) && error.code, host).toBe('INVALID_ARGUMENT');
    }
  });

  it('gives rhea no connect option for any other host, nor over TLS', () => {
    const unregister = registerConnector('tls-test.in-process.invalid', () => new PassThrough());
    try {
      expect(connectorFor(endpoint('amqp+ssl://b-1234.mq.us-east-1.amazonaws.com:5671'))).toEqual({});
      expect(connectorFor(endpoint('amqp://localhost:5672'))).toEqual({});
      expect(connectorFor(endpoint('amqp+ssl://tls-test.in-process.invalid:5671'))).toEqual({});
    } finally {
      unregister();
    }
  });

  it('routes a served host to its connector; one served no more, or never, is refused (ECONNREFUSED)', async () => {
    const served: Duplex[] = [];
    const unregister = registerConnector('routed.in-process.invalid', () => {
      const stream = new PassThrough();
      served.push(stream);
      return stream;
    });
    expect(() => registerConnector('routed.in-process.invalid', () => new PassThrough())).toThrowError(/served already/);

    const first = await dial('amqp://routed.in-process.invalid');
    expect(first.error).toBeUndefined();
    expect(served).toEqual([first.stream]);

    unregister();
    const late = await dial('amqp://routed.in-process.invalid');
    expect(late.error?.code).toBe('ECONNREFUSED');
    expect(served).toHaveLength(1);
    const never = await dial('amqp://never-served.in-process.invalid');
    expect(never.error?.code).toBe('ECONNREFUSED');
  });

  it('an old unregister leaves a later registration of the same host in place', async () => {
    const unregisterOld = registerConnector('again.in-process.invalid', () => new PassThrough());
    unregisterOld();
    const unregister = registerConnector('again.in-process.invalid', () => new PassThrough());
    unregisterOld();
    expect((await dial('amqp://again.in-process.invalid')).error).toBeUndefined();
    unregister();
  });
});
