import type { CreditGate } from './credit-gate.js';
import type { OutreachDelivery, SettleOutcome } from '../delivery/delivery.js';
import type { InFlightTable } from './in-flight.js';
import type { OutreachLogger } from '../logger.js';
import type { OutageHealth } from './options.js';
import { OutageDetector, type OutageInfo, type OutageSettings, type RecoveryInfo } from './outage.js';

/** @internal What outage control needs of the consumer. */
export interface OutageHost {
  readonly gate: CreditGate;
  readonly table: InFlightTable<unknown>;
  readonly prefetch: number;
  readonly logger: OutreachLogger;
  /** Whether the consumer is closing, closed or failed. */
  ending(): boolean;
  /** Hands back every held delivery not in user code (buffered, waiting to be retried) but `except`. */
  handBack(except: OutreachDelivery<unknown>): void;
  /** Ends every retry wait now. */
  wakeWaiting(): void;
  outage(info: OutageInfo): void;
  recovered(info: RecoveryInfo): void;
  /** Whether credit is wanted changed: the consumer closes or reopens its link accordingly. */
  flowChanged(): void;
}

/**
 * @internal How long a probe round whose messages have all failed waits for the rest of its
 * messages before it counts as failed (the queue may hold no more).
 */
export const PROBE_ROUND_QUIET_MS = 1_000;

/**
 * @internal Acts on the outage detector's verdicts: when an outage begins, stops the flow (credit
 * gate) and hands back what waits; schedules probes on a capped backoff and lets their messages
 * through; ends the outage on the first accepted delivery.
 */
export class OutageControl {
  readonly #detector: OutageDetector;
  readonly #host: OutageHost;
  /** Probes of the current round not yet settled. */
  readonly #probes = new Set<OutreachDelivery<unknown>>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Every probe of the round failed but it may let more through: ends the round if none comes. */
  #quiet: ReturnType<typeof setTimeout> | undefined;
  #nextProbeAt: Date | undefined;

  constructor(settings: OutageSettings, host: OutageHost) {
    this.#detector = new OutageDetector(settings);
    this.#host = host;
  }

  /** Whether an outage is under way (this is the one place that knows). */
  get active(): boolean {
    return this.#detector.active;
  }

  /** The outage under way, for `health()`. */
  health(): OutageHealth | undefined {
    const detector = this.#detector;
    // While paused no probe is due: the timer may still run out, but its probe waits for resume().
    const nextProbeAt = this.#host.gate.paused ? undefined : this.#nextProbeAt;
    return detector.active ? { since: detector.since!, failedProbes: detector.failedProbes, nextProbeAt } : undefined;
  }

  /**
   * Tells the detector of a failure (once per delivery). Returns whether an outage is under way;
   * if so and `handBack`, the delivery is handed back (released, attempts not spent).
   */
  noteFailure(delivery: OutreachDelivery<unknown>, error: unknown, handBack: boolean): boolean {
    let outage = this.#detector.active;
    if (this.#host.table.noteFailureOnce(delivery)) {
      const { verdict, began } = this.#detector.failure(delivery.messageId ?? delivery, delivery.deliveryCount, error);
      outage = verdict === 'outage';
      if (began !== undefined) this.#begin(began, delivery);
    }
    if (outage && handBack && delivery.state.kind === 'open') delivery.release();
    return outage;
  }

  /** The handler finished a delivery without an error: a run of failures ends (not an outage). */
  handled(): void {
    this.#detector.handled();
  }

  /** A delivery the gate let through as a probe. */
  probeAdmitted(delivery: OutreachDelivery<unknown>): void {
    this.#clearQuiet();
    this.#probes.add(delivery);
  }

  /**
   * A delivery is being accepted: the sink took it, so an outage ends. Told when the acceptance is
   * decided, not when it is written a turn later, so that one decided before an outage began does
   * not end it.
   */
  accepting(): void {
    this.#recover();
  }

  /**
   * A delivery was settled (or found lost): a failed probe round schedules the next. A round has
   * failed once every message it let through has failed and it may let no more through: a message
   * that fails on its own at the head of the queue (handed back, it comes first again) cannot end
   * a round before the round's other messages had their chance.
   */
  settled(delivery: OutreachDelivery<unknown>, outcome: SettleOutcome): void {
    if (outcome === 'accepted' || !this.#probes.delete(delivery)) return;
    if (this.#probes.size > 0) return;
    if (this.#host.gate.probesLeft === 0) return this.#probeRoundFailed();
    // The queue may hold nothing more to probe with: the round fails after a quiet period.
    this.#clearQuiet();
    this.#quiet = setTimeout(() => {
      this.#quiet = undefined;
      if (this.#probes.size === 0) this.#probeRoundFailed();
    }, PROBE_ROUND_QUIET_MS);
    this.#quiet.unref?.();
  }

  /** A new link opened: probes of the lost one went with it; probe again on this one. */
  reconnected(): void {
    if (!this.#detector.active) return;
    this.#probes.clear();
    this.#host.gate.openProbe(0);
    this.#schedule();
  }

  /** The consumer is closing or failed: no more probes. */
  stop(): void {
    this.#clearTimer();
  }

  #begin(info: OutageInfo, except: OutreachDelivery<unknown>): void {
    this.#host.logger.warn({ reason: info.reason, failures: info.failures }, 'sink outage: pausing; held messages handed back');
    this.#host.gate.beginOutage();
    this.#probes.clear();
    this.#host.outage(info);
    this.#host.handBack(except);
    this.#host.wakeWaiting();
    this.#schedule();
    this.#host.flowChanged();
  }

  #schedule(): void {
    this.#clearTimer();
    const delayMs = this.#detector.nextProbeDelayMs();
    this.#nextProbeAt = new Date(Date.now() + delayMs);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#nextProbeAt = undefined;
      if (!this.#detector.active || this.#host.ending()) return;
      const size = this.#detector.probeSize(this.#host.prefetch);
      this.#host.logger.info({ size, failedProbes: this.#detector.failedProbes }, 'outage: probing');
      this.#host.gate.openProbe(size);
      this.#host.flowChanged();
    }, delayMs);
  }

  #probeRoundFailed(): void {
    if (!this.#detector.active || this.#host.ending() || this.#timer !== undefined) return;
    this.#detector.probeFailed();
    this.#host.gate.openProbe(0);
    this.#schedule();
    this.#host.flowChanged();
  }

  #recover(): void {
    const info = this.#detector.success();
    if (info === undefined) return;
    this.#clearTimer();
    this.#probes.clear();
    this.#host.logger.info({ durationMs: info.durationMs, failedProbes: info.failedProbes }, 'sink recovered: resuming');
    this.#host.gate.endOutage();
    this.#host.recovered(info);
    this.#host.flowChanged();
  }

  #clearQuiet(): void {
    clearTimeout(this.#quiet);
    this.#quiet = undefined;
  }

  #clearTimer(): void {
    this.#clearQuiet();
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#nextProbeAt = undefined;
  }
}
