import type { InboundLink, LinkSource, LinkSourceEvents } from '../connection/transport.js';
import { OutreachError } from '../errors/outreach-error.js';
import { JournalLink, type DeadLetterSink } from './journal-link.js';
import type { ReplayLog } from './replay-log.js';

const GENERATION = 1;

/**
 * @internal The link source of a replay or a re-drive (the transport port, `connection/transport.ts`):
 * one {@link JournalLink} over a {@link ReplayLog}, opened at start and never lost. Drains are
 * answered dry once the log's lines are used up. There is no broker: no connection events.
 */
export class ReplaySource implements LinkSource {
  readonly #log: ReplayLog;
  readonly #deadLetters: DeadLetterSink;
  readonly #events: LinkSourceEvents;
  #link: JournalLink | undefined;

  constructor(log: ReplayLog, deadLetters: DeadLetterSink, events: LinkSourceEvents) {
    this.#log = log;
    this.#deadLetters = deadLetters;
    this.#events = events;
  }

  get link(): InboundLink | undefined {
    return this.#link?.state === 'open' ? this.#link : undefined;
  }

  get brokerLink(): InboundLink | undefined {
    return undefined;
  }

  get generation(): number {
    return GENERATION;
  }

  get reconnects(): number {
    return 0;
  }

  get parked(): boolean {
    return false;
  }

  isCurrent(generation: number): boolean {
    return generation === GENERATION && this.#link?.state === 'open';
  }

  start(): Promise<void> {
    if (this.#link !== undefined) return Promise.resolve();
    const link = new JournalLink(
      this.#log,
      this.#deadLetters,
      {
        arrived: (arrival) => this.#events.arrived(GENERATION, arrival),
        drained: (dry) => this.#events.drained(link, dry),
        down: () => undefined,
      },
      (error) => {
        const failure = error instanceof OutreachError ? error : new OutreachError('JOURNAL_FAILED', `replay: ${(error as Error).message}`, { cause: error });
        this.#events.error(failure, true);
        this.#events.fatal(failure);
      },
      { upstreamDry: () => this.#log.dry(), afterClose: () => this.#log.stop() },
    );
    this.#link = link;
    this.#events.open(link, false);
    return Promise.resolve();
  }

  stop(): void {}

  settled(): Promise<void> {
    return Promise.resolve();
  }

  park(): Promise<void> {
    return Promise.resolve();
  }

  unpark(): void {}

  takeLink(): InboundLink | undefined {
    const link = this.#link;
    this.#link = undefined;
    return link;
  }
}
