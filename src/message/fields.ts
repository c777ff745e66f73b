import * as t from 'io-ts';
import { MAX_DECODE_ISSUES } from './decode-error.js';

/** @internal Returned by a fast check that does not accept its input. */
export const FAIL: unique symbol = Symbol('fail');
/** @internal */
export type Fail = typeof FAIL;

let fastPathEnabled = true;

/**
 * Whether the value being checked is the decoder's own (fresh from `JSON.parse`), so that the fast
 * path may normalise it in place instead of copying each object and list it changes. Set only
 * around a fast check of such a value ({@link withOwnedInput}); a value the caller handed in is
 * never written to.
 */
let ownedInput = false;

/** @internal Runs `check` on a value nobody else holds: normalised fields are written in place. */
export function withOwnedInput<T>(check: () => T): T {
  ownedInput = true;
  try {
    return check();
  } finally {
    ownedInput = false;
  }
}

/**
 * Where the last failed fast check failed: the index of the failing key or item at each struct
 * and list on the way, innermost first. Written only when a check fails, so the happy path pays
 * nothing; `Field.validate` clears it before each fast check.
 */
const trail: number[] = [];

/**
 * @internal For a struct or list's fast check: records that its child `index` failed and returns
 * {@link FAIL}. The reporting walk then starts at that child: everything before it fits.
 */
export function failedAt(index: number): Fail {
  trail.push(index);
  return FAIL;
}

/** @internal For tests: turn the fast path off to exercise the reporting path alone. */
export function setFastPath(enabled: boolean): void {
  fastPathEnabled = enabled;
}

/** What the fast path and the reporting walk take as an object: not `null`, not an array. */
function isRecord(u: unknown): u is Record<string, unknown> {
  return u !== null && typeof u === 'object' && !Array.isArray(u);
}

const hasOwn = Object.prototype.hasOwnProperty;

/**
 * Whether an object has an own key that must not be kept: `__proto__` (which `JSON.parse` creates
 * as an own property, and which `Object.assign` or a `for…in` copy would turn into a prototype),
 * `constructor` or `prototype`.
 *
 * Three `hasOwnProperty` lookups, some 25 ns an object: measured, no dearer than any cheaper-looking
 * filter (reading `o.__proto__` calls an accessor), and exact.
 */
function hasUnsafeKey(o: object): boolean {
  return hasOwn.call(o, '__proto__') || hasOwn.call(o, 'constructor') || hasOwn.call(o, 'prototype');
}

/** `out` (the input, or already a copy of it) without those keys; copies it if it is the input. */
function withoutUnsafeKeys(out: Record<string, unknown>, input: object): Record<string, unknown> {
  const copy = out === input ? { ...out } : out;
  delete copy['__proto__'];
  delete copy['constructor'];
  delete copy['prototype'];
  return copy;
}

/**
 * @internal What the reporting walk has found, and where it is.
 *
 * @remarks
 * The walk keeps its path as a stack of keys, types and values, and builds an io-ts context only
 * for an issue it keeps. It keeps the first `limit` issues (by default one more than
 * {@link MAX_DECODE_ISSUES}, so that a reader can tell there were more); then it is `full` and the
 * walk stops. The kept errors are the first `limit` that io-ts' own walk over the same fields
 * would give, with the same contexts.
 *
 * When `values` is false the walk only looks for issues: it copies and normalises nothing and
 * hands back its input where it would hand back a value. That is the walk after a failed fast
 * path, whose value nobody reads; it starts where the fast path failed (`resume`), since
 * everything the fast path passed before that fits. So a wrong shape costs one walk over the
 * body, as a right one does, not two.
 */
export class IssueSink {
  /** The issues kept, as io-ts errors. */
  readonly errors: t.ValidationError[] = [];
  /** Whether `limit` issues have been kept: the walk stops. */
  full = false;
  private depth = 0;
  private readonly keys: (string | number)[] = [];
  private readonly types: t.Decoder<unknown, unknown>[] = [];
  private readonly actuals: unknown[] = [];

  /**
   * @param base - the context of the value the walk starts at
   * @param limit - how many issues to keep before stopping
   * @param values - whether the walk must build the decoded value
   * @param failedPath - where the fast path failed, innermost first (see {@link failedAt})
   */
  constructor(
    private readonly base: t.Context,
    private readonly limit: number = MAX_DECODE_ISSUES + 1,
    readonly values: boolean = true,
    private readonly failedPath: number[] = [],
  ) {}

  /**
   * Where a struct or list on the fast path's failing path starts its walk (the index of the child
   * that failed), or 0. Call once per struct or list walk, before its first child.
   */
  resume(): number {
    return this.failedPath.length > 0 ? this.failedPath.pop()! : 0;
  }

  /** The next index {@link IssueSink.resume} would give, without taking it; -1 when there is none. */
  peek(): number {
    return this.failedPath.length > 0 ? this.failedPath[this.failedPath.length - 1]! : -1;
  }

  /** Steps into `key` of the current value, whose codec is `type` and value `actual`. */
  enter(key: string | number, type: t.Decoder<unknown, unknown>, actual: unknown): void {
    const d = this.depth++;
    this.keys[d] = key;
    this.types[d] = type;
    this.actuals[d] = actual;
  }

  /** Steps back out. */
  leave(): void {
    this.actuals[--this.depth] = undefined;
  }

  /** Records that `value`, at the current path, does not fit. */
  fail(value: unknown, message?: string): void {
    if (this.full) return;
    const context: t.ContextEntry[] = this.base.slice();
    for (let d = 0; d < this.depth; d++) {
      context.push({ key: String(this.keys[d]), type: this.types[d]!, actual: this.actuals[d] });
    }
    this.errors.push(message === undefined ? { value, context } : { value, context, message });
    if (this.errors.length >= this.limit) this.full = true;
  }
}

/** @internal The reporting walk of a {@link Field}: the value, or {@link FAIL} after telling `sink` why. */
export type Walk<A> = (u: unknown, sink: IssueSink) => A | Fail;

/**
 * @internal An io-ts codec with a fast path.
 *
 * @remarks
 * `fast` checks and normalises a value without building io-ts contexts or `Either`s, returning
 * {@link FAIL} when the value does not fit. `validate` runs `fast` and, only when it fails, the
 * reporting `walk` over the same fields that says where. The walk builds no context for a field
 * that fits and stops after {@link MAX_DECODE_ISSUES} issues (plus one, to tell there were more), so
 * a wrong shape costs about as much as a right one; io-ts' own `t.type`/`t.array` walk would build a
 * context for every field and an error for every issue, however many. `validate` gives what that
 * io-ts walk would give (contexts, `expected` names, messages), cut after that many issues.
 * `test/unit/codec-paths.test.ts` checks the fast path, the walk and io-ts' walk against each other.
 */
export class Field<A> extends t.Type<A, unknown, unknown> {
  /** The reporting walk. */
  readonly walk: Walk<A>;

  /**
   * @param name - what the field expects, shown in messages (`string`, `timestamp`)
   * @param fast - the check and normalisation
   * @param walk - the reporting walk; by default `fast`, recording a failure at this field's path
   * @param kind - `list` makes its keys render as `[i]` in paths
   * @param detail - the sentence of the default walk's failure
   */
  constructor(
    name: string,
    readonly fast: (u: unknown) => A | Fail,
    walk?: Walk<A>,
    readonly kind: 'scalar' | 'struct' | 'list' = 'scalar',
    detail?: string,
  ) {
    const walker: Walk<A> =
      walk ??
      ((u, sink) => {
        const r = fast(u);
        if (r === FAIL) sink.fail(u, detail);
        return r;
      });
    super(
      name,
      (u): u is A => fast(u) === u,
      (u, c) => {
        const triedFast = fastPathEnabled || walk === undefined;
        if (triedFast) {
          trail.length = 0;
          const r = fast(u);
          if (r !== FAIL) return t.success(r);
          if (walk === undefined) return t.failure(u, c, detail);
        }
        // After a failed fast path the value is not needed: the walk only looks for issues, from
        // where the fast path failed.
        const sink = triedFast ? new IssueSink(c, MAX_DECODE_ISSUES + 1, false, trail.slice()) : new IssueSink(c);
        const r = walker(u, sink);
        if (sink.errors.length > 0) return t.failures(sink.errors);
        if (!triedFast && r !== FAIL) return t.success(r);
        // Only a body whose getters or proxy traps answer differently each time gets here.
        return t.failure(u, c, 'the value changed while it was being read');
      },
      t.identity,
    );
    this.walk = walker;
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
    (u, sink) => (u === undefined || u === null ? undefined : codec.walk(u, sink)),
    codec.kind,
  );
}

/** @internal An array that may be absent or null, which then decodes to an empty array. */
export function listOf<A>(codec: Field<A>): Field<readonly A[]> {
  const inner = codec.fast;
  const item = codec.walk;
  const fast = (u: unknown): readonly A[] | Fail => {
    if (u === undefined || u === null) return [];
    if (!Array.isArray(u)) return FAIL;
    let out: unknown[] = u;
    for (let i = 0; i < u.length; i++) {
      const value: unknown = u[i];
      const r = inner(value);
      if (r === FAIL) return failedAt(i);
      if (r !== value) {
        if (out === u && !ownedInput) out = u.slice();
        out[i] = r;
      }
    }
    return out as A[];
  };
  const walk = (u: unknown, sink: IssueSink): readonly A[] | Fail => {
    if (u === undefined || u === null) return [];
    if (!Array.isArray(u)) {
      sink.fail(u);
      return FAIL;
    }
    let out: unknown[] = u;
    let failed = false;
    for (let i = sink.values ? 0 : sink.resume(); i < u.length; i++) {
      const value: unknown = u[i];
      sink.enter(i, codec, value);
      const r = item(value, sink);
      sink.leave();
      if (r === FAIL) {
        if (sink.full) return FAIL;
        failed = true;
      } else if (!failed && sink.values && r !== value) {
        if (out === u) out = u.slice();
        out[i] = r;
      }
    }
    return failed ? FAIL : (out as A[]);
  };
  return new Field<readonly A[]>(`ReadonlyArray<${codec.name}>`, fast, walk, 'list');
}

/** @internal Any field, whatever it decodes to. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- variance: Field<A> is invariant in A
export type AnyField = Field<any>;
/** @internal The decoded type of a struct's fields. */
export type StructOf<P extends Record<string, AnyField>> = { [K in keyof P]: P[K] extends Field<infer A> ? A : never };

/**
 * @internal An object with the given fields. Fields it does not name are kept, never a failure,
 * except the own keys `__proto__`, `constructor` and `prototype`, which are dropped. The object is
 * copied only when a field is normalised (a number id turned into a string…) or such a key is
 * dropped.
 */
export function struct<P extends Record<string, AnyField>>(name: string, props: P): Field<StructOf<P>> {
  const keys = Object.keys(props);
  const fields = keys.map((k) => props[k]!);
  const checks = fields.map((f) => f.fast);
  const walks = fields.map((f) => f.walk);
  const fast = (u: unknown): StructOf<P> | Fail => {
    if (!isRecord(u)) return FAIL;
    const input = u;
    let out = input;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      const value = input[key];
      const r = checks[i]!(value);
      if (r === FAIL) return failedAt(i);
      if (r !== value) {
        if (out === input && !ownedInput) out = { ...input };
        out[key] = r;
      }
    }
    return (hasUnsafeKey(input) ? withoutUnsafeKeys(out, input) : out) as StructOf<P>;
  };
  const walk = (u: unknown, sink: IssueSink): StructOf<P> | Fail => {
    if (!isRecord(u)) {
      sink.fail(u);
      return FAIL;
    }
    const input = u;
    let out = input;
    let failed = false;
    for (let i = sink.values ? 0 : sink.resume(); i < keys.length; i++) {
      const key = keys[i]!;
      const value = input[key];
      sink.enter(key, fields[i]!, value);
      const r: unknown = walks[i]!(value, sink);
      sink.leave();
      if (r === FAIL) {
        if (sink.full) return FAIL;
        failed = true;
      } else if (!failed && sink.values && r !== value) {
        if (out === input) out = { ...input };
        out[key] = r;
      }
    }
    if (failed) return FAIL;
    if (!sink.values) return input as StructOf<P>;
    return (hasUnsafeKey(input) ? withoutUnsafeKeys(out, input) : out) as StructOf<P>;
  };
  return new Field<StructOf<P>>(name, fast, walk, 'struct');
}
