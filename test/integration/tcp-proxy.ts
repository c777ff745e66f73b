// A small loopback TCP proxy for fault injection: it forwards every connection to a target port
// and can drop them all at once, stop listening, and listen again on the same port. A local
// socket.destroy() on the client is never noticed by rhea (docs/wire-facts.md); a cut here is seen
// by both ends, as a network drop or a broker failover is.
import net from 'node:net';

/** One accepted client connection and its connection to the target. */
interface Pair {
  readonly client: net.Socket;
  readonly upstream: net.Socket;
}

export class TcpProxy {
  readonly #targetHost: string;
  readonly #targetPort: number;
  readonly #pairs = new Set<Pair>();
  #server: net.Server | undefined;
  #port = 0;
  #accepted = 0;
  #frozen: Direction | undefined;

  private constructor(targetPort: number, targetHost: string) {
    this.#targetPort = targetPort;
    this.#targetHost = targetHost;
  }

  /** Starts a proxy on 127.0.0.1 and a free port, forwarding to `targetHost:targetPort`. */
  static async start(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
    const proxy = new TcpProxy(targetPort, targetHost);
    await proxy.#listen(0);
    return proxy;
  }

  /** The port the proxy listens on (kept across pause/cut and resume). */
  get port(): number {
    return this.#port;
  }

  /** Whether it accepts connections now. */
  get listening(): boolean {
    return this.#server !== undefined;
  }

  /** Connections accepted over the proxy's life. */
  get accepted(): number {
    return this.#accepted;
  }

  /** Client connections open now. */
  get open(): number {
    return this.#pairs.size;
  }

  /** Stops accepting new connections (they are refused); the open ones keep working. */
  async pause(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (server === undefined) return;
    // close() stops listening at once; its callback waits for the open connections, so don't wait.
    await new Promise<void>((resolve) => {
      server.close();
      setImmediate(resolve);
    });
  }

  /**
   * Drops every open connection (both ends see the close) and stops accepting, as when the
   * network to an endpoint goes away or an active broker fails over to its standby.
   */
  async cut(): Promise<void> {
    await this.pause();
    this.#destroyAll();
  }

  /**
   * Stops forwarding bytes without closing anything: both sockets stay open and silent, as on a
   * half-open connection (a NAT or load balancer that forgot the flow). Only a heartbeat timeout
   * notices. `direction` silences one way only: `'upstream'` (client to target: the target hears
   * nothing, the client still hears the target) or `'downstream'`. New connections are accepted,
   * and frozen the same way, until pause() or cut().
   */
  freeze(direction: Direction = 'both'): void {
    if (this.#frozen !== undefined) for (const pair of this.#pairs) startFlow(pair, this.#frozen);
    this.#frozen = direction;
    for (const pair of this.#pairs) stopFlow(pair, direction);
  }

  /** Accepts connections again, on the same port; forwards bytes again after a freeze(). */
  async resume(): Promise<void> {
    const frozen = this.#frozen;
    this.#frozen = undefined;
    if (frozen !== undefined) for (const pair of this.#pairs) startFlow(pair, frozen);
    if (this.#server === undefined) await this.#listen(this.#port);
  }

  /** Drops everything and stops for good. */
  async close(): Promise<void> {
    await this.cut();
  }

  #destroyAll(): void {
    for (const pair of this.#pairs) {
      pair.client.destroy();
      pair.upstream.destroy();
    }
    this.#pairs.clear();
  }

  #listen(port: number): Promise<void> {
    const server = net.createServer((client) => this.#accept(client));
    return new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: '127.0.0.1', port, exclusive: true }, () => {
        server.off('error', reject);
        server.on('error', () => undefined);
        const address = server.address();
        if (address === null || typeof address === 'string') {
          server.close();
          reject(new Error('the proxy has no TCP address'));
          return;
        }
        this.#port = address.port;
        this.#server = server;
        resolve();
      });
    });
  }

  #accept(client: net.Socket): void {
    this.#accepted++;
    const upstream = net.connect({ host: this.#targetHost, port: this.#targetPort });
    const pair: Pair = { client, upstream };
    this.#pairs.add(pair);
    const drop = (): void => {
      if (!this.#pairs.delete(pair)) return;
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop);
    upstream.on('error', drop);
    client.on('close', drop);
    upstream.on('close', drop);
    startFlow(pair, 'both');
    if (this.#frozen !== undefined) stopFlow(pair, this.#frozen);
  }
}

/** Which way bytes stop: client to target, target to client, or both. */
export type Direction = 'upstream' | 'downstream' | 'both';

function startFlow({ client, upstream }: Pair, direction: Direction): void {
  if (direction !== 'downstream') client.pipe(upstream);
  if (direction !== 'upstream') upstream.pipe(client);
}

function stopFlow({ client, upstream }: Pair, direction: Direction): void {
  if (direction !== 'downstream') {
    client.unpipe(upstream);
    client.pause();
  }
  if (direction !== 'upstream') {
    upstream.unpipe(client);
    upstream.pause();
  }
}
