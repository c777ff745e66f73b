import type { LinkSettings } from '../connection/amqp-link.js';
import type { ReconnectOptions } from '../connection/backoff.js';
import type { BrokerEndpoint } from '../connection/endpoints.js';
import type { ConnectionInfo, DisconnectInfo, ReconnectInfo } from '../connection/events.js';
import { ConnectionSupervisor } from '../connection/supervisor.js';
import type { Arrival, InboundLink, WireSettlement } from '../connection/transport.js';
import type { OutreachError } from '../errors/outreach-error.js';
import type { OutreachLogger } from '../logger.js';
import { decodeOutreach } from '../message/decode.js';
import type { JournalStore } from './journal-store.js';
import { archiveLine, readLine } from './line.js';

/** @internal What the intake tells its owner. */
export interface IntakeEvents {
  connected(info: ConnectionInfo): void;
  disconnected(info: DisconnectInfo): void;
  reconnecting(info: ReconnectInfo): void;
  /** A connection error (retryable unless `fatal`). */
  error(error: OutreachError, fatal: boolean): void;
  /** The intake stopped for good (authentication, TLS, a refused queue, attempts used up). */
  fatal(error: OutreachError): void;
  /** A line could not be written: nothing more is taken from the broker. */
  diskFailed(error: unknown): void;
  /** The journal is full (`true`: no credit until lines are settled) or has room again (`false`). */
  full(full: boolean): void;
}

/** @internal Settings of the intake. */
export interface IntakeSettings {
  readonly endpoints: readonly BrokerEndpoint[];
  readonly link: LinkSettings;
  readonly reconnect: Required<ReconnectOptions>;
  readonly logger: OutreachLogger;
  /** Messages taken from the broker and not yet on disk, at most. */
  readonly window: number;
  /** Bytes of unsettled lines at which the journal counts as full. */
  readonly maxUnsettledBytes: number;
}

/** How many message ids of lines written are remembered, per unit of the window (redeliveries of lines already written). */
const REMEMBERED_PER_WINDOW = 20;

/**
 * @internal Takes messages from the broker into the journal, at the broker's pace and whatever the
 * handler does: each arriving message is appended (written and fsynced, in groups) and only then
 * accepted on the broker, in runs. Credit is the window minus the messages not yet on disk, and
 * none while the journal is full (its unsettled lines reach `maxUnsettledBytes`): the broker keeps
 * the rest. A message the broker delivers again after a lost connection or a restart, whose line
 * was already written, is accepted without a second line.
 */
export class JournalIntake {
  readonly #store: JournalStore;
  readonly #settings: IntakeSettings;
  readonly #events: IntakeEvents;
  readonly #supervisor: ConnectionSupervisor;
  #link: InboundLink | undefined;
  /** Appends of messages received and not yet on disk. */
  readonly #writing = new Set<Promise<unknown>>();
  /** Acceptances of this turn, for the current link. */
  #accepting: WireSettlement[] = [];
  #acceptScheduled = false;
  /** Message ids of lines written lately, oldest first. */
  readonly #written = new Set<string | number>();
  #full = false;
  #failed = false;
  /** Messages received so far (to tell whether any came during a drain). */
  #received = 0;
  /** The drain under way: its answer, and the count of messages received when it began. */
  #drain: { readonly answer: Promise<boolean>; readonly resolve: (dry: boolean) => void; readonly from: number } | undefined;
  readonly #stopListening: () => void;

  constructor(store: JournalStore, settings: IntakeSettings, events: IntakeEvents) {
    this.#store = store;
    this.#settings = settings;
    this.#events = events;
    this.#supervisor = new ConnectionSupervisor(settings.endpoints, settings.link, settings.reconnect, settings.logger, {
      arrived: (generation, arrival) => this.#onArrival(generation, arrival),
      drained: (_link, dry) => this.#onDrained(dry),
      open: (link) => {
        this.#link = link;
        this.#topUp();
      },
      connected: (info) => events.connected(info),
      down: () => {
        this.#link = undefined;
        this.#accepting = [];
        this.#drain?.resolve(false);
        this.#drain = undefined;
      },
      disconnected: (info) => events.disconnected(info),
      reconnecting: (info) => events.reconnecting(info),
      error: (error, fatal) => events.error(error, fatal),
      fatal: (error) => events.fatal(error),
    });
    this.#stopListening = store.onSettled(() => this.#topUp());
  }

  /** Whether the journal is full (no credit to the broker until the handler settles lines). */
  get full(): boolean {
    return this.#full;
  }

  /** The broker link, if open. */
  get link(): InboundLink | undefined {
    return this.#link;
  }

  get reconnects(): number {
    return this.#supervisor.reconnects;
  }

  /** Connects; resolves once the first link is open (rejects on a fatal error or close()). */
  async start(): Promise<void> {
    await this.#rememberJournalTail();
    return this.#supervisor.start();
  }

  /**
   * Remembers the message ids of the journal's last lines, as if this process had written them: a
   * run killed between an fsync and the broker's hearing of the acceptance left them unaccepted,
   * and the broker delivers them again to this run, which must accept them without a second line
   * (else the handler has each of them twice, beyond the unsettled window).
   */
  async #rememberJournalTail(): Promise<void> {
    const store = this.#store;
    const from = Math.max(store.first, store.next - this.#settings.window * REMEMBERED_PER_WINDOW);
    for (let n = from; n < store.next; n++) {
      const text = await store.read(n);
      let id: string | number | undefined;
      try {
        id = text === undefined ? undefined : readLine(text).messageId;
      } catch {
        continue; // not a line of ours: the handler is told when it gets there
      }
      if (id !== undefined) this.#remember(id);
    }
  }

  /**
   * Whether the broker has nothing more for now: drains the broker link (AMQP drain), waits for the
   * lines of what came meanwhile to be written, and resolves `true` only if nothing came. `false`
   * without asking while there is no link, the journal is full or a write failed.
   */
  brokerDry(): Promise<boolean> {
    if (this.#drain !== undefined) return this.#drain.answer;
    const link = this.#link;
    if (link === undefined || link.state !== 'open' || this.#full || this.#failed) return Promise.resolve(false);
    let resolve!: (dry: boolean) => void;
    const answer = new Promise<boolean>((r) => (resolve = r));
    this.#drain = { answer, resolve, from: this.#received };
    if (link.outstandingCredit === 0) link.addCredit(1); // a drain with no credit asks nothing
    link.drain();
    return answer;
  }

  async #onDrained(dry: boolean): Promise<void> {
    const drain = this.#drain;
    this.#topUp();
    if (drain === undefined) return;
    await Promise.allSettled([...this.#writing]);
    this.#drain = undefined;
    drain.resolve(dry && this.#received === drain.from && !this.#failed);
  }

  /** Stops taking messages: waits for the lines being written, accepts them, and closes the link. */
  async close(timeoutMs: number): Promise<void> {
    this.#stopListening();
    this.#supervisor.stop();
    const deadline = Date.now() + timeoutMs;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)));
    await Promise.race([Promise.allSettled([...this.#writing]), timeout]);
    clearTimeout(timer);
    this.#flushAcceptances();
    this.#drain?.resolve(false);
    this.#drain = undefined;
    await this.#supervisor.settled();
    await this.#supervisor.takeLink()?.close(Math.max(0, deadline - Date.now()));
  }

  #onArrival(generation: number, arrival: Arrival): void {
    const link = this.#link;
    if (link === undefined || !this.#supervisor.isCurrent(generation)) return;
    this.#received++;
    const id = arrival.messageId;
    if (id !== undefined && this.#written.has(id)) {
      // Its line is on disk already (its acceptance was lost with a connection).
      this.#accept(link, arrival);
      return;
    }
    if (this.#failed) return; // left unsettled: the broker delivers it again, here or elsewhere
    const decoded = decodeOutreach(arrival.body);
    const line = archiveLine(
      {
        messageId: id,
        deliveryCount: arrival.deliveryCount,
        receivedAt: new Date(),
        subject: arrival.subject,
        applicationProperties: arrival.applicationProperties,
        ...(decoded._tag === 'Right' ? { outreachId: decoded.right.outreachId } : { invalid: { kind: decoded.left.kind, message: decoded.left.message } }),
      },
      arrival.body,
    );
    const written = this.#store.append(line).then(
      () => {
        this.#writing.delete(written);
        if (id !== undefined) this.#remember(id);
        if (this.#link === link) this.#accept(link, arrival);
        this.#topUp();
      },
      (error: unknown) => {
        this.#writing.delete(written);
        if (this.#failed) return;
        // Not on disk: never accepted. Nothing more is taken; the broker keeps the rest.
        this.#failed = true;
        this.#events.diskFailed(error);
      },
    );
    this.#writing.add(written);
  }

  #accept(link: InboundLink, arrival: Arrival): void {
    this.#accepting.push({ token: arrival.token, outcome: 'accepted' });
    if (this.#acceptScheduled) return;
    this.#acceptScheduled = true;
    setImmediate(() => {
      this.#acceptScheduled = false;
      if (this.#link === link) this.#flushAcceptances();
    });
  }

  #flushAcceptances(): void {
    const batch = this.#accepting;
    this.#accepting = [];
    if (batch.length > 0 && this.#link?.state === 'open') this.#link.settle(batch);
  }

  #remember(id: string | number): void {
    this.#written.add(id);
    const limit = this.#settings.window * REMEMBERED_PER_WINDOW;
    if (this.#written.size > limit) this.#written.delete(this.#written.values().next().value!);
  }

  /** Grants credit up to the window, unless the journal is full or a write failed. */
  #topUp(): void {
    const full = this.#store.unsettledBytes >= this.#settings.maxUnsettledBytes;
    if (full !== this.#full) {
      this.#full = full;
      this.#events.full(full);
    }
    const link = this.#link;
    if (link === undefined || link.state !== 'open' || link.draining || full || this.#failed) return;
    const want = this.#settings.window - this.#writing.size - link.outstandingCredit;
    // In steps of a quarter of the window, not a flow frame per message, unless the broker has none.
    if (want >= Math.max(1, Math.ceil(this.#settings.window / 4)) || (want > 0 && link.outstandingCredit === 0)) link.addCredit(want);
  }
}
