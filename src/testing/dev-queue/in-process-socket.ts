import { Duplex } from 'node:stream';
import { connectionRefused, IN_PROCESS_HOST_SUFFIX, registerConnector } from '../../connection/connectors.js';

// The dev queue's in-process endpoints (`network: false`): a consumer in this process reaches one
// through a pair of in-memory streams instead of a socket, by a host name ending in
// `.in-process.invalid` that src/connection/connectors.ts routes here (and nowhere else: no DNS
// resolves `.invalid`, and no TLS runs over these streams).

/** @internal Takes the server's end of a new in-process connection. */
export type InProcessAcceptor = (socket: Duplex) => void;

let next = 1;

/**
 * @internal Registers an in-process endpoint. Returns the host name that reaches it and a function
 * that unregisters it (later connections are refused, as by a closed port).
 */
export function registerInProcessEndpoint(accept: InProcessAcceptor): { readonly host: string; unregister(): void } {
  const host = `endpoint-${next++}${IN_PROCESS_HOST_SUFFIX}`;
  let open = true;
  const unregisterConnector = registerConnector(host, (_port, _host, _options, connected) => {
    const client = new PairEnd();
    const server = new PairEnd();
    client.peer = server;
    server.peer = client;
    setImmediate(() => {
      if (!open) {
        client.destroy(connectionRefused(host));
        return;
      }
      accept(server);
      connected();
    });
    return client;
  });
  return {
    host,
    unregister: () => {
      open = false;
      unregisterConnector();
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
