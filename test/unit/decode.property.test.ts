import { inspect } from 'node:util';
import fc from 'fast-check';
import { isRight } from 'fp-ts/lib/Either.js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { decodeOutreach, OutreachDecodeError } from '../../src/index.js';
import { makeOutreachMessage } from '../../src/testing/index.js';

const KINDS = ['not-json', 'too-large', 'wrong-shape', 'unsupported-body'];

function neverThrows(body: unknown, maxBytes = 4096): OutreachDecodeError | undefined {
  const result = decodeOutreach(body, { maxBytes });
  if (isRight(result)) {
    expect(typeof result.right.outreachId).toBe('string');
    return undefined;
  }
  expect(result.left).toBeInstanceOf(OutreachDecodeError);
  expect(KINDS).toContain(result.left.kind);
  expect(result.left.raw).toBe(body);
  // Nothing of what a hostile body threw reaches what gets printed.
  const printed = [result.left.message, JSON.stringify(result.left), inspect(result.left)].join('\n');
  expect(printed).not.toContain(SECRET);
  return result.left;
}

// ---- hostile bodies: objects that throw when read ---------------------------------------------

/** In everything the hostile objects throw, so that a test can tell it was not printed. */
const SECRET = 'Scarlett-123567';
const boom = (): never => {
  throw Object.assign(new Error(SECRET), { name: SECRET });
};
const TRAPS = ['get', 'has', 'getOwnPropertyDescriptor', 'ownKeys', 'getPrototypeOf', 'defineProperty', 'set', 'deleteProperty'] as const;

/** A Proxy of `target` whose `trap` throws. */
function trapping(target: object, trap: (typeof TRAPS)[number]): object {
  return new Proxy(target, { [trap]: boom });
}
function revoked(target: object): object {
  const { proxy, revoke } = Proxy.revocable(target, {});
  revoke();
  return proxy;
}

type Hostility =
  | { kind: 'getter'; key: string }
  | { kind: 'trap'; trap: (typeof TRAPS)[number] }
  | { kind: 'revoked' }
  | { kind: 'coercion'; key: 'toJSON' | 'valueOf' | 'toString' }
  | { kind: 'sparse' };

const FIELD_NAMES = ['outreachId', 'createdAt', 'students', 'outreachProperties', 'institutionPersonID', 'emailAddress', 'value', 'valueId', 'name', 'typecode', 'content', 'length', '0', 'extra'];
const hostility: fc.Arbitrary<Hostility> = fc.oneof(
  fc.record({ kind: fc.constant('getter' as const), key: fc.constantFrom(...FIELD_NAMES) }),
  fc.record({ kind: fc.constant('trap' as const), trap: fc.constantFrom(...TRAPS) }),
  fc.record({ kind: fc.constant('revoked' as const) }),
  fc.record({ kind: fc.constant('coercion' as const), key: fc.constantFrom('toJSON' as const, 'valueOf' as const, 'toString' as const) }),
  fc.record({ kind: fc.constant('sparse' as const) }),
);

/** `node` made hostile; for a getter or a coercion, in place. */
function harden(node: object, how: Hostility): object {
  switch (how.kind) {
    case 'getter':
      // (an array's length cannot become a getter: that one stays as it is)
      Reflect.defineProperty(node, how.key, { get: boom, enumerable: true, configurable: true });
      return node;
    case 'trap':
      return trapping(node, how.trap);
    case 'revoked':
      return revoked(node);
    case 'coercion':
      Object.defineProperty(node, how.key, { value: boom, enumerable: true, configurable: true });
      return node;
    case 'sparse':
      return new Array(2 ** 32 - 1);
  }
}

/** Every object in `root` with the path to it, the root first. */
function objectsIn(root: object): { parent: Record<string, unknown> | undefined; key: string; node: object }[] {
  const out: { parent: Record<string, unknown> | undefined; key: string; node: object }[] = [{ parent: undefined, key: '', node: root }];
  for (let i = 0; i < out.length; i++) {
    const { node } = out[i]!;
    for (const [key, value] of Object.entries(node)) {
      if (value !== null && typeof value === 'object') out.push({ parent: node as Record<string, unknown>, key, node: value });
    }
  }
  return out;
}

describe('decodeOutreach never throws', () => {
  it('on any JSON value, parsed or as text', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        neverThrows(value);
        neverThrows(JSON.stringify(value));
      }),
      { numRuns: 500 },
    );
  });

  it('on any bytes and any string', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 256 }), fc.string({ unit: 'binary' }), (bytes, text) => {
      neverThrows(bytes);
      neverThrows(Buffer.from(bytes));
      neverThrows({ typecode: 0x75, content: bytes });
      neverThrows(text);
    }), { numRuns: 500 });
  });

  it('on anything at all, including odd objects', () => {
    fc.assert(fc.property(fc.anything({ withMap: true, withSet: true, withBigInt: true, withTypedArray: true }), (body) => {
      neverThrows(body);
    }), {
      numRuns: 500,
    });
  });

  it('on valid outreach with one field replaced by any JSON value', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1e6 }), fc.nat(), fc.jsonValue(), (seed, pick, replacement) => {
        const message = makeOutreachMessage({ seed }) as unknown as Record<string, unknown>;
        const keys = Object.keys(message);
        message[keys[pick % keys.length]!] = replacement;
        neverThrows(JSON.stringify(message));
      }),
      { numRuns: 300 },
    );
  });
});

describe('decodeOutreach never throws on hostile objects', () => {
  afterEach(() => vi.restoreAllMocks());

  it('a throwing getter, a throwing Proxy trap, a revoked proxy, a throwing toJSON/valueOf or a huge sparse array, at any depth', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1e6 }), fc.nat(), hostility, (seed, pick, how) => {
        const message = makeOutreachMessage({ seed }) as unknown as Record<string, unknown>;
        const places = objectsIn(message);
        const { parent, key, node } = places[pick % places.length]!;
        const hostile = harden(node, how);
        if (parent === undefined) {
          neverThrows(hostile);
        } else {
          parent[key] = hostile;
          neverThrows(message);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('as the body itself: each kind says what it is and keeps what was thrown as the cause', () => {
    const valid = () => makeOutreachMessage({ seed: 3 }) as unknown as object;
    for (const trap of TRAPS) neverThrows(trapping(valid(), trap));
    for (const body of [
      trapping(new Uint8Array(4), 'getPrototypeOf'),
      trapping(new Uint8Array(4), 'get'),
      { typecode: 0x75, get content(): never { return boom(); } },
      { get typecode(): never { return boom(); }, content: new Uint8Array(0) },
    ]) {
      const err = neverThrows(body);
      expect(err?.kind).toBe('unsupported-body');
      expect((err?.cause as Error).message).toBe(SECRET);
    }
    for (const body of [revoked(valid()), revoked([]), revoked(new Uint8Array(4)), { typecode: 0x75, content: revoked(new Uint8Array(2)) }]) {
      const err = neverThrows(body);
      expect(err?.kind).toBe('unsupported-body');
      expect(err?.cause).toBeInstanceOf(TypeError); // the engine's: "Cannot perform … on a proxy that has been revoked"
    }
    const deep = valid() as { students: Record<string, unknown>[] };
    Object.defineProperty(deep.students[0]!, 'institutionPersonID', { get: boom });
    expect(neverThrows(deep)).toMatchObject({ kind: 'unsupported-body', issues: [] });
  });

  it('deep nesting: 100,000 levels of [[[…]]] as text, alone and inside an outreach, and as a value', () => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    expect(neverThrows(deep, Infinity)?.kind).toBe('wrong-shape');
    const message = JSON.stringify(makeOutreachMessage({ seed: 4 }));
    neverThrows(`${message.slice(0, -1)},"extra":${deep}}`, Infinity);
    neverThrows(message.replace('"students":[', `"students":[${deep},`), Infinity);
    let value: unknown[] = [];
    for (let i = 0; i < 100_000; i++) value = [value];
    neverThrows(value);
    neverThrows({ ...(makeOutreachMessage({ seed: 4 }) as object), students: value });
  });

  it('a parser that throws RangeError (too deep for its stack) is not-json, with the RangeError as the cause', () => {
    const tooDeep = new RangeError('Maximum call stack size exceeded');
    vi.spyOn(JSON, 'parse').mockImplementation(() => {
      throw tooDeep;
    });
    const err = neverThrows('[[[[]]]]');
    expect(err).toMatchObject({ kind: 'not-json', message: 'message body could not be parsed: nested too deeply or too large' });
    expect(err?.cause).toBe(tooDeep);
  });
});

describe('decodeOutreach accepts every message the factory makes', () => {
  it('and keeps each field', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 }), (seed) => {
        const message = makeOutreachMessage({ seed });
        const result = decodeOutreach(JSON.stringify(message));
        expect(isRight(result) && result.right.students.map((s) => s.institutionPersonID)).toEqual(
          message.students.map((s) => String(s.institutionPersonID)),
        );
      }),
      { numRuns: 300 },
    );
  });
});
