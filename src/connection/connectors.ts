import { PassThrough, type Duplex } from 'node:stream';
import { OutreachError } from '../errors/outreach-error.js';
import type { BrokerEndpoint } from './endpoints.js';

// In-process endpoints: a consumer and an endpoint in the same process (the testing kit's dev
// queue), joined by a pair of streams instead of a socket. The consumer reaches one through an
// ordinary URL whose host ends in `.in-process.invalid` (RFC 6761: no DNS ever resolves
// `.invalid`), so nothing else in the consumer changes and no production URL can take this path
// by accident. This file is only the seam: whoever serves such a host registers a connector for
// it; the streams themselves are the testing kit's (src/testing/dev-queue/in-process-socket.ts).

/** @internal The host-name suffix of in-process endpoints: the only hosts a connector may serve. */
export const IN_PROCESS_HOST_SUFFIX = '.in-process.invalid';

/**
 * @internal rhea's `connect` option: called instead of `net.connect` with the port, host, options
 * and a callback, it returns the connection's stream.
 */
export type RheaConnect = (port: number, host: string, options: unknown, connected: () => void) => Duplex;

const connectors = new Map<string, RheaConnect>();

/**
 * @internal Serves `host` (which must end in {@link IN_PROCESS_HOST_SUFFIX}) with `connect`.
 * Returns a function that unregisters it: later connections are refused, as by a closed port.
 * @throws {@link OutreachError} `INVALID_ARGUMENT` for any other host, or one already served
 */
export function registerConnector(host: string, connect: RheaConnect): () => void {
  if (!host.endsWith(IN_PROCESS_HOST_SUFFIX)) {
    throw new OutreachError('INVALID_ARGUMENT', `an in-process connector serves only a host ending in ${IN_PROCESS_HOST_SUFFIX}, not ${host}`);
  }
  if (connectors.has(host)) throw new OutreachError('INVALID_ARGUMENT', `${host} is served already`);
  connectors.set(host, connect);
  return () => {
    if (connectors.get(host) === connect) connectors.delete(host);
  };
}

/** @internal The error of a refused in-process connection: what `net.connect` gives for a closed port. */
export function connectionRefused(host: string): Error {
  return Object.assign(new Error(`connect ECONNREFUSED ${host}`), { code: 'ECONNREFUSED' });
}

/**
 * @internal The rhea connection option that reaches an in-process endpoint (`{ connect }`), or
 * nothing for any other endpoint. The connector is looked up when rhea connects: one that is
 * gone (or never was) refuses the connection. rhea's `connect` option (used by its
 * `connection_details` instead of `net.connect`) is not in its typings;
 * test/unit/dev-queue.test.ts ("network: false") fails if an upgrade drops it.
 */
export function connectorFor(endpoint: BrokerEndpoint): { readonly connect?: RheaConnect } {
  // In-process streams carry no TLS: an amqps:// URL never takes this path (and fails to resolve).
  if (endpoint.tls || !endpoint.host.endsWith(IN_PROCESS_HOST_SUFFIX)) return {};
  return {
    connect: (port, host, options, connected) => {
      const connect = connectors.get(endpoint.host);
      if (connect !== undefined) return connect(port, host, options, connected);
      const refused = new PassThrough();
      setImmediate(() => refused.destroy(connectionRefused(endpoint.host)));
      return refused;
    },
  };
}

/**
 * @internal For an in-process endpoint, whether a connector serves it now (a knock on its port);
 * `undefined` for any other endpoint (knock on its TCP port instead).
 */
export function isServed(endpoint: BrokerEndpoint): boolean | undefined {
  if (endpoint.tls || !endpoint.host.endsWith(IN_PROCESS_HOST_SUFFIX)) return undefined;
  return connectors.has(endpoint.host);
}
