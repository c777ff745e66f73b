import { describe, expect, it } from 'vitest';
import { civitasTimestampToDate, decodeOutreach, parseCivitasTimestamp } from '../../src/index.js';
import { exampleOutreachMessages } from '../../src/testing/index.js';

describe('parseCivitasTimestamp', () => {
  it('reads a zoneless timestamp as UTC and keeps the microseconds', () => {
    const at = parseCivitasTimestamp('2018-06-11T19:35:15.366848');
    expect(at?.date.toISOString()).toBe('2018-06-11T19:35:15.366Z');
    expect(at?.epochMicros).toBe(1_528_745_715_366_848n);
    expect(at?.hadZone).toBe(false);
    expect(at?.text).toBe('2018-06-11T19:35:15.366848');
  });

  it('does not depend on the machine time zone (unlike new Date(text))', () => {
    const utc = Date.UTC(2018, 5, 11, 21, 7, 44, 222);
    expect(civitasTimestampToDate('2018-06-11T21:07:44.222117')?.getTime()).toBe(utc);
  });

  it('honours Z and numeric offsets', () => {
    expect(civitasTimestampToDate('2018-06-11T19:35:15Z')?.toISOString()).toBe('2018-06-11T19:35:15.000Z');
    expect(civitasTimestampToDate('2018-06-11T19:35:15+02:00')?.toISOString()).toBe('2018-06-11T17:35:15.000Z');
    expect(civitasTimestampToDate('2018-06-11T19:35:15-0530')?.toISOString()).toBe('2018-06-12T01:05:15.000Z');
    expect(parseCivitasTimestamp('2018-06-11T19:35:15Z')?.hadZone).toBe(true);
  });

  it('accepts 1 to 9 fraction digits and a space for T', () => {
    expect(parseCivitasTimestamp('2018-06-11 19:35:15.3')?.epochMicros).toBe(1_528_745_715_300_000n);
    expect(parseCivitasTimestamp('2018-06-11T19:35:15.123456789')?.epochMicros).toBe(1_528_745_715_123_456n);
  });

  it.each([
    '2018-02-30T10:00:00',
    '2019-02-29T10:00:00',
    '2018-13-01T10:00:00',
    '2018-00-10T10:00:00',
    '2018-06-11T24:00:00',
    '2018-06-11T23:60:00',
    '2018-06-11T23:59:60',
    '2018-06-11',
    '2018-06-11T19:35:15.',
    '2018-06-11T19:35:15.1234567890',
    '2018-06-11T19:35:15+25:00',
    '2018-06-11T19:35:15 ',
    '18-06-11T19:35:15',
    'not a date at all, really',
  ])('refuses %s', (text) => {
    expect(parseCivitasTimestamp(text)).toBeUndefined();
  });

  it('accepts 29 February in a leap year, including 2000', () => {
    expect(parseCivitasTimestamp('2000-02-29T00:00:00')).toBeDefined();
    expect(parseCivitasTimestamp('1900-02-29T00:00:00')).toBeUndefined();
  });

  it('makes an impossible date a decode error naming the field', () => {
    const message = exampleOutreachMessages().inspireForAdvisors;
    message.createdAt = '2018-04-31T00:00:00';
    const result = decodeOutreach(message);
    expect(result._tag === 'Left' && result.left.issues.map((i) => i.path)).toEqual(['createdAt']);
  });
});
