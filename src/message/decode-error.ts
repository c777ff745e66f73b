import { inspect } from 'node:util';
import type * as t from 'io-ts';
import { OutreachError, type OutreachErrorOptions } from '../errors/outreach-error.js';

/**
 * Why a body could not be decoded.
 *
 * - `not-json`: the body is not UTF-8 text holding one JSON value.
 * - `too-large`: the body is larger than the `maxBytes` option allows; it was not parsed.
 * - `wrong-shape`: the JSON is not an outreach; {@link OutreachDecodeError.issues} says where. Also
 *   when a codec of your own throws (the thrown value is the error's `cause`).
 * - `unsupported-body`: the AMQP body is of a kind that cannot hold JSON text (e.g. an
 *   `amqp-sequence`, a number, `null`), or an object that cannot be read: a getter or a `Proxy`
 *   trap threw, or the proxy is revoked (the thrown value is the error's `cause`).
 */
export type DecodeErrorKind = 'not-json' | 'too-large' | 'wrong-shape' | 'unsupported-body';

/** One place where a decoded JSON value did not fit the codec. */
export interface DecodeIssue {
  /** Where, in JavaScript notation from the message root: `students[0].emailAddress`; `''` for the root. */
  readonly path: string;
  /** What the codec wanted there, e.g. `string`, `timestamp`. */
  readonly expected: string;
  /** The JSON type found there (`number`, `null`, `missing`…), never the value itself. */
  readonly actual: string;
  /** A sentence of the codec's own when it gave one. */
  readonly detail?: string;
}

/** What `JSON.stringify` of an {@link OutreachDecodeError} prints: everything but the body. */
export interface DecodeErrorSummary {
  /** Always `OutreachDecodeError`. */
  readonly name: string;
  /** Always `DECODE_FAILED`. */
  readonly code: string;
  /** Why decoding failed. */
  readonly kind: DecodeErrorKind;
  /** The error's message. */
  readonly message: string;
  /** The places that did not fit, at most {@link MAX_DECODE_ISSUES}. */
  readonly issues: readonly DecodeIssue[];
  /** Whether there were more issues than `issues` lists. */
  readonly issuesTruncated: boolean;
}

/**
 * The most issues an {@link OutreachDecodeError} lists: 100.
 *
 * @remarks
 * A body of a few megabytes can hold millions of misplaced values (`"students": [1, 1, 1, …]`).
 * With the library's codecs the decoder stops looking once it has found more than this many, so a
 * wrong shape costs no more than a right one; with a plain io-ts codec of your own it keeps only
 * this many. Either way it sets {@link OutreachDecodeError.issuesTruncated} when there were more.
 */
export const MAX_DECODE_ISSUES = 100;

/** How many issues the message of an {@link OutreachDecodeError} lists before "and N more". */
const MESSAGE_ISSUES = 3;

/** Options of the {@link OutreachDecodeError} constructor. */
export interface OutreachDecodeErrorOptions {
  /**
   * What was thrown, when decoding failed because something threw (a codec of your own, a getter
   * of the body). Kept for debugging; none of its text goes into the message.
   */
  readonly cause?: unknown;
  /**
   * Whether there were more issues than the `issues` given.
   * @defaultValue `false`
   */
  readonly issuesTruncated?: boolean;
}

const rawBodies = new WeakMap<OutreachDecodeError, unknown>();

/**
 * A body that could not be decoded into an outreach.
 *
 * @remarks
 * The message names paths and types only, never values: these are student records (FERPA).
 * At most {@link MAX_DECODE_ISSUES} issues are kept; {@link OutreachDecodeError.issuesTruncated}
 * says whether there were more. The body itself is kept in {@link OutreachDecodeError.raw}, a
 * getter that `console.log`, `util.inspect` and `JSON.stringify` of the error do not print. Hand it
 * to a dead-letter store that is as protected as your CRM.
 *
 * @example
 * ```ts
 * const result = decodeOutreach(body);
 * if (isLeft(result)) {
 *   const err = result.left;
 *   log.warn({ kind: err.kind, issues: err.issues }, err.message);
 *   await quarantine.put(err.raw);
 * }
 * ```
 */
export class OutreachDecodeError extends OutreachError {
  /** Why decoding failed. */
  readonly kind: DecodeErrorKind;
  /**
   * For `wrong-shape`, the places that did not fit, in message order: all of them, or the first
   * {@link MAX_DECODE_ISSUES} when {@link OutreachDecodeError.issuesTruncated}. Empty for the other
   * kinds, and when a codec threw.
   */
  readonly issues: readonly DecodeIssue[];
  /** Whether the body had more issues than {@link OutreachDecodeError.issues} lists. */
  readonly issuesTruncated: boolean;

  /**
   * @param kind - why decoding failed
   * @param message - a sentence free of student data
   * @param raw - the body exactly as it was given to the decoder
   * @param issues - the places that did not fit, for `wrong-shape`
   * @param options - what was thrown, and whether `issues` is cut short
   */
  constructor(
    kind: DecodeErrorKind,
    message: string,
    raw: unknown,
    issues: readonly DecodeIssue[] = [],
    options: OutreachDecodeErrorOptions = {},
  ) {
    const base: OutreachErrorOptions = options.cause === undefined ? {} : { cause: options.cause };
    super('DECODE_FAILED', message, base);
    this.name = 'OutreachDecodeError';
    this.kind = kind;
    this.issues = issues;
    this.issuesTruncated = options.issuesTruncated ?? false;
    rawBodies.set(this, raw);
  }

  /** The body as it arrived (string, bytes, AMQP section or parsed value). Not printed by logs. */
  get raw(): unknown {
    return rawBodies.get(this);
  }

  /** What `JSON.stringify` prints: name, code, kind, message, issues and issuesTruncated; never the body or the cause. */
  toJSON(): DecodeErrorSummary {
    return {
      name: this.name,
      code: this.code,
      kind: this.kind,
      message: this.message,
      issues: this.issues,
      issuesTruncated: this.issuesTruncated,
    };
  }

  /** @internal What `console.log` and `util.inspect` print: as {@link OutreachDecodeError.toJSON}, plus the stack. */
  [inspect.custom](): string {
    return `${this.stack ?? this.message}\n${inspect(this.toJSON(), { depth: 4 })}`;
  }
}

/**
 * @internal Loose JSON type names used in decode messages ("expected string, got number").
 * Never throws: a revoked proxy, which `Array.isArray` throws on, is an `object`.
 */
export function typeOfJson(u: unknown): string {
  if (u === null) return 'null';
  if (typeof u === 'object') {
    try {
      return Array.isArray(u) ? 'array' : 'object';
    } catch {
      return 'object';
    }
  }
  if (typeof u === 'number' && !Number.isFinite(u)) return 'non-finite number';
  return typeof u;
}

/**
 * @internal Turns the first `max` io-ts errors into issues with JavaScript paths and JSON types.
 * Looks at no more than `max` errors, however many there are.
 */
export function toIssues(errors: t.Errors, max: number = MAX_DECODE_ISSUES): DecodeIssue[] {
  const issues: DecodeIssue[] = [];
  const count = Math.min(errors.length, max);
  for (let e = 0; e < count; e++) {
    const error = errors[e]!;
    const context = error.context;
    let path = '';
    for (let i = 1; i < context.length; i++) {
      const parent = context[i - 1]!.type;
      const tag = (parent as { _tag?: string })._tag;
      const key = context[i]!.key;
      if (tag === 'ArrayType' || tag === 'ReadonlyArrayType' || (parent as { kind?: string }).kind === 'list') {
        path += `[${key}]`;
      } else if (tag === undefined || tag === 'InterfaceType' || tag === 'PartialType' || tag === 'StrictType') {
        path += path === '' ? key : `.${key}`;
      }
      // Members of intersections and unions add no path segment.
    }
    const last = context[context.length - 1];
    const issue: DecodeIssue = {
      path,
      expected: last?.type.name ?? 'value',
      actual: error.value === undefined ? 'missing' : typeOfJson(error.value),
      ...(error.message === undefined ? {} : { detail: error.message }),
    };
    issues.push(issue);
  }
  return issues;
}

/** @internal One line per issue: `students[0].emailAddress: expected string, got number`. */
export function formatIssue(issue: DecodeIssue): string {
  const where = issue.path === '' ? '(root)' : issue.path;
  return issue.detail === undefined
    ? `${where}: expected ${issue.expected}, got ${issue.actual}`
    : `${where}: ${issue.detail}`;
}

/**
 * @internal The message of a `wrong-shape` error: the first three issues, then how many more
 * `issues` lists, and whether there were more than that.
 */
export function shapeMessage(issues: readonly DecodeIssue[], truncated = false): string {
  const shown = issues.slice(0, MESSAGE_ISSUES).map(formatIssue).join('; ');
  const rest = issues.length - MESSAGE_ISSUES;
  const more = rest > 0 ? `; and ${rest} more` : '';
  const beyond = truncated ? `${rest > 0 ? ' in issues' : ''}; more than ${issues.length} in all` : '';
  return `message is not an outreach: ${shown}${more}${beyond}`;
}
