import { setMaxListeners } from 'node:events';
import { EventEmitter } from 'eventemitter3';
import type { Delivery as RheaDelivery, Message as RheaMessage } from 'rhea';
import { defaultRetryDelayMs, sleep } from '../ack/retry-policy.js';
import type { AckContext } from '../ack/strategy.js';
import type { AmqpLink } from '../connection/amqp-link.js';
import { ConnectionSupervisor } from '../connection/supervisor.js';
import { OutreachError } from '../errors/outreach-error.js';
import { decodeOutreach } from '../message/decode.js';
import type { OutreachDecodeError } from '../message/decode-error.js';
import type { Outreach } from '../message/outreach.js';
import { CreditGate } from './credit-gate.js';
import { OutreachDelivery, type DeliveryOwner, type SettleOutcome } from './delivery.js';
import { DeliveryIterator } from './delivery-iterator.js';
import type { ConnectionInfo, DisconnectInfo, ErrorSource, OutreachConsumerEvents } from './events.js';
import { InFlightTable } from './in-flight.js';
import type {
  CloseOptions,
  CloseReport,
  ConsumerHealth,
  ConsumerState,
  InvalidMessage,
  OutreachConsumerOptions,
  StartOptions,
} from './options.js';
import { OutageDetector, type OutageInfo } from './outage.js';
import {
  DEFAULT_CLOSE_DEADLINE_MS,
  FAILED_LINK_CLOSE_TIMEOUT_MS,
  INVALID_HOOK_ATTEMPTS,
  LINK_CLOSE_TIMEOUT_MS,
  LOGGED_ISSUES,
  resolveSettings,
  type ConsumerSettings,
} from './settings.js';

/** Your code for one delivery, in the event API. */
export type OutreachHandler<A> = (delivery: OutreachDelivery<A>) => void | Promise<void>;

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
 * handler. When your sink is down (several different messages fail in a row), the consumer
 * pauses and probes instead of dead-lettering (the `outage` and `recovered` events). See
 * `docs/delivery-guarantees.md` for what each strategy does on the wire.
 *
 * The engine behind this class is split by job: a connection supervisor (reconnects, failover),
 * a credit gate (every credit decision: grants, drain, pause, outage probes), an in-flight table
 * (held deliveries, their phase, the counts), an outage detector, and the delivery iterator.
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
 *   await crm.upsert(delivery.outreach); // accepted when the loop moves on; handed back if it throws
 * }
 * ```
 */
export class OutreachConsumer<A = Outreach> extends EventEmitter<OutreachConsumerEvents> implements AsyncIterable<OutreachDelivery<A>> {
  readonly #settings: ConsumerSettings<A>;
  readonly #supervisor: ConnectionSupervisor;
  readonly #gate: CreditGate;
  readonly #table: InFlightTable<A>;
  readonly #detector: OutageDetector | undefined;
  readonly #ackContext: AckContext<A>;
  /** Fires when close() stops waiting for work (its deadline or signal), or the consumer fails. */
  readonly #stopWaiting = new AbortController();
  /** Ends retry waits: replaced after each outage hand-back; aborted for good when closing. */
  #wakeWaits = new AbortController();

  #state: ConsumerState = 'idle';
  #fatal: OutreachError | undefined;
  #closing: Promise<CloseReport> | undefined;
  #lastDeliveryAt: Date | undefined;
  #handler: OutreachHandler<A> | undefined;
  #concurrency = 1;
  #iterating = false;
  #paused = false;
  /** Removes the listener start() put on its signal. */
  #detachStartSignal: (() => void) | undefined;
  /** Ends close()'s wait at once (set while close() waits). */
  #stopClosing: (() => void) | undefined;
  /** Probes of the current outage round not yet settled. */
  readonly #probes = new Set<OutreachDelivery<unknown>>();
  #probeTimer: ReturnType<typeof setTimeout> | undefined;
  #nextProbeAt: Date | undefined;

  /**
   * Checks the options; connects only when you iterate or call {@link OutreachConsumer.start}.
   * @throws {@link OutreachError} `INVALID_ARGUMENT` (naming the option) or `INSECURE_URL` for
   *   options that cannot work
   */
  constructor(options: OutreachConsumerOptions<A>) {
    super();
    const settings = resolveSettings(options);
    this.#settings = settings;
    this.#table = new InFlightTable<A>(() => {
      this.#gate.topUp();
      this.#gate.maybeDrain();
    });
    // Failed deliveries waiting to be retried take no prefetch slot, up to maxWaitingRetries.
    const holding = (): number => this.#table.size - Math.min(this.#table.failed, settings.maxWaitingRetries);
    this.#gate = new CreditGate(settings.prefetch, holding, () => this.#table.size, () => {
      settings.logger.debug({}, 'queue drained');
      this.#fire('drained');
    });
    this.#detector = settings.outage === undefined ? undefined : new OutageDetector(settings.outage);
    this.#supervisor = new ConnectionSupervisor(settings.endpoints, settings.link, settings.reconnect, settings.logger, {
      message: (generation, delivery, message) => this.#onMessage(generation, delivery, message),
      drained: (link, answered) => this.#gate.onDrained(link, answered),
      open: (link, info, afterLoss) => this.#onOpen(link, info, afterLoss),
      down: (generation, info) => this.#onDown(generation, info),
      reconnecting: (info) => this.#fire('reconnecting', info),
      error: (error, fatal) => this.#reportError(error, 'connection', fatal),
      fatal: (error) => this.#fail(error),
    });
    // Each delivery waiting out a retry delay listens on these signals.
    setMaxListeners(this.#listenerLimit, this.#stopWaiting.signal);
    setMaxListeners(this.#listenerLimit, this.#wakeWaits.signal);
    this.#ackContext = {
      signal: this.#stopWaiting.signal,
      prefetch: settings.prefetch,
      logger: settings.logger,
      reportError: (error, source) => this.#reportError(error, source),
      wait: (ms) => sleep(ms, this.#wakeWaits.signal),
      noteFailure: (delivery, error) => this.#noteFailure(delivery, error, true),
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
    if (typeof handler !== 'function') throw new OutreachError('INVALID_ARGUMENT', 'start: handler must be a function');
    const concurrency = options.concurrency ?? 1;
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > this.#settings.prefetch) {
      throw new OutreachError('INVALID_ARGUMENT', `concurrency must be an integer from 1 to prefetch (${this.#settings.prefetch})`);
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
   * To report a failure without ending the loop, catch it and call `delivery.retry(error)`: the
   * failure counts towards outage detection like a handler's (see `docs/delivery-guarantees.md`).
   * The loop ends when the consumer is closed; it throws the fatal error if the consumer fails.
   * @throws {@link OutreachError} `ITERATOR_IN_USE` for a second iterator
   */
  [Symbol.asyncIterator](): AsyncIterator<OutreachDelivery<A>> {
    if (this.#iterating || this.#handler !== undefined) {
      throw new OutreachError('ITERATOR_IN_USE', 'this consumer is already consuming (start() or an iterator)');
    }
    this.#iterating = true;
    return new DeliveryIterator<A>({
      start: () => this.#ensureConnected(),
      take: () => this.#table.take(),
      fatal: () => this.#fatal,
      ended: () => this.#ending,
      changed: () => this.#table.changed(),
      finish: (delivery, success) => this.#finishIteration(delivery, success),
      close: () => this.close(),
    });
  }

  /**
   * Stops taking messages, e.g. while your CRM answers with a rate limit: no credit is granted,
   * the credit the broker holds is taken back (AMQP drain), messages not yet handed to your code go
   * back to the queue unchanged, and work in hand finishes and is settled as usual. Idempotent.
   * Outage probes wait too. See {@link OutreachConsumer.resume}.
   *
   * @example
   * ```ts
   * consumer.pause();
   * setTimeout(() => consumer.resume(), retryAfterMs);
   * ```
   */
  pause(): void {
    if (this.#paused || this.#ending) return;
    this.#paused = true;
    this.#gate.setPaused(true);
    this.#handBackBuffered();
    this.#settings.logger.info({}, 'paused');
  }

  /** Takes messages again after {@link OutreachConsumer.pause} (an outage, if any, goes on probing). Idempotent. */
  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#settings.logger.info({}, 'resumed');
    if (!this.#ending) this.#gate.setPaused(false);
  }

  /**
   * Stops taking messages and shuts down without losing any: grants no more credit, releases
   * what was buffered but not handed out, lets in-flight work finish and be settled (and the
   * strategy flush, e.g. a batch) until the deadline, then detaches and closes the connection.
   * Retry delays under way end at once (the delivery is retried, counted). Idempotent: a second
   * call returns the same report.
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

  /** A snapshot for readiness probes: connected, credit, work in hand, last delivery, reconnects, pause and outage. */
  health(): ConsumerHealth {
    const link = this.#supervisor.link;
    const detector = this.#detector;
    return {
      state: this.#state,
      connected: link?.alive ?? false,
      endpoint: link?.alive === true ? link.endpoint.label : undefined,
      credit: this.#gate.credit,
      held: this.#table.size,
      inFlight: this.#table.inHandler,
      buffered: this.#table.buffered,
      waitingRetries: this.#table.failed,
      lastDeliveryAt: this.#lastDeliveryAt,
      reconnects: this.#supervisor.reconnects,
      counts: { ...this.#table.counts },
      paused: this.#paused,
      outage:
        detector?.active === true
          ? { since: detector.since!, failedProbes: detector.failedProbes, nextProbeAt: this.#nextProbeAt }
          : undefined,
    };
  }

  // ---- connection ----------------------------------------------------------------------

  /** Deliveries that may wait on a signal at once: all that can be held, and a margin. */
  get #listenerLimit(): number {
    return this.#settings.prefetch + this.#settings.maxWaitingRetries + 16;
  }

  get #ending(): boolean {
    return this.#state === 'closing' || this.#state === 'closed' || this.#state === 'failed';
  }

  #ensureConnected(): Promise<void> {
    if (this.#state === 'closing' || this.#state === 'closed') {
      return Promise.reject(new OutreachError('CLOSED', 'the consumer is closed'));
    }
    if (this.#fatal !== undefined) return Promise.reject(this.#fatal);
    if (this.#state === 'idle') this.#state = 'connecting';
    return this.#supervisor.start();
  }

  #onOpen(link: AmqpLink, info: ConnectionInfo, afterLoss: boolean): void {
    this.#state = 'open';
    this.#fire('connected', info);
    if (this.#detector?.active === true) {
      // Probes of the lost link went with it: probe again on this one.
      this.#probes.clear();
      this.#gate.openProbe(0);
      this.#scheduleProbe();
    }
    this.#gate.attach(link);
    if (afterLoss) this.#pump();
  }

  #onDown(generation: number, info: DisconnectInfo): void {
    this.#gate.detach();
    this.#fire('disconnected', info);
    this.#table.loseGeneration(generation);
    if (!this.#ending) this.#state = 'reconnecting';
  }

  #fail(error: OutreachError): void {
    if (this.#ending) return;
    this.#fatal = error;
    this.#state = 'failed';
    this.#endWaits();
    this.#stopWaiting.abort(); // there is no link left to settle on
    this.#detachStartSignal?.();
    this.#table.dropBuffered();
    void this.#supervisor.takeLink()?.close(FAILED_LINK_CLOSE_TIMEOUT_MS);
    this.#table.notify();
    this.#fire('closed', this.#report(0, false));
  }

  // ---- deliveries ----------------------------------------------------------------------

  #onMessage(generation: number, rheaDelivery: RheaDelivery, message: RheaMessage): void {
    this.#lastDeliveryAt = new Date();
    if (this.#ending) {
      // Arrived after close() began (a transfer already under way, or a released message the
      // broker re-dispatched at once): leave it unsettled. ActiveMQ puts unsettled deliveries
      // back, count unchanged, when the link detaches. Releasing it here would only bounce it
      // back to this link again.
      return;
    }
    const { admit, probe } = this.#gate.admit();
    if (!admit) {
      // Paused, or an outage and not a probe: straight back, unchanged and undecoded. Each such
      // message used up credit the gate no longer renews, so this cannot loop.
      new OutreachDelivery<undefined>(undefined, message, rheaDelivery, this.#owner, generation).release();
      return;
    }
    const decoded = decodeOutreach<A>(message.body, this.#settings.decode);
    if (decoded._tag === 'Left') {
      const delivery = new OutreachDelivery<undefined>(undefined, message, rheaDelivery, this.#owner, generation);
      if (probe) this.#probes.add(delivery);
      // Hooks for invalid messages run beside the handler: they do not take its concurrency slots.
      this.#table.addInvalid(delivery, generation, probe);
      void this.#handleInvalid(delivery, decoded.left).finally(() => this.#table.finish(delivery));
      return;
    }
    const delivery = new OutreachDelivery<A>(decoded.right, message, rheaDelivery, this.#owner, generation);
    if (probe) this.#probes.add(delivery);
    try {
      this.#settings.strategy.onReceive?.(delivery, this.#ackContext);
    } catch (error) {
      this.#reportError(asHandlerError(error), 'settle');
    }
    this.#table.addBuffered(delivery, generation, probe);
    this.#pump();
  }

  async #handleInvalid(delivery: OutreachDelivery<undefined>, error: OutreachDecodeError): Promise<void> {
    this.#table.counts.invalid++;
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
    const d = delivery;
    const hook = this.#settings.onInvalid;
    try {
      await hook?.(invalid);
    } catch (hookError) {
      this.#reportError(new OutreachError('HANDLER_FAILED', `onInvalid threw for message ${String(delivery.messageId)}`, { cause: hookError }), 'handler');
      if (d.settled || d.outcome !== undefined) return;
      // A quarantine store that is down is a sink outage like any other.
      if (this.#noteFailure(d, hookError, true)) return;
      const attempt = delivery.deliveryCount + 1;
      if (attempt < INVALID_HOOK_ATTEMPTS) {
        this.#table.setPhase(d, 'failed');
        this.#gate.topUp();
        await sleep(defaultRetryDelayMs(attempt), this.#wakeWaits.signal);
        if (!d.settled) d.retry(hookError);
      } else {
        d.reject('undecodable message; onInvalid kept failing');
      }
      return;
    }
    if (!hadListener && hook === undefined) {
      // Bounded: a hostile message can carry many issues; the error keeps them, the log a few.
      this.#settings.logger.warn(
        { messageId: delivery.messageId, kind: error.kind, issues: error.issues.slice(0, LOGGED_ISSUES), issueCount: error.issues.length },
        'undecodable message',
      );
    }
    if (!d.settled) {
      if (this.#settings.invalidPolicy === 'accept') d.accept();
      else d.reject(`undecodable message: ${error.kind}`);
    }
  }

  /** Hands buffered deliveries to the handler, up to `concurrency` at once. */
  #pump(): void {
    const handler = this.#handler;
    if (handler === undefined) return;
    while (this.#table.inHandler < this.#concurrency && this.#table.buffered > 0 && !this.#ending) {
      void this.#run(handler, this.#table.take()!);
    }
  }

  async #run(handler: OutreachHandler<A>, delivery: OutreachDelivery<A>): Promise<void> {
    const d = delivery;
    let failure: { error: unknown } | undefined;
    try {
      await handler(delivery);
    } catch (error) {
      failure = { error };
    }
    try {
      if (failure === undefined) {
        await this.#settings.strategy.onSuccess(delivery, this.#ackContext);
      } else {
        d.lastError = failure.error;
        this.#reportError(
          new OutreachError('HANDLER_FAILED', `handler threw for delivery ${String(delivery.messageId)} (attempt ${delivery.deliveryCount + 1})`, {
            cause: failure.error,
          }),
          'handler',
        );
        if (!this.#noteFailure(d, failure.error, true)) {
          // The strategy decides outside the handler slot: a retry delay holds the delivery's
          // prefetch slot only, and other deliveries keep flowing.
          this.#table.setPhase(d, 'failed');
          this.#gate.topUp();
          this.#pump();
          await this.#settings.strategy.onFailure(delivery, failure.error, this.#ackContext);
        }
      }
    } catch (error) {
      this.#reportError(asHandlerError(error), 'settle');
      this.#settleAfterStrategyError(d);
    } finally {
      this.#table.finish(d);
      this.#pump();
    }
  }

  async #finishIteration(delivery: OutreachDelivery<A>, success: boolean): Promise<void> {
    const d = delivery;
    try {
      if (success) await this.#settings.strategy.onSuccess(delivery, this.#ackContext);
      // break or a throw in the loop body: whether the work was done is unknown; hand it back.
      // (Counting it with retry() would not help: the broker re-dispatches it to this closing
      // link at once and, when the link detaches, rolls the count back. Measured.)
      else if (!d.settled && d.outcome === undefined) d.release();
    } catch (error) {
      this.#reportError(asHandlerError(error), 'settle');
      this.#settleAfterStrategyError(d);
    } finally {
      this.#table.finish(d);
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

  // ---- outages -------------------------------------------------------------------------

  /**
   * Tells the detector of a failure (once per delivery). Returns whether an outage is under way;
   * if so and `handBack`, the delivery is handed back (released, attempts not spent).
   */
  #noteFailure(delivery: OutreachDelivery<unknown>, error: unknown, handBack: boolean): boolean {
    const detector = this.#detector;
    if (detector === undefined) return false;
    let outage = detector.active;
    if (this.#table.noteFailureOnce(delivery)) {
      const { verdict, began } = detector.failure(delivery.messageId ?? delivery, delivery.deliveryCount, error);
      outage = verdict === 'outage';
      if (began !== undefined) this.#beginOutage(began, delivery);
    }
    if (outage && handBack && !delivery.settled && delivery.outcome === undefined) delivery.release();
    return outage;
  }

  #beginOutage(info: OutageInfo, except: OutreachDelivery<unknown>): void {
    this.#settings.logger.warn({ reason: info.reason, failures: info.failures }, 'sink outage: pausing; held messages handed back');
    this.#gate.beginOutage();
    this.#probes.clear();
    this.#fire('outage', info);
    // Hand back what waits (buffered, or failed and waiting to be retried): attempts not spent.
    this.#handBackBuffered();
    for (const d of this.#table.inPhase('failed')) {
      if (d !== except && !d.settled && d.outcome === undefined) d.release();
    }
    this.#wakeWaiting();
    this.#scheduleProbe();
  }

  #scheduleProbe(): void {
    const detector = this.#detector;
    if (detector === undefined) return;
    clearTimeout(this.#probeTimer);
    const delayMs = detector.nextProbeDelayMs();
    this.#nextProbeAt = new Date(Date.now() + delayMs);
    this.#probeTimer = setTimeout(() => {
      this.#probeTimer = undefined;
      this.#nextProbeAt = undefined;
      if (!detector.active || this.#ending) return;
      const size = detector.probeSize(this.#settings.prefetch);
      this.#settings.logger.info({ size, failedProbes: detector.failedProbes }, 'outage: probing');
      this.#gate.openProbe(size);
    }, delayMs);
  }

  /** A probe was settled other than accepted (or lost): when the round is over, probe again later. */
  #probeEnded(delivery: OutreachDelivery<unknown>): void {
    if (!this.#probes.delete(delivery) || this.#probes.size > 0) return;
    const detector = this.#detector;
    if (detector?.active !== true || this.#ending || this.#probeTimer !== undefined) return;
    detector.probeFailed();
    this.#gate.openProbe(0);
    this.#scheduleProbe();
  }

  #recovered(): void {
    const info = this.#detector?.success();
    if (info === undefined) return;
    clearTimeout(this.#probeTimer);
    this.#probeTimer = undefined;
    this.#nextProbeAt = undefined;
    this.#probes.clear();
    this.#settings.logger.info({ durationMs: info.durationMs, failedProbes: info.failedProbes }, 'sink recovered: resuming');
    this.#gate.endOutage();
    this.#fire('recovered', info);
  }

  #handBackBuffered(): void {
    for (const delivery of this.#table.takeBuffered()) {
      const d = delivery;
      if (!d.settled && d.outcome === undefined) d.release();
      this.#table.finish(d);
    }
  }

  /** Ends every retry wait now; later waits get a fresh signal. */
  #wakeWaiting(): void {
    this.#wakeWaits.abort();
    if (this.#ending) return;
    this.#wakeWaits = new AbortController();
    setMaxListeners(this.#listenerLimit, this.#wakeWaits.signal);
  }

  /** Closing or failed: end retry waits and outage probing for good. */
  #endWaits(): void {
    this.#supervisor.stop();
    this.#gate.close();
    clearTimeout(this.#probeTimer);
    this.#probeTimer = undefined;
    this.#nextProbeAt = undefined;
    this.#wakeWaits.abort();
  }

  // ---- settlement ----------------------------------------------------------------------

  readonly #owner: DeliveryOwner = {
    isAlive: (generation) => this.#supervisor.isCurrent(generation),
    outcomeFor: (delivery, requested, cause) =>
      // A retry during an outage is a hand-back: the sink is down, not the message.
      requested === 'retried' && this.#noteFailure(delivery, cause, false) ? 'released' : requested,
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
      this.#table.counts[requested as Exclude<SettleOutcome, 'lost'>]++;
      if (requested === 'retried' || requested === 'rejected') this.#settings.logger.warn({ ...fields, outcome: requested }, 'delivery not accepted');
      else this.#settings.logger.debug({ ...fields, outcome: requested }, 'settled');
    }
    this.#fire('settled', delivery, sent ? requested : 'lost');
    if (sent && requested === 'accepted') this.#recovered();
    else if (this.#probes.has(delivery)) this.#probeEnded(delivery);
    // A delivery settled before user code is done with it (at-most-once) keeps its slot until then.
    this.#table.settled(delivery);
  }

  // ---- shutdown ------------------------------------------------------------------------

  async #close(options: CloseOptions): Promise<CloseReport> {
    if (this.#state === 'failed') return this.#report(0, false);
    const wasIdle = this.#state === 'idle';
    this.#state = 'closing';
    this.#endWaits();
    this.#table.notify();
    if (wasIdle) return this.#finishClose(0, false);

    // Buffered but never handed out: straight back to the queue.
    this.#handBackBuffered();

    const deadlineMs = options.deadlineMs ?? DEFAULT_CLOSE_DEADLINE_MS;
    let timedOut = false;
    const stop = (): void => {
      timedOut = true;
      this.#stopWaiting.abort();
      this.#table.notify();
    };
    this.#stopClosing = stop;
    const timer = setTimeout(stop, deadlineMs);
    if (options.signal?.aborted === true) stop();
    options.signal?.addEventListener('abort', stop, { once: true });
    try {
      while (this.#table.inPhase('handler', 'invalid', 'failed').length > 0 && !timedOut) await this.#table.changed();
      const flush = this.#settings.strategy.flush;
      if (!timedOut && flush !== undefined) {
        try {
          await Promise.race([Promise.resolve().then(() => flush.call(this.#settings.strategy, this.#ackContext)), waitAbort(this.#stopWaiting.signal)]);
        } catch (error) {
          // A strategy that cannot flush must not keep the consumer from closing: what it held
          // stays unsettled and goes back to the queue when the link detaches.
          this.#reportError(asHandlerError(error), 'settle');
        }
      }
      // Done but unsettled (manual strategy): wait for the user until the deadline.
      while (!timedOut && this.#table.inPhase('done').some((d) => d.outcome === undefined)) await this.#table.changed();
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', stop);
      this.#stopClosing = undefined;
    }
    let unfinished = 0;
    for (const delivery of this.#table.inPhase('buffered', 'handler', 'invalid', 'failed', 'done')) {
      if (delivery.outcome !== undefined) continue;
      if (this.#table.phaseOf(delivery) !== 'done') unfinished++;
      else if (!delivery.settled) delivery.release();
    }
    return this.#finishClose(unfinished, timedOut);
  }

  async #finishClose(unfinished: number, timedOut: boolean): Promise<CloseReport> {
    const link = this.#supervisor.takeLink();
    if (link !== undefined) await link.close(LINK_CLOSE_TIMEOUT_MS);
    this.#gate.detach();
    this.#table.loseGeneration(this.#supervisor.generation, false);
    this.#detachStartSignal?.();
    this.#state = 'closed';
    this.#table.notify();
    const report = this.#report(unfinished, timedOut);
    this.#settings.logger.info(report, 'closed');
    this.#fire('closed', report);
    return report;
  }

  #report(unfinished: number, timedOut: boolean): CloseReport {
    return { ...this.#table.counts, unfinished, timedOut };
  }

  // ---- plumbing ------------------------------------------------------------------------

  #reportError(error: OutreachError, source: ErrorSource, fatal = false): void {
    const had = this.#fire('error', error, source);
    if (!had) {
      const fields = { code: error.code, source, retryable: error.retryable };
      if (fatal) this.#settings.logger.error(fields, error.message);
      else this.#settings.logger.warn(fields, error.message);
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
      this.#settings.logger.error({ event, error: listenerError instanceof Error ? listenerError.name : typeof listenerError }, 'an event listener threw; ignored');
      return true;
    }
  }
}

function asHandlerError(error: unknown): OutreachError {
  if (error instanceof OutreachError) return error;
  return new OutreachError('HANDLER_FAILED', `settle: ${(error as Error | undefined)?.message ?? String(error)}`, { cause: error });
}

function waitAbort(signal: AbortSignal): Promise<void> {
  return signal.aborted ? Promise.resolve() : new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}
