import { OutreachError } from '../errors/outreach-error.js';
import type { OutreachLogger } from '../logger.js';
import { AmqpLink, type LinkSettings } from './amqp-link.js';
import { roundDelay, type ReconnectOptions } from './backoff.js';
import { notServed, waitForService } from './endpoint-watch.js';
import type { BrokerEndpoint } from './endpoints.js';
import type { InboundLink, LinkSource, LinkSourceEvents } from './transport.js';

/**
 * @internal Keeps one link to the queue open: tries endpoints in turn (an active/standby pair),
 * backs off with jitter between failed attempts, opens a new connection with a new container id
 * each time, and tells its owner of every link that opens or is lost. Authentication, TLS and
 * refused-queue errors are fatal; so is running out of attempts.
 */
export class ConnectionSupervisor implements LinkSource {
  readonly #endpoints: readonly BrokerEndpoint[];
  readonly #settings: LinkSettings;
  readonly #reconnect: Required<ReconnectOptions>;
  readonly #logger: OutreachLogger;
  readonly #events: LinkSourceEvents;
  /** Fires when the owner stops the supervisor: ends back-offs and attempts. */
  readonly #stopped = new AbortController();
  #link: AmqpLink | undefined;
  #generation = 0;
  #endpointIndex = 0;
  #reconnects = 0;
  #connecting: Promise<void> | undefined;
  /** The link was closed on purpose (nothing to receive); no link until {@link ConnectionSupervisor.unpark}. */
  #parked = false;

  constructor(endpoints: readonly BrokerEndpoint[], settings: LinkSettings, reconnect: Required<ReconnectOptions>, logger: OutreachLogger, events: LinkSourceEvents) {
    this.#endpoints = endpoints;
    this.#settings = settings;
    this.#reconnect = reconnect;
    this.#logger = logger;
    this.#events = events;
  }

  /** The open link, if any. */
  get link(): InboundLink | undefined {
    return this.#link;
  }

  get brokerLink(): InboundLink | undefined {
    return this.#link;
  }

  /** The generation of the newest link (one per attempt). */
  get generation(): number {
    return this.#generation;
  }

  /** Links reopened after a loss. */
  get reconnects(): number {
    return this.#reconnects;
  }

  /** Whether deliveries of `generation` can still be settled. */
  isCurrent(generation: number): boolean {
    return this.#link?.state === 'open' && generation === this.#generation;
  }

  /** Opens the first link (once); resolves when it is open, rejects on a fatal error or `stop()`. */
  start(): Promise<void> {
    this.#connecting ??= this.#connectLoop(false);
    return this.#connecting;
  }

  /**
   * No more attempts (closing): a back-off or an attempt under way ends (the attempt's socket is
   * destroyed); the open link stays. {@link ConnectionSupervisor.settled} tells when it is over.
   */
  stop(): void {
    this.#stopped.abort();
  }

  /** Resolves when no connection attempt is under way any more: after stop(), once its socket has closed. */
  async settled(): Promise<void> {
    await this.#connecting?.catch(() => undefined);
  }

  /** Whether the link is closed on purpose until {@link ConnectionSupervisor.unpark}. */
  get parked(): boolean {
    return this.#parked;
  }

  /**
   * Closes the open link on purpose, when nothing is held and no credit is wanted (a pause, an
   * outage between probes): ActiveMQ then puts back on the queue what it kept for this link (an
   * AMQP `released` message stays bound to its link otherwise), where other consumers can have
   * it. No reconnect follows until {@link ConnectionSupervisor.unpark}.
   */
  park(closeTimeoutMs: number): Promise<void> {
    const link = this.#link;
    if (this.#parked || link === undefined || this.#stopped.signal.aborted) return Promise.resolve();
    this.#parked = true;
    this.#link = undefined;
    this.#logger.debug({ endpoint: link.endpoint.label }, 'parked: link closed until credit is wanted again');
    return link.close(closeTimeoutMs);
  }

  /** Opens a link again after {@link ConnectionSupervisor.park}. */
  unpark(): void {
    if (!this.#parked || this.#stopped.signal.aborted) return;
    this.#parked = false;
    this.#connecting = this.#connectLoop(false);
    this.#connecting.catch(() => undefined); // failures are reported as events and by fatal()
  }

  /** Hands over the open link (to close it), if any; the supervisor forgets it. */
  takeLink(): InboundLink | undefined {
    const link = this.#link;
    this.#link = undefined;
    return link;
  }

  async #connectLoop(afterLoss: boolean): Promise<void> {
    const stopped = this.#stopped.signal;
    const closed = (): OutreachError => new OutreachError('CLOSED', `the consumer was closed while ${afterLoss ? 'reconnecting' : 'connecting'}`);
    let failures = 0;
    const count = this.#endpoints.length;
    /** Endpoints whose last attempt found their port not served: knocked on while waiting. */
    const refusing = new Set<number>();
    for (;;) {
      if (stopped.aborted) throw closed();
      let index = this.#endpointIndex % count;
      if (afterLoss || failures > 0) {
        const delayMs = roundDelay(failures, count, this.#reconnect);
        const info = { endpoint: this.#endpoints[index]!.label, attempt: failures + 1, delayMs };
        this.#events.reconnecting(info);
        this.#logger.info(info, 'reconnecting');
        const serving = await waitForService(this.#endpoints, [...refusing], delayMs, stopped);
        if (stopped.aborted) throw closed();
        if (serving !== undefined) {
          index = serving;
          this.#logger.info({ endpoint: this.#endpoints[index]!.label }, 'the endpoint accepts connections now: trying it at once');
        }
      }
      this.#endpointIndex = index + 1;
      const endpoint = this.#endpoints[index]!;
      const generation = ++this.#generation;
      try {
        const link = await AmqpLink.open(endpoint, this.#settings, {
          arrived: (arrival) => this.#events.arrived(generation, arrival),
          down: (error) => this.#onDown(link, generation, error),
          drained: (answered) => this.#events.drained(link, answered),
        }, stopped);
        if (stopped.aborted) {
          await link.close(2_000);
          throw closed();
        }
        this.#link = link;
        if (afterLoss) this.#reconnects++;
        const info = { endpoint: endpoint.label, containerId: link.containerId };
        this.#logger.info(info, 'connected');
        this.#events.open(link, afterLoss);
        this.#events.connected(info);
        return;
      } catch (error) {
        let err = asConnectionError(error);
        // Stopped while this attempt was under way (the attempt abandoned, or failed meanwhile):
        // closing wins over the attempt's failure.
        if (stopped.aborted) throw new OutreachError('CLOSED', closed().message, { cause: err });
        if (err.code === 'CLOSED') throw err;
        if (notServed(err)) refusing.add(index);
        else refusing.delete(index);
        failures++;
        if (err.retryable && failures >= this.#reconnect.maxAttempts) {
          // Out of attempts: the consumer stops, so the error it reports is no longer retryable.
          err = new OutreachError(err.code, `${err.message} (gave up after ${failures} attempts)`, { cause: err, retryable: false });
        }
        this.#events.error(err, !err.retryable);
        if (!err.retryable) {
          this.#stopped.abort();
          this.#events.fatal(err);
          throw err;
        }
      }
    }
  }

  #onDown(link: AmqpLink, generation: number, error: OutreachError | undefined): void {
    if (this.#link !== link) return;
    this.#link = undefined;
    const info = { endpoint: link.endpoint.label, containerId: link.containerId, error };
    this.#logger.warn({ endpoint: info.endpoint, containerId: info.containerId, code: error?.code }, 'disconnected');
    this.#events.down(generation);
    this.#events.disconnected(info);
    if (this.#stopped.signal.aborted) return;
    if (error !== undefined) this.#events.error(error, !error.retryable);
    if (error !== undefined && !error.retryable) {
      this.#stopped.abort();
      this.#events.fatal(error);
      return;
    }
    this.#connecting = this.#connectLoop(true);
    this.#connecting.catch(() => undefined); // failures are reported as events and by fatal()
  }
}

/** Any error of a connection attempt as an {@link OutreachError} (unknown ones retryable). */
function asConnectionError(error: unknown): OutreachError {
  if (error instanceof OutreachError) return error;
  return new OutreachError('CONNECTION_FAILED', `connection: ${(error as Error | undefined)?.message ?? String(error)}`, { cause: error, retryable: true });
}
