// Packs the tarball, installs it in a new project as a user would (required peers only), and both
// imports and requires it by name, and runs its command line; checks what it ships (the guides and
// the examples they link to, every relative link resolving inside it); then starts a consumer without and
// with the optional peer @opentelemetry/api installed. Needs `npm run build` first (the test command
// does it); packing here skips prepack so as not to build twice (fresh-clone.test.ts checks that
// prepack builds).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { npmInstall, packInto, requiredPeers, root, run } from './packed.js';

let project: string;

beforeAll(() => {
  project = mkdtempSync(join(tmpdir(), 'civitas-outreach-pack-'));
  const { tarball } = packInto(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'pack-check', private: true, version: '0.0.0' }));
  npmInstall(project, [tarball, ...requiredPeers()]);
});

/** The files `npm pack` puts in the tarball. */
function packedFiles(): string[] {
  const files = JSON.parse(run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], root)) as { files: { path: string }[] }[];
  return files[0]!.files.map((f) => f.path);
}

/**
 * The relative link targets of a Markdown text (not in code), inline and reference definitions,
 * without scheme links. A reference into the API reference (`[Name]: ../src/index.ts#Name`, which
 * the TypeDoc plugin resolves to the generated page) is left out: npm does not ship `src/` or the
 * generated site, so in node_modules such a reference is only its readable name.
 */
function relativeLinks(markdown: string): string[] {
  const prose = markdown.replace(/^```[\s\S]*?^```/gm, '').replace(/`[^`\n]*`/g, '');
  const inline = [...prose.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!);
  const references = [...prose.matchAll(/^\[[^\]\n]+\]: (\S+)/gm)].map((m) => m[1]!).filter((t) => !/^\.\.\/src\/(testing\/)?index\.ts#\w/.test(t));
  return [...inline, ...references].filter((target) => !/^[a-z][a-z0-9+.-]*:/i.test(target));
}

/** The ids a Markdown renderer (GitHub, TypeDoc) gives the headings of a text. */
function headingIds(markdown: string): Set<string> {
  const prose = markdown.replace(/^```[\s\S]*?^```/gm, '');
  return new Set(
    [...prose.matchAll(/^#{1,6} (.+)$/gm)].map((m) =>
      m[1]!
        .toLowerCase()
        .replace(/[^\p{L}\p{N} _-]/gu, '')
        .replace(/ /g, '-'),
    ),
  );
}

afterAll(() => {
  if (project !== undefined) rmSync(project, { recursive: true, force: true });
});

const script = `
  const example = JSON.parse('{"outreachId":"8a007dbb-23eb-4889-9afb-d7b20586ea47","createdAt":"2018-06-11T19:30:23.473274","outreachSource":"Faculty","outreachMedium":"Email","students":[],"outreachProperties":[{"outreachPropertyId":11,"outreachId":"8a007dbb-23eb-4889-9afb-d7b20586ea47","name":"rawEnrollmentId","value":"35776743","createdAt":"2018-06-11T19:30:23.473274"}]}');
  const result = m.decodeOutreach(JSON.stringify(example));
  if (result._tag !== 'Right') throw new Error('decode failed');
  const index = m.indexProperties(result.right);
  console.log(JSON.stringify({ id: result.right.outreachId, enrollment: index.get('rawEnrollmentId'), guard: m.isOutreachError(new m.OutreachError('INVALID_ARGUMENT', 'x')) }));
`;
const expected = { id: '8a007dbb-23eb-4889-9afb-d7b20586ea47', enrollment: 35776743, guard: true };

describe('the packed tarball', () => {
  it('imports by name from ESM', () => {
    writeFileSync(join(project, 'esm.mjs'), `import * as m from 'civitas-outreach';\n${script}`);
    expect(JSON.parse(run('node', ['esm.mjs'], project))).toEqual(expected);
  });

  it('requires by name from CommonJS', () => {
    writeFileSync(join(project, 'cjs.cjs'), `const m = require('civitas-outreach');\n${script}`);
    expect(JSON.parse(run('node', ['cjs.cjs'], project))).toEqual(expected);
  });

  const testingScript = `
    const example = t.exampleOutreachMessages().inspireForFaculty;
    const ok = m.decodeOutreach(JSON.stringify(example))._tag === 'Right';
    const bad = m.decodeOutreach(t.makeInvalidOutreach('wrong-type'))._tag === 'Left';
    const noTestingInMain = ['exampleOutreachMessages', 'makeOutreachMessages', 'startDevQueue', 'runHandler'].every((n) => !(n in m));
    t.startDevQueue({ queues: { q: [example] } }).then(async (dq) => {
      const depth = dq.depth('q');
      await dq.close();
      // One copy of the engine for both entries (a shared chunk): the harness's deliveries are the main entry's class.
      let sameClass = false;
      const run = await t.runHandler((d) => void (sameClass = d instanceof m.OutreachDelivery), [example]);
      console.log(JSON.stringify({ ok, bad, noTestingInMain, depth, outcome: run.messages[0].outcome, sameClass }));
    });
  `;
  const testingExpected = { ok: true, bad: true, noTestingInMain: true, depth: 1, outcome: 'accepted', sameClass: true };

  it('imports the testing subpath by name from ESM', () => {
    writeFileSync(join(project, 'testing.mjs'), `import * as m from 'civitas-outreach';\nimport * as t from 'civitas-outreach/testing';\n${testingScript}`);
    expect(JSON.parse(run('node', ['testing.mjs'], project))).toEqual(testingExpected);
  });

  it('requires the testing subpath by name from CommonJS', () => {
    writeFileSync(join(project, 'testing.cjs'), `const m = require('civitas-outreach');\nconst t = require('civitas-outreach/testing');\n${testingScript}`);
    expect(JSON.parse(run('node', ['testing.cjs'], project))).toEqual(testingExpected);
  });

  it('ships dist, the guides (docs/*.md) and the examples they link to, and the package files', () => {
    const paths = packedFiles();
    const shipped = (p: string): boolean =>
      p.startsWith('dist/') || /^docs\/[^/]+\.md$/.test(p) || /^examples\/.+\.ts$/.test(p) || ['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md'].includes(p);
    expect(paths.filter((p) => !shipped(p))).toEqual([]);
    expect(paths).toEqual(
      expect.arrayContaining(['dist/index.js', 'dist/index.cjs', 'dist/index.d.ts', 'dist/index.d.cts', 'dist/testing.js', 'dist/testing.cjs', 'dist/testing.d.ts', 'dist/testing.d.cts', 'dist/cli.js']),
    );
    expect(paths).toEqual(expect.arrayContaining(['docs/getting-started.md', 'examples/quick-start.ts', 'CHANGELOG.md', 'LICENSE']));
    expect(paths.some((p) => p.startsWith('docs/api/'))).toBe(false); // the generated site stays out
  });

  // Someone who installed from npm reads node_modules/civitas-outreach/README.md and the guides:
  // every relative link in them must name a file of the package (and a #fragment a heading there).
  it("every relative link of the shipped Markdown (README, guides) resolves inside the package", () => {
    const paths = packedFiles();
    const markdown = paths.filter((p) => p.endsWith('.md'));
    expect(markdown.length).toBeGreaterThan(10);
    const links = markdown.flatMap((file) => relativeLinks(readFileSync(join(root, file), 'utf8')).map((link) => ({ file, link })));
    expect(links.filter(({ file }) => file === 'README.md').length).toBeGreaterThan(15);
    const broken = links.filter(({ file, link }) => {
      const [target = '', fragment] = link.split('#');
      const path = target === '' ? file : posix.normalize(posix.join(posix.dirname(file), target));
      if (!paths.includes(path)) return true;
      return fragment !== undefined && path.endsWith('.md') && !headingIds(readFileSync(join(root, path), 'utf8')).has(fragment);
    });
    expect(broken).toEqual([]);
  });

  it('installs the civitas-outreach command: --help works', () => {
    const out = run('npx', ['--no-install', 'civitas-outreach', '--help'], project);
    expect(out).toMatch(/^Usage: civitas-outreach <command>/);
    expect(out).toMatch(/^ {2}check /m);
  });
});

// Starts a consumer against a port where nothing listens (start() rejects after one attempt) and
// prints what its logger said about telemetry, and whether the optional API resolves here at all.
const startScript = `
  const lines = [];
  const logger = { debug: (f, msg) => lines.push(msg), info() {}, warn: (f, msg) => lines.push(msg), error: (f, msg) => lines.push(msg) };
  const consumer = new m.OutreachConsumer({ url: 'amqp+ssl://127.0.0.1:9', username: 'u', password: 'p', queue: 'q', reconnect: { maxAttempts: 1 }, logger });
  consumer.on('error', () => {});
  let api = true;
  try { require.resolve('@opentelemetry/api'); } catch { api = false; }
  consumer.start(() => {}).then(
    () => console.log('started?'),
    (error) => console.log(JSON.stringify({ api, rejected: error.code, telemetry: lines.filter((l) => l.includes('telemetry')) })),
  );
`;
const esmStart = `import * as m from 'civitas-outreach';\nimport { createRequire } from 'node:module';\nconst require = createRequire(import.meta.url);\n${startScript}`;
const cjsStart = `const m = require('civitas-outreach');\n${startScript}`;

describe('the optional peer @opentelemetry/api', () => {
  it('not installed: a consumer starts with telemetry off, from ESM and CommonJS', () => {
    writeFileSync(join(project, 'start.mjs'), esmStart);
    writeFileSync(join(project, 'start.cjs'), cjsStart);
    const expected = { api: false, rejected: 'CONNECTION_FAILED', telemetry: ['telemetry off: @opentelemetry/api is not installed'] };
    expect(JSON.parse(run('node', ['start.mjs'], project))).toEqual(expected);
    expect(JSON.parse(run('node', ['start.cjs'], project))).toEqual(expected);
  });

  it('installed: telemetry on, from ESM and CommonJS', () => {
    const { devDependencies } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };
    npmInstall(project, [`@opentelemetry/api@${devDependencies['@opentelemetry/api']!}`]);
    const expected = { api: true, rejected: 'CONNECTION_FAILED', telemetry: ['telemetry on'] };
    expect(JSON.parse(run('node', ['start.mjs'], project))).toEqual(expected);
    expect(JSON.parse(run('node', ['start.cjs'], project))).toEqual(expected);
  });
});
