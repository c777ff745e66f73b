import type { LinkSettings } from '../connection/amqp-link.js';
import type { ReconnectOptions } from '../connection/backoff.js';
import type { BrokerEndpoint } from '../connection/endpoints.js';
import type { InboundLink, LinkSource, LinkSourceEvents } from '../connection/transport.js';
import { OutreachError } from '../errors/outreach-error.js';
import type { OutreachLogger } from '../logger.js';
import { DeadLetterStore } from './dead-letters.js';
import { JournalIntake } from './intake.js';
import { JournalLink } from './journal-link.js';
import { JournalStore } from './journal-store.js';
import { JournalLockError } from './lock.js';
import { PRUNE_INTERVAL_MS, type JournalFullInfo, type JournalHealth, type JournalSettings } from './options.js';

/** @internal What a journal source tells its owner beyond a link source's events. */
export interface JournalSourceEvents extends LinkSourceEvents {
  /** The journal became full (nothing taken from the broker) or has room again. */
  full(info: JournalFullInfo): void;
}

/** @internal Settings of a journal source: the journal's, and the broker's for its intake. */
export interface JournalSourceSettings {
  readonly journal: JournalSettings;
  readonly endpoints: readonly BrokerEndpoint[];
  readonly link: LinkSettings;
  readonly reconnect: Required<ReconnectOptions>;
  readonly logger: OutreachLogger;
}

/** The only generation: the journal's link is opened once and never lost. */
const GENERATION = 1;

/**
 * @internal The consumer's link source in journal mode (the transport port,
 * `connection/transport.ts`): the engine reads from a {@link JournalLink} over the journal's
 * lines, while a {@link JournalIntake} takes messages from the broker into the journal at the
 * broker's pace. Connection events are the intake's. The link is never lost and never parked (a
 * pause or an outage holds the handler, not the intake). A disk error is fatal (`JOURNAL_FAILED`):
 * nothing more is accepted on the broker, and what is on disk is handed out again after a restart.
 *
 * Closing: `stop()` stops the intake (the lines being written are accepted on the broker, then
 * its link closes); closing the journal link then closes the dead letters and the store, which
 * writes the cursor and releases the directory.
 */
export class JournalSource implements LinkSource {
  readonly #settings: JournalSourceSettings;
  readonly #events: JournalSourceEvents;
  #store: JournalStore | undefined;
  #deadLetters: DeadLetterStore | undefined;
  #intake: JournalIntake | undefined;
  #link: JournalLink | undefined;
  #starting: Promise<void> | undefined;
  #stopped = false;
  #intakeClosed: Promise<void> | undefined;
  #pruneTimer: ReturnType<typeof setInterval> | undefined;
  #failed = false;

  constructor(settings: JournalSourceSettings, events: JournalSourceEvents) {
    this.#settings = settings;
    this.#events = events;
  }

  get link(): InboundLink | undefined {
    return this.#link?.state === 'open' ? this.#link : undefined;
  }

  get brokerLink(): InboundLink | undefined {
    return this.#intake?.link;
  }

  get generation(): number {
    return GENERATION;
  }

  get reconnects(): number {
    return this.#intake?.reconnects ?? 0;
  }

  get parked(): boolean {
    return false;
  }

  /** The journal's figures, once it is open. */
  health(): JournalHealth | undefined {
    const store = this.#store;
    if (store === undefined) return undefined;
    const { dir, maxUnhandledBytes } = this.#settings.journal;
    return { dir, full: this.#intake?.full ?? false, unhandled: store.unsettled, unhandledBytes: store.unsettledBytes, maxUnhandledBytes, bytes: store.bytes };
  }

  isCurrent(generation: number): boolean {
    return generation === GENERATION && this.#link?.state === 'open';
  }

  /** Opens the journal (its link is open from then on), then connects the intake; resolves once that is connected. */
  start(): Promise<void> {
    this.#starting ??= this.#open();
    return this.#starting;
  }

  /** Stops the intake: nothing more is taken from the broker; the journal's link stays open. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    clearInterval(this.#pruneTimer);
    this.#intakeClosed = this.#intake?.close(this.#settings.link.connectTimeoutMs).catch((error: unknown) => {
      this.#settings.logger.warn({ error: (error as Error).message }, 'journal intake: close failed');
    });
  }

  /** Resolves once the intake is closed (after stop()) or nothing is under way. */
  async settled(): Promise<void> {
    await this.#starting?.catch(() => undefined);
    await this.#intakeClosed;
  }

  /** Never parked: the intake goes on taking from the broker while the handler waits. */
  park(): Promise<void> {
    return Promise.resolve();
  }

  unpark(): void {}

  takeLink(): InboundLink | undefined {
    const link = this.#link;
    this.#link = undefined;
    return link;
  }

  async #open(): Promise<void> {
    const { journal, logger } = this.#settings;
    try {
      this.#store = await JournalStore.open(journal.dir, { segmentBytes: journal.segmentBytes });
      this.#deadLetters = await DeadLetterStore.open(journal.dir);
    } catch (error) {
      await this.#closeFiles();
      const failure = journalError(error, 'could not open the journal');
      this.#fail(failure);
      throw failure;
    }
    const store = this.#store;
    if (this.#stopped) {
      await this.#closeFiles();
      throw new OutreachError('CLOSED', 'the consumer was closed while opening its journal');
    }
    const intake = new JournalIntake(
      store,
      { ...this.#settings, window: journal.window, maxUnsettledBytes: journal.maxUnhandledBytes },
      {
        connected: (info) => this.#events.connected(info),
        disconnected: (info) => this.#events.disconnected(info),
        reconnecting: (info) => this.#events.reconnecting(info),
        error: (error, fatal) => this.#events.error(error, fatal),
        fatal: (error) => this.#fail(error, true), // its error event came first
        diskFailed: (error) => this.#fail(journalError(error, 'could not write to the journal')),
        full: (full) => {
          logger.warn({ full, unhandledBytes: store.unsettledBytes }, full ? 'journal full: nothing more is taken from the broker' : 'journal has room again');
          this.#events.full({ full, unhandledBytes: store.unsettledBytes, maxUnhandledBytes: journal.maxUnhandledBytes });
        },
      },
    );
    this.#intake = intake;
    const link = new JournalLink(
      store,
      this.#deadLetters!,
      {
        arrived: (arrival) => this.#events.arrived(GENERATION, arrival),
        drained: (dry) => this.#events.drained(link, dry),
        down: () => undefined, // a journal link is only ever closed on purpose
      },
      (error) => this.#fail(journalError(error, 'journal')),
      {
        upstreamDry: () => intake.brokerDry(),
        afterClose: async (timeoutMs) => {
          this.stop();
          await this.settled();
          void timeoutMs; // the intake had its own deadline
          await this.#closeFiles();
        },
      },
    );
    this.#link = link;
    this.#pruneTimer = setInterval(() => void this.#prune(), PRUNE_INTERVAL_MS);
    this.#pruneTimer.unref?.();
    void this.#prune();
    logger.info({ dir: journal.dir, unhandled: store.unsettled }, 'journal open');
    this.#events.open(link, false);
    await intake.start();
  }

  async #prune(): Promise<void> {
    const store = this.#store;
    if (store === undefined || this.#stopped) return;
    try {
      const { keepHandledMs, keepHandledBytes } = this.#settings.journal;
      await store.prune({ maxAgeMs: keepHandledMs, maxBytes: keepHandledBytes });
    } catch (error) {
      // Only settled lines are deleted: a failure here loses nothing, and the next round tries again.
      this.#settings.logger.warn({ error: (error as Error).message }, 'journal: could not delete old segments');
    }
  }

  /** Fatal: the intake stops for good, and the consumer fails. */
  #fail(error: OutreachError, reported = false): void {
    if (this.#failed) return;
    this.#failed = true;
    if (!reported) this.#events.error(error, true);
    this.stop();
    this.#events.fatal(error);
  }

  async #closeFiles(): Promise<void> {
    clearInterval(this.#pruneTimer);
    const deadLetters = this.#deadLetters;
    const store = this.#store;
    this.#deadLetters = undefined;
    await deadLetters?.close().catch(() => undefined);
    await store?.close();
  }
}

/** A journal failure as an OutreachError: `JOURNAL_IN_USE` for a held directory, `JOURNAL_FAILED` otherwise. */
function journalError(error: unknown, what: string): OutreachError {
  if (error instanceof OutreachError) return error;
  if (error instanceof JournalLockError) return new OutreachError('JOURNAL_IN_USE', error.message, { cause: error });
  const e = error as NodeJS.ErrnoException | undefined;
  const code = e?.code === undefined || e.message?.includes(e.code) === true ? '' : ` (${e.code})`;
  return new OutreachError('JOURNAL_FAILED', `${what}: ${e?.message ?? String(error)}${code}`, { cause: error });
}
