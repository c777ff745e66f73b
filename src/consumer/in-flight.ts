import type { OutreachDelivery, SettleOutcome } from '../delivery/delivery.js';
import type { SettleCounts } from './options.js';

/**
 * @internal Where a held delivery is:
 * - `buffered`: received, not yet handed to user code;
 * - `handler`: in the user's handler or loop body (takes a handler slot);
 * - `invalid`: undecodable, in the `onInvalid` hook or its retry wait;
 * - `failed`: user code threw; the strategy is deciding (a retry delay, the dead-letter hook);
 * - `commit`: in a commit of the strategy to the user's sink (`batched`; `AckContext.working`);
 * - `done`: no more user code; waiting to be settled (a batch, the manual strategy) or settled.
 */
export type Phase = 'buffered' | 'handler' | 'invalid' | 'failed' | 'commit' | 'done';

interface Held {
  readonly generation: number;
  /** The size of its body ({@link bodyBytes}). */
  readonly bytes: number;
  phase: Phase;
  /** The outage detector has been told of a failure of this delivery. */
  failureNoted: boolean;
}

/** The settle counts ({@link SettleCounts}), writable: by the table alone. */
type Tally = { -readonly [K in keyof SettleCounts]: number };

/** Phases in which user code (a handler, a loop body, the `onInvalid` hook, a strategy's wait) still works on a delivery. */
const ACTIVE: readonly Phase[] = ['handler', 'invalid', 'failed'];

/**
 * @internal Every delivery this process holds (at most `prefetch`): the buffer of those not yet
 * handed out, the phase of each, the settle counts, and a wake-up for whoever waits for a change.
 * A delivery stays held until user code is done with it and it is settled (or lost); forgetting
 * one frees a prefetch slot, which the owner learns through `onFreed`.
 */
export class InFlightTable<A> {
  readonly #counts: Tally = { accepted: 0, retried: 0, rejected: 0, released: 0, lost: 0, invalid: 0 };
  readonly #held = new Map<OutreachDelivery<unknown>, Held>();
  readonly #onFreed: () => void;
  /** How many held deliveries are in each phase (the buffer is the `buffered` ones, in arrival order). */
  readonly #inPhase: Record<Phase, number> = { buffered: 0, handler: 0, invalid: 0, failed: 0, commit: 0, done: 0 };
  #wake: (() => void)[] = [];
  /** Bytes of the bodies held. */
  #bytes = 0;
  /** The largest body held so far (0 before the first). */
  #largest = 0;

  constructor(onFreed: () => void) {
    this.#onFreed = onFreed;
  }

  /** The settle counts so far. */
  get counts(): SettleCounts {
    return this.#counts;
  }

  /** Counts a settlement that was written (a lost one was counted when its link went). */
  count(outcome: Exclude<SettleOutcome, 'lost'> | 'invalid'): void {
    this.#counts[outcome]++;
  }

  /** Deliveries held. */
  get size(): number {
    return this.#held.size;
  }

  /** Bytes of the bodies of the deliveries held. */
  get bytes(): number {
    return this.#bytes;
  }

  /** The largest body seen so far (0 before the first): what one more message may bring. */
  get largest(): number {
    return this.#largest;
  }

  /** Deliveries received and not yet handed out. */
  get buffered(): number {
    return this.#inPhase.buffered;
  }

  /** Deliveries in user code now (handler slots taken). */
  get inHandler(): number {
    return this.#inPhase.handler;
  }

  /** Deliveries whose user code failed and that wait for the strategy (a retry delay). */
  get failed(): number {
    return this.#inPhase.failed;
  }

  /** Holds a decoded delivery, queued for user code. */
  addBuffered(delivery: OutreachDelivery<A>, generation: number): void {
    this.#add(delivery, generation, 'buffered');
  }

  /** Holds an undecodable delivery, on its way to the `onInvalid` hook. */
  addInvalid(delivery: OutreachDelivery<unknown>, generation: number): void {
    this.#add(delivery, generation, 'invalid');
  }

  #add(delivery: OutreachDelivery<unknown>, generation: number, phase: Phase): void {
    const bytes = bodyBytes(delivery.body);
    this.#held.set(delivery, { generation, bytes, phase, failureNoted: false });
    this.#inPhase[phase]++;
    this.#bytes += bytes;
    const first = this.#largest === 0 && bytes > 0;
    if (bytes > this.#largest) this.#largest = bytes;
    // The first body's size is known: the byte budget can now say how many more fit.
    if (first) queueMicrotask(this.#onFreed);
    this.notify();
  }

  /** The next buffered delivery (the earliest to arrive), now in user code; `undefined` if none. */
  take(): OutreachDelivery<A> | undefined {
    if (this.#inPhase.buffered === 0) return undefined;
    for (const [delivery, held] of this.#held) {
      if (held.phase !== 'buffered') continue;
      this.setPhase(delivery, 'handler');
      return delivery as OutreachDelivery<A>;
    }
    return undefined;
  }

  /**
   * Takes the buffered deliveries out of the buffer (to hand them back), but for those `keep`
   * says stay, which keep their place in it.
   */
  takeBuffered(keep: (delivery: OutreachDelivery<A>) => boolean = () => false): OutreachDelivery<A>[] {
    const taken = this.#buffered().filter((d) => !keep(d));
    for (const d of taken) this.setPhase(d, 'done');
    return taken;
  }

  #buffered(): OutreachDelivery<A>[] {
    return this.inPhase('buffered') as OutreachDelivery<A>[];
  }

  setPhase(delivery: OutreachDelivery<unknown>, phase: Phase): void {
    const held = this.#held.get(delivery);
    if (held === undefined || held.phase === phase) return;
    this.#inPhase[held.phase]--;
    this.#inPhase[phase]++;
    held.phase = phase;
    this.notify();
  }

  /** Marks that a failure of this delivery was told to the outage detector; `false` if it was already. */
  noteFailureOnce(delivery: OutreachDelivery<unknown>): boolean {
    const held = this.#held.get(delivery);
    if (held === undefined || held.failureNoted) return false;
    held.failureNoted = true;
    return true;
  }

  /**
   * User code is finished with a delivery; it is forgotten once it is also settled. One that a
   * strategy's commit already holds (a batch completed by it) stays in the commit until it ends.
   */
  finish(delivery: OutreachDelivery<unknown>): void {
    if (this.#held.get(delivery)?.phase !== 'commit') this.#done(delivery);
    this.notify();
  }

  /** A strategy's commit holds the delivery until {@link InFlightTable.commitEnded}. */
  commitStarted(delivery: OutreachDelivery<unknown>): void {
    this.setPhase(delivery, 'commit');
  }

  /** The commit that held the delivery ended (whatever it decided): done with user code. */
  commitEnded(delivery: OutreachDelivery<unknown>): void {
    if (this.#held.get(delivery)?.phase === 'commit') this.#done(delivery);
    this.notify();
  }

  #done(delivery: OutreachDelivery<unknown>): void {
    this.setPhase(delivery, 'done');
    if (delivery.outcome !== undefined) this.#forget(delivery);
  }

  /**
   * Deliveries were settled (or found lost): each is forgotten if user code is done with it; the
   * owner hears of the freed slots once.
   */
  settled(deliveries: Iterable<OutreachDelivery<unknown>>): void {
    let freed = false;
    for (const delivery of deliveries) {
      if (this.#held.get(delivery)?.phase === 'done') freed = this.#forget(delivery, false) || freed;
    }
    if (freed) this.#onFreed();
    this.notify();
  }

  /** Held deliveries in one of `phases`. */
  inPhase(...phases: readonly Phase[]): OutreachDelivery<unknown>[] {
    const out: OutreachDelivery<unknown>[] = [];
    for (const [d, h] of this.#held) if (phases.includes(h.phase)) out.push(d);
    return out;
  }

  /** Held deliveries that user code still works on (what close() waits for first). */
  active(): OutreachDelivery<unknown>[] {
    return this.inPhase(...ACTIVE);
  }

  /** Done with user code, not settled: the user's (manual) or a strategy's (batch) to settle. */
  awaitingSettlement(): OutreachDelivery<unknown>[] {
    return this.inPhase('done').filter((d) => d.state.kind === 'open');
  }

  /** Held deliveries with no outcome decided yet, each with its phase (what close() leaves behind). */
  unsettled(): { readonly delivery: OutreachDelivery<unknown>; readonly phase: Phase }[] {
    const out: { delivery: OutreachDelivery<unknown>; phase: Phase }[] = [];
    for (const [delivery, held] of this.#held) if (delivery.state.kind === 'open') out.push({ delivery, phase: held.phase });
    return out;
  }

  /**
   * Every delivery of a lost link: buffered ones are dropped (the broker redelivers), the others
   * marked lost and forgotten once user code is done with them.
   * @param countActive - whether deliveries still in user code count as `lost` (not at close():
   *   they are reported as `unfinished`)
   */
  loseGeneration(generation: number, countActive = true): void {
    for (const [delivery, held] of this.#held) {
      if (held.generation !== generation) continue;
      if (held.phase === 'buffered') {
        delivery.markLost();
        this.#counts.lost++;
        this.#forget(delivery, false);
        continue;
      }
      // Unsettled, or decided but not yet written (that outcome is never sent now).
      const kind = delivery.state.kind;
      if (kind === 'open' || kind === 'requested') {
        delivery.markLost();
        if (countActive || held.phase === 'done') this.#counts.lost++;
        if (held.phase === 'done') this.#forget(delivery, false);
      }
    }
    this.notify();
  }

  /** Drops the buffer without settling (a failed consumer: its link is gone). */
  dropBuffered(): void {
    for (const delivery of this.#buffered()) {
      delivery.markLost();
      this.#forget(delivery, false);
    }
    this.notify();
  }

  /** Resolves at the next change of the table (or of anything the owner notifies). */
  changed(): Promise<void> {
    return new Promise((resolve) => this.#wake.push(resolve));
  }

  notify(): void {
    if (this.#wake.length === 0) return;
    const waiting = this.#wake;
    this.#wake = [];
    for (const wake of waiting) wake();
  }

  /** Forgets a held delivery (its prefetch slot is free); tells the owner unless `tell` is false. */
  #forget(delivery: OutreachDelivery<unknown>, tell = true): boolean {
    const held = this.#held.get(delivery);
    if (held === undefined) return false;
    this.#inPhase[held.phase]--;
    this.#bytes -= held.bytes;
    this.#held.delete(delivery);
    if (tell) this.#onFreed();
    return true;
  }
}

/**
 * @internal The size of a body as held: a string's length (a character is a byte in V8 for
 * Latin-1 text, two otherwise), bytes' length, an AMQP section's content; 0 for anything else.
 */
export function bodyBytes(body: unknown): number {
  if (typeof body === 'string') return body.length;
  if (body instanceof Uint8Array) return body.byteLength;
  const content = (body as { content?: unknown } | null | undefined)?.content;
  if (typeof content === 'string') return content.length;
  if (content instanceof Uint8Array) return content.byteLength;
  return 0;
}
