import { randomUUID } from 'node:crypto';
import type { BrokerEndpoint } from '../connection/endpoints.js';
import type { Arrival, ArrivalToken, InboundEvents, InboundLink, LinkState, WireSettlement } from '../connection/transport.js';
import { readLine } from './line.js';

/** @internal Where a journal link puts a message that will never succeed (rejected). */
export interface DeadLetterSink {
  /** Keeps the line for good, with the reason; resolves once it is on disk. */
  add(line: string, number: number, reason: string): Promise<void>;
}

/**
 * @internal The numbered lines a journal link hands out, and where it records what is settled:
 * the journal's store (`JournalStore`), or the lines of a replay (`replay-log.ts`).
 */
export interface LineLog {
  /** Names the log in the link's endpoint label. */
  readonly dir: string;
  /** The first line not settled. */
  readonly cursor: number;
  /** Lines below this number can be read. */
  readonly durable: number;
  /** The line numbered `n` (with its `\n`), or `undefined` if it is gone or not readable yet. */
  read(n: number): Promise<string | undefined>;
  isSettled(n: number): boolean;
  /** Marks lines as settled; resolves once that is recorded. */
  settle(lines: readonly number[]): Promise<void>;
  /** Calls `listener` each time more lines can be read; returns the function that stops it. */
  onDurable(listener: () => void): () => void;
}

/** @internal The line number of a journal link's arrival token. */
export function lineOf(token: ArrivalToken): number {
  return (token as unknown as LineToken).line;
}

/** @internal What a journal link asks of its owner. */
export interface JournalLinkHooks {
  /**
   * Asked when a drain finds no line to hand out: whether whatever feeds the journal has nothing
   * more either (the intake drains the broker). The drain is answered dry only then.
   * @defaultValue always dry
   */
  readonly upstreamDry?: () => Promise<boolean>;
  /** Run by close(), after the link is down (the owner closes what it opened), within the time left. */
  readonly afterClose?: (timeoutMs: number) => Promise<void>;
}

/** The token of a journal arrival: its line number. */
interface LineToken {
  readonly line: number;
}

/**
 * @internal The engine's link over a local journal (the transport port, `connection/transport.ts`):
 * arrivals are the journal's lines not yet settled, in order, as credit allows; the outcomes are
 * the journal's own. `accepted` settles the line (the cursor); `released` hands it out again first,
 * its count unchanged; `retried` likewise with its count raised; `rejected` keeps it in the
 * dead-letter store, then settles it. A message never goes back to the broker: it was accepted
 * there once it was on disk here.
 *
 * Delivery counts raised here live in this process: after a restart a line starts again from the
 * count it arrived with.
 */
export class JournalLink implements InboundLink {
  readonly endpoint: BrokerEndpoint;
  readonly containerId = `civitas-outreach-journal-${randomUUID()}`;
  readonly #store: LineLog;
  readonly #deadLetters: DeadLetterSink;
  readonly #events: InboundEvents;
  readonly #onError: (error: unknown) => void;
  readonly #stopListening: () => void;
  #state: LinkState = 'open';
  #credit = 0;
  #draining = false;
  /** The next line to read that was never handed out by this link. */
  #next: number;
  /** Lines handed out again before new ones (released, retried), oldest first. */
  readonly #again: number[] = [];
  /** Counts raised by retries in this process. */
  readonly #raised = new Map<number, number>();
  #pumping = false;
  readonly #upstreamDry: () => Promise<boolean>;
  readonly #afterClose: (timeoutMs: number) => Promise<void>;
  /** Waiting on {@link JournalLink.#upstreamDry} for a drain. */
  #askingUpstream = false;
  /** Dead letters being written: close() waits for them. */
  readonly #deadLettering = new Set<Promise<void>>();
  /** The dead letter written last (`#deadLetter` never rejects): the next waits for it. */
  #lastDeadLetter: Promise<void> = Promise.resolve();
  /**
   * Lines settled whose cursor is not on disk yet. They take a place of the credit until it is:
   * after a crash they come again, like the lines handed out and not settled, and together the two
   * stay within the unsettled window the engine's credit allows (its prefetch).
   */
  #settling = 0;

  constructor(store: LineLog, deadLetters: DeadLetterSink, events: InboundEvents, onError: (error: unknown) => void, hooks: JournalLinkHooks = {}) {
    this.#upstreamDry = hooks.upstreamDry ?? (() => Promise.resolve(true));
    this.#afterClose = hooks.afterClose ?? (() => Promise.resolve());
    this.#store = store;
    this.#deadLetters = deadLetters;
    this.#events = events;
    this.#onError = onError;
    this.#next = store.cursor;
    this.endpoint = { host: 'journal', port: 0, tls: false, label: `journal:${store.dir}` };
    this.#stopListening = store.onDurable(() => void this.#pump());
  }

  get state(): LinkState {
    return this.#state;
  }

  get outstandingCredit(): number {
    return this.#credit;
  }

  get draining(): boolean {
    return this.#draining;
  }

  /** A journal is never silent. */
  get silentSince(): Date | undefined {
    return undefined;
  }

  addCredit(n: number): void {
    if (n <= 0 || this.#state !== 'open') return;
    this.#credit += n;
    void this.#pump();
  }

  drain(): void {
    if (this.#state !== 'open' || this.#draining) return;
    this.#draining = true;
    void this.#pump();
  }

  settle(batch: readonly WireSettlement[]): void {
    if (this.#state !== 'open') return;
    const done: number[] = [];
    for (const { token, outcome, reason } of batch) {
      const line = (token as unknown as LineToken).line;
      if (outcome === 'accepted') done.push(line);
      else if (outcome === 'released') this.#again.push(line);
      else if (outcome === 'retried') {
        this.#raised.set(line, (this.#raised.get(line) ?? 0) + 1);
        this.#again.push(line);
      } else {
        // One after another, so the file keeps the order they failed in (each first reads its
        // line back, and two reads in parallel can finish in either order).
        const written = this.#lastDeadLetter.then(() => this.#deadLetter(line, reason ?? '')).finally(() => this.#deadLettering.delete(written));
        this.#lastDeadLetter = written;
        this.#deadLettering.add(written);
      }
    }
    if (done.length > 0) this.#settleLines(done);
    if (this.#again.length > 0) void this.#pump();
  }

  /**
   * Nothing to detach: the link is down at once (what is not settled is handed out again by the
   * next link); resolves once the dead letters being written are on disk, or after `timeoutMs`.
   */
  async close(timeoutMs = 0): Promise<void> {
    this.#stopListening();
    this.#state = 'down';
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)));
    const deadline = Date.now() + timeoutMs;
    await Promise.race([Promise.allSettled([...this.#deadLettering]), timeout]);
    clearTimeout(timer);
    await this.#afterClose(Math.max(0, deadline - Date.now()));
  }

  #settleLines(lines: readonly number[]): void {
    for (const n of lines) this.#raised.delete(n);
    this.#settling += lines.length;
    this.#store.settle(lines).then(
      () => {
        this.#settling -= lines.length;
        void this.#pump();
      },
      (error: unknown) => this.#onError(error),
    );
  }

  async #deadLetter(line: number, reason: string): Promise<void> {
    try {
      const text = await this.#store.read(line);
      if (text !== undefined) await this.#deadLetters.add(text, line, reason);
      this.#settleLines([line]);
    } catch (error) {
      // Not kept anywhere else: the line stays unsettled (it is handed out again after a restart).
      this.#onError(error);
    }
  }

  /** Hands out lines while there is credit: those to go again first, then new ones in order. */
  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#state === 'open' && this.#credit > 0) {
        if (this.#credit <= this.#settling && (this.#again.length > 0 || this.#hasNew())) return; // pumped again once the cursor is written
        const line = this.#again.shift() ?? this.#nextNew();
        if (line === undefined) break;
        const text = await this.#store.read(line);
        if (text === undefined || this.#state !== 'open') continue;
        this.#credit--;
        this.#events.arrived(this.#arrival(line, text));
      }
      if (this.#draining && this.#state === 'open') {
        if (this.#credit === 0) this.#endDrain(false); // used up: over, not dry
        else void this.#askUpstream();
      }
    } catch (error) {
      this.#onError(error);
    } finally {
      this.#pumping = false;
    }
  }

  /** Nothing to hand out: the drain is dry if upstream has nothing either; lines that came meanwhile go out first. */
  async #askUpstream(): Promise<void> {
    if (this.#askingUpstream) return;
    this.#askingUpstream = true;
    let dry = false;
    try {
      dry = await this.#upstreamDry();
    } catch (error) {
      this.#onError(error);
    } finally {
      this.#askingUpstream = false;
    }
    if (!this.#draining || this.#state !== 'open') return;
    if (this.#again.length > 0 || this.#hasNew()) return void this.#pump();
    this.#endDrain(dry);
  }

  #endDrain(dry: boolean): void {
    this.#credit = 0;
    this.#draining = false;
    this.#events.drained(dry);
  }

  #hasNew(): boolean {
    let n = this.#next;
    while (n < this.#store.durable && this.#store.isSettled(n)) n++;
    return n < this.#store.durable;
  }

  #nextNew(): number | undefined {
    while (this.#next < this.#store.durable && this.#store.isSettled(this.#next)) this.#next++;
    return this.#next < this.#store.durable ? this.#next++ : undefined;
  }

  #arrival(line: number, text: string): Arrival {
    const read = readLine(text);
    return {
      token: { line } as LineToken as unknown as ArrivalToken,
      body: read.body,
      messageId: read.messageId,
      deliveryCount: read.deliveryCount + (this.#raised.get(line) ?? 0),
      applicationProperties: read.applicationProperties,
      subject: read.subject,
    };
  }
}
