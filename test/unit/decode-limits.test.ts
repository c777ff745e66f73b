import { inspect } from 'node:util';
import { isLeft, type Either } from 'fp-ts/lib/Either.js';
import { fail, ok } from './decoded.js';
import * as t from 'io-ts';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  decodeOutreach,
  isOutreachError,
  MAX_DECODE_ISSUES,
  OutreachCodec,
  OutreachDecodeError,
  type Outreach,
} from '../../src/index.js';
import { exampleOutreachMessages } from '../../src/testing/index.js';
import { checkMaxBytes } from '../../src/message/decode.js';
import { setFastPath } from '../../src/message/fields.js';


const HEAD = '"outreachId":"x","createdAt":"2018-06-11T19:35:15.366848","outreachSource":"a","outreachMedium":"b"';
/** `{ …envelope, "students": [1,1,1,…] }`: about 2 bytes per issue. */
const studentsOfOnes = (n: number): string => `{${HEAD},"students":[${'1,'.repeat(n - 1)}1]}`;

afterEach(() => {
  setFastPath(true);
  vi.restoreAllMocks();
});

describe('decode errors list a bounded number of issues', () => {
  it('an 8 MB body of wrong students: MAX_DECODE_ISSUES issues, marked truncated, a small error', () => {
    const body = studentsOfOnes(4_000_000);
    expect(body.length).toBeGreaterThan(8_000_000);
    const started = Date.now();
    const err = fail(decodeOutreach(body));
    expect(Date.now() - started).toBeLessThan(20_000); // a guard against hanging, not a speed test
    expect(err.kind).toBe('wrong-shape');
    expect(err.issues).toHaveLength(MAX_DECODE_ISSUES);
    expect(err.issuesTruncated).toBe(true);
    expect(err.issues[99]).toEqual({ path: 'students[99]', expected: 'Student', actual: 'number' });
    expect(JSON.stringify(err).length).toBeLessThan(20_000);
    expect(err.message).toBe(
      'message is not an outreach: students[0]: expected Student, got number; students[1]: expected Student, got number; ' +
        'students[2]: expected Student, got number; and 97 more in issues; more than 100 in all',
    );
  });

  it('100,000 wrong outreach properties', () => {
    const body = `{${HEAD},"outreachProperties":[${Array(100_000).fill('{"name":1}').join(',')}]}`;
    const err = fail(decodeOutreach(body));
    expect([err.issues.length, err.issuesTruncated]).toEqual([MAX_DECODE_ISSUES, true]);
    expect(err.issues[0]).toEqual({ path: 'outreachProperties[0].outreachPropertyId', expected: 'id (non-empty string or safe integer)', actual: 'missing' });
  });

  it('exactly MAX_DECODE_ISSUES issues are all listed and not marked truncated; one more is', () => {
    const all = fail(decodeOutreach(studentsOfOnes(MAX_DECODE_ISSUES)));
    expect([all.issues.length, all.issuesTruncated]).toEqual([MAX_DECODE_ISSUES, false]);
    expect(all.message).toMatch(/and 97 more$/);
    const cut = fail(decodeOutreach(studentsOfOnes(MAX_DECODE_ISSUES + 1)));
    expect([cut.issues.length, cut.issuesTruncated]).toEqual([MAX_DECODE_ISSUES, true]);
  });

  it('prints issuesTruncated with the error, and false for the other kinds', () => {
    expect(JSON.parse(JSON.stringify(fail(decodeOutreach(studentsOfOnes(200)))))).toMatchObject({ issuesTruncated: true });
    expect(JSON.parse(JSON.stringify(fail(decodeOutreach('{'))))).toMatchObject({ kind: 'not-json', issues: [], issuesTruncated: false });
    expect(inspect(fail(decodeOutreach(studentsOfOnes(200))))).toContain('issuesTruncated: true');
  });

  it('stops looking: a huge sparse list in an already-parsed value returns at once', () => {
    const message = JSON.parse(studentsOfOnes(1)) as Record<string, unknown>;
    message.students = new Array(2 ** 32 - 1);
    const err = fail(decodeOutreach(message));
    expect([err.issues.length, err.issuesTruncated]).toEqual([MAX_DECODE_ISSUES, true]);
  });

  it('a late issue in a large valid body is found (the walk starts where the fast path failed)', () => {
    const message = JSON.parse(studentsOfOnes(1)) as { students: unknown[] };
    message.students = Array.from({ length: 50_000 }, (_, i) => ({ institutionPersonID: i }));
    (message.students[49_999] as Record<string, unknown>).lastName = 7;
    (message.students[49_998] as Record<string, unknown>).institutionPersonID = '';
    const err = fail(decodeOutreach(JSON.stringify(message)));
    expect(err.issues.map((i) => i.path)).toEqual(['students[49998].institutionPersonID', 'students[49999].lastName']);
    message.students.splice(49_998);
    const { outreachId: _id, ...withoutId } = message as unknown as Record<string, unknown>;
    expect(fail(decodeOutreach(withoutId)).issues).toEqual([
      { path: 'outreachId', expected: 'id (non-empty string or safe integer)', actual: 'missing', detail: 'required: an id at the top level or on the first outreach property' },
    ]);
  });

  it('a body whose getter answers wrong, then right, is still a wrong shape', () => {
    const message = JSON.parse(studentsOfOnes(1)) as Record<string, unknown>;
    let reads = 0;
    message.students = [Object.defineProperty({}, 'institutionPersonID', { get: () => (reads++ === 0 ? {} : 'id-1'), enumerable: true })];
    const err = fail(decodeOutreach(message));
    expect([err.kind, err.issues[0]?.detail]).toEqual(['wrong-shape', 'the value changed while it was being read']);
  });

  it('OutreachCodec inside a codec of your own gives io-ts at most MAX_DECODE_ISSUES + 1 errors', () => {
    const value = JSON.parse(studentsOfOnes(100_000)) as unknown;
    const direct = OutreachCodec.decode(value);
    expect(isLeft(direct) && direct.left.length).toBe(MAX_DECODE_ISSUES + 1);
    const Mine = t.intersection([OutreachCodec, t.type({ termCode: t.string })]);
    const err = fail(decodeOutreach(value, { codec: Mine }));
    expect([err.issues.length, err.issuesTruncated]).toEqual([MAX_DECODE_ISSUES, true]);
    expect(err.issues[0]!.path).toBe('students[0]');
  });

  it('a plain io-ts codec with many errors: issues and message are bounded', () => {
    const Strings = t.type({ tags: t.array(t.string) });
    const err = fail(decodeOutreach({ tags: Array(50_000).fill(1) }, { codec: Strings }));
    expect([err.issues.length, err.issuesTruncated]).toEqual([MAX_DECODE_ISSUES, true]);
    expect(err.issues[99]!.path).toBe('tags[99]');
    expect(err.message.length).toBeLessThan(300);
  });
});

describe('a codec of your own that throws', () => {
  const throwing = (thrown: unknown) =>
    new t.Type<never, unknown, unknown>('throws', (_): _ is never => false, () => {
      throw thrown;
    }, () => undefined);

  it('is a wrong-shape error whose message holds no text of what was thrown, kept as the cause', () => {
    const thrown = Object.assign(new TypeError('Scarlett Jones 123567'), { name: 'scarlett.jones@institution.edu' });
    const err = fail(decodeOutreach('{}', { codec: throwing(thrown) }));
    expect(err.kind).toBe('wrong-shape');
    expect(err.cause).toBe(thrown);
    const printed = [err.message, err.stack ?? '', JSON.stringify(err), inspect(err)].join('\n');
    for (const secret of ['Scarlett', '123567', 'scarlett.jones', 'TypeError']) expect(printed).not.toContain(secret);
    expect(err.issues).toEqual([]);
  });

  it('keeps whatever was thrown, an Error or not', () => {
    expect(fail(decodeOutreach('{}', { codec: throwing('a string 123567') })).cause).toBe('a string 123567');
    expect(fail(decodeOutreach('{}', { codec: throwing(undefined) })).kind).toBe('wrong-shape');
  });
});

describe('OutreachDecodeError constructor', () => {
  it('still takes (kind, message, raw) and (kind, message, raw, issues)', () => {
    const plain = new OutreachDecodeError('not-json', 'm', 'raw');
    expect([plain.kind, plain.issues, plain.issuesTruncated, plain.cause, plain.raw]).toEqual(['not-json', [], false, undefined, 'raw']);
    const issues = [{ path: 'a', expected: 'string', actual: 'number' }];
    expect(new OutreachDecodeError('wrong-shape', 'm', 'raw', issues).issues).toBe(issues);
  });

  it('takes a cause and issuesTruncated; the cause is not printed', () => {
    const cause = new Error('Scarlett');
    const err = new OutreachDecodeError('wrong-shape', 'm', 'raw', [], { cause, issuesTruncated: true });
    expect([err.cause, err.issuesTruncated]).toEqual([cause, true]);
    expect(`${JSON.stringify(err)}${inspect(err)}`).not.toContain('Scarlett');
  });
});

describe('maxBytes is checked', () => {
  const text = JSON.stringify(exampleOutreachMessages().illumeStudentsCampaign);

  it.each([NaN, -1, 0, 1.5, -Infinity, '100', null, 10n])('decodeOutreach throws INVALID_ARGUMENT for maxBytes %s', (bad) => {
    let thrown: unknown;
    try {
      decodeOutreach(text, { maxBytes: bad as number });
    } catch (e) {
      thrown = e;
    }
    expect(isOutreachError(thrown) && [thrown.code, thrown.message.startsWith('maxBytes must be a positive integer')]).toEqual([
      'INVALID_ARGUMENT',
      true,
    ]);
  });

  it('accepts a positive integer and Infinity (no limit)', () => {
    expect(fail(decodeOutreach(text, { maxBytes: 10 })).kind).toBe('too-large');
    expect(ok(decodeOutreach(text, { maxBytes: Infinity })).outreachId).toBe('5751e799-1725-45c7-a2bd-1b40b43bd8aa');
    expect(ok(decodeOutreach(Buffer.from(text), { maxBytes: Infinity })).outreachId).toBe('5751e799-1725-45c7-a2bd-1b40b43bd8aa');
  });

  it('checkMaxBytes names the option and returns the value', () => {
    expect(checkMaxBytes(1, 'maxBodyBytes')).toBe(1);
    expect(checkMaxBytes(Infinity, 'maxBodyBytes')).toBe(Infinity);
    expect(() => checkMaxBytes(NaN, 'maxBodyBytes')).toThrow(/^maxBodyBytes must be a positive integer number of bytes, or Infinity for no limit; got NaN$/);
    expect(() => checkMaxBytes(-5, 'maxBodyBytes')).toThrow(/got -5$/);
    expect(() => checkMaxBytes(undefined, 'maxBodyBytes')).toThrow(/got undefined$/);
    expect(() => checkMaxBytes({ secret: 'Scarlett' }, 'x')).toThrow(/got object$/);
  });
});

describe('__proto__, constructor and prototype are dropped from decoded objects', () => {
  const UNSAFE = '"__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}},"prototype":{"polluted":"yes"}';
  const wire = (): string => {
    const message = exampleOutreachMessages().illumeStudentsCampaign;
    const text = JSON.stringify({ ...message, outreachId: 'o-1', termCode: '2026FA' });
    // every id a string, so the fast path normalises nothing and would hand the parsed objects back
    return text
      .replace(/"institutionPersonID":(\d+)/g, '"institutionPersonID":"$1"')
      .replace(/"outreachPropertyId":(\d+)/g, '"outreachPropertyId":"$1"')
      .replace('{', `{${UNSAFE},`)
      .replace('"students":[{', `"students":[{${UNSAFE},"preferredName":"Scar",`)
      .replace('"outreachProperties":[{', `"outreachProperties":[{${UNSAFE},`);
  };

  function expectClean(outreach: Outreach): void {
    for (const object of [outreach, outreach.students[0]!, outreach.outreachProperties[0]!]) {
      for (const key of ['__proto__', 'constructor', 'prototype']) expect(Object.hasOwn(object, key)).toBe(false);
      expect(Object.getPrototypeOf(Object.assign({}, object))).toBe(Object.prototype);
      expect(({ ...object } as Record<string, unknown>).polluted).toBeUndefined();
    }
    expect((outreach as Outreach & { termCode: string }).termCode).toBe('2026FA');
    expect((outreach.students[0] as unknown as { preferredName: string }).preferredName).toBe('Scar');
  }

  it('the parsed JSON has them as own keys (the premise)', () => {
    const parsed = JSON.parse(wire()) as object;
    expect(Object.hasOwn(parsed, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(Object.assign({}, parsed))).not.toBe(Object.prototype);
  });

  it.each([true, false])('at every level, fast path on: %s (off: the reporting walk alone)', (fastPath) => {
    setFastPath(fastPath);
    expectClean(ok(decodeOutreach(wire())));
    expectClean(ok(decodeOutreach(JSON.parse(wire()))));
    expectClean(ok(OutreachCodec.decode(JSON.parse(wire())) as Either<never, Outreach>));
  });

  it('with the outreach id taken from the first property', () => {
    const withoutId = wire().replace('"outreachId":"o-1",', '');
    expectClean(ok(decodeOutreach(withoutId)));
  });

  it('copies nothing when no such key is there', () => {
    const message = JSON.parse(wire().replaceAll(`${UNSAFE},`, '')) as Outreach;
    const outreach = ok(decodeOutreach(message));
    expect(outreach).toBe(message);
    expect(outreach.students).toBe(message.students);
  });
});
