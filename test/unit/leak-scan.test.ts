// The reliability suite's leak scan can fail: planted secrets are found, clean text is not flagged.
import { describe, expect, it } from 'vitest';
import { PII_PREFIX, scanText } from '../reliability/leak-scan.js';

describe('leak scan', () => {
  it('finds a planted password, student name and email, in any case', () => {
    const text = JSON.stringify({
      kind: 'log.warn',
      payload: { fields: { endpoint: 'amqps://127.0.0.1:5671', cause: `bad password s3cr3t-pw for ${PII_PREFIX.toUpperCase()}StuF1` }, message: `mail ${PII_PREFIX}stu1@example.edu` },
    });
    const hits = scanText(text, ['s3cr3t-pw'], 'planted.jsonl');
    expect(hits.map((h) => h.what)).toEqual(['password', 'student or employee data', 'student or employee data']);
    expect(hits[0]!.excerpt).toContain('s3cr3t-pw');
    expect(hits.every((h) => h.file === 'planted.jsonl')).toBe(true);
  });

  it('passes text with neither', () => {
    expect(scanText('{"kind":"event.connected","payload":[{"endpoint":"amqps://127.0.0.1:5671"}]}', ['s3cr3t-pw'])).toEqual([]);
  });

  it('ignores an empty password rather than matching everywhere', () => {
    expect(scanText('anything', [''])).toEqual([]);
  });
});
