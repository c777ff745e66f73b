import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * How a user runs the command line: `npx` finds the package installed in the project (or
 * globally), where a bare `civitas-outreach` is on the PATH only for a global install.
 */
export const RUN = 'npx civitas-outreach';

/**
 * Where a guide of the package's `docs/` is on this machine, as a path to open from `cwd`:
 * relative when it is below `cwd` (`node_modules/civitas-outreach/docs/cli.md` from a project that
 * installed the package, `docs/cli.md` in a clone), absolute otherwise (an `npx` cache). Found from
 * this file's place in the package (`dist/cli.js`, or `src/cli/` when run from the source);
 * `undefined` when the package has no such file, so that no pointer leads nowhere.
 */
export function guidePath(name: string, cwd: string = process.cwd()): string | undefined {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) {
      const file = join(dir, 'docs', name);
      if (!existsSync(file)) return undefined;
      const below = relative(cwd, file);
      return below === '' || below.startsWith('..') || isAbsolute(below) ? file : below;
    }
    if (dirname(dir) === dir) return undefined;
  }
}

/** Where to read on: `` `npx civitas-outreach --help`; guide: PATH `` (the guide when it is here). */
export function helpPointer(cwd?: string): string {
  const guide = guidePath('cli.md', cwd);
  return `\`${RUN} --help\`${guide === undefined ? '' : `; guide: ${guide}`}`;
}
