// The bytes of a message body as it arrived, to keep a copy of a message (a parking or quarantine
// store): a string (a JMS TextMessage) as UTF-8, bytes or an AMQP data section (a BytesMessage) as
// they are. Used by examples/own-strategy.ts and examples/quarantine.ts.

/** The body's bytes, or `undefined` for a body that is neither text nor bytes (an AMQP value such as a number). */
export function rawBodyBytes(body: unknown): Buffer | undefined {
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (body instanceof Uint8Array) return Buffer.from(body);
  const section = body as { typecode?: unknown; content?: unknown } | null;
  if (section !== null && typeof section === 'object' && section.typecode === 0x75 && section.content instanceof Uint8Array) return Buffer.from(section.content);
  return undefined;
}
