// The examples are what users copy: they must run and print what they promise.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');

describe('examples/decode-and-index.ts', () => {
  it('runs, matches by valueId after a rename, and reports the bad message by path', () => {
    const out = execFileSync(join(root, 'node_modules', '.bin', 'tsx'), ['examples/decode-and-index.ts'], {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    expect(out).toContain("matches: [ 'campaignSent' ]");
    expect(out).toContain("after rename, matches: [ 'emailSent' ]");
    expect(out).toContain('wrong-shape: message is not an outreach: students[0].emailAddress: expected string, got number');
    expect(out).not.toContain('scarlett.jones');
  }, 30_000);
});
