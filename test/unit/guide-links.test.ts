// The guides are read as Markdown too (on a code host, in node_modules), not only in the TypeDoc
// site: no TypeDoc-only syntax, and no files a reader does not have. Their links into the API
// reference are Markdown references to an entry point (`[Name]: ../src/index.ts#Name`), which
// scripts/typedoc-plugin.mjs turns into links to Name's page; `npm run docs` fails on one it
// cannot resolve.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const read = (file: string): string => readFileSync(join(root, file), 'utf8');

const guides = ['README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

/** The names `src/…/index.ts` exports (values and types). */
function exportsOf(entry: string): Set<string> {
  const names = new Set<string>();
  for (const m of read(entry).matchAll(/^export (?:type )?\{([^}]*)\}/gm)) {
    for (const name of m[1]!.split(',')) if (name.trim() !== '') names.add(name.trim());
  }
  return names;
}

describe('guides read as Markdown', () => {
  it('use no TypeDoc {@link} tags and cite no file that is not in the repository', () => {
    expect(guides.length).toBeGreaterThan(10);
    for (const file of guides) {
      const text = read(file);
      expect(text, file).not.toContain('{@link');
      expect(text, file).not.toContain('BROKER-FACTS');
    }
  });

  it('link into the API reference only by names the entry points export', () => {
    const entries: Record<string, Set<string>> = {
      '../src/index.ts': exportsOf('src/index.ts'),
      '../src/testing/index.ts': exportsOf('src/testing/index.ts'),
    };
    let links = 0;
    for (const file of guides) {
      for (const m of read(file).matchAll(/^\[([\w.]+)\]: (\.\.\/src\/[\w/]*index\.ts)#([\w.]+)$/gm)) {
        const [, label, entry, anchor] = m as unknown as [string, string, string, string];
        expect(anchor, `${file}: [${label}]`).toBe(label);
        expect(entries[entry], `${file}: ${entry}`).toBeDefined();
        expect(entries[entry]!.has(anchor.split('.')[0]!), `${file}: ${anchor} is not exported by ${entry}`).toBe(true);
        links++;
      }
    }
    expect(links).toBeGreaterThanOrEqual(20);
  });
});
