import { OutreachError } from '../errors/outreach-error.js';

/** Options of {@link DuplicateFilter}. */
export interface DuplicateFilterOptions {
  /**
   * How many keys to remember; the oldest are forgotten first.
   * @defaultValue `10000`
   */
  readonly maxKeys?: number;
  /**
   * Forget a key after this long.
   * @defaultValue `3600000` (one hour)
   */
  readonly ttlMs?: number;
}

/**
 * Remembers which messages were processed, so a redelivery after a reconnect can be skipped.
 *
 * @remarks
 * Duplicates are normal with at-least-once delivery: a message whose settlement was lost with a
 * connection is delivered again. Key on `delivery.outreach.outreachId` (stable across a
 * re-publish) or `delivery.messageId`. Call {@link DuplicateFilter.remember} only after your work
 * succeeded, so a failed attempt is not skipped next time. Memory only, bounded by `maxKeys`:
 * across restarts, make the sink idempotent too (an upsert keyed by `outreachId`).
 *
 * @example
 * ```ts
 * const seen = new DuplicateFilter({ maxKeys: 50_000 });
 * await consumer.start(async (delivery) => {
 *   const key = delivery.outreach.outreachId;
 *   if (seen.has(key)) return; // accepted by the strategy, not processed twice
 *   await crm.upsert(delivery.outreach);
 *   seen.remember(key);
 * });
 * ```
 */
export class DuplicateFilter {
  readonly #maxKeys: number;
  readonly #ttlMs: number;
  readonly #seen = new Map<string, number>();
  readonly #now: () => number;

  /**
   * @param options - bounds on memory and age
   * @param now - clock, for tests
   */
  constructor(options: DuplicateFilterOptions = {}, now: () => number = Date.now) {
    this.#maxKeys = options.maxKeys ?? 10_000;
    this.#ttlMs = options.ttlMs ?? 3_600_000;
    if (!Number.isInteger(this.#maxKeys) || this.#maxKeys < 1) throw new OutreachError('INVALID_ARGUMENT', 'maxKeys must be an integer of at least 1');
    if (!(this.#ttlMs > 0)) throw new OutreachError('INVALID_ARGUMENT', 'ttlMs must be positive');
    this.#now = now;
  }

  /** Whether `key` was remembered within the last `ttlMs`. */
  has(key: string | number): boolean {
    const k = String(key);
    const at = this.#seen.get(k);
    if (at === undefined) return false;
    if (this.#now() - at > this.#ttlMs) {
      this.#seen.delete(k);
      return false;
    }
    return true;
  }

  /** Remembers `key` as processed, forgetting the oldest key when full. */
  remember(key: string | number): void {
    const k = String(key);
    this.#seen.delete(k);
    this.#seen.set(k, this.#now());
    while (this.#seen.size > this.#maxKeys) {
      const oldest = this.#seen.keys().next().value as string;
      this.#seen.delete(oldest);
    }
  }

  /** How many keys are remembered now. */
  get size(): number {
    return this.#seen.size;
  }
}
