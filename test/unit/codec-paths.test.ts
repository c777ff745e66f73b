import fc from 'fast-check';
import * as t from 'io-ts';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeOutreach, MAX_DECODE_ISSUES, OutreachCodec } from '../../src/index.js';
import { makeOutreachMessage } from '../../src/testing/index.js';
import { toIssues } from '../../src/message/decode-error.js';
import { type AnyField, IdCodec, TextCodec, ValueCodec, setFastPath } from '../../src/message/fields.js';
import { CivitasTimestampCodec } from '../../src/message/timestamp.js';

// The codecs have a fast path (no io-ts contexts) and a reporting walk over the same fields that
// stops after MAX_DECODE_ISSUES issues. Whatever the input, both must give the same verdict and the
// same value; and the walk must report what io-ts' own walk (t.type, t.readonlyArray) over the same
// leaf fields reports: the same paths, expected names, actual types and details, in the same order.

// ---- the reference: io-ts' own walk, as the codecs were written before the bounded walk ------------

const refOptional = (codec: AnyField): t.Type<unknown> =>
  new t.Type<unknown>(codec.name, (u) => u == null || codec.is(u), (u, c) => (u == null ? t.success(undefined) : codec.validate(u, c)), t.identity);
const RefStudent = t.type(
  {
    institutionPersonID: IdCodec,
    firstName: refOptional(TextCodec),
    lastName: refOptional(TextCodec),
    emailAddress: refOptional(TextCodec),
    createdAt: refOptional(CivitasTimestampCodec),
  },
  'Student',
);
const RefProperty = t.type(
  {
    outreachPropertyId: IdCodec,
    outreachId: IdCodec,
    name: TextCodec,
    value: ValueCodec,
    valueId: refOptional(IdCodec),
    createdAt: CivitasTimestampCodec,
  },
  'OutreachProperty',
);
const refList = (codec: t.Mixed): t.Type<unknown> => {
  const list = t.readonlyArray(codec);
  // `kind: 'list'` renders its keys as [i], as the list fields did when they handed over to io-ts.
  return Object.assign(new t.Type<unknown>(list.name, list.is, (u, c) => (u == null ? t.success([]) : list.validate(u, c)), t.identity), { kind: 'list' });
};
const RefEnvelope = t.type(
  {
    outreachId: refOptional(IdCodec),
    createdAt: CivitasTimestampCodec,
    employeeFirstName: refOptional(TextCodec),
    employeeLastName: refOptional(TextCodec),
    employeeEmail: refOptional(TextCodec),
    outreachSource: TextCodec,
    outreachMedium: TextCodec,
    students: refList(RefStudent),
    outreachProperties: refList(RefProperty),
  },
  'Outreach',
);
const RefOutreach: t.Type<unknown> = new t.Type<unknown>(
  'Outreach',
  (_u): _u is unknown => false,
  (u, c) => {
    const result = RefEnvelope.validate(u, c);
    if (result._tag === 'Left') return result;
    const envelope = result.right as { outreachId?: string; outreachProperties: { outreachId: string }[] };
    if (envelope.outreachId !== undefined) return t.success(envelope);
    const id = envelope.outreachProperties[0]?.outreachId;
    if (id !== undefined) return t.success({ ...envelope, outreachId: id });
    return t.failure(undefined, t.appendContext(c, 'outreachId', IdCodec, undefined), 'required: an id at the top level or on the first outreach property');
  },
  t.identity,
);

/** What io-ts' walk reports, cut as decodeOutreach cuts it. */
function reference(message: unknown) {
  const result = RefOutreach.decode(message);
  if (result._tag === 'Right') return { tag: 'Right' as const, value: result.right };
  return { tag: 'Left' as const, issues: toIssues(result.left, MAX_DECODE_ISSUES), truncated: result.left.length > MAX_DECODE_ISSUES };
}

/** What decodeOutreach reports, with the fast path on or off. */
function ours(message: unknown, fastPath: boolean) {
  setFastPath(fastPath);
  try {
    const result = decodeOutreach(message);
    if (result._tag === 'Right') return { tag: 'Right' as const, value: result.right };
    return { tag: 'Left' as const, issues: result.left.issues, truncated: result.left.issuesTruncated };
  } finally {
    setFastPath(true);
  }
}

function mutate(value: Record<string, unknown>, path: readonly (string | number)[], replacement: unknown): void {
  let node: unknown = value;
  for (const key of path.slice(0, -1)) {
    if (node === null || typeof node !== 'object') return;
    node = (node as Record<string | number, unknown>)[key];
  }
  if (node !== null && typeof node === 'object') (node as Record<string | number, unknown>)[path.at(-1)!] = replacement;
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

const PATHS: (string | number)[][] = [
  ['outreachId'], ['createdAt'], ['students'], ['students', 0], ['students', 0, 'institutionPersonID'],
  ['students', 0, 'emailAddress'], ['students', 0, 'createdAt'], ['students', 1, 'firstName'], ['outreachProperties'],
  ['outreachProperties', 0, 'value'], ['outreachProperties', 0, 'valueId'], ['outreachProperties', 0, 'createdAt'],
  ['outreachProperties', 1, 'outreachPropertyId'], ['outreachProperties', 0, 'outreachId'], ['outreachProperties', 2],
  ['employeeEmail'], ['outreachSource'], ['outreachMedium'],
];
const replacement = fc.oneof(fc.jsonValue(), fc.constantFrom(undefined, null, 7, '', 2 ** 53 + 2, '2018-02-30T10:00:00', '2018-06-11T19:35:15.366848'));
const mutations = fc.array(fc.tuple(fc.constantFrom(...PATHS), replacement), { minLength: 0, maxLength: 4 });

describe('fast path and reporting walk agree', () => {
  it('the reporting walk alone decodes the spec-shaped factory output', () => {
    const { fast, slow } = bothPaths(makeOutreachMessage({ seed: 5 }));
    expect(slow._tag).toBe('Right');
    expect(slow).toEqual(fast);
  });

  it('on valid and mutated outreach: same verdict, same value', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1e6 }), mutations, (seed, changes) => {
        const message = makeOutreachMessage({ seed }) as unknown as Record<string, unknown>;
        for (const [path, value] of changes) mutate(message, path, value);
        const { fast, slow } = bothPaths(message);
        expect(fast._tag).toBe(slow._tag);
        if (fast._tag === 'Right') expect(fast).toEqual(slow);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('the reporting walk reports what io-ts’ own walk reports', () => {
  it('on valid and mutated outreach: same issues (path, expected, actual, detail), same order', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1e6 }), mutations, fc.boolean(), (seed, changes, fastPath) => {
        const message = makeOutreachMessage({ seed }) as unknown as Record<string, unknown>;
        for (const [path, value] of changes) mutate(message, path, value);
        const expected = reference(message);
        const actual = ours(message, fastPath);
        expect(actual.tag).toBe(expected.tag);
        if (actual.tag === 'Left' && expected.tag === 'Left') {
          expect(actual.issues).toEqual(expected.issues);
          expect(actual.truncated).toBe(expected.truncated);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('on the spec-shaped factory output: the same value', () => {
    const message = makeOutreachMessage({ seed: 11 });
    expect(ours(message, false)).toEqual(reference(message));
  });

  it('on many issues: the first MAX_DECODE_ISSUES of them, and that there were more', () => {
    const shapes: unknown[] = [
      { students: Array.from({ length: 300 }, (_, i) => (i % 3 === 0 ? 1 : { institutionPersonID: i % 2 === 0 ? '' : i, emailAddress: 5 })) },
      { createdAt: 1, outreachProperties: Array.from({ length: 40 }, () => ({ value: {} })) },
      { outreachId: 'x', createdAt: '2018-06-11T19:35:15', outreachSource: 's', outreachMedium: 'm', students: Array(101).fill(null) },
      { outreachId: 'x', createdAt: '2018-06-11T19:35:15', outreachSource: 's', outreachMedium: 'm', students: Array(100).fill(null) },
    ];
    for (const message of shapes) {
      for (const fastPath of [true, false]) {
        const expected = reference(message);
        expect(ours(message, fastPath)).toEqual(expected);
      }
    }
    const cut = ours(shapes[2], true);
    const whole = ours(shapes[3], true);
    expect(cut.tag === 'Left' && [cut.issues.length, cut.truncated]).toEqual([MAX_DECODE_ISSUES, true]);
    expect(whole.tag === 'Left' && [whole.issues.length, whole.truncated]).toEqual([MAX_DECODE_ISSUES, false]);
  });
});
