// What the pack tests share: packing this package (without prepack: `npm run build` comes first)
// and installing the tarball with the required peers into a new project, as a user would.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const root = join(import.meta.dirname, '..', '..');

/** Runs a command and returns its standard output; throws (with its output) when it exits non-zero. */
export function run(cmd: string, args: string[], cwd: string): string {
  return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** `npm pack`s this package into `dir`: the tarball's path and the files it holds. */
export function packInto(dir: string): { tarball: string; files: string[] } {
  const packed = JSON.parse(run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], root)) as { filename: string; files: { path: string }[] }[];
  return { tarball: join(dir, packed[0]!.filename), files: packed[0]!.files.map((f) => f.path) };
}

/** The peer dependencies a user must install (not the optional ones), as `name@range`. */
export function requiredPeers(): string[] {
  const { peerDependencies, peerDependenciesMeta = {} } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    peerDependencies: Record<string, string>;
    peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  };
  return Object.entries(peerDependencies)
    .filter(([name]) => peerDependenciesMeta[name]?.optional !== true)
    .map(([name, range]) => `${name}@${range}`);
}

/** `npm install`s packages into the project at `cwd`, quickly (npm's cache first, no audit, no install scripts). */
export function npmInstall(cwd: string, packages: string[]): void {
  run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', ...packages], cwd);
}
