import { inspect } from 'node:util';
import { isRight } from 'fp-ts/lib/Either.js';
import { fail, ok } from './decoded.js';
import * as t from 'io-ts';
import { describe, expect, it } from 'vitest';
import {
  decodeOutreach,
  isOutreachError,
  OutreachDecodeError,
  type Outreach,
} from '../../src/index.js';
import { exampleOutreachMessages, type OutreachWireMessage } from '../../src/testing/index.js';

const faculty = () => exampleOutreachMessages().inspireForFaculty as unknown as Record<string, unknown> & {
  students: Record<string, unknown>[];
  outreachProperties: Record<string, unknown>[];
};

describe('decodeOutreach: the spec examples', () => {
  it.each(Object.entries(exampleOutreachMessages()))('%s decodes with every field', (_name, message: OutreachWireMessage) => {
    const outreach = ok(decodeOutreach(JSON.stringify(message)));
    expect(outreach.outreachId).toBe(message.outreachId);
    expect(outreach.outreachSource).toBe(message.outreachSource);
    expect(outreach.students).toHaveLength(message.students.length);
    expect(outreach.outreachProperties.map((p) => [p.outreachPropertyId, p.name, p.value, p.valueId])).toEqual(
      message.outreachProperties.map((p) => [String(p.outreachPropertyId), p.name, p.value, p.valueId]),
    );
  });

  it('keeps the advisor example id that is not a UUID (Oecba66b-…)', () => {
    const outreach = ok(decodeOutreach(exampleOutreachMessages().inspireForAdvisors));
    expect(outreach.outreachId).toBe('Oecba66b-a31c-40d9-b95c-cd6ff309d43b');
  });
});

describe('decodeOutreach: what arrives on the wire', () => {
  const text = JSON.stringify(exampleOutreachMessages().illumeStudentsCampaign);
  const bytes = Buffer.from(text, 'utf8');
  const forms: [string, unknown][] = [
    ['a string (amqp-value)', text],
    ['a string with a BOM', `\uFEFF${text}`],
    ['a Buffer', bytes],
    ['a Buffer with a BOM', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), bytes])],
    ['a plain Uint8Array', new Uint8Array(bytes)],
    ['an AMQP data section', { typecode: 0x75, content: bytes }],
    ['an already-parsed object', JSON.parse(text)],
  ];
  it.each(forms)('decodes %s', (_label, body) => {
    expect(ok(decodeOutreach(body)).outreachId).toBe('5751e799-1725-45c7-a2bd-1b40b43bd8aa');
  });

  it('refuses a body over maxBytes before parsing, for strings and bytes', () => {
    expect(fail(decodeOutreach(text, { maxBytes: 100 })).kind).toBe('too-large');
    expect(fail(decodeOutreach(bytes, { maxBytes: 100 })).kind).toBe('too-large');
    // measured in UTF-8 bytes, not UTF-16 units: 40 'é' are 80 bytes
    expect(fail(decodeOutreach(JSON.stringify('é'.repeat(40)), { maxBytes: 60 })).kind).toBe('too-large');
    expect(isRight(decodeOutreach(text, { maxBytes: bytes.length }))).toBe(true);
  });

  it('names the kind of each failure', () => {
    expect(fail(decodeOutreach('{"outreachId": ')).kind).toBe('not-json');
    expect(fail(decodeOutreach('')).kind).toBe('not-json');
    expect(fail(decodeOutreach(Buffer.from([0x7b, 0xff, 0x7d]))).kind).toBe('not-json');
    expect(fail(decodeOutreach('[1,2]')).kind).toBe('wrong-shape');
    expect(fail(decodeOutreach(null)).kind).toBe('unsupported-body');
    expect(fail(decodeOutreach(42)).kind).toBe('unsupported-body');
    expect(fail(decodeOutreach({ typecode: 0x76, content: [] })).kind).toBe('unsupported-body');
  });
});

describe('decodeOutreach: tolerant where the spec is loose', () => {
  it('keeps fields it does not know', () => {
    const message = { ...faculty(), termCode: '2026FA' };
    message.students[0]!.preferredName = 'Scar';
    const outreach = ok(decodeOutreach(message)) as Outreach & { termCode?: string };
    expect(outreach.termCode).toBe('2026FA');
    expect((outreach.students[0] as unknown as { preferredName: string }).preferredName).toBe('Scar');
  });

  it('decodes sources, media and values outside the examples', () => {
    const message = { ...faculty(), outreachSource: 'Inspire Mobile', outreachMedium: 'Carrier pigeon' };
    message.outreachProperties[0]!.value = 'A brand new label';
    const outreach = ok(decodeOutreach(message));
    expect([outreach.outreachSource, outreach.outreachMedium]).toEqual(['Inspire Mobile', 'Carrier pigeon']);
    expect(outreach.outreachProperties[0]!.value).toBe('A brand new label');
  });

  it('turns a numeric institutionPersonID and outreachPropertyId into strings', () => {
    const outreach = ok(decodeOutreach(faculty()));
    expect(outreach.students[0]!.institutionPersonID).toBe('123567');
    expect(outreach.outreachProperties[0]!.outreachPropertyId).toBe('12');
  });

  it('refuses a numeric id that JSON could not carry exactly', () => {
    const message = faculty();
    message.students[0]!.institutionPersonID = 2 ** 53 + 2;
    expect(fail(decodeOutreach(JSON.stringify(message))).issues[0]!.path).toBe('students[0].institutionPersonID');
  });

  it('takes a missing valueId, a null optional field and a number value', () => {
    const message = faculty();
    message.students[0]!.emailAddress = null;
    message.outreachProperties[3]!.value = 35776743;
    const outreach = ok(decodeOutreach(message));
    expect(outreach.outreachProperties[0]!.valueId).toBeUndefined();
    expect(outreach.students[0]!.emailAddress).toBeUndefined();
    expect(outreach.outreachProperties[3]!.value).toBe('35776743');
  });

  it('reads missing students and properties as empty lists', () => {
    const { students: _s, outreachProperties: _p, ...bare } = faculty();
    const outreach = ok(decodeOutreach(bare));
    expect(outreach.students).toEqual([]);
    expect(outreach.outreachProperties).toEqual([]);
  });

  it('takes the outreach id from the first property when the top level has none', () => {
    const { outreachId: _id, ...rest } = faculty();
    expect(ok(decodeOutreach(rest)).outreachId).toBe('8a007dbb-23eb-4889-9afb-d7b20586ea47');
    const { outreachProperties: _p, ...none } = rest;
    expect(fail(decodeOutreach(none)).issues.map((i) => i.path)).toEqual(['outreachId']);
  });
});

describe('decodeOutreach: what it may change', () => {
  it('never writes to a value the caller handed in (it copies what it normalises)', () => {
    const message = faculty();
    const before = structuredClone(message);
    const outreach = ok(decodeOutreach(message));
    expect(message).toEqual(before); // numeric ids still numbers in the caller's value
    expect(typeof message.outreachProperties[0]!['outreachPropertyId']).toBe('number');
    expect(outreach.outreachProperties[0]!.outreachPropertyId).toBe(String(before.outreachProperties[0]!['outreachPropertyId']));
  });

  it('normalises a body it parsed itself in place, with the same result as for a copy', () => {
    const message = faculty();
    expect(ok(decodeOutreach(JSON.stringify(message)))).toEqual(ok(decodeOutreach(message)));
  });

  it('a timestamp accepted before does not make a different, invalid one pass', () => {
    const good = faculty();
    ok(decodeOutreach(JSON.stringify(good))); // every createdAt of it now checked
    const bad = faculty();
    bad.students[0]!['createdAt'] = String(good['createdAt']).replace(/^(\d{4})-\d\d-\d\d/, '$1-02-30');
    expect(fail(decodeOutreach(JSON.stringify(bad))).issues[0]?.path).toBe('students[0].createdAt');
    ok(decodeOutreach(JSON.stringify(good)));
    bad.students[0]!['createdAt'] = `${String(good['createdAt'])}x`;
    expect(fail(decodeOutreach(JSON.stringify(bad))).issues[0]?.path).toBe('students[0].createdAt');
  });
});

describe('decodeOutreach: errors a person can act on, free of student data', () => {
  it('names every failing path with the expected and actual type', () => {
    const message = faculty();
    message.students[0]!.emailAddress = 12;
    delete message.outreachSource;
    message.outreachProperties[1]!.createdAt = '2018-02-30T10:00:00';
    const err = fail(decodeOutreach(JSON.stringify(message)));
    expect(err.kind).toBe('wrong-shape');
    expect(err.message).toContain('students[0].emailAddress: expected string, got number');
    expect(err.message).toContain('outreachSource: expected string, got missing');
    expect(err.message).toContain('outreachProperties[1].createdAt: expected a date-time that exists');
    expect(err.issues).toHaveLength(3);
    expect(isOutreachError(err)).toBe(true);
    expect(err.code).toBe('DECODE_FAILED');
  });

  it('never prints names, emails or ids, and keeps the raw body out of logs', () => {
    const message = faculty();
    message.students[0]!.institutionPersonID = { nested: 'Scarlett' };
    message.students[0]!.firstName = 99;
    const body = JSON.stringify(message);
    const err = fail(decodeOutreach(body));
    const printed = [err.message, inspect(err), JSON.stringify(err), String(err), err.stack ?? ''].join('\n');
    for (const secret of ['Scarlett', 'Jones', 'scarlett.jones@institution.edu', '123567', 'joe.bob']) {
      expect(printed).not.toContain(secret);
    }
    expect(err.raw).toBe(body);
    expect(Object.keys(err)).not.toContain('raw');
  });

  it('does not quote the body when it is not JSON', () => {
    const err = fail(decodeOutreach('{"firstName": "Scarlett", oops}'));
    expect(err.message).not.toContain('Scarlett');
    expect(err.raw).toBe('{"firstName": "Scarlett", oops}');
  });

  it('shows at most three issues and counts the rest', () => {
    const err = fail(decodeOutreach({ students: [1, 2, 3, 4, 5] }));
    expect(err.issues.length).toBeGreaterThan(3);
    expect(err.message).toMatch(/and \d+ more$/);
  });
});

describe('decodeOutreach: a codec of your own', () => {
  it('decodes with a user codec and reports its paths', () => {
    const Custom = t.type({ id: t.string, tags: t.array(t.string) });
    expect(ok(decodeOutreach('{"id":"x","tags":["a"]}', { codec: Custom }))).toEqual({ id: 'x', tags: ['a'] });
    const err = fail(decodeOutreach('{"id":"x","tags":["a", 1]}', { codec: Custom }));
    expect(err.issues[0]).toMatchObject({ path: 'tags[1]', expected: 'string', actual: 'number' });
  });

  it('reports a codec that throws instead of throwing', () => {
    const Throws = new t.Type<never, unknown, unknown>('throws', (_): _ is never => false, () => {
      throw new TypeError('boom');
    }, () => undefined);
    expect(fail(decodeOutreach('{}', { codec: Throws })).kind).toBe('wrong-shape');
  });

  it('returns an OutreachDecodeError instance', () => {
    expect(fail(decodeOutreach('x'))).toBeInstanceOf(OutreachDecodeError);
  });
});
