import type { InboundLink } from '../connection/transport.js';

/**
 * How long nothing may arrive, with nothing held, before the gate asks the broker whether the
 * queue has run dry. Without the wait, a consumer that keeps up with the broker held nothing after
 * almost every message and drained each time; a drain stops credit top-ups until the broker has
 * answered or used the credit up, so the window emptied once per prefetch of messages (measured in
 * `bench:consume`: one drain per ~100 messages at prefetch 100, throughput 0.6-0.7 of a bare
 * receiver).
 */
export const DRY_CHECK_QUIET_MS = 50;

/** @internal The byte budget of held bodies (`maxHeldBytes`) and the table's figures against it. */
export interface ByteBudget {
  readonly maxBytes: number;
  /** Bytes of the bodies held now. */
  readonly held: () => number;
  /** The largest body seen so far (0 before the first). */
  readonly largest: () => number;
  /** What a body counts before the first is seen: the largest the decoder takes. */
  readonly firstGuess: number;
}
const UNLIMITED: ByteBudget = { maxBytes: Number.POSITIVE_INFINITY, held: () => 0, largest: () => 0, firstGuess: 1 };

/** @internal What becomes of an arriving message: to user code (`admit`), as an outage probe, or straight back. */
export interface Admission {
  readonly admit: boolean;
  readonly probe: boolean;
}
const ADMIT: Admission = Object.freeze({ admit: true, probe: false });
const PROBE: Admission = Object.freeze({ admit: true, probe: true });
const HAND_BACK: Admission = Object.freeze({ admit: false, probe: false });

/**
 * @internal How messages flow: `flowing` (credit up to prefetch), `paused` (by the user: none),
 * `outage` (none, but for a probe), `closed` (the consumer is closing or failed: none, for good).
 * A pause or a close wins over an outage. The gate holds only those two; whether an outage is
 * under way it reads from outage control, which alone knows.
 */
export type FlowMode = 'flowing' | 'paused' | 'outage' | 'closed';

/**
 * @internal Every credit decision of the consumer, in one place: how much to grant (up to
 * `prefetch` minus what is held, in steps), when to take it back (pause, outage: an AMQP drain),
 * how many probes an outage lets through, and whether an arrival goes to user code or straight
 * back. It also asks the broker, when nothing is held, whether the queue has run dry (a drain
 * answered with nothing) and says so through `onDry`.
 */
export class CreditGate {
  readonly #prefetch: number;
  /** Prefetch slots taken (held deliveries, but for failed ones waiting outside the budget). */
  readonly #slots: () => number;
  /** Every delivery held. */
  readonly #held: () => number;
  readonly #onDry: () => void;
  /** Whether outage control has an outage under way (it owns that state; the gate only follows it). */
  readonly #inOutage: () => boolean;
  #link: InboundLink | undefined;
  /** What the consumer itself holds the flow by: nothing, the user's pause, or closing (for good). */
  #hold: 'none' | 'paused' | 'closed' = 'none';
  /** Probes an outage may still let through. */
  #probes = 0;
  /** Messages received since the last drain request. */
  #sinceDrain = 0;
  /** The link on which the broker last answered a drain (none yet: drain once on a new link). */
  #drainedOnLink: InboundLink | undefined;
  /** Messages received in all: the dry check waits for a quiet period without any. */
  #received = 0;
  /** The pending dry check, and the arrival count when it was set. */
  #dryCheck: ReturnType<typeof setTimeout> | undefined;
  #dryCheckAt = 0;

  /** The byte budget of held bodies, and what is held against it. */
  readonly #budget: ByteBudget;

  constructor(prefetch: number, slots: () => number, held: () => number, onDry: () => void, inOutage: () => boolean, budget: ByteBudget = UNLIMITED) {
    this.#budget = budget;
    this.#prefetch = prefetch;
    this.#slots = slots;
    this.#held = held;
    this.#onDry = onDry;
    this.#inOutage = inOutage;
  }

  /** The flow now: the consumer's own hold first, else whether outage control has an outage under way. */
  get mode(): FlowMode {
    if (this.#hold !== 'none') return this.#hold;
    return this.#inOutage() ? 'outage' : 'flowing';
  }

  /** Whether the user paused the flow. */
  get paused(): boolean {
    return this.#hold === 'paused';
  }

  /** Whether no credit is wanted at all: paused, closed, or an outage with no probe open. */
  get idle(): boolean {
    const mode = this.mode;
    return mode === 'paused' || mode === 'closed' || (mode === 'outage' && this.#probes === 0);
  }

  /** Probe messages the current outage round may still let through. */
  get probesLeft(): number {
    return this.#probes;
  }

  /** Credit granted on the current link and not yet used (none once it is closing: a parked link). */
  get credit(): number {
    const link = this.#link;
    return link?.state === 'open' ? link.outstandingCredit : 0;
  }

  /** A new link is open: grant its credit. */
  attach(link: InboundLink): void {
    this.#link = link;
    this.topUp();
    this.maybeDrain();
  }

  detach(): void {
    this.#link = undefined;
    this.#cancelDryCheck();
  }

  /** No more credit, for good (closing, failed). */
  close(): void {
    this.#hold = 'closed';
    this.#cancelDryCheck();
  }

  /** The user's pause: no credit at all until `resume`; then an outage under way goes on probing. */
  setPaused(paused: boolean): void {
    if (this.#hold === 'closed' || (this.#hold === 'paused') === paused) return;
    this.#hold = paused ? 'paused' : 'none';
    if (paused) this.#takeBack();
    else this.topUp();
  }

  /** An outage began: no credit but for probes (a pause stays a pause). */
  beginOutage(): void {
    this.#probes = 0;
    this.#takeBack();
  }

  /** Let `n` probe messages through (replaces any probes not yet used). */
  openProbe(n: number): void {
    this.#probes = n;
    this.topUp();
  }

  /** The outage is over: full flow. */
  endOutage(): void {
    this.#probes = 0;
    this.topUp();
  }

  /**
   * A message arrived: `true` to hand it to user code, `false` to hand it straight back (paused,
   * or an outage and not a probe).
   */
  admit(): Admission {
    this.#sinceDrain++;
    this.#received++;
    const mode = this.mode;
    if (mode === 'flowing') return ADMIT;
    if (mode === 'outage' && this.#probes > 0) {
      this.#probes--;
      return PROBE;
    }
    return HAND_BACK;
  }

  /** Grants credit so that the slots taken + outstanding credit reach the target of the mode. */
  topUp(): void {
    const link = this.#link;
    if (link === undefined || link.state !== 'open' || link.draining || this.#hold !== 'none') return;
    if (this.#inOutage()) {
      const want = Math.min(this.#probes, this.#prefetch - this.#slots()) - link.outstandingCredit;
      if (want > 0) link.addCredit(want);
      return;
    }
    const free = Math.min(this.#prefetch - this.#slots(), this.#fitting()) - link.outstandingCredit;
    // Grant in steps of a quarter of the window, not one flow frame per message, unless the
    // broker has no credit at all.
    const step = Math.max(1, Math.ceil(this.#prefetch / 4));
    if (free >= step || (free > 0 && link.outstandingCredit === 0)) link.addCredit(free);
  }

  /**
   * How many more messages the byte budget lets in, counting the largest body seen so far for
   * each: what is held and that many stay within `maxHeldBytes` (but for a body larger than any
   * before it). At least one when nothing is held, so a single body over the budget goes through.
   * Before the first body is seen, each counts at the largest body the decoder takes
   * (`maxBodyBytes`): the first one's size then decides the rest.
   */
  #fitting(): number {
    const { maxBytes, held, largest, firstGuess } = this.#budget;
    if (maxBytes === Number.POSITIVE_INFINITY) return maxBytes;
    const size = largest() === 0 ? firstGuess : largest();
    const more = Math.max(0, Math.floor((maxBytes - held()) / size));
    return this.#held() === 0 ? Math.max(1, more) : more;
  }

  /**
   * When nothing is held and messages flow, asks the broker whether it has anything left (AMQP
   * drain), once per run of messages and only after {@link DRY_CHECK_QUIET_MS} without an arrival:
   * its answer without a message in between means the queue has run dry.
   */
  maybeDrain(): void {
    if (!this.#wantsDryCheck() || this.#dryCheck !== undefined) return;
    this.#armDryCheck();
  }

  #wantsDryCheck(): boolean {
    const link = this.#link;
    if (link === undefined || link.state !== 'open' || link.draining || this.mode !== 'flowing') return false;
    if (this.#held() > 0 || link.outstandingCredit === 0) return false;
    return !(this.#sinceDrain === 0 && this.#drainedOnLink === link);
  }

  #armDryCheck(): void {
    this.#dryCheckAt = this.#received;
    this.#dryCheck = setTimeout(() => {
      this.#dryCheck = undefined;
      if (!this.#wantsDryCheck()) return;
      // Something arrived meanwhile: still flowing; look again after a quiet period.
      if (this.#received !== this.#dryCheckAt) return this.#armDryCheck();
      this.#sinceDrain = 0;
      this.#link!.drain();
    }, DRY_CHECK_QUIET_MS);
    this.#dryCheck.unref?.();
  }

  #cancelDryCheck(): void {
    clearTimeout(this.#dryCheck);
    this.#dryCheck = undefined;
  }

  /** A drain of `link` is over; `answered` when the broker answered it. */
  onDrained(link: InboundLink, answered: boolean): void {
    if (link !== this.#link) return;
    if (answered && this.#sinceDrain === 0 && this.#held() === 0 && this.mode === 'flowing') {
      this.#drainedOnLink = link;
      this.#onDry();
    }
    this.topUp();
    // Messages that came during the drain may all be done already (no later settlement would
    // ask again): ask again now if so.
    this.maybeDrain();
  }

  /**
   * Takes back the credit the broker holds (AMQP drain: it sends what it can for it, then gives
   * the rest up), so nothing more comes. What does come is handed back by `admit`; each of those
   * uses up credit, so this cannot loop.
   */
  #takeBack(): void {
    const link = this.#link;
    if (link === undefined || link.state !== 'open' || link.draining || link.outstandingCredit === 0) return;
    link.drain();
  }
}
