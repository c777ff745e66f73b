// One line of `pull`'s file, of `peek`'s output and of a consumer's journal: the message as Civitas sent it, with the
// little metadata needed to find it again. Format documented in docs/cli.md.

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** What a line says about its message besides the body. */
export interface LineMetadata {
  readonly messageId: string | number | undefined;
  readonly deliveryCount: number;
  readonly receivedAt: Date;
  readonly subject?: string | undefined;
  readonly applicationProperties?: Readonly<Record<string, unknown>> | undefined;
  /** Set when the body decoded as an outreach. */
  readonly outreachId?: string | undefined;
  /** Set when it did not: why, in the library's words (paths and types, no student data). */
  readonly invalid?: { readonly kind: string; readonly message: string } | undefined;
}

/**
 * One JSON line (ending in `\n`) for a message. The body is kept as sent: JSON text goes in as
 * JSON (`body`), byte for byte apart from whitespace outside strings, so numbers keep every digit;
 * text that is not JSON goes in as a string (`bodyText`); bytes that are not UTF-8 as base64
 * (`bodyBase64`).
 */
export function archiveLine(meta: LineMetadata, body: unknown): string {
  const head: Record<string, unknown> = {
    messageId: meta.messageId ?? null,
    deliveryCount: meta.deliveryCount,
    receivedAt: meta.receivedAt.toISOString(),
  };
  if (meta.subject !== undefined) head.subject = meta.subject;
  if (meta.applicationProperties !== undefined && Object.keys(meta.applicationProperties).length > 0) {
    head.applicationProperties = meta.applicationProperties;
  }
  if (meta.outreachId !== undefined) head.outreachId = meta.outreachId;
  if (meta.invalid !== undefined) head.invalid = { kind: meta.invalid.kind, message: meta.invalid.message };
  const start = JSON.stringify(head, jsonSafe).slice(0, -1);
  return `${start},${bodyField(body)}}\n`;
}

function bodyField(body: unknown): string {
  const text = bodyText(body);
  if (typeof text === 'string') {
    const compact = compactJson(text);
    return compact === undefined ? `"bodyText":${JSON.stringify(text)}` : `"body":${compact}`;
  }
  if (text instanceof Uint8Array) return `"bodyBase64":${JSON.stringify(Buffer.from(text).toString('base64'))}`;
  try {
    const json = JSON.stringify(body, jsonSafe);
    if (json !== undefined) return `"body":${json}`;
  } catch {
    // a cycle or a BigInt: fall through
  }
  return `"bodyText":${JSON.stringify(String(body))}`;
}

/** The body's text (string, bytes or an AMQP data section), its bytes when they are not UTF-8, or `undefined` for other values. */
function bodyText(body: unknown): string | Uint8Array | undefined {
  if (typeof body === 'string') return body;
  const bytes =
    body instanceof Uint8Array
      ? body
      : body !== null && typeof body === 'object' && (body as { typecode?: unknown }).typecode === 0x75 && (body as { content?: unknown }).content instanceof Uint8Array
        ? ((body as { content: Uint8Array }).content)
        : undefined;
  if (bytes === undefined) return undefined;
  try {
    return utf8.decode(bytes);
  } catch {
    return bytes;
  }
}

/**
 * The JSON text without whitespace outside strings (so it fits on one line), or `undefined` when
 * it is not JSON. Only whitespace is removed: numbers, escapes and repeated keys stay as sent.
 */
export function compactJson(text: string): string | undefined {
  const trimmed = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  try {
    JSON.parse(trimmed);
  } catch {
    return undefined;
  }
  let out = '';
  let inString = false;
  let from = 0;
  for (let i = 0; i < trimmed.length; i++) {
    const c = trimmed.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) {
      out += trimmed.slice(from, i);
      from = i + 1;
    }
  }
  return out + trimmed.slice(from);
}

/** Buffers as base64 and BigInts as text, so that metadata always serialises. */
function jsonSafe(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value !== null && typeof value === 'object' && (value as { type?: unknown }).type === 'Buffer' && Array.isArray((value as { data?: unknown }).data)) {
    return Buffer.from((value as { data: number[] }).data).toString('base64');
  }
  return value;
}

/** @internal A line read back: its metadata, and the body as the consumer would have received it. */
export interface ReadLine {
  readonly messageId: string | number | undefined;
  readonly deliveryCount: number;
  readonly receivedAt: Date;
  readonly subject: string | undefined;
  readonly applicationProperties: Readonly<Record<string, unknown>>;
  readonly outreachId: string | undefined;
  /** JSON text (as written: without whitespace outside strings), other text, or bytes. */
  readonly body: string | Uint8Array;
}

const BODY_FIELDS = ['body', 'bodyText', 'bodyBase64'] as const;

/**
 * @internal Reads a line {@link archiveLine} wrote. A JSON body comes back as the JSON text of the
 * line itself, not re-serialised from a parse, so that numbers keep every digit: the head is
 * serialised again as it was written, which says where the body's text begins.
 * @throws SyntaxError for a line that is not JSON, or not one of ours
 */
export function readLine(line: string): ReadLine {
  const parsed = JSON.parse(line) as Record<string, unknown>;
  const head: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(parsed)) if (!(BODY_FIELDS as readonly string[]).includes(key)) head[key] = value;
  const receivedAt = new Date(typeof parsed['receivedAt'] === 'string' ? parsed['receivedAt'] : Number.NaN);
  if (!('messageId' in parsed) || Number.isNaN(receivedAt.getTime())) throw new SyntaxError('not a civitas-outreach line: no messageId or receivedAt');
  const id = parsed['messageId'];
  const properties = parsed['applicationProperties'];
  return {
    messageId: typeof id === 'string' || typeof id === 'number' ? id : undefined,
    deliveryCount: typeof parsed['deliveryCount'] === 'number' ? parsed['deliveryCount'] : 0,
    receivedAt,
    subject: typeof parsed['subject'] === 'string' ? parsed['subject'] : undefined,
    applicationProperties: properties !== null && typeof properties === 'object' ? Object.freeze(properties as Record<string, unknown>) : NO_PROPERTIES,
    outreachId: typeof parsed['outreachId'] === 'string' ? parsed['outreachId'] : undefined,
    body: bodyOf(line, head, parsed),
  };
}

const NO_PROPERTIES: Readonly<Record<string, unknown>> = Object.freeze({});

function bodyOf(line: string, head: Record<string, unknown>, parsed: Record<string, unknown>): string | Uint8Array {
  if (typeof parsed['bodyText'] === 'string') return parsed['bodyText'];
  if (typeof parsed['bodyBase64'] === 'string') return new Uint8Array(Buffer.from(parsed['bodyBase64'], 'base64'));
  const prefix = `${JSON.stringify(head).slice(0, -1)},"body":`;
  const end = line.endsWith('}\n') ? line.length - 2 : line.length - 1;
  // Written by archiveLine: the body's own text. Anything else: the parsed body, serialised.
  return line.startsWith(prefix) ? line.slice(prefix.length, end) : JSON.stringify(parsed['body']);
}
