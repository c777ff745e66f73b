import type { DevQueueMessage } from './dev-queue/types.js';
import { DEFAULT_MAX_BODY_BYTES } from '../message/decode.js';
import type { DecodeErrorKind } from '../message/decode-error.js';
import { makeOutreachMessage } from './factory.js';

/**
 * The shapes of broken message a consumer must handle, by name:
 *
 * - `truncated-json`: JSON cut off mid-way (a producer that died while writing).
 * - `empty`: an empty body.
 * - `not-utf8`: bytes that are not UTF-8 text.
 * - `not-an-object`: valid JSON that is not an object (an array).
 * - `missing-field`: an outreach without its `outreachSource`.
 * - `wrong-type`: a student's `emailAddress` sent as a number.
 * - `bad-timestamp`: a `createdAt` that is not a Civitas timestamp.
 * - `many-issues`: 10,000 broken students: a decoder must stay bounded in time and memory.
 * - `too-large`: a body one byte over the size cap.
 * - `unsupported-body`: an AMQP body that is neither text nor bytes (a number).
 */
export type InvalidOutreachKind =
  | 'truncated-json'
  | 'empty'
  | 'not-utf8'
  | 'not-an-object'
  | 'missing-field'
  | 'wrong-type'
  | 'bad-timestamp'
  | 'many-issues'
  | 'too-large'
  | 'unsupported-body';

/** Options of {@link makeInvalidOutreach} and {@link invalidOutreachCases}. */
export interface MakeInvalidOutreachOptions {
  /**
   * Seed of the valid message the broken ones start from.
   * @defaultValue `1`
   */
  readonly seed?: number;
  /**
   * The size cap `too-large` must exceed: the `maxBodyBytes` your consumer uses.
   * @defaultValue `16777216` (16 MiB, the consumer's `DEFAULT_MAX_BODY_BYTES`)
   */
  readonly maxBodyBytes?: number;
}

/** One broken message, what it is, and how `decodeOutreach` classifies it. */
export interface InvalidOutreachCase {
  /** Which shape. */
  readonly kind: InvalidOutreachKind;
  /** The message, ready for {@link DevQueue.publish} or {@link runHandler}. */
  readonly message: string | Uint8Array | DevQueueMessage;
  /** The `kind` of the `OutreachDecodeError` it must produce. */
  readonly decodeErrorKind: DecodeErrorKind;
}

const DECODE_KIND: Readonly<Record<InvalidOutreachKind, DecodeErrorKind>> = {
  'truncated-json': 'not-json',
  empty: 'not-json',
  'not-utf8': 'not-json',
  'not-an-object': 'wrong-shape',
  'missing-field': 'wrong-shape',
  'wrong-type': 'wrong-shape',
  'bad-timestamp': 'wrong-shape',
  'many-issues': 'wrong-shape',
  'too-large': 'too-large',
  'unsupported-body': 'unsupported-body',
};

/**
 * Makes one broken message of the given shape, for testing what your consumer does with it (by
 * default it goes to `onInvalid` and is rejected, never to your handler).
 *
 * @example
 * ```ts
 * const result = await runHandler(handler, [makeInvalidOutreach('wrong-type'), ...makeOutreachMessages(2)]);
 * expect(result.messages[0]).toMatchObject({ invalid: true, outcome: 'dead-lettered', handlerCalls: 0 });
 * ```
 */
export function makeInvalidOutreach(kind: InvalidOutreachKind, options: MakeInvalidOutreachOptions = {}): string | Uint8Array | DevQueueMessage {
  const valid = makeOutreachMessage({ seed: options.seed ?? 1, students: 1 });
  const json = JSON.stringify(valid);
  switch (kind) {
    case 'truncated-json':
      return json.slice(0, Math.floor(json.length / 2));
    case 'empty':
      return '';
    case 'not-utf8':
      return Uint8Array.from([0x7b, 0xff, 0xfe, 0x7d]);
    case 'not-an-object':
      return JSON.stringify([valid]);
    case 'missing-field': {
      const { outreachSource: _omitted, ...rest } = valid;
      return JSON.stringify(rest);
    }
    case 'wrong-type':
      return JSON.stringify({ ...valid, students: [{ ...valid.students[0], emailAddress: 12345 }] });
    case 'bad-timestamp':
      return JSON.stringify({ ...valid, createdAt: 'yesterday' });
    case 'many-issues':
      return JSON.stringify({ ...valid, students: Array.from({ length: 10_000 }, () => ({ institutionPersonID: null })) });
    case 'too-large': {
      const cap = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
      return json + ' '.repeat(Math.max(0, cap + 1 - Buffer.byteLength(json, 'utf8')));
    }
    case 'unsupported-body':
      return { body: 42 };
  }
}

/**
 * Every shape of {@link InvalidOutreachKind}, each with the decode error kind it must produce:
 * for a table-driven test of your `onInvalid` hook.
 *
 * @example
 * ```ts
 * it.each(invalidOutreachCases())('$kind is never handed to the handler', async ({ message }) => {
 *   const result = await runHandler(handler, [message]);
 *   expect(result.messages[0]!.invalid).toBe(true);
 * });
 * ```
 */
export function invalidOutreachCases(options: MakeInvalidOutreachOptions = {}): InvalidOutreachCase[] {
  return (Object.keys(DECODE_KIND) as InvalidOutreachKind[]).map((kind) => ({ kind, message: makeInvalidOutreach(kind, options), decodeErrorKind: DECODE_KIND[kind] }));
}
