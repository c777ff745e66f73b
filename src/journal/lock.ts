import { constants } from 'node:fs';
import { open, readFile, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';

/** The file that says which process owns a journal directory. */
export const LOCK_FILE = 'LOCK';

/** @internal Who holds a journal directory. */
export interface LockOwner {
  readonly pid: number;
  readonly host: string;
  readonly since: string;
}

/** @internal A journal directory is held by another process (or could not be locked). */
export class JournalLockError extends Error {
  readonly owner: LockOwner | undefined;
  constructor(message: string, owner: LockOwner | undefined) {
    super(message);
    this.name = 'JournalLockError';
    this.owner = owner;
  }
}

/**
 * @internal Takes a journal directory for this process: creates `LOCK` (mode 0600) with `O_EXCL`,
 * which no two processes can both do. A lock left by a process of this host that is gone (a
 * `kill -9`) is taken over; one held by a live process, or by another host (a shared file
 * system: its processes cannot be seen from here), is refused. Returns the release function.
 */
export async function lockDirectory(dir: string): Promise<() => Promise<void>> {
  const path = join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const file = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
      const owner: LockOwner = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
      try {
        await file.writeFile(`${JSON.stringify(owner)}\n`);
        await file.sync();
      } finally {
        await file.close();
      }
      let released = false;
      return async () => {
        if (released) return;
        released = true;
        await unlink(path).catch(() => undefined);
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = await readOwner(path);
    if (owner !== undefined && (owner.host !== hostname() || isAlive(owner.pid))) {
      throw new JournalLockError(
        `${dir} is in use by process ${owner.pid} on ${owner.host} since ${owner.since}: one consumer per journal directory (give each consumer its own)`,
        owner,
      );
    }
    // Left by a process of this host that is gone, or unreadable (a crash while it was written): take it over.
    await unlink(path).catch(() => undefined);
  }
  throw new JournalLockError(`${dir}: could not take ${LOCK_FILE} (another process took it meanwhile)`, undefined);
}

async function readOwner(path: string): Promise<LockOwner | undefined> {
  try {
    const parsed = JSON.parse(await readFile(path, 'utf8')) as Partial<LockOwner>;
    if (typeof parsed.pid === 'number' && typeof parsed.host === 'string') return { pid: parsed.pid, host: parsed.host, since: String(parsed.since) };
  } catch {
    // missing or half written
  }
  return undefined;
}

/** Whether a process of this host with `pid` exists (EPERM: it does, owned by someone else). */
function isAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
