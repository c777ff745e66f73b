import * as t from 'io-ts';

/** @internal Loose JSON type names used in decode messages ("expected string, got number"). */
export function typeOfJson(u: unknown): string {
  if (u === null) return 'null';
  if (Array.isArray(u)) return 'array';
  if (typeof u === 'number' && !Number.isFinite(u)) return 'non-finite number';
  return typeof u;
}

/**
 * @internal An identifier: a non-empty string, or a safe integer turned into its decimal string.
 * Not checked as a UUID: the spec's own example id is `Oecba66b-…` (a letter O).
 */
export const IdCodec = new t.Type<string, string, unknown>(
  'id (non-empty string or safe integer)',
  (u): u is string => typeof u === 'string' && u.length > 0,
  (u, c) => {
    if (typeof u === 'string') return u.length > 0 ? t.success(u) : t.failure(u, c);
    if (typeof u === 'number' && Number.isSafeInteger(u)) return t.success(String(u));
    return t.failure(u, c);
  },
  t.identity,
);

/** @internal Open text: any string. */
export const TextCodec = new t.Type<string, string, unknown>(
  'string',
  (u): u is string => typeof u === 'string',
  (u, c) => (typeof u === 'string' ? t.success(u) : t.failure(u, c)),
  t.identity,
);

/**
 * @internal A property value: a string; a finite number or a boolean is accepted and turned into
 * its JSON text (`1` becomes `"1"`, `true` becomes `"true"`).
 */
export const ValueCodec = new t.Type<string, string, unknown>(
  'string',
  (u): u is string => typeof u === 'string',
  (u, c) => {
    if (typeof u === 'string') return t.success(u);
    if ((typeof u === 'number' && Number.isFinite(u)) || typeof u === 'boolean') return t.success(String(u));
    return t.failure(u, c);
  },
  t.identity,
);

/**
 * @internal Makes a field optional: `undefined` (absent) and `null` both decode to `undefined`.
 * Used inside `t.type`, which reads missing keys as `undefined`; cheaper than `t.partial`.
 */
export function optional<A, O>(codec: t.Type<A, O, unknown>): t.Type<A | undefined, O | undefined, unknown> {
  return new t.Type<A | undefined, O | undefined, unknown>(
    codec.name,
    (u): u is A | undefined => u === undefined || codec.is(u),
    (u, c) => (u === undefined || u === null ? t.success(undefined) : codec.validate(u, c)),
    (a) => (a === undefined ? undefined : codec.encode(a)),
  );
}

/** @internal An array that may be absent or null, which then decodes to an empty array. */
export function listOf<A, O>(codec: t.Type<A, O, unknown>): t.Type<readonly A[], readonly O[], unknown> {
  const list = t.readonlyArray(codec);
  return new t.Type<readonly A[], readonly O[], unknown>(
    list.name,
    list.is,
    (u, c) => (u === undefined || u === null ? t.success([]) : list.validate(u, c)),
    list.encode,
  );
}
