// The first run of someone who clones the repository and packs it: `npm pack` builds by itself
// (prepack), the tarball holds dist/ with the command line, and `npx civitas-outreach --help`
// works where the tarball is installed; and `npm start` (the demo) runs on the clone with Node alone. It clones the committed HEAD (uncommitted changes are not
// in it), installs from the lock file with npm's cache, and is bounded by the pack project's timeout.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
let work: string;
let clone: string;
let project: string;
let packedFiles: string[];

function run(cmd: string, args: string[], cwd: string): string {
  return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'civitas-outreach-clone-'));
  clone = join(work, 'clone');
  project = join(work, 'project');
  const head = run('git', ['rev-parse', 'HEAD'], root).trim();
  run('git', ['clone', '--quiet', root, clone], work);
  run('git', ['checkout', '--quiet', '--detach', head], clone);
  expect(existsSync(join(clone, 'dist'))).toBe(false); // nothing built comes with a clone
  run('npm', ['ci', '--prefer-offline', '--no-audit', '--no-fund'], clone);
  run('mkdir', ['-p', project], work);
  // No `npm run build` first: prepack must build.
  const output = run('npm', ['pack', '--json', '--pack-destination', project], clone);
  expect(output).toContain('Build success'); // prepack ran the build (its output comes before npm's JSON)
  const packed = JSON.parse(output.slice(output.search(/^\[$/m))) as { filename: string; files: { path: string }[] }[];
  packedFiles = packed[0]!.files.map((f) => f.path);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'first-run', private: true, version: '0.0.0' }));
  const { peerDependencies } = JSON.parse(readFileSync(join(clone, 'package.json'), 'utf8')) as { peerDependencies: Record<string, string> };
  const peers = Object.entries(peerDependencies).map(([name, range]) => `${name}@${range}`);
  run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', join(project, packed[0]!.filename), ...peers], project);
});

afterAll(() => {
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

describe('a fresh clone, packed and installed', () => {
  it('packs dist (library and command line) built by prepack', () => {
    expect(packedFiles).toEqual(expect.arrayContaining(['dist/index.js', 'dist/index.cjs', 'dist/index.d.ts', 'dist/index.d.cts', 'dist/cli.js', 'package.json']));
    expect(packedFiles.filter((p) => p.startsWith('src/') || p.startsWith('test/'))).toEqual([]);
  });

  it('npx civitas-outreach --help works, and a command without settings says what to set', () => {
    const help = spawnSync('npx', ['--no-install', 'civitas-outreach', '--help'], { cwd: project, encoding: 'utf8' });
    expect(help.status, help.stderr).toBe(0);
    expect(help.stdout).toMatch(/^Usage: civitas-outreach <command> \[options\]/);
    expect(help.stdout).toMatch(/^ {2}pull /m);

    const env = { ...process.env };
    for (const key of Object.keys(env)) if (key.startsWith('CIVITAS_')) delete env[key];
    const check = spawnSync('npx', ['--no-install', 'civitas-outreach', 'check'], { cwd: project, encoding: 'utf8', env });
    expect(check.status).toBe(2);
    expect(check.stderr).toContain('missing the broker URL (amqp+ssl://…:5671): set CIVITAS_URL or pass --url');
  });

  it('npm start shows decoded outreach with Node alone (no java, mvn or psql on PATH)', () => {
    // A PATH of node, npm and sh only: java, mvn and psql live in /usr/bin, which is left out.
    const bin = join(work, 'node-only-bin');
    mkdirSync(bin);
    const npmCli = join(dirname(process.execPath), 'npm');
    for (const [name, target] of [['node', process.execPath], ['npm', npmCli], ['sh', '/bin/sh']] as const) symlinkSync(target, join(bin, name));
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: bin };
    for (const key of Object.keys(env)) if (key.startsWith('CIVITAS_') || key.startsWith('PG') || key === 'JAVA_HOME') delete env[key];
    expect(spawnSync('sh', ['-c', 'command -v java mvn psql'], { env, encoding: 'utf8' }).stdout).toBe('');
    const start = spawnSync('npm', ['start'], { cwd: clone, env, encoding: 'utf8', timeout: 120_000 });
    expect(start.status, start.stderr).toBe(0);
    expect(start.stdout).toMatch(/^1\. Illume Students · Campaign · .* · outreach 5751e799-1725-45c7-a2bd-1b40b43bd8aa$/m);
    expect(start.stdout).toContain('8 outreach decoded and accepted (8 settled as accepted); 0 left on the queue.');
  });
});
