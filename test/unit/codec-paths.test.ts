import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { OutreachCodec, makeOutreachMessage } from '../../src/index.js';
import { setFastPath } from '../../src/message/fields.js';

// The codecs have a fast path (no io-ts contexts) and a reporting path (io-ts' own walk over the
// same fields). Whatever the input, both must give the same verdict and the same value.

function mutate(value: Record<string, unknown>, path: readonly (string | number)[], replacement: unknown): void {
  let node: unknown = value;
  for (const key of path.slice(0, -1)) node = (node as Record<string | number, unknown>)[key];
  (node as Record<string | number, unknown>)[path.at(-1)!] = replacement;
}

function bothPaths(message: unknown) {
  setFastPath(true);
  const fast = OutreachCodec.decode(message);
  setFastPath(false);
  const slow = OutreachCodec.decode(message);
  setFastPath(true);
  return { fast, slow };
}

afterEach(() => setFastPath(true));

describe('fast and reporting paths agree', () => {
  it('the reporting path alone decodes the spec-shaped factory output', () => {
    const { fast, slow } = bothPaths(makeOutreachMessage({ seed: 5 }));
    expect(slow._tag).toBe('Right');
    expect(slow).toEqual(fast);
  });

  it('on valid and mutated outreach', () => {
    const paths: (string | number)[][] = [
      ['outreachId'], ['createdAt'], ['students'], ['students', 0], ['students', 0, 'institutionPersonID'],
      ['students', 0, 'emailAddress'], ['students', 0, 'createdAt'], ['outreachProperties'], ['outreachProperties', 0, 'value'],
      ['outreachProperties', 0, 'valueId'], ['outreachProperties', 0, 'createdAt'], ['outreachProperties', 1, 'outreachPropertyId'],
      ['outreachProperties', 0, 'outreachId'], ['employeeEmail'], ['outreachSource'],
    ];
    const replacement = fc.oneof(fc.jsonValue(), fc.constantFrom(undefined, null, 7, '', '2018-06-11T19:35:15.366848'));
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1e6 }), fc.constantFrom(...paths), replacement, (seed, path, value) => {
        const message = makeOutreachMessage({ seed }) as unknown as Record<string, unknown>;
        mutate(message, path, value);
        const { fast, slow } = bothPaths(message);
        expect(fast._tag).toBe(slow._tag);
        if (fast._tag === 'Right') expect(fast).toEqual(slow);
      }),
      { numRuns: 1000 },
    );
  });
});
