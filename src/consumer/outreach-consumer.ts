import { setMaxListeners } from 'node:events';
import { EventEmitter } from 'eventemitter3';
import type { Delivery as RheaDelivery, Message as RheaMessage } from 'rhea';
import { atLeastOnce } from '../ack/strategies.js';
import { sleep } from '../ack/retry-policy.js';
import type { AckContext, AckStrategy } from '../ack/strategy.js';
import { AmqpLink, type LinkSettings } from '../connection/amqp-link.js';
import { backoffDelay, type ReconnectOptions } from '../connection/backoff.js';
import { parseEndpoints, type BrokerEndpoint } from '../connection/endpoints.js';
import { OutreachError } from '../errors/outreach-error.js';
import { decodeOutreach } from '../message/decode.js';
import type { OutreachDecodeError } from '../message/decode-error.js';
import type { Outreach } from '../message/outreach.js';
import { OutreachDelivery, type DeliveryOwner, type SettleOutcome } from './delivery.js';
import type { ErrorSource, OutreachConsumerEvents } from './events.js';
import { silentLogger, type OutreachLogger } from './logger.js';
import {
  DEFAULT_PREFETCH,
  type CloseOptions,
  type CloseReport,
  type ConsumerHealth,
  type ConsumerState,
  type InvalidMessage,
  type OutreachConsumerOptions,
  type SettleCounts,
  type StartOptions,
} from './options.js';

/** Your code for one delivery, in the event API. */
export type OutreachHandler<A> = (delivery: OutreachDelivery<A>) => void | Promise<void>;

/** What the consumer tracks per delivery besides the delivery itself. */
interface Held {
  readonly generation: number;
  /** Handed to user code and not finished. */
  active: boolean;
  /** User code finished (or never will run: released from the buffer). */
  done: boolean;
}

const INVALID_HOOK_ATTEMPTS = 5;

/**
 * Drains a Civitas outreach queue on Amazon MQ (ActiveMQ) over AMQP 1.0, and never loses a
 * message: each is settled only when its acknowledgement strategy says the work is done.
 *
 * @remarks
 * Two ways to consume, over one engine: `for await (const delivery of consumer)`, or
 * {@link OutreachConsumer.start} with a handler and a `concurrency`. Both hand out
 * {@link OutreachDelivery} objects. Lifecycle and errors arrive as typed events
 * ({@link OutreachConsumerEvents}). Credit is granted to the broker only as work completes,
 * so at most `prefetch` messages are held in memory, however large the backlog and however
 * slow your code. Undecodable messages go to `onInvalid` and the `invalid` event, never to your
 * handler. See `docs/delivery-guarantees.md` for what each strategy does on the wire.
 *
 * @typeParam A - the decoded message type; {@link Outreach} unless you pass your own codec
 *
 * @example
 * ```ts
 * const consumer = new OutreachConsumer({
 *   url: 'amqp+ssl://b-1234-1.mq.us-east-1.amazonaws.com:5671',
 *   username: process.env.CIVITAS_USER!,
 *   password: process.env.CIVITAS_PASSWORD!,
 *   queue: process.env.CIVITAS_QUEUE!,
 * });
 * consumer.on('error', (err, source) => log.warn({ code: err.code, source }, err.message));
 *
 * for await (const delivery of consumer) {
 *   await crm.upsert(delivery.outreach); // accepted when the loop moves on; retried if it throws
 * }
 * ```
 */
export class OutreachConsumer<A = Outreach> extends EventEmitter<OutreachConsumerEvents> implements AsyncIterable<OutreachDelivery<A>> {
  readonly #endpoints: readonly BrokerEndpoint[];
  readonly #settings: LinkSettings;
  readonly #reconnect: Required<ReconnectOptions>;
  readonly #prefetch: number;
  readonly #strategy: AckStrategy;
  readonly #options: OutreachConsumerOptions<A>;
  readonly #logger: OutreachLogger;
  readonly #ackContext: AckContext;
  /** Fires when close() stops waiting for work. */
  readonly #stopWaiting = new AbortController();
  /** Fires when close() begins: cancels reconnect back-offs. */
  readonly #closingSignal = new AbortController();

  #state: ConsumerState = 'idle';
  #link: AmqpLink | undefined;
  #generation = 0;
  #endpointIndex = 0;
  #reconnects = 0;
  #lastDeliveryAt: Date | undefined;
  #fatal: OutreachError | undefined;
  #connecting: Promise<void> | undefined;
  #closing: Promise<CloseReport> | undefined;

  readonly #held = new Map<OutreachDelivery<unknown>, Held>();
  readonly #buffer: OutreachDelivery<A>[] = [];
  readonly #counts = { accepted: 0, retried: 0, rejected: 0, released: 0, lost: 0, invalid: 0 };
  /** Wakes whoever waits for the buffer to change (the iterator, the handler pump, close). */
  #wake: (() => void)[] = [];
  #handler: OutreachHandler<A> | undefined;
  #concurrency = 1;
  #active = 0;
  #invalidActive = 0;
  /** Messages received since the last drain request. */
  #sinceDrain = 0;
  /** The link on which the broker last answered a drain (none yet: drain once on a new link). */
  #drainedOnLink: AmqpLink | undefined;
  #iterating = false;
  /** Removes the listener start() put on its signal. */
  #detachStartSignal: (() => void) | undefined;
  /** Ends close()'s wait at once (set while close() waits). */
  #stopClosing: (() => void) | undefined;

  /**
   * Checks the options; connects only when you iterate or call {@link OutreachConsumer.start}.
   * @throws {@link OutreachError} `INVALID_ARGUMENT` or `INSECURE_URL` for options that cannot work
   */
  constructor(options: OutreachConsumerOptions<A>) {
    super();
    this.#options = options;
    this.#endpoints = parseEndpoints(options.url, options.allowInsecure ?? false);
    for (const [name, value] of [
      ['username', options.username],
      ['password', options.password],
      ['queue', options.queue],
    ] as const) {
      if (typeof value !== 'string' || value.length === 0) {
        throw new OutreachError('INVALID_ARGUMENT', `${name} must be a non-empty string`);
      }
    }
    // ActiveMQ reads a comma as "several queues" and `*`, `>` as wildcards: on a consumer that
    // would drain queues the user never named. Civitas gives one plain queue name.
    if (/[,*>]/.test(options.queue)) {
      throw new OutreachError('INVALID_ARGUMENT', 'queue must be one queue name: ActiveMQ reads "," as several queues and "*", ">" as wildcards');
    }
    this.#prefetch = options.prefetch ?? DEFAULT_PREFETCH;
    if (!Number.isInteger(this.#prefetch) || this.#prefetch < 1) {
      throw new OutreachError('INVALID_ARGUMENT', 'prefetch must be an integer of at least 1');
    }
    this.#strategy = options.strategy ?? atLeastOnce();
    this.#strategy.validate?.(this.#prefetch);
    this.#reconnect = {
      initialDelayMs: options.reconnect?.initialDelayMs ?? 250,
      maxDelayMs: options.reconnect?.maxDelayMs ?? 30_000,
      maxAttempts: options.reconnect?.maxAttempts ?? Number.POSITIVE_INFINITY,
    };
    this.#settings = {
      queue: options.queue,
      username: options.username,
      password: options.password,
      ca: options.ca,
      servername: options.servername,
      connectTimeoutMs: options.connectTimeoutMs ?? 15_000,
      idleTimeoutMs: options.idleTimeoutMs ?? 15_000,
    };
    this.#logger = options.logger ?? silentLogger;
    // Each delivery waiting out a retry delay listens on this signal: up to prefetch at once.
    setMaxListeners(this.#prefetch + 16, this.#stopWaiting.signal);
    this.#ackContext = {
      signal: this.#stopWaiting.signal,
      prefetch: this.#prefetch,
      logger: this.#logger,
      reportError: (error, source) => this.#reportError(error, source),
    };
  }

  /** The lifecycle state now. */
  get state(): ConsumerState {
    return this.#state;
  }

  /**
   * Starts the event API: connects, and calls `handler` for each delivery, up to `concurrency`
   * at once. Resolves once the first link is open.
   *
   * @throws {@link OutreachError} (rejects) with the fatal error if the consumer fails before
   * connecting (authentication, TLS, refused queue, attempts used up), `CLOSED` if closed first,
   * `ITERATOR_IN_USE` if it is already consuming.
   *
   * @example
   * ```ts
   * consumer.on('error', (err, source) => log.warn({ code: err.code, source }, err.message));
   * await consumer.start(async (delivery) => {
   *   await crm.upsert(delivery.outreach);
   * }, { concurrency: 4 });
   * ```
   */
  async start(handler: OutreachHandler<A>, options: StartOptions = {}): Promise<void> {
    if (this.#fatal !== undefined) throw this.#fatal;
    if (this.#handler !== undefined || this.#iterating) {
      throw new OutreachError('ITERATOR_IN_USE', 'this consumer is already consuming (start() or an iterator)');
    }
    const concurrency = options.concurrency ?? 1;
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > this.#prefetch) {
      throw new OutreachError('INVALID_ARGUMENT', `concurrency must be an integer from 1 to prefetch (${this.#prefetch})`);
    }
    this.#handler = handler;
    this.#concurrency = concurrency;
    const signal = options.signal;
    if (signal !== undefined) {
      const onAbort = (): void => void this.close();
      if (signal.aborted) onAbort();
      else {
        signal.addEventListener('abort', onAbort, { once: true });
        this.#detachStartSignal = () => signal.removeEventListener('abort', onAbort);
      }
    }
    await this.#ensureConnected();
    this.#pump();
  }

  /**
   * The async-iterator API. One iterator per consumer; `break` (or a throw in the loop body)
   * hands back the delivery in hand and everything buffered, and closes the consumer.
   *
   * @remarks Under the default strategy a delivery is accepted when the loop asks for the next one.
   * The loop ends when the consumer is closed; it throws the fatal error if the consumer fails.
   * @throws {@link OutreachError} `ITERATOR_IN_USE` for a second iterator
   */
  [Symbol.asyncIterator](): AsyncIterator<OutreachDelivery<A>> {
    if (this.#iterating || this.#handler !== undefined) {
      throw new OutreachError('ITERATOR_IN_USE', 'this consumer is already consuming (start() or an iterator)');
    }
    this.#iterating = true;
    let current: OutreachDelivery<A> | undefined;

    const finishCurrent = async (success: boolean): Promise<void> => {
      const delivery = current;
      current = undefined;
      if (delivery === undefined) return;
      try {
        if (success) await this.#strategy.onSuccess(delivery as OutreachDelivery<unknown>, this.#ackContext);
        // break or a throw in the loop body: whether the work was done is unknown; hand it back.
        // (Counting it with retry() would not help: the broker re-dispatches it to this closing
        // link at once and, when the link detaches, rolls the count back. Measured.)
        else if (!delivery.settled && delivery.outcome === undefined) delivery.release();
      } catch (error) {
        this.#reportError(asOutreachError(error, 'settle'), 'settle');
        this.#settleAfterStrategyError(delivery as OutreachDelivery<unknown>);
      } finally {
        this.#active--;
        this.#workDone(delivery as OutreachDelivery<unknown>);
      }
    };

    const nextDelivery = async (): Promise<IteratorResult<OutreachDelivery<A>>> => {
      await finishCurrent(true);
      if (this.#state === 'idle') {
        try {
          await this.#ensureConnected();
        } catch (error) {
          // Closed before the first link opened: the loop simply ends.
          if (error instanceof OutreachError && error.code === 'CLOSED') return { value: undefined, done: true };
          throw error;
        }
      }
      for (;;) {
        if (this.#fatal !== undefined && this.#buffer.length === 0) throw this.#fatal;
        const next = this.#buffer.shift();
        if (next !== undefined) {
          current = next;
          this.#active++;
          this.#held.get(next as OutreachDelivery<unknown>)!.active = true;
          return { value: next, done: false };
        }
        if (this.#state === 'closing' || this.#state === 'closed' || this.#state === 'failed') {
          if (this.#fatal !== undefined) throw this.#fatal;
          return { value: undefined, done: true };
        }
        await this.#waitForChange();
      }
    };

    // Calls are served one after another, so that a caller who does not await each next()
    // cannot have two deliveries in hand, one of which would never be finished.
    let queue: Promise<unknown> = Promise.resolve();
    const serially = <T>(step: () => Promise<T>): Promise<T> => {
      const result = queue.then(step, step);
      queue = result.catch(() => undefined);
      return result;
    };
    return {
      next: () => serially(nextDelivery),
      return: async (): Promise<IteratorResult<OutreachDelivery<A>>> => {
        // Close first: a next() still waiting for a message then ends, instead of this waiting for it.
        const closing = this.close();
        await serially(() => finishCurrent(false));
        await closing;
        return { value: undefined, done: true };
      },
    };
  }

  /**
   * Stops taking messages and shuts down without losing any: grants no more credit, releases
   * what was buffered but not handed out, lets in-flight work finish and be settled (and the
   * strategy flush, e.g. a batch) until the deadline, then detaches and closes the connection.
   * Idempotent: a second call returns the same report.
   *
   * @returns counts of what became of every delivery; work still running at the deadline is
   * `unfinished` and left unsettled, so the broker delivers it again.
   *
   * @example
   * ```ts
   * process.once('SIGTERM', async () => {
   *   const report = await consumer.close({ deadlineMs: 20_000 });
   *   log.info(report, 'consumer closed');
   * });
   * ```
   */
  close(options: CloseOptions = {}): Promise<CloseReport> {
    if (this.#closing === undefined) {
      this.#closing = this.#close(options);
    } else if (this.#stopClosing !== undefined) {
      // Already closing: a later call may shorten the wait (a SIGTERM after an abort), never lengthen it.
      const stop = this.#stopClosing;
      if (options.signal?.aborted === true) stop();
      else options.signal?.addEventListener('abort', stop, { once: true });
      if (options.deadlineMs !== undefined) setTimeout(stop, options.deadlineMs).unref();
    }
    return this.#closing;
  }

  /** `await using consumer = new OutreachConsumer(…)` closes it with the default deadline. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** A snapshot for readiness probes: connected, credit, work in hand, last delivery, reconnects. */
  health(): ConsumerHealth {
    const link = this.#link;
    return {
      state: this.#state,
      connected: link?.alive ?? false,
      endpoint: link?.alive === true ? link.endpoint.label : undefined,
      credit: link?.outstandingCredit ?? 0,
      held: this.#held.size,
      inFlight: this.#active,
      buffered: this.#buffer.length,
      lastDeliveryAt: this.#lastDeliveryAt,
      reconnects: this.#reconnects,
      counts: { ...this.#counts },
    };
  }

  // ---- connection lifecycle -------------------------------------------------------------

  #ensureConnected(): Promise<void> {
    if (this.#state === 'closing' || this.#state === 'closed') {
      return Promise.reject(new OutreachError('CLOSED', 'the consumer is closed'));
    }
    if (this.#fatal !== undefined) return Promise.reject(this.#fatal);
    this.#connecting ??= this.#connectLoop(false);
    return this.#connecting;
  }

  /** Tries endpoints in turn with back-off until a link opens, the consumer closes, or a fatal error. */
  async #connectLoop(afterLoss: boolean): Promise<void> {
    this.#state = afterLoss ? 'reconnecting' : 'connecting';
    let failures = 0;
    for (;;) {
      if (this.#closingSignal.signal.aborted) throw new OutreachError('CLOSED', 'the consumer was closed while connecting');
      const endpoint = this.#endpoints[this.#endpointIndex % this.#endpoints.length]!;
      this.#endpointIndex++;
      if (afterLoss || failures > 0) {
        const delayMs = backoffDelay(failures, this.#reconnect);
        this.#fire('reconnecting', { endpoint: endpoint.label, attempt: failures + 1, delayMs });
        this.#logger.info({ endpoint: endpoint.label, attempt: failures + 1, delayMs }, 'reconnecting');
        await sleep(delayMs, this.#closingSignal.signal);
        if (this.#closingSignal.signal.aborted) throw new OutreachError('CLOSED', 'the consumer was closed while reconnecting');
      }
      const generation = ++this.#generation;
      try {
        const link = await AmqpLink.open(endpoint, this.#settings, {
          onMessage: (delivery, message) => this.#onMessage(generation, delivery, message),
          onDown: (error) => this.#onLinkDown(link, error),
          onDrained: (dry) => this.#onDrained(generation, dry),
        });
        if (this.#closingSignal.signal.aborted) {
          await link.close(2_000);
          throw new OutreachError('CLOSED', 'the consumer was closed while connecting');
        }
        this.#link = link;
        this.#state = 'open';
        if (afterLoss) this.#reconnects++;
        const info = { endpoint: endpoint.label, containerId: link.containerId };
        this.#logger.info(info, 'connected');
        this.#fire('connected', info);
        this.#topUpCredit();
        this.#maybeDrain();
        return;
      } catch (error) {
        let err = asOutreachError(error, 'connection');
        if (err.code === 'CLOSED') throw err;
        // close() began while this attempt was under way: closing wins over the attempt's failure.
        if (this.#closingSignal.signal.aborted) throw new OutreachError('CLOSED', 'the consumer was closed while connecting', { cause: err });
        failures++;
        if (err.retryable && failures >= this.#reconnect.maxAttempts) {
          // Out of attempts: the consumer stops, so the error it reports is no longer retryable.
          err = new OutreachError(err.code, `${err.message} (gave up after ${failures} attempts)`, { cause: err, retryable: false });
        }
        this.#reportError(err, 'connection', !err.retryable);
        if (!err.retryable) {
          this.#fail(err);
          throw err;
        }
      }
    }
  }

  #onLinkDown(link: AmqpLink, error: OutreachError | undefined): void {
    if (this.#link !== link) return;
    this.#link = undefined;
    const info = { endpoint: link.endpoint.label, containerId: link.containerId, error };
    this.#logger.warn({ endpoint: info.endpoint, containerId: info.containerId, code: error?.code }, 'disconnected');
    this.#fire('disconnected', info);
    this.#loseGeneration(this.#generation);
    if (this.#state === 'closing' || this.#state === 'closed' || this.#state === 'failed') return;
    if (error !== undefined) this.#reportError(error, 'connection', !error.retryable);
    if (error !== undefined && !error.retryable) {
      this.#fail(error);
      return;
    }
    this.#connecting = this.#connectLoop(true);
    this.#connecting.catch(() => undefined); // failures are reported as events and by #fail
  }

  /** Every delivery of a lost link: buffered ones are dropped (the broker redelivers), in-flight ones marked lost. */
  /**
   * @param countActive - whether deliveries still in user code count as `lost` (not at close():
   *   they are reported as `unfinished`)
   */
  #loseGeneration(generation: number, countActive = true): void {
    for (let i = this.#buffer.length - 1; i >= 0; i--) {
      const delivery = this.#buffer[i] as OutreachDelivery<unknown>;
      if (this.#held.get(delivery)?.generation === generation) {
        this.#buffer.splice(i, 1);
        delivery.markLost();
        this.#counts.lost++;
        this.#held.delete(delivery);
      }
    }
    for (const [delivery, held] of this.#held) {
      if (held.generation === generation && !delivery.settled) {
        delivery.markLost();
        if (countActive || !held.active) this.#counts.lost++;
        if (held.done) this.#held.delete(delivery);
      }
    }
    this.#notify();
  }

  #fail(error: OutreachError): void {
    if (this.#state === 'failed' || this.#state === 'closed' || this.#state === 'closing') return;
    this.#fatal = error;
    this.#state = 'failed';
    this.#closingSignal.abort();
    this.#stopWaiting.abort(); // retry delays end now: there is no link left to settle on
    this.#detachStartSignal?.();
    for (const delivery of this.#buffer.splice(0)) {
      delivery.markLost();
      this.#held.delete(delivery as OutreachDelivery<unknown>);
    }
    const link = this.#link;
    this.#link = undefined;
    void link?.close(2_000);
    this.#notify();
    this.#fire('closed', this.#report(0, false));
  }

  // ---- deliveries ----------------------------------------------------------------------

  #onMessage(generation: number, rheaDelivery: RheaDelivery, message: RheaMessage): void {
    this.#lastDeliveryAt = new Date();
    this.#sinceDrain++;
    if (this.#state === 'closing' || this.#state === 'closed' || this.#state === 'failed') {
      // Arrived after close() began (a transfer already under way, or a released message the
      // broker re-dispatched at once): leave it unsettled. ActiveMQ puts unsettled deliveries
      // back, count unchanged, when the link detaches. Releasing it here would only bounce it
      // back to this link again.
      return;
    }
    const decoded = decodeOutreach<A>(
      message.body,
      this.#options.codec === undefined
        ? { ...(this.#options.maxBodyBytes === undefined ? {} : { maxBytes: this.#options.maxBodyBytes }) }
        : { codec: this.#options.codec, ...(this.#options.maxBodyBytes === undefined ? {} : { maxBytes: this.#options.maxBodyBytes }) },
    );
    if (decoded._tag === 'Left') {
      const delivery = new OutreachDelivery<undefined>(undefined, message, rheaDelivery, this.#owner, generation);
      this.#held.set(delivery as OutreachDelivery<unknown>, { generation, active: true, done: false });
      // Hooks for invalid messages run beside the handler: they do not take its concurrency slots.
      this.#invalidActive++;
      void this.#handleInvalid(delivery, decoded.left).finally(() => {
        this.#invalidActive--;
        this.#workDone(delivery as OutreachDelivery<unknown>);
      });
      return;
    }
    const delivery = new OutreachDelivery<A>(decoded.right, message, rheaDelivery, this.#owner, generation);
    this.#held.set(delivery as OutreachDelivery<unknown>, { generation, active: false, done: false });
    try {
      this.#strategy.onReceive?.(delivery as OutreachDelivery<unknown>, this.#ackContext);
    } catch (error) {
      this.#reportError(asOutreachError(error, 'settle'), 'settle');
    }
    this.#buffer.push(delivery);
    this.#notify();
    this.#pump();
  }

  async #handleInvalid(delivery: OutreachDelivery<undefined>, error: OutreachDecodeError): Promise<void> {
    this.#counts.invalid++;
    const invalid: InvalidMessage = {
      body: delivery.body,
      error,
      messageId: delivery.messageId,
      deliveryCount: delivery.deliveryCount,
      applicationProperties: delivery.applicationProperties,
      subject: delivery.subject,
      receivedAt: delivery.receivedAt,
    };
    this.#reportError(error, 'decode');
    const hadListener = this.#fire('invalid', invalid);
    const d = delivery as OutreachDelivery<unknown>;
    try {
      await this.#options.onInvalid?.(invalid);
    } catch (hookError) {
      this.#reportError(new OutreachError('HANDLER_FAILED', `onInvalid threw for message ${String(delivery.messageId)}`, { cause: hookError }), 'handler');
      if (!d.settled) {
        if (delivery.deliveryCount + 1 < INVALID_HOOK_ATTEMPTS) d.retry();
        else d.reject('undecodable message; onInvalid kept failing');
      }
      return;
    }
    if (!hadListener && this.#options.onInvalid === undefined) {
      this.#logger.warn({ messageId: delivery.messageId, kind: error.kind, issues: error.issues }, 'undecodable message');
    }
    if (!d.settled) {
      if ((this.#options.invalidPolicy ?? 'reject') === 'accept') d.accept();
      else d.reject(`undecodable message: ${error.kind}`);
    }
  }

  /** Hands buffered deliveries to the handler, up to `concurrency` at once. */
  #pump(): void {
    const handler = this.#handler;
    if (handler === undefined) return;
    while (this.#active < this.#concurrency && this.#buffer.length > 0 && this.#state !== 'closing' && this.#state !== 'closed') {
      const delivery = this.#buffer.shift()!;
      this.#active++;
      this.#held.get(delivery as OutreachDelivery<unknown>)!.active = true;
      void this.#run(handler, delivery);
    }
  }

  async #run(handler: OutreachHandler<A>, delivery: OutreachDelivery<A>): Promise<void> {
    const d = delivery as OutreachDelivery<unknown>;
    try {
      let failed = false;
      let failure: unknown;
      try {
        await handler(delivery);
      } catch (error) {
        failed = true;
        failure = error;
      }
      if (failed) {
        d.lastError = failure;
        this.#reportError(
          new OutreachError('HANDLER_FAILED', `handler threw for delivery ${String(delivery.messageId)} (attempt ${delivery.deliveryCount + 1})`, {
            cause: failure,
          }),
          'handler',
        );
        await this.#strategy.onFailure(d, failure, this.#ackContext);
      } else {
        await this.#strategy.onSuccess(d, this.#ackContext);
      }
    } catch (error) {
      this.#reportError(asOutreachError(error, 'settle'), 'settle');
      this.#settleAfterStrategyError(d);
    } finally {
      this.#active--;
      this.#workDone(d);
      this.#pump();
    }
  }

  /**
   * A strategy threw and left the delivery unsettled: hand it back counted (`retry`), so it
   * neither holds its prefetch slot forever nor loops uncounted.
   */
  #settleAfterStrategyError(delivery: OutreachDelivery<unknown>): void {
    if (delivery.settled || delivery.outcome === 'lost') return;
    try {
      delivery.retry();
    } catch {
      // settled meanwhile
    }
  }

  /** User code is finished with a delivery; forget it once it is also settled. */
  #workDone(delivery: OutreachDelivery<unknown>): void {
    const held = this.#held.get(delivery);
    if (held === undefined) return;
    held.active = false;
    held.done = true;
    if (delivery.outcome !== undefined) this.#forget(delivery);
    this.#notify();
  }

  #forget(delivery: OutreachDelivery<unknown>): void {
    if (this.#held.delete(delivery)) {
      this.#topUpCredit();
      this.#maybeDrain();
    }
    this.#notify();
  }

  /**
   * When nothing is held, asks the broker whether it has anything left (AMQP drain), once per
   * run of messages: its answer without a message in between means the queue has run dry.
   */
  #maybeDrain(): void {
    const link = this.#link;
    if (link === undefined || !link.alive || link.draining || this.#state !== 'open') return;
    if (this.#held.size > 0 || this.#buffer.length > 0 || link.outstandingCredit === 0) return;
    if (this.#sinceDrain === 0 && this.#drainedOnLink === link) return;
    this.#sinceDrain = 0;
    link.drain();
  }

  #onDrained(generation: number, answered: boolean): void {
    const link = this.#link;
    if (link === undefined || generation !== this.#generation) return;
    const dry = answered && this.#sinceDrain === 0 && this.#held.size === 0;
    if (dry) {
      this.#drainedOnLink = link;
      this.#logger.debug({ endpoint: link.endpoint.label }, 'queue drained');
      this.#fire('drained');
    }
    this.#topUpCredit();
    // Messages that came during the drain may all be done already (no later settlement would
    // ask again): ask again now if so.
    this.#maybeDrain();
  }

  /** Grants credit so that held + outstanding credit = prefetch. */
  #topUpCredit(): void {
    const link = this.#link;
    if (link === undefined || !link.alive || link.draining || this.#state !== 'open') return;
    const free = this.#prefetch - this.#held.size - link.outstandingCredit;
    // Grant in steps, not one flow frame per message, unless the broker has no credit at all.
    const step = Math.max(1, Math.ceil(this.#prefetch / 10));
    if (free >= step || (free > 0 && link.outstandingCredit === 0)) link.addCredit(free);
  }

  readonly #owner: DeliveryOwner = {
    isAlive: (generation) => this.#link !== undefined && this.#link.alive && generation === this.#generation,
    settle: (delivery, outcome, sent) => this.#onSettled(delivery, outcome, sent),
  };

  #onSettled(delivery: OutreachDelivery<unknown>, requested: SettleOutcome, sent: boolean): void {
    const fields = { messageId: delivery.messageId, deliveryCount: delivery.deliveryCount };
    if (!sent) {
      this.#reportError(
        new OutreachError(
          'DELIVERY_LOST',
          `delivery ${String(delivery.messageId)} could not be ${requested}: its connection was lost; the broker will deliver it again`,
          { retryable: true },
        ),
        'settle',
      );
    } else {
      this.#counts[requested as Exclude<SettleOutcome, 'lost'>]++;
      if (requested === 'retried' || requested === 'rejected') this.#logger.warn({ ...fields, outcome: requested }, 'delivery not accepted');
      else this.#logger.debug({ ...fields, outcome: requested }, 'settled');
    }
    this.#fire('settled', delivery, sent ? requested : 'lost');
    // A delivery settled before user code is done with it (at-most-once) keeps its slot until then.
    if (this.#held.get(delivery)?.done === true) this.#forget(delivery);
  }

  // ---- shutdown ------------------------------------------------------------------------

  async #close(options: CloseOptions): Promise<CloseReport> {
    if (this.#state === 'failed') return this.#report(0, false);
    const wasIdle = this.#state === 'idle';
    this.#state = 'closing';
    this.#closingSignal.abort();
    this.#notify();
    if (wasIdle) return this.#finishClose(0, false);

    // Buffered but never handed out: straight back to the queue.
    for (const delivery of this.#buffer.splice(0)) {
      const d = delivery as OutreachDelivery<unknown>;
      if (!d.settled) d.release();
      this.#workDone(d);
    }

    const deadlineMs = options.deadlineMs ?? 30_000;
    let timedOut = false;
    const stop = (): void => {
      timedOut = true;
      this.#stopWaiting.abort();
      this.#notify();
    };
    this.#stopClosing = stop;
    const timer = setTimeout(stop, deadlineMs);
    if (options.signal?.aborted === true) stop();
    options.signal?.addEventListener('abort', stop, { once: true });
    try {
      while (this.#active + this.#invalidActive > 0 && !timedOut) await this.#waitForChange();
      if (!timedOut && this.#strategy.flush !== undefined) {
        const flush = this.#strategy.flush.bind(this.#strategy);
        try {
          await Promise.race([Promise.resolve().then(() => flush(this.#ackContext)), waitAbort(this.#stopWaiting.signal)]);
        } catch (error) {
          // A strategy that cannot flush must not keep the consumer from closing: what it held
          // stays unsettled and goes back to the queue when the link detaches.
          this.#reportError(asOutreachError(error, 'settle'), 'settle');
        }
      }
      // Done but unsettled (manual strategy): wait for the user until the deadline.
      while (!timedOut && [...this.#held].some(([d, h]) => h.done && d.outcome === undefined)) {
        await this.#waitForChange();
      }
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', stop);
      this.#stopClosing = undefined;
    }
    let unfinished = 0;
    for (const [delivery, held] of this.#held) {
      if (delivery.outcome !== undefined) continue;
      if (held.active) unfinished++;
      else if (!delivery.settled) delivery.release();
    }
    return this.#finishClose(unfinished, timedOut);
  }

  async #finishClose(unfinished: number, timedOut: boolean): Promise<CloseReport> {
    const link = this.#link;
    this.#link = undefined;
    if (link !== undefined) await link.close(5_000);
    this.#loseGeneration(this.#generation, false);
    this.#detachStartSignal?.();
    this.#state = 'closed';
    this.#notify();
    const report = this.#report(unfinished, timedOut);
    this.#logger.info(report, 'closed');
    this.#fire('closed', report);
    return report;
  }

  #report(unfinished: number, timedOut: boolean): CloseReport {
    const counts: SettleCounts = { ...this.#counts };
    return { ...counts, unfinished, timedOut };
  }

  // ---- plumbing ------------------------------------------------------------------------

  #reportError(error: OutreachError, source: ErrorSource, fatal = false): void {
    const had = this.#fire('error', error, source);
    if (!had) {
      const fields = { code: error.code, source, retryable: error.retryable };
      if (fatal) this.#logger.error(fields, error.message);
      else this.#logger.warn(fields, error.message);
    }
  }

  /**
   * Emits an event without letting a throwing listener into the consumer's own bookkeeping (or
   * out as an unhandled rejection, which would end the process): the listener's error is logged.
   */
  #fire<E extends keyof OutreachConsumerEvents>(event: E, ...args: EventEmitter.ArgumentMap<OutreachConsumerEvents>[Extract<E, keyof OutreachConsumerEvents>]): boolean {
    try {
      return this.emit(event, ...args);
    } catch (listenerError) {
      this.#logger.error({ event, error: listenerError instanceof Error ? listenerError.name : typeof listenerError }, 'an event listener threw; ignored');
      return true;
    }
  }

  #waitForChange(): Promise<void> {
    return new Promise((resolve) => this.#wake.push(resolve));
  }

  #notify(): void {
    const waiting = this.#wake;
    this.#wake = [];
    for (const wake of waiting) wake();
  }
}

function asOutreachError(error: unknown, source: ErrorSource): OutreachError {
  if (error instanceof OutreachError) return error;
  return new OutreachError(source === 'connection' ? 'CONNECTION_FAILED' : 'HANDLER_FAILED', `${source}: ${(error as Error | undefined)?.message ?? String(error)}`, {
    cause: error,
    retryable: source === 'connection',
  });
}

function waitAbort(signal: AbortSignal): Promise<void> {
  return signal.aborted ? Promise.resolve() : new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}
