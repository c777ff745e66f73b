import fc from 'fast-check';
import { isRight } from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import { decodeOutreach, makeOutreachMessage, OutreachDecodeError } from '../../src/index.js';

const KINDS = ['not-json', 'too-large', 'wrong-shape', 'unsupported-body'];

function neverThrows(body: unknown): void {
  const result = decodeOutreach(body, { maxBytes: 4096 });
  if (isRight(result)) {
    expect(typeof result.right.outreachId).toBe('string');
  } else {
    expect(result.left).toBeInstanceOf(OutreachDecodeError);
    expect(KINDS).toContain(result.left.kind);
    expect(result.left.raw).toBe(body);
  }
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
    fc.assert(fc.property(fc.anything({ withMap: true, withSet: true, withBigInt: true, withTypedArray: true }), neverThrows), {
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
