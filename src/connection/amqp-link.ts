import { randomUUID } from 'node:crypto';
import { isIP } from 'node:net';
import rhea from 'rhea';
import { inProcessConnectOption } from './in-process.js';
import type { Connection, Container, Delivery as RheaDelivery, EventContext, Message as RheaMessage, Receiver } from 'rhea';
import { OutreachError, type OutreachErrorCode } from '../errors/outreach-error.js';
import type { BrokerEndpoint } from './endpoints.js';
import { flushAcceptances } from './acceptances.js';
import { clearDrainFlag, clearRheaTimers, isNullTerminus, remoteAttachSource, socketOf } from './rhea-internals.js';

/** @internal What one attempt needs to know; credentials stay here and in rhea, nowhere else. */
export interface LinkSettings {
  readonly queue: string;
  readonly username: string;
  readonly password: string;
  readonly ca: string | Uint8Array | readonly (string | Uint8Array)[] | undefined;
  readonly servername: string | undefined;
  readonly connectTimeoutMs: number;
  readonly idleTimeoutMs: number;
  /**
   * Browse instead of consume: the source asks for `distribution-mode: copy`, which ActiveMQ
   * serves with a queue browser (it sends copies and removes nothing; see docs/wire-facts.md).
   * Used by the command line's `peek`, never by the consumer.
   */
  readonly browse?: boolean;
}

/** @internal Callbacks of an open link. */
export interface LinkHandlers {
  onMessage(delivery: RheaDelivery, message: RheaMessage): void;
  /** Once, when an open link is lost; `error` is undefined for a close we asked for. */
  onDown(error: OutreachError | undefined): void;
  /**
   * A {@link AmqpLink.drain} request is over; `dry` when the broker answered that it had nothing
   * more to send, `false` when messages used up the credit instead.
   */
  onDrained(dry: boolean): void;
}

/** How long a drain may go without an answer or a message before the link stops waiting. */
const DRAIN_ANSWER_TIMEOUT_MS = 10_000;

const TLS_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'HOSTNAME_MISMATCH',
]);

/**
 * @internal One connection to one endpoint with one receiver on the queue: credit is granted by
 * the caller only (`credit_window: 0`), nothing is settled automatically (`autoaccept: false`),
 * rhea's own reconnect is off (the consumer reconnects with a new container id each time), and
 * every rhea error event has a listener, so none reaches the process as an unhandled `error`.
 */
export class AmqpLink {
  /** Unique per attempt: ActiveMQ refuses a second connection with a container id it still holds. */
  readonly containerId = `civitas-outreach-${randomUUID()}`;
  readonly endpoint: BrokerEndpoint;
  #container: Container;
  #connection: Connection | undefined;
  #receiver: Receiver | undefined;
  #handlers: LinkHandlers | undefined;
  #open = false;
  #down = false;
  #closing = false;
  #granted = 0;
  #draining = false;
  #drainTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #password: string;
  readonly #username: string;

  private constructor(endpoint: BrokerEndpoint, settings: LinkSettings) {
    this.endpoint = endpoint;
    this.#container = rhea.create_container({ id: this.containerId });
    this.#password = settings.password;
    this.#username = settings.username;
  }

  /** Whether the link is open and its deliveries can still be settled. */
  get alive(): boolean {
    return this.#open && !this.#down;
  }

  /** Credit granted to the broker and not yet used by a message. */
  get outstandingCredit(): number {
    return this.#granted;
  }

  /**
   * Connects and attaches. Resolves when the broker has attached the receiver; rejects with a
   * classified {@link OutreachError} otherwise.
   */
  static open(endpoint: BrokerEndpoint, settings: LinkSettings, handlers: LinkHandlers): Promise<AmqpLink> {
    const link = new AmqpLink(endpoint, settings);
    return link.#start(settings, handlers);
  }

  #start(settings: LinkSettings, handlers: LinkHandlers): Promise<AmqpLink> {
    return new Promise<AmqpLink>((resolve, reject) => {
      let settled = false;
      const fail = (error: OutreachError): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.#destroy();
        reject(error);
      };
      // Set when the broker answered the attach with no source: a refusal, its detach follows.
      let refused = false;
      const timer = setTimeout(
        () =>
          fail(
            refused
              ? new OutreachError('QUEUE_UNAVAILABLE', `${this.endpoint.label}: the broker refused the queue link`)
              : new OutreachError('CONNECTION_FAILED', `${this.endpoint.label}: no AMQP link within ${settings.connectTimeoutMs} ms`, {
                  retryable: true,
                }),
          ),
        settings.connectTimeoutMs,
      );
      const onError = (context: EventContext | Error, fallback: OutreachErrorCode): void => {
        const error = this.#classify(context, fallback);
        if (!settled) fail(error);
        else this.#lost(error);
      };

      this.#container.on('error', (e: Error) => onError(e, 'CONNECTION_FAILED'));
      const options = {
        host: this.endpoint.host,
        port: this.endpoint.port,
        username: settings.username,
        password: settings.password,
        container_id: this.containerId,
        reconnect: false,
        idle_time_out: settings.idleTimeoutMs,
        ...inProcessConnectOption(this.endpoint), // the testing kit's dev queue in this process: no socket
        ...(this.endpoint.tls
          ? {
              transport: 'tls' as const,
              rejectUnauthorized: true,
              ...(settings.ca === undefined ? {} : { ca: settings.ca }),
              // rhea sends the host as SNI; for an IP address that is not allowed (RFC 6066): send none.
              servername: settings.servername ?? (isIP(this.endpoint.host) === 0 ? this.endpoint.host : ''),
            }
          : {}),
      };
      const connection = this.#container.connect(options as Parameters<Container['connect']>[0]);
      this.#connection = connection;
      connection.on('error', (e: Error) => onError(e, 'CONNECTION_FAILED'));
      connection.on('connection_error', (ctx: EventContext) => onError(ctx, 'CONNECTION_FAILED'));
      connection.on('connection_close', (ctx: EventContext) => {
        if (this.#closing) return;
        onError(ctx, 'CONNECTION_FAILED');
      });
      connection.on('disconnected', (ctx: EventContext) => {
        if (this.#closing && ctx.error === undefined) return this.#lost(undefined);
        onError(ctx, 'CONNECTION_FAILED');
      });
      connection.on('connection_open', () => {
        const receiver = connection.open_receiver({
          source: settings.browse === true ? { address: settings.queue, distribution_mode: 'copy' as const } : { address: settings.queue },
          autoaccept: false,
          credit_window: 0,
          rcv_settle_mode: 0,
        });
        this.#receiver = receiver;
        receiver.on('receiver_open', () => {
          if (settled) return;
          // A broker that refuses a link (ActiveMQ: no read permission on the queue) still answers
          // the attach, with a null source, and detaches with the error right after (AMQP 1.0
          // 2.6.3). rhea reports that as receiver_open: wait for the detach (receiver_error).
          const remoteAttach = remoteAttachSource(receiver);
          if (remoteAttach.present && isNullTerminus(remoteAttach.source)) {
            refused = true;
            return;
          }
          settled = true;
          clearTimeout(timer);
          this.#open = true;
          this.#handlers = handlers;
          resolve(this);
        });
        receiver.on('message', (ctx: EventContext) => {
          if (this.#granted > 0) this.#granted--;
          if (ctx.delivery !== undefined && ctx.message !== undefined) this.#handlers?.onMessage(ctx.delivery, ctx.message);
          // ActiveMQ answers a drain only when it cannot use all the credit: when messages use it
          // up, no answer comes (measured). Credit used up means the drain is over, not dry.
          if (this.#draining && this.#granted === 0) this.#endDrain(false);
        });
        receiver.on('receiver_drained', () => {
          // The broker's answer leaves no credit, whether or not a drain is still awaited (an
          // answer can come after the wait gave up): count it, so that credit is granted again.
          this.#granted = 0;
          if (this.#draining) return this.#endDrain(true);
          clearDrainFlag(receiver);
          this.#handlers?.onDrained(false);
        });
        receiver.on('receiver_error', (ctx: EventContext) => onError(ctx, 'QUEUE_UNAVAILABLE'));
        receiver.on('receiver_close', (ctx: EventContext) => {
          if (this.#closing) return;
          onError(ctx, 'QUEUE_UNAVAILABLE');
        });
      });
    });
  }

  /** Grants `n` more messages. */
  addCredit(n: number): void {
    if (n <= 0 || !this.alive || this.#receiver === undefined) return;
    // Credit never goes out ahead of the acceptances that freed it: rhea writes a turn's
    // dispositions before its flow frames, so the broker sees the acknowledgements first.
    flushAcceptances();
    this.#granted += n;
    this.#receiver.add_credit(n);
  }

  /** Whether a drain request is waiting for the broker's answer. */
  get draining(): boolean {
    return this.#draining;
  }

  /**
   * Asks the broker to use the credit it holds now or give it up (AMQP drain). It sends what it
   * has, then answers; `onDrained` follows. Used to learn that the queue has run dry.
   */
  drain(): void {
    if (!this.alive || this.#receiver === undefined || this.#draining) return;
    this.#draining = true;
    this.#receiver.drain_credit();
    // Should neither answer nor message come, stop waiting rather than stall the credit.
    this.#drainTimer = setTimeout(() => this.#endDrain(false), DRAIN_ANSWER_TIMEOUT_MS);
  }

  /**
   * The drain is over: answered by the broker (`dry`: it had nothing more) or not. rhea keeps its
   * drain flag set, which would make every later flow a drain request: clear it.
   */
  #endDrain(dry: boolean): void {
    if (!this.#draining) return;
    this.#draining = false;
    clearTimeout(this.#drainTimer);
    if (this.#receiver !== undefined) clearDrainFlag(this.#receiver);
    if (dry) this.#granted = 0;
    this.#handlers?.onDrained(dry);
  }

  /** Detaches the receiver and closes the connection; resolves when done or after `timeoutMs`. */
  close(timeoutMs: number): Promise<void> {
    if (this.#down || this.#connection === undefined) {
      this.#destroy();
      return Promise.resolve();
    }
    // Acceptances decided before the close leave before the detach.
    flushAcceptances();
    this.#closing = true;
    return new Promise<void>((resolve) => {
      const connection = this.#connection!;
      let finished = false;
      const done = (): void => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        this.#destroy();
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      // rhea answers the broker's close frame and ends the socket by itself; when the socket has
      // closed, rhea has seen it end and cleared its heartbeat timers. Destroying the socket at
      // connection_close instead left rhea's idle timer (2 x idleTimeoutMs) running, which kept
      // the process alive after close(). A clean close emits no 'disconnected'; a failed one does.
      const socket = socketOf(connection);
      if (socket === undefined || socket.destroyed === true) {
        connection.once('connection_close', done);
      } else {
        socket.once('close', done);
      }
      connection.once('disconnected', done);
      try {
        this.#receiver?.close();
        connection.close();
      } catch {
        done();
      }
    });
  }

  #lost(error: OutreachError | undefined): void {
    if (this.#down) return;
    this.#down = true;
    const handlers = this.#handlers;
    this.#handlers = undefined;
    this.#destroy();
    if (this.#open) handlers?.onDown(error);
  }

  #destroy(): void {
    this.#down = true;
    clearTimeout(this.#drainTimer);
    this.#granted = 0;
    const connection = this.#connection;
    try {
      if (connection !== undefined) socketOf(connection)?.destroy?.();
    } catch {
      // already gone
    }
    if (connection !== undefined) {
      // rhea never notices a socket destroyed under it, so it never clears its own timers; an
      // event being dispatched right now may also arm one after we return: clear them now and
      // once more after this turn.
      clearRheaTimers(connection);
      setImmediate(() => clearRheaTimers(connection));
    }
  }

  /** Turns a rhea event or socket error into a typed error without credentials in its text. */
  #classify(source: EventContext | Error, fallback: OutreachErrorCode): OutreachError {
    const raw = source instanceof Error ? source : (source.error ?? source.connection?.error ?? source.receiver?.error);
    const err = raw as { condition?: string; description?: string; message?: string; code?: string } | undefined;
    const condition = err?.condition;
    const code = err?.code;
    const text = this.#scrub(err?.description ?? err?.message ?? 'connection closed');
    const where = this.endpoint.label;
    if (code !== undefined && TLS_CODES.has(code)) {
      return new OutreachError('TLS_FAILED', `${where}: TLS certificate not trusted (${code}); pass the broker's CA as the ca option`, {
        cause: raw,
      });
    }
    if (condition === 'amqp:unauthorized-access' && fallback === 'CONNECTION_FAILED') {
      return new OutreachError('AUTHENTICATION_FAILED', `${where}: the broker refused the username or password (${condition})`);
    }
    if (fallback === 'QUEUE_UNAVAILABLE' && (condition === 'amqp:unauthorized-access' || condition === 'amqp:not-found')) {
      return new OutreachError('QUEUE_UNAVAILABLE', `${where}: the broker refused the queue link (${condition}: ${text})`);
    }
    const detail = condition === undefined ? (code ?? text) : `${condition}: ${text}`;
    return new OutreachError('CONNECTION_FAILED', `${where}: ${detail}`, { retryable: true, cause: scrubbedCause(raw, [this.#password]) });
  }

  /**
   * Removes credentials from broker text: the password wherever it appears, the username where it
   * stands as a word of its own (ActiveMQ quotes it in "User name [x] or password is invalid"), so
   * that a broker named after the user (`civitas-test`) stays readable.
   */
  #scrub(text: string): string {
    let out = text.split(this.#password).join('***');
    if (this.#username.length > 0) {
      const name = this.#username.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      out = out.replace(new RegExp(`(?<![\\w.-])${name}(?![\\w.-])`, 'g'), '***');
    }
    return out;
  }
}

/**
 * A cause safe to keep: socket errors as they are; AMQP errors only if they quote no secret, and
 * as a copy. rhea's `ConnectionError` holds its connection in a hidden `connection` property, and
 * the connection holds its options, password included: keeping the original would leave the
 * password one property away from every logger and error reporter that walks the cause.
 */
function scrubbedCause(raw: unknown, secrets: readonly string[]): unknown {
  const text = String((raw as { description?: unknown; message?: unknown } | undefined)?.description ?? (raw as Error | undefined)?.message ?? '');
  if (secrets.some((s) => text.includes(s))) return undefined;
  if (raw === null || typeof raw !== 'object' || !('connection' in raw)) return raw;
  const { name, message, condition, description } = raw as { name?: unknown; message?: unknown; condition?: unknown; description?: unknown };
  const copy = new Error(typeof message === 'string' ? message : text);
  if (typeof name === 'string') copy.name = name;
  if (raw instanceof Error && raw.stack !== undefined) copy.stack = raw.stack;
  return Object.assign(copy, { condition, description });
}
