import { Duplex } from 'node:stream';
import type { BrokerEndpoint } from './endpoints.js';

// In-process endpoints: a consumer and the testing kit's dev queue in the same process, joined by
// a pair of streams instead of a socket. The consumer reaches one through an ordinary URL whose
// host ends in `.in-process.invalid` (RFC 6761: no DNS ever resolves `.invalid`), so nothing
// else in the consumer changes and no production URL can take this path by accident.

/** @internal The host-name suffix of in-process endpoints. */
export const IN_PROCESS_HOST_SUFFIX = '.in-process.invalid';

/** @internal Takes the server's end of a new in-process connection. */
export type InProcessAcceptor = (socket: Duplex) => void;

const acceptors = new Map<string, InProcessAcceptor>();
let next = 1;

/**
 * @internal Registers an in-process endpoint. Returns the host name that reaches it and a function
 * that unregisters it (later connections are refused, as by a closed port).
 */
export function registerInProcessEndpoint(accept: InProcessAcceptor): { readonly host: string; unregister(): void } {
  const host = `endpoint-${next++}${IN_PROCESS_HOST_SUFFIX}`;
  acceptors.set(host, accept);
  return { host, unregister: () => void acceptors.delete(host) };
}

/** rhea's `connect` option: called instead of `net.connect` with the port, host, options and a callback. */
type RheaConnect = (port: number, host: string, options: unknown, connected: () => void) => Duplex;

/**
 * @internal The rhea connection option that reaches an in-process endpoint (`{ connect }`), or
 * nothing for any other endpoint. rhea's `connect` option (used by its `connection_details`
 * instead of `net.connect`) is not in its typings; test/unit/dev-queue.test.ts ("network: false")
 * fails if an upgrade drops it.
 */
export function inProcessConnectOption(endpoint: BrokerEndpoint): { readonly connect?: RheaConnect } {
  // In-process streams carry no TLS: an amqps:// URL never takes this path (and fails to resolve).
  if (endpoint.tls || !endpoint.host.endsWith(IN_PROCESS_HOST_SUFFIX)) return {};
  return {
    connect: (_port, _host, _options, connected) => {
      const client = new PairEnd();
      const server = new PairEnd();
      client.peer = server;
      server.peer = client;
      setImmediate(() => {
        const accept = acceptors.get(endpoint.host);
        if (accept === undefined) {
          client.destroy(Object.assign(new Error(`connect ECONNREFUSED ${endpoint.host}`), { code: 'ECONNREFUSED' }));
          return;
        }
        accept(server);
        connected();
      });
      return client;
    },
  };
}

/**
 * One end of an in-memory stream pair. What one end writes the other reads, a turn later (as
 * from a socket: never inside the writer's call); ending or destroying one end ends the other's
 * reading side, as a closed socket does.
 */
class PairEnd extends Duplex {
  peer: PairEnd | undefined;

  override _read(): void {
    // Data is pushed by the peer.
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const peer = this.peer;
    setImmediate(() => {
      if (peer !== undefined && !peer.destroyed) peer.push(chunk);
    });
    callback();
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#endPeer();
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#endPeer();
    callback(error);
  }

  #endPeer(): void {
    const peer = this.peer;
    setImmediate(() => {
      if (peer !== undefined && !peer.destroyed && !peer.readableEnded) peer.push(null);
    });
  }
}
