// The README's quick start is examples/quick-start.ts as it is (which is type-checked and run
// against the test broker by test/integration/quick-start.test.ts): the two cannot drift apart.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const read = (file: string): string => readFileSync(join(root, file), 'utf8');

describe('README', () => {
  it('shows examples/quick-start.ts as its quick start, from its first import on', () => {
    const readme = read('README.md');
    const section = readme.slice(readme.indexOf('## Quick start'));
    const block = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
    const example = read('examples/quick-start.ts');
    const code = example.slice(example.indexOf('\nimport ') + 1);
    expect(block).toBe(code);
  });

  it('fits on a screen or two and names the two set-up commands', () => {
    const readme = read('README.md');
    expect(readme.split('\n').length).toBeLessThanOrEqual(100);
    expect(readme).toContain('npm ci && npm start');
    expect(readme).toContain('npm ci && npm test');
  });
});
