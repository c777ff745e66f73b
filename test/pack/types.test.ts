// The package's types in a fresh project, as a TypeScript user starts one: `npm init -y` (which
// writes "type": "commonjs"), the packed tarball and the required peers (io-ts, fp-ts), TypeScript
// 5.9 and the newest 7.x side by side (under aliases, each run by its own bin), and NO @types/node.
// A user's file of the main entry and the testing kit must pass `tsc --noEmit --strict --module
// nodenext` with no tsconfig, in an ESM project and a CommonJS one; `await using` too (it needs
// lib esnext.disposable, which `--target esnext` brings, or @types/node); then the same with
// @types/node installed (our declarations must not clash with it). The quick starts of docs/getting-started.md (ESM and
// CommonJS) are type-checked, compiled and run against the dev queue. Needs `npm run build` first.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { npmInstall, packInto, requiredPeers, root, run } from './packed.js';

const compilers = { 'TypeScript 5.9': 'ts59', 'TypeScript 7': 'ts7' } as const;
const kinds = ['module', 'commonjs'] as const;
type Kind = (typeof kinds)[number];

let work: string;
const projects = {} as Record<Kind, string>;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'civitas-outreach-types-'));
  const { tarball } = packInto(work);
  for (const kind of kinds) {
    const project = join(work, kind);
    mkdirSync(project);
    run('npm', ['init', '-y'], project);
    if (kind === 'module') run('npm', ['pkg', 'set', 'type=module'], project);
    npmInstall(project, [tarball, ...requiredPeers(), 'ts59@npm:typescript@~5.9', 'ts7@npm:typescript@7']);
    projects[kind] = project;
  }
});

afterAll(() => {
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

/** Runs the project's `tsc` of that alias; its output (the diagnostics) and whether it passed. */
function tsc(kind: Kind, alias: string, args: string[]): { ok: boolean; output: string } {
  try {
    return { ok: true, output: run('node', [join('node_modules', alias, 'bin', 'tsc'), ...args], projects[kind]) };
  } catch (error) {
    const { stdout, stderr } = error as { stdout: string; stderr: string };
    return { ok: false, output: `${stdout}${stderr}` };
  }
}

const check = ['--noEmit', '--strict', '--module', 'nodenext'];

const imports = `import { OutreachConsumer, decodeOutreach, indexProperties, type Outreach, type OutreachConsumerOptions } from 'civitas-outreach';
import { exampleOutreachMessages, runHandler, startDevQueue, type DevQueueTls } from 'civitas-outreach/testing';
`;

/** What a user writes with both entries; top-level code of an async function body. */
const body = `
  const examples = exampleOutreachMessages();
  const q = await startDevQueue({ queues: { dev: [examples.inspireForFaculty] } });
  const options: OutreachConsumerOptions<Outreach> = { url: q.url, username: q.username, password: q.password, queue: 'dev', allowInsecure: true };
  const consumer = new OutreachConsumer(options);
  consumer.on('error', (err, source) => console.warn(source, err.code));
  await consumer.start((delivery) => {
    console.log(delivery.outreach.outreachId, indexProperties(delivery.outreach).get('rawEnrollmentId'));
  });
  await consumer[Symbol.asyncDispose]();
  await q[Symbol.asyncDispose]();
  const decoded = decodeOutreach(JSON.stringify(examples.inspireForFaculty));
  if (decoded._tag === 'Right') console.log(decoded.right.outreachMedium);
  const handled = await runHandler((delivery) => console.log(delivery.outreach.outreachSource), [examples.inspireForFaculty]);
  console.log(handled.messages[0]?.outcome);
  // Certificates as bytes: a Uint8Array (a Buffer is one).
  const tls: DevQueueTls = { key: new Uint8Array(0), cert: '-----BEGIN CERTIFICATE-----' };
  const trusting: OutreachConsumerOptions<Outreach> = { ...options, ca: [new Uint8Array(0), 'PEM'] };
  console.log(tls, trusting);
`;

/** \`await using\` on the consumer and the dev queue. */
const usingBody = `
  await using q = await startDevQueue();
  await using consumer = new OutreachConsumer({ url: q.url, username: q.username, password: q.password, queue: 'civitas.outreach.dev', allowInsecure: true });
  console.log(consumer.state, decodeOutreach, indexProperties, exampleOutreachMessages, runHandler);
`;

/** The same code as an ES module (top-level await) or as CommonJS (no top-level await there: an async main). */
function userFile(kind: Kind, code: string, header = imports): string {
  return kind === 'module' ? `${header}${code}` : `${header}async function main(): Promise<void> {${code}}\nvoid main();\n`;
}

function write(kind: Kind, name: string, text: string): void {
  writeFileSync(join(projects[kind], name), text);
}

describe.each(kinds)('a fresh "type": "%s" project without @types/node', (kind) => {
  it.each(Object.entries(compilers))('%s type-checks a user of the main entry and the testing kit', (_, alias) => {
    write(kind, 'user.ts', userFile(kind, body));
    expect(tsc(kind, alias, [...check, 'user.ts'])).toEqual({ ok: true, output: '' });
  });

  it.each(Object.entries(compilers))('%s type-checks `await using` with --target esnext or lib esnext.disposable', (_, alias) => {
    write(kind, 'using.ts', userFile(kind, usingBody));
    for (const lib of [['--target', 'esnext'], ['--lib', 'es2022,dom,esnext.disposable']]) {
      expect(tsc(kind, alias, [...check, ...lib, 'using.ts'])).toEqual({ ok: true, output: '' });
    }
  });
});

/** The first \`\`\`ts block after a heading of docs/getting-started.md. */
function guideBlock(heading: string): string {
  const guide = readFileSync(join(root, 'docs', 'getting-started.md'), 'utf8');
  const at = guide.indexOf(`\n${heading}\n`);
  expect(at).toBeGreaterThan(-1);
  return /```ts\n([\s\S]*?)```/.exec(guide.slice(at))![1]!;
}

const quickStarts: Record<Kind, string> = {
  module: guideBlock('## 2. Consume from the dev queue in your own code'),
  commonjs: guideBlock('### The same in CommonJS'),
};

describe.each(kinds)('the quick start of docs/getting-started.md in a "type": "%s" project', (kind) => {
  it.each(Object.entries(compilers))('%s type-checks it', (_, alias) => {
    write(kind, 'quick-start.ts', quickStarts[kind]);
    expect(tsc(kind, alias, [...check, 'quick-start.ts'])).toEqual({ ok: true, output: '' });
  });

  it('compiled, it drains the dev queue: 20 sample outreach, all accepted', () => {
    write(kind, 'quick-start.ts', quickStarts[kind]);
    expect(tsc(kind, 'ts7', ['--strict', '--module', 'nodenext', '--outDir', 'out', 'quick-start.ts'])).toEqual({ ok: true, output: '' });
    const lines = run('node', [join('out', 'quick-start.js')], projects[kind]).trim().split('\n');
    expect(lines.filter((line) => /^[0-9a-f-]{36} (Faculty|Advisor|Illume Students) \w+ \d+$/.test(line))).toHaveLength(20);
    expect(lines.join('\n')).toMatch(/accepted: 20\b/);
  });
});

describe('what the guide says about CommonJS and `await using`', () => {
  it('the ES module quick start in a CommonJS project: TS1309 at its top-level await', () => {
    write('commonjs', 'esm-in-cjs.ts', quickStarts.module);
    const { ok, output } = tsc('commonjs', 'ts7', [...check, 'esm-in-cjs.ts']);
    expect(ok).toBe(false);
    expect(output).toContain("error TS1309: The current file is a CommonJS module and cannot use 'await' at the top level.");
  });

  it("TypeScript 7 without --target esnext nor @types/node: `await using` has no global type 'AsyncDisposable'", () => {
    write('module', 'using.ts', userFile('module', usingBody));
    const { ok, output } = tsc('module', 'ts7', [...check, 'using.ts']);
    expect(ok).toBe(false);
    expect(output).toContain("Cannot find global type 'AsyncDisposable'");
    expect(output).not.toContain('node_modules/civitas-outreach'); // the user's code, not our declarations
  });

  it('`void main()`: a rejection ends the CommonJS process with the error and code 1', () => {
    write('commonjs', 'fails.ts', `async function main(): Promise<void> {\n  throw new Error('no queue here');\n}\nvoid main();\n`);
    expect(tsc('commonjs', 'ts7', ['--strict', '--module', 'nodenext', '--outDir', 'out', 'fails.ts'])).toEqual({ ok: true, output: '' });
    const result = spawnSync('node', [join('out', 'fails.js')], { cwd: projects.commonjs, encoding: 'utf8' });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('Error: no queue here');
  });
});

describe.each(kinds)('the same "type": "%s" project with @types/node installed', (kind) => {
  beforeAll(() => {
    const { devDependencies } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };
    npmInstall(projects[kind], [`@types/node@${devDependencies['@types/node']!}`]);
  });

  // A Node user passes certificates as Buffers (what readFileSync gives).
  const nodeBody = `
  const tls: DevQueueTls = { key: Buffer.from('key'), cert: readFileSync('cert.pem') };
  const options: OutreachConsumerOptions<Outreach> = { url: 'amqp+ssl://127.0.0.1:5671', username: 'u', password: 'p', queue: 'q', ca: [Buffer.from('PEM'), 'PEM'] };
  console.log(tls, options, process.pid);
`;

  it.each(Object.entries(compilers))('%s: no clash with its Symbol.asyncDispose, with lib esnext, default or without DOM; Buffers type-check', (_, alias) => {
    write(kind, 'node-user.ts', userFile(kind, nodeBody, `${imports}import { readFileSync } from 'node:fs';\n`));
    // Default lib (with DOM; `await using` then takes AsyncDisposable from @types/node), lib esnext,
    // and a lib without DOM (AbortSignal then comes from @types/node).
    for (const args of [['user.ts', 'node-user.ts', 'using.ts'], ['--target', 'esnext', 'using.ts'], ['--lib', 'es2022', 'user.ts', 'node-user.ts']]) {
      expect(tsc(kind, alias, [...check, '--types', 'node', ...args])).toEqual({ ok: true, output: '' });
    }
  });
});
