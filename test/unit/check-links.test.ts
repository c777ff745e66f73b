// scripts/check-links.mjs, which `npm run docs` runs over the built site: it must find a missing
// page and a missing anchor, and pass a site whose links all resolve.
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkLinks } from '../../scripts/check-links.mjs';

function site(pages: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'check-links-'));
  for (const [name, html] of Object.entries(pages)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), html);
  }
  return dir;
}

describe('check-links', () => {
  it('passes a site whose pages, anchors and assets all exist, and lists external links without fetching them', () => {
    const dir = site({
      'index.html': '<a href="documents/guide.html#setup">guide</a><a href="#top" id="top">top</a><img src="media/x.png"><a href="https://example.org/">out</a>',
      'documents/guide.html': '<h2 id="setup">Set-up</h2><a href="../index.html">home</a><a href="../modules/">modules</a>',
      'modules/index.html': '<a href="../documents/guide.html?x=1">guide</a>',
      'media/x.png': '',
    });
    const result = checkLinks(dir);
    expect(result.broken).toEqual([]);
    expect(result.pages).toBe(3);
    expect(result.external).toEqual(['https://example.org/']);
  });

  it('reports a link to a page that is not there, and an anchor a page does not have', () => {
    const dir = site({
      'index.html': '<a href="documents/gone.html">gone</a><a href="documents/guide.html#nowhere">bad anchor</a>',
      'documents/guide.html': '<h2 id="setup">Set-up</h2><a href="../../outside.html">out</a>',
    });
    const broken = checkLinks(dir).broken.map((b) => `${b.page} ${b.link} ${b.why}`);
    expect(broken.sort()).toEqual(
      [
        'documents/guide.html ../../outside.html points outside the site',
        'index.html documents/gone.html no such file',
        'index.html documents/guide.html#nowhere no id "nowhere" in documents/guide.html',
      ].sort(),
    );
  });

  it('refuses a site that was not built', () => {
    expect(() => checkLinks(join(tmpdir(), 'no-such-site-dir'))).toThrow(/build the site first/);
  });
});
