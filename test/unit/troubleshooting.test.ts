// docs/troubleshooting.md has one section per error code. A code added to the union fails the
// type check here until it is listed, and then this test until the guide has its section.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { DecodeErrorKind, OutreachErrorCode } from '../../src/index.js';

const CODES: Record<OutreachErrorCode, true> = {
  DECODE_FAILED: true,
  INVALID_ARGUMENT: true,
  INVALID_PROPERTY_VALUE: true,
  INSECURE_URL: true,
  CONNECTION_FAILED: true,
  AUTHENTICATION_FAILED: true,
  TLS_FAILED: true,
  QUEUE_UNAVAILABLE: true,
  ALREADY_SETTLED: true,
  DELIVERY_LOST: true,
  HANDLER_FAILED: true,
  ITERATOR_IN_USE: true,
  JOURNAL_IN_USE: true,
  JOURNAL_FAILED: true,
  CLOSED: true,
};

const KINDS: Record<DecodeErrorKind, true> = {
  'not-json': true,
  'too-large': true,
  'wrong-shape': true,
  'unsupported-body': true,
};

const doc = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'troubleshooting.md'), 'utf8');
const lines = doc.split('\n');

/** The lines under `### heading`, up to the next heading of any level; undefined if there is no such heading. */
function section(heading: string): string[] | undefined {
  const start = lines.findIndex((line) => line.trimEnd() === `### ${heading}`);
  if (start === -1) return undefined;
  const end = lines.findIndex((line, i) => i > start && /^#{1,6} /.test(line));
  return lines.slice(start + 1, end === -1 ? undefined : end);
}

/** The text after a `**Label.**` paragraph opener in a section, with its continuation lines. */
function paragraph(body: readonly string[], label: string): string | undefined {
  const start = body.findIndex((line) => line.startsWith(`**${label}.**`));
  if (start === -1) return undefined;
  const rest = [body[start]!.slice(`**${label}.**`.length)];
  for (const line of body.slice(start + 1)) {
    if (line.trim() === '' || /^\*\*[A-Z][a-z ]*\.\*\*/.test(line)) break;
    rest.push(line);
  }
  return rest.join(' ').trim();
}

describe('docs/troubleshooting.md', () => {
  it.each(Object.keys(CODES))('has a section for %s with a cause and a fix', (code) => {
    const body = section(code);
    expect(body, `no "### ${code}" heading`).toBeDefined();
    const cause = paragraph(body!, 'Cause');
    const fix = paragraph(body!, 'Fix');
    expect(cause, `${code}: no **Cause.** paragraph`).toBeDefined();
    expect(fix, `${code}: no **Fix.** paragraph`).toBeDefined();
    expect(cause!.length, `${code}: empty cause`).toBeGreaterThan(10);
    expect(fix!.length, `${code}: empty fix`).toBeGreaterThan(10);
  });

  it('has no section for a code that does not exist', () => {
    const headings = lines.filter((line) => /^### [A-Z][A-Z0-9_]*\s*$/.test(line)).map((line) => line.slice(4).trim());
    expect(headings.filter((heading) => !(heading in CODES))).toEqual([]);
    expect(new Set(headings).size).toBe(headings.length);
  });

  it.each(Object.keys(KINDS))('names the decode error kind %s', (kind) => {
    expect(doc).toContain(`\`${kind}\``);
  });
});
