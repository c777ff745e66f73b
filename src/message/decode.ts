import type * as t from 'io-ts';
import { left, right, type Either } from 'fp-ts/lib/Either.js';
import { OutreachError } from '../errors/outreach-error.js';
import { MAX_DECODE_ISSUES, OutreachDecodeError, shapeMessage, toIssues } from './decode-error.js';
import { Field, withOwnedInput } from './fields.js';
import { OutreachCodec, type Outreach } from './outreach.js';

/** Options of {@link decodeOutreach}. */
export interface DecodeOptions<A = Outreach> {
  /**
   * Largest body, in bytes (UTF-8 bytes for text), that is parsed. Larger bodies fail with kind
   * `too-large` before any parsing, so a hostile or broken message cannot exhaust memory.
   * A positive integer, or `Infinity` for no limit (only for bodies you trust); anything else
   * (`NaN`, `0`, a negative or fractional number, a string) makes {@link decodeOutreach} throw.
   * Does not apply to an already-parsed value.
   * @defaultValue `16777216` (16 MiB, {@link DEFAULT_MAX_BODY_BYTES})
   */
  readonly maxBytes?: number;
  /**
   * The io-ts codec that checks the parsed JSON. Supply your own if Civitas' real messages differ
   * from {@link OutreachCodec}.
   * @defaultValue {@link OutreachCodec}
   */
  readonly codec?: t.Decoder<unknown, A>;
}

/**
 * Default `maxBytes` of {@link decodeOutreach}: 16 MiB, a campaign to some 100,000 students
 * (measured: 40,000 students make 6.24 MB, 102,000 make 15.9 MB).
 */
export const DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024;

const DATA_SECTION = 0x75;
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/**
 * @internal Checks a size limit option: a positive integer, or `Infinity` for no limit.
 *
 * @param value - the option as given
 * @param optionName - its name, for the message (`maxBytes`, `maxBodyBytes`)
 * @returns the value
 * @throws {@link OutreachError} `INVALID_ARGUMENT` naming the option, for `NaN`, `0`, a negative
 * or fractional number, or anything that is not a number
 */
export function checkMaxBytes(value: unknown, optionName: string): number {
  if (typeof value === 'number' && (value === Infinity || (Number.isInteger(value) && value > 0))) return value;
  const got = typeof value === 'number' ? String(value) : value === null ? 'null' : typeof value;
  throw new OutreachError(
    'INVALID_ARGUMENT',
    `${optionName} must be a positive integer number of bytes, or Infinity for no limit; got ${got}`,
  );
}

/**
 * Decodes one message body into a typed {@link Outreach}, or says in words why it cannot.
 *
 * @remarks
 * Never throws for any body, whatever it is: every failure is a `Left` of
 * {@link OutreachDecodeError} with a {@link DecodeErrorKind}. An object body that throws while it
 * is read (a getter, a `Proxy` trap, a revoked proxy) is `unsupported-body`; a codec of your own
 * that throws is `wrong-shape`; in both the thrown value is the error's `cause` and none of its
 * text is in the message. A wrong shape lists at most {@link MAX_DECODE_ISSUES} issues, and the
 * default codec stops looking after that many, so any body under `maxBytes` costs about as much
 * as parsing it. A leading UTF-8 byte-order mark is ignored. Text bodies are measured in UTF-8
 * bytes against `maxBytes` before parsing. Every rule the decoder applies is listed in
 * [docs/message-model.md](../../docs/message-model.md).
 *
 * @typeParam A - what the codec produces; {@link Outreach} unless you pass your own codec
 * @param body - `message.body` as rhea gives it: a `string` (an `amqp-value` string, which is
 *   what ActiveMQ gives for a JMS `TextMessage`), a `Uint8Array`/`Buffer` of UTF-8, an AMQP `data`
 *   section `{ typecode: 0x75, content }` (a JMS `BytesMessage`), or an already-parsed value
 * @param options - size limit and codec
 * @throws {@link OutreachError} `INVALID_ARGUMENT` when `options.maxBytes` is given and is not a
 *   positive integer or `Infinity`. Never for a body.
 *
 * @example
 * ```ts
 * import { isLeft } from 'fp-ts/lib/Either.js';
 * import { decodeOutreach } from 'civitas-outreach';
 *
 * const result = decodeOutreach(message.body);
 * if (isLeft(result)) console.warn(result.left.message); // students[0].emailAddress: expected string, got number
 * else console.log(result.right.outreachId, result.right.students.length);
 * ```
 */
export function decodeOutreach<A = Outreach>(
  body: unknown,
  options: DecodeOptions<A> = {},
): Either<OutreachDecodeError, A> {
  const maxBytes = options.maxBytes === undefined ? DEFAULT_MAX_BODY_BYTES : checkMaxBytes(options.maxBytes, 'maxBytes');
  const codec = (options.codec ?? OutreachCodec) as t.Decoder<unknown, A>;
  try {
    return decodeBody(body, maxBytes, codec);
  } catch (e) {
    // Reading the body threw: a getter, a proxy trap, a revoked proxy.
    return left(unreadable(body, e));
  }
}

function decodeBody<A>(body: unknown, maxBytes: number, codec: t.Decoder<unknown, A>): Either<OutreachDecodeError, A> {
  const text = toText(body, maxBytes);
  if (typeof text !== 'string' && text !== NOT_TEXT) return left(text);

  let value: unknown = body;
  if (text !== NOT_TEXT) {
    try {
      value = JSON.parse(text);
    } catch (e) {
      if (e instanceof RangeError) {
        // Too deep for the parser's stack (or too big for the engine); valid JSON perhaps, not readable here.
        return left(new OutreachDecodeError('not-json', 'message body could not be parsed: nested too deeply or too large', body, [], { cause: e }));
      }
      // The engine's message quotes the body; keep only the position, which is safe to show.
      const at = /position (\d+)/.exec(String((e as Error | undefined)?.message))?.[1];
      const where = at === undefined ? '' : ` (at character ${at})`;
      return left(new OutreachDecodeError('not-json', `message body is not valid JSON${where}`, body));
    }
  }
  try {
    // A value this function parsed is its own: our codecs may normalise it in place.
    const result = text !== NOT_TEXT && isOwnCodec(codec) ? withOwnedInput(() => codec.decode(value)) : codec.decode(value);
    if (result._tag === 'Right') return right(result.right);
    const errors = result.left;
    const issuesTruncated = errors.length > MAX_DECODE_ISSUES;
    const issues = toIssues(errors, MAX_DECODE_ISSUES);
    return left(new OutreachDecodeError('wrong-shape', shapeMessage(issues, issuesTruncated), body, issues, { issuesTruncated }));
  } catch (e) {
    // Our codecs throw only when reading the value throws; a codec of the user's may throw on its own.
    if (isOwnCodec(codec)) return left(unreadable(body, e));
    // Report it instead of crashing the consumer. Nothing of the thrown value goes into the message.
    return left(new OutreachDecodeError('wrong-shape', 'the codec threw while decoding (the thrown value is the cause)', body, [], { cause: e }));
  }
}

function isOwnCodec(codec: unknown): boolean {
  try {
    return codec instanceof Field;
  } catch {
    return false;
  }
}

function unreadable(body: unknown, cause: unknown): OutreachDecodeError {
  return new OutreachDecodeError(
    'unsupported-body',
    'message body could not be read: reading it threw (a getter or a proxy); the thrown value is the cause',
    body,
    [],
    { cause },
  );
}

const NOT_TEXT = Symbol('not text');

/** Text to parse, `NOT_TEXT` for an already-parsed value, or the error. */
function toText(body: unknown, maxBytes: number): string | typeof NOT_TEXT | OutreachDecodeError {
  if (typeof body === 'string') {
    // A string of n UTF-16 units is at most 3n UTF-8 bytes: measure only when it could be too large.
    if (body.length * 3 > maxBytes && Buffer.byteLength(body, 'utf8') > maxBytes) return tooLarge(body, maxBytes);
    return body.charCodeAt(0) === 0xfeff ? body.slice(1) : body;
  }
  const bytes = body instanceof Uint8Array ? body : dataSectionBytes(body);
  if (bytes !== undefined) {
    if (bytes.byteLength > maxBytes) return tooLarge(body, maxBytes);
    try {
      return utf8.decode(bytes);
    } catch {
      return new OutreachDecodeError('not-json', 'message body is not valid UTF-8 text', body);
    }
  }
  if (body === null || typeof body !== 'object') {
    return new OutreachDecodeError('unsupported-body', `message body is ${body === null ? 'null' : typeof body}, not JSON text or an object`, body);
  }
  if (isSection(body)) {
    return new OutreachDecodeError('unsupported-body', `message body is an AMQP section of type 0x${body.typecode.toString(16)}, not data or text`, body);
  }
  return NOT_TEXT;
}

function isSection(body: object): body is { typecode: number; content: unknown } {
  return typeof (body as { typecode?: unknown }).typecode === 'number' && 'content' in body;
}

function dataSectionBytes(body: unknown): Uint8Array | undefined {
  if (body === null || typeof body !== 'object' || !isSection(body)) return undefined;
  return body.typecode === DATA_SECTION && body.content instanceof Uint8Array ? body.content : undefined;
}

function tooLarge(body: unknown, maxBytes: number): OutreachDecodeError {
  return new OutreachDecodeError('too-large', `message body is larger than maxBytes (${maxBytes} bytes)`, body);
}
