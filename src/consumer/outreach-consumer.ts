import { setMaxListeners } from 'node:events';
import '../async-dispose.js'; // for its types only: [Symbol.asyncDispose] without lib esnext or @types/node
import { EventEmitter } from 'eventemitter3';
import { sleep } from '../timers.js';
import type { AckContext } from '../ack/strategy.js';
import { ConnectionSupervisor } from '../connection/supervisor.js';
import type { Arrival, InboundLink, LinkSource, LinkSourceEvents } from '../connection/transport.js';
import { JournalSource } from '../journal/journal-source.js';
import { OutreachError } from '../errors/outreach-error.js';
import type { Outreach } from '../message/outreach.js';
import { CreditGate } from './credit-gate.js';
import type { OutreachDelivery } from '../delivery/delivery.js';
import { DeliveryIterator } from './delivery-iterator.js';
import { Dispatcher, type OutreachHandler } from './dispatcher.js';
import type { ErrorSource, OutreachConsumerEvents } from './events.js';
import { InFlightTable } from './in-flight.js';
import type { CloseOptions, CloseReport, ConsumerHealth, ConsumerState, OutreachConsumerOptions, StartOptions } from './options.js';
import { OutageControl } from './outage-control.js';
import { SettlePolicy } from './settle-policy.js';
import { Settler } from './settler.js';
import { awaitWorkInHand, leaveUnsettled } from './shutdown.js';
import { TelemetryHooks } from '../telemetry/instrumentation.js';
import { enableTelemetry } from '../telemetry/load.js';
import { DEFAULT_CLOSE_DEADLINE_MS, FAILED_LINK_CLOSE_TIMEOUT_MS, LINK_CLOSE_TIMEOUT_MS, resolveSettings, type ConsumerSettings } from './settings.js';

/** The link source the next consumer built by {@link consumerOverSource} reads from. */
let nextSource: ((events: LinkSourceEvents) => LinkSource) | undefined;

/**
 * @internal An engine over a link source of the library's own (replay, re-driving dead letters)
 * instead of the broker: `options` need only the engine's settings (the broker's are filled in
 * and never used). The public constructor's checks are unchanged.
 */
export function consumerOverSource<A>(options: Omit<OutreachConsumerOptions<A>, 'url' | 'username' | 'password' | 'queue' | 'journal'>, source: (events: LinkSourceEvents) => LinkSource): OutreachConsumer<A> {
  nextSource = source;
  try {
    return new OutreachConsumer<A>({ ...options, url: 'amqp://local.invalid', allowInsecure: true, username: 'local', password: 'local', queue: 'local', telemetry: false });
  } finally {
    nextSource = undefined;
  }
}

/**
 * Drains a Civitas outreach queue on Amazon MQ (ActiveMQ) over AMQP 1.0, and never loses a
 * message: each is settled only when its acknowledgement strategy says the work is done.
 *
 * Two ways to consume: `for await (const delivery of consumer)`, or {@link OutreachConsumer.start}
 * with a handler and a `concurrency`. Both hand out {@link OutreachDelivery} objects (the decoded
 * message is `delivery.outreach`). Undecodable messages go to `onInvalid` and the `invalid` event,
 * never to your handler. End with {@link OutreachConsumer.close}, which lets work in hand finish.
 *
 * Events: the consumer is an event emitter. `consumer.on(name, listener)`, `once` and `off` take
 * an event name and a listener typed by {@link OutreachConsumerEvents}, which lists every event
 * with its arguments (`error`, `connected`, `reconnecting`, `invalid`, `outage`, `recovered`,
 * `drained`…). Listen to `error` at least: without a listener, errors go to the `logger`. The
 * emitter's other methods (`emit`, `listeners`, `removeAllListeners`…) are those of
 * [eventemitter3](https://github.com/primus/eventemitter3) and are not listed on this page.
 *
 * @example
 * ```ts
 * const consumer = new OutreachConsumer({
 *   url: 'amqp+ssl://b-1234-1.mq.us-east-1.amazonaws.com:5671',
 *   username: process.env.CIVITAS_USERNAME!,
 *   password: process.env.CIVITAS_PASSWORD!,
 *   queue: process.env.CIVITAS_QUEUE!,
 * });
 * consumer.on('error', (err, source) => log.warn({ code: err.code, source }, err.message));
 *
 * for await (const delivery of consumer) {
 *   await crm.upsert(delivery.outreach); // accepted when the loop moves on; handed back if it throws
 * }
 * ```
 *
 * @typeParam A - the decoded message type; {@link Outreach} unless you pass your own codec
 *
 * @remarks
 * Memory: credit is granted to the broker only as work completes, so at most `prefetch`
 * messages are held, however large the backlog and however slow your code. When your sink is
 * down (several different messages fail in a row), the consumer pauses and probes instead of
 * dead-lettering (the `outage` and `recovered` events). See
 * [docs/delivery-guarantees.md](../../docs/delivery-guarantees.md) for what each strategy does on the wire.
 *
 * Internals: one engine serves both ways of consuming, split by job: a connection supervisor
 * (reconnects, failover), a credit gate (every credit decision: grants, drain, pause, outage
 * probes), an in-flight table (held deliveries, their phase, the counts), a settler per link (each
 * settlement decided once and written in the order decided), an outage detector, and the delivery
 * iterator. How one message flows through them: docs/development.md.
 *
 * @hideInherited
 */
export class OutreachConsumer<A = Outreach> extends EventEmitter<OutreachConsumerEvents> implements AsyncIterable<OutreachDelivery<A>> {
  readonly #settings: ConsumerSettings<A>;
  /** Keeps the link open: the connection supervisor over the broker's endpoints, or the journal. */
  readonly #supervisor: LinkSource;
  /** The same source in journal mode (`undefined` when off). */
  readonly #journal: JournalSource | undefined;
  readonly #gate: CreditGate;
  readonly #table: InFlightTable<A>;
  readonly #dispatcher: Dispatcher<A>;
  /** `undefined` when outage handling is off. */
  readonly #outage: OutageControl | undefined;
  readonly #ackContext: AckContext<A>;
  /** Decides and accounts the settlements of every link's settler. */
  readonly #settlePolicy: SettlePolicy;
  /** Fires when close() stops waiting for work (its deadline or signal), or the consumer fails. */
  readonly #stopWaiting = new AbortController();
  /** Ends retry waits: replaced after each outage hand-back; aborted for good when closing. */
  #wakeWaits = new AbortController();
  /** Telemetry hooks: off until `@opentelemetry/api` is found at the first start (docs/telemetry.md). */
  readonly #telemetry = new TelemetryHooks();
  #telemetryStarted = false;

  #state: ConsumerState = 'idle';
  /** How it consumes: not yet, through the async iterator, or through start()'s handler. */
  #mode: 'none' | 'iterator' | 'handler' = 'none';
  /** The settler of the open link (one per link; a delivery keeps the one of its own link). */
  #settler: Settler | undefined;
  #fatal: OutreachError | undefined;
  /** The close of the link a fatal error left, if any. */
  #failedLinkClosed: Promise<void> | undefined;
  #closing: Promise<CloseReport> | undefined;
  /** When the last message arrived (epoch ms; 0: none yet). */
  #lastDeliveryAt = 0;
  /** Removes the listener start() put on its signal. */
  #detachStartSignal: (() => void) | undefined;
  /** Ends close()'s wait at once (set while close() waits). */
  #stopClosing: (() => void) | undefined;

  /**
   * Checks the options; connects only when you iterate or call {@link OutreachConsumer.start}.
   * @throws {@link OutreachError} `INVALID_ARGUMENT` (naming the option) or `INSECURE_URL` for
   *   options that cannot work
   */
  constructor(options: OutreachConsumerOptions<A>) {
    super();
    const givenSource = nextSource;
    nextSource = undefined;
    const settings = resolveSettings(options);
    this.#settings = settings;
    this.#table = new InFlightTable<A>(() => {
      this.#gate.topUp();
      this.#gate.maybeDrain();
      this.#maybePark();
    });
    // Failed deliveries waiting to be retried take no prefetch slot, up to maxWaitingRetries.
    const holding = (): number => this.#table.size - Math.min(this.#table.failed, settings.maxWaitingRetries);
    this.#gate = new CreditGate(
      settings.prefetch,
      holding,
      () => this.#table.size,
      () => {
        settings.logger.debug({}, 'queue drained');
        this.#fire('drained');
      },
      () => this.#outage?.active ?? false,
      { maxBytes: settings.maxHeldBytes, held: () => this.#table.bytes, largest: () => this.#table.largest, firstGuess: settings.decode.maxBytes ?? settings.maxHeldBytes },
    );
    const sourceEvents: LinkSourceEvents = {
      arrived: (generation, arrival) => this.#onArrival(generation, arrival),
      drained: (link, answered) => this.#gate.onDrained(link, answered),
      open: (link, afterLoss) => this.#onOpen(link, afterLoss),
      connected: (info) => this.#fire('connected', info),
      down: (generation) => this.#onDown(generation),
      disconnected: (info) => this.#fire('disconnected', info),
      reconnecting: (info) => this.#fire('reconnecting', info),
      error: (error, fatal) => this.#reportError(error, 'connection', fatal),
      fatal: (error) => this.#fail(error),
    };
    if (givenSource !== undefined) {
      this.#supervisor = givenSource(sourceEvents);
    } else if (settings.journal === undefined) {
      this.#supervisor = new ConnectionSupervisor(settings.endpoints, settings.link, settings.reconnect, settings.logger, sourceEvents);
    } else {
      const journal = new JournalSource({ ...settings, journal: settings.journal }, { ...sourceEvents, full: (info) => this.#fire('journalFull', info) });
      this.#supervisor = journal;
      this.#journal = journal;
    }
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
      working: (deliveries, until) => this.#working(deliveries, until),
    };
    this.#outage =
      settings.outage === undefined
        ? undefined
        : new OutageControl(settings.outage, {
            gate: this.#gate,
            table: this.#table,
            prefetch: settings.prefetch,
            logger: settings.logger,
            ending: () => this.#ending,
            handBack: (except) => this.#handBack(except),
            wakeWaiting: () => this.#wakeWaiting(),
            outage: (info) => this.#fire('outage', info),
            recovered: (info) => this.#fire('recovered', info),
            flowChanged: () => this.#flowChanged(),
          });
    this.#settlePolicy = new SettlePolicy({
      table: this.#table,
      logger: settings.logger,
      outage: this.#outage,
      telemetry: this.#telemetry,
      reportError: (error, source) => this.#reportError(error, source),
      settled: (delivery, outcome) => this.#fire('settled', delivery, outcome),
    });
    this.#dispatcher = new Dispatcher<A>({
      settings,
      table: this.#table,
      gate: this.#gate,
      context: this.#ackContext,
      ending: () => this.#ending,
      noteFailure: (delivery, error) => this.#noteFailure(delivery, error, true),
      handled: () => this.#outage?.handled(),
      probeAdmitted: (delivery) => this.#outage?.probeAdmitted(delivery),
      reportError: (error, source) => this.#reportError(error, source),
      invalid: (invalid) => this.#fire('invalid', invalid),
      telemetry: this.#telemetry,
    });
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
   * connecting (authentication, TLS, refused queue, attempts used up), `CLOSED` if closed first
   * (an ended loop closes it), `ITERATOR_IN_USE` if it is already consuming. While the broker cannot
   * be reached (`CONNECTION_FAILED`) it keeps trying and does not reject, for as long as
   * `reconnect.maxAttempts` allows (no limit by default): listen to `error` and `reconnecting`, and
   * call `close()` (or abort `signal`) to give up sooner; `start()` then rejects with `CLOSED`.
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
    this.#refuseIfClosed();
    this.#refuseIfConsuming();
    if (typeof handler !== 'function') throw new OutreachError('INVALID_ARGUMENT', 'start: handler must be a function');
    const concurrency = options.concurrency ?? 1;
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > this.#settings.prefetch) {
      throw new OutreachError('INVALID_ARGUMENT', `concurrency must be an integer from 1 to prefetch (${this.#settings.prefetch})`);
    }
    this.#mode = 'handler';
    this.#dispatcher.setHandler(handler, concurrency);
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
    this.#dispatcher.pump();
  }

  /**
   * The async-iterator API. One iterator per consumer; `break` (or a throw in the loop body)
   * hands back the delivery in hand and everything buffered, and closes the consumer.
   *
   * @remarks Under the default strategy a delivery is accepted when the loop asks for the next one.
   * To report a failure without ending the loop, catch it and call `delivery.retry(error)`: the
   * failure counts towards outage detection like a handler's (see [docs/delivery-guarantees.md](../../docs/delivery-guarantees.md)).
   * The loop ends when the consumer is closed; it throws the fatal error if the consumer fails.
   * @throws {@link OutreachError} `ITERATOR_IN_USE` for a second iterator while one is in use or
   *   `start()` was called, `CLOSED` once the consumer is closing or closed (a loop that ended
   *   closed it)
   */
  [Symbol.asyncIterator](): AsyncIterator<OutreachDelivery<A>> {
    this.#refuseIfClosed();
    this.#refuseIfConsuming();
    this.#mode = 'iterator';
    return new DeliveryIterator<A>({
      start: () => this.#ensureConnected(),
      take: () => this.#telemetry.took(this.#table.take()),
      fatal: () => this.#fatal,
      ended: () => this.#ending,
      changed: () => this.#table.changed(),
      finish: (delivery, success) => this.#dispatcher.finishIteration(delivery, success),
      close: () => this.close(),
    });
  }

  /**
   * Stops taking messages, e.g. while your CRM answers with a rate limit: no credit is granted,
   * the credit the broker holds is taken back (AMQP drain), messages not yet handed to your code go
   * back unchanged (not counted), and work in hand finishes and is settled as usual. Under
   * `atMostOnce()` the messages it holds were accepted on arrival and cannot go back: they still
   * reach your code. Once nothing
   * is held, the consumer closes its connection (`health().connected` is then `false`): ActiveMQ
   * keeps a handed-back message for the link it was sent on, and only a closed link puts it back on
   * the queue, where other consumers can have it. Outage probes wait too. Idempotent. See
   * {@link OutreachConsumer.resume}.
   *
   * @example
   * ```ts
   * consumer.pause();
   * setTimeout(() => consumer.resume(), retryAfterMs);
   * ```
   */
  pause(): void {
    if (this.#gate.paused || this.#ending) return;
    this.#gate.setPaused(true);
    this.#dispatcher.handBackBuffered();
    this.#settings.logger.info({}, 'paused');
    this.#flowChanged();
  }

  /**
   * Takes messages again after {@link OutreachConsumer.pause}: reconnects if the connection was
   * closed, and grants credit (an outage, if any, goes on probing). Idempotent.
   */
  resume(): void {
    if (!this.#gate.paused) return;
    this.#gate.setPaused(false);
    this.#settings.logger.info({}, 'resumed');
    if (this.#ending) return;
    this.#flowChanged();
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
    const link = this.#supervisor.brokerLink;
    return {
      state: this.#state,
      connected: link?.state === 'open',
      endpoint: link?.state === 'open' ? link.endpoint.label : undefined,
      credit: this.#gate.credit,
      held: this.#table.size,
      inFlight: this.#table.inHandler,
      buffered: this.#table.buffered,
      waitingRetries: this.#table.failed,
      heldBytes: this.#table.bytes,
      lastDeliveryAt: this.#lastDeliveryAt === 0 ? undefined : new Date(this.#lastDeliveryAt),
      reconnects: this.#supervisor.reconnects,
      stalledSince: link?.state === 'open' ? link.silentSince : undefined,
      counts: { ...this.#table.counts },
      paused: this.#gate.paused,
      outage: this.#outage?.health(),
      ...(this.#journal === undefined ? {} : { journal: this.#journal.health() }),
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

  /** Looks for `@opentelemetry/api` once, at the first start (docs/telemetry.md); never throws. */
  #startTelemetry(): void {
    if (this.#telemetryStarted) return;
    this.#telemetryStarted = true;
    enableTelemetry(this.#telemetry, this.#settings.telemetry, {
      queue: this.#settings.link.queue.replace(/^queue:\/\//, ''),
      held: () => this.#table.size,
      outage: () => this.#outage?.health() !== undefined,
      endpoint: () => this.#supervisor.brokerLink?.endpoint,
      logger: this.#settings.logger,
    });
  }

  /** `CLOSED` for a consumer that is closing or closed (after a loop ended, too): it cannot consume again. */
  #refuseIfClosed(): void {
    if (this.#state === 'closing' || this.#state === 'closed') {
      throw new OutreachError('CLOSED', 'the consumer is closed: create a new one to consume again');
    }
  }

  /** `ITERATOR_IN_USE` once start() or an iterator has begun: one way of consuming per consumer. */
  #refuseIfConsuming(): void {
    if (this.#mode !== 'none') throw new OutreachError('ITERATOR_IN_USE', 'this consumer is already consuming (start() or an iterator)');
  }

  #ensureConnected(): Promise<void> {
    try {
      this.#refuseIfClosed();
    } catch (error) {
      return Promise.reject(error as OutreachError);
    }
    if (this.#fatal !== undefined) return Promise.reject(this.#fatal);
    this.#startTelemetry(); // telemetry hook
    if (this.#state === 'idle') this.#state = 'connecting';
    return this.#supervisor.start();
  }

  #onOpen(link: InboundLink, afterLoss: boolean): void {
    this.#state = 'open';
    this.#settler = new Settler(link, this.#settlePolicy);
    // After a loss, probes of the lost link went with it (a link reopened for a probe is not a loss).
    if (afterLoss) this.#outage?.reconnected();
    this.#gate.attach(link);
    if (afterLoss) this.#dispatcher.pump();
    this.#maybePark(); // reopened while paused (a reconnect): nothing to receive
  }

  #onDown(generation: number): void {
    this.#gate.detach();
    this.#table.loseGeneration(generation);
    // Retry delays of the lost deliveries end now: the broker has them again, and waiting on would
    // hold their slots (and count them in health()) beside their redelivery.
    this.#wakeWaiting();
    this.#telemetry.sweep(); // telemetry hook
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
    this.#failedLinkClosed = this.#supervisor.takeLink()?.close(FAILED_LINK_CLOSE_TIMEOUT_MS).catch(() => undefined);
    this.#table.notify();
    this.#telemetry.closed(); // telemetry hook
    this.#fire('closed', this.#report(0, false));
  }

  // ---- deliveries ----------------------------------------------------------------------

  #onArrival(generation: number, arrival: Arrival): void {
    this.#lastDeliveryAt = Date.now();
    // Arrived after close() began, or on a link being closed because nothing is wanted (paused,
    // an outage between probes): a transfer already under way, or a released message the broker
    // re-dispatched at once. Leave it unsettled: ActiveMQ puts unsettled deliveries back, count
    // unchanged, when the link detaches; settling it now could only fail or bounce it back.
    const settler = this.#settler;
    if (!this.#ending && this.#supervisor.isCurrent(generation) && settler !== undefined) this.#dispatcher.arrive(generation, arrival, settler);
  }

  /**
   * Closes the link when no credit is wanted and nothing is held (paused, or an outage between
   * probes), so that ActiveMQ puts back on the queue what it kept for the link: it keeps an AMQP
   * `released` message for the same link otherwise (measured, `pause.test.ts`). Reopens it when
   * credit is wanted again.
   */
  #flowChanged(): void {
    if (this.#ending) return;
    if (!this.#gate.idle && this.#supervisor.parked) this.#supervisor.unpark();
    else this.#maybePark();
  }

  #maybePark(): void {
    if (this.#ending || !this.#gate.idle || this.#table.size > 0 || this.#supervisor.link?.state !== 'open') return;
    void this.#supervisor.park(LINK_CLOSE_TIMEOUT_MS);
  }

  /** Tells outage detection of a failure; `true` during an outage (and, with `handBack`, the delivery handed back). */
  #noteFailure(delivery: OutreachDelivery<unknown>, error: unknown, handBack: boolean): boolean {
    return this.#outage?.noteFailure(delivery, error, handBack) ?? false;
  }

  // ---- outages and retry waits --------------------------------------------------------

  /** Ends every retry wait now; later waits get a fresh signal. */
  #wakeWaiting(): void {
    this.#wakeWaits.abort();
    if (this.#ending) return;
    this.#wakeWaits = new AbortController();
    setMaxListeners(this.#listenerLimit, this.#wakeWaits.signal);
  }

  /** Closing or failed: no more reconnects, credit, probes or retry waits. */
  #endWaits(): void {
    this.#supervisor.stop();
    this.#gate.close();
    this.#outage?.stop();
    this.#wakeWaits.abort();
  }

  // ---- settlement ----------------------------------------------------------------------

  /**
   * Hands back every held delivery not in user code (buffered, waiting out a retry delay) but
   * `except`, as one batch of records on the open link.
   */
  #handBack(except: OutreachDelivery<unknown>): void {
    const handBack = (): void => {
      this.#dispatcher.handBackBuffered();
      for (const d of this.#table.inPhase('failed')) if (d !== except && d.state.kind === 'open') d.release();
    };
    if (this.#settler === undefined) handBack();
    else this.#settler.batch(handBack);
  }

  /** A strategy's commit holds these deliveries until `until` settles (AckContext.working). */
  #working(deliveries: readonly OutreachDelivery<unknown>[], until: Promise<unknown>): void {
    for (const delivery of deliveries) this.#table.commitStarted(delivery);
    const done = (): void => {
      for (const delivery of deliveries) this.#table.commitEnded(delivery);
    };
    until.then(done, done);
  }

  // ---- shutdown ------------------------------------------------------------------------

  async #close(options: CloseOptions): Promise<CloseReport> {
    if (this.#state === 'failed') {
      // The link of a failed consumer is closing (a journal's files are being released): wait for it.
      await this.#failedLinkClosed;
      return this.#report(0, false);
    }
    const wasIdle = this.#state === 'idle';
    this.#state = 'closing';
    this.#endWaits();
    this.#table.notify();
    if (wasIdle) return this.#finishClose(0, false);

    // Buffered but never handed out: straight back to the queue (at-most-once ones cannot go back).
    this.#dispatcher.handBackBuffered(true);

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
      const { strategy, logger } = this.#settings;
      const host = { table: this.#table, strategy, context: this.#ackContext, logger, reportError: (e: OutreachError) => this.#reportError(e, 'settle') };
      await awaitWorkInHand(host, () => timedOut, this.#stopWaiting.signal);
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', stop);
      this.#stopClosing = undefined;
    }
    const unfinished = leaveUnsettled(this.#table, this.#settings.logger);
    return this.#finishClose(unfinished, timedOut);
  }

  async #finishClose(unfinished: number, timedOut: boolean): Promise<CloseReport> {
    await this.#supervisor.settled(); // an attempt under way is abandoned, its socket closed
    this.#settler?.flush(); // what was decided leaves before the detach
    const link = this.#supervisor.takeLink();
    if (link !== undefined) await link.close(LINK_CLOSE_TIMEOUT_MS);
    this.#gate.detach();
    this.#table.loseGeneration(this.#supervisor.generation, false);
    this.#detachStartSignal?.();
    this.#state = 'closed';
    this.#table.notify();
    const report = this.#report(unfinished, timedOut);
    this.#telemetry.closed(); // telemetry hook
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
