/** Outage handling settings of {@link OutreachConsumerOptions}. */
export interface OutageOptions {
  /**
   * Declare an outage after this many consecutive failures of *different* messages on their first
   * delivery. A message that failed before (its `deliveryCount` is above 0) neither counts nor
   * breaks the run: a poison message retried again and again must not look like an outage, nor
   * hide one. Any accepted delivery ends the run, and so does any delivery your handler finishes
   * without an error (with `batched`, acceptances come only per batch).
   *
   * @remarks Why 5 and not 3: with 10% of messages failing on their own, three fresh failures in
   * a row happen about once per 1,000 messages, five about once per 100,000. A real outage of a
   * sink fails every message, so five come within the first prefetch window either way.
   * @defaultValue `5` ({@link DEFAULT_OUTAGE_THRESHOLD})
   */
  readonly threshold?: number;
  /**
   * Says whether an error your handler (or batch commit, or `onInvalid` hook) threw means the sink
   * is down, e.g. `ECONNREFUSED`, an HTTP 503, or a CRM's rate-limit answer. Such an error starts an
   * outage at once, without waiting for `threshold` failures. A throwing classifier counts as `false`.
   * @defaultValue none: only `threshold` decides
   */
  readonly isOutage?: (error: unknown) => boolean;
  /**
   * Wait this long before the first probe of an outage; each failed probe doubles it.
   * @defaultValue `1000`
   */
  readonly probeDelayMs?: number;
  /**
   * The cap on the wait between probes.
   * @defaultValue `60000`
   */
  readonly maxProbeDelayMs?: number;
}

/** What the `outage` event carries. */
export interface OutageInfo {
  /** When the outage began. */
  readonly since: Date;
  /**
   * Why: `failures` (consecutive failures of different messages reached the threshold) or
   * `classified` (your `isOutage` said so of an error).
   */
  readonly reason: 'failures' | 'classified';
  /** The consecutive failures of different messages counted when it began. */
  readonly failures: number;
}

/** What the `recovered` event carries. */
export interface RecoveryInfo {
  /** When the outage began. */
  readonly since: Date;
  /** How long it lasted. */
  readonly durationMs: number;
  /** How many probes failed before one succeeded. */
  readonly failedProbes: number;
}

/** Default {@link OutageOptions.threshold}. */
export const DEFAULT_OUTAGE_THRESHOLD = 5;
/** @internal Default {@link OutageOptions.probeDelayMs}. */
export const DEFAULT_PROBE_DELAY_MS = 1000;
/** @internal Default {@link OutageOptions.maxProbeDelayMs}. */
export const DEFAULT_MAX_PROBE_DELAY_MS = 60_000;

/** @internal Resolved outage settings. */
export interface OutageSettings {
  readonly threshold: number;
  readonly isOutage: ((error: unknown) => boolean) | undefined;
  readonly probeDelayMs: number;
  readonly maxProbeDelayMs: number;
}

/** @internal What a failure meant. */
export type FailureVerdict = 'alone' | 'outage';

/**
 * @internal Tells a message's own failure from its sink being down. Pure: no timers, no I/O; the
 * consumer acts on its verdicts (stop credit, hand back, probe).
 */
export class OutageDetector {
  readonly #settings: OutageSettings;
  readonly #now: () => number;
  /** Keys of the different messages that failed fresh since the last acceptance. */
  readonly #run = new Set<unknown>();
  #since: number | undefined;
  #failedProbes = 0;

  constructor(settings: OutageSettings, now: () => number = Date.now) {
    this.#settings = settings;
    this.#now = now;
  }

  /** Whether an outage is under way. */
  get active(): boolean {
    return this.#since !== undefined;
  }

  /** When the current outage began. */
  get since(): Date | undefined {
    return this.#since === undefined ? undefined : new Date(this.#since);
  }

  /** Probes that failed in the current outage. */
  get failedProbes(): number {
    return this.#failedProbes;
  }

  /** Consecutive fresh failures of different messages counted now. */
  get failures(): number {
    return this.#run.size;
  }

  /**
   * Records a failure. Returns `outage` when one is under way (begun now or before), with
   * `began` set when this failure began it.
   *
   * @param key - the message's identity (its message id, or the delivery itself without one)
   * @param deliveryCount - the broker's count: above 0, the message failed before on its own
   */
  failure(key: unknown, deliveryCount: number, error: unknown): { verdict: FailureVerdict; began?: OutageInfo } {
    if (this.#since !== undefined) return { verdict: 'outage' };
    if (this.#classify(error)) return { verdict: 'outage', began: this.#begin('classified') };
    if (deliveryCount === 0) {
      this.#run.add(key);
      if (this.#run.size >= this.#settings.threshold) return { verdict: 'outage', began: this.#begin('failures') };
    }
    return { verdict: 'alone' };
  }

  /**
   * Records a delivery your handler finished without an error: the run of failures ends, as with
   * an acceptance, but an outage does not (only an accepted delivery proves the sink is back).
   *
   * @remarks With `batched`, deliveries are accepted only when a batch commits, so between
   * commits only the handler's successes show that messages still go through: without them, a
   * few messages failing alone within one batch would look like an outage.
   */
  handled(): void {
    if (this.#since === undefined) this.#run.clear();
  }

  /** Records an accepted delivery: the run ends, and so does an outage (returned). */
  success(): RecoveryInfo | undefined {
    this.#run.clear();
    if (this.#since === undefined) return undefined;
    const since = this.#since;
    const info: RecoveryInfo = { since: new Date(since), durationMs: this.#now() - since, failedProbes: this.#failedProbes };
    this.#since = undefined;
    this.#failedProbes = 0;
    return info;
  }

  /**
   * A probe failed. The wait before the next one doubles (capped), and the next one may take one
   * more message: a message that fails on its own at the head of the queue (where a handed-back
   * message returns) cannot keep an outage going after the sink is back.
   */
  probeFailed(): void {
    this.#failedProbes++;
  }

  /** The wait before the next probe. */
  nextProbeDelayMs(): number {
    const { probeDelayMs, maxProbeDelayMs } = this.#settings;
    return Math.min(maxProbeDelayMs, probeDelayMs * 2 ** Math.min(this.#failedProbes, 30));
  }

  /** How many messages the next probe may take (at most `limit`). */
  probeSize(limit: number): number {
    return Math.max(1, Math.min(limit, 1 + this.#failedProbes));
  }

  #begin(reason: OutageInfo['reason']): OutageInfo {
    const failures = this.#run.size;
    this.#since = this.#now();
    this.#failedProbes = 0;
    this.#run.clear();
    return { since: new Date(this.#since), reason, failures };
  }

  #classify(error: unknown): boolean {
    const classify = this.#settings.isOutage;
    if (classify === undefined) return false;
    try {
      return classify(error) === true;
    } catch {
      return false;
    }
  }
}
