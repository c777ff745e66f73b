import * as t from 'io-ts';

/** @internal Loose JSON type names used in decode messages ("expected string, got number"). */
export function typeOfJson(u: unknown): string {
  if (u === null) return 'null';
  if (Array.isArray(u)) return 'array';
  if (typeof u === 'number' && !Number.isFinite(u)) return 'non-finite number';
  return typeof u;
}

/** @internal Returned by a fast check that does not accept its input. */
export const FAIL: unique symbol = Symbol('fail');
/** @internal */
export type Fail = typeof FAIL;

let fastPathEnabled = true;

/** @internal For tests: turn the fast path off to exercise the reporting path alone. */
export function setFastPath(enabled: boolean): void {
  fastPathEnabled = enabled;
}

/**
 * @internal An io-ts codec with a fast path.
 *
 * @remarks
 * `fast` checks and normalises a value without building io-ts contexts or `Either`s, returning
 * {@link FAIL} when the value does not fit. `validate` runs `fast` and, only when it fails, the
 * reporting path that says where (for scalars the same check, for structs and lists io-ts'
 * own walk). One rule, two speeds: io-ts' context-building walk is several times slower than
 * `JSON.parse`, the fast path is not. `test/unit/codec-paths.test.ts` checks that both agree.
 */
export class Field<A> extends t.Type<A, unknown, unknown> {
  /**
   * @param name - what the field expects, shown in messages (`string`, `timestamp`)
   * @param fast - the check and normalisation
   * @param report - the reporting path; by default a failure at this field's context
   * @param kind - `list` makes its keys render as `[i]` in paths
   */
  constructor(
    name: string,
    readonly fast: (u: unknown) => A | Fail,
    report?: (u: unknown, c: t.Context) => t.Validation<A>,
    readonly kind: 'scalar' | 'struct' | 'list' = 'scalar',
    detail?: string,
  ) {
    super(
      name,
      (u): u is A => fast(u) === u,
      (u, c) => {
        if (report === undefined) {
          const r = fast(u);
          return r === FAIL ? t.failure(u, c, detail) : t.success(r);
        }
        if (fastPathEnabled) {
          const r = fast(u);
          if (r !== FAIL) return t.success(r);
        }
        return report(u, c);
      },
      t.identity,
    );
  }
}

/**
 * @internal An identifier: a non-empty string, or a safe integer turned into its decimal string.
 * Not checked as a UUID: the spec's own example id is `Oecba66b-…` (a letter O).
 */
export const IdCodec = new Field<string>('id (non-empty string or safe integer)', (u) =>
  typeof u === 'string' ? (u.length > 0 ? u : FAIL) : Number.isSafeInteger(u) ? String(u) : FAIL,
);

/** @internal Open text: any string. */
export const TextCodec = new Field<string>('string', (u) => (typeof u === 'string' ? u : FAIL));

/**
 * @internal A property value: a string; a finite number or a boolean is accepted and turned into
 * its JSON text (`1` becomes `"1"`, `true` becomes `"true"`).
 */
export const ValueCodec = new Field<string>('string', (u) =>
  typeof u === 'string'
    ? u
    : (typeof u === 'number' && Number.isFinite(u)) || typeof u === 'boolean'
      ? String(u)
      : FAIL,
);

/** @internal Makes a field optional: absent (`undefined`) and `null` both decode to `undefined`. */
export function optional<A>(codec: Field<A>): Field<A | undefined> {
  const inner = codec.fast;
  return new Field<A | undefined>(
    codec.name,
    (u) => (u === undefined || u === null ? undefined : inner(u)),
    (u, c) => (u === undefined || u === null ? t.success(undefined) : codec.validate(u, c)),
    codec.kind,
  );
}

/** @internal An array that may be absent or null, which then decodes to an empty array. */
export function listOf<A>(codec: Field<A>): Field<readonly A[]> {
  const inner = codec.fast;
  const slow = t.readonlyArray(codec);
  const fast = (u: unknown): readonly A[] | Fail => {
    if (u === undefined || u === null) return [];
    if (!Array.isArray(u)) return FAIL;
    let out: unknown[] = u;
    for (let i = 0; i < u.length; i++) {
      const item: unknown = u[i];
      const r = inner(item);
      if (r === FAIL) return FAIL;
      if (r !== item) {
        if (out === u) out = u.slice();
        out[i] = r;
      }
    }
    return out as A[];
  };
  const report = (u: unknown, c: t.Context): t.Validation<readonly A[]> =>
    u === undefined || u === null ? t.success([]) : slow.validate(u, c);
  return new Field<readonly A[]>(`ReadonlyArray<${codec.name}>`, fast, report, 'list');
}

/** @internal Any field, whatever it decodes to. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- variance: Field<A> is invariant in A
export type AnyField = Field<any>;
/** @internal The decoded type of a struct's fields. */
export type StructOf<P extends Record<string, AnyField>> = { [K in keyof P]: P[K] extends Field<infer A> ? A : never };

/**
 * @internal An object with the given fields. Fields it does not name are kept, never a failure.
 * The object is copied only when a field is normalised (a number id turned into a string…).
 */
export function struct<P extends Record<string, AnyField>>(name: string, props: P): Field<StructOf<P>> {
  const keys = Object.keys(props);
  const checks = keys.map((k) => props[k]!.fast);
  const slow = t.type(props, name);
  const fast = (u: unknown): StructOf<P> | Fail => {
    if (u === null || typeof u !== 'object' || Array.isArray(u)) return FAIL;
    const input = u as Record<string, unknown>;
    let out = input;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      const value = input[key];
      const r = checks[i]!(value);
      if (r === FAIL) return FAIL;
      if (r !== value) {
        if (out === input) out = { ...input };
        out[key] = r;
      }
    }
    return out as StructOf<P>;
  };
  return new Field<StructOf<P>>(name, fast, (u, c) => slow.validate(u, c) as t.Validation<StructOf<P>>, 'struct');
}
