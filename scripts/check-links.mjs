#!/usr/bin/env node
// Checks every link of the generated docs site (`npm run docs` runs it after TypeDoc): each
// relative `href`/`src` in each HTML page must name a file of the site, and a `#fragment` an `id`
// (or `name`) in that page. External links (a scheme such as https:, mailto:) are listed, not
// fetched: the machine that builds the docs may have no network.
//
//   node scripts/check-links.mjs [siteDir]     (default docs/api; exit 1 with each broken link)
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Every file under `dir`, recursively. */
function filesUnder(dir) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...filesUnder(full));
    else out.push(full);
  }
  return out;
}

const ATTR = /\s(?:href|src)\s*=\s*"([^"]*)"/g;
const ID = /\s(?:id|name)\s*=\s*"([^"]*)"/g;

/** The decoded attribute value: TypeDoc writes `&amp;` and the like inside attributes. */
function unescapeAttr(value) {
  return value.replace(/&amp;/g, '&').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>');
}

/**
 * Checks the site in `siteDir`.
 * @param {string} siteDir
 * @returns {{ pages: number, links: number, external: string[], broken: { page: string, link: string, why: string }[] }}
 */
export function checkLinks(siteDir) {
  const root = path.resolve(siteDir);
  if (!statSync(root, { throwIfNoEntry: false })?.isDirectory()) {
    throw new Error(`${siteDir} is not a directory: build the site first (npm run docs)`);
  }
  const pages = filesUnder(root).filter((f) => f.endsWith('.html'));
  const idsOf = new Map();
  const ids = (file) => {
    let set = idsOf.get(file);
    if (set === undefined) {
      set = new Set();
      for (const m of readFileSync(file, 'utf8').matchAll(ID)) set.add(unescapeAttr(m[1]));
      idsOf.set(file, set);
    }
    return set;
  };
  const broken = [];
  const external = new Set();
  let links = 0;
  for (const page of pages) {
    const html = readFileSync(page, 'utf8');
    for (const m of html.matchAll(ATTR)) {
      const link = unescapeAttr(m[1]);
      links++;
      if (link === '' || link === '#') continue;
      if (/^[a-z][a-z0-9+.-]*:/i.test(link)) {
        external.add(link);
        continue;
      }
      const [rawPath, fragment] = link.split('#', 2);
      const target = rawPath === '' ? page : path.resolve(path.dirname(page), decodeURIComponent(rawPath.split('?')[0]));
      const rel = path.relative(root, page);
      if (!target.startsWith(root + path.sep) && target !== root) {
        broken.push({ page: rel, link, why: 'points outside the site' });
        continue;
      }
      const stat = statSync(target, { throwIfNoEntry: false });
      const file = stat?.isDirectory() ? path.join(target, 'index.html') : target;
      if (statSync(file, { throwIfNoEntry: false }) === undefined) {
        broken.push({ page: rel, link, why: 'no such file' });
        continue;
      }
      if (fragment !== undefined && fragment !== '' && file.endsWith('.html') && !ids(file).has(decodeURIComponent(fragment))) {
        broken.push({ page: rel, link, why: `no id "${fragment}" in ${path.relative(root, file)}` });
      }
    }
  }
  return { pages: pages.length, links, external: [...external].sort(), broken };
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const siteDir = process.argv[2] ?? 'docs/api';
  let result;
  try {
    result = checkLinks(siteDir);
  } catch (e) {
    console.error(`check-links: ${e.message}`);
    process.exit(1);
  }
  for (const b of result.broken) console.error(`broken link in ${b.page}: ${b.link} (${b.why})`);
  console.log(
    `check-links: ${result.pages} pages, ${result.links} links, ${result.broken.length} broken; ` +
      `${result.external.length} external links not fetched`,
  );
  process.exit(result.broken.length === 0 ? 0 : 1);
}
