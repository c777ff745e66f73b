import * as t from 'io-ts';

/**
 * A Civitas timestamp exactly as it arrived, e.g. `2018-06-11T19:35:15.366848`.
 *
 * @remarks
 * The service sends ISO-8601 local date-times without a zone and with microseconds. The decoder
 * checks that the text is such a date-time and that the date exists (no 30 February), and keeps the
 * original string so nothing is lost. Read it as an instant with {@link parseCivitasTimestamp} or
 * {@link civitasTimestampToDate}.
 */
export type CivitasTimestamp = string;

/** A {@link CivitasTimestamp} read as an instant, with nothing dropped. */
export interface CivitasInstant {
  /** The original text. */
  readonly text: string;
  /** The instant as a `Date`: milliseconds precision, the sub-millisecond digits truncated. */
  readonly date: Date;
  /** Microseconds since 1970-01-01T00:00:00Z, exact (digits past the sixth are truncated). */
  readonly epochMicros: bigint;
  /** Whether the text carried a zone (`Z` or `±hh:mm`); when it did not, it was read as UTC. */
  readonly hadZone: boolean;
}

const PATTERN =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?(Z|[+-]\d{2}(?::?\d{2})?)?$/;

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] as const;

function isLeap(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

/**
 * Reads a Civitas timestamp as an instant, by one documented rule.
 *
 * @remarks
 * The rule: `YYYY-MM-DDThh:mm:ss[.fraction][zone]`, with a space accepted for `T` and up to nine
 * fraction digits. Text without a zone is read as **UTC** (Civitas stores UTC; `new Date(text)`
 * would read it as the machine's local time and drop the microseconds). A `Z` or `±hh:mm` zone is
 * honoured. The date must exist: month 1–12, the day within the month (leap years counted), hours
 * 0–23, minutes and seconds 0–59. Returns `undefined` for anything else.
 *
 * @example
 * ```ts
 * const at = parseCivitasTimestamp('2018-06-11T19:35:15.366848');
 * at?.date.toISOString(); // '2018-06-11T19:35:15.366Z'
 * at?.epochMicros;        // 1528745715366848n
 * ```
 */
export function parseCivitasTimestamp(text: string): CivitasInstant | undefined {
  const parts = matchTimestamp(text);
  if (parts === undefined) return undefined;
  const { year, month, day, hour, minute, second, micros, offsetMinutes, hadZone } = parts;
  const base = new Date(0);
  base.setUTCFullYear(year, month - 1, day);
  base.setUTCHours(hour, minute, second, 0);
  const epochSecondsMs = base.getTime() - offsetMinutes * 60_000;
  return {
    text,
    date: new Date(epochSecondsMs + Math.floor(micros / 1000)),
    epochMicros: BigInt(epochSecondsMs) * 1000n + BigInt(micros),
    hadZone,
  };
}

interface TimestampParts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  micros: number;
  offsetMinutes: number;
  hadZone: boolean;
}

function matchTimestamp(text: string): TimestampParts | undefined {
  if (text.length > 40) return undefined;
  const m = PATTERN.exec(text);
  if (m === null) return undefined;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  const second = Number(m[6]);
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return undefined;
  const monthDays = month === 2 && isLeap(year) ? 29 : DAYS_IN_MONTH[month - 1]!;
  if (day > monthDays) return undefined;
  let offsetMinutes = 0;
  const zone = m[8];
  if (zone !== undefined && zone !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    const hours = Number(digits.slice(0, 2));
    const minutes = digits.length > 2 ? Number(digits.slice(2, 4)) : 0;
    if (hours > 23 || minutes > 59) return undefined;
    offsetMinutes = sign * (hours * 60 + minutes);
  }
  const fraction = m[7];
  const micros = fraction === undefined ? 0 : Number(fraction.padEnd(6, '0').slice(0, 6));
  return { year, month, day, hour, minute, second, micros, offsetMinutes, hadZone: zone !== undefined };
}

/**
 * Reads a Civitas timestamp as a `Date` by the rule of {@link parseCivitasTimestamp}.
 *
 * @returns the `Date` (microseconds truncated to milliseconds), or `undefined` if the text is not a
 * valid timestamp. Timestamps inside a decoded outreach are always valid.
 *
 * @example
 * ```ts
 * civitasTimestampToDate(outreach.createdAt)?.toISOString();
 * ```
 */
export function civitasTimestampToDate(text: string): Date | undefined {
  return parseCivitasTimestamp(text)?.date;
}

/** @internal Validates a timestamp's text; the decoded value is the original string. */
export const CivitasTimestampCodec = new t.Type<CivitasTimestamp, CivitasTimestamp, unknown>(
  'timestamp',
  (u): u is CivitasTimestamp => typeof u === 'string' && isValidTimestamp(u),
  (u, c) =>
    typeof u === 'string'
      ? isValidTimestamp(u)
        ? t.success(u)
        : t.failure(u, c, 'expected a date-time that exists, like 2018-06-11T19:35:15.366848')
      : t.failure(u, c),
  t.identity,
);

function isValidTimestamp(text: string): boolean {
  return matchTimestamp(text) !== undefined;
}
