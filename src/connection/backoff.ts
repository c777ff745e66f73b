/** Reconnection settings of {@link OutreachConsumerOptions}. */
export interface ReconnectOptions {
  /**
   * Delay before the second round of attempts; it doubles with each round that fails. A round
   * tries every endpoint once (the standby of an active/standby pair right after the active). While
   * it waits, the consumer knocks on the endpoints that refused it (a TCP connect, four times a
   * second) and tries the first one that accepts at once: a standby is reached the moment it
   * serves, whatever the delay. An endpoint that accepted TCP and then failed is not knocked on.
   * @defaultValue `250`
   */
  readonly initialDelayMs?: number;
  /**
   * The cap on the delay between attempts.
   * @defaultValue `30000`
   */
  readonly maxDelayMs?: number;
  /**
   * Give up after this many consecutive failed attempts (the consumer then fails with the last
   * error). Authentication and TLS failures are not retried at all.
   * @defaultValue `Infinity`: a broker in maintenance must not stop the consumer for good
   */
  readonly maxAttempts?: number;
}

/**
 * @internal Delay before attempt `failures + 1`: exponential, capped, with "equal jitter" (half
 * fixed, half random) so a fleet of consumers does not reconnect in step. The first attempt
 * after a drop goes at once, to the other endpoint of an active/standby pair.
 */
export function backoffDelay(failures: number, options: Required<ReconnectOptions>, random: () => number = Math.random): number {
  if (failures <= 0) return 0;
  const ceiling = Math.min(options.maxDelayMs, options.initialDelayMs * 2 ** Math.min(failures - 1, 30));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/**
 * @internal Delay before the next attempt after `failures` failed ones in a row, over
 * `endpoints` endpoints: none within a round (each endpoint is tried once, back to back), the
 * back-off of the rounds failed so far between rounds.
 */
export function roundDelay(failures: number, endpoints: number, options: Required<ReconnectOptions>, random: () => number = Math.random): number {
  if (failures <= 0 || failures % Math.max(1, endpoints) !== 0) return 0;
  return backoffDelay(failures / Math.max(1, endpoints), options, random);
}
