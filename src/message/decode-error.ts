import { inspect } from 'node:util';
import type * as t from 'io-ts';
import { OutreachError } from '../errors/outreach-error.js';
import { typeOfJson } from './fields.js';

/**
 * Why a body could not be decoded.
 *
 * - `not-json`: the body is not UTF-8 text holding one JSON value.
 * - `too-large`: the body is larger than the `maxBytes` option allows; it was not parsed.
 * - `wrong-shape`: the JSON is not an outreach; {@link OutreachDecodeError.issues} says where.
 * - `unsupported-body`: the AMQP body is of a kind that cannot hold JSON text (e.g. an
 *   `amqp-sequence`, a number, `null`).
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
  /** The places that did not fit. */
  readonly issues: readonly DecodeIssue[];
}

/** How many issues the message of an {@link OutreachDecodeError} lists before "and N more". */
const MESSAGE_ISSUES = 3;

const rawBodies = new WeakMap<OutreachDecodeError, unknown>();

/**
 * A body that could not be decoded into an outreach.
 *
 * @remarks
 * The message names paths and types only, never values: these are student records (FERPA).
 * The body itself is kept in {@link OutreachDecodeError.raw}, a getter that `console.log`,
 * `util.inspect` and `JSON.stringify` of the error do not print. Hand it to a dead-letter store
 * that is as protected as your CRM.
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
  /** For `wrong-shape`, every place that did not fit; empty for the other kinds. */
  readonly issues: readonly DecodeIssue[];

  /**
   * @param kind - why decoding failed
   * @param message - a sentence free of student data
   * @param raw - the body exactly as it was given to the decoder
   * @param issues - the places that did not fit, for `wrong-shape`
   */
  constructor(kind: DecodeErrorKind, message: string, raw: unknown, issues: readonly DecodeIssue[] = []) {
    super('DECODE_FAILED', message);
    this.name = 'OutreachDecodeError';
    this.kind = kind;
    this.issues = issues;
    rawBodies.set(this, raw);
  }

  /** The body as it arrived (string, bytes, AMQP section or parsed value). Not printed by logs. */
  get raw(): unknown {
    return rawBodies.get(this);
  }

  /** What `JSON.stringify` prints: name, code, kind, message and issues; never the body. */
  toJSON(): DecodeErrorSummary {
    return { name: this.name, code: this.code, kind: this.kind, message: this.message, issues: this.issues };
  }

  /** @internal What `console.log` and `util.inspect` print: as {@link OutreachDecodeError.toJSON}, plus the stack. */
  [inspect.custom](): string {
    return `${this.stack ?? this.message}\n${inspect(this.toJSON(), { depth: 4 })}`;
  }
}

/** @internal Turns io-ts errors into issues with JavaScript paths and JSON types. */
export function toIssues(errors: t.Errors): DecodeIssue[] {
  const issues: DecodeIssue[] = [];
  for (const error of errors) {
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

/** @internal The message of a `wrong-shape` error. */
export function shapeMessage(issues: readonly DecodeIssue[]): string {
  const shown = issues.slice(0, MESSAGE_ISSUES).map(formatIssue).join('; ');
  const more = issues.length > MESSAGE_ISSUES ? `; and ${issues.length - MESSAGE_ISSUES} more` : '';
  return `message is not an outreach: ${shown}${more}`;
}
