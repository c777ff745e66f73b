import { randomUUID } from 'node:crypto';
import { isIP } from 'node:net';
import rhea from 'rhea';
import { connectorFor } from './connectors.js';
import type { Connection, Container, Delivery as RheaDelivery, EventContext, Message as RheaMessage, Receiver } from 'rhea';
import { OutreachError, type OutreachErrorCode } from '../errors/outreach-error.js';
import type { BrokerEndpoint } from './endpoints.js';
import { clearDrainFlag, clearRheaTimers, flushDispositionsBefore, isNullTerminus, remoteAttachSource, setRheaIdleTimeout, socketOf } from './rhea-internals.js';
import type { Arrival, ArrivalToken, InboundEvents, InboundLink, LinkState, WireSettlement } from './transport.js';

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

/** How long a drain may go without an answer or a message before the link stops waiting. */
const DRAIN_ANSWER_TIMEOUT_MS = 10_000;

/** The idle-time-out offered in our Open frame: half of `idleTimeoutMs`. */
function advertisedIdleTimeout(idleTimeoutMs: number): number {
  return Math.floor(idleTimeoutMs / 2);
}

/**
 * How many deliveries a session keeps track of (rhea's `session_buffer_size`; its default is
 * 2048). rhea frees these slots only from the oldest delivery on, in order, and offers the broker
 * as session window only the free ones. So one delivery held unsettled (a failure waiting out its
 * retry delay, a slow handler beside fast ones) stops the broker's transfers once 2048 more have
 * come after it, whatever the link credit: ActiveMQ queued them and sent nothing (`bench:poison`,
 * broker trace, docs/wire-facts.md). 16,384 covers a 1 s and a 2 s retry delay at a local
 * broker's fastest (about 6,000 a second) and 4 s at a persistent queue's pace. A slot behind a
 * held delivery keeps rhea's record of a settled one (about 2.2 KB, not its body; measured with a
 * rhea peer, heap freed once the held one settled): at most about 36 MB, and only while one is
 * held that long.
 */
export const SESSION_BUFFER_SIZE = 16_384;

/** @internal How often the stall watchdog looks, at most (so a stall is found within idleTimeoutMs + this). */
export const STALL_CHECK_MS = 500;
/**
 * @internal Beyond half of idleTimeoutMs (what we offer: a peer that heeds it, as ActiveMQ's
 * proton does, sends a frame at least that often), how long a silence may last before the link counts as stalled: this,
 * or a quarter of idleTimeoutMs if less, so that health shows the stall well before the link is
 * given up at idleTimeoutMs.
 */
export const HEARTBEAT_GRACE_MS = 1000;

const CA_ADVICE = "TLS certificate not trusted ({code}); pass the broker's CA as the ca option";
const NAME_ADVICE =
  'TLS certificate does not match the host name ({code}{reason}); connect with a host name the certificate names (for Amazon MQ, the endpoint the AWS console shows, not an IP address), or set servername to it';
const CLIENT_CERT_ADVICE = "this consumer sends none (Amazon MQ never asks for one): check that the URL is the broker's AMQP endpoint";

/**
 * Node's codes for a TLS failure that trying again cannot mend, each with what to do about it
 * (`{code}` and `{reason}` are filled in). A failure among them is `TLS_FAILED` and fatal.
 */
const TLS_ADVICE: ReadonlyMap<string, string> = new Map([
  // The chain leads to no certificate authority this client trusts.
  ...['DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT',
    'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_UNTRUSTED', 'CERT_REJECTED'].map((code) => [code, CA_ADVICE] as const),
  ['ERR_TLS_CERT_ALTNAME_INVALID', NAME_ADVICE],
  ['HOSTNAME_MISMATCH', NAME_ADVICE],
  ['CERT_HAS_EXPIRED', "the broker's TLS certificate has expired ({code}); check this machine's clock; if it is right, the certificate must be renewed by whoever runs the broker"],
  ['CERT_NOT_YET_VALID', "the broker's TLS certificate is not valid yet ({code}); check this machine's clock (it may be behind); if it is right, tell whoever runs the broker"],
  ['INVALID_PURPOSE', "the broker's TLS certificate is not meant for a TLS server ({code}: its extended key usage lacks serverAuth); the broker needs a server certificate: tell whoever runs it"],
  ['ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', `the server demands a client certificate ({code}); ${CLIENT_CERT_ADVICE}`],
  ['ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE', `the server refused the TLS handshake ({code}): it may demand a client certificate, and ${CLIENT_CERT_ADVICE}`],
  ['ERR_SSL_WRONG_VERSION_NUMBER', 'this port does not speak TLS ({code}); it is likely the plain AMQP port: use the TLS port, usually 5671'],
]);

/**
 * @internal One connection to one endpoint with one receiver on the queue: credit is granted by
 * the caller only (`credit_window: 0`), nothing is settled automatically (`autoaccept: false`),
 * rhea's own reconnect is off (the consumer reconnects with a new container id each time), and
 * every rhea error event has a listener, so none reaches the process as an unhandled `error`.
 */
export class AmqpLink implements InboundLink {
  /** Unique per attempt: ActiveMQ refuses a second connection with a container id it still holds. */
  readonly containerId = `civitas-outreach-${randomUUID()}`;
  readonly endpoint: BrokerEndpoint;
  #container: Container;
  #connection: Connection | undefined;
  #receiver: Receiver | undefined;
  #events: InboundEvents | undefined;
  #state: LinkState = 'connecting';
  #granted = 0;
  /** The drain waiting for the broker's answer, if any: its give-up timer. */
  #drain: ReturnType<typeof setTimeout> | undefined;
  readonly #password: string;
  readonly #username: string;
  readonly #idleTimeoutMs: number;
  /** When the peer last sent anything (epoch ms), once the connection is open. */
  #heardAt = 0;
  #watchdog: ReturnType<typeof setInterval> | undefined;

  private constructor(endpoint: BrokerEndpoint, settings: LinkSettings) {
    this.endpoint = endpoint;
    this.#idleTimeoutMs = settings.idleTimeoutMs;
    this.#container = rhea.create_container({ id: this.containerId });
    this.#password = settings.password;
    this.#username = settings.username;
  }

  get state(): LinkState {
    return this.#state;
  }

  /** Whether the link is open and its deliveries can still be settled. */
  get alive(): boolean {
    return this.#state === 'open';
  }

  /**
   * Since when the broker has said nothing, when that silence is longer than its heartbeats allow
   * (half of `idleTimeoutMs`, and a second of grace or a quarter of it if less): a stall, before the link is given up at
   * `idleTimeoutMs`. `undefined` while the broker is heard.
   */
  get silentSince(): Date | undefined {
    if (this.#state !== 'open' || this.#heardAt === 0) return undefined;
    const grace = Math.min(HEARTBEAT_GRACE_MS, this.#idleTimeoutMs / 4);
    return Date.now() - this.#heardAt > this.#idleTimeoutMs / 2 + grace ? new Date(this.#heardAt) : undefined;
  }

  /** Credit granted to the broker and not yet used by a message. */
  get outstandingCredit(): number {
    return this.#granted;
  }

  /**
   * Connects and attaches. Resolves when the broker has attached the receiver; rejects with a
   * classified {@link OutreachError} otherwise. When `signal` fires first, the attempt is
   * abandoned: its socket destroyed, its timer cleared, and the promise rejects with `CLOSED` once
   * the socket has closed.
   */
  static open(endpoint: BrokerEndpoint, settings: LinkSettings, events: InboundEvents, signal?: AbortSignal): Promise<AmqpLink> {
    const link = new AmqpLink(endpoint, settings);
    return link.#start(settings, events, signal);
  }

  #start(settings: LinkSettings, events: InboundEvents, signal: AbortSignal | undefined): Promise<AmqpLink> {
    return new Promise<AmqpLink>((resolve, reject) => {
      if (signal?.aborted === true) {
        reject(new OutreachError('CLOSED', `${this.endpoint.label}: connection attempt abandoned`));
        return;
      }
      let settled = false;
      const fail = (error: OutreachError): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', abandon);
        // Abandoned: reject once the socket is gone, so that whoever waits on the attempt (close())
        // leaves no socket behind. A socket that had closed already is not waited for (`closed`
        // turns true at destroy(), before 'close' is emitted: read it first).
        const socket = this.#connection === undefined ? undefined : socketOf(this.#connection);
        const waitForClose = error.code === 'CLOSED' && socket !== undefined && socket.closed === false;
        this.#destroy();
        if (waitForClose) socket.once('close', () => reject(error));
        else reject(error);
      };
      const abandon = (): void => fail(new OutreachError('CLOSED', `${this.endpoint.label}: connection attempt abandoned`));
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
      signal?.addEventListener('abort', abandon, { once: true });
      // Whether the peer has spoken AMQP on this connection (its open frame came).
      let amqpOpen = false;
      const onError = (context: EventContext | Error, fallback: OutreachErrorCode): void => {
        const error = this.#classify(context, fallback, !settled && !amqpOpen);
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
        // Half the timeout, as proton clients offer: ActiveMQ counts its heartbeat period from
        // when it notices its own last frame, so its gaps reach the whole offer (read in its
        // source, docs/wire-facts.md). Offering idleTimeoutMs/2 keeps them under the watchdog's.
        idle_time_out: advertisedIdleTimeout(settings.idleTimeoutMs),
        session_buffer_size: SESSION_BUFFER_SIZE,
        ...connectorFor(this.endpoint), // the testing kit's dev queue in this process: no socket
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
        if (this.#state === 'closing') return;
        onError(ctx, 'CONNECTION_FAILED');
      });
      connection.on('disconnected', (ctx: EventContext) => {
        if (this.#state === 'closing' && ctx.error === undefined) return this.#lost(undefined);
        onError(ctx, 'CONNECTION_FAILED');
      });
      connection.on('connection_open', () => {
        amqpOpen = true;
        // Our Open has gone out: rhea's own give-up (twice this) stays a backstop behind the
        // watchdog, at 2 x idleTimeoutMs, not at the watchdog's time without its second look.
        setRheaIdleTimeout(connection, settings.idleTimeoutMs);
        this.#watch(connection);
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
          signal?.removeEventListener('abort', abandon);
          this.#state = 'open';
          this.#events = events;
          resolve(this);
        });
        receiver.on('message', (ctx: EventContext) => {
          if (this.#granted > 0) this.#granted--;
          if (ctx.delivery !== undefined && ctx.message !== undefined) this.#events?.arrived(arrivalOf(ctx.delivery, ctx.message));
          // ActiveMQ answers a drain only when it cannot use all the credit: when messages use it
          // up, no answer comes (measured). Credit used up means the drain is over, not dry.
          if (this.draining && this.#granted === 0) this.#endDrain(false);
        });
        receiver.on('receiver_drained', () => {
          // The broker's answer leaves no credit, whether or not a drain is still awaited (an
          // answer can come after the wait gave up): count it, so that credit is granted again.
          this.#granted = 0;
          if (this.draining) return this.#endDrain(true);
          clearDrainFlag(receiver);
          this.#events?.drained(false);
        });
        receiver.on('receiver_error', (ctx: EventContext) => onError(ctx, 'QUEUE_UNAVAILABLE'));
        receiver.on('receiver_close', (ctx: EventContext) => {
          if (this.#state === 'closing') return;
          onError(ctx, 'QUEUE_UNAVAILABLE');
        });
      });
    });
  }

  /** Grants `n` more messages. */
  addCredit(n: number): void {
    if (n <= 0 || !this.alive || this.#receiver === undefined) return;
    this.#granted += n;
    this.#receiver.add_credit(n);
  }

  /** Whether a drain request is waiting for the broker's answer. */
  get draining(): boolean {
    return this.#drain !== undefined;
  }

  /**
   * Asks the broker to use the credit it holds now or give it up (AMQP drain). It sends what it
   * has, then answers; `onDrained` follows. Used to learn that the queue has run dry.
   */
  drain(): void {
    if (!this.alive || this.#receiver === undefined || this.draining) return;
    this.#receiver.drain_credit();
    // Should neither answer nor message come, stop waiting rather than stall the credit.
    this.#drain = setTimeout(() => this.#endDrain(false), DRAIN_ANSWER_TIMEOUT_MS);
  }

  /**
   * Writes the outcomes in the order given. rhea writes a tick's dispositions in runs of adjacent
   * delivery ids, so a run of acceptances leaves as one frame (`first`..`last`); before any other
   * outcome, and before an acceptance that follows one, what rhea holds is written first
   * (`flushDispositionsBefore`: a rhea bug would otherwise give both the first one's outcome).
   */
  settle(batch: readonly WireSettlement[]): void {
    if (!this.alive) return;
    let previous: WireSettlement | undefined;
    for (const settlement of batch) {
      const delivery = settlement.token as unknown as RheaDelivery;
      const accepting = settlement.outcome === 'accepted';
      if (!accepting || previous?.outcome !== 'accepted') flushDispositionsBefore(delivery, accepting);
      previous = settlement;
      switch (settlement.outcome) {
        case 'accepted':
          delivery.accept();
          break;
        case 'retried':
          delivery.modified({ delivery_failed: true });
          break;
        case 'rejected':
          delivery.reject({ condition: 'amqp:internal-error', description: settlement.reason ?? '' });
          break;
        case 'released':
          delivery.release();
          break;
      }
    }
  }

  /**
   * The drain is over: answered by the broker (`dry`: it had nothing more) or not. rhea keeps its
   * drain flag set, which would make every later flow a drain request: clear it.
   */
  #endDrain(dry: boolean): void {
    if (!this.draining) return;
    clearTimeout(this.#drain);
    this.#drain = undefined;
    if (this.#receiver !== undefined) clearDrainFlag(this.#receiver);
    if (dry) this.#granted = 0;
    this.#events?.drained(dry);
  }

  /** Detaches the receiver and closes the connection; resolves when done or after `timeoutMs`. */
  close(timeoutMs: number): Promise<void> {
    if (this.#state === 'down' || this.#connection === undefined) {
      this.#destroy();
      return Promise.resolve();
    }
    // Outcomes decided before the close were written by the engine before it asked for it.
    this.#state = 'closing';
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

  /**
   * The stall watchdog. rhea gives a silent peer twice the idle timeout it enforces, and a
   * second more to close: 31 s for the default 15 s, with health saying `open` throughout. We
   * offer the peer half of `idleTimeoutMs` (AMQP 1.0, 2.4.5: it sends a frame at least that
   * often), so the link is given up once nothing at all, not even an empty frame, came for
   * `idleTimeoutMs`, twice the offer; `silentSince` tells of the stall before that.
   */
  #watch(connection: Connection): void {
    this.#heardAt = Date.now();
    socketOf(connection)?.on?.('data', () => (this.#heardAt = Date.now()));
    const silentTooLong = (): boolean => this.#state === 'open' && Date.now() - this.#heardAt > this.#idleTimeoutMs;
    this.#watchdog = setInterval(() => {
      // Before the link is open the connect timeout watches the attempt.
      if (!silentTooLong()) return;
      // Look again after this turn's I/O: timers run before it, so a process that was starved of
      // CPU (a long GC, a busy machine) would otherwise see the silence of its own pause, with the
      // broker's frames waiting unread in the socket.
      setImmediate(() => {
        if (!silentTooLong()) return;
        const message = `${this.endpoint.label}: the broker sent nothing for ${Date.now() - this.#heardAt} ms, not even a heartbeat, beyond idleTimeoutMs (${this.#idleTimeoutMs} ms): the connection stalled`;
        this.#lost(new OutreachError('CONNECTION_FAILED', message, { retryable: true }));
      });
    }, Math.min(STALL_CHECK_MS, Math.max(100, Math.floor(this.#idleTimeoutMs / 4))));
    this.#watchdog.unref?.();
  }

  #lost(error: OutreachError | undefined): void {
    if (this.#state === 'down') return;
    const events = this.#events;
    this.#events = undefined;
    this.#destroy();
    // Only a link that opened tells of its end (an attempt rejects its promise instead).
    events?.down(error);
  }

  #destroy(): void {
    this.#state = 'down';
    clearInterval(this.#watchdog);
    this.#watchdog = undefined;
    clearTimeout(this.#drain);
    this.#drain = undefined;
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

  /**
   * Turns a rhea event or socket error into a typed error without credentials in its text.
   * `beforeAmqp`: the attempt is under way and the peer has not spoken AMQP yet.
   */
  #classify(source: EventContext | Error, fallback: OutreachErrorCode, beforeAmqp = false): OutreachError {
    const raw = source instanceof Error ? source : (source.error ?? source.connection?.error ?? source.receiver?.error);
    const err = raw as { condition?: string; description?: string; message?: string; code?: string } | undefined;
    const condition = err?.condition;
    const code = err?.code;
    const text = this.#scrub(err?.description ?? err?.message ?? 'connection closed');
    const where = this.endpoint.label;
    const tlsAdvice = code === undefined ? undefined : TLS_ADVICE.get(code);
    if (tlsAdvice !== undefined) {
      const reason = mismatchReason(raw);
      return new OutreachError('TLS_FAILED', `${where}: ${tlsAdvice.replace('{code}', code!).replace('{reason}', reason)}`, { cause: raw });
    }
    if (condition === 'amqp:unauthorized-access' && fallback === 'CONNECTION_FAILED') {
      return new OutreachError('AUTHENTICATION_FAILED', `${where}: the broker refused the username or password (${condition})`);
    }
    if (fallback === 'QUEUE_UNAVAILABLE' && (condition === 'amqp:unauthorized-access' || condition === 'amqp:not-found')) {
      return new OutreachError('QUEUE_UNAVAILABLE', `${where}: the broker refused the queue link (${condition}: ${text})`);
    }
    if (raw === undefined && beforeAmqp && !this.endpoint.tls) {
      // A TLS port drops a plain client's AMQP header without a word (measured on ActiveMQ).
      return new OutreachError(
        'CONNECTION_FAILED',
        `${where}: the peer closed the connection before answering in AMQP; if this is the TLS port (usually 5671), use amqps://; otherwise check that this machine's address is on the broker's allow list`,
        { retryable: true },
      );
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

/** A rhea message as the engine sees it: the rhea delivery is the token that settles it. */
function arrivalOf(delivery: RheaDelivery, message: RheaMessage): Arrival {
  const properties = message.application_properties;
  return {
    token: delivery as unknown as ArrivalToken,
    body: message.body,
    messageId: messageIdOf(message.message_id),
    deliveryCount: typeof message.delivery_count === 'number' ? message.delivery_count : 0,
    applicationProperties: properties === undefined || properties === null ? NO_PROPERTIES : Object.freeze({ ...properties }),
    subject: typeof message.subject === 'string' ? message.subject : undefined,
  };
}

const NO_PROPERTIES: Readonly<Record<string, unknown>> = Object.freeze({});

/** An AMQP message id as text or number (binary ids as hex). */
function messageIdOf(id: unknown): string | number | undefined {
  if (typeof id === 'string' || typeof id === 'number') return id;
  if (id instanceof Uint8Array) return Buffer.from(id).toString('hex');
  return id === undefined || id === null ? undefined : String(id);
}

/**
 * Node's reason for a host-name mismatch, and the names the certificate holds (public, not a
 * secret), as `: …` text; empty for any other error.
 */
function mismatchReason(raw: unknown): string {
  const { reason, cert } = raw as { reason?: unknown; cert?: { subjectaltname?: unknown } };
  if (typeof reason !== 'string') return '';
  const text = reason.replace(/[:\s]+$/, '');
  const names = cert?.subjectaltname;
  return typeof names === 'string' && names !== '' && !text.includes(names) ? `: ${text}; the certificate is for ${names}` : `: ${text}`;
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
