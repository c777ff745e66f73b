import { atLeastOnce } from '../ack/strategies.js';
import { MAX_TIMER_MS } from '../timers.js';
import type { AckStrategy } from '../ack/strategy.js';
import type { LinkSettings } from '../connection/amqp-link.js';
import type { ReconnectOptions } from '../connection/backoff.js';
import { parseEndpoints, type BrokerEndpoint } from '../connection/endpoints.js';
import { OutreachError } from '../errors/outreach-error.js';
import { checkMaxBytes, DEFAULT_MAX_BODY_BYTES, type DecodeOptions } from '../message/decode.js';
import { resolveTelemetry, type TelemetrySettings } from '../telemetry/options.js';
import { resolveLogger, type OutreachLogger } from '../logger.js';
import { resolveJournal, type JournalSettings } from '../journal/options.js';
import type { InvalidMessage, InvalidMessagePolicy, OutreachConsumerOptions } from './options.js';
import { DEFAULT_MAX_PROBE_DELAY_MS, DEFAULT_OUTAGE_THRESHOLD, DEFAULT_PROBE_DELAY_MS, type OutageSettings } from './outage.js';

// Every default and limit of the consumer, named, in one place.

/**
 * Default `prefetch`: the window the peers use (rhea users, Qpid JMS tuned for AMQP), measured
 * against them on persistent messages (docs/benchmarks.md). Big bodies are bounded by bytes
 * (`maxHeldBytes`), not by this: a backlog of campaigns holds a few at a time.
 */
export const DEFAULT_PREFETCH = 100;
/** Default `maxHeldBytes`: 32 MiB of bodies (a handful of campaign-sized messages; thousands of small ones). */
export const DEFAULT_MAX_HELD_BYTES = 32 * 1024 * 1024;
/** @internal Default `maxWaitingRetries`, per unit of `prefetch`. */
export const WAITING_RETRIES_PER_PREFETCH = 10;
/** @internal */
export const DEFAULT_CONNECT_TIMEOUT_MS = 15_000;
/** @internal */
export const DEFAULT_IDLE_TIMEOUT_MS = 15_000;
/** @internal rhea's heartbeat needs a whole number of seconds to mean anything. */
export const MIN_IDLE_TIMEOUT_MS = 1000;
/** @internal */
export const DEFAULT_RECONNECT: Required<ReconnectOptions> = { initialDelayMs: 250, maxDelayMs: 30_000, maxAttempts: Number.POSITIVE_INFINITY };
/** @internal Default `close()` deadline. */
export const DEFAULT_CLOSE_DEADLINE_MS = 30_000;
/** @internal How long a link may take to detach and close at `close()`. */
export const LINK_CLOSE_TIMEOUT_MS = 5_000;
/** @internal How long a link of a failed consumer may take to close. */
export const FAILED_LINK_CLOSE_TIMEOUT_MS = 2_000;
/** @internal Attempts at an undecodable message whose `onInvalid` hook keeps failing, counting the first. */
export const INVALID_HOOK_ATTEMPTS = 5;
/** @internal Issues of an undecodable message written to the log (the error keeps more). */
export const LOGGED_ISSUES = 10;

/** @internal The consumer's options, checked and with every default filled in. */
export interface ConsumerSettings<A> {
  readonly endpoints: readonly BrokerEndpoint[];
  readonly link: LinkSettings;
  readonly reconnect: Required<ReconnectOptions>;
  readonly prefetch: number;
  readonly maxHeldBytes: number;
  readonly maxWaitingRetries: number;
  readonly strategy: AckStrategy<A>;
  readonly decode: DecodeOptions<A>;
  readonly onInvalid: ((invalid: InvalidMessage) => void | Promise<void>) | undefined;
  readonly invalidPolicy: InvalidMessagePolicy;
  readonly logger: OutreachLogger;
  /** `undefined` when outage handling is turned off. */
  readonly outage: OutageSettings | undefined;
  /** `undefined` when telemetry is turned off. */
  readonly telemetry: TelemetrySettings;
  /** `undefined` unless journal mode is on. */
  readonly journal: JournalSettings | undefined;
}

/**
 * @internal Checks every option and fills in the defaults.
 * @throws {@link OutreachError} `INVALID_ARGUMENT` naming the option, or `INSECURE_URL`
 */
export function resolveSettings<A>(options: OutreachConsumerOptions<A>): ConsumerSettings<A> {
  if (options === null || typeof options !== 'object') throw new OutreachError('INVALID_ARGUMENT', 'options must be an object');
  const endpoints = parseEndpoints(options.url, options.allowInsecure ?? false);
  for (const [name, value] of [
    ['username', options.username],
    ['password', options.password],
    ['queue', options.queue],
  ] as const) {
    if (typeof value !== 'string' || value.length === 0) {
      throw new OutreachError('INVALID_ARGUMENT', `${name} must be a non-empty string`);
    }
  }
  // ActiveMQ reads a comma as "several queues" and `*`, `>` as wildcards: on a consumer that
  // would drain queues the user never named. Civitas gives one plain queue name.
  if (/[,*>]/.test(options.queue)) {
    throw new OutreachError('INVALID_ARGUMENT', 'queue must be one queue name: ActiveMQ reads "," as several queues and "*", ">" as wildcards');
  }
  const prefetch = integer('prefetch', options.prefetch, DEFAULT_PREFETCH, 1, 1_000_000);
  const strategy = options.strategy ?? atLeastOnce<A>();
  strategy.validate?.(prefetch);
  const reconnect = options.reconnect ?? {};
  const initialDelayMs = integer('reconnect.initialDelayMs', reconnect.initialDelayMs, DEFAULT_RECONNECT.initialDelayMs, 0, MAX_TIMER_MS);
  const resolvedReconnect: Required<ReconnectOptions> = {
    initialDelayMs,
    maxDelayMs: integer('reconnect.maxDelayMs', reconnect.maxDelayMs, DEFAULT_RECONNECT.maxDelayMs, initialDelayMs, MAX_TIMER_MS),
    maxAttempts:
      reconnect.maxAttempts === Number.POSITIVE_INFINITY
        ? reconnect.maxAttempts
        : integer('reconnect.maxAttempts', reconnect.maxAttempts, DEFAULT_RECONNECT.maxAttempts, 1, Number.MAX_SAFE_INTEGER),
  };
  const maxBytes = checkMaxBytes(options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES, 'maxBodyBytes');
  const invalidPolicy = options.invalidPolicy ?? 'reject';
  if (invalidPolicy !== 'reject' && invalidPolicy !== 'accept') {
    throw new OutreachError('INVALID_ARGUMENT', "invalidPolicy must be 'reject' or 'accept'");
  }
  if (options.onInvalid !== undefined && typeof options.onInvalid !== 'function') {
    throw new OutreachError('INVALID_ARGUMENT', 'onInvalid must be a function');
  }
  return {
    endpoints,
    link: {
      queue: options.queue,
      username: options.username,
      password: options.password,
      ca: options.ca,
      servername: options.servername,
      connectTimeoutMs: integer('connectTimeoutMs', options.connectTimeoutMs, DEFAULT_CONNECT_TIMEOUT_MS, 1, MAX_TIMER_MS),
      idleTimeoutMs: integer('idleTimeoutMs', options.idleTimeoutMs, DEFAULT_IDLE_TIMEOUT_MS, MIN_IDLE_TIMEOUT_MS, Math.floor(MAX_TIMER_MS / 2)),
    },
    reconnect: resolvedReconnect,
    prefetch,
    maxHeldBytes: integer('maxHeldBytes', options.maxHeldBytes, DEFAULT_MAX_HELD_BYTES, 1, Number.MAX_SAFE_INTEGER),
    maxWaitingRetries: integer('maxWaitingRetries', options.maxWaitingRetries, WAITING_RETRIES_PER_PREFETCH * prefetch, 0, 10_000_000),
    strategy,
    decode: options.codec === undefined ? { maxBytes } : { maxBytes, codec: options.codec },
    onInvalid: options.onInvalid,
    invalidPolicy,
    logger: resolveLogger(options.logger),
    outage: resolveOutage(options.outage),
    telemetry: resolveTelemetry(options.telemetry),
    journal: resolveJournal(options.journal),
  };
}

function resolveOutage(outage: OutreachConsumerOptions<unknown>['outage']): OutageSettings | undefined {
  if (outage === false) return undefined;
  const given = outage ?? {};
  if (given.isOutage !== undefined && typeof given.isOutage !== 'function') {
    throw new OutreachError('INVALID_ARGUMENT', 'outage.isOutage must be a function');
  }
  const probeDelayMs = integer('outage.probeDelayMs', given.probeDelayMs, DEFAULT_PROBE_DELAY_MS, 1, MAX_TIMER_MS);
  return {
    threshold: integer('outage.threshold', given.threshold, DEFAULT_OUTAGE_THRESHOLD, 1, 1_000_000),
    isOutage: given.isOutage,
    probeDelayMs,
    maxProbeDelayMs: integer('outage.maxProbeDelayMs', given.maxProbeDelayMs, DEFAULT_MAX_PROBE_DELAY_MS, probeDelayMs, MAX_TIMER_MS),
  };
}

/**
 * @internal An integer option from `min` to `max`, or its default when absent.
 * @throws {@link OutreachError} `INVALID_ARGUMENT` naming the option (NaN, fractions and
 *   out-of-range values included)
 */
export function integer(name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new OutreachError('INVALID_ARGUMENT', `${name} must be an integer from ${min} to ${max}`);
  }
  return value;
}
