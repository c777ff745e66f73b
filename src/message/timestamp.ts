import { FAIL, Field } from './fields.js';

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

/** Reads `count` decimal digits at `at`; -1 if any is not a digit. */
function digits(text: string, at: number, count: number): number {
  let n = 0;
  for (let i = at; i < at + count; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

/** The rule of {@link parseCivitasTimestamp}, by character codes: no regex, no substrings. */
function matchTimestamp(text: string): TimestampParts | undefined {
  const length = text.length;
  if (length < 19 || length > 40) return undefined;
  const year = digits(text, 0, 4);
  const month = digits(text, 5, 2);
  const day = digits(text, 8, 2);
  const hour = digits(text, 11, 2);
  const minute = digits(text, 14, 2);
  const second = digits(text, 17, 2);
  const t = text.charCodeAt(10);
  if (
    year < 0 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59 ||
    second < 0 || second > 59 || text.charCodeAt(4) !== 45 || text.charCodeAt(7) !== 45 ||
    (t !== 84 && t !== 32) || text.charCodeAt(13) !== 58 || text.charCodeAt(16) !== 58
  ) {
    return undefined;
  }
  const monthDays = month === 2 && isLeap(year) ? 29 : DAYS_IN_MONTH[month - 1]!;
  if (day > monthDays) return undefined;

  let at = 19;
  let micros = 0;
  const dot = text.charCodeAt(at);
  if (dot === 46 || dot === 44) {
    let count = 0;
    at++;
    while (at < length) {
      const d = text.charCodeAt(at) - 48;
      if (d < 0 || d > 9) break;
      if (count < 6) micros = micros * 10 + d;
      count++;
      at++;
    }
    if (count === 0 || count > 9) return undefined;
    for (let i = count; i < 6; i++) micros *= 10;
  }
  let offsetMinutes = 0;
  let hadZone = false;
  if (at < length) {
    hadZone = true;
    const sign = text.charCodeAt(at);
    if (sign === 90 && at + 1 === length) {
      // 'Z'
    } else if (sign === 43 || sign === 45) {
      const rest = length - at - 1;
      const hours = digits(text, at + 1, 2);
      let minutes = 0;
      if (rest === 5 && text.charCodeAt(at + 3) === 58) minutes = digits(text, at + 4, 2);
      else if (rest === 4) minutes = digits(text, at + 3, 2);
      else if (rest !== 2) return undefined;
      if (hours < 0 || hours > 23 || minutes < 0 || minutes > 59) return undefined;
      offsetMinutes = (sign === 45 ? -1 : 1) * (hours * 60 + minutes);
    } else {
      return undefined;
    }
  }
  return { year, month, day, hour, minute, second, micros, offsetMinutes, hadZone };
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

/**
 * The last text the check accepted. An outreach repeats one timestamp in its students and
 * properties, so most checks are one string comparison (`''` is never valid).
 */
let lastValid = '';

function isValidTimestamp(text: string): boolean {
  if (matchTimestamp(text) === undefined) return false;
  lastValid = text;
  return true;
}

/** @internal Validates a timestamp's text; the decoded value is the original string. */
export const CivitasTimestampCodec = new Field<CivitasTimestamp>(
  'timestamp',
  (u) => (typeof u === 'string' && (u === lastValid || isValidTimestamp(u)) ? u : FAIL),
  undefined,
  'scalar',
  'expected a date-time that exists, like 2018-06-11T19:35:15.366848',
);
