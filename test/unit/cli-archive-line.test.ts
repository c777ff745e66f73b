// The line format of `pull` and `peek`: one line per message, the body as sent.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { archiveLine, compactJson, readLine } from '../../src/journal/line.js';

const meta = { messageId: 'ID:1', deliveryCount: 2, receivedAt: new Date('2026-01-02T03:04:05.678Z') };

describe('compactJson', () => {
  it('any JSON, however laid out, comes back on one line with the same value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.constantFrom(0, 1, 2, '\t', ' \r\n '), (value, indent) => {
        const text = JSON.stringify(value, null, indent);
        const compact = compactJson(text);
        expect(compact).toBeDefined();
        expect(compact).not.toMatch(/[\n\r]/);
        expect(JSON.parse(compact!)).toEqual(JSON.parse(text));
      }),
    );
  });

  it('keeps what JSON.parse would lose: digits of big numbers, repeated keys, whitespace inside strings', () => {
    expect(compactJson('{ "n": 12345678901234567890, "a": 1, "a": 2 }')).toBe('{"n":12345678901234567890,"a":1,"a":2}');
    expect(compactJson('[ "a b\\" c ", "\\\\" ]')).toBe('["a b\\" c ","\\\\"]');
  });

  it('is undefined for text that is not JSON', () => {
    expect(compactJson('plain text')).toBeUndefined();
    expect(compactJson('{"a": 1')).toBeUndefined();
  });
});

describe('archiveLine', () => {
  it('JSON text as body, other text as bodyText, bytes that are not UTF-8 as bodyBase64', () => {
    expect(archiveLine({ ...meta, outreachId: 'o-1' }, '{ "x": [1, 2] }')).toBe(
      '{"messageId":"ID:1","deliveryCount":2,"receivedAt":"2026-01-02T03:04:05.678Z","outreachId":"o-1","body":{"x":[1,2]}}\n',
    );
    const invalid = { kind: 'not-json', message: 'message body is not valid JSON' };
    expect(JSON.parse(archiveLine({ ...meta, invalid }, 'hello\nworld'))).toMatchObject({ invalid, bodyText: 'hello\nworld' });
    const section = { typecode: 0x75, content: Buffer.from('{"a":1}') };
    expect(JSON.parse(archiveLine(meta, section))).toMatchObject({ body: { a: 1 } });
    expect(JSON.parse(archiveLine(meta, Buffer.from([0xff, 0xfe])))).toMatchObject({ bodyBase64: '//4=' });
  });

  it('every line is one line of valid JSON, whatever the body', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.jsonValue().map((v) => JSON.stringify(v, null, 2)), fc.uint8Array()), (body) => {
        const line = archiveLine(meta, body);
        expect(line.endsWith('\n')).toBe(true);
        expect(line.slice(0, -1)).not.toContain('\n');
        expect(() => JSON.parse(line) as unknown).not.toThrow();
      }),
    );
  });
});

describe('readLine: a line read back', () => {
  it('gives back the metadata and the JSON body as its own text (big numbers keep every digit), whatever keys the properties and body hold', () => {
    const body = '{ "outreachId": "o-1", "n": 12345678901234567890123, "body": "a \\"body\\": inside", "x": {"body": 1} }';
    const properties = { a: 1, body: 'not the body', nested: { body: [1, 2] } };
    const line = archiveLine({ messageId: 'ID:1', deliveryCount: 2, receivedAt: new Date(Date.UTC(2026, 0, 1)), subject: 's', applicationProperties: properties, outreachId: 'o-1' }, body);
    const read = readLine(line);
    expect(read.body).toBe(compactJson(body));
    expect(read).toMatchObject({ messageId: 'ID:1', deliveryCount: 2, subject: 's', outreachId: 'o-1', applicationProperties: properties });
    expect(read.receivedAt.toISOString()).toBe('2026-01-01T00:00:00.000Z');
  });

  it('gives back text as text and bytes that are not UTF-8 as bytes', () => {
    const meta = { messageId: 7, deliveryCount: 0, receivedAt: new Date(0) };
    expect(readLine(archiveLine(meta, 'plain text, not JSON')).body).toBe('plain text, not JSON');
    const bytes = new Uint8Array([0xff, 0xfe, 0x00, 0x41]);
    expect(readLine(archiveLine(meta, bytes)).body).toEqual(bytes);
    expect(readLine(archiveLine(meta, 'x')).messageId).toBe(7);
  });

  it('refuses a line that is not one of ours', () => {
    expect(() => readLine('{"hello":1}\n')).toThrow(SyntaxError);
    expect(() => readLine('nope\n')).toThrow(SyntaxError);
  });
});
